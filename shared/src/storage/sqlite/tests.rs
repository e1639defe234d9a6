//! What the SQLite session table does that its conformance suite cannot see.

use rusqlite::StatementStatus;

use super::log::{ALL, PAGE};
use super::{lock, SqliteSessionTable, FIND_CREDENTIAL, GET_SESSION};
use crate::storage::{
    CredentialKey, CredentialOwner, LogKey, SessionRow, SessionTable, StorageError, Tombstone,
};

/// Every mirror request reads the log after its copy's head: that statement
/// must run as prepared, not be prepared again each time (a bound LIMIT did
/// that: SQLite plans with its value, so each binding expired the plan).
#[test]
fn reading_the_log_again_reuses_the_prepared_statement() {
    let table = SqliteSessionTable::in_memory().expect("table");
    let key = LogKey {
        session: "ses_a".into(),
        incarnation: "inc".into(),
        mirror: "stripe".into(),
    };
    for seq in 1..=5 {
        lock(&table.conn)
            .execute(
                "INSERT INTO log (session, incarnation, mirror, seq, entry) VALUES ('ses_a', 'inc', 'stripe', ?1, x'00')",
                [seq],
            )
            .expect("insert");
    }
    for after in 0..5 {
        let all = table.query_log(&key, after, None).expect("all");
        assert_eq!(all.len(), 5 - after as usize);
        let page = table.query_log(&key, after, Some(2)).expect("page");
        assert_eq!(page.len(), (5 - after as usize).min(2));
    }
    let conn = lock(&table.conn);
    let status = |sql: &str, what: StatementStatus| {
        conn.prepare_cached(sql).expect("cached").get_status(what)
    };
    assert_eq!(status(ALL, StatementStatus::Run), 5);
    assert_eq!(status(ALL, StatementStatus::RePrepare), 0);
    // What the one statement with `LIMIT -1` for all did: a bound LIMIT is
    // planned with its value, so binding it again expires the plan.
    assert_eq!(status(PAGE, StatementStatus::Run), 5);
    assert!(status(PAGE, StatementStatus::RePrepare) >= 4);
}

/// Passive checkpoints never find a WAL that appends keep growing fully
/// copied, so SQLite never starts it over by itself (create customer for 30 s
/// left a 1.8 GB WAL); past its limit the checkpointer restarts it, and the
/// file is cut back to that limit, while the appends go on.
#[test]
fn the_wal_is_restarted_while_appends_never_pause() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sessions.db");
    let restart_frames = 64;
    let table = SqliteSessionTable::open_with_wal_restart(&path, restart_frames).expect("table");
    let limit = restart_frames as u64 * 4096;
    let wal = dir.path().join("sessions.db-wal");
    let entry = vec![7u8; 3000];
    let started = std::time::Instant::now();
    let (mut seq, mut last, mut restarts) = (0i64, 0u64, Vec::new());
    // The checkpointer passes every 250 ms; an append is always just behind.
    while restarts.len() < 2 && started.elapsed() < std::time::Duration::from_secs(5) {
        seq += 1;
        lock(&table.conn)
            .execute(
                "INSERT INTO log (session, incarnation, mirror, seq, entry) VALUES ('ses_a', 'inc', 'stripe', ?1, ?2)",
                rusqlite::params![seq, entry],
            )
            .expect("append");
        let now = std::fs::metadata(&wal).expect("wal").len();
        if now < last {
            restarts.push((last, now));
        }
        last = now;
    }
    assert_eq!(
        restarts.len(),
        2,
        "{seq} appends in {:?} grew the WAL to {last} bytes without a restart",
        started.elapsed()
    );
    for (from, to) in restarts {
        assert!(
            from > limit && to <= limit,
            "a restart went from {from} to {to} bytes (limit {limit})"
        );
    }
}

fn row(id: &str, expires_at: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        incarnation: "inc".into(),
        workspace: "ws".into(),
        name: None,
        expires_at: Some(expires_at),
        body: "{}".into(),
        credentials: vec![key()],
    }
}

fn key() -> CredentialKey {
    CredentialKey::new("stripe", "sk_test_a")
}

fn tombstone() -> Tombstone {
    Tombstone {
        id: "ses_a".into(),
        incarnation: "inc".into(),
        workspace: "ws".into(),
        name: None,
        ended_at_ms: 5,
        reason: "ended".into(),
    }
}

async fn owner_expiry(table: &SqliteSessionTable) -> Option<i64> {
    match table.find_credential(&key()).await.expect("owner") {
        CredentialOwner::Live(row) => row.expires_at,
        CredentialOwner::Ended(t) => panic!("ended: {t:?}"),
    }
}

fn lookups(table: &SqliteSessionTable) -> i32 {
    runs(table, GET_SESSION)
}

fn runs(table: &SqliteSessionTable, sql: &str) -> i32 {
    lock(&table.conn)
        .prepare_cached(sql)
        .expect("cached")
        .get_status(StatementStatus::Run)
}

