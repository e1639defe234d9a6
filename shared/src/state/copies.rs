//! The working copies one process holds, bounded by bytes, in two tiers.
//!
//! Each (session, mirror) this process has served has a slot; a slot's working
//! copy is an in-memory SQLite database. Copies are rebuilt from image or
//! checkpoint plus log on demand, so holding one is only a cache: once the
//! open copies together weigh more than the budget, the least recently used
//! ones are frozen (serialized and compressed, see [`super::frozen`]) into a
//! second budget, and past that one dropped — on the request that went over,
//! in every runtime (a Lambda has no background task to do it later).
//!
//! A copy is weighed as SQLite counts what its connection holds (page cache,
//! parsed schema, prepared statements, lookaside; `sqlite_memory`) plus the
//! buffer a deserialized database lives in, so the budget tracks the
//! process's memory, not just its data. A slot that anyone holds or waits
//! for (its `Arc` is shared) is never dropped, so no request loses its copy
//! mid-way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;
use rusqlite::Connection;

use super::byte_lru::ByteLru;
use super::engine::MirrorKey;
use super::frozen::{Frozen, Thawed};
use super::{changes, images};

/// Default budget for open working copies: with the frozen ones a busy `mirra
/// serve` stays under 1 GB (10,000 touched Stripe sessions).
pub const DEFAULT_CACHE_BYTES: u64 = 640 * 1024 * 1024;

/// A copy is weighed again after this many writes or this many bytes of log
/// entries, whichever comes first, not after every write (asking SQLite its
/// size cost ~10 K instructions, 2 % of a create). Between two weighings the
/// meter lags by at most these: small beside what a copy weighs (~500 KB for
/// a seeded Stripe mirror).
pub const REWEIGH_EVERY_WRITES: u64 = 16;
pub const REWEIGH_EVERY_BYTES: u64 = 32 * 1024;

/// Default budget for frozen copies (see [`super::frozen`]): a touched Stripe
/// copy frozen weighs ~15 KB, so this holds ~17,000 of them.
pub const DEFAULT_FROZEN_BYTES: u64 = 256 * 1024 * 1024;

/// What the working copies weigh together, updated as they are built, grow and drop.
#[derive(Debug, Default)]
struct Meter {
    bytes: AtomicU64,
    copies: AtomicU64,
    /// Weight of the copies dropped since the allocator was last asked to
    /// return free memory (see [`Copies::take_freed`]).
    freed: AtomicU64,
}

/// One working copy: a database made current up to log entry `head`.
pub(super) struct Working {
    pub conn: Connection,
    /// Sequence number of the last log entry applied to `conn`.
    pub head: u64,
    /// Size of the object a cold load would start from (image, snapshot or
    /// checkpoint), and the log entries and bytes a cold load would replay on
    /// top of it: what decides when a checkpoint pays off.
    pub base_bytes: u64,
    pub since_entries: u64,
    pub since_bytes: u64,
    /// The database lives in SQLite's page cache (opened by backup) rather
    /// than in a deserialized buffer: see [`images::PAGE_CACHE_MAX`].
    in_page_cache: bool,
    /// What this copy adds to the meter (see [`weigh`]), of which the
    /// database's own bytes (page count × page size) and its parsed schema.
    weight: u64,
    db_bytes: u64,
    schema_bytes: u64,
    /// Writes and their log bytes since the copy was last weighed.
    unweighed_writes: u64,
    unweighed_bytes: u64,
    meter: Arc<Meter>,
    /// The image a reset put this copy on, while nothing has been applied
    /// since: `(head, image)`. A reset to the same image at the same head
    /// would change nothing, so it logs nothing (see `Engine::replace`).
    pub pristine: Option<(u64, String)>,
    /// When this copy last met another instance's write (applied its entries,
    /// or lost an append to it): while that is recent, writes read the log
    /// before they run (see `StateEngine::write`).
    pub foreign_at: Option<Instant>,
    /// How this copy's drains read changed rows back, per table.
    pub readers: changes::RowReaders,
}

impl Working {
    /// Counts an entry applied on top of the base.
    pub fn logged(&mut self, seq: u64, entry_len: usize) {
        self.head = seq;
        self.since_entries += 1;
        self.since_bytes += entry_len as u64;
        self.unweighed_writes += 1;
        self.unweighed_bytes += entry_len as u64;
    }

