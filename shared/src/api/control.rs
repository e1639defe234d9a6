//! The control plane: `/v1/sessions…` and `/v1/snapshots…` (workspaces,
//! tokens and usage in `workspaces.rs`), a thin
//! JSON edge over [`Sessions`](crate::session::Sessions). Lists are Stripe-style
//! pages: `{"object":"list","data":[…],"has_more":…}`, `?limit=&starting_after=`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Body, Params, Workspace};
use super::view::session_json;
use super::{ApiError, AppState};
use crate::session::{
    CreateSession, ListSessions, ListSnapshots, Page, ResetSession, SessionError, Snapshot,
    TakeSnapshot,
};

/// The paths the control plane owns, with everything below them: they keep
/// priority over credential routing (Stripe's paths never collide with them).
const ROOTS: [&str; 6] = [
    "/v1/sessions",
    "/v1/snapshots",
    "/v1/usage",
    "/v1/health",
    "/v1/workspaces",
    "/v1/tokens",
];

/// Whether `path` is one of the control plane's (routed or not).
pub fn owns(path: &str) -> bool {
    ROOTS.iter().any(|root| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create).get(list))
        .route("/v1/sessions/{id}", get(show).delete(down))
        .route("/v1/sessions/{id}/reset", post(reset))
        .route("/v1/sessions/{id}/snapshots", post(snapshot).get(snapshots))
        .route("/v1/sessions/{id}/restore", post(restore))
        .route("/v1/sessions/{id}/deliveries", get(deliveries))
        .route("/v1/sessions/{id}/inbox", get(inbox))
        .route("/v1/sessions/{id}/inbox/{email}", get(inbox_message))
        .route("/v1/sessions/{id}/twilio/inbound", post(twilio_inbound))
        .merge(super::traces::router())
        .route("/v1/snapshots", get(workspace_snapshots))
        .route("/v1/snapshots/{id}", delete(delete_snapshot))
        .merge(super::workspaces::router())
        .route("/v1/health", get(health))
}

type ApiResult<T> = Result<T, ApiError>;

async fn create(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Body(req): Body<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let limits = state.workspaces.limits(&ws).await?;
    let session = state.sessions.create_within(&ws, &limits, req).await?;
    let now = state.sessions.clock().now_ms();
    Ok((
        StatusCode::CREATED,
        Json(session_json(&state, &session, now)),
    ))
}

async fn list(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Params(q): Params<ListSessions>,
) -> ApiResult<Json<Value>> {
    let now = state.sessions.clock().now_ms();
    let page = state.sessions.list(&ws, &q).await?;
    let data: Vec<Value> = page
        .data
        .iter()
        .map(|s| session_json(&state, s, now))
        .collect();
    Ok(Json(
        json!({"object": "list", "url": "/v1/sessions", "data": data, "has_more": page.has_more}),
    ))
}

async fn show(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = state.sessions.get(&ws, &id).await?;
    let now = state.sessions.clock().now_ms();
    Ok(Json(session_json(&state, &session, now)))
}

async fn down(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ended = state.sessions.down(&ws, &id).await?;
    Ok(Json(to_value(&ended)?))
}

async fn reset(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Body(req): Body<ResetSession>,
) -> ApiResult<Json<Value>> {
    let report = state.sessions.reset(&ws, &id, req).await?;
    Ok(Json(to_value(&report)?))
}

async fn snapshot(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Body(req): Body<TakeSnapshot>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let snap = state.sessions.snapshot(&ws, &id, req.keep).await?;
    Ok((StatusCode::CREATED, Json(snapshot_json(&snap)?)))
}

/// The snapshots this session (this incarnation of its id) took.
async fn snapshots(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Params(q): Params<ListSnapshots>,
) -> ApiResult<Json<Value>> {
    let page = state.sessions.snapshots(&ws, &id, &q).await?;
    snapshot_list(&format!("/v1/sessions/{id}/snapshots"), &page)
}

/// Every snapshot of the workspace, also those of ended sessions.
async fn workspace_snapshots(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Params(q): Params<ListSnapshots>,
) -> ApiResult<Json<Value>> {
    let page = state.sessions.workspace_snapshots(&ws, &q).await?;
    snapshot_list("/v1/snapshots", &page)
}

async fn delete_snapshot(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let deleted = state.sessions.delete_snapshot(&ws, &id).await?;
    Ok(Json(
        json!({"id": deleted.id, "object": "snapshot", "deleted": deleted.deleted}),
    ))
}

