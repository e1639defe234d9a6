//! A [`SessionTable`] that makes the commit log's lost-race path happen on
//! purpose. In-process instances over the SQLite table never race: the table's
//! calls finish without yielding, so one instance's read-then-append cannot
//! interleave with another's. This wrapper forces the interleaving (or a loss)
//! and counts what happened, so a test can prove the retry path ran.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shared::storage::{
    Checkpoint, CredentialKey, CredentialOwner, DueWork, LogKey, LogRecord, SessionRow,
    SessionTable, SnapshotQuery, SnapshotRow, StorageError, StorageResult, Tombstone, UsageCharge,
};

/// Delegates to `inner`, except for `append_log`:
/// * the first two appends meet at a barrier before either goes through, so two
///   engines are certain to race for the same sequence number (one append per
///   engine can be in flight: the engine holds its per-mirror lock across it);
/// * every append yields first, which lets more races happen on a
///   multi-thread runtime;
/// * while `always_lose` is set, every append fails with `AlreadyExists`, as if
///   another writer won every race.
pub struct RacingTable {
    inner: Arc<dyn SessionTable>,
    appends: AtomicUsize,
    lost: AtomicUsize,
    always_lose: AtomicBool,
    first_pair: tokio::sync::Barrier,
    /// The next `end_session` fails: 1 before it reaches the table, 2 after
    /// it committed (a reply lost on the way back); 0 none.
    end_failure: AtomicUsize,
    /// What `raced_over_network` answers (the SQLite table's `false` unless set).
    networked: AtomicBool,
}

impl RacingTable {
    pub fn new(inner: Arc<dyn SessionTable>) -> Self {
        RacingTable {
            inner,
            appends: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            always_lose: AtomicBool::new(false),
            first_pair: tokio::sync::Barrier::new(2),
            end_failure: AtomicUsize::new(0),
            networked: AtomicBool::new(false),
        }
    }

    /// Poses as a networked table that other instances race for.
    pub fn set_raced_over_network(&self, on: bool) {
        self.networked.store(on, Ordering::SeqCst);
    }

    /// The next `end_session` fails, before the table saw it (`committed`
    /// false) or after it committed (true), as a crash or a lost reply would.
    pub fn fail_next_end(&self, committed: bool) {
        self.end_failure
            .store(if committed { 2 } else { 1 }, Ordering::SeqCst);
    }

    /// Appends that failed with `AlreadyExists` (each one is a retry by the engine).
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }

    /// Every append attempted so far.
    pub fn appends(&self) -> usize {
        self.appends.load(Ordering::SeqCst)
    }

    pub fn set_always_lose(&self, on: bool) {
        self.always_lose.store(on, Ordering::SeqCst);
    }
}

#[async_trait]
impl SessionTable for RacingTable {
    fn raced_over_network(&self) -> bool {
        self.networked.load(Ordering::SeqCst)
    }
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()> {
        self.inner.create_session(row).await
    }
    async fn get_session(&self, id: &str) -> StorageResult<SessionRow> {
        self.inner.get_session(id).await
    }
    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow> {
        self.inner.find_session(workspace, name).await
    }
    async fn put_session(&self, row: &SessionRow) -> StorageResult<()> {
        self.inner.put_session(row).await
    }
    async fn end_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
        charges: &[UsageCharge],
    ) -> StorageResult<bool> {
        let lost = || StorageError::Backend("connection lost".into());
        match self.end_failure.swap(0, Ordering::SeqCst) {
            1 => Err(lost()),
            2 => {
                self.inner
                    .end_session(id, incarnation, tombstone, charges)
                    .await?;
                Err(lost())
            }
            _ => {
                self.inner
                    .end_session(id, incarnation, tombstone, charges)
                    .await
            }
        }
    }
    async fn list_sessions(
        &self,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<SessionRow>> {
        self.inner.list_sessions(workspace, after, limit).await
    }
    async fn get_tombstone(&self, id: &str) -> StorageResult<Tombstone> {
        self.inner.get_tombstone(id).await
    }
    async fn prune_tombstones(&self, before_ms: i64) -> StorageResult<u64> {
        self.inner.prune_tombstones(before_ms).await
    }
    async fn create_snapshot(&self, row: &SnapshotRow) -> StorageResult<()> {
        self.inner.create_snapshot(row).await
    }
    async fn get_snapshot(&self, workspace: &str, id: &str) -> StorageResult<SnapshotRow> {
        self.inner.get_snapshot(workspace, id).await
    }
    async fn list_snapshots(
        &self,
        workspace: &str,
        query: &SnapshotQuery,
    ) -> StorageResult<Vec<SnapshotRow>> {
        self.inner.list_snapshots(workspace, query).await
    }
    async fn delete_snapshot(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        self.inner.delete_snapshot(workspace, id).await
    }
    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        self.inner.expired_sessions(now).await
    }
    async fn find_credential(&self, credential: &CredentialKey) -> StorageResult<CredentialOwner> {
        self.inner.find_credential(credential).await
    }

    async fn append_log(&self, key: &LogKey, seq: u64, entry: &[u8]) -> StorageResult<()> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst);
        if self.always_lose.load(Ordering::SeqCst) {
            self.lost.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::AlreadyExists(format!(
                "log entry {seq} (another writer, by design)"
            )));
        }
        if n < 2 {
            // Bounded, so a broken test fails on its assertions instead of hanging.
            let _ = tokio::time::timeout(Duration::from_secs(10), self.first_pair.wait()).await;
        }
        tokio::task::yield_now().await;
        let result = self.inner.append_log(key, seq, entry).await;
        if matches!(result, Err(StorageError::AlreadyExists(_))) {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
    async fn read_log(&self, key: &LogKey, after: u64) -> StorageResult<Vec<LogRecord>> {
        self.inner.read_log(key, after).await
    }
    async fn set_checkpoint(&self, key: &LogKey, checkpoint: &Checkpoint) -> StorageResult<bool> {
        self.inner.set_checkpoint(key, checkpoint).await
    }
    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>> {
        self.inner.checkpoint(key).await
    }

    async fn schedule_due(
        &self,
        session_id: &str,
        incarnation: &str,
        mirror: &str,
        due_at_ms: i64,
    ) -> StorageResult<bool> {
        self.inner
            .schedule_due(session_id, incarnation, mirror, due_at_ms)
            .await
    }
    async fn reschedule_due(
        &self,
        session_id: &str,
        mirror: &str,
        seen_due_at_ms: i64,
        next: Option<i64>,
    ) -> StorageResult<bool> {
        self.inner
            .reschedule_due(session_id, mirror, seen_due_at_ms, next)
            .await
    }
    async fn due_before(&self, now_ms: i64, limit: usize) -> StorageResult<Vec<DueWork>> {
        self.inner.due_before(now_ms, limit).await
    }
    async fn next_due(&self) -> StorageResult<Option<i64>> {
        self.inner.next_due().await
    }

    async fn usage(&self, workspace: &str, period: &str) -> StorageResult<Vec<(String, u64)>> {
        self.inner.usage(workspace, period).await
    }
}
