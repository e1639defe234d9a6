//! Errors of the state engine.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored log entry, image or snapshot could not be decoded.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// A seed could not be loaded into a fresh image (the caller's input is wrong).
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
    /// Other writers kept winning the race for the next log entry.
    #[error("too much contention on {0}; retry")]
    Contention(String),
}

pub type StateResult<T> = Result<T, StateError>;
