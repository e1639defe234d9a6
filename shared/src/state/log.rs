//! Commit log entries: what one committed write, reset or restore did.

use serde::{Deserialize, Serialize};

use super::{StateError, StateResult};

/// One row a request changed: its table, primary key and new contents
/// (`None` when the row was deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    #[serde(rename = "t")]
    pub table: String,
    pub pk: serde_json::Value,
    pub row: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An entry of the (session, mirror) commit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEntry {
    /// The change set of one write request, applied in order.
    Changes { changes: Vec<RowChange> },
    /// The database was replaced by a seeded image (`images/…`).
    Reset { object: String },
    /// The database was replaced by a snapshot (`snapshots/…`).
    Restore { object: String },
}

impl LogEntry {
    pub fn encode(&self) -> StateResult<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| StateError::Corrupt(e.to_string()))
    }

    pub fn decode(bytes: &[u8]) -> StateResult<Self> {
        serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(format!("log entry: {e}")))
    }

    /// The object whose bytes replace the whole database, for reset and restore.
    pub fn replacement(&self) -> Option<&str> {
        match self {
            LogEntry::Changes { .. } => None,
            LogEntry::Reset { object } | LogEntry::Restore { object } => Some(object),
        }
    }
}
