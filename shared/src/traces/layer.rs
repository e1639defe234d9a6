//! The one place mirror requests become trace records: a middleware on the
//! mirror plane (`api::router`), so no handler writes traces itself. It
//! sees the request after host and credential routing (its path names the
//! session and mirror), and hands the record with both bodies (shared bytes,
//! redacted and bounded by the writer) to the writer without waiting.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::record::{RaisedEvents, TraceRecord};
use super::recorder::{Raw, Traces};
use super::redact;

/// Longest body kept in a record, bytes; longer ones are cut and marked.
pub const MAX_BODY: usize = 16 * 1024;

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn trace(State(traces): State<Arc<Traces>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let Some((session, mirror)) = session_and_mirror(&path) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The server has read the body before routing (and bounded it), so this
    // only gathers bytes already in memory.
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let idempotency_key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let method = parts.method.to_string();
    let query = parts.uri.query().map(redact::body);
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let (mut rparts, rbody) = res.into_parts();
    let rbytes = to_bytes(rbody, usize::MAX).await.unwrap_or_default();
    let request_id = ["request-id", "x-request-id", "twilio-request-id"]
        .iter()
        .find_map(|h| rparts.headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let now = traces.now_ms();
    let record = TraceRecord {
        mirror: Some(mirror.to_string()),
        method: Some(method),
        path: Some(path.clone()),
        query,
        status: Some(rparts.status.as_u16()),
        latency_us: Some(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)),
        request_id,
        idempotency_key,
        events: rparts
            .extensions
            .remove::<RaisedEvents>()
            .map(|r| r.0)
            .unwrap_or_default(),
        ..TraceRecord::new("request", session, now)
    };
    // The bodies are shared, not copied; the writer redacts them.
    traces.record_raw(Raw {
        record,
        request: bytes,
        response: rbytes.clone(),
    });
    Response::from_parts(rparts, Body::from(rbytes))
}

/// How long a request waits for the sinks before it answers anyway (in the
/// flush-each-request mode): records still buffered then wait for the next
/// request of the same process.
pub const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The middleware of the flush-each-request mode (AWS Lambda, where nothing
/// runs after a response returns): the response waits until every record
/// made so far — the request's own, and lifecycle records — is in the sinks,
/// at most [`FLUSH_WAIT`].
pub async fn flush_before_answering(
    State(traces): State<Arc<Traces>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    if tokio::time::timeout(FLUSH_WAIT, traces.flush())
        .await
        .is_err()
    {
        tracing::warn!(
            "trace sinks did not take this request's records in time; they stay buffered"
        );
    }
    res
}

/// `/m/{session}/{mirror}/…` → its session and mirror.
fn session_and_mirror(path: &str) -> Option<(&str, &str)> {
    let mut parts = path.strip_prefix("/m/")?.splitn(3, '/');
    let session = parts.next().filter(|s| !s.is_empty())?;
    let mirror = parts.next().filter(|m| !m.is_empty())?;
    Some((session, mirror))
}

/// A body as recorded: redacted, then cut to [`MAX_BODY`] on a character
/// boundary; `None` when empty.
pub fn kept(bytes: &[u8]) -> (Option<String>, bool) {
    if bytes.is_empty() {
        return (None, false);
    }
    let mut text = redact::body(&String::from_utf8_lossy(bytes));
    if text.len() <= MAX_BODY {
        return (Some(text), false);
    }
    let mut cut = MAX_BODY;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    (Some(text), true)
}
