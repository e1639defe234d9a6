//! SQLite [`SessionTable`]: one WAL-mode database file shared by every process
//! on the same data directory.
//!
//! Several `mirra serve` processes may open one file, so every guarantee comes
//! from SQLite itself, not from in-process locks: conditional creates are primary
//! key / unique index inserts, and multi-row changes are `BEGIN IMMEDIATE`
//! transactions (taking the write lock up front, so `busy_timeout` can wait for it
//! instead of failing a deferred lock upgrade). WAL with `synchronous=NORMAL`
//! makes a commit survive a process kill, which is the durability bar here
//! (not power loss), at a fraction of the cost of `FULL`.
//!
//! Calls are microseconds and run directly on the calling task, through one
//! connection per handle behind a mutex. A pool of WAL reader connections was
//! measured and lost (`sqlite_hot_path_timings`, release, 2 cores, 8 threads):
//! pure `read_log` at the head went from 2.5 to 1.0–1.6 µs, but a realistic mix
//! (one append per five reads) went from 34–37 to 54–80 µs per append, because
//! every commit invalidates the other connections' page caches.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{ffi, params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{LogRecord, SessionRow, SessionTable, StorageError, StorageResult};

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    workspace  TEXT NOT NULL,
    name       TEXT,
    expires_at INTEGER,
    body       TEXT NOT NULL
) STRICT;
-- NULL names never collide in a SQLite unique index: unnamed sessions are free.
CREATE UNIQUE INDEX IF NOT EXISTS sessions_workspace_name ON sessions (workspace, name);
-- The reaper's scan; persistent sessions (no expiry) stay out of it.
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS log (
    session TEXT NOT NULL,
    mirror  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    entry   BLOB NOT NULL,
    PRIMARY KEY (session, mirror, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS usage (
    workspace TEXT NOT NULL,
    mode      TEXT NOT NULL,
    minutes   INTEGER NOT NULL,
    PRIMARY KEY (workspace, mode)
) WITHOUT ROWID, STRICT;
";

const SESSION_COLUMNS: &str = "id, workspace, name, expires_at, body";

/// SQLite-backed session table and commit log (the embedded default).
#[derive(Debug)]
pub struct SqliteSessionTable {
    conn: Mutex<Connection>,
}

impl SqliteSessionTable {
    /// Opens (creating if needed) the database file at `path`. Safe to call from
    /// several processes at once on one file.
    pub fn open(path: &Path) -> StorageResult<Self> {
        let conn = connect(path)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| backend("enable WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Backend(format!(
                "{}: journal_mode is {mode}, not wal (filesystem without shared memory?)",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA)
            .map_err(|e| backend("create schema", e))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// A private in-memory database, for tests: nothing is shared or persisted.
    pub fn in_memory() -> StorageResult<Self> {
        let conn = Connection::open_in_memory().map_err(|e| backend("open in-memory", e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| backend("create schema", e))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StorageResult<T> {
        f(&lock(&self.conn)).map_err(|e| backend("read", e))
    }

    /// Runs a write; a primary key or unique violation becomes `AlreadyExists(what)`.
    fn write<T>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> StorageResult<T> {
        let mut conn = lock(&self.conn);
        f(&mut conn).map_err(|e| {
            if is_taken(&e) {
                StorageError::AlreadyExists(what())
            } else {
                backend("write", e)
            }
        })
    }
}

fn connect(path: &Path) -> StorageResult<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| StorageError::Backend(format!("open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| backend("set busy_timeout", e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| backend("set synchronous", e))?;
    Ok(conn)
}

/// A panic while holding a connection cannot leave a transaction open (rusqlite
/// rolls back on drop), so a poisoned lock still guards a usable connection.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn backend(what: &str, e: rusqlite::Error) -> StorageError {
    StorageError::Backend(format!("sqlite {what}: {e}"))
}

/// Only a duplicate key means "taken"; other constraint failures are bugs.
fn is_taken(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error(),
        Some(err) if err.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || err.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn seq_param(seq: u64) -> StorageResult<i64> {
    i64::try_from(seq).map_err(|_| StorageError::Backend(format!("log seq {seq} out of range")))
}

/// Bounds beyond SQLite's integer range match as if they were at its end.
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Seqs and minutes are stored as SQLite's signed integers and never negative.
fn get_u64(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(i)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v))
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        workspace: r.get(1)?,
        name: r.get(2)?,
        expires_at: r.get(3)?,
        body: r.get(4)?,
    })
}

#[async_trait]
impl SessionTable for SqliteSessionTable {
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()> {
        self.write(
            || format!("session {} (or its name in {})", row.id, row.workspace),
            |c| {
                c.prepare_cached(
                    "INSERT INTO sessions (id, workspace, name, expires_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    row.id,
                    row.workspace,
                    row.name,
                    row.expires_at,
                    row.body
                ])
            },
        )?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> StorageResult<SessionRow> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row([id], session_from_row)
            .optional()
        })?
        .ok_or_else(|| StorageError::NotFound(format!("session {id}")))
    }

    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE workspace = ?1 AND name = ?2"
            ))?
            .query_row([workspace, name], session_from_row)
            .optional()
        })?
        .ok_or_else(|| StorageError::NotFound(format!("session {name:?} in {workspace}")))
    }

    async fn put_session(&self, row: &SessionRow) -> StorageResult<()> {
        let changed = self.write(
            || format!("session name {:?} in {}", row.name, row.workspace),
            |c| {
                c.prepare_cached(
                    "UPDATE sessions SET workspace = ?2, name = ?3, expires_at = ?4, body = ?5
                     WHERE id = ?1",
                )?
                .execute(params![
                    row.id,
                    row.workspace,
                    row.name,
                    row.expires_at,
                    row.body
                ])
            },
        )?;
        if changed == 0 {
            return Err(StorageError::NotFound(format!("session {}", row.id)));
        }
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StorageResult<()> {
        self.write(
            || format!("session {id}"),
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM log WHERE session = ?1")?
                    .execute([id])?;
                tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                    .execute([id])?;
                tx.commit()
            },
        )
    }

    async fn list_sessions(&self, workspace: &str) -> StorageResult<Vec<SessionRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE workspace = ?1 ORDER BY id"
            ))?
            .query_map([workspace], session_from_row)?
            .collect()
        })
    }

    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at, id"
            ))?
            .query_map([now], session_from_row)?
            .collect()
        })
    }

    async fn append_log(
        &self,
        session: &str,
        mirror: &str,
        seq: u64,
        entry: &[u8],
    ) -> StorageResult<()> {
        let seq_i = seq_param(seq)?;
        self.write(
            || format!("log entry {session}/{mirror}/{seq}"),
            |c| {
                c.prepare_cached(
                    "INSERT INTO log (session, mirror, seq, entry) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![session, mirror, seq_i, entry])
            },
        )?;
        Ok(())
    }

    async fn read_log(
        &self,
        session: &str,
        mirror: &str,
        after: u64,
    ) -> StorageResult<Vec<LogRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT seq, entry FROM log WHERE session = ?1 AND mirror = ?2 AND seq > ?3
                 ORDER BY seq",
            )?
            .query_map(params![session, mirror, clamp(after)], |r| {
                Ok(LogRecord {
                    seq: get_u64(r, 0)?,
                    entry: r.get(1)?,
                })
            })?
            .collect()
        })
    }

    async fn trim_log(&self, session: &str, mirror: &str, upto: u64) -> StorageResult<()> {
        self.write(
            || format!("log {session}/{mirror}"),
            |c| {
                c.prepare_cached(
                    "DELETE FROM log WHERE session = ?1 AND mirror = ?2 AND seq <= ?3",
                )?
                .execute(params![session, mirror, clamp(upto)])
            },
        )?;
        Ok(())
    }

    async fn add_usage(&self, workspace: &str, mode: &str, minutes: u64) -> StorageResult<()> {
        let minutes = i64::try_from(minutes)
            .map_err(|_| StorageError::Backend(format!("usage {minutes} out of range")))?;
        self.write(
            || format!("usage {workspace}/{mode}"),
            |c| {
                c.prepare_cached(
                    "INSERT INTO usage (workspace, mode, minutes) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workspace, mode) DO UPDATE SET minutes = minutes + excluded.minutes",
                )?
                .execute(params![workspace, mode, minutes])
            },
        )?;
        Ok(())
    }

    async fn usage(&self, workspace: &str) -> StorageResult<Vec<(String, u64)>> {
        self.read(|c| {
            c.prepare_cached("SELECT mode, minutes FROM usage WHERE workspace = ?1 ORDER BY mode")?
                .query_map([workspace], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?
                .collect()
        })
    }
}
