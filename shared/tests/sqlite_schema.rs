//! The SQLite session table's file: WAL mode, the schema it creates, the
//! version 1 to 4 files it migrates in place and the files it refuses.

mod support;

use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::{
    CredentialKey, CredentialOwner, LogKey, SessionRow, SessionTable, StorageError, Tombstone,
};
use support::raw_count;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// The schema of the files Mirra wrote before session incarnations.
const SCHEMA_BEFORE_INCARNATIONS: &str = "
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL, workspace TEXT NOT NULL, name TEXT,
    expires_at INTEGER, body TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX sessions_workspace_name ON sessions (workspace, name);
CREATE INDEX sessions_expires_at ON sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE log (
    session TEXT NOT NULL, mirror TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL,
    PRIMARY KEY (session, mirror, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE usage (
    workspace TEXT NOT NULL, mode TEXT NOT NULL, minutes INTEGER NOT NULL,
    PRIMARY KEY (workspace, mode)
) WITHOUT ROWID, STRICT;
INSERT INTO sessions VALUES ('ses_old', 'ws', 'kept', NULL, '{}');
INSERT INTO log VALUES ('ses_old', 'stripe', 1, x'01');
";

#[test]
fn sqlite_open_enables_wal_and_creates_schema_idempotently() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let first = SqliteSessionTable::open(&path).expect("open");
    let second = SqliteSessionTable::open(&path).expect("open again while the first is open");
    drop((first, second));
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(version, 6, "the schema version is recorded");
    let objects: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("schema");
    assert_eq!(
        objects,
        [
            "checkpoints",
            "credentials",
            "credentials_session",
            "due_work",
            "due_work_due_at",
            "log",
            "sessions",
            "sessions_expires_at",
            "sessions_workspace_name",
            "snapshots",
            "snapshots_session",
            "tokens",
            "tokens_workspace_id",
            "tombstones",
            "tombstones_ended_at",
            "usage",
            "workspaces"
        ]
    );
}

/// A data dir from before tombstones and the snapshot index (schema 1) is
/// migrated in place: its sessions and log survive, the new tables appear.
#[tokio::test]
async fn sqlite_migrates_a_version_1_database_keeping_its_sessions() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(SCHEMA_VERSION_1)?;
            c.execute(
                "INSERT INTO sessions VALUES ('ses_v1ok', 'inc-1', 'local', NULL, NULL, '{}')",
                [],
            )?;
            c.pragma_update(None, "user_version", 1)
        })
        .expect("write a version 1 database");
    let table = SqliteSessionTable::open(&path).expect("open migrates");
    let row = table
        .get_session("ses_v1ok")
        .await
        .expect("the old row survives");
    assert_eq!(row.incarnation, "inc-1");
    let tombstone = Tombstone {
        id: "ses_v1ok".into(),
        incarnation: "inc-1".into(),
        workspace: "local".into(),
        name: None,
        ended_at_ms: 1,
        reason: "ended".into(),
    };
    assert!(table
        .delete_session("ses_v1ok", "inc-1", Some(&tombstone))
        .await
        .expect("delete with a tombstone after migrating"));
    assert_eq!(
        table.get_tombstone("ses_v1ok").await.expect("tombstone"),
        tombstone
    );
    drop(table);
    SqliteSessionTable::open(&path).expect("a migrated file opens again");
}

