//! The one error type every storage backend speaks, so callers can react to the
//! contract (`NotFound`, `AlreadyExists`) without knowing which backend runs.

/// Errors from an [`ObjectStore`](super::ObjectStore) or [`SessionTable`](super::SessionTable).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key, session or log entry does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional create lost: the key, session id, name or log sequence is taken.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The backend failed (I/O, network, corrupt data). Not the caller's fault.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

impl StorageError {
    /// Wraps any backend error as [`StorageError::Backend`].
    pub fn backend(e: impl std::fmt::Display) -> Self {
        StorageError::Backend(e.to_string())
    }
}

pub type StorageResult<T> = Result<T, StorageError>;
