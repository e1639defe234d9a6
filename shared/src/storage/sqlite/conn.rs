//! The connection: opening one (busy timeout, `synchronous`, WAL), locking
//! it, and the read and write paths every statement takes (errors mapped,
//! and the count of writes that kept session rows depend on, see [`rows`]).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{ffi, Connection};

use super::{rows, SqliteSessionTable};
use crate::storage::{StorageError, StorageResult};

/// How long a connection waits for another process's write lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SqliteSessionTable {
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StorageResult<T> {
        f(&lock(&self.conn)).map_err(|e| backend("read", e))
    }

    /// What rows read now are read under (see [`rows`]); call it holding the
    /// connection, so no write of this handle runs between it and the read.
    pub(super) fn stamp(&self, conn: &Connection) -> StorageResult<rows::Stamp> {
        let version = rows::data_version(conn).map_err(|e| backend("read data_version", e))?;
        Ok((version, self.writes.load(Ordering::Acquire)))
    }

    /// Runs a write; a primary key or unique violation becomes `AlreadyExists(what)`.
    /// Kept session rows are read again afterwards: `f` may have changed them.
    pub(super) fn write<T>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> StorageResult<T> {
        let mut conn = lock(&self.conn);
        let out = write_on(&mut conn, what, f);
        self.writes.fetch_add(1, Ordering::Release);
        out
    }

    /// [`write`](Self::write) for `f` that changes no session or credential
    /// row (the log, checkpoints, due work): kept session rows stay valid.
    pub(super) fn write_beside_sessions<T>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> StorageResult<T> {
        write_on(&mut lock(&self.conn), what, f)
    }
}

pub(super) fn write_on<T>(
    conn: &mut Connection,
    what: impl FnOnce() -> String,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> StorageResult<T> {
    f(conn).map_err(|e| {
        if is_taken(&e) {
            StorageError::AlreadyExists(what())
        } else {
            backend("write", e)
        }
    })
}

pub(super) fn connect(path: &Path) -> StorageResult<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| StorageError::Backend(format!("open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| backend("set busy_timeout", e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| backend("set synchronous", e))?;
    Ok(conn)
}

/// Switches to WAL, returning the journal mode now in force. On a new file the
/// switch needs an exclusive lock and fails `SQLITE_BUSY` at once, without the
/// busy handler, while another process opens the file too; so it retries here.
pub(super) fn enable_wal(conn: &Connection) -> StorageResult<String> {
    let started = Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            done => return done.map_err(|e| backend("enable WAL", e)),
        }
    }
}

/// A panic while holding a connection cannot leave a transaction open (rusqlite
/// rolls back on drop), so a poisoned lock still guards a usable connection;
/// the row cache is emptied or filled whole, never left half-changed.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn backend(what: &str, e: rusqlite::Error) -> StorageError {
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
