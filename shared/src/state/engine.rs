//! Working copies: one in-memory SQLite database per (session, mirror) in this
//! process, made current from image + commit log before every request.
//!
//! A write runs the handler in a transaction, drains the captured change set and
//! commits it by conditionally creating log entry `head + 1`; only then does the
//! SQLite transaction commit and the caller respond. Losing that race means
//! another instance wrote first: roll back, catch up, run again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::Connection;

use super::images::{self, Images};
use super::{changes, LogEntry, StateError, StateResult};
use crate::storage::{SessionTable, StorageError};

/// How many times a write re-runs after losing the race for the next log entry.
const MAX_ATTEMPTS: usize = 32;

/// Names one mirror database of one session. Identity is (session, incarnation,
/// mirror); `base` only says where a cold load starts.
#[derive(Debug, Clone)]
pub struct MirrorKey {
    pub session: String,
    /// Random per session row, so a reused session id never meets a stale copy.
    pub incarnation: String,
    pub mirror: String,
    /// Object key of the image the session was created from.
    pub base: String,
}

impl PartialEq for MirrorKey {
    fn eq(&self, other: &Self) -> bool {
        self.session == other.session
            && self.incarnation == other.incarnation
            && self.mirror == other.mirror
    }
}

impl Eq for MirrorKey {}

impl std::hash::Hash for MirrorKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.session.hash(state);
        self.incarnation.hash(state);
        self.mirror.hash(state);
    }
}

struct Working {
    conn: Connection,
    /// Sequence number of the last log entry applied to `conn`.
    head: u64,
}

struct Slot {
    db: Option<Working>,
    last_used: Instant,
}

type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;

pub struct StateEngine {
    table: Arc<dyn SessionTable>,
    images: Arc<Images>,
    slots: Mutex<HashMap<MirrorKey, SharedSlot>>,
}

impl StateEngine {
    pub fn new(table: Arc<dyn SessionTable>, images: Arc<Images>) -> Self {
        StateEngine {
            table,
            images,
            slots: Mutex::new(HashMap::new()),
        }
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
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        let w = self.current(&mut guard, key).await?;
        f(&w.conn)
    }

    /// Runs `f` in a transaction and commits what it changed as one log entry.
    /// `f` may run more than once (after losing a race); it must not have side
    /// effects outside the connection. An `Err` from `f` rolls back and is returned.
    pub async fn write<R, E>(
        &self,
        key: &MirrorKey,
        mut f: impl FnMut(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StateError>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let w = self.current(&mut guard, key).await?;
            w.conn.execute_batch("BEGIN").map_err(StateError::from)?;
            let outcome = f(&w.conn);
            let value = match outcome {
                Ok(v) => v,
                Err(e) => {
                    rollback(&mut guard);
                    return Err(e);
                }
            };
            let Some(w) = guard.db.as_mut() else {
                return Err(StateError::Corrupt("working copy vanished".into()).into());
            };
            let drained = changes::drain(&w.conn);
            let changes = match drained {
                Ok(c) => c,
                Err(e) => {
                    rollback(&mut guard);
                    return Err(e.into());
                }
            };
            if changes.is_empty() {
                commit(&mut guard);
                return Ok(value);
            }
            let entry = LogEntry::Changes { changes }.encode()?;
            let next = w.head + 1;
            match self
                .table
                .append_log(&key.session, &key.mirror, next, &entry)
                .await
            {
                Ok(()) => {
                    if let Some(w) = guard.db.as_mut() {
                        w.head = next;
                    }
                    // The entry is durable: even if COMMIT failed, the next
                    // request would rebuild from the log, so the write stands.
                    commit(&mut guard);
                    return Ok(value);
                }
                Err(StorageError::AlreadyExists(_)) => {
                    rollback(&mut guard);
                    continue;
                }
                Err(e) => {
                    rollback(&mut guard);
                    return Err(StateError::from(e).into());
                }
            }
        }
        Err(StateError::Contention(format!("{}/{}", key.session, key.mirror)).into())
    }

