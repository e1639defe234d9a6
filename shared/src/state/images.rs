//! Seeded images: the SQLite bytes a mirror starts from, keyed by config hash,
//! built once, stored under `images/<hash>.sqlite` and cached in memory, least
//! recently used first out once the cache holds more than its byte budget.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, MAIN_DB};
use sha2::{Digest, Sha256};

use super::byte_lru::ByteLru;
use super::{changes, StateError, StateResult};
use crate::storage::{ObjectStore, StorageError};

/// Bumped whenever the engine's on-disk format changes, so old images are not reused.
pub const ENGINE_VERSION: &str = "mirra-engine-2";

/// How to build one mirror's image: its schema and a seed loader.
pub struct ImageRecipe<'a> {
    pub mirror: &'a str,
    /// DDL for the mirror's tables; part of the config hash.
    pub schema: &'a str,
    /// The seed document; its canonical JSON is part of the config hash.
    pub seed: &'a serde_json::Value,
    /// Inserts the seed's rows. Must be deterministic: the same seed gives the same rows.
    pub load: &'a (dyn Fn(&Connection, &serde_json::Value) -> Result<(), String> + Sync),
}

impl ImageRecipe<'_> {
    /// Hash of (engine version, mirror, schema, seed content).
    pub fn config_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [ENGINE_VERSION, self.mirror, self.schema] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        // serde_json's default map is ordered by key, so this is canonical.
        h.update(self.seed.to_string().as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

/// Object key of the image for a config hash.
pub fn image_key(hash: &str) -> String {
    format!("images/{hash}.sqlite")
}

/// Default budget for cached images. A built-in seed's image is ~100 KB, but
/// custom seed files can make any number of images of any size.
pub const DEFAULT_IMAGE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Builds, stores and caches images: few, immutable, and shared by many sessions.
pub struct Images {
    store: Arc<dyn ObjectStore>,
    /// Images by object key, most recently used first, within their budget.
    cache: Mutex<ByteLru<String, Bytes>>,
}

impl Images {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Images {
            store,
            cache: Mutex::new(ByteLru::new(DEFAULT_IMAGE_CACHE_BYTES)),
        }
    }

    /// Keep cached images within `bytes` (0: cache none; each use reads the store).
    pub fn set_budget(&self, bytes: u64) {
        let dropped = self.lock().set_budget(bytes);
        drop(dropped);
    }

    /// Bytes of image data held in memory.
    pub fn cached_bytes(&self) -> u64 {
        self.lock().bytes()
    }

    /// How many images are held in memory.
    pub fn cached_count(&self) -> usize {
        self.lock().len()
    }

    /// Makes sure the recipe's image exists; returns its hash and whether it was
    /// already built (in this process or by any instance sharing the store).
    pub async fn ensure(&self, recipe: &ImageRecipe<'_>) -> StateResult<(String, bool)> {
        let hash = recipe.config_hash();
        let key = image_key(&hash);
        if self.cached(&key).is_some() {
            return Ok((hash, true));
        }
        match self.store.get(&key).await {
            Ok(bytes) => {
                self.remember(&key, bytes);
                return Ok((hash, true));
            }
            Err(StorageError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let built = build(recipe)?;
        match self.store.create(&key, built.clone()).await {
            Ok(()) => self.remember(&key, built),
            // Another instance won the race; use its bytes so every session of
            // this hash starts from identical state.
            Err(StorageError::AlreadyExists(_)) => {
                let theirs = self.store.get(&key).await?;
                self.remember(&key, theirs);
            }
            Err(e) => return Err(e.into()),
        }
        Ok((hash, false))
    }

    /// The bytes of an image, from memory or the store.
    pub async fn fetch(&self, key: &str) -> StateResult<Bytes> {
        if let Some(b) = self.cached(key) {
            return Ok(b);
        }
        let bytes = self.store.get(key).await?;
        self.remember(key, bytes.clone());
        Ok(bytes)
    }

    fn remember(&self, key: &str, bytes: Bytes) {
        let dropped = self.lock().insert(key.to_string(), bytes);
        drop(dropped);
    }

    fn cached(&self, key: &str) -> Option<Bytes> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, ByteLru<String, Bytes>> {
        match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Page size of the databases images are built with, and so of every working
/// copy, checkpoint and snapshot made from them. A seeded mirror is mostly
/// empty b-trees (Stripe's: 33 tables and 93 indexes holding a few rows), and
/// each takes at least one whole page: at SQLite's default of 4 KB a seeded
/// Stripe copy held 568 KB of pages, at 1 KB 200 KB.
pub const PAGE_SIZE: u32 = 1024;

/// Builds an image in memory: schema, capture triggers, seed rows.
pub fn build(recipe: &ImageRecipe<'_>) -> StateResult<Bytes> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.execute_batch(recipe.schema)?;
    changes::install(&conn)?;
    conn.execute_batch("BEGIN")?;
    if let Err(e) = (recipe.load)(&conn, recipe.seed) {
        conn.execute_batch("ROLLBACK")?;
        return Err(StateError::InvalidSeed(e));
    }
    conn.execute_batch("DELETE FROM _changes; COMMIT")?;
    serialize(&conn)
}

/// The bytes of an open database, as an image or snapshot.
pub fn serialize(conn: &Connection) -> StateResult<Bytes> {
    let data = conn.serialize(MAIN_DB)?;
    Ok(Bytes::copy_from_slice(&data))
}

/// States up to this size are copied with the backup API into a plain in-memory
/// database, whose page cache *is* its storage: about half the memory of a
/// deserialized copy, which holds its pages in its buffer and again in its page
/// cache (a seeded Stripe mirror: ~70 KB instead of ~150 KB per copy). Bigger
/// states are deserialized: there a backup costs ~10× as much (12 ms at 10 MB)
/// and the page cache (2 MB at most) is small beside the data.
const BACKUP_COPY_MAX: usize = 1 << 20;

/// Whether [`open_copy`] of `len` bytes keeps the database in SQLite's page
/// cache (a plain in-memory database) rather than in a deserialized buffer.
pub fn in_page_cache(len: usize) -> bool {
    len <= BACKUP_COPY_MAX
}

/// Past this size a copy that lives in the page cache is moved into a
/// deserialized buffer (see `Working::outgrown`). SQLite's b-tree balancing
/// renumbers pages through the pending-byte page (the one at 1 GiB: 1,048,577
/// at 1 KB pages), which leaves the page cache's highest key there, so every
/// commit then truncates the cache by walking its whole hash table, one bucket
/// per page held. For a database that *is* its page cache that walk grows with the
/// state: 1.3 ms per commit at 160 MB, a quarter of the CPU under load.
/// A deserialized database's cache is bounded (`cache_size`, 2 MB), and so
/// is the walk.
pub const PAGE_CACHE_MAX: u64 = 4 << 20;

/// A fresh connection holding a writable in-memory copy of `bytes`.
///
/// Always a new connection: `sqlite3_deserialize` into a connection that has
/// already run statements frees the old schema while the eponymous virtual
/// tables (`pragma_table_info`, used by change capture) still point at it — a
/// use-after-free that crashed `mirra serve` under load.
pub fn open_copy(bytes: &[u8]) -> StateResult<Connection> {
    let mut conn = Connection::open_in_memory()?;
    if bytes.len() <= BACKUP_COPY_MAX {
        let mut src = Connection::open_in_memory()?;
        src.deserialize_read_exact(MAIN_DB, bytes, bytes.len(), true)?;
        // -1: every page in one step; nothing else can hold either database.
        let step = Backup::new(&src, &mut conn)?.step(-1)?;
        match step {
            StepResult::Done => {}
            other => {
                return Err(StateError::Corrupt(format!(
                    "copying a state did not finish: {other:?}"
                )))
            }
        }
    } else {
        conn.deserialize_read_exact(MAIN_DB, bytes, bytes.len(), false)?;
    }
    // Room for every mirror's hot statements plus the engine's own.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}
