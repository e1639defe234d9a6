//! The control plane's one error edge: `{"error":{"type","message"}}` with a 4xx
//! for anything the caller can fix.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::session::SessionError;
use crate::workspace::WorkspaceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the 1 MiB limit")]
    TooLarge,
    /// The token may not do this (403), with a `code` saying why.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A backing service (a trace sink) does not answer: try again later.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<WorkspaceError> for ApiError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Invalid(m) => ApiError::BadRequest(m),
            WorkspaceError::NotFound(m) => ApiError::NotFound(m),
            WorkspaceError::Conflict(m) => ApiError::Conflict(m),
            WorkspaceError::Disabled => ApiError::NotFound(e.to_string()),
            WorkspaceError::Storage(e) => ApiError::Session(SessionError::from(e)),
        }
    }
}

impl ApiError {
    /// A machine-readable `code` beside `type` where a client must tell cases
    /// apart: a 404 for the session (forget it) from one for a snapshot (keep it).
    fn code(&self) -> Option<&'static str> {
        match self {
            ApiError::Forbidden { code, .. } => Some(code),
            ApiError::Session(SessionError::Plan(p)) => Some(p.code),
            ApiError::Session(SessionError::NotFound(_)) => Some("session_not_found"),
            ApiError::Session(SessionError::NoSnapshot(_)) => Some("snapshot_not_found"),
            ApiError::Session(SessionError::Gone { reason, .. }) if reason == "expired" => {
                Some("session_expired")
            }
            ApiError::Session(SessionError::Gone { .. }) => Some("session_ended"),
            _ => None,
        }
    }

    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Session(e) => match e {
                SessionError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                SessionError::NotFound(_) | SessionError::NoSnapshot(_) => {
                    (StatusCode::NOT_FOUND, "not_found")
                }
                SessionError::Gone { .. } => (StatusCode::GONE, "gone"),
                SessionError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                SessionError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
                SessionError::Plan(p) if p.quota => (StatusCode::PAYMENT_REQUIRED, "plan_limit"),
                SessionError::Plan(_) => (StatusCode::FORBIDDEN, "plan_limit"),
                SessionError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_type();
        if status.is_server_error() {
            tracing::error!(error = %self, "control plane request failed");
        }
        let mut error = serde_json::json!({"type": kind, "message": self.to_string()});
        if let Some(code) = self.code() {
            error["code"] = code.into();
        }
        if let ApiError::Session(SessionError::Gone {
            id,
            reason,
            ended_at_ms,
        }) = &self
        {
            error["session"] = id.as_str().into();
            error["reason"] = reason.as_str().into();
            error["ended_at"] = crate::session::fmt_ms(*ended_at_ms).into();
            error["ended_at_ms"] = (*ended_at_ms).into();
        }
        (status, Json(serde_json::json!({ "error": error }))).into_response()
    }
}