    /// Weighs the copy again once enough was written since it was last
    /// weighed (see [`REWEIGH_EVERY_WRITES`]).
    pub fn reweigh_if_due(&mut self) {
        if self.unweighed_writes >= REWEIGH_EVERY_WRITES
            || self.unweighed_bytes >= REWEIGH_EVERY_BYTES
        {
            self.reweigh();
        }
    }

    /// The whole database was replaced by an object of `len` bytes at `seq`.
    pub fn rebased(&mut self, conn: Connection, seq: u64, len: usize) {
        let in_page_cache = images::in_page_cache(len);
        *self = Working::new(conn, seq, len as u64, in_page_cache, self.meter.clone());
    }

    /// True once a page-cache copy has grown past [`images::PAGE_CACHE_MAX`]:
    /// the caller should reopen it from its serialized bytes.
    pub fn outgrown(&self) -> bool {
        self.in_page_cache && self.database_bytes() > images::PAGE_CACHE_MAX
    }

    /// Replaces the connection with a copy of the same database at the same
    /// head (same log position, new storage).
    pub fn reopened(&mut self, conn: Connection) {
        self.conn = conn;
        self.in_page_cache = false;
        // A new connection: its schema is measured afresh.
        self.weigh_again(None);
    }

    /// Empties a deserialized copy's page cache after a commit. Its pages
    /// live in the deserialized buffer, so the cache only duplicates them,
    /// and SQLite walks the whole cache at every commit (see
    /// [`images::PAGE_CACHE_MAX`]); it kept thousands of pages (beyond
    /// `cache_size`) and each commit cost ~90 µs for it.
    pub fn trim_page_cache(&self) {
        if !self.in_page_cache {
            let _ = self.conn.release_memory();
        }
    }

    /// The database's own bytes (page count × page size), as last weighed.
    pub fn database_bytes(&self) -> u64 {
        self.db_bytes
    }

    /// Weighs the copy again after it changed.
    pub fn reweigh(&mut self) {
        self.weigh_again(Some(self.schema_bytes));
    }

    /// Weighs the copy (its schema too when `schema` is `None`) and moves the
    /// meter by the change.
    fn weigh_again(&mut self, schema: Option<u64>) {
        let (db_bytes, schema_bytes, now) =
            weigh(&self.conn, self.in_page_cache, self.db_bytes, schema);
        self.db_bytes = db_bytes;
        self.schema_bytes = schema_bytes;
        if now >= self.weight {
            self.meter
                .bytes
                .fetch_add(now - self.weight, Ordering::Relaxed);
        } else {
            self.meter
                .bytes
                .fetch_sub(self.weight - now, Ordering::Relaxed);
        }
        self.weight = now;
        self.unweighed_writes = 0;
        self.unweighed_bytes = 0;
    }

    /// A thawed copy, with the counters it had when frozen.
    fn thawed(t: Thawed, meter: Arc<Meter>) -> Self {
        let in_page_cache = images::in_page_cache(t.len);
        let mut w = Working::new(t.conn, t.head, t.base_bytes, in_page_cache, meter);
        w.since_entries = t.since_entries;
        w.since_bytes = t.since_bytes;
        w
    }

    fn new(
        conn: Connection,
        head: u64,
        base_bytes: u64,
        in_page_cache: bool,
        meter: Arc<Meter>,
    ) -> Self {
        let (db_bytes, schema_bytes, weight) = weigh(&conn, in_page_cache, base_bytes, None);
        meter.bytes.fetch_add(weight, Ordering::Relaxed);
        meter.copies.fetch_add(1, Ordering::Relaxed);
        Working {
            conn,
            head,
            base_bytes,
            since_entries: 0,
            since_bytes: 0,
            in_page_cache,
            weight,
            db_bytes,
            schema_bytes,
            unweighed_writes: 0,
            unweighed_bytes: 0,
            meter,
            pristine: None,
            foreign_at: None,
            readers: changes::RowReaders::default(),
        }
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.meter.bytes.fetch_sub(self.weight, Ordering::Relaxed);
        self.meter.copies.fetch_sub(1, Ordering::Relaxed);
        self.meter.freed.fetch_add(self.weight, Ordering::Relaxed);
    }
}

