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
    DynamoSessionTable, DUE_AT, DUE_INDEX, DUE_SHARD, TTL_ATTRIBUTE, TTL_GRACE_SECS,
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

// ---------------------------------------------------------------- races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_creates_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(bucket(&url).await);
    let two = Arc::new(same_bucket(&url, &one).await);
    conformance::object_store_create_race(one.clone(), two, 10).await;
    drop_bucket(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_appends_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let r = row("ses_race", "ws_race", None, None);
    one.create_session(&r).await.expect("create");
    let key = log_key(&r, "stripe");
    for seq in 1..=8u64 {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
                let key = key.clone();
                tokio::spawn(async move { t.append_log(&key, seq, &[i as u8]).await })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                Ok(()) => winners.push(i),
                Err(StorageError::AlreadyExists(_)) => {}
                Err(e) => panic!("append {i} of seq {seq} failed with {e:?}, not AlreadyExists"),
            }
        }
        assert_eq!(winners.len(), 1, "seq {seq}: winners {winners:?}");
        let log = two.read_log(&key, seq - 1).await.expect("read");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].entry, [winners[0] as u8], "the winner's entry");
    }
    drop_table(&one).await;
}

/// Schedules of one (session, mirror) racing from two clients in spawned
/// tasks: the entry ends at the earliest time, whose call reports it stored it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_schedules_racing_from_two_clients_keep_the_earliest() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let r = row("ses_due", "ws_due", None, None);
    one.create_session(&r).await.expect("create");
    for round in 0..4i64 {
        let mirror = format!("m{round}");
        // A different task is earliest each round.
        let time = move |i: i64| 1_000 + (i + 5 * round) % 12;
        let tasks: Vec<_> = (0..12i64)
            .map(|i| {
                let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
                let (id, inc, mirror) = (r.id.clone(), r.incarnation.clone(), mirror.clone());
                tokio::spawn(async move { t.schedule_due(&id, &inc, &mirror, time(i)).await })
            })
            .collect();
        let mut stored = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                Ok(s) => stored.push((time(i as i64), s)),
                Err(e) => panic!("schedule {i} of round {round} failed with {e:?}"),
            }
        }
        assert!(
            stored.contains(&(1_000, true)),
            "round {round}: the earliest schedule reports it stored its time: {stored:?}"
        );
        let entries = two.due_before(i64::MAX, 100).await.expect("due_before");
        let ours: Vec<i64> = entries
            .iter()
            .filter(|w| w.mirror == mirror)
            .map(|w| w.due_at_ms)
            .collect();
        assert_eq!(
            ours,
            [1_000],
            "round {round}: one entry, at the earliest time"
        );
    }
    drop_table(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_creates_of_one_name_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
            tokio::spawn(async move {
                t.create_session(&row(&format!("ses_n{i}"), "ws", Some("nightly"), None))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(()) => winners.push(i),
            Err(StorageError::AlreadyExists(_)) => {}
            Err(e) => panic!("create {i} failed with {e:?}, not AlreadyExists"),
        }
    }
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let found = one.find_session("ws", "nightly").await.expect("find");
    assert_eq!(found.id, format!("ses_n{}", winners[0]));
    assert_eq!(
        one.list_sessions("ws", None, usize::MAX)
            .await
            .expect("list")
            .len(),
        1
    );
    drop_table(&one).await;
}

// ------------------------------------------------------- DynamoDB specifics

#[tokio::test]
async fn dynamodb_session_items_carry_a_ttl_from_expires_at() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let ttl_desc = t
        .client()
        .describe_time_to_live()
        .table_name(t.table_name())
        .send()
        .await
        .expect("describe ttl");
    let desc = ttl_desc
        .time_to_live_description()
        .expect("ttl description");
    assert_eq!(desc.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(desc.attribute_name(), Some(TTL_ATTRIBUTE));

    let ttl_of = |item: &HashMap<String, AttributeValue>| {
        item.get(TTL_ATTRIBUTE).map(|v| {
            v.as_n()
                .expect("ttl is a number")
                .parse::<i64>()
                .expect("integer")
        })
    };
    let mut r = row("ses_ttl", "ws_ttl", Some("n"), Some(1_900_000_000));
    t.create_session(&r).await.expect("create");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_000_000 + TTL_GRACE_SECS),
        "ttl on create"
    );

    r.expires_at = Some(1_900_000_600);
    t.put_session(&r).await.expect("put");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_000_600 + TTL_GRACE_SECS),
        "ttl follows a put"
    );

    r.name = Some("renamed".into());
    r.expires_at = Some(1_900_001_200);
    t.put_session(&r).await.expect("put with rename");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_001_200 + TTL_GRACE_SECS),
        "ttl follows a rename"
    );

    r.expires_at = None;
    t.put_session(&r).await.expect("put without expiry");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(ttl_of(&item), None, "a persistent row has no ttl");
    assert_eq!(t.get_session(&r.id).await.expect("get"), r);

    let p = row("ses_ttl_p", "ws_ttl", None, None);
    t.create_session(&p).await.expect("create persistent");
    let item = session_item(&t, &p.id).await.expect("item");
    assert_eq!(ttl_of(&item), None, "a row without expiry never gets a ttl");
    drop_table(&t).await;
}

