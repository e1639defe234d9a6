//! The session table conformance suite against the embedded SQLite backend,
//! plus what only it can show: several handles (processes) on one file, and
//! writes surviving a killed process. (The filesystem object store's tests are
//! in `fs_object_store.rs`, the file's schema in `sqlite_schema.rs`.)

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::{
    conformance, Checkpoint, LogKey, ObjectStore, SessionRow, SessionTable, StorageError,
    UsageCharge,
};
use support::raw_count;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Drives an async backend call from a plain thread, so threads race for real.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn session(id: &str, workspace: &str, name: Option<&str>) -> SessionRow {
    SessionRow {
        id: id.into(),
        incarnation: format!("inc-{id}"),
        workspace: workspace.into(),
        name: name.map(Into::into),
        expires_at: None,
        body: "{}".into(),
        credentials: Vec::new(),
    }
}

/// The log of a row made by [`session`].
fn log_key(id: &str, mirror: &str) -> LogKey {
    LogKey {
        session: id.into(),
        incarnation: format!("inc-{id}"),
        mirror: mirror.into(),
    }
}

fn checkpoint(seq: u64, object: &str) -> Checkpoint {
    Checkpoint {
        seq,
        object: object.into(),
    }
}

#[tokio::test]
async fn sqlite_file_table_passes_conformance() {
    let dir = tempdir();
    let table = SqliteSessionTable::open(&dir.path().join("mirra.db")).expect("open");
    conformance::session_table(&table).await;
}

/// The due-work checks that need a table of their own: exact `next_due`
/// and pages, and an empty index once the sessions ended.
#[tokio::test]
async fn sqlite_due_work_on_an_empty_table() {
    let table = SqliteSessionTable::in_memory().expect("open");
    conformance::due_work_on_an_empty_table(&table).await;
}

/// Due work scheduled before a process stops is found by the next one on the
/// same file (a delivery due at a kill is sent after the restart).
#[tokio::test]
async fn sqlite_due_work_survives_reopening_the_file() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let table = SqliteSessionTable::open(&path).expect("open");
    table
        .create_session(&session("ses_due1", "ws", None))
        .await
        .expect("create");
    table
        .schedule_due("ses_due1", "inc-ses_due1", "stripe", 42)
        .await
        .expect("schedule_due");
    drop(table);
    let table = SqliteSessionTable::open(&path).expect("reopen");
    assert_eq!(table.next_due().await.expect("next_due"), Some(42));
    let due = table.due_before(42, 10).await.expect("due_before");
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        (due[0].session_id.as_str(), due[0].mirror.as_str()),
        ("ses_due1", "stripe")
    );
}

#[tokio::test]
async fn sqlite_file_workspace_table_passes_conformance() {
    let dir = tempdir();
    let table = SqliteSessionTable::open(&dir.path().join("mirra.db")).expect("open");
    conformance::workspace_table(&table).await;
}

#[tokio::test]
async fn sqlite_in_memory_table_passes_conformance() {
    let table = SqliteSessionTable::in_memory().expect("open");
    conformance::session_table(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_conformance_twice_at_once_on_one_file() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let one = SqliteSessionTable::open(&path).expect("open");
    let two = SqliteSessionTable::open(&path).expect("open");
    tokio::join!(
        conformance::session_table(&one),
        conformance::session_table(&two)
    );
}

mod durability;
mod races;
