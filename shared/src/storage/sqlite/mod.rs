//! SQLite [`SessionTable`]: one WAL-mode database file shared by every process
//! on the same data directory.
//!
//! Several `mirra serve` processes may open one file, so every guarantee comes
//! from SQLite itself, not from in-process locks: conditional creates are primary
//! key / unique index inserts or single `INSERT … SELECT … WHERE` statements, and
//! multi-row changes are `BEGIN IMMEDIATE` transactions (taking the write lock up
//! front, so `busy_timeout` can wait for it instead of failing a deferred lock
//! upgrade). WAL with `synchronous=NORMAL` makes a commit survive a process kill,
//! which is the durability bar here (not power loss), at a fraction of the cost
//! of `FULL`.
//!
//! A log belongs to one session row: its key carries the row's incarnation, an
//! append checks the row and the checkpoint in the same statement that inserts,
//! and `delete_session` removes the row, its logs, checkpoints and due-work
//! entries in one transaction. So no entry outlives its row, and none lands
//! after the delete.
//!
//! Calls are microseconds and run directly on the calling task, through one
//! connection per handle behind a mutex. A pool of WAL reader connections was
//! measured and lost (`sqlite_hot_path_timings`, release, 2 cores, 8 threads):
//! pure `read_log` at the head went from 2.5 to 1.0–1.6 µs, but a realistic mix
//! (one append per five reads) went from 34–37 to 54–80 µs per append, because
//! every commit invalidates the other connections' page caches. Only the
//! long, one-pass reads of a checkpoint build use a second connection, and the
//! WAL checkpointer a third (`wal`).

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

mod conn;
mod due;
mod log;
mod records;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod wal;
mod workspaces;

use conn::{backend, connect, enable_wal, lock, write_on, BUSY_TIMEOUT};
use log::TRIM_BATCH;
use schema::init_schema;

use super::{
    Checkpoint, CredentialKey, CredentialOwner, DueWork, LogKey, LogRecord, SessionRow,
    SessionTable, SnapshotQuery, SnapshotRow, StorageError, StorageResult, Tombstone, UsageCharge,
};

/// An append refused for a reason gone by the time it looks again is retried.
const APPEND_ATTEMPTS: usize = 3;

/// `SELECT` of a row's columns and its credential digests (space-separated),
/// then the rest of the query, whose `FROM` names the `sessions` table: one
/// string at compile time (a `format!` per lookup cost every mirror request
/// an allocation and the statement cache a fresh key to hash).
macro_rules! select_session {
    ($($rest:literal),+) => {
        concat!(
            "SELECT sessions.id, sessions.incarnation, sessions.workspace,
    sessions.name, sessions.expires_at, sessions.body,
    (SELECT group_concat(credential, ' ') FROM credentials
     WHERE session = sessions.id AND incarnation = sessions.incarnation) ",
            $($rest),+
        )
    };
}

/// One session row by id.
const GET_SESSION: &str = select_session!("FROM sessions WHERE id = ?1");

/// The live session row a credential digest names.
const FIND_CREDENTIAL: &str = select_session!(
    "FROM credentials c JOIN sessions
     ON sessions.id = c.session AND sessions.incarnation = c.incarnation
     WHERE c.credential = ?1"
);

/// SQLite-backed session table and commit log (the embedded default).
#[derive(Debug)]
pub struct SqliteSessionTable {
    conn: Arc<Mutex<Connection>>,
    /// A second connection for reading long stretches of a log (a checkpoint
    /// build): through the request connection those reads held its mutex a
    /// page at a time and pushed the pages appends and lookups use out of its
    /// cache. `None` in memory (nothing to share), where `conn` reads them.
    bulk: Option<Mutex<Connection>>,
    /// Session rows read lately (see [`rows`]).
    rows: Mutex<rows::RowCache>,
    /// Writes through [`write`](Self::write) so far: each may have changed a
    /// session row. Raised while the connection is still held.
    writes: AtomicU64,
    /// Checkpoints a file's WAL off the request connection (none in memory).
    _wal: Option<wal::Checkpointer>,
}

impl SqliteSessionTable {
    /// Opens (creating if needed) the database file at `path`. Safe to call from
    /// several processes at once on one file. A file written by an older Mirra
    /// (before session incarnations) fails with a `Backend` error saying to
    /// remove it.
    pub fn open(path: &Path) -> StorageResult<Self> {
        Self::open_with_wal_restart(path, wal::RESTART_FRAMES)
    }

