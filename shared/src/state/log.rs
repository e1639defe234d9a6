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

/// First byte of a compressed entry (LZ4 block, size prepended): never the `{`
/// a JSON entry starts with, so entries logged before compression still read.
const LZ4: u8 = 0x04;

/// Change sets at least this long are stored compressed. A change set is
/// escaped JSON that repeats itself (an event embeds the object it is about),
/// so LZ4 shrinks it ~3×: a created customer's 1.7 KB went past what a SQLite
/// log row keeps in its page (~1 KB: the rest in an overflow page, ~3 pages
/// written per append) and is one DynamoDB write unit less.
const COMPRESS_FROM: usize = 256;

/// Bigger claims than this in a compressed entry's header are corruption, not
/// an allocation to attempt.
const MAX_ENTRY_BYTES: usize = 1 << 30;

/// The JSON length a compressed entry's body says it holds (LZ4's size
/// prefix: four bytes, little-endian), if it has one.
fn claimed_len(packed: &[u8]) -> Option<usize> {
    let prefix: [u8; 4] = packed.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(prefix) as usize)
}

impl LogEntry {
    /// A change set as [`drain_entry`](super::changes::drain_entry) wrote it
    /// (JSON), in the form the log stores: compressed when that pays.
    pub fn pack_changes(json: Vec<u8>) -> Vec<u8> {
        if json.len() < COMPRESS_FROM {
            return json;
        }
        let packed = lz4_flex::block::compress_prepend_size(&json);
        if packed.len() + 1 >= json.len() {
            return json;
        }
        let mut out = Vec::with_capacity(packed.len() + 1);
        out.push(LZ4);
        out.extend_from_slice(&packed);
        out
    }

    /// How long stored entry `bytes` is as JSON: what it costs to replay and
    /// how much it may grow a copy, compressed or not.
    pub fn json_len(bytes: &[u8]) -> usize {
        match bytes.split_first() {
            Some((&LZ4, packed)) => claimed_len(packed).unwrap_or(bytes.len()),
            _ => bytes.len(),
        }
    }

    pub fn encode(&self) -> StateResult<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| StateError::Corrupt(e.to_string()))
    }

    pub fn decode(bytes: &[u8]) -> StateResult<Self> {
        let json;
        let text = match bytes.split_first() {
            Some((&LZ4, packed)) => {
                let claimed = claimed_len(packed).unwrap_or(usize::MAX);
                if claimed > MAX_ENTRY_BYTES {
                    return Err(StateError::Corrupt(format!(
                        "log entry: compressed entry claims {claimed} bytes"
                    )));
                }
                json = lz4_flex::block::decompress_size_prepended(packed)
                    .map_err(|e| StateError::Corrupt(format!("log entry: {e}")))?;
                json.as_slice()
            }
            _ => bytes,
        };
        serde_json::from_slice(text).map_err(|e| StateError::Corrupt(format!("log entry: {e}")))
    }

    /// Whether encoded entry `bytes` is a reset or restore. Change sets,
    /// nearly every entry, are told by how [`encode`](Self::encode) or
    /// [`pack_changes`](Self::pack_changes) starts them, without parsing them
    /// (a cold load or checkpoint build then decodes each entry once);
    /// anything else is decoded.
    pub fn is_replacement(bytes: &[u8]) -> bool {
        !bytes.starts_with(&[LZ4])
            && !bytes.starts_with(br#"{"kind":"changes","#)
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

    /// A change set as a write logs it: a customer and the event that embeds it.
    fn customer_change_set() -> Vec<u8> {
        let customer = r#"{\"id\":\"cus_1\",\"object\":\"customer\",\"address\":null,\"balance\":0,\"email\":\"a@b.c\",\"invoice_settings\":{\"custom_fields\":null,\"default_payment_method\":null,\"footer\":null},\"metadata\":{},\"preferred_locales\":[],\"tax_exempt\":\"none\"}"#;
        format!(
            r#"{{"kind":"changes","changes":[{{"t":"customers","pk":1,"row":{{"id":"cus_1","data":"{customer}"}}}},{{"t":"events","pk":1,"row":{{"id":"evt_1","data":"{{\"data\":{{\"object\":{customer}}}}}"}}}}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn change_sets_are_stored_compressed_and_read_back_as_written() {
        let json = customer_change_set();
        LogEntry::decode(&json).expect("the plain entry is valid");
        let packed = LogEntry::pack_changes(json.clone());
        assert_eq!(packed[0], LZ4);
        assert_eq!(LogEntry::json_len(&packed), json.len());
        assert_eq!(LogEntry::json_len(&json), json.len());
        assert!(
            packed.len() * 3 < json.len() * 2,
            "{} bytes packed into {}",
            json.len(),
            packed.len()
        );
        assert!(!LogEntry::is_replacement(&packed));
        let (LogEntry::Changes { changes: a }, LogEntry::Changes { changes: b }) = (
            LogEntry::decode(&packed).expect("packed"),
            LogEntry::decode(&json).expect("plain"),
        ) else {
            panic!("not change sets")
        };
        let encode = |changes| LogEntry::Changes { changes }.encode().expect("encode");
        assert_eq!(encode(a), encode(b));
        // Too short to pay: left as JSON, which reads as before.
        let small = br#"{"kind":"changes","changes":[{"t":"notes","pk":1,"row":null}]}"#.to_vec();
        assert_eq!(LogEntry::pack_changes(small.clone()), small);
    }

    #[test]
    fn a_corrupt_compressed_entry_is_an_error_not_an_allocation_or_a_panic() {
        let packed = LogEntry::pack_changes(customer_change_set());
        let mut huge = packed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        for bad in [
            vec![LZ4],
            vec![LZ4, 1, 0],
            huge,
            packed[..packed.len() / 2].to_vec(),
        ] {
            assert!(
                matches!(LogEntry::decode(&bad), Err(StateError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
