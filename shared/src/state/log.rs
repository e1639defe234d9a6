//! Commit log entries: what one committed write, reset or restore did.

use serde::{Deserialize, Serialize};

use super::{StateError, StateResult};

/// One row a request changed: its table, primary key and new contents
/// (`None` when the row was deleted). The contents stay the JSON text change
/// capture wrote (an object of column → value): every write logs them, only
/// a replay reads them, so the write path never parses and re-serializes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowChange {
    #[serde(rename = "t")]
    pub table: String,
    pub pk: serde_json::Value,
    pub row: Option<Box<serde_json::value::RawValue>>,
}

/// An entry of the (session, mirror) commit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "Wire")]
pub enum LogEntry {
    /// The change set of one write request, applied in order.
    Changes { changes: Vec<RowChange> },
    /// The database was replaced by a seeded image (`images/…`).
    Reset { object: String },
    /// The database was replaced by a snapshot (`snapshots/…`).
    Restore { object: String },
}

/// How an entry reads: a plain struct, because an internally tagged enum
/// buffers its fields first and a [`RawValue`](serde_json::value::RawValue)
/// cannot be read from that buffer.
#[derive(Deserialize)]
struct Wire {
    kind: String,
    #[serde(default)]
    changes: Option<Vec<RowChange>>,
    #[serde(default)]
    object: Option<String>,
}

impl TryFrom<Wire> for LogEntry {
    type Error = String;

    fn try_from(w: Wire) -> Result<Self, String> {
        match (w.kind.as_str(), w.changes, w.object) {
            ("changes", Some(changes), _) => Ok(LogEntry::Changes { changes }),
            ("reset", _, Some(object)) => Ok(LogEntry::Reset { object }),
            ("restore", _, Some(object)) => Ok(LogEntry::Restore { object }),
            (kind, ..) => Err(format!("unknown or incomplete log entry kind {kind:?}")),
        }
    }
}

impl LogEntry {
    pub fn encode(&self) -> StateResult<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| StateError::Corrupt(e.to_string()))
    }

    pub fn decode(bytes: &[u8]) -> StateResult<Self> {
        serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(format!("log entry: {e}")))
    }

    /// Whether encoded entry `bytes` is a reset or restore. Change sets,
    /// nearly every entry, are told by how [`encode`](Self::encode) starts
    /// them, without parsing them (a cold load or checkpoint build then
    /// decodes each entry once); anything else is decoded.
    pub fn is_replacement(bytes: &[u8]) -> bool {
        !bytes.starts_with(br#"{"kind":"changes","#)
            && LogEntry::decode(bytes).is_ok_and(|e| e.replacement().is_some())
    }

    /// The object whose bytes replace the whole database, for reset and restore.
    pub fn replacement(&self) -> Option<&str> {
        match self {
            LogEntry::Changes { .. } => None,
            LogEntry::Reset { object } | LogEntry::Restore { object } => Some(object),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written_including_the_format_before_raw_rows() {
        // Written by Mirra before rows were kept raw: the same JSON.
        let old = br#"{"kind":"changes","changes":[{"t":"notes","pk":1,"row":{"id":1,"text":"a \"b\""}},{"t":"notes","pk":2,"row":null}]}"#;
        let LogEntry::Changes { changes } = LogEntry::decode(old).expect("decode") else {
            panic!("not a change set")
        };
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[0].row.as_ref().map(|r| r.get()),
            Some(r#"{"id":1,"text":"a \"b\""}"#)
        );
        assert!(changes[1].row.is_none());
        let again = LogEntry::Changes { changes }.encode().expect("encode");
        assert_eq!(again, old.to_vec(), "re-encoding changes nothing");
        for entry in [
            LogEntry::Reset {
                object: "images/a.sqlite".into(),
            },
            LogEntry::Restore {
                object: "checkpoints/x.sqlite".into(),
            },
        ] {
            let bytes = entry.encode().expect("encode");
            let back = LogEntry::decode(&bytes).expect("decode");
            assert_eq!(back.replacement(), entry.replacement());
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&entry)
            );
        }
        assert!(LogEntry::decode(br#"{"kind":"reset"}"#).is_err());
        assert!(!LogEntry::is_replacement(old));
        let reset = LogEntry::Reset {
            object: "images/a.sqlite".into(),
        };
        assert!(LogEntry::is_replacement(&reset.encode().expect("encode")));
    }
}
