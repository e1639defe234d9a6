//! Per-mirror SQLite state: images ([`images`]), the commit log ([`LogEntry`]),
//! change capture ([`changes`]) and the working copies that serve requests
//! ([`StateEngine`]), held within a byte budget (`copies`), the least recently used compressed ([`frozen`]). Knows nothing of HTTP or vendors.

mod byte_lru;
pub mod changes;
mod compact;
mod copies;
mod engine;
mod error;
mod frozen;
pub mod images;
mod log;

pub use copies::{DEFAULT_CACHE_BYTES, DEFAULT_FROZEN_BYTES};
pub use engine::{MirrorKey, StateEngine, DEFAULT_COMPACT_EVERY, DEFAULT_COMPACT_LOG_FRACTION};
pub use error::{StateError, StateResult};
pub use images::{ImageRecipe, Images, DEFAULT_IMAGE_CACHE_BYTES};
pub use log::{LogEntry, RowChange};
