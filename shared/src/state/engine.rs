//! Working copies: one in-memory SQLite database per (session, mirror) in this
//! process, made current from image + commit log before every request.
//!
//! A write runs the handler in a transaction, drains the captured change set and
//! commits it by conditionally creating log entry `head + 1`; only then does the
//! SQLite transaction commit and the caller respond. Losing that race means
//! another instance wrote first: roll back, catch up, run again.
//!
//! Once a cold load would replay `compact_every` entries and the state's
//! size in log bytes, the writer starts a checkpoint (`compact`: built off the
//! lock, stored as an object and recorded in the table); older entries may then
//! be deleted, and a cold load starts from the newest checkpoint, so its cost
//! stays flat as history grows.
//!
//! Working copies are a cache within a byte budget (`copies`): after every
//! request, the least recently used copies beyond it are frozen (compressed,
//! `frozen`) within a second budget, or dropped past it, to be thawed or
//! rebuilt from checkpoint or image + log on their next use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::Connection;

use super::compact::{checkpoint_prefix, checkpoint_prefix_under, Compactor};
use super::copies::{Copies, Slot, Working};
use super::images::{self, Images};
use super::{changes, LogEntry, StateError, StateResult};
use crate::storage::{LogKey, LogRecord, ObjectStore, SessionTable, StorageError};

/// How many times a write re-runs after losing the race for the next log entry.
const MAX_ATTEMPTS: usize = 32;

/// How long after meeting another instance's write a copy's writes read the
/// log first again, instead of trying an append on the copy as it stands.
const FOREIGN_QUIET: Duration = Duration::from_secs(1);

/// Default number of log entries between checkpoints.
pub const DEFAULT_COMPACT_EVERY: u64 = 1000;

/// Default share of the state's size that the log must reach before a checkpoint.
pub const DEFAULT_COMPACT_LOG_FRACTION: f64 = 1.0;

/// Names one mirror database of one session: its commit log, plus where a cold
/// load starts when the log holds no reset, restore or checkpoint.
#[derive(Debug, Clone)]
pub struct MirrorKey {
    pub log: LogKey,
    /// Object key of the image the session was created from.
    pub base: String,
    /// The session is ephemeral: its objects go under
    /// [`EPHEMERAL_PREFIX`](super::EPHEMERAL_PREFIX).
    pub ephemeral: bool,
}

impl PartialEq for MirrorKey {
    fn eq(&self, other: &Self) -> bool {
        self.log == other.log
    }
}

impl Eq for MirrorKey {}

impl std::hash::Hash for MirrorKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.log.hash(state);
    }
}

pub struct StateEngine {
    table: Arc<dyn SessionTable>,
    store: Arc<dyn ObjectStore>,
    images: Arc<Images>,
    copies: Copies,
    compact_every: u64,
    compact_log_fraction: f64,
    /// Checkpoint builds still running, one per log at most.
    pending: Mutex<HashMap<LogKey, tokio::task::JoinHandle<()>>>,
    /// Yield after handing a mirror's lock to a waiting request (see
    /// [`SessionTable::raced_over_network`]).
    hand_over: bool,
}

