//! Twilio's error shape: `{"code", "message", "more_info", "status"}`. Every
//! failure of the mirror becomes a [`TwilioError`] and leaves through its one
//! `IntoResponse` edge, so twilio-python raises `TwilioRestException` and
//! twilio-node `RestException` with the code and message Twilio would give.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::mirrors::toolkit::list::ListError;
use crate::mirrors::toolkit::params::ParamError;
use crate::mirrors::vendor::{limit_in_words, VendorError};
use crate::session::SessionError;
use crate::state::StateError;

/// One refusal in Twilio's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct TwilioError {
    pub status: StatusCode,
    /// Twilio's error code (`21211`, `20404`, …); its page is `more_info`.
    pub code: u32,
    pub message: String,
    /// For a 429: when to retry (`Retry-After`, whole seconds).
    pub retry_after_ms: Option<i64>,
}

/// Twilio's codes the mirror answers with, named once.
pub mod codes {
    /// Generic bad parameter (missing, mistyped, out of enum).
    pub const INVALID_PARAMETER: u32 = 20001;
    /// Wrong or missing credentials.
    pub const AUTHENTICATE: u32 = 20003;
    /// The resource is in a state that does not allow this (delete an
    /// undelivered message, cancel one that is not scheduled).
    pub const INVALID_STATE: u32 = 20009;
    pub const NOT_FOUND: u32 = 20404;
    pub const TOO_MANY_REQUESTS: u32 = 20429;
    pub const INTERNAL: u32 = 20500;
}

impl TwilioError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        TwilioError {
            status,
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A 400 with `code`.
    pub fn bad(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Twilio's 404 for a resource URL that names nothing.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("The requested resource {path} was not found"),
        )
    }

    /// 500; the detail goes to the log, never to the body.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "twilio mirror internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "Internal Server Error",
        )
    }

    /// The body as Twilio writes it.
    pub fn body(&self) -> String {
        json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        })
        .to_string()
    }
}

impl IntoResponse for TwilioError {
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

impl From<VendorError> for TwilioError {
    fn from(e: VendorError) -> Self {
        match e {
            VendorError::NotFound { message } => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            VendorError::BadRequest { message, .. } => Self::bad(codes::INVALID_PARAMETER, message),
            VendorError::Unauthorized { message } => {
                Self::new(StatusCode::UNAUTHORIZED, codes::AUTHENTICATE, message)
            }
            VendorError::RateLimited { retry_after_ms } => TwilioError {
                retry_after_ms: Some(retry_after_ms),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::TOO_MANY_REQUESTS,
                    "Too Many Requests. Mirra: this session's rate limit (mirra up --rate-limit) \
                     is spent; see the Retry-After header.",
                )
            },
            VendorError::Busy => TwilioError {
                retry_after_ms: Some(1000),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::TOO_MANY_REQUESTS,
                    "Too Many Requests. Mirra: the session is busy with other requests; retry.",
                )
            },
            VendorError::Gone { message, .. } => {
                Self::new(StatusCode::GONE, codes::NOT_FOUND, message)
            }
            VendorError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::INVALID_PARAMETER,
                format!(
                    "Request body too large: requests to the Twilio mirror are limited to {}.",
                    limit_in_words(limit)
                ),
            ),
            VendorError::Timeout { after } => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                codes::INVALID_PARAMETER,
                format!(
                    "Request body timed out: it did not arrive within {} s.",
                    after.as_secs_f64()
                ),
            ),
            VendorError::Internal(m) => Self::internal(m),
        }
    }
}

impl From<SessionError> for TwilioError {
    fn from(e: SessionError) -> Self {
        VendorError::from(e).into()
    }
}

impl From<StateError> for TwilioError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Contention(_) => VendorError::Busy.into(),
            other => Self::internal(other),
        }
    }
}

impl From<rusqlite::Error> for TwilioError {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(format!("sqlite: {e}"))
    }
}

impl From<ListError> for TwilioError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::NoSuchCursor { id, .. } => Self::bad(
                codes::INVALID_PARAMETER,
                format!("Invalid PageToken: it names no resource ({id})."),
            ),
            ListError::Sql(e) => e.into(),
        }
    }
}

/// A parameter the schema (from Twilio's OpenAPI) refuses, in Twilio's words
/// (`Missing required parameter To in the post body`); resources that have a
/// code of their own for a parameter (21604 for a message's `To`) map it
/// first (`pipeline`).
impl From<ParamError> for TwilioError {
    fn from(e: ParamError) -> Self {
        let p = e.param().to_string();
        let message = match e {
            ParamError::Missing { .. } => {
                format!("Missing required parameter {p} in the post body")
            }
            ParamError::InvalidInteger { value, .. } => {
                format!("Invalid parameter {p}: {value} is not an integer")
            }
            ParamError::InvalidNumber { value, .. } => {
                format!("Invalid parameter {p}: {value} is not a number")
            }
            ParamError::InvalidBoolean { value, .. } => {
                format!("Invalid parameter {p}: {value} is not true or false")
            }
            ParamError::NotInEnum { value, allowed, .. } => format!(
                "Invalid parameter {p}: {value} is not one of {}",
                allowed.join(", ")
            ),
            ParamError::TooLong { max, .. } => {
                format!("Invalid parameter {p}: longer than {max} characters")
            }
            _ => format!("Invalid parameter {p}"),
        };
        Self::bad(codes::INVALID_PARAMETER, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body has Twilio's four fields, `more_info` naming the code's page.
    #[test]
    fn the_body_is_twilios_four_fields() {
        let e = TwilioError::bad(21211, "The 'To' number 1 is not a valid phone number.");
        let v: serde_json::Value = serde_json::from_str(&e.body()).expect("json");
        assert_eq!(
            v,
            json!({
                "code": 21211,
                "message": "The 'To' number 1 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            })
        );
    }

    /// A missing parameter reads as Twilio words it.
    #[test]
    fn missing_parameters_read_as_twilio_words_them() {
        let e = TwilioError::from(ParamError::Missing {
            param: "FriendlyName".into(),
        });
        assert_eq!(e.code, codes::INVALID_PARAMETER);
        assert_eq!(
            e.message,
            "Missing required parameter FriendlyName in the post body"
        );
    }
}
