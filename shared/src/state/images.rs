//! Seeded images: the SQLite bytes a mirror starts from, keyed by config hash,
//! built once, stored under `images/<hash>.sqlite` and cached in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::{Connection, MAIN_DB};
use sha2::{Digest, Sha256};

use super::{changes, StateError, StateResult};
use crate::storage::{ObjectStore, StorageError};

/// Bumped whenever the engine's on-disk format changes, so old images are not reused.
pub const ENGINE_VERSION: &str = "mirra-engine-1";

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

/// Builds, stores and caches images: few, immutable, and shared by many sessions.
pub struct Images {
    store: Arc<dyn ObjectStore>,
    cache: Mutex<HashMap<String, Bytes>>,
}

impl Images {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Images {
            store,
            cache: Mutex::new(HashMap::new()),
        }
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
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key.to_string(), bytes);
        }
    }

    fn cached(&self, key: &str) -> Option<Bytes> {
        self.cache.lock().ok().and_then(|c| c.get(key).cloned())
    }
}

/// Builds an image in memory: schema, capture triggers, seed rows.
pub fn build(recipe: &ImageRecipe<'_>) -> StateResult<Bytes> {
    let conn = Connection::open_in_memory()?;
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

/// A fresh connection holding a writable in-memory copy of `bytes`.
///
/// Always a new connection: `sqlite3_deserialize` into a connection that has
/// already run statements frees the old schema while the eponymous virtual
/// tables (`pragma_table_info`, used by change capture) still point at it — a
/// use-after-free that crashed `mirra serve` under load.
pub fn open_copy(bytes: &[u8]) -> StateResult<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.deserialize_read_exact(MAIN_DB, bytes, bytes.len(), false)?;
    // Room for every mirror's hot statements plus the engine's own.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}
