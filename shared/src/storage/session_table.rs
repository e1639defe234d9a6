//! The session table and the per-(session, mirror) commit log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageResult;

/// One session as the table stores it. The table indexes the first fields; `body`
/// is the session's full JSON, opaque to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    /// Random per row: a session id may be reused once its row is gone, and the
    /// incarnation tells the new session's log from anything left of the old one.
    pub incarnation: String,
    pub workspace: String,
    /// Unique per workspace among stored sessions when set.
    pub name: Option<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub body: String,
}

/// Names one commit log: one mirror of one session row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogKey {
    pub session: String,
    pub incarnation: String,
    pub mirror: String,
}

/// One commit log entry: `seq` counts from 1 per log without gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub entry: Vec<u8>,
}

/// The mirror's state after log entry `seq` is saved in the object `object`; a
/// cold load starts there instead of replaying the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub object: String,
}

/// Session rows, the commit log and usage counters (SQLite, DynamoDB).
///
/// Contract (checked by [`conformance::session_table`](super::conformance::session_table)):
/// * `create_session` is a conditional create: it fails with `AlreadyExists` when a
///   row with the same `id` exists, or one in the same workspace has the same
///   `name`; of concurrent creates of one id or name exactly one succeeds.
/// * `get_session` / `find_session` of a missing row fail with `NotFound`.
/// * `put_session` replaces an existing row (same id and incarnation) and fails
///   with `NotFound` when there is none; it never creates.
/// * `delete_session(id, incarnation)` removes that row with its logs and
///   checkpoints and returns `true`; when no row has that id and incarnation it
///   changes nothing and returns `false`. Of concurrent deletes exactly one
///   returns `true`, so only one caller bills the session. The row goes first:
///   a backend that cannot delete everything atomically may leave log items of
///   the dead incarnation behind after a failure; nothing can append to or
///   read them as a live log again, they only cost storage.
/// * `list_sessions` returns the workspace's rows ordered by id; `expired_sessions`
///   returns rows (any workspace) with `expires_at <= now`.
/// * `append_log` is the commit point. It stores entry `seq` only when the row
///   named by the key (id *and* incarnation) exists — else `NotFound`, which
///   wins over every other reason — and `seq` is above the log's checkpoint and
///   not yet taken — else `AlreadyExists`. Once
///   it returns `Ok` the entry survives a crash. Of concurrent appends of one seq
///   exactly one succeeds; an append racing `delete_session` either lands before
///   the delete (and is deleted with the row) or fails with `NotFound`.
/// * `read_log` returns the stored entries with `seq > after`, ascending. Entries
///   below the checkpoint may be gone; the checkpoint's own entry is kept. A log
///   with no entries (new, or of a missing row) reads as empty, not `NotFound`.
/// * `set_checkpoint` records a checkpoint when its `seq` is above the current one
///   (no checkpoint counts as 0, so seq 0 is never recorded) and returns `true`,
///   else changes nothing (`false`); `NotFound` when the row is gone. `seq` may
///   lie above the last stored entry. From then on appends at or below `seq` fail
///   with `AlreadyExists`, and entries below `seq` may be deleted, at once or
///   later. `checkpoint` returns the newest one, or `None` (also for a missing
///   row).
/// * `add_usage` adds atomically; `usage` returns `(mode, minutes)` pairs, sorted.
#[async_trait]
pub trait SessionTable: Send + Sync + 'static {
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn get_session(&self, id: &str) -> StorageResult<SessionRow>;
    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow>;
    async fn put_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn delete_session(&self, id: &str, incarnation: &str) -> StorageResult<bool>;
    async fn list_sessions(&self, workspace: &str) -> StorageResult<Vec<SessionRow>>;
    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>>;

    async fn append_log(&self, key: &LogKey, seq: u64, entry: &[u8]) -> StorageResult<()>;
    async fn read_log(&self, key: &LogKey, after: u64) -> StorageResult<Vec<LogRecord>>;
    async fn set_checkpoint(&self, key: &LogKey, checkpoint: &Checkpoint) -> StorageResult<bool>;
    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>>;

    async fn add_usage(&self, workspace: &str, mode: &str, minutes: u64) -> StorageResult<()>;
    async fn usage(&self, workspace: &str) -> StorageResult<Vec<(String, u64)>>;
}