/// Every mirror request looks its session up: a row read once is served from
/// memory until a write that may change session rows, while the log's appends
/// (one per mirror write) leave it kept.
#[tokio::test]
async fn a_session_row_read_again_comes_from_memory_until_a_write_may_have_changed_it() {
    let dir = tempfile::tempdir().expect("dir");
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    table
        .create_session(&row("ses_a", 100))
        .await
        .expect("create");
    for _ in 0..3 {
        assert_eq!(
            table.get_session("ses_a").await.expect("get").expires_at,
            Some(100)
        );
    }
    assert_eq!(lookups(&table), 1, "read once, then kept");
    // A request routed by its credential (stripe-node's) finds the kept row too.
    for _ in 0..3 {
        assert_eq!(owner_expiry(&table).await, Some(100));
    }
    assert_eq!(runs(&table, FIND_CREDENTIAL), 0);
    let log = LogKey {
        session: "ses_a".into(),
        incarnation: "inc".into(),
        mirror: "stripe".into(),
    };
    table.append_log(&log, 1, b"x").await.expect("append");
    table.get_session("ses_a").await.expect("get");
    assert_eq!(lookups(&table), 1, "an append changes no session row");
    table.put_session(&row("ses_a", 200)).await.expect("put");
    assert_eq!(owner_expiry(&table).await, Some(200));
    assert_eq!(runs(&table, FIND_CREDENTIAL), 1);
    assert_eq!(
        table.get_session("ses_a").await.expect("get").expires_at,
        Some(200)
    );
    assert_eq!(lookups(&table), 1, "the credential's lookup kept the row");
    table
        .delete_session("ses_a", "inc", Some(&tombstone()))
        .await
        .expect("delete");
    assert!(matches!(
        table.get_session("ses_a").await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        table.find_credential(&key()).await,
        Ok(CredentialOwner::Ended(_))
    ));
}

/// Another process on the same file changes or ends a session: the next
/// lookup here sees it (SQLite's data version moved), not the kept row.
#[tokio::test]
async fn a_session_row_another_process_changed_is_read_again_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sessions.db");
    let here = SqliteSessionTable::open(&path).expect("here");
    let there = SqliteSessionTable::open(&path).expect("there");
    here.create_session(&row("ses_a", 100))
        .await
        .expect("create");
    assert_eq!(
        here.get_session("ses_a").await.expect("get").expires_at,
        Some(100)
    );
    assert_eq!(owner_expiry(&here).await, Some(100));
    there
        .put_session(&row("ses_a", 300))
        .await
        .expect("put there");
    assert_eq!(owner_expiry(&here).await, Some(300));
    assert_eq!(
        here.get_session("ses_a").await.expect("get").expires_at,
        Some(300)
    );
    there
        .delete_session("ses_a", "inc", Some(&tombstone()))
        .await
        .expect("delete there");
    assert!(matches!(
        here.find_credential(&key()).await,
        Ok(CredentialOwner::Ended(_))
    ));
    assert!(matches!(
        here.get_session("ses_a").await,
        Err(StorageError::NotFound(_))
    ));
}

/// A checkpoint build reads a log's entries a page at a time, thousands of
/// them: on a connection of its own, so it neither waits for nor holds up the
/// requests' appends and lookups (nor empties their page cache).
#[test]
fn reading_a_log_in_pages_does_not_take_the_request_connection() {
    let dir = tempfile::tempdir().expect("dir");
    let table = std::sync::Arc::new(
        SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table"),
    );
    for seq in 1..=3 {
        lock(&table.conn)
            .execute(
                "INSERT INTO log (session, incarnation, mirror, seq, entry) VALUES ('ses_a', 'inc', 'stripe', ?1, x'00')",
                [seq],
            )
            .expect("insert");
    }
    let held = lock(&table.conn);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = table.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let log = LogKey {
            session: "ses_a".into(),
            incarnation: "inc".into(),
            mirror: "stripe".into(),
        };
        let _ = tx.send(
            rt.block_on(reader.read_log_page(&log, 0, 2))
                .map(|p| p.len()),
        );
    });
    let page = rx.recv_timeout(std::time::Duration::from_secs(5));
    drop(held);
    assert!(
        matches!(page, Ok(Ok(2))),
        "a page read while a request holds the connection: {page:?}"
    );
}

/// SQLite is built as `.cargo/config.toml` says: one page cache per
/// connection (see `state::copies`' test of what the shared one did) and no
/// global memory statistics, which took a process-wide mutex on every
/// allocation SQLite made (+4 % Stripe creates per second without it).
#[test]
fn sqlite_is_built_with_separate_page_caches_and_no_memory_statistics() {
    let conn = rusqlite::Connection::open_in_memory().expect("open");
    let options: Vec<String> = conn
        .prepare("PRAGMA compile_options")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("compile options");
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}