/// A data dir from before the credential index (schema 2) is migrated in
/// place: its sessions and tombstones survive (their credentials unindexed),
/// and new sessions are found by their credentials.
#[tokio::test]
async fn sqlite_migrates_a_version_2_database_adding_the_credential_index() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(SCHEMA_VERSION_1)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_2)?;
            c.execute(
                "INSERT INTO sessions VALUES ('ses_v2ok', 'inc-2', 'local', NULL, NULL, '{}')",
                [],
            )?;
            c.execute(
                "INSERT INTO tombstones VALUES ('ses_v2gn', 'inc-g', 'local', NULL, 5, 'ended')",
                [],
            )?;
            c.pragma_update(None, "user_version", 2)
        })
        .expect("write a version 2 database");
    let table = SqliteSessionTable::open(&path).expect("open migrates");
    let old = table
        .get_session("ses_v2ok")
        .await
        .expect("the old row survives");
    assert!(old.credentials.is_empty(), "an old row has no credentials");
    assert_eq!(
        table
            .get_tombstone("ses_v2gn")
            .await
            .expect("tombstone")
            .ended_at_ms,
        5
    );
    let key = CredentialKey::new("stripe", "sk_test_migrated");
    let new = SessionRow {
        id: "ses_v3nw".into(),
        incarnation: "inc-3".into(),
        workspace: "local".into(),
        name: None,
        expires_at: None,
        body: "{}".into(),
        credentials: vec![key.clone()],
    };
    table
        .create_session(&new)
        .await
        .expect("create after migrating");
    assert_eq!(
        table.find_credential(&key).await.expect("find_credential"),
        CredentialOwner::Live(new)
    );
    assert!(table
        .delete_session("ses_v2ok", "inc-2", None)
        .await
        .expect("delete an old row after migrating"));
    drop(table);
    SqliteSessionTable::open(&path).expect("a migrated file opens again");
}

/// A data dir from before the due-work index (schema 3) is migrated in place:
/// its sessions and credentials survive, and its sessions can schedule due
/// work at once.
#[tokio::test]
async fn sqlite_migrates_a_version_3_database_adding_the_due_work_index() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    let key = CredentialKey::new("stripe", "sk_test_before_v4");
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(SCHEMA_VERSION_1)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_2)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_3)?;
            c.execute(
                "INSERT INTO sessions VALUES ('ses_v3ok', 'inc-3', 'local', NULL, NULL, '{}')",
                [],
            )?;
            c.execute(
                "INSERT INTO credentials VALUES (?1, 'ses_v3ok', 'inc-3')",
                [key.as_str()],
            )?;
            c.pragma_update(None, "user_version", 3)
        })
        .expect("write a version 3 database");
    let table = SqliteSessionTable::open(&path).expect("open migrates");
    let old = table
        .get_session("ses_v3ok")
        .await
        .expect("the old row survives");
    assert_eq!(old.credentials, [key], "with its credentials");
    assert_eq!(table.next_due().await.expect("next_due"), None);
    assert!(table
        .schedule_due("ses_v3ok", "inc-3", "stripe", 1_000)
        .await
        .expect("schedule_due after migrating"));
    assert_eq!(table.next_due().await.expect("next_due"), Some(1_000));
    drop(table);
    let table = SqliteSessionTable::open(&path).expect("a migrated file opens again");
    assert_eq!(
        table.next_due().await.expect("next_due"),
        Some(1_000),
        "due work survives reopening the file"
    );
}

/// A version 4 file keeps its log through the move to a rowid table: the
/// entries read back unchanged, the log refuses taken seqs as before, and its
/// key index is a separate b-tree (the seek no longer reads entries' bytes).
#[tokio::test]
async fn sqlite_migrates_a_version_4_log_into_a_rowid_table_keeping_its_entries() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    let big: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(SCHEMA_VERSION_1)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_2)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_3)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_4)?;
            c.execute(
                "INSERT INTO sessions VALUES ('ses_v4ok', 'inc-4', 'local', NULL, NULL, '{}')",
                [],
            )?;
            for seq in 1..=3i64 {
                c.execute(
                    "INSERT INTO log VALUES ('ses_v4ok', 'inc-4', 'stripe', ?1, ?2)",
                    rusqlite::params![seq, big],
                )?;
            }
            c.pragma_update(None, "user_version", 4)
        })
        .expect("write a version 4 database");
    let table = SqliteSessionTable::open(&path).expect("open migrates");
    let key = LogKey {
        session: "ses_v4ok".into(),
        incarnation: "inc-4".into(),
        mirror: "stripe".into(),
    };
    let log = table.read_log(&key, 0).await.expect("read_log");
    assert_eq!(
        log.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3],
        "every entry survives"
    );
    assert!(log.iter().all(|r| r.entry == big), "unchanged");
    assert!(
        matches!(
            table.append_log(&key, 3, b"again").await,
            Err(StorageError::AlreadyExists(_))
        ),
        "a taken seq is still refused"
    );
    table.append_log(&key, 4, b"next").await.expect("append");
    drop(table);
    let without_rowid = raw_count(
        &path,
        "SELECT count(*) FROM sqlite_schema WHERE name = ?1 AND sql LIKE '%WITHOUT ROWID%'",
        "log",
    );
    assert_eq!(without_rowid, 0, "the log is a rowid table");
}

