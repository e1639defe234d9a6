//! Conformance suites every backend runs.
//!
//! One suite per trait, checking every point of the trait's contract, so the
//! embedded and cloud backends are interchangeable by test rather than by hope.
//! They panic with a message naming the broken contract point.
//!
//! Every run works under fresh random key prefixes, ids and workspaces and
//! cleans up after itself where the trait allows, so a suite can run against a
//! shared, non-empty backend (an S3 or DynamoDB emulator) and in parallel with
//! itself.
//!
//! "Concurrent" calls are issued together from one task and awaited jointly.
//! Backends whose calls really wait (network, `spawn_blocking`) then race for
//! real; a backend that completes synchronously runs them one after another, so
//! its cross-thread and cross-process races belong in its own tests.
//!
//! Files: this one holds the two entry points and the session fixtures; the
//! checks live by subject in `object_store.rs`, `rows.rs`, `log.rs`,
//! `deletes.rs`, `records.rs`, `credentials.rs`, `due.rs` and `workspaces.rs`
//! (the [`WorkspaceTable`](super::WorkspaceTable) suite), the shared
//! assertions in `assertions.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

mod assertions;
mod credentials;
mod deletes;
mod due;
mod log;
mod object_store;
mod records;
mod rows;
mod workspaces;

use assertions::*;
use deletes::*;
use log::*;
use object_store::*;
use rows::*;

pub use due::due_work_on_an_empty_table;
pub use object_store::object_store_create_race;
pub use workspaces::workspace_table;

use super::{
    Checkpoint, LogKey, LogRecord, ObjectStore, SessionRow, SessionTable, StorageError,
    StorageResult, UsageCharge,
};

/// Contenders in each race of conditional creates.
const RACERS: usize = 16;

/// Checks [`ObjectStore`]'s contract against `store`. Writes only under
/// `conformance/run-<random>/` and deletes what it wrote.
pub async fn object_store(store: &dyn ObjectStore) {
    let p = format!("conformance/run-{}/", run_id());
    rejects_invalid_keys(store, &p).await;
    missing_objects(store, &p).await;
    put_and_get(store, &p).await;
    create_is_conditional(store, &p).await;
    concurrent_creates_have_one_winner(store, &p).await;
    list_filters_and_sorts(store, &p).await;
    delete_removes(store, &p).await;
    put_is_atomic(store, &p).await;

    for key in store.list(&p).await.expect("list for cleanup") {
        store.delete(&key).await.expect("delete for cleanup");
    }
    let left = store.list(&p).await.expect("list after cleanup");
    assert!(
        left.is_empty(),
        "object_store: delete left keys behind: {left:?}"
    );
}

/// Checks [`SessionTable`]'s contract against `table`. Uses fresh workspaces,
/// session ids and incarnations and deletes its sessions (usage counters cannot
/// be deleted through the trait and stay behind under the run's workspaces).
///
/// Where the contract leaves a choice to the backend, the suite accepts either:
/// entries below a checkpoint "may be deleted, at once or later", so a read may
/// or may not return them (but only unchanged), and an append below the
/// checkpoint must fail whether or not its old entry is still there.
pub async fn session_table(table: &dyn SessionTable) {
    let ids = Ids::new();
    missing_sessions(table, &ids).await;
    create_and_get(table, &ids).await;
    names_unique_per_workspace(table, &ids).await;
    put_replaces_never_creates(table, &ids).await;
    list_by_workspace(table, &ids).await;
    concurrent_session_creates(table, &ids).await;
    expired_rows(table, &ids).await;
    log_append_and_read(table, &ids).await;
    log_reads_in_pages(table, &ids).await;
    log_needs_its_row(table, &ids).await;
    concurrent_appends_have_one_winner(table, &ids).await;
    let before = checkpoints_only_rise(table, &ids).await;
    checkpoint_refuses_appends_at_or_below(table, &ids, &before).await;
    delete_session_checks_incarnation(table, &ids).await;
    delete_session_removes_logs_and_checkpoints(table, &ids).await;
    concurrent_deletes_have_one_winner(table, &ids).await;
    appends_racing_delete_never_outlive_it(table, &ids).await;
    reused_id_starts_fresh(table, &ids).await;
    ending_bills_once(table, &ids).await;
    records::list_sessions_pages_by_id(table, &ids).await;
    records::tombstones_record_ended_sessions(table, &ids).await;
    records::snapshot_index(table, &ids).await;
    credentials::credentials_name_their_live_row(table, &ids).await;
    credentials::credentials_are_unique(table, &ids).await;
    credentials::ended_credentials_never_reach_a_live_row(table, &ids).await;
    due::due_work_needs_its_row(table, &ids).await;
    due::schedule_keeps_the_earliest(table, &ids).await;
    due::reschedule_only_when_unchanged(table, &ids).await;
    due::due_before_orders_and_limits(table, &ids).await;
    due::ending_a_session_drops_its_due_work(table, &ids).await;
    due::reused_id_starts_without_due_work(table, &ids).await;

    for ws in ids.workspaces() {
        for row in table
            .list_sessions(&ws, None, usize::MAX)
            .await
            .expect("list for cleanup")
        {
            let deleted = table.delete_session(&row.id, &row.incarnation, None).await;
            assert!(
                matches!(deleted, Ok(true)),
                "delete_session of a listed row must return true, got {}",
                describe(&deleted)
            );
        }
        let left = table
            .list_sessions(&ws, None, usize::MAX)
            .await
            .expect("list after cleanup");
        assert!(
            left.is_empty(),
            "session_table: delete_session left rows: {left:?}"
        );
    }
}

// --------------------------------------------------------------- session table

/// Fresh names for one run.
struct Ids {
    run: String,
}

impl Ids {
    fn new() -> Self {
        Self { run: run_id() }
    }
    fn ws(&self, n: &str) -> String {
        format!("ws_conf_{}_{n}", self.run)
    }
    fn ses(&self, n: &str) -> String {
        format!("ses_conf_{}_{n}", self.run)
    }
    /// An incarnation no row of this run has.
    fn inc(&self) -> String {
        format!("inc_conf_{}", run_id())
    }
    fn object(&self, n: &str) -> String {
        format!("conformance/run-{}/checkpoint-{n}", self.run)
    }
    fn workspaces(&self) -> Vec<String> {
        ["a", "b", "exp", "pg", "cred", "due", "bill"]
            .iter()
            .map(|n| self.ws(n))
            .collect()
    }
}

/// A row with a fresh random incarnation.
fn row(id: String, workspace: String, name: Option<&str>, expires_at: Option<i64>) -> SessionRow {
    let expiry = expires_at.map_or_else(|| "null".to_string(), |t| t.to_string());
    let body = format!(r#"{{"id":"{id}","note":"ünïcødé ✓","expires_at":{expiry}}}"#);
    SessionRow {
        id,
        incarnation: format!("inc_conf_{}", run_id()),
        workspace,
        name: name.map(str::to_owned),
        expires_at,
        body,
        credentials: Vec::new(),
    }
}

/// The log of one mirror of `row`.
fn key(row: &SessionRow, mirror: &str) -> LogKey {
    LogKey {
        session: row.id.clone(),
        incarnation: row.incarnation.clone(),
        mirror: mirror.into(),
    }
}

fn rec(seq: u64, entry: &[u8]) -> LogRecord {
    LogRecord {
        seq,
        entry: entry.to_vec(),
    }
}
