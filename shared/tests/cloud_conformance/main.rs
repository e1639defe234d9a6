//! The storage conformance suites against the AWS backends (S3 objects, DynamoDB
//! session table) on a local emulator, plus what only those backends can show:
//! races between separate clients, the TTL attribute, stale name reservations,
//! log items left behind, and idempotent resource creation.
//!
//! The emulator's URL comes from `MIRRA_TEST_AWS_ENDPOINT` (`infra/test` starts
//! moto with `infra/moto start` and sets it). Without it the tests skip, except
//! under CI, where they fail. Every test works in its own bucket and table, so
//! they run in parallel against one emulator.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use aws_sdk_s3::config::Credentials;
use bytes::Bytes;
use shared::storage::dynamodb::{
    DynamoSessionTable, DUE_AT, DUE_INDEX, DUE_SHARD, EXPIRY_INDEX, TTL_ATTRIBUTE, TTL_GRACE_SECS,
};
use shared::storage::s3::S3ObjectStore;
use shared::storage::{
    conformance, Checkpoint, CredentialKey, CredentialOwner, LogKey, ObjectStore, SessionRow,
    SessionTable, StorageError, Tombstone,
};

const ENDPOINT_VAR: &str = "MIRRA_TEST_AWS_ENDPOINT";

/// The emulator's URL; `None` means skip. Under CI a missing emulator fails.
fn endpoint() -> Option<String> {
    if let Some(url) = std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return Some(url);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{ENDPOINT_VAR} is unset under CI: the AWS backends' tests need the emulator \
         (infra/test starts it; by hand: export {ENDPOINT_VAR}=$(infra/moto start))"
    );
    eprintln!(
        "skipped: {ENDPOINT_VAR} is unset (export {ENDPOINT_VAR}=$(infra/moto start) to run)"
    );
    None
}

/// Shared AWS settings for the emulator: static test credentials, us-east-1.
async fn sdk(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "mirra-tests"))
        .load()
        .await
}

/// A name no other test (or earlier run against the same emulator) uses.
fn unique(what: &str) -> String {
    format!("mirra-test-{what}-{:016x}", rand::random::<u64>())
}

/// A fresh bucket, with a store over its own client.
async fn bucket(url: &str) -> S3ObjectStore {
    let store = S3ObjectStore::from_sdk_config(&sdk(url).await, unique("b"), true);
    assert!(
        store
            .create_bucket_if_missing()
            .await
            .expect("create bucket"),
        "a fresh bucket is created"
    );
    store
}

/// Another client (own connections) on the same bucket.
async fn same_bucket(url: &str, store: &S3ObjectStore) -> S3ObjectStore {
    S3ObjectStore::from_sdk_config(&sdk(url).await, store.bucket(), true)
}

async fn drop_bucket(store: &S3ObjectStore) {
    for key in store.list("").await.expect("list for cleanup") {
        store.delete(&key).await.expect("delete for cleanup");
    }
    store
        .client()
        .delete_bucket()
        .bucket(store.bucket())
        .send()
        .await
        .expect("delete bucket");
}

/// A fresh table, with a session table over its own client.
async fn table(url: &str) -> DynamoSessionTable {
    let t = DynamoSessionTable::from_sdk_config(&sdk(url).await, unique("t"));
    assert!(
        t.create_table_if_missing().await.expect("create table"),
        "a fresh table is created"
    );
    t
}

async fn same_table(url: &str, t: &DynamoSessionTable) -> DynamoSessionTable {
    DynamoSessionTable::from_sdk_config(&sdk(url).await, t.table_name())
}

async fn drop_table(t: &DynamoSessionTable) {
    t.client()
        .delete_table()
        .table_name(t.table_name())
        .send()
        .await
        .expect("delete table");
}

fn row(id: &str, workspace: &str, name: Option<&str>, expires_at: Option<i64>) -> SessionRow {
    SessionRow {
        id: id.into(),
        incarnation: format!("inc-{:08x}", rand::random::<u32>()),
        workspace: workspace.into(),
        name: name.map(Into::into),
        expires_at,
        body: format!(r#"{{"id":"{id}"}}"#),
        credentials: Vec::new(),
    }
}

fn log_key(row: &SessionRow, mirror: &str) -> LogKey {
    LogKey {
        session: row.id.clone(),
        incarnation: row.incarnation.clone(),
        mirror: mirror.into(),
    }
}

/// Every item of the table, straight from DynamoDB.
async fn all_items(t: &DynamoSessionTable) -> Vec<HashMap<String, AttributeValue>> {
    let mut pages = t
        .client()
        .scan()
        .table_name(t.table_name())
        .consistent_read(true)
        .into_paginator()
        .send();
    let mut items = Vec::new();
    while let Some(page) = pages.next().await {
        items.extend(page.expect("scan").items.unwrap_or_default());
    }
    items
}

fn attr_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The raw session item of `id`.
async fn session_item(t: &DynamoSessionTable, id: &str) -> Option<HashMap<String, AttributeValue>> {
    all_items(t)
        .await
        .into_iter()
        .find(|i| attr_s(i, "pk") == Some(&format!("S#{id}")))
}

/// Log items of one session (any incarnation), by sort key.
async fn log_items(t: &DynamoSessionTable, session: &str) -> Vec<String> {
    let mut sks: Vec<String> = all_items(t)
        .await
        .iter()
        .filter(|i| attr_s(i, "pk").is_some_and(|pk| pk.starts_with(&format!("L#{session}#"))))
        .filter_map(|i| attr_s(i, "sk").map(str::to_owned))
        .collect();
    sks.sort();
    sks
}

// ------------------------------------------------------------------- suites

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_object_store_passes_conformance() {
    let Some(url) = endpoint() else { return };
    let store = bucket(&url).await;
    conformance::object_store(&store).await;
    drop_bucket(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_object_store_passes_conformance_twice_at_once_from_two_clients() {
    let Some(url) = endpoint() else { return };
    let one = bucket(&url).await;
    let two = same_bucket(&url, &one).await;
    tokio::join!(
        conformance::object_store(&one),
        conformance::object_store(&two)
    );
    drop_bucket(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_session_table_passes_conformance() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    conformance::session_table(&t).await;
    drop_table(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_workspace_table_passes_conformance() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    conformance::workspace_table(&t).await;
    drop_table(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_session_table_passes_conformance_twice_at_once_from_two_clients() {
    let Some(url) = endpoint() else { return };
    let one = table(&url).await;
    let two = same_table(&url, &one).await;
    tokio::join!(
        conformance::session_table(&one),
        conformance::session_table(&two)
    );
    drop_table(&one).await;
}

/// The due-work checks that need a table of their own: exact `next_due`
/// and pages over every shard, and an empty index once the sessions ended.
#[tokio::test]
async fn dynamodb_due_work_on_an_empty_table() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    conformance::due_work_on_an_empty_table(&t).await;
    drop_table(&t).await;
}

/// Awaits futures concurrently, in one task (they borrow, so no spawn).
async fn futures_all<F: std::future::Future>(fs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

mod dynamodb;
mod races;