/// A credential item holds a digest (never the key), has no TTL while its row
/// lives, takes its tombstone's TTL when the row ends, and one whose row a TTL
/// deleted names nothing.
#[tokio::test]
async fn dynamodb_credential_items_expire_with_their_tombstone() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let secret = "sk_test_cloudsecret0123";
    let key = CredentialKey::new("stripe", secret);
    let cred_item = |items: &[HashMap<String, AttributeValue>]| {
        items
            .iter()
            .find(|i| attr_s(i, "pk") == Some(&format!("C#{}", key.as_str())))
            .cloned()
    };
    let mut r = row("ses_cred", "ws", None, Some(1_900_000_000));
    r.credentials = vec![key.clone()];
    t.create_session(&r).await.expect("create");
    let items = all_items(&t).await;
    assert!(
        !format!("{items:?}").contains(secret),
        "the table holds the credential's digest, never the credential"
    );
    let item = cred_item(&items).expect("the credential's item");
    assert_eq!(attr_s(&item, "id"), Some("ses_cred"));
    assert_eq!(attr_s(&item, "inc"), Some(r.incarnation.as_str()));
    assert!(
        !item.contains_key(TTL_ATTRIBUTE),
        "a live row's credential has no ttl"
    );

    let tombstone = Tombstone {
        id: r.id.clone(),
        incarnation: r.incarnation.clone(),
        workspace: r.workspace.clone(),
        name: None,
        ended_at_ms: 1_900_000_000_500,
        reason: "expired".into(),
    };
    assert!(t
        .delete_session(&r.id, &r.incarnation, Some(&tombstone))
        .await
        .expect("delete"));
    let items = all_items(&t).await;
    let item = cred_item(&items).expect("an ended row's credential stays");
    let tomb = items
        .iter()
        .find(|i| attr_s(i, "pk") == Some("S#ses_cred") && attr_s(i, "sk") == Some("T"))
        .expect("tombstone item");
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        tomb.get(TTL_ATTRIBUTE),
        "an ended row's credential expires with its tombstone"
    );
    assert_eq!(
        t.find_credential(&key).await.expect("find"),
        CredentialOwner::Ended(tombstone)
    );

    // DynamoDB's TTL deletes a row item alone (moto never does: simulate it).
    let other = CredentialKey::new("stripe", "sk_test_ttldeleted");
    let mut gone = row("ses_ttld", "ws", None, Some(1_000));
    gone.credentials = vec![other.clone()];
    t.create_session(&gone).await.expect("create");
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_ttld".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    assert!(
        matches!(
            t.find_credential(&other).await,
            Err(StorageError::NotFound(_))
        ),
        "a credential whose row a TTL deleted names nothing"
    );
    drop_table(&t).await;
}

#[tokio::test]
async fn dynamodb_reclaims_a_name_whose_row_a_ttl_deleted() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let old = row("ses_old", "ws", Some("nightly"), Some(1_000));
    t.create_session(&old).await.expect("create");
    // DynamoDB's TTL deletes the row item alone (moto never does: simulate it).
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_old".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    assert!(
        matches!(
            t.find_session("ws", "nightly").await,
            Err(StorageError::NotFound(_))
        ),
        "a reservation without its row finds nothing"
    );
    assert!(t
        .list_sessions("ws", None, usize::MAX)
        .await
        .expect("list")
        .is_empty());
    let new = row("ses_new", "ws", Some("nightly"), None);
    t.create_session(&new)
        .await
        .expect("a name whose row is gone is free again");
    assert_eq!(t.find_session("ws", "nightly").await.expect("find"), new);
    // Renaming onto a stale reservation works too.
    let other = row("ses_other", "ws", Some("weekly"), None);
    t.create_session(&other).await.expect("create");
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_other".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    let mut renamed = new.clone();
    renamed.name = Some("weekly".into());
    t.put_session(&renamed)
        .await
        .expect("rename onto a stale name");
    assert_eq!(t.find_session("ws", "weekly").await.expect("find"), renamed);
    assert!(matches!(
        t.find_session("ws", "nightly").await,
        Err(StorageError::NotFound(_))
    ));
    drop_table(&t).await;
}

