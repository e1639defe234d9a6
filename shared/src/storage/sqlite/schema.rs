//! The session table's schema, its version and the migrations between versions.

use rusqlite::{Connection, TransactionBehavior};

use super::backend;
use crate::storage::{StorageError, StorageResult};

/// `PRAGMA user_version` of the schema below. Files from before versioning (0,
/// with a `sessions` table) have no incarnations and are refused, not migrated;
/// version 1 to 5 files are migrated in place.
pub(super) const SCHEMA_VERSION: i64 = 6;

/// Version 1: sessions, commit log, checkpoints, usage.
const SCHEMA_V1: &str = "
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    incarnation TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    name        TEXT,
    expires_at  INTEGER,
    body        TEXT NOT NULL
) STRICT;
-- NULL names never collide in a SQLite unique index: unnamed sessions are free.
CREATE UNIQUE INDEX sessions_workspace_name ON sessions (workspace, name);
-- The reaper's scan; persistent sessions (no expiry) stay out of it.
CREATE INDEX sessions_expires_at ON sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE log (
    session     TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    mirror      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    entry       BLOB NOT NULL,
    PRIMARY KEY (session, incarnation, mirror, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE checkpoints (
    session     TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    mirror      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    object      TEXT NOT NULL,
    PRIMARY KEY (session, incarnation, mirror)
) WITHOUT ROWID, STRICT;
CREATE TABLE usage (
    workspace TEXT NOT NULL,
    mode      TEXT NOT NULL,
    minutes   INTEGER NOT NULL,
    PRIMARY KEY (workspace, mode)
) WITHOUT ROWID, STRICT;
";

/// Version 2 adds tombstones of ended sessions and the snapshot index.
const MIGRATE_V1_TO_V2: &str = "
CREATE TABLE tombstones (
    id          TEXT PRIMARY KEY NOT NULL,
    incarnation TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    name        TEXT,
    ended_at_ms INTEGER NOT NULL,
    reason      TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE INDEX tombstones_ended_at ON tombstones (ended_at_ms);
CREATE TABLE snapshots (
    workspace     TEXT NOT NULL,
    id            TEXT NOT NULL,
    session       TEXT NOT NULL,
    incarnation   TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    keep          INTEGER NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
) WITHOUT ROWID, STRICT;
-- A session's own snapshots, newest first, without scanning the workspace's.
CREATE INDEX snapshots_session ON snapshots (workspace, session, incarnation, id);
";

/// Version 3 adds the credential index: which (session, incarnation) a
/// credential digest names. Sessions created before it have no entries (the
/// table cannot read credentials out of a row's opaque body), so they are
/// reached by path or host only.
const MIGRATE_V2_TO_V3: &str = "
CREATE TABLE credentials (
    credential  TEXT PRIMARY KEY NOT NULL,
    session     TEXT NOT NULL,
    incarnation TEXT NOT NULL
) WITHOUT ROWID, STRICT;
-- A row's credentials: read with the row, dropped when it ends.
CREATE INDEX credentials_session ON credentials (session, incarnation);
";

/// Version 4 adds the due-work index: which (session, mirror) has work due
/// when, so a dispatcher finds it without opening every mirror's state. One
/// entry per (session, mirror), of the row's incarnation (`schedule_due`
/// needs the row; `delete_session` drops them with it).
const MIGRATE_V3_TO_V4: &str = "
CREATE TABLE due_work (
    session     TEXT NOT NULL,
    mirror      TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    due_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (session, mirror)
) WITHOUT ROWID, STRICT;
-- What is due first: `due_before` and `next_due` read it from the front.
CREATE INDEX due_work_due_at ON due_work (due_at_ms);
";

/// Version 5 moves the commit log into a rowid table. `WITHOUT ROWID` keeps
/// each row inside its primary key's b-tree, and SQLite compares a key whose
/// cell overflows by reading the *whole* cell: every seek for the log's head
/// (each mirror request makes one, and one per append) read several entries'
/// bytes from the file, a third of the table's time under load. A rowid
/// table's key index holds only the key columns.
const MIGRATE_V4_TO_V5: &str = "
CREATE TABLE log_v5 (
    session     TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    mirror      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    entry       BLOB NOT NULL,
    PRIMARY KEY (session, incarnation, mirror, seq)
) STRICT;
INSERT INTO log_v5 (session, incarnation, mirror, seq, entry)
    SELECT session, incarnation, mirror, seq, entry FROM log;
DROP TABLE log;
ALTER TABLE log_v5 RENAME TO log;
";

/// Version 6 counts usage per calendar month (`period`, `YYYY-MM`) and adds
/// workspaces and their API tokens (digests only). Counters from before it
/// had no month; they count in the month of the upgrade.
const MIGRATE_V5_TO_V6: &str = "
CREATE TABLE usage_v6 (
    workspace TEXT NOT NULL,
    period    TEXT NOT NULL,
    mode      TEXT NOT NULL,
    minutes   INTEGER NOT NULL,
    PRIMARY KEY (workspace, period, mode)
) WITHOUT ROWID, STRICT;
INSERT INTO usage_v6 (workspace, period, mode, minutes)
    SELECT workspace, strftime('%Y-%m', 'now'), mode, minutes FROM usage;
DROP TABLE usage;
ALTER TABLE usage_v6 RENAME TO usage;
CREATE TABLE workspaces (
    id            TEXT PRIMARY KEY NOT NULL,
    created_at_ms INTEGER NOT NULL,
    body          TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE TABLE tokens (
    digest        TEXT PRIMARY KEY NOT NULL,
    id            TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    body          TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE UNIQUE INDEX tokens_workspace_id ON tokens (workspace, id);
";

/// Creates the schema in a fresh file, migrates a version 1 to 5 file, accepts the
/// current one and refuses anything else. Each step is one immediate
/// transaction, so processes opening one file at once neither both create (or
/// migrate) nor see half a schema.
pub(super) fn init_schema(conn: &mut Connection, file: &str) -> StorageResult<()> {
    let version =
        |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    if version(conn).map_err(|e| backend("read schema version", e))? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("lock for schema", e))?;
    let found = version(&tx).map_err(|e| backend("read schema version", e))?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tables: i64 = tx
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| backend("read schema", e))?;
    let steps = match (found, tables) {
        (0, 0) => vec![
            SCHEMA_V1,
            MIGRATE_V1_TO_V2,
            MIGRATE_V2_TO_V3,
            MIGRATE_V3_TO_V4,
            MIGRATE_V4_TO_V5,
            MIGRATE_V5_TO_V6,
        ],
        (1, _) => vec![
            MIGRATE_V1_TO_V2,
            MIGRATE_V2_TO_V3,
            MIGRATE_V3_TO_V4,
            MIGRATE_V4_TO_V5,
            MIGRATE_V5_TO_V6,
        ],
        (2, _) => vec![
            MIGRATE_V2_TO_V3,
            MIGRATE_V3_TO_V4,
            MIGRATE_V4_TO_V5,
            MIGRATE_V5_TO_V6,
        ],
        (3, _) => vec![MIGRATE_V3_TO_V4, MIGRATE_V4_TO_V5, MIGRATE_V5_TO_V6],
        (4, _) => vec![MIGRATE_V4_TO_V5, MIGRATE_V5_TO_V6],
        (5, _) => vec![MIGRATE_V5_TO_V6],
        _ => {
            let what = if found > SCHEMA_VERSION {
                format!("was written by a newer Mirra (schema version {found}, this one knows {SCHEMA_VERSION})")
            } else {
                format!(
                    "has an older schema (version {found}, before session incarnations) that this \
                     Mirra cannot migrate; stop every mirra process and delete the data directory \
                     holding it (sessions and snapshots are lost)"
                )
            };
            return Err(StorageError::Backend(format!(
                "session table {file} {what}"
            )));
        }
    };
    for step in steps {
        tx.execute_batch(step)
            .map_err(|e| backend("create schema", e))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| backend("set schema version", e))?;
    tx.commit().map_err(|e| backend("create schema", e))
}