    /// Replaces the whole database with the bytes of `entry`'s object (a reset to
    /// an image or a restore of a snapshot), as a log entry every instance applies.
    pub async fn replace(&self, key: &MirrorKey, entry: LogEntry) -> StateResult<()> {
        let object = entry
            .replacement()
            .ok_or_else(|| StateError::Corrupt("replace needs a reset or restore entry".into()))?
            .to_string();
        // Fetch first: a missing object must fail before anything is logged.
        let bytes = self.images.fetch(&object).await?;
        let encoded = entry.encode()?;
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let w = self.current(&mut guard, key).await?;
            let next = w.head + 1;
            match self
                .table
                .append_log(&key.session, &key.mirror, next, &encoded)
                .await
            {
                Ok(()) => {
                    if let Err(e) = images::load_into(&mut w.conn, &bytes) {
                        guard.db = None;
                        return Err(e);
                    }
                    w.head = next;
                    return Ok(());
                }
                Err(StorageError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StateError::Contention(format!(
            "{}/{}",
            key.session, key.mirror
        )))
    }

    /// The current database bytes, for a snapshot.
    pub async fn serialize(&self, key: &MirrorKey) -> StateResult<Bytes> {
        self.read(key, images::serialize).await
    }

    /// The sequence number of the last log entry this instance applied for `key`
    /// after catching up.
    pub async fn head(&self, key: &MirrorKey) -> StateResult<u64> {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        Ok(self.current(&mut guard, key).await?.head)
    }

    /// Drops this process's working copies of a session (after it ended).
    pub fn evict_session(&self, session: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|k, _| k.session != session);
        }
    }

    /// Drops working copies unused for `idle`; they are rebuilt from storage on demand.
    pub fn evict_idle(&self, idle: Duration) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|_, slot| match slot.try_lock() {
                Ok(s) => s.last_used.elapsed() < idle,
                Err(_) => true,
            });
        }
    }

    fn slot(&self, key: &MirrorKey) -> SharedSlot {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    db: None,
                    last_used: Instant::now(),
                }))
            })
            .clone()
    }

    /// Loads the working copy if this instance has none, then applies every log
    /// entry after its head.
    async fn current<'a>(
        &self,
        slot: &'a mut Slot,
        key: &MirrorKey,
    ) -> StateResult<&'a mut Working> {
        slot.last_used = Instant::now();
        if slot.db.is_none() {
            slot.db = Some(self.cold_load(key).await?);
        } else if let Some(w) = slot.db.as_mut() {
            let entries = self
                .table
                .read_log(&key.session, &key.mirror, w.head)
                .await?;
            if !entries.is_empty() {
                if let Err(e) = self.apply_entries(w, entries).await {
                    slot.db = None;
                    return Err(e);
                }
            }
        }
        slot.db
            .as_mut()
            .ok_or_else(|| StateError::Corrupt("working copy missing after load".into()))
    }

    async fn cold_load(&self, key: &MirrorKey) -> StateResult<Working> {
        let entries = self.table.read_log(&key.session, &key.mirror, 0).await?;
        let mut conn = Connection::open_in_memory()?;
        // Room for every mirror's hot statements plus the engine's own.
        conn.set_prepared_statement_cache_capacity(128);
        let start = entries.iter().rposition(|r| {
            LogEntry::decode(&r.entry)
                .map(|e| e.replacement().is_some())
                .unwrap_or(false)
        });
        let (object, rest, head) = match start {
            Some(i) => {
                let entry = LogEntry::decode(&entries[i].entry)?;
                let object = entry.replacement().unwrap_or(&key.base).to_string();
                (object, entries[i + 1..].to_vec(), entries[i].seq)
            }
            None => (key.base.clone(), entries, 0),
        };
        let bytes = self.images.fetch(&object).await?;
        images::load_into(&mut conn, &bytes)?;
        let mut w = Working { conn, head };
        self.apply_entries(&mut w, rest).await?;
        Ok(w)
    }

    async fn apply_entries(
        &self,
        w: &mut Working,
        entries: Vec<crate::storage::LogRecord>,
    ) -> StateResult<()> {
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
                }
                replacing => {
                    if in_tx {
                        w.conn.execute_batch("COMMIT")?;
                        in_tx = false;
                    }
                    let object = replacing.replacement().unwrap_or_default().to_string();
                    let bytes = self.images.fetch(&object).await?;
                    images::load_into(&mut w.conn, &bytes)?;
                }
            }
            w.head = rec.seq;
        }
        if in_tx {
            w.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

fn rollback(slot: &mut Slot) {
    if let Some(w) = slot.db.as_ref() {
        if w.conn.execute_batch("ROLLBACK").is_err() {
            slot.db = None;
        }
    }
}

fn commit(slot: &mut Slot) {
    if let Some(w) = slot.db.as_ref() {
        if w.conn.execute_batch("COMMIT").is_err() {
            slot.db = None;
        }
    }
}
