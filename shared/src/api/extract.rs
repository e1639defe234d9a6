//! Control-plane extractors: the workspace behind a bearer token (and its
//! scope), and JSON bodies
//! whose failures come back as [`ApiError`]s instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::workspace::{Principal, Scope};

/// The workspace the request's `Authorization: Bearer <token>` belongs to,
/// once its token's scope allows the request: `read` for `GET`/`HEAD`,
/// `write` for the rest.
pub struct Workspace(pub String);

impl FromRequestParts<AppState> for Workspace {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?.0;
        let needs = if parts.method == Method::GET || parts.method == Method::HEAD {
            Scope::Read
        } else {
            Scope::Write
        };
        require(&caller, needs)?;
        Ok(Workspace(caller.workspace))
    }
}

/// A token whose scope is below `needs` gets a 403 saying which it needs.
pub fn require(caller: &Principal, needs: Scope) -> Result<(), ApiError> {
    if caller.scope >= needs {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "insufficient_scope",
            message: format!(
                "this token's scope is {}; this request needs {}",
                caller.scope.as_str(),
                needs.as_str()
            ),
        })
    }
}

/// Who the request's bearer token is, whatever it asks for; handlers that
/// need more than the method-based scope check it themselves.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer <workspace token>".into())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be `Bearer <workspace token>`".into())
            })?;
        state
            .workspaces
            .authenticate(token)
            .await?
            .map(Caller)
            .ok_or_else(|| ApiError::Unauthorized("invalid or revoked workspace token".into()))
    }
}

/// A query string (`?limit=10&starting_after=…`); unknown or malformed
/// parameters are a 400 in the plane's shape.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
    }
}

/// A JSON body; an empty body reads as `{}` so `POST …/reset` needs none.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest(format!("could not read the request body: {e}"))
            }
        })?;
        let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(slice)
            .map(Body)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
    }
}