    /// [`open`](Self::open), restarting the WAL past `restart_frames` pages
    /// (tests use a small WAL to see restarts happen).
    fn open_with_wal_restart(path: &Path, restart_frames: i64) -> StorageResult<Self> {
        let mut conn = connect(path)?;
        let mode = enable_wal(&conn)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Backend(format!(
                "{}: journal_mode is {mode}, not wal (filesystem without shared memory?)",
                path.display()
            )));
        }
        init_schema(&mut conn, &path.display().to_string())?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| backend("turn off automatic WAL checkpoints", e))?;
        // A restarted WAL is cut back to the size that triggers a restart.
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| backend("read page_size", e))?;
        conn.pragma_update(None, "journal_size_limit", restart_frames * page_size)
            .map_err(|e| backend("set journal_size_limit", e))?;
        let conn = Arc::new(Mutex::new(conn));
        let wal = wal::Checkpointer::start(path, Arc::downgrade(&conn), restart_frames)?;
        let bulk = connect(path)?;
        // Each page is read once: a small cache is enough.
        bulk.pragma_update(None, "cache_size", -256)
            .map_err(|e| backend("set cache_size", e))?;
        Ok(Self {
            conn,
            bulk: Some(Mutex::new(bulk)),
            rows: Mutex::default(),
            writes: AtomicU64::new(0),
            _wal: Some(wal),
        })
    }

    /// A private in-memory database, for tests: nothing is shared or persisted.
    pub fn in_memory() -> StorageResult<Self> {
        let mut conn = Connection::open_in_memory().map_err(|e| backend("open in-memory", e))?;
        init_schema(&mut conn, ":memory:")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            bulk: None,
            rows: Mutex::default(),
            writes: AtomicU64::new(0),
            _wal: None,
        })
    }

    /// A log's entries after `after`, ascending, at most `limit` (`None`: all).
    fn query_log(
        &self,
        key: &LogKey,
        after: u64,
        limit: Option<usize>,
    ) -> StorageResult<Vec<LogRecord>> {
        self.read(|c| log::entries(c, key, after, limit))
    }

    /// Deletes a log's entries below `below`, [`TRIM_BATCH`] per statement,
    /// taking the connection afresh for each, on a blocking thread: a
    /// checkpoint of a busy session trims tens of thousands of entries (36 ms
    /// for 26,000), and on an async worker that stalled every request queued
    /// behind it.
    async fn trim_log(&self, key: &LogKey, below: i64) -> StorageResult<()> {
        let (conn, owned) = (self.conn.clone(), key.clone());
        tokio::task::spawn_blocking(move || loop {
            let deleted = write_on(
                &mut lock(&conn),
                || log_name(&owned),
                |c| log::trim_batch(c, &owned, below),
            )?;
            if deleted < TRIM_BATCH {
                return Ok(());
            }
        })
        .await
        .map_err(|e| StorageError::Backend(format!("trimming {}: {e}", log_name(key))))?
    }
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
    let credentials: Option<String> = r.get(6)?;
    let mut credentials: Vec<CredentialKey> = credentials
        .unwrap_or_default()
        .split_whitespace()
        .map(|c| CredentialKey::from_stored(c.to_owned()))
        .collect();
    credentials.sort();
    Ok(SessionRow {
        id: r.get(0)?,
        incarnation: r.get(1)?,
        workspace: r.get(2)?,
        name: r.get(3)?,
        expires_at: r.get(4)?,
        body: r.get(5)?,
        credentials,
    })
}

fn log_name(key: &LogKey) -> String {
    format!("log {}/{}/{}", key.session, key.incarnation, key.mirror)
}

fn row_gone(key: &LogKey) -> StorageError {
    StorageError::NotFound(format!(
        "session {} incarnation {}",
        key.session, key.incarnation
    ))
}