#[tokio::test]
async fn dynamodb_leaves_no_log_items_behind() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let r = row("ses_log", "ws", Some("n"), None);
    t.create_session(&r).await.expect("create");
    for mirror in ["stripe", "twilio"] {
        for seq in 1..=6 {
            t.append_log(&log_key(&r, mirror), seq, b"x")
                .await
                .expect("append");
        }
    }
    let cp = Checkpoint {
        seq: 4,
        object: "checkpoints/4".into(),
    };
    assert!(t
        .set_checkpoint(&log_key(&r, "stripe"), &cp)
        .await
        .expect("checkpoint"));
    let left = log_items(&t, &r.id).await;
    let stripe: Vec<_> = left.iter().filter(|sk| sk.starts_with("stripe#")).collect();
    assert_eq!(
        stripe.len(),
        3,
        "entries below the checkpoint are deleted at once: {left:?}"
    );
    assert_eq!(left.len(), 9, "another mirror's log is untouched: {left:?}");
    assert_eq!(
        t.checkpoint(&log_key(&r, "stripe"))
            .await
            .expect("checkpoint"),
        Some(cp)
    );
    assert_eq!(
        t.checkpoint(&log_key(&r, "twilio"))
            .await
            .expect("checkpoint"),
        None
    );

    assert!(t
        .delete_session(&r.id, &r.incarnation, None)
        .await
        .expect("delete"));
    assert!(
        log_items(&t, &r.id).await.is_empty(),
        "delete_session removes every log item"
    );
    let items = all_items(&t).await;
    assert!(
        items.iter().all(|i| attr_s(i, "pk").is_some_and(
            |pk| pk.starts_with("W#") && attr_s(i, "sk").is_some_and(|sk| sk.starts_with("U#"))
        )),
        "only usage counters may outlive a session: {items:?}"
    );
    drop_table(&t).await;
}

/// Due-work items sit in their own partition with a shard and a numeric
/// time, the index serves them, they go with their session, and an entry of
/// an ended incarnation (left by a failed cleanup) never holds back the
/// reused id's own.
#[tokio::test]
async fn dynamodb_due_work_lives_in_its_index_and_goes_with_its_session() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let r = row("ses_due", "ws", None, None);
    t.create_session(&r).await.expect("create");
    for (mirror, at) in [("stripe", 5), ("twilio", 7)] {
        assert!(t
            .schedule_due(&r.id, &r.incarnation, mirror, at)
            .await
            .expect("schedule_due"));
    }
    let due_items = |items: Vec<HashMap<String, AttributeValue>>| -> Vec<_> {
        items
            .into_iter()
            .filter(|i| attr_s(i, "pk") == Some("D#ses_due"))
            .collect()
    };
    let items = due_items(all_items(&t).await);
    assert_eq!(items.len(), 2, "one item per mirror: {items:?}");
    let stripe = items
        .iter()
        .find(|i| attr_s(i, "sk") == Some("M#stripe"))
        .expect("the stripe entry");
    assert_eq!(stripe.get(DUE_AT), Some(&AttributeValue::N("5".into())));
    let shard = attr_s(stripe, DUE_SHARD).expect("a shard").to_owned();
    assert!(shard.starts_with("due#"), "{shard}");

    // Straight from the index: the shard's entries, with what the table reads.
    let out = t
        .client()
        .query()
        .table_name(t.table_name())
        .index_name(DUE_INDEX)
        .key_condition_expression("#s = :s AND #t <= :t")
        .expression_attribute_names("#s", DUE_SHARD)
        .expression_attribute_names("#t", DUE_AT)
        .expression_attribute_values(":s", AttributeValue::S(shard.clone()))
        .expression_attribute_values(":t", AttributeValue::N("5".into()))
        .send()
        .await
        .expect("query the index");
    let found = out.items.unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:?}");
    for attr in ["id", "inc", "mir"] {
        assert!(found[0].contains_key(attr), "the index projects {attr}");
    }

    assert!(t
        .delete_session(&r.id, &r.incarnation, None)
        .await
        .expect("delete"));
    assert!(
        due_items(all_items(&t).await).is_empty(),
        "delete_session removes the session's due work"
    );

    // A leftover of the ended incarnation, earlier than anything new.
    let mut leftover = stripe.clone();
    leftover.insert(DUE_AT.into(), AttributeValue::N("1".into()));
    t.client()
        .put_item()
        .table_name(t.table_name())
        .set_item(Some(leftover))
        .send()
        .await
        .expect("put a leftover entry");
    let second = row("ses_due", "ws", None, None);
    t.create_session(&second).await.expect("create again");
    assert!(
        t.schedule_due(&second.id, &second.incarnation, "stripe", 50)
            .await
            .expect("schedule_due"),
        "a later time replaces another incarnation's entry"
    );
    let entries = t.due_before(i64::MAX, 10).await.expect("due_before");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].incarnation.as_str(), entries[0].due_at_ms),
        (second.incarnation.as_str(), 50)
    );
    assert!(t
        .delete_session(&second.id, &second.incarnation, None)
        .await
        .expect("delete"));
    drop_table(&t).await;
}

