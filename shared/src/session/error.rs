//! Errors of the session service; each API edge maps them to its own format.

use crate::state::StateError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request is malformed or names something that does not exist (400).
    #[error("{0}")]
    Invalid(String),
    /// No session (or no such mirror in it) by that id or name (404).
    #[error("{0}")]
    NotFound(String),
    /// No snapshot by that id in the workspace (404); says nothing of the session.
    #[error("{0}")]
    NoSnapshot(String),
    /// The session expired or was ended (410): from its tombstone, or from its
    /// expiry before the reaper got to it.
    #[error("session {id} {} at {}", gone_verb(reason), fmt_ms(*ended_at_ms))]
    Gone {
        id: String,
        /// `expired` or `ended`.
        reason: String,
        /// Unix milliseconds.
        ended_at_ms: i64,
    },
    /// The name is taken in this workspace (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many concurrent writers on one mirror; retrying helps (429).
    #[error("{0}")]
    Busy(String),
    /// The workspace's plan does not allow it: a feature outside the plan
    /// (403) or a quota used up (402).
    #[error("{0}")]
    Plan(#[from] crate::workspace::PlanError),
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

fn gone_verb(reason: &str) -> &'static str {
    if reason == "expired" {
        "expired"
    } else {
        "was ended"
    }
}

/// `2026-12-02T05:44:30.123Z`.
pub fn fmt_ms(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fmt_ms_prints_utc_iso_8601() {
        assert_eq!(super::fmt_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::fmt_ms(1_764_654_270_123), "2025-12-02T05:44:30.123Z");
        assert_eq!(super::fmt_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
