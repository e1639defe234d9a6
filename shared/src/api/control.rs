//! The control plane: `/v1/sessions…` and `/v1/usage`, a thin JSON edge over
//! [`Sessions`](crate::session::Sessions).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Body, Workspace};
use super::view::session_json;
use super::{ApiError, AppState};
use crate::session::{CreateSession, ResetSession};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create).get(list))
        .route("/v1/sessions/{id}", get(show).delete(down))
        .route("/v1/sessions/{id}/reset", post(reset))
        .route("/v1/sessions/{id}/snapshots", post(snapshot).get(snapshots))
        .route("/v1/sessions/{id}/restore", post(restore))
        .route("/v1/usage", get(usage))
}

type ApiResult<T> = Result<T, ApiError>;

async fn create(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Body(req): Body<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let session = state.sessions.create(&ws, req).await?;
    let now = state.sessions.clock().now();
    Ok((
        StatusCode::CREATED,
        Json(session_json(&state, &session, now)),
    ))
}

async fn list(State(state): State<AppState>, Workspace(ws): Workspace) -> ApiResult<Json<Value>> {
    let now = state.sessions.clock().now();
    let data: Vec<Value> = state
        .sessions
        .list(&ws)
        .await?
        .iter()
        .map(|s| session_json(&state, s, now))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

async fn show(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = state.sessions.get(&ws, &id).await?;
    let now = state.sessions.clock().now();
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
) -> ApiResult<(StatusCode, Json<Value>)> {
    let snap = state.sessions.snapshot(&ws, &id).await?;
    Ok((StatusCode::CREATED, Json(to_value(&snap)?)))
}

async fn snapshots(
    State(state): State<AppState>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let list = state.sessions.snapshots(&ws, &id).await?;
    Ok(Json(json!({"object": "list", "data": to_value(&list)?})))
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

async fn usage(State(state): State<AppState>, Workspace(ws): Workspace) -> ApiResult<Json<Value>> {
    Ok(Json(to_value(&state.sessions.usage(&ws).await?)?))
}

fn to_value(v: &impl serde::Serialize) -> ApiResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::Session(crate::session::SessionError::Internal(e.to_string())))
}
