//! The session table and the per-(session, mirror) commit log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageResult;

/// One session as the table stores it. The table indexes the first fields; `body`
/// is the session's full JSON, opaque to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub workspace: String,
    /// Unique per workspace among stored sessions when set.
    pub name: Option<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub body: String,
}

/// One commit log entry: `seq` counts from 1 per (session, mirror) without gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub entry: Vec<u8>,
}

/// Session rows, the commit log and usage counters (SQLite, DynamoDB).
///
/// Contract (checked by [`conformance::session_table`](super::conformance::session_table)):
/// * `create_session` is a conditional create: it fails with `AlreadyExists` when a
///   row with the same `id` exists, or one in the same workspace has the same
///   `name`; of concurrent creates of one id or name exactly one succeeds.
/// * `get_session` / `find_session` of a missing row fail with `NotFound`.
/// * `put_session` replaces an existing row (same id) and fails with `NotFound`
///   when there is none; it never creates.
/// * `delete_session` removes the row and every log entry of the session; a
///   missing row is not an error.
/// * `list_sessions` returns the workspace's rows ordered by id; `expired_sessions`
///   returns rows (any workspace) with `expires_at <= now`.
/// * `append_log` is the commit point: it stores entry `seq` only when that
///   (session, mirror, seq) does not exist and fails with `AlreadyExists` otherwise;
///   once it returns `Ok` the entry survives a crash. Of concurrent appends of
///   one seq exactly one succeeds.
/// * `read_log` returns the entries with `seq > after`, ascending.
/// * `trim_log` deletes entries with `seq <= upto` (after compaction).
/// * `add_usage` adds atomically; `usage` returns `(mode, minutes)` pairs, sorted.
#[async_trait]
pub trait SessionTable: Send + Sync + 'static {
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn get_session(&self, id: &str) -> StorageResult<SessionRow>;
    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow>;
    async fn put_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn delete_session(&self, id: &str) -> StorageResult<()>;
    async fn list_sessions(&self, workspace: &str) -> StorageResult<Vec<SessionRow>>;
    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>>;

    async fn append_log(
        &self,
        session: &str,
        mirror: &str,
        seq: u64,
        entry: &[u8],
    ) -> StorageResult<()>;
    async fn read_log(
        &self,
        session: &str,
        mirror: &str,
        after: u64,
    ) -> StorageResult<Vec<LogRecord>>;
    async fn trim_log(&self, session: &str, mirror: &str, upto: u64) -> StorageResult<()>;

    async fn add_usage(&self, workspace: &str, mode: &str, minutes: u64) -> StorageResult<()>;
    async fn usage(&self, workspace: &str) -> StorageResult<Vec<(String, u64)>>;
}
