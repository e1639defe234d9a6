//! The session table and the per-(session, mirror) commit log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// The credentials that name this session (a request that carries one is
    /// routed to it), as digests. `create_session` indexes them; they are fixed
    /// for the row's life (`put_session` keeps the stored ones). Read back
    /// sorted.
    pub credentials: Vec<CredentialKey>,
}

/// A credential that names a session, as the session table keeps it: the
/// SHA-256 (hex) of the mirror's name and the credential, never the credential
/// itself. The mirror is part of it, so one vendor's key never names another
/// vendor's mirror.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CredentialKey(String);

impl CredentialKey {
    pub fn new(mirror: &str, credential: &str) -> Self {
        let mut h = Sha256::new();
        h.update(mirror.as_bytes());
        // Mirror names never hold a NUL, so (mirror, credential) pairs never collide.
        h.update([0]);
        h.update(credential.as_bytes());
        CredentialKey(hex::encode(h.finalize()))
    }

    /// 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest a backend stored (from [`as_str`](Self::as_str)).
    pub(crate) fn from_stored(digest: String) -> Self {
        CredentialKey(digest)
    }
}

/// What a credential names: the live row it was indexed for, or that row's
/// tombstone once it ended (so its key answers "gone", as its URL does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialOwner {
    Live(SessionRow),
    Ended(Tombstone),
}

/// What is left of an ended session, so its URLs answer "gone" (410) with the
/// reason instead of "no such session" (404). Kept at least a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: String,
    /// The ended row's incarnation.
    pub incarnation: String,
    pub workspace: String,
    pub name: Option<String>,
    /// Unix milliseconds.
    pub ended_at_ms: i64,
    /// `expired` or `ended`.
    pub reason: String,
}

/// One saved snapshot: which session *incarnation* took it (a reused id never
/// sees it) and whether it outlives that session. `body` is the snapshot's
/// JSON, opaque to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    /// `snap_…`; ids sort by creation time, so newest first is id descending.
    pub id: String,
    pub workspace: String,
    pub session: String,
    pub incarnation: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Kept after its session ends (persistent sessions, `--keep`).
    pub keep: bool,
    pub body: String,
}

/// A page of a workspace's snapshots, newest (greatest id) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotQuery {
    /// Only those taken by this (session id, incarnation).
    pub session: Option<(String, String)>,
    /// Only ids below this one: the page after the snapshot with this id.
    pub before: Option<String>,
    pub limit: usize,
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

/// One entry of the due-work index: this (session incarnation, mirror) has
/// work (a delivery, a retry, a timed transition) due at `due_at_ms`. The
/// work itself is rows in the mirror's own state; the entry only says when to
/// look, so a dispatcher finds it without opening every session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DueWork {
    pub session_id: String,
    /// The row the entry was scheduled for: a caller tells an entry of an
    /// ended incarnation from the live row's by it.
    pub incarnation: String,
    pub mirror: String,
    /// Unix milliseconds.
    pub due_at_ms: i64,
}

/// Minutes one ended session is billed in one calendar month, added to its
/// workspace's counter for that month and mode when its row is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCharge {
    /// `YYYY-MM` (UTC).
    pub period: String,
    /// `ephemeral` or `persistent`.
    pub mode: String,
    pub minutes: u64,
}

