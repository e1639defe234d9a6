//! Workspaces, tokens and usage on the control plane: `/v1/workspaces…`
//! (the operator's token), `/v1/tokens…` (a workspace's `admin` token) and
//! `/v1/usage` (any token of the workspace; the operator may name one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{require, Body, Caller, Params};
use super::{ApiError, AppState};
use crate::session::metering::Period;
use crate::session::page_limit;
use crate::workspace::{CreateToken, CreateWorkspace, Principal, Scope, UpdateWorkspace};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/workspaces",
            post(create_workspace).get(list_workspaces),
        )
        .route(
            "/v1/workspaces/{id}",
            get(show_workspace).post(update_workspace),
        )
        .route("/v1/tokens", post(create_token).get(list_tokens))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/usage", get(usage))
}

type ApiResult<T> = Result<T, ApiError>;

fn operator(caller: &Principal) -> ApiResult<()> {
    if caller.operator {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "operator_only",
            message: "managing workspaces needs the operator's token".into(),
        })
    }
}

async fn create_workspace(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(req): Body<CreateWorkspace>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    operator(&caller)?;
    let ws = state.workspaces.create_workspace(req).await?;
    Ok((StatusCode::CREATED, Json(ws)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    starting_after: Option<String>,
}

async fn list_workspaces(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Value>> {
    operator(&caller)?;
    let limit = page_limit(q.limit)?;
    let (data, has_more) = state
        .workspaces
        .list_workspaces(q.starting_after.as_deref(), limit)
        .await?;
    Ok(Json(
        json!({"object": "list", "url": "/v1/workspaces", "data": data, "has_more": has_more}),
    ))
}

/// The operator sees any workspace; a workspace's own tokens see theirs.
async fn show_workspace(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if !caller.operator && caller.workspace != id {
        return Err(ApiError::NotFound(format!("no workspace {id}")));
    }
    Ok(Json(state.workspaces.get_workspace(&id).await?))
}

async fn update_workspace(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Body(req): Body<UpdateWorkspace>,
) -> ApiResult<Json<Value>> {
    operator(&caller)?;
    Ok(Json(state.workspaces.update_workspace(&id, req).await?))
}

async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(req): Body<CreateToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require(&caller, Scope::Admin)?;
    let token = state
        .workspaces
        .create_token(&caller.workspace, req)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

async fn list_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Value>> {
    require(&caller, Scope::Admin)?;
    let data = state.workspaces.list_tokens(&caller.workspace).await?;
    Ok(Json(
        json!({"object": "list", "url": "/v1/tokens", "data": data, "has_more": false}),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    require(&caller, Scope::Admin)?;
    state
        .workspaces
        .revoke_token(&caller.workspace, &id)
        .await?;
    Ok(Json(json!({"id": id, "object": "token", "deleted": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageQuery {
    /// `YYYY-MM`; the current month when absent.
    period: Option<String>,
    /// Another workspace's usage: the operator's token only.
    workspace: Option<String>,
}

/// `GET /v1/usage?period=2026-12`: the workspace's session-minutes that
/// month, with its plan's monthly allowance and what is left of it.
async fn usage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(q): Params<UsageQuery>,
) -> ApiResult<Json<Value>> {
    require(&caller, Scope::Read)?;
    let workspace = match q.workspace {
        Some(ws) if ws != caller.workspace => {
            operator(&caller)?;
            ws
        }
        _ => caller.workspace,
    };
    let period = match q.period.as_deref() {
        None => Period::of_ms(state.sessions.clock().now_ms()),
        Some(p) => Period::parse(p).ok_or_else(|| {
            ApiError::BadRequest(format!("period must be a month as YYYY-MM, not {p:?}"))
        })?,
    };
    let (plan, limits) = state.workspaces.plan_of(&workspace).await?;
    let usage = state.sessions.usage(&workspace, period).await?;
    let mut v = serde_json::to_value(&usage)
        .map_err(|e| ApiError::Session(crate::session::SessionError::Internal(e.to_string())))?;
    v["object"] = "usage".into();
    v["plan"] = json!(plan);
    v["minutes_per_month"] = limits.minutes_per_month.into();
    v["minutes_remaining"] = limits
        .minutes_per_month
        .map(|max| max.saturating_sub(usage.total_minutes))
        .into();
    Ok(Json(v))
}