/// A table made before the due-work index (keys only) gets the index from
/// `create_table_if_missing`, and due work then works on it.
#[tokio::test]
async fn an_existing_table_without_the_due_index_gets_it() {
    let Some(url) = endpoint() else { return };
    let t = DynamoSessionTable::from_sdk_config(&sdk(&url).await, unique("old"));
    let attr = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    t.client()
        .create_table()
        .table_name(t.table_name())
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(key("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .send()
        .await
        .expect("create a table the old way");
    let r = row("ses_old", "ws", None, None);
    t.create_session(&r).await.expect("create");
    assert!(
        !t.create_table_if_missing().await.expect("upgrade"),
        "the table existed"
    );
    let desc = t
        .client()
        .describe_table()
        .table_name(t.table_name())
        .send()
        .await
        .expect("describe");
    let indexes: Vec<_> = desc
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(indexes, [DUE_INDEX]);
    assert!(t
        .schedule_due(&r.id, &r.incarnation, "stripe", 9)
        .await
        .expect("schedule_due"));
    assert_eq!(t.next_due().await.expect("next_due"), Some(9));
    assert!(
        !t.create_table_if_missing().await.expect("again"),
        "idempotent once upgraded"
    );
    drop_table(&t).await;
}

#[tokio::test]
async fn resources_are_created_once_and_creation_is_idempotent() {
    let Some(url) = endpoint() else { return };
    let conf = sdk(&url).await;
    let name = unique("res");
    let stores: Vec<_> = (0..3)
        .map(|_| S3ObjectStore::from_sdk_config(&conf, name.clone(), true))
        .collect();
    let created = futures_all(stores.iter().map(|s| s.create_bucket_if_missing())).await;
    // S3 in us-east-1 answers a repeated CreateBucket by the owner with 200, so
    // racers may all say "created"; what matters is that none fails.
    assert!(
        created.iter().all(Result::is_ok) && created.iter().any(|c| matches!(c, Ok(true))),
        "racing bucket creation: {created:?}"
    );
    assert!(!stores[0].create_bucket_if_missing().await.expect("again"));
    stores[0]
        .put("k", Bytes::from_static(b"v"))
        .await
        .expect("the bucket works");

    let tables: Vec<_> = (0..3)
        .map(|_| DynamoSessionTable::from_sdk_config(&conf, name.clone()))
        .collect();
    let created = futures_all(tables.iter().map(|t| t.create_table_if_missing())).await;
    assert!(
        created.iter().filter(|c| matches!(c, Ok(true))).count() <= 1
            && created.iter().all(Result::is_ok),
        "racing table creation: {created:?}"
    );
    assert!(!tables[0].create_table_if_missing().await.expect("again"));
    tables[0]
        .create_session(&row("ses_res", "ws", None, None))
        .await
        .expect("the table works");
    drop_bucket(&stores[0]).await;
    drop_table(&tables[0]).await;
}

#[tokio::test]
async fn missing_bucket_and_table_are_backend_errors_naming_them() {
    let Some(url) = endpoint() else { return };
    let conf = sdk(&url).await;
    let store = S3ObjectStore::from_sdk_config(&conf, unique("missing"), true);
    match store.put("k", Bytes::from_static(b"v")).await {
        Err(StorageError::Backend(m)) => assert!(m.contains("NoSuchBucket"), "{m}"),
        other => panic!("put into a missing bucket: {other:?}"),
    }
    for (what, result) in [
        ("get", store.get("k").await.map(|_| ())),
        ("delete", store.delete("k").await),
        ("create", store.create("k", Bytes::new()).await),
    ] {
        assert!(
            matches!(&result, Err(StorageError::Backend(m)) if m.contains("NoSuchBucket")),
            "{what} in a missing bucket must fail as a backend error, got {result:?}"
        );
    }
    let t = DynamoSessionTable::from_sdk_config(&conf, unique("missing"));
    match t.get_session("ses_x").await {
        Err(StorageError::Backend(m)) => assert!(m.contains("ResourceNotFound"), "{m}"),
        other => panic!("get from a missing table: {other:?}"),
    }
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