/// A version 5 file's usage counters had no month: they count in the month
/// of the upgrade, and the file gains workspaces and tokens.
#[tokio::test]
async fn sqlite_migrates_version_5_usage_into_the_current_month() {
    use shared::storage::{TokenDigest, TokenRow, WorkspaceRow, WorkspaceTable};
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(SCHEMA_VERSION_1)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_2)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_3)?;
            c.execute_batch(TABLES_ADDED_IN_VERSION_4)?;
            c.execute_batch(LOG_AS_VERSION_5_HAS_IT)?;
            c.execute("INSERT INTO usage VALUES ('local', 'ephemeral', 42)", [])?;
            c.execute("INSERT INTO usage VALUES ('local', 'persistent', 7)", [])?;
            c.pragma_update(None, "user_version", 5)
        })
        .expect("write a version 5 database");
    let table = SqliteSessionTable::open(&path).expect("open migrates");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let month = shared::session::metering::Period::of_ms(now_ms).to_string();
    assert_eq!(
        table.usage("local", &month).await.expect("usage"),
        [("ephemeral".to_string(), 42), ("persistent".to_string(), 7)],
        "the old counters count in the month of the upgrade"
    );
    let token = TokenRow {
        id: "tok_1".into(),
        workspace: "acme".into(),
        digest: TokenDigest::of("mirra_x"),
        created_at_ms: 1,
        body: "{}".into(),
    };
    let ws = WorkspaceRow {
        id: "acme".into(),
        created_at_ms: 1,
        body: "{}".into(),
    };
    table
        .create_workspace(&ws, &token)
        .await
        .expect("workspaces work after migrating");
}

/// The log as version 5 stores it (a rowid table), from version 4's.
const LOG_AS_VERSION_5_HAS_IT: &str = "
CREATE TABLE log_v5 (session TEXT NOT NULL, incarnation TEXT NOT NULL, mirror TEXT NOT NULL,
    seq INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (session, incarnation, mirror, seq)) STRICT;
DROP TABLE log;
ALTER TABLE log_v5 RENAME TO log;
";

/// The table version 4 added, as Mirra wrote it before version 5.
const TABLES_ADDED_IN_VERSION_4: &str = "
CREATE TABLE due_work (session TEXT NOT NULL, mirror TEXT NOT NULL, incarnation TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL, PRIMARY KEY (session, mirror)) WITHOUT ROWID, STRICT;
CREATE INDEX due_work_due_at ON due_work (due_at_ms);
";

/// The table version 3 added, as Mirra wrote it before version 4.
const TABLES_ADDED_IN_VERSION_3: &str = "
CREATE TABLE credentials (credential TEXT PRIMARY KEY NOT NULL, session TEXT NOT NULL,
    incarnation TEXT NOT NULL) WITHOUT ROWID, STRICT;
CREATE INDEX credentials_session ON credentials (session, incarnation);
";

/// The tables version 2 added, as Mirra wrote them before version 3.
const TABLES_ADDED_IN_VERSION_2: &str = "
CREATE TABLE tombstones (id TEXT PRIMARY KEY NOT NULL, incarnation TEXT NOT NULL,
    workspace TEXT NOT NULL, name TEXT, ended_at_ms INTEGER NOT NULL, reason TEXT NOT NULL)
    WITHOUT ROWID, STRICT;