/// What a copy weighs, as `(database bytes, schema bytes, weight)`: SQLite's count of what
/// its connection holds (page cache, prepared statements, lookaside, and the
/// parsed schema, measured once per connection: walking ~300 schema objects
/// costs ~10 µs and they do not change), plus, for a deserialized database,
/// the buffer its pages live in (a page-cache copy's pages are its cache).
/// Checked against RSS: 300 seeded Stripe copies cost 499 KB each, SQLite
/// counts 500 KB. The schema is measured when `schema` is `None`, after
/// `PRAGMA page_count` has made SQLite parse it (a fresh connection parses it
/// on first use). `db_bytes` stands in when SQLite cannot give the page count
/// (it always can for an open database). Prepared afresh each time: a cached
/// `PRAGMA` statement is re-prepared on every step anyway, and this runs once
/// per [`REWEIGH_EVERY_WRITES`] writes.
fn weigh(
    conn: &Connection,
    in_page_cache: bool,
    db_bytes: u64,
    schema: Option<u64>,
) -> (u64, u64, u64) {
    let pragma = |name: &str| {
        conn.pragma_query_value(None, name, |r| r.get::<_, i64>(0))
            .ok()
            .and_then(|n| u64::try_from(n).ok())
    };
    let db_bytes = match (pragma("page_count"), pragma("page_size")) {
        (Some(count), Some(size)) => count * size,
        _ => db_bytes,
    };
    let schema_bytes = schema.unwrap_or_else(|| sqlite_memory::schema_bytes(conn));
    let held = sqlite_memory::cache_bytes(conn)
        + sqlite_memory::statement_bytes(conn)
        + sqlite_memory::LOOKASIDE_BYTES
        + schema_bytes;
    let buffer = if in_page_cache { 0 } else { db_bytes };
    (db_bytes, schema_bytes, held + buffer)
}

pub(super) struct Slot {
    pub db: Option<Working>,
    last_used: Instant,
}

impl Slot {
    /// Marks the slot used now (for idle eviction).
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }
}

pub(super) type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;

/// The slots, most recently used first, and the budget they must fit in;
/// then the frozen copies, most recently used first, and theirs.
pub(super) struct Copies {
    slots: Mutex<LruCache<MirrorKey, SharedSlot>>,
    /// Frozen copies by key within their budget. A key is in at most one
    /// tier: freezing removes its slot, thawing removes it from here.
    frozen: Mutex<ByteLru<MirrorKey, Frozen>>,
    meter: Arc<Meter>,
    budget: AtomicU64,
}

impl Copies {
    pub fn new(budget: u64) -> Self {
        Copies {
            slots: Mutex::new(LruCache::unbounded()),
            frozen: Mutex::new(ByteLru::new(DEFAULT_FROZEN_BYTES)),
            meter: Arc::new(Meter::default()),
            budget: AtomicU64::new(budget),
        }
    }

    /// Keep frozen copies within `bytes` (0: freeze none; copies over the
    /// open budget are dropped).
    pub fn set_frozen_budget(&self, bytes: u64) {
        let dropped = self.lock_frozen().set_budget(bytes);
        drop(dropped);
    }

    pub fn frozen_budget(&self) -> u64 {
        self.lock_frozen().budget()
    }

    /// Bytes the frozen copies hold together.
    pub fn frozen_bytes(&self) -> u64 {
        self.lock_frozen().bytes()
    }

    /// How many copies are frozen.
    pub fn frozen_copies(&self) -> u64 {
        self.lock_frozen().len() as u64
    }

    /// Takes `key`'s frozen copy, if any, and opens it as a working copy.
    pub fn thaw(&self, key: &MirrorKey) -> Option<super::StateResult<Working>> {
        let frozen = self.lock_frozen().remove(key)?;
        Some(
            frozen
                .thaw()
                .map(|t| Working::thawed(t, self.meter.clone())),
        )
    }