impl StateEngine {
    pub fn new(table: Arc<dyn SessionTable>, store: Arc<dyn ObjectStore>) -> Self {
        StateEngine {
            hand_over: !table.raced_over_network(),
            table,
            images: Arc::new(Images::new(store.clone())),
            store,
            copies: Copies::new(super::copies::DEFAULT_CACHE_BYTES),
            compact_every: DEFAULT_COMPACT_EVERY,
            compact_log_fraction: DEFAULT_COMPACT_LOG_FRACTION,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Checkpoint after at least `n` log entries (0 turns compaction off) …
    pub fn set_compact_every(&mut self, n: u64) {
        self.compact_every = n;
    }

    /// … and at least `fraction` × the state's size in log bytes (0: entries only).
    pub fn set_compact_log_fraction(&mut self, fraction: f64) {
        self.compact_log_fraction = fraction.max(0.0);
    }

    /// Keep working copies within `bytes` (see [`DEFAULT_CACHE_BYTES`]); the
    /// least recently used beyond it are dropped and rebuilt on their next use.
    ///
    /// [`DEFAULT_CACHE_BYTES`]: super::DEFAULT_CACHE_BYTES
    pub fn set_cache_bytes(&mut self, bytes: u64) {
        self.copies.set_budget(bytes);
    }

    pub fn cache_bytes(&self) -> u64 {
        self.copies.budget()
    }

    /// What this process's working copies weigh together (page count × page size).
    pub fn resident_bytes(&self) -> u64 {
        self.copies.resident_bytes()
    }

    /// How many working copies this process holds.
    pub fn resident_copies(&self) -> u64 {
        self.copies.resident_copies()
    }

    pub fn images(&self) -> &Arc<Images> {
        &self.images
    }

    /// Runs a read-only `f` against the current state. Never writes the log.
    pub async fn read<R, E>(
        &self,
        key: &MirrorKey,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StateError>,
    {
        self.locked(key, async |slot| match self.current(slot, key).await {
            Ok(w) => f(&w.conn),
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// Runs `f` in a transaction and commits what it changed as one log entry.
    /// `f` may run more than once (after losing a race); it must not have side
    /// effects outside the connection. An `Err` from `f` rolls back and is returned.
    pub async fn write<R, E>(
        &self,
        key: &MirrorKey,
        f: impl FnMut(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StateError>,
    {
        self.locked(key, async |slot| self.write_locked(slot, key, f).await)
            .await
    }

    /// Runs `f` with the key's working copy locked, then trims the copies to
    /// their budget — after unlocking, so this one may be evicted too.
    async fn locked<T>(&self, key: &MirrorKey, f: impl AsyncFnOnce(&mut Slot) -> T) -> T {
        let out = {
            let slot = self.copies.slot(key);
            let mut guard = slot.lock().await;
            let out = f(&mut guard).await;
            drop(guard);
            // The lock is fair: if a request was waiting, the release handed it
            // the lock (and `try_lock` fails). Tokio runs a task woken by the
            // running one next on the same thread, but only once that one
            // yields: without this, the next holder would wait while this
            // request renders, records and sends its reply, and the mirror's
            // lock would sit idle a third of the time under load (one session,
            // 16 connections: +15–20 % creates per second with the yield).
            // Not over a networked table that other instances race for: there
            // the lock is held for round trips anyway, and writes with no gap
            // between them would starve the other instances' writes.
            if self.hand_over && slot.try_lock().is_err() {
                tokio::task::yield_now().await;
            }
            out
        };
        self.copies.trim();
        out
    }

    async fn write_locked<R, E>(
        &self,
        guard: &mut Slot,
        key: &MirrorKey,
        mut f: impl FnMut(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StateError>,
    {
        for attempt in 0..MAX_ATTEMPTS {
            // The first attempt runs on a resident copy as it stands, without
            // asking the log whether another instance wrote meanwhile (a read
            // of the table per write, ~7 % of a create): appending `head + 1`
            // fails if one did, and a write that changed nothing asks before it
            // answers. Either way it rolls back, catches up and runs again.
            // Not while another instance has written lately: its writes would
            // win each race this one's (one round trip shorter) and starve it.
            let optimistic = attempt == 0
                && guard
                    .db
                    .as_ref()
                    .is_some_and(|w| w.foreign_at.is_none_or(|t| t.elapsed() >= FOREIGN_QUIET));
            let w = if optimistic {
                guard.touch();
                match guard.db.as_mut() {
                    Some(w) => w,
                    None => return Err(StateError::Corrupt("working copy vanished".into()).into()),
                }
            } else {
                self.current(guard, key).await?
            };
            transaction(&w.conn, "BEGIN").map_err(StateError::from)?;
            let outcome = f(&w.conn);
            let value = match outcome {
                Ok(v) => v,
                Err(e) => {
                    rollback(guard);
                    return Err(e);
                }
            };
            let Some(w) = guard.db.as_mut() else {
                return Err(StateError::Corrupt("working copy vanished".into()).into());
            };
            let drained = changes::drain_entry(&w.conn, &mut w.readers);
            let entry = match drained {
                Ok(Some(entry)) => LogEntry::pack_changes(entry),
                Ok(None) => {
                    if optimistic {
                        let head = w.head;
                        match self.table.read_log(&key.log, head).await {
                            Ok(newer) if newer.is_empty() => {}
                            Ok(_) => {
                                rollback(guard);
                                continue;
                            }
                            Err(e) => {
                                rollback(guard);
                                return Err(StateError::from(e).into());
                            }
                        }
                    }
                    commit(guard);
                    return Ok(value);
                }
                Err(e) => {
                    rollback(guard);
                    return Err(e.into());
                }
            };
            let next = w.head + 1;
            match self.table.append_log(&key.log, next, &entry).await {
                Ok(()) => {
                    if let Some(w) = guard.db.as_mut() {
                        w.logged(next, LogEntry::json_len(&entry));
                    }
                    // The entry is durable: even if COMMIT failed, the next
                    // request would rebuild from the log, so the write stands.
                    commit(guard);
                    if let Some(w) = guard.db.as_mut() {
                        w.reweigh_if_due();
                        if w.outgrown() {
                            // Once per copy: a serialize and a deserialize.
                            match images::serialize(&w.conn).and_then(|b| images::open_copy(&b)) {
                                Ok(conn) => w.reopened(conn),
                                Err(e) => {
                                    tracing::warn!(error = %e, "moving a grown working copy failed; it stays as it is")
                                }
                            }
                        }
                        w.trim_page_cache();
                    }
                    self.maybe_compact(guard, key);
                    return Ok(value);
                }
                Err(StorageError::AlreadyExists(_)) => {
                    rollback(guard);
                    if let Some(w) = guard.db.as_mut() {
                        w.foreign_at = Some(Instant::now());
                    }
                    continue;
                }
                Err(e) => {
                    rollback(guard);
                    return Err(StateError::from(e).into());
                }
            }
        }
        Err(contention(key).into())
    }

    /// Replaces the whole database with the bytes of `entry`'s object (a reset to
    /// an image or a restore of a snapshot), as a log entry every instance applies.
    ///
    /// A restore logs a copy of the snapshot that the session owns (beside its
    /// checkpoints, named for the entry's seq), not the snapshot itself: a
    /// snapshot may be deleted while sessions restored from it live on, and
    /// their cold loads must still find the bytes. Checkpoint cleanup drops the
    /// copy once a later checkpoint makes it unreachable; ending the session
    /// drops the rest.
    pub async fn replace(&self, key: &MirrorKey, entry: LogEntry) -> StateResult<()> {
        let object = entry
            .replacement()
            .ok_or_else(|| StateError::Corrupt("replace needs a reset or restore entry".into()))?
            .to_string();
        // Fetch first: a missing object must fail before anything is logged.
        let bytes = self.fetch(&object).await?;
        self.locked(key, async |slot| {
            self.replace_locked(slot, key, &entry, &bytes).await
        })
        .await
    }

    async fn replace_locked(
        &self,
        guard: &mut Slot,
        key: &MirrorKey,
        entry: &LogEntry,
        bytes: &Bytes,
    ) -> StateResult<()> {
        let copies = matches!(entry, LogEntry::Restore { .. });
        let reset_to = match entry {
            LogEntry::Reset { object } => Some(object.as_str()),
            _ => None,
        };
        for _ in 0..MAX_ATTEMPTS {
            let w = self.current(guard, key).await?;
            // Nothing was applied since a reset to this same image (the log's
            // head is that reset, `current` just checked): the state already
            // is the image, so resetting again is done without a log entry
            // (and its fsync). Tests that reset before each test and wrote
            // nothing, or wrote to another mirror, pay only the check.
            if let (Some(object), Some((head, image))) = (reset_to, &w.pristine) {
                if *head == w.head && image == object {
                    return Ok(());
                }
            }
            let next = w.head + 1;
            let (logged, copy) = if copies {
                let copy = format!(
                    "{}{next:020}-restore-{:016x}.sqlite",
                    checkpoint_prefix(key),
                    rand::random::<u64>()
                );
                self.store.create(&copy, bytes.clone()).await?;
                let logged = LogEntry::Restore {
                    object: copy.clone(),
                };
                (logged, Some(copy))
            } else {
                (entry.clone(), None)
            };
            match self
                .table
                .append_log(&key.log, next, &logged.encode()?)
                .await
            {
                Ok(()) => {
                    let Some(w) = guard.db.as_mut() else {
                        return Err(StateError::Corrupt("working copy vanished".into()));
                    };
                    match images::open_copy(bytes) {
                        Ok(conn) => {
                            w.rebased(conn, next, bytes.len());
                            w.pristine = reset_to.map(|o| (next, o.to_string()));
                        }
                        Err(e) => {
                            guard.db = None;
                            return Err(e);
                        }
                    }
                    return Ok(());
                }
                Err(e) => {
                    if let Some(copy) = copy {
                        // Unreferenced: nothing logged it.
                        let _ = self.store.delete(&copy).await;
                    }
                    match e {
                        StorageError::AlreadyExists(_) => continue,
                        e => return Err(e.into()),
                    }
                }
            }
        }
        Err(contention(key))
    }

    /// Starts a checkpoint once a cold load would replay at least
    /// `compact_every` entries *and* at least `compact_log_fraction` of the base
    /// object's size in log bytes. A checkpoint costs the state's size, so tying
    /// it to logged bytes keeps its cost per write constant however big the state
    /// grows, while replay stays bounded by the state's size, not its history.
    /// It is built off the lock (see `compact`) and at most one per log runs at
    /// a time. The write is already durable: a failure, or a frozen Lambda,
    /// only postpones compaction.
    fn maybe_compact(&self, slot: &mut Slot, key: &MirrorKey) {
        let Some(w) = slot.db.as_mut() else { return };
        if self.compact_every == 0
            || w.since_entries < self.compact_every
            || (w.since_bytes as f64) < self.compact_log_fraction * w.base_bytes as f64
        {
            return;
        }
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        pending.retain(|_, t| !t.is_finished());
        if pending.contains_key(&key.log) {
            return;
        }
        let seq = w.head;
        // What a checkpoint of today's database would weigh, near enough.
        w.base_bytes = w.database_bytes();
        w.since_entries = 0;
        w.since_bytes = 0;
        let compactor = Compactor {
            store: self.store.clone(),
            table: self.table.clone(),
            images: self.images.clone(),
        };
        let owned = key.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = compactor.run(&owned, seq).await {
                tracing::warn!(error = %e, session = %owned.log.session, seq, "checkpoint failed; the log still holds every entry");
            }
        });
        pending.insert(key.log.clone(), task);
    }

    /// Waits for every checkpoint this instance has started (tests, shutdown).
    pub async fn flush_checkpoints(&self) {
        let tasks: Vec<_> = match self.pending.lock() {
            Ok(mut p) => p.drain().map(|(_, t)| t).collect(),
            Err(_) => return,
        };
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Deletes every checkpoint object of a mirror (its session ended). An
    /// ephemeral session's may also lie where they went before ephemeral
    /// state had its own prefix (a session from before that version).
    pub async fn delete_checkpoints(&self, key: &MirrorKey) -> StateResult<()> {
        let mut prefixes = vec![checkpoint_prefix(key)];
        if key.ephemeral {
            prefixes.push(checkpoint_prefix_under("", &key.log));
        }
        for prefix in prefixes {
            for object in self.store.list(&prefix).await? {
                self.store.delete(&object).await?;
            }
        }
        Ok(())
    }

    /// Bytes of an image (cached: few and shared by many sessions) or of a
    /// snapshot or checkpoint (read from the store each time: many, and rarely read).
    async fn fetch(&self, object: &str) -> StateResult<Bytes> {
        if object.starts_with("images/") {
            self.images.fetch(object).await
        } else {
            Ok(self.store.get(object).await?)
        }
    }

    /// The current database bytes, for a snapshot.
    pub async fn serialize(&self, key: &MirrorKey) -> StateResult<Bytes> {
        self.read(key, images::serialize).await
    }

    /// Drops this process's working copy of one session's mirror (it ended).
    pub fn evict(&self, key: &MirrorKey) {
        self.copies.evict(key);
    }

    /// Bytes of working copies dropped since the last call that returned them,
    /// once they reach `min_bytes` (else 0): how much memory the allocator may
    /// now be keeping for nothing (see `Sessions::release_freed_memory`).
    pub fn take_freed_bytes(&self, min_bytes: u64) -> u64 {
        self.copies.take_freed(min_bytes)
    }

    /// Bytes of working copies dropped and not yet taken.
    pub fn freed_bytes(&self) -> u64 {
        self.copies.freed()
    }

    /// Keep frozen copies within `bytes` (see [`DEFAULT_FROZEN_BYTES`]; 0
    /// freezes none: copies over the cache budget are dropped).
    ///
    /// [`DEFAULT_FROZEN_BYTES`]: super::DEFAULT_FROZEN_BYTES
    pub fn set_frozen_bytes(&self, bytes: u64) {
        self.copies.set_frozen_budget(bytes);
    }

    pub fn frozen_budget(&self) -> u64 {
        self.copies.frozen_budget()
    }

    /// What this process's frozen copies hold (compressed bytes) …
    pub fn frozen_bytes(&self) -> u64 {
        self.copies.frozen_bytes()
    }

    /// … and how many there are.
    pub fn frozen_copies(&self) -> u64 {
        self.copies.frozen_copies()
    }

    /// Drops working copies unused for `idle`; they are rebuilt from storage on demand.
    pub fn evict_idle(&self, idle: Duration) {
        self.copies.evict_idle(idle);
    }

    /// Loads the working copy if this instance has none, then applies every log
    /// entry after its head.
    async fn current<'a>(
        &self,
        slot: &'a mut Slot,
        key: &MirrorKey,
    ) -> StateResult<&'a mut Working> {
        slot.touch();
        if slot.db.is_none() {
            match self.copies.thaw(key) {
                Some(Ok(w)) => slot.db = Some(w),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, session = %key.log.session, "a frozen copy did not open; rebuilding it from storage")
                }
                None => {}
            }
        }
        if slot.db.is_none() {
            slot.db = Some(self.cold_load(key).await?);
        } else if let Some(w) = slot.db.as_mut() {
            let entries = self.table.read_log(&key.log, w.head).await?;
            let gap = entries.first().is_some_and(|r| r.seq != w.head + 1);
            if gap {
                // Entries this copy has not seen were compacted away: start over
                // from the newest checkpoint.
                slot.db = Some(self.cold_load(key).await?);
            } else if !entries.is_empty() {
                if let Err(e) = self.apply_entries(w, entries).await {
                    slot.db = None;
                    return Err(e);
                }
                w.reweigh();
                w.foreign_at = Some(Instant::now());
            }
        }
        slot.db
            .as_mut()
            .ok_or_else(|| StateError::Corrupt("working copy missing after load".into()))
    }

    /// Builds the working copy from the newest checkpoint (or the session's
    /// image), the newest reset/restore after it, and the entries after that.
    async fn cold_load(&self, key: &MirrorKey) -> StateResult<Working> {
        for _ in 0..8 {
            if let Some(w) = self.try_cold_load(key).await? {
                return Ok(w);
            }
        }
        Err(contention(key))
    }

    /// `None` when a newer checkpoint replaced the one read meanwhile (its object
    /// or the entries after it are gone): read again.
    async fn try_cold_load(&self, key: &MirrorKey) -> StateResult<Option<Working>> {
        let checkpoint = self.table.checkpoint(&key.log).await?;
        let (mut object, mut head) = match &checkpoint {
            Some(c) => (c.object.clone(), c.seq),
            None => (key.base.clone(), 0),
        };
        let mut entries = self.table.read_log(&key.log, head).await?;
        if entries.first().is_some_and(|r| r.seq != head + 1) {
            return Ok(None);
        }
        let mut replaced = false;
        if let Some(i) = entries
            .iter()
            .rposition(|r| LogEntry::is_replacement(&r.entry))
        {
            let entry = LogEntry::decode(&entries[i].entry)?;
            if let Some(o) = entry.replacement() {
                object = o.to_string();
            }
            head = entries[i].seq;
            entries.drain(..=i);
            replaced = true;
        }
        let bytes = match self.fetch(&object).await {
            Ok(b) => b,
            Err(StateError::Storage(StorageError::NotFound(_)))
                if checkpoint.is_some() && !replaced =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let conn = images::open_copy(&bytes)?;
        let mut w = self.copies.working(conn, head, bytes.len());
        let replay = !entries.is_empty();
        self.apply_entries(&mut w, entries).await?;
        if replay {
            w.reweigh();
        }
        Ok(Some(w))
    }

    async fn apply_entries(&self, w: &mut Working, entries: Vec<LogRecord>) -> StateResult<()> {
        let mut in_tx = false;
        for rec in entries {
            if rec.seq != w.head + 1 {
                return Err(StateError::Corrupt(format!(
                    "log gap: expected {}, found {}",
                    w.head + 1,
                    rec.seq
                )));
            }
            match LogEntry::decode(&rec.entry)? {
                LogEntry::Changes { changes } => {
                    if !in_tx {
                        w.conn.execute_batch("BEGIN")?;
                        in_tx = true;
                    }
                    changes::apply(&w.conn, &changes)?;
                    w.logged(rec.seq, LogEntry::json_len(&rec.entry));
                }
                replacing => {
                    if in_tx {
                        w.conn.execute_batch("COMMIT")?;
                        in_tx = false;
                    }
                    let object = replacing.replacement().unwrap_or_default().to_string();
                    let bytes = self.fetch(&object).await?;
                    w.rebased(images::open_copy(&bytes)?, rec.seq, bytes.len());
                }
            }
        }
        if in_tx {
            w.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

fn rollback(slot: &mut Slot) {
    end(slot, "ROLLBACK");
}

fn commit(slot: &mut Slot) {
    end(slot, "COMMIT");
}

/// Ends the copy's transaction; a copy that cannot is dropped (rebuilt from
/// the log when next used).
fn end(slot: &mut Slot, how: &str) {
    if let Some(w) = slot.db.as_ref() {
        if transaction(&w.conn, how).is_err() {
            slot.db = None;
        }
    }
}

/// `BEGIN`, `COMMIT` or `ROLLBACK` as a cached statement: `execute_batch`
/// parses it again on every request.
fn transaction(conn: &Connection, how: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(how)?.execute([]).map(drop)
}

fn contention(key: &MirrorKey) -> StateError {
    StateError::Contention(format!("{}/{}", key.log.session, key.log.mirror))
}
