//! Errors of the session service; each API edge maps them to its own format.

use crate::state::StateError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request is malformed or names something that does not exist (400).
    #[error("{0}")]
    Invalid(String),
    /// No live session, snapshot or mirror by that id or name (404).
    #[error("{0}")]
    NotFound(String),
    /// The session timed out; it is being torn down (410).
    #[error("session {0} has expired")]
    Expired(String),
    /// The name is taken in this workspace (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many concurrent writers on one mirror; retrying helps (429).
    #[error("{0}")]
    Busy(String),
    /// Storage or engine failure: not the caller's fault (500/503).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StateError> for SessionError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::InvalidSeed(m) => SessionError::Invalid(format!("invalid seed: {m}")),
            StateError::Contention(m) => SessionError::Busy(m),
            StateError::Storage(StorageError::NotFound(m)) => SessionError::NotFound(m),
            other => SessionError::Internal(other.to_string()),
        }
    }
}

impl From<StorageError> for SessionError {
    fn from(e: StorageError) -> Self {
        SessionError::from(StateError::Storage(e))
    }
}

impl From<serde_json::Error> for SessionError {
    fn from(e: serde_json::Error) -> Self {
        SessionError::Internal(format!("session record: {e}"))
    }
}

pub type SessionResult<T> = Result<T, SessionError>;
