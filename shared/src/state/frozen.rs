//! Frozen copies: working copies kept as compressed bytes instead of open
//! connections.
//!
//! An open copy of a seeded Stripe mirror costs ~500 KB (its pages, the parsed
//! schema, prepared statements, lookaside), and most of that is per connection,
//! not data. Serialized, the same database is its pages alone, mostly empty
//! roots of tables and indexes, which LZ4 shrinks ~20×. So once the open copies
//! fill their budget, the least recently used are frozen rather than dropped:
//! bringing one back costs a decompression and a copy into a fresh connection
//! (well under a millisecond), where a rebuild would read the image or a
//! checkpoint and replay the log from storage (an S3 read on AWS).
//!
//! A frozen copy is still a copy made current up to `head`: thawing it catches
//! up from the log like any working copy, so freezing never loses anything a
//! rebuild would find.

use std::time::Instant;

use rusqlite::MAIN_DB;

use super::byte_lru::Weighed;
use super::copies::Working;
use super::{images, StateError, StateResult};

/// Copies whose database is bigger than this are dropped, not frozen:
/// compressing them would stall the request that went over budget, and a
/// state that big has checkpoints that rebuild it.
pub const FREEZE_MAX_BYTES: u64 = 8 << 20;

/// A working copy as LZ4-compressed database bytes, with the log position and
/// compaction counters it had.
pub(super) struct Frozen {
    /// `lz4_flex` block format, uncompressed size prepended.
    data: Box<[u8]>,
    head: u64,
    base_bytes: u64,
    since_entries: u64,
    since_bytes: u64,
    /// When it was last used as a working copy (for idle eviction).
    pub last_used: Instant,
}

impl Frozen {
    /// Serializes and compresses `w`; `None` when it is too big to be worth it
    /// or SQLite cannot serialize it (the caller then drops it).
    pub fn of(w: &Working, last_used: Instant) -> Option<Frozen> {
        if w.database_bytes() > FREEZE_MAX_BYTES {
            return None;
        }
        let raw = w.conn.serialize(MAIN_DB).ok()?;
        // The compressor's buffer has room for the worst case (the input's
        // size and more): keep an exact copy, not it.
        let data = lz4_flex::block::compress_prepend_size(&raw)
            .as_slice()
            .into();
        Some(Frozen {
            data,
            head: w.head,
            base_bytes: w.base_bytes,
            since_entries: w.since_entries,
            since_bytes: w.since_bytes,
            last_used,
        })
    }

    /// The database bytes and counters back, ready to open as a working copy.
    pub fn thaw(self) -> StateResult<Thawed> {
        let raw = lz4_flex::block::decompress_size_prepended(&self.data)
            .map_err(|e| StateError::Corrupt(format!("a frozen copy does not decompress: {e}")))?;
        let conn = images::open_copy(&raw)?;
        Ok(Thawed {
            conn,
            len: raw.len(),
            head: self.head,
            base_bytes: self.base_bytes,
            since_entries: self.since_entries,
            since_bytes: self.since_bytes,
        })
    }
}

impl Weighed for Frozen {
    /// What it holds in memory.
    fn weight(&self) -> u64 {
        self.data.len() as u64
    }
}

/// A thawed copy's connection and what its `Working` had.
pub(super) struct Thawed {
    pub conn: rusqlite::Connection,
    /// Size of the database bytes it was opened from.
    pub len: usize,
    pub head: u64,
    pub base_bytes: u64,
    pub since_entries: u64,
    pub since_bytes: u64,
}