CREATE INDEX tombstones_ended_at ON tombstones (ended_at_ms);
CREATE TABLE snapshots (workspace TEXT NOT NULL, id TEXT NOT NULL, session TEXT NOT NULL,
    incarnation TEXT NOT NULL, created_at_ms INTEGER NOT NULL, keep INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (workspace, id)) WITHOUT ROWID, STRICT;
CREATE INDEX snapshots_session ON snapshots (workspace, session, incarnation, id);
";

/// The schema of a version 1 file, as Mirra wrote it before version 2.
const SCHEMA_VERSION_1: &str = "
CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, incarnation TEXT NOT NULL,
    workspace TEXT NOT NULL, name TEXT, expires_at INTEGER, body TEXT NOT NULL) STRICT;
CREATE UNIQUE INDEX sessions_workspace_name ON sessions (workspace, name);
CREATE INDEX sessions_expires_at ON sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE log (session TEXT NOT NULL, incarnation TEXT NOT NULL, mirror TEXT NOT NULL,
    seq INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (session, incarnation, mirror, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE checkpoints (session TEXT NOT NULL, incarnation TEXT NOT NULL,
    mirror TEXT NOT NULL, seq INTEGER NOT NULL, object TEXT NOT NULL,
    PRIMARY KEY (session, incarnation, mirror)) WITHOUT ROWID, STRICT;
CREATE TABLE usage (workspace TEXT NOT NULL, mode TEXT NOT NULL, minutes INTEGER NOT NULL,
    PRIMARY KEY (workspace, mode)) WITHOUT ROWID, STRICT;
";

#[tokio::test]
async fn sqlite_refuses_a_database_from_before_incarnations() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch(SCHEMA_BEFORE_INCARNATIONS))
        .expect("write an old database");
    match SqliteSessionTable::open(&path) {
        Err(StorageError::Backend(msg)) => {
            assert!(
                msg.contains(&path.display().to_string())
                    && msg.contains("older schema")
                    && msg.contains("delete the data directory"),
                "the error must name the file and say what to do: {msg}"
            );
        }
        other => panic!("open of an old database must fail with Backend, got {other:?}"),
    }
    // Refusing changes nothing: the old file is as it was.
    assert_eq!(
        raw_count(
            &path,
            "SELECT count(*) FROM log WHERE session = ?1",
            "ses_old"
        ),
        1
    );
    assert_eq!(
        raw_count(
            &path,
            "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
            "checkpoints"
        ),
        0
    );
}

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_mirra() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    drop(SqliteSessionTable::open(&path).expect("open"));
    rusqlite::Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "user_version", 7))
        .expect("bump the schema version");
    match SqliteSessionTable::open(&path) {
        Err(StorageError::Backend(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("open of a newer database must fail with Backend, got {other:?}"),
    }
}

/// The WAL is copied into the database file by the table's own checkpointer,
/// off the request connection and within moments, not only by a commit that
/// happens to cross SQLite's 1,000-page threshold (which this stays below).
#[tokio::test]
async fn sqlite_checkpoints_the_wal_in_the_background() {
    let dir = tempdir();
    let path = dir.path().join("sessions.db");
    let table = SqliteSessionTable::open(&path).expect("open");
    let row = SessionRow {
        id: "ses_wal1".into(),
        incarnation: "inc-w".into(),
        workspace: "local".into(),
        name: None,
        expires_at: None,
        credentials: Vec::new(),
        body: "{}".into(),
    };
    table.create_session(&row).await.expect("create");
    let key = LogKey {
        session: "ses_wal1".into(),
        incarnation: "inc-w".into(),
        mirror: "stripe".into(),
    };
    let before = std::fs::metadata(&path).expect("db file").len();
    let entry = vec![7u8; 3000];
    for seq in 1..=200 {
        table.append_log(&key, seq, &entry).await.expect("append");
    }
    let mut grew = false;
    for _ in 0..100 {
        if std::fs::metadata(&path).expect("db file").len() >= before + 500_000 {
            grew = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        grew,
        "600 KB of log stayed in the WAL: the database file is still {} bytes",
        std::fs::metadata(&path).expect("db file").len()
    );
}
