//! The read side of traces: `GET /v1/sessions/{id}/traces` (filtered pages),
//! `/traces/{trace_id}` (one record) and `/traces/stream` (Server-Sent
//! Events: the records as they happen, from Redis when the server has it, so
//! a tail sees every instance). A workspace reads only its own sessions'
//! records, and of a live session only its current incarnation's.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Params, Workspace};
use super::{ApiError, AppState};
use crate::traces::tail::{Next, Tail};
use crate::traces::{TraceError, TracePage, TraceQuery, Traces};

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/traces", get(traces))
        .route("/v1/sessions/{id}/traces/stream", get(stream))
        .route("/v1/sessions/{id}/traces/{trace_id}", get(trace))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceParams {
    limit: Option<usize>,
    after: Option<String>,
    /// `request`, or a lifecycle kind (`state.reset`).
    kind: Option<String>,
    mirror: Option<String>,
    method: Option<String>,
    /// `402` or a class, `4xx`.
    status: Option<String>,
    /// A path prefix (`/m/ses_x/stripe/v1/customers`).
    path: Option<String>,
    /// Unix milliseconds, inclusive.
    since: Option<i64>,
    until: Option<i64>,
}

/// Most records one page of traces holds.
const MAX_TRACES: usize = 1000;

/// Records a stream's catch-up (`after` / `Last-Event-ID`) sends at most
/// before going live.
const MAX_CATCH_UP: usize = 10_000;

/// The server's traces and the query for the workspace's records of session
/// `id` (its current incarnation while it lives) with `p`'s filters; 404
/// when this server traces nothing, 400 for a bad filter.
async fn query(
    state: &AppState,
    ws: &str,
    id: &str,
    p: TraceParams,
) -> ApiResult<(Arc<Traces>, TraceQuery)> {
    let Some(traces) = state.traces.clone() else {
        return Err(ApiError::NotFound(
            "this server records no traces (mirra serve always does)".into(),
        ));
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=MAX_TRACES).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_TRACES}"
        )));
    }
    if let Some(s) = p.status.as_deref() {
        let ok = s.len() == 3
            && s.as_bytes()[0].is_ascii_digit()
            && (s[1..].bytes().all(|b| b.is_ascii_digit()) || &s[1..] == "xx");
        if !ok {
            return Err(ApiError::BadRequest(format!(
                "status must be a code (402) or a class (4xx), not {s:?}"
            )));
        }
    }
    let live = state.sessions.find(id).await.filter(|s| s.workspace == ws);
    let q = TraceQuery {
        session: id.to_string(),
        workspace: Some(ws.to_string()),
        incarnation: live.map(|s| s.incarnation),
        after: p.after,
        limit,
        kind: p.kind,
        mirror: p.mirror,
        method: p.method,
        status: p.status,
        path_prefix: p.path,
        since_ms: p.since,
        until_ms: p.until,
    };
    Ok((traces, q))
}

/// `GET /v1/sessions/{id}/traces?limit=&after=&kind=&mirror=&method=&status=&path=&since=&until=`:
/// the session's mirror requests and lifecycle events, oldest first, a page
/// at a time (`next` is the `after` of the next page).
async fn traces(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Params(p): Params<TraceParams>,
) -> ApiResult<Json<Value>> {
    let (traces, q) = query(&state, &ws, &id, p).await?;
    let page: TracePage = traces.sink().list(&q).await.map_err(trace_error)?;
    Ok(Json(json!({
        "object": "list",
        "data": page.data,
        "has_more": page.next.is_some(),
        "next": page.next,
        "url": format!("/v1/sessions/{id}/traces"),
    })))
}

/// `GET /v1/sessions/{id}/traces/stream` (the list's filters): Server-Sent
/// Events, one `trace` event per record as it happens (`id:` the trace id,
/// `data:` the record). With `after=` or a `Last-Event-ID` header (an
/// EventSource reconnecting) it first sends what came after that record.
/// A tail that fell behind gets a `lagged` event; a tail that loses its
/// source gets an `error` event and ends (reconnect with `Last-Event-ID`).
async fn stream(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    headers: HeaderMap,
    Params(p): Params<TraceParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let (traces, mut q) = query(&state, &ws, &id, p).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.after.take());
    // Subscribed before the catch-up reads, so nothing falls between them.
    let mut tail = Tail::start(&traces, q.clone()).await.map_err(trace_error)?;
    let mut backlog = Vec::new();
    if let Some(after) = after {
        let mut page_q = TraceQuery {
            after: Some(after),
            limit: MAX_TRACES,
            ..q
        };
        loop {
            let page = traces.sink().list(&page_q).await.map_err(trace_error)?;
            backlog.extend(page.data);
            match page.next {
                Some(next) if backlog.len() < MAX_CATCH_UP => page_q.after = Some(next),
                _ => break,
            }
        }
        if let Some(last) = backlog.last() {
            tail.seen_up_to(last.id.clone());
        }
    }
    let live = stream::unfold(Some(tail), |tail| async move {
        let mut tail = tail?;
        loop {
            match tail.next().await {
                Ok(Next::Idle) => continue,
                Ok(Next::Record(r)) => return Some((Ok(record_event(&r)), Some(tail))),
                Ok(Next::Lagged(n)) => {
                    let skipped = json!({"skipped_batches": n}).to_string();
                    return Some((
                        Ok(Event::default().event("lagged").data(skipped)),
                        Some(tail),
                    ));
                }
                Err(e) => {
                    let event = Event::default().event("error").data(e.to_string());
                    return Some((Ok(event), None));
                }
            }
        }
    });
    let events = stream::iter(backlog.into_iter().map(|r| Ok(record_event(&r)))).chain(live);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn record_event(r: &crate::traces::TraceRecord) -> Event {
    Event::default()
        .id(r.id.clone())
        .event("trace")
        .data(serde_json::to_string(r).unwrap_or_default())
}

/// `GET /v1/sessions/{id}/traces/{trace_id}`: one record.
async fn trace(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path((id, trace_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (traces, q) = query(&state, &ws, &id, TraceParams::default()).await?;
    let found = traces
        .sink()
        .get(&id, &trace_id)
        .await
        .map_err(trace_error)?;
    found
        .filter(|r| {
            q.workspace == r.workspace
                && q.incarnation
                    .as_ref()
                    .is_none_or(|i| r.incarnation.as_ref() == Some(i))
        })
        .map(|r| Json(json!(r)))
        .ok_or_else(|| ApiError::NotFound(format!("no trace {trace_id} in session {id}")))
}

/// A sink that cannot answer now is the caller's to retry (503), not a bug.
fn trace_error(e: TraceError) -> ApiError {
    match e {
        TraceError::Unavailable(m) => ApiError::Unavailable(m),
        other => ApiError::Session(crate::session::SessionError::Internal(other.to_string())),
    }
}