/// Session rows, the commit log, the due-work index and usage counters
/// (SQLite, DynamoDB).
///
/// Contract (checked by [`conformance::session_table`](super::conformance::session_table)):
/// * `create_session` is a conditional create: it fails with `AlreadyExists` when a
///   row with the same `id` exists, or one in the same workspace has the same
///   `name`, or one of its `credentials` is indexed already (for a live row or
///   a kept tombstone); of concurrent creates of one id, name or credential
///   exactly one succeeds. The row and its credential index are stored in one
///   atomic step: a refused create indexes nothing.
/// * `get_session` / `find_session` of a missing row fail with `NotFound`.
/// * `put_session` replaces an existing row (same id and incarnation) and fails
///   with `NotFound` when there is none; it never creates. It keeps the row's
///   stored credentials, whatever `row.credentials` holds.
/// * `end_session(id, incarnation, tombstone, charges)` removes that row with
///   its logs and checkpoints, stores `tombstone` (when given) and adds
///   `charges` to the row's workspace's usage counters in the same atomic
///   step, and returns `true`; when no row has that id and incarnation it
///   changes nothing and returns `false`. In the same step its credentials stop
///   naming a live row: with a tombstone they name that tombstone from then
///   on, without one they are removed. Of concurrent deletes exactly one
///   returns `true`, so only one caller bills the session. The row goes first:
///   a backend that cannot delete everything atomically may leave log items of
///   the dead incarnation behind after a failure; nothing can append to or
///   read them as a live log again, they only cost storage.
/// * `list_sessions(workspace, after, limit)` returns up to `limit` of the
///   workspace's rows with ids above `after` (all with `None`), ordered by id.
///   `count_live_sessions(workspace, now, enough)` counts the workspace's
///   rows without `expires_at` or with `expires_at > now`; it may stop
///   counting once it has `enough`, so it returns the exact count or a number
///   between `enough` and it.
///   `expired_sessions` returns rows (any workspace) with `expires_at <= now`.
/// * `get_tombstone(id)` returns the newest tombstone stored for `id`, or
///   `NotFound`; a live row with that id does not hide it (callers look at
///   rows first). `prune_tombstones(before_ms)` deletes tombstones that ended
///   before `before_ms`, now or later (a backend may leave it to its own item
///   expiry and return 0), with the credentials that named them; it never
///   touches younger ones.
/// * `find_credential(c)` returns `Live(row)` while the row `c` was indexed for
///   exists (same id *and* incarnation), else `Ended(tombstone)` while that
///   incarnation's tombstone is the id's newest one, else `NotFound`. So an
///   ended session's credential never reaches a live row, nor does a reused
///   id's new row answer to the previous incarnation's credentials.
/// * `create_snapshot` is a conditional create (`AlreadyExists` for a taken id
///   in the workspace); `get_snapshot` / `delete_snapshot` address one by
///   (workspace, id): `NotFound` / `false` when there is none.
///   `list_snapshots` returns up to `limit` rows of the workspace matching the
///   query, ordered by id descending. Snapshots are independent of sessions:
///   deleting a session row leaves them.
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
///   `read_log_page(key, after, limit)` reads the same entries a page at a
///   time: the first of them, at least one when there is any and at most
///   `limit` (a background reader walks a long log without holding the
///   backend for all of it).
/// * `set_checkpoint` records a checkpoint when its `seq` is above the current one
///   (no checkpoint counts as 0, so seq 0 is never recorded) and returns `true`,
///   else changes nothing (`false`); `NotFound` when the row is gone. `seq` may
///   lie above the last stored entry. From then on appends at or below `seq` fail
///   with `AlreadyExists`, and entries below `seq` may be deleted, at once or
///   later. `checkpoint` returns the newest one, or `None` (also for a missing
///   row).
/// * The due-work index holds at most one entry per (session id, mirror), for
///   the row's incarnation. `schedule_due(id, incarnation, mirror, t)` is a
///   min merge: it stores `t` when there is no entry, or the entry is later
///   than `t` (or of another incarnation), and returns `true`; else it keeps
///   the entry and returns `false`. Of concurrent calls the earliest time
///   wins, whatever their order. It needs the row (id *and* incarnation) —
///   else `NotFound`, and nothing is stored — and, like `append_log`, a
///   schedule racing `delete_session` either lands before the delete (and is
///   dropped with the row) or fails with `NotFound`.
/// * `reschedule_due(id, mirror, seen, next)` is a compare-and-set for the
///   dispatcher that did what was due at `seen`: when the stored entry is
///   still at `seen` it becomes `next` (or is deleted, for `None`) and the
///   call returns `true`; any other entry (someone scheduled earlier work
///   meanwhile), or none, is left as it is and the call returns `false`. A
///   schedule merged into an entry at `seen` leaves it at `seen`, so a caller
///   that computed `next` from state read before this call must read the
///   state again after it and `schedule_due` what it finds (the min merge
///   makes that harmless), or a write landing in between goes unindexed.
/// * `due_before(now_ms, limit)` returns up to `limit` entries due at or
///   before `now_ms`, earliest first (ties in any order): the first of the
///   whole index, not just some of them. `next_due` returns the earliest
///   `due_at_ms` of any entry, or `None` when there is none, so a dispatcher
///   sleeps until then. Both may trail a write by a moment on a backend whose
///   index is eventually consistent (DynamoDB's); a dispatcher re-checks an
///   entry (`reschedule_due` is strongly consistent) and the mirror's own
///   state before it acts.
/// * `delete_session` drops the row's due-work entries: in the same atomic
///   step, or (a backend that cannot) right after the row, like its log. An
///   entry a failure leaves behind names the dead incarnation, which no new
///   row has; the next `schedule_due` of that (id, mirror) replaces it.
/// * `usage(workspace, period)` returns the `(mode, minutes)` counters the
///   workspace's ended sessions were charged for that period, sorted by mode
///   (none: empty).
#[async_trait]
pub trait SessionTable: Send + Sync + 'static {
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn get_session(&self, id: &str) -> StorageResult<SessionRow>;
    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow>;
    async fn put_session(&self, row: &SessionRow) -> StorageResult<()>;
    async fn end_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
        charges: &[UsageCharge],
    ) -> StorageResult<bool>;
    async fn delete_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
    ) -> StorageResult<bool> {
        self.end_session(id, incarnation, tombstone, &[]).await
    }
    async fn list_sessions(
        &self,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<SessionRow>>;
    async fn count_live_sessions(
        &self,
        workspace: &str,
        now: i64,
        enough: usize,
    ) -> StorageResult<usize> {
        let page = 1000;
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let rows = self
                .list_sessions(workspace, after.as_deref(), page)
                .await?;
            n += rows
                .iter()
                .filter(|r| r.expires_at.is_none_or(|t| t > now))
                .count();
            match rows.last() {
                Some(last) if rows.len() == page && n < enough => after = Some(last.id.clone()),
                _ => return Ok(n),
            }
        }
    }
    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>>;
    async fn find_credential(&self, credential: &CredentialKey) -> StorageResult<CredentialOwner>;

    async fn get_tombstone(&self, id: &str) -> StorageResult<Tombstone>;
    async fn prune_tombstones(&self, before_ms: i64) -> StorageResult<u64>;

    async fn create_snapshot(&self, row: &SnapshotRow) -> StorageResult<()>;
    async fn get_snapshot(&self, workspace: &str, id: &str) -> StorageResult<SnapshotRow>;
    async fn list_snapshots(
        &self,
        workspace: &str,
        query: &SnapshotQuery,
    ) -> StorageResult<Vec<SnapshotRow>>;
    async fn delete_snapshot(&self, workspace: &str, id: &str) -> StorageResult<bool>;

    async fn append_log(&self, key: &LogKey, seq: u64, entry: &[u8]) -> StorageResult<()>;
    async fn read_log(&self, key: &LogKey, after: u64) -> StorageResult<Vec<LogRecord>>;
    async fn read_log_page(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<LogRecord>> {
        let mut records = self.read_log(key, after).await?;
        records.truncate(limit.max(1));
        Ok(records)
    }
    async fn set_checkpoint(&self, key: &LogKey, checkpoint: &Checkpoint) -> StorageResult<bool>;
    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>>;

    async fn schedule_due(
        &self,
        session_id: &str,
        incarnation: &str,
        mirror: &str,
        due_at_ms: i64,
    ) -> StorageResult<bool>;
    async fn reschedule_due(
        &self,
        session_id: &str,
        mirror: &str,
        seen_due_at_ms: i64,
        next: Option<i64>,
    ) -> StorageResult<bool>;
    async fn due_before(&self, now_ms: i64, limit: usize) -> StorageResult<Vec<DueWork>>;
    async fn next_due(&self) -> StorageResult<Option<i64>>;

    async fn usage(&self, workspace: &str, period: &str) -> StorageResult<Vec<(String, u64)>>;

    /// Drops in-process caches that are rebuilt on demand (SQLite's page
    /// cache), so a server whose sessions ended can shrink. Best effort.
    fn release_memory(&self) {}

    /// Whether appends are network round trips that other instances race
    /// for (a table every instance shares, such as DynamoDB). The engine then
    /// hands a mirror's lock over without yielding: an instance whose writes
    /// follow each other with no gap at all wins every race against one that
    /// must read the log before appending, which then gives up (`Contention`).
    fn raced_over_network(&self) -> bool {
        false
    }
}
