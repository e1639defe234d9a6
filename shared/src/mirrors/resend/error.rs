//! Resend's error shape: `{"statusCode", "name", "message"}`. Every failure of the
//! mirror becomes a [`ResendError`] and leaves through its one `IntoResponse`
//! edge, so the SDKs raise what they raise against Resend (resend-python maps
//! `(statusCode, name)` to `MissingApiKeyError`, `ValidationError`, …; resend-node
//! returns the body as its `error`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::mirrors::toolkit::list::ListError;
use crate::mirrors::toolkit::params::ParamError;
use crate::mirrors::vendor::{limit_in_words, VendorError};
use crate::session::SessionError;
use crate::state::StateError;

/// One refusal in Resend's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {name}: {message}")]
pub struct ResendError {
    pub status: StatusCode,
    /// Resend's error name (`validation_error`, `not_found`, …).
    pub name: &'static str,
    pub message: String,
    /// For a 429: when to retry (the `retry-after` header, whole seconds).
    pub retry_after_ms: Option<i64>,
}

impl ResendError {
    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        ResendError {
            status,
            name,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// 422 `validation_error`: the request is well-formed JSON but wrong.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            message,
        )
    }

    /// 422 `missing_required_field`.
    pub fn missing_field(field: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_required_field",
            format!("Missing `{field}` field."),
        )
    }

    /// 404 `not_found` for an object id.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 500 `application_error`. The detail goes to the log, never to the body.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "resend mirror internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application_error",
            "Internal server error. We are unable to process your request right now, please try again later.",
        )
    }

    /// The body as Resend writes it.
    pub fn body(&self) -> String {
        json!({
            "statusCode": self.status.as_u16(),
            "name": self.name,
            "message": self.message,
        })
        .to_string()
    }
}

impl IntoResponse for ResendError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, self.body());
        if let Some(ms) = self.retry_after_ms {
            let secs = (ms.max(0) + 999) / 1000;
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// A JSON response from an already serialized body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

impl From<VendorError> for ResendError {
    fn from(e: VendorError) -> Self {
        match e {
            VendorError::NotFound { message } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            VendorError::BadRequest { message, .. } => Self::validation(message),
            VendorError::Unauthorized { message } => {
                Self::new(StatusCode::UNAUTHORIZED, "missing_api_key", message)
            }
            VendorError::RateLimited { retry_after_ms } => ResendError {
                retry_after_ms: Some(retry_after_ms),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    "Too many requests. Mirra: this session's rate limit (mirra up --rate-limit) is spent; \
                     see the retry-after header.",
                )
            },
            VendorError::Busy => ResendError {
                retry_after_ms: Some(1000),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    "Too many requests. Mirra: the session is busy with other requests; retry.",
                )
            },
            VendorError::Gone {
                reason, message, ..
            } => Self::new(
                StatusCode::GONE,
                if reason == "expired" {
                    "session_expired"
                } else {
                    "session_ended"
                },
                message,
            ),
            VendorError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "validation_error",
                format!(
                    "Request body too large: requests to the Resend mirror are limited to {}.",
                    limit_in_words(limit)
                ),
            ),
            VendorError::Timeout { after } => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "validation_error",
                format!(
                    "Request body timed out: it did not arrive within {} s.",
                    after.as_secs_f64()
                ),
            ),
            VendorError::Internal(m) => Self::internal(m),
        }
    }
}

impl From<SessionError> for ResendError {
    fn from(e: SessionError) -> Self {
        VendorError::from(e).into()
    }
}

impl From<StateError> for ResendError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Contention(_) => VendorError::Busy.into(),
            other => Self::internal(other),
        }
    }
}

impl From<rusqlite::Error> for ResendError {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(format!("sqlite: {e}"))
    }
}

impl From<ListError> for ResendError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::NoSuchCursor { id, .. } => {
                Self::validation(format!("The pagination cursor `{id}` names no email."))
            }
            ListError::Sql(e) => e.into(),
        }
    }
}

/// A parameter the schema (from Resend's OpenAPI) refuses, in Resend's words:
/// a missing field is `missing_required_field`, the rest `validation_error`.
impl From<ParamError> for ResendError {
    fn from(e: ParamError) -> Self {
        let field = e.param().to_string();
        match e {
            ParamError::Missing { .. } => Self::missing_field(&field),
            ParamError::Unknown { .. } => {
                Self::validation(format!("Invalid `{field}` field: it is not a known field."))
            }
            ParamError::InvalidInteger { value, .. } => Self::validation(format!(
                "Invalid `{field}` field: expected an integer, got {value}."
            )),
            ParamError::InvalidNumber { value, .. } => Self::validation(format!(
                "Invalid `{field}` field: expected a number, got {value}."
            )),
            ParamError::InvalidBoolean { value, .. } => Self::validation(format!(
                "Invalid `{field}` field: expected a boolean, got {value}."
            )),
            ParamError::NotInEnum { allowed, .. } => Self::validation(format!(
                "Invalid `{field}` field: must be one of {}.",
                allowed.join(", ")
            )),
            ParamError::TooLong { max, .. } => Self::validation(format!(
                "Invalid `{field}` field: must be at most {max} characters."
            )),
            ParamError::Empty { .. } => {
                Self::validation(format!("Invalid `{field}` field: it cannot be empty."))
            }
            ParamError::ExpectedObject { .. } => {
                Self::validation(format!("Invalid `{field}` field: expected an object."))
            }
            ParamError::ExpectedArray { .. } => {
                Self::validation(format!("Invalid `{field}` field: expected an array."))
            }
            ParamError::ExpectedString { .. } => {
                Self::validation(format!("Invalid `{field}` field: expected a string."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body has exactly Resend's three fields, the status among them.
    #[test]
    fn the_body_is_resends_three_fields() {
        let e = ResendError::missing_field("to");
        let v: serde_json::Value = serde_json::from_str(&e.body()).expect("json");
        assert_eq!(
            v,
            json!({"statusCode": 422, "name": "missing_required_field", "message": "Missing `to` field."})
        );
    }

    /// A rate-limited answer says when to retry, rounded up to whole seconds.
    #[test]
    fn rate_limited_answers_carry_retry_after() {
        let res = ResendError::from(VendorError::RateLimited {
            retry_after_ms: 1500,
        })
        .into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            res.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()),
            Some(&b"2"[..])
        );
    }
}
