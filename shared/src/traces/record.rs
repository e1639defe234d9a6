//! One trace record: a mirror request as it was answered (`kind`
//! `request`), or a session's lifecycle event (`session.created`,
//! `state.reset`, `state.restored`, `snapshot.created`, `session.ended`,
//! `session.expired`). Bodies are kept
//! bounded and redacted (`redact`) before a record exists, so no sink ever
//! sees a secret.

use serde::{Deserialize, Serialize};

/// A record. Its `id` sorts by time: `tr_` + the Unix milliseconds (13 hex
/// digits) + a process-wide counter (8 hex digits, so records of one
/// millisecond keep the order they were made in) + 4 random hex digits (so
/// two instances never make the same id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    pub id: String,
    /// `request` for a mirror request.
    pub kind: String,
    pub session: String,
    /// The session incarnation and workspace, when the session was found.
    pub incarnation: Option<String>,
    pub workspace: Option<String>,
    pub mirror: Option<String>,
    /// Unix milliseconds, and the same as RFC 3339 UTC.
    pub time_ms: i64,
    pub time: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub status: Option<u16>,
    pub latency_us: Option<u64>,
    pub request_body: Option<String>,
    #[serde(default)]
    pub request_truncated: bool,
    pub response_body: Option<String>,
    #[serde(default)]
    pub response_truncated: bool,
    /// The vendor's request id header of the answer (`request-id`, `x-request-id`).
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The vendor events the request raised (Stripe events, Resend webhook
    /// events, Twilio status callbacks), in the order it raised them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<RaisedEvent>,
    /// What a lifecycle record says beyond its kind (`state.reset`: the
    /// seeds; `snapshot.created`: the snapshot …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl TraceRecord {
    /// A record of `kind` for `session` at `time_ms` with a fresh id and
    /// nothing else said yet: every maker fills in its part with struct
    /// update syntax.
    pub fn new(kind: &str, session: &str, time_ms: i64) -> Self {
        TraceRecord {
            id: new_id(time_ms),
            kind: kind.to_string(),
            session: session.to_string(),
            incarnation: None,
            workspace: None,
            mirror: None,
            time_ms,
            time: rfc3339(time_ms),
            method: None,
            path: None,
            query: None,
            status: None,
            latency_us: None,
            request_body: None,
            request_truncated: false,
            response_body: None,
            response_truncated: false,
            request_id: None,
            idempotency_key: None,
            events: Vec::new(),
            detail: None,
        }
    }
}

/// A vendor event a request raised: its id and type (`evt_…`,
/// `payment_intent.succeeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaisedEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A response's raised events, as a response extension: the mirror's
/// pipeline puts them there, the trace layer takes them.
#[derive(Debug, Clone)]
pub struct RaisedEvents(pub Vec<RaisedEvent>);

/// A fresh, time-sortable trace id for `time_ms`.
pub fn new_id(time_ms: i64) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let random: u16 = rand::random();
    format!("tr_{:013x}{n:08x}{random:04x}", time_ms.max(0))
}

/// `time_ms` as RFC 3339 UTC with milliseconds.
pub fn rfc3339(time_ms: i64) -> String {
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(time_ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids sort as their times do, and times read as RFC 3339.
    #[test]
    fn ids_sort_by_time() {
        let (a, b) = (new_id(1_700_000_000_000), new_id(1_700_000_000_001));
        assert!(a < b, "{a} {b}");
        assert_eq!(a.len(), 3 + 13 + 8 + 4);
        let (c, d) = (new_id(5), new_id(5));
        assert!(c < d, "one millisecond keeps the order: {c} {d}");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