#[async_trait]
impl SessionTable for SqliteSessionTable {
    /// The row and its credentials in one transaction: a taken id, name or
    /// credential is a key conflict that rolls all of it back.
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()> {
        self.write(
            || {
                format!(
                    "session {} (or its name in {}, or one of its credentials)",
                    row.id, row.workspace
                )
            },
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached(
                    "INSERT INTO sessions (id, incarnation, workspace, name, expires_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    row.id,
                    row.incarnation,
                    row.workspace,
                    row.name,
                    row.expires_at,
                    row.body
                ])?;
                for credential in &row.credentials {
                    tx.prepare_cached(
                        "INSERT INTO credentials (credential, session, incarnation)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute([
                        credential.as_str(),
                        &row.id,
                        &row.incarnation,
                    ])?;
                }
                tx.commit()
            },
        )
    }

    async fn get_session(&self, id: &str) -> StorageResult<SessionRow> {
        let conn = lock(&self.conn);
        let stamp = self.stamp(&conn)?;
        if let Some(row) = lock(&self.rows).get(stamp, id) {
            return Ok(row);
        }
        let row = conn
            .prepare_cached(GET_SESSION)
            .and_then(|mut s| s.query_row([id], session_from_row).optional())
            .map_err(|e| backend("read", e))?
            .ok_or_else(|| StorageError::NotFound(format!("session {id}")))?;
        lock(&self.rows).keep(stamp, &row);
        Ok(row)
    }

    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow> {
        self.read(|c| {
            c.prepare_cached(select_session!(
                "FROM sessions WHERE workspace = ?1 AND name = ?2"
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
                    "UPDATE sessions SET workspace = ?3, name = ?4, expires_at = ?5, body = ?6
                     WHERE id = ?1 AND incarnation = ?2",
                )?
                .execute(params![
                    row.id,
                    row.incarnation,
                    row.workspace,
                    row.name,
                    row.expires_at,
                    row.body
                ])
            },
        )?;
        if changed == 0 {
            return Err(StorageError::NotFound(format!(
                "session {} incarnation {}",
                row.id, row.incarnation
            )));
        }
        Ok(())
    }

    async fn end_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
        charges: &[UsageCharge],
    ) -> StorageResult<bool> {
        self.write(
            || format!("session {id}"),
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let workspace: Option<String> = tx
                    .prepare_cached(
                        "DELETE FROM sessions WHERE id = ?1 AND incarnation = ?2 RETURNING workspace",
                    )?
                    .query_row([id, incarnation], |r| r.get(0))
                    .optional()?;
                let Some(workspace) = workspace else {
                    return Ok(false); // dropping `tx` rolls back the empty transaction
                };
                tx.prepare_cached("DELETE FROM log WHERE session = ?1 AND incarnation = ?2")?
                    .execute([id, incarnation])?;
                tx.prepare_cached(
                    "DELETE FROM checkpoints WHERE session = ?1 AND incarnation = ?2",
                )?
                .execute([id, incarnation])?;
                due::drop_session(&tx, id, incarnation)?;
                for charge in charges {
                    tx.prepare_cached(
                        "INSERT INTO usage (workspace, period, mode, minutes) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (workspace, period, mode)
                         DO UPDATE SET minutes = minutes + excluded.minutes",
                    )?
                    .execute(params![
                        workspace,
                        charge.period,
                        charge.mode,
                        clamp(charge.minutes)
                    ])?;
                }
                match tombstone {
                    // The row's credentials now name its tombstone, which
                    // replaces the id's older one: that one's credentials go.
                    Some(t) => {
                        records::put_tombstone(&tx, t)?;
                        tx.prepare_cached(
                            "DELETE FROM credentials WHERE session = ?1 AND incarnation != ?2",
                        )?
                        .execute([id, t.incarnation.as_str()])?;
                    }
                    None => {
                        tx.prepare_cached(
                            "DELETE FROM credentials WHERE session = ?1 AND incarnation = ?2",
                        )?
                        .execute([id, incarnation])?;
                    }
                }
                tx.commit()?;
                Ok(true)
            },
        )
    }

    async fn list_sessions(
        &self,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<SessionRow>> {
        self.read(|c| {
            c.prepare_cached(select_session!(
                "FROM sessions
                 WHERE workspace = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
            ))?
            .query_map(
                params![workspace, after, clamp(limit as u64)],
                session_from_row,
            )?
            .collect()
        })
    }

    /// One `count(*)` over the workspace's rows (the name index leads with
    /// the workspace), without reading their bodies.
    async fn count_live_sessions(
        &self,
        workspace: &str,
        now: i64,
        _enough: usize,
    ) -> StorageResult<usize> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT count(*) FROM sessions
                 WHERE workspace = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            )?
            .query_row(params![workspace, now], |r| r.get::<_, i64>(0))
        })
        .map(|n| n.max(0) as usize)
    }

    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        self.read(|c| {
            c.prepare_cached(select_session!(
                "FROM sessions
                 WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at, id"
            ))?
            .query_map([now], session_from_row)?
            .collect()
        })
    }

    /// Each step is one statement: the live row joined through the index,
    /// else the tombstone of the indexed incarnation. A row that ends between
    /// the two is found as its tombstone.
    async fn find_credential(&self, credential: &CredentialKey) -> StorageResult<CredentialOwner> {
        let conn = lock(&self.conn);
        let stamp = self.stamp(&conn)?;
        if let Some(row) = lock(&self.rows).get_by_credential(stamp, credential.as_str()) {
            return Ok(CredentialOwner::Live(row));
        }
        let found = (|| {
            let c = &*conn;
            let live = c
                .prepare_cached(FIND_CREDENTIAL)?
                .query_row([credential.as_str()], session_from_row)
                .optional()?;
            if let Some(row) = live {
                return Ok(Some(CredentialOwner::Live(row)));
            }
            Ok(records::credential_tombstone(c, credential.as_str())?.map(CredentialOwner::Ended))
        })()
        .map_err(|e| backend("read", e))?;
        if let Some(CredentialOwner::Live(row)) = &found {
            lock(&self.rows).keep(stamp, row);
        }
        found.ok_or_else(|| StorageError::NotFound("no session has this credential".into()))
    }

    /// One statement inserts only while the row exists and `seq` is above the
    /// checkpoint, so it is atomic with `delete_session` and `set_checkpoint`; a
    /// taken seq is a primary key conflict. Only a refused insert pays for a
    /// second look, to tell `NotFound` from `AlreadyExists`.
    async fn append_log(&self, key: &LogKey, seq: u64, entry: &[u8]) -> StorageResult<()> {
        let seq_i = seq_param(seq)?;
        for _ in 0..APPEND_ATTEMPTS {
            // `None`: stored; else why not: (row exists, checkpoint seq).
            let refused = self.write_beside_sessions(
                || format!("{} entry {seq}", log_name(key)),
                |c| {
                    let inserted = c
                        .prepare_cached(
                            "INSERT INTO log (session, incarnation, mirror, seq, entry)
                             SELECT ?1, ?2, ?3, ?4, ?5
                             WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND incarnation = ?2)
                               AND ?4 > COALESCE((SELECT seq FROM checkpoints
                                   WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3), 0)",
                        )?
                        .execute(params![key.session, key.incarnation, key.mirror, seq_i, entry])?;
                    if inserted == 1 {
                        Ok(None)
                    } else {
                        log::state(c, key).map(Some)
                    }
                },
            )?;
            match refused {
                None => return Ok(()),
                Some((false, _)) => return Err(row_gone(key)),
                Some((true, checkpoint)) if seq_i <= checkpoint => {
                    return Err(StorageError::AlreadyExists(format!(
                        "{} entry {seq}: at or below checkpoint {checkpoint}",
                        log_name(key)
                    )));
                }
                // The row appeared between the two statements (another process
                // created one with this very incarnation): try again.
                Some((true, _)) => {}
            }
        }
        Err(StorageError::Backend(format!(
            "{} entry {seq}: refused {APPEND_ATTEMPTS} times although the row exists above its checkpoint",
            log_name(key)
        )))
    }

    async fn read_log(&self, key: &LogKey, after: u64) -> StorageResult<Vec<LogRecord>> {
        self.query_log(key, after, None)
    }

    async fn read_log_page(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<LogRecord>> {
        match &self.bulk {
            Some(bulk) => {
                log::entries(&lock(bulk), key, after, Some(limit)).map_err(|e| backend("read", e))
            }
            None => self.query_log(key, after, Some(limit)),
        }
    }

    /// Raises the checkpoint in one transaction, which also holds the row in
    /// place while it checks it exists; then deletes the entries below it a
    /// batch per statement, so appends to this and every other log (they share
    /// the connection) wait for one batch at a time, not for the whole history.
    async fn set_checkpoint(&self, key: &LogKey, checkpoint: &Checkpoint) -> StorageResult<bool> {
        let seq_i = seq_param(checkpoint.seq)?;
        let raised = self.write_beside_sessions(
            || log_name(key),
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let (exists, current) = log::state(&tx, key)?;
                if !exists {
                    return Ok(None);
                }
                if seq_i <= current {
                    return Ok(Some(false));
                }
                tx.prepare_cached(
                    "INSERT INTO checkpoints (session, incarnation, mirror, seq, object)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (session, incarnation, mirror)
                     DO UPDATE SET seq = excluded.seq, object = excluded.object",
                )?
                .execute(params![
                    key.session,
                    key.incarnation,
                    key.mirror,
                    seq_i,
                    checkpoint.object
                ])?;
                tx.commit()?;
                Ok(Some(true))
            },
        )?;
        let raised = raised.ok_or_else(|| row_gone(key))?;
        if raised {
            self.trim_log(key, seq_i).await?;
        }
        Ok(raised)
    }

    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT seq, object FROM checkpoints
                 WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3",
            )?
            .query_row(params![key.session, key.incarnation, key.mirror], |r| {
                Ok(Checkpoint {
                    seq: get_u64(r, 0)?,
                    object: r.get(1)?,
                })
            })
            .optional()
        })
    }

    async fn get_tombstone(&self, id: &str) -> StorageResult<Tombstone> {
        self.read(|c| records::get_tombstone(c, id))?
            .ok_or_else(|| StorageError::NotFound(format!("tombstone of session {id}")))
    }

    async fn prune_tombstones(&self, before_ms: i64) -> StorageResult<u64> {
        self.write(
            || "tombstones".into(),
            |c| records::prune_tombstones(c, before_ms),
        )
    }

    async fn create_snapshot(&self, row: &SnapshotRow) -> StorageResult<()> {
        self.write(
            || format!("snapshot {} in {}", row.id, row.workspace),
            |c| records::create_snapshot(c, row),
        )
    }

    async fn get_snapshot(&self, workspace: &str, id: &str) -> StorageResult<SnapshotRow> {
        self.read(|c| records::get_snapshot(c, workspace, id))?
            .ok_or_else(|| StorageError::NotFound(format!("snapshot {id} in {workspace}")))
    }

    async fn list_snapshots(
        &self,
        workspace: &str,
        query: &SnapshotQuery,
    ) -> StorageResult<Vec<SnapshotRow>> {
        self.read(|c| records::list_snapshots(c, workspace, query))
    }

    async fn delete_snapshot(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        self.write(
            || format!("snapshot {id}"),
            |c| records::delete_snapshot(c, workspace, id),
        )
    }

    async fn schedule_due(
        &self,
        session_id: &str,
        incarnation: &str,
        mirror: &str,
        due_at_ms: i64,
    ) -> StorageResult<bool> {
        self.write_beside_sessions(
            || format!("due work of {session_id}/{mirror}"),
            |c| due::schedule(c, session_id, incarnation, mirror, due_at_ms),
        )?
        .ok_or_else(|| {
            StorageError::NotFound(format!("session {session_id} incarnation {incarnation}"))
        })
    }

    async fn reschedule_due(
        &self,
        session_id: &str,
        mirror: &str,
        seen_due_at_ms: i64,
        next: Option<i64>,
    ) -> StorageResult<bool> {
        self.write_beside_sessions(
            || format!("due work of {session_id}/{mirror}"),
            |c| due::reschedule(c, session_id, mirror, seen_due_at_ms, next),
        )
    }

    async fn due_before(&self, now_ms: i64, limit: usize) -> StorageResult<Vec<DueWork>> {
        self.read(|c| due::due_before(c, now_ms, limit))
    }

    async fn next_due(&self) -> StorageResult<Option<i64>> {
        self.read(due::next_due)
    }

    /// Empties the connection's page cache; the file (and the OS's cache of
    /// it) still holds every page, so the next reads only cost a copy.
    fn release_memory(&self) {
        if let Err(e) = lock(&self.conn).release_memory() {
            tracing::debug!(error = %e, "sqlite release_memory failed");
        }
    }

    async fn usage(&self, workspace: &str, period: &str) -> StorageResult<Vec<(String, u64)>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT mode, minutes FROM usage WHERE workspace = ?1 AND period = ?2 ORDER BY mode",
            )?
            .query_map([workspace, period], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?
            .collect()
        })
    }
}