    pub fn set_budget(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    pub fn budget(&self) -> u64 {
        self.budget.load(Ordering::Relaxed)
    }

    /// Bytes the working copies weigh together.
    pub fn resident_bytes(&self) -> u64 {
        self.meter.bytes.load(Ordering::Relaxed)
    }

    /// How many working copies are built.
    pub fn resident_copies(&self) -> u64 {
        self.meter.copies.load(Ordering::Relaxed)
    }

    /// Bytes of copies dropped since they were last taken.
    pub fn freed(&self) -> u64 {
        self.meter.freed.load(Ordering::Relaxed)
    }

    /// Bytes of copies dropped since the last call that took at least `min`:
    /// returns them and starts counting afresh, or returns 0 below `min`.
    pub fn take_freed(&self, min: u64) -> u64 {
        let freed = self.meter.freed.load(Ordering::Relaxed);
        if freed < min.max(1) {
            return 0;
        }
        self.meter.freed.fetch_sub(freed, Ordering::Relaxed);
        freed
    }

    /// A working copy of `conn`, counted against the budget.
    pub fn working(&self, conn: Connection, head: u64, base_bytes: usize) -> Working {
        Working::new(
            conn,
            head,
            base_bytes as u64,
            images::in_page_cache(base_bytes),
            self.meter.clone(),
        )
    }

    /// The slot for `key` (a new, empty one the first time), now the most
    /// recently used.
    pub fn slot(&self, key: &MirrorKey) -> SharedSlot {
        self.lock()
            .get_or_insert_ref(key, || {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    db: None,
                    last_used: Instant::now(),
                }))
            })
            .clone()
    }

    /// Freezes (or, past the frozen budget, drops) least recently used copies
    /// nobody is using until the rest fit the budget. Called after every
    /// request that may have built or grown a copy; cheap when under budget.
    pub fn trim(&self) {
        let budget = self.budget();
        if self.resident_bytes() <= budget {
            return;
        }
        let victims = {
            let slots = self.lock();
            let mut over = self.resident_bytes().saturating_sub(budget);
            let mut victims = Vec::new();
            for (key, slot) in slots.iter().rev() {
                if over == 0 {
                    break;
                }
                if let Some(weight) = unused_weight(slot) {
                    over = over.saturating_sub(weight);
                    victims.push((key.clone(), slot.clone()));
                }
            }
            victims
        };
        let freeze = self.frozen_budget() > 0;
        for (key, slot) in victims {
            // Serialized outside the map's lock, so other requests keep moving.
            let frozen = match slot.try_lock() {
                Ok(s) if freeze => s.db.as_ref().and_then(|w| Frozen::of(w, s.last_used)),
                Ok(_) => None,
                Err(_) => continue,
            };
            let (popped, dropped) = {
                let mut slots = self.lock();
                // Only if no request took the slot meanwhile: the map's handle
                // and this one are all there are.
                let untouched = slots
                    .peek(&key)
                    .is_some_and(|s| Arc::ptr_eq(s, &slot) && Arc::strong_count(&slot) == 2);
                if !untouched {
                    continue;
                }
                let popped = slots.pop(&key);
                // Frozen before the map's lock is let go: a request for the key
                // finds either the slot or the frozen copy.
                let dropped = frozen.map(|f| self.lock_frozen().insert(key, f));
                (popped, dropped)
            };
            // Connections close outside the map's lock.
            drop((popped, dropped, slot));
        }
    }

    /// Forgets the copy of `key` (its session ended). A request still using it
    /// finishes on it; the copy goes when that request is done.
    pub fn evict(&self, key: &MirrorKey) {
        let dropped = self.lock().pop(key);
        let frozen = self.lock_frozen().remove(key);
        drop((dropped, frozen));
    }

    /// Drops unused copies not used for `idle`.
    pub fn evict_idle(&self, idle: Duration) {
        let dropped = {
            let mut slots = self.lock();
            let mut victims = Vec::new();
            for (key, slot) in slots.iter().rev() {
                if Arc::strong_count(slot) > 1 {
                    continue;
                }
                match slot.try_lock() {
                    Ok(s) if s.last_used.elapsed() >= idle => victims.push(key.clone()),
                    Ok(_) => break, // the rest were used more recently still
                    Err(_) => {}
                }
            }
            victims
                .iter()
                .filter_map(|k| slots.pop(k))
                .collect::<Vec<_>>()
        };
        let frozen = self
            .lock_frozen()
            .pop_lru_while(|c, _| c.last_used.elapsed() >= idle);
        drop((dropped, frozen));
    }

    fn lock_frozen(&self) -> MutexGuard<'_, ByteLru<MirrorKey, Frozen>> {
        match self.frozen.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<MirrorKey, SharedSlot>> {
        match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The weight of a slot's copy when nobody else holds or waits for the slot
/// (the map's lock, held by the caller, stops anyone from taking it meanwhile).
fn unused_weight(slot: &SharedSlot) -> Option<u64> {
    if Arc::strong_count(slot) > 1 {
        return None;
    }
    let s = slot.try_lock().ok()?;
    Some(s.db.as_ref().map_or(0, |w| w.weight))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Copies;
    use crate::session::MirrorDef;
    use crate::state::images::{self, ImageRecipe};

    /// The process's anonymous resident memory (its heap), in bytes.
    fn rss_anon() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("RssAnon");
        kb * 1024
    }

    /// The meter counts what open copies cost in memory: 200 copies of a
    /// seeded Stripe mirror, each read once, weigh within 10 % of what they
    /// added to the heap. (A fixed guess per connection fell 15 % short once
    /// Stripe's schema grew: the budget let 1,000 copies take 975 MB.)
    #[test]
    fn open_copies_weigh_what_they_cost_in_memory() {
        let def = crate::mirrors::stripe::Stripe;
        let seed = def.builtin_seed("default").expect("seed");
        let load =
            |conn: &rusqlite::Connection, seed: &serde_json::Value| def.load_seed(conn, seed);
        let recipe = ImageRecipe {
            mirror: def.name(),
            schema: def.schema(),
            seed: &seed,
            load: &load,
        };
        let image = images::build(&recipe).expect("image");
        let copies = Copies::new(u64::MAX);
        let (heap, meter) = (rss_anon(), copies.resident_bytes());
        let held: Vec<_> = (0..200)
            .map(|_| {
                let conn = images::open_copy(&image).expect("copy");
                let w = copies.working(conn, 0, image.len());
                let n: i64 = w
                    .conn
                    .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
                    .expect("read");
                assert!(n > 0, "the default seed has customers");
                w
            })
            .collect();
        let cost = (rss_anon() - heap) / 200;
        let weight = (copies.resident_bytes() - meter) / 200;
        assert!(
            weight.abs_diff(cost) * 10 <= cost,
            "a copy weighs {weight} bytes but cost {cost}"
        );
        drop(held);
    }

    /// A database of `rows` rows of 1 KB, as bytes.
    fn database_of(rows: i64) -> Vec<u8> {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v BLOB)")
            .expect("table");
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO t SELECT zeroblob(1000) FROM n",
            [rows],
        )
        .expect("rows");
        images::serialize(&conn).expect("bytes").to_vec()
    }

    /// Emptying a large copy's page cache after its commit leaves every other
    /// connection's cache alone. In a SQLite built with
    /// `SQLITE_ENABLE_MEMORY_MANAGEMENT` (libsqlite3-sys's default, undone in
    /// `.cargo/config.toml`) all connections share one page cache, and this
    /// emptied them all: the session table's connection, which every request
    /// uses, read ~10 pages back from disk per request while a large session
    /// was being written.
    #[test]
    fn trimming_a_copys_page_cache_leaves_other_connections_caches_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let other = rusqlite::Connection::open(dir.path().join("other.db")).expect("open");
        other
            .execute_batch("CREATE TABLE t (v BLOB); INSERT INTO t VALUES (zeroblob(100000));")
            .expect("fill");
        let read = |c: &rusqlite::Connection| -> i64 {
            c.query_row("SELECT sum(length(v)) FROM t", [], |r| r.get(0))
                .expect("read")
        };
        read(&other);
        let warm = sqlite_memory::cache_bytes(&other);
        assert!(
            warm > 100_000,
            "the other connection's pages are cached: {warm}"
        );

        let bytes = database_of(2_000);
        let copies = Copies::new(u64::MAX);
        let w = copies.working(images::open_copy(&bytes).expect("copy"), 0, bytes.len());
        assert!(
            !w.in_page_cache,
            "a 2 MB state is deserialized, not a page-cache copy"
        );
        read(&w.conn);
        w.conn
            .execute("INSERT INTO t VALUES (zeroblob(1000))", [])
            .expect("write");
        w.trim_page_cache();
        assert!(
            sqlite_memory::cache_bytes(&w.conn) < warm,
            "the copy's own cache was emptied"
        );
        assert_eq!(
            sqlite_memory::cache_bytes(&other),
            warm,
            "another connection's cache was left as it was"
        );
        read(&other);
    }
}