fn snapshot_json(snap: &Snapshot) -> ApiResult<Value> {
    let mut v = to_value(snap)?;
    v["object"] = "snapshot".into();
    Ok(v)
}

fn snapshot_list(url: &str, page: &Page<Snapshot>) -> ApiResult<Json<Value>> {
    let data = page
        .data
        .iter()
        .map(snapshot_json)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(
        json!({"object": "list", "url": url, "data": data, "has_more": page.has_more}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    snapshot: String,
}

async fn restore(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Body(req): Body<RestoreBody>,
) -> ApiResult<Json<Value>> {
    let report = state.sessions.restore(&ws, &id, &req.snapshot).await?;
    Ok(Json(to_value(&report)?))
}

/// `GET /v1/health`: the server answers, and what tracing has dropped (a
/// full queue, a sink buffer that overflowed while its sink was down) and
/// holds per sink — never silently. No token needed.
async fn health(State(state): State<AppState>) -> Json<Value> {
    let traces = state.traces.as_ref().map(|t| t.health());
    Json(json!({"status": "ok", "traces": traces}))
}

fn to_value(v: &impl serde::Serialize) -> ApiResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::Session(crate::session::SessionError::Internal(e.to_string())))
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    mirror: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/sessions/{id}/deliveries?mirror=stripe&limit=20`: the mirror's
/// newest webhook deliveries, newest first, each with every attempt (status,
/// latency, response excerpt) and, while pending, when the next one is due.
async fn deliveries(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Params(q): Params<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let mirror = q.mirror.unwrap_or_else(|| "stripe".to_string());
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    let ctx = state.sessions.workspace_context(&ws, &id, &mirror).await?;
    let data = crate::dispatch::deliveries(&ctx, limit)
        .await
        .map_err(|e| ApiError::Session(SessionError::Internal(e.to_string())))?;
    Ok(Json(
        json!({"object": "list", "data": data, "url": format!("/v1/sessions/{id}/deliveries")}),
    ))
}

#[derive(Deserialize)]
struct InboxQuery {
    to: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/sessions/{id}/inbox?to=someone@example.com&limit=20`: the emails
/// the session's Resend mirror sent, newest first, as their recipients would
/// get them (HTML and text, headers, attachments, recipients, links); `to`
/// keeps those addressed to one address (to, cc or bcc).
async fn inbox(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Params(q): Params<InboxQuery>,
) -> ApiResult<Json<Value>> {
    use crate::mirrors::resend::inbox;
    let limit = q.limit.unwrap_or(20);
    if !(1..=inbox::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {}",
            inbox::MAX_LIMIT
        )));
    }
    let ctx = state.sessions.workspace_context(&ws, &id, "resend").await?;
    let data = inbox::list(&ctx, q.to.as_deref(), limit)
        .await
        .map_err(|e| ApiError::Session(SessionError::Internal(e.to_string())))?;
    Ok(Json(
        json!({"object": "list", "data": data, "url": format!("/v1/sessions/{id}/inbox")}),
    ))
}

/// `GET /v1/sessions/{id}/inbox/{email_id}`: one sent email by its Resend id.
async fn inbox_message(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path((id, email)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = state.sessions.workspace_context(&ws, &id, "resend").await?;
    crate::mirrors::resend::inbox::get(&ctx, &email)
        .await
        .map_err(|e| ApiError::Session(SessionError::Internal(e.to_string())))?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no sent email {email} in session {id}")))
}

/// `POST /v1/sessions/{id}/twilio/inbound` with `{"from", "to", "body",
/// "media_urls"}`: an SMS arrives at the session's number `to`, is sent to
/// the app as Twilio sends it, and the app's TwiML replies go out; answers
/// the inbound message, each request made to the app and the replies.
async fn twilio_inbound(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    Body(arrival): Body<crate::mirrors::twilio::inbound::Arrival>,
) -> ApiResult<Json<Value>> {
    let ctx = state.sessions.workspace_context(&ws, &id, "twilio").await?;
    let door = crate::session::Door::new(state.sessions.clone());
    crate::mirrors::twilio::inbound::receive(&ctx, &door, arrival)
        .await
        .map(Json)
        .map_err(|e| {
            if e.status.is_client_error() {
                ApiError::BadRequest(format!("Twilio error {}: {}", e.code, e.message))
            } else {
                ApiError::Session(SessionError::Internal(e.to_string()))
            }
        })
}
