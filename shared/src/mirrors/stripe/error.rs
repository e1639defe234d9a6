//! Stripe's error shape: `{"error": {"type", "code"?, "message", "param"?, "doc_url"?}}`.
//! Every failure of the mirror becomes a [`StripeError`] and leaves through its one
//! `IntoResponse` edge, so SDKs raise the same exception classes they raise
//! against Stripe (`InvalidRequestError`, `AuthenticationError`, …).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::mirrors::vendor::{limit_in_words, VendorError};
use crate::session::SessionError;
use crate::state::StateError;

/// Stripe's message for `lock_timeout`; SDKs retry a 429 carrying it.
const LOCK_TIMEOUT: &str =
    "This object cannot be accessed right now because another API request or \
Stripe process is currently accessing it. If you see this error intermittently, retry the request. \
If you see this error frequently and are making multiple concurrent requests to a single object, \
make your requests serially or at a lower rate.";

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// `invalid_request_error`: bad parameters, unknown objects or URLs (400/404/410/413).
    #[error("{message}")]
    InvalidRequest {
        status: StatusCode,
        code: Option<&'static str>,
        message: String,
        param: Option<String>,
    },
    /// A missing or wrong API key (401); Stripe types these `invalid_request_error` too.
    #[error("{message}")]
    Authentication {
        code: Option<&'static str>,
        message: String,
    },
    /// An idempotency key reused with other parameters or on another endpoint (400).
    #[error("{message}")]
    Idempotency { message: String },
    /// `card_error` (402): a card was declined, or its number, expiry or CVC is wrong.
    #[error("{}", .0.message)]
    Card(Box<CardError>),
    /// Other writers kept winning the race for this mirror (429 `lock_timeout`).
    #[error("lock timeout")]
    LockTimeout,
    /// The session's request budget is spent (429 `rate_limit`).
    #[error("rate limited")]
    RateLimited,
    /// Not the caller's fault (500 `api_error`); details go to the log, not the body.
    #[error("internal: {0}")]
    Internal(String),
}

/// A `card_error`'s fields.
#[derive(Debug, Clone, PartialEq)]
pub struct CardError {
    pub code: &'static str,
    pub decline_code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// More fields of the error hash (`payment_intent`, `payment_method`, `charge`).
    pub extra: Map<String, Value>,
}

impl StripeError {
    /// A 402 `card_error` (see `cards::Decline::error`).
    pub fn card(
        code: &'static str,
        decline_code: Option<&'static str>,
        message: impl Into<String>,
        param: Option<&str>,
    ) -> Self {
        StripeError::Card(Box::new(CardError {
            code,
            decline_code,
            message: message.into(),
            param: param.map(str::to_string),
            extra: Map::new(),
        }))
    }

    /// Adds a field to a card error's hash (`payment_intent`, `payment_method` …);
    /// other errors are returned unchanged.
    pub fn with(mut self, field: &str, value: Value) -> Self {
        if let StripeError::Card(e) = &mut self {
            e.extra.insert(field.to_string(), value);
        }
        self
    }

    /// A 400 `invalid_request_error` without a code.
    pub fn invalid(message: impl Into<String>, param: impl Into<String>) -> Self {
        StripeError::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            code: None,
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// A 400 `invalid_request_error` with one of Stripe's error codes.
    pub fn invalid_code(
        code: &'static str,
        message: impl Into<String>,
        param: impl Into<String>,
    ) -> Self {
        StripeError::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            code: Some(code),
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// `Received unknown parameter: foo`.
    pub fn unknown_parameter(param: &str) -> Self {
        Self::invalid_code(
            "parameter_unknown",
            format!("Received unknown parameter: {param}"),
            param,
        )
    }

    /// `Missing required param: foo.`
    pub fn missing_parameter(param: &str) -> Self {
        Self::invalid_code(
            "parameter_missing",
            format!("Missing required param: {param}."),
            param,
        )
    }

    /// `Invalid integer: abc`.
    pub fn invalid_integer(param: &str, raw: &str) -> Self {
        Self::invalid_code(
            "parameter_invalid_integer",
            format!("Invalid integer: {raw}"),
            param,
        )
    }

    /// An empty string for a parameter that cannot be unset.
    pub fn invalid_empty(param: &str) -> Self {
        Self::invalid_code(
            "parameter_invalid_empty",
            format!(
                "You passed an empty string for '{param}'. We assume empty values are an attempt to \
                 unset a parameter; however '{param}' cannot be unset. You should remove '{param}' \
                 from your request or supply a non-empty value."
            ),
            param,
        )
    }

    /// The object a URL names does not exist (404 `resource_missing`).
    pub fn no_such(resource: &str, id: &str, param: &str) -> Self {
        StripeError::InvalidRequest {
            status: StatusCode::NOT_FOUND,
            code: Some("resource_missing"),
            message: format!("No such {resource}: '{id}'"),
            param: Some(param.to_string()),
        }
    }

    /// An object a parameter refers to does not exist (400 `resource_missing`).
    pub fn no_such_param(resource: &str, id: &str, param: &str) -> Self {
        Self::invalid_code(
            "resource_missing",
            format!("No such {resource}: '{id}'"),
            param,
        )
    }

    /// A parameter of Stripe's API that this mirror does not emulate yet: a clear
    /// 400 beats silently ignoring it.
    pub fn unsupported(param: &str, what: &str) -> Self {
        Self::invalid(
            format!(
                "The parameter '{param}' is not supported by this Stripe mirror yet ({what}). \
                 Remove it from the request."
            ),
            param,
        )
    }

    /// `Unrecognized request URL (GET: /v1/foo)…`, Stripe's 404 for unknown routes
    /// and for known routes with another method.
    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        StripeError::InvalidRequest {
            status: StatusCode::NOT_FOUND,
            code: None,
            message: format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/."
            ),
            param: None,
        }
    }

    /// A route of Stripe's API that this mirror does not serve yet, said plainly
    /// (not Stripe's "contact support" text for URLs that do not exist).
    pub fn not_emulated(method: &str, path: &str, operation: &str) -> Self {
        StripeError::InvalidRequest {
            status: StatusCode::NOT_FOUND,
            code: Some("not_emulated"),
            message: format!(
                "Mirra does not emulate {method} {path} ({operation}) yet. \
                 The Stripe mirror's README section lists what it emulates."
            ),
            param: None,
        }
    }

    /// A request-level problem with no parameter (a body that cannot be read, …).
    pub fn bad_request(status: StatusCode, message: impl Into<String>) -> Self {
        StripeError::InvalidRequest {
            status,
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            StripeError::InvalidRequest { status, .. } => *status,
            StripeError::Authentication { .. } => StatusCode::UNAUTHORIZED,
            StripeError::Idempotency { .. } => StatusCode::BAD_REQUEST,
            StripeError::Card(_) => StatusCode::PAYMENT_REQUIRED,
            StripeError::LockTimeout | StripeError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            StripeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True for the outcomes Stripe saves under an idempotency key: the request was
    /// valid and the endpoint ran. Infrastructure failures are never saved, so a
    /// retry can still succeed.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            StripeError::InvalidRequest { .. } | StripeError::Card(_)
        )
    }

    /// The `{"error": …}` document.
    pub fn body(&self) -> Value {
        if let StripeError::Card(c) = self {
            return card_body(c);
        }
        let mut e = Map::new();
        let (kind, code, message, param) = match self {
            StripeError::InvalidRequest {
                code,
                message,
                param,
                ..
            } => (
                "invalid_request_error",
                *code,
                message.as_str(),
                param.as_deref(),
            ),
            StripeError::Authentication { code, message } => {
                ("invalid_request_error", *code, message.as_str(), None)
            }
            StripeError::Idempotency { message } => {
                ("idempotency_error", None, message.as_str(), None)
            }
            StripeError::Card(c) => ("card_error", Some(c.code), c.message.as_str(), None),
            StripeError::LockTimeout => (
                "invalid_request_error",
                Some("lock_timeout"),
                LOCK_TIMEOUT,
                None,
            ),
            StripeError::RateLimited => (
                "invalid_request_error",
                Some("rate_limit"),
                "Request rate limit exceeded. You can learn more about rate limits here \
                 https://stripe.com/docs/rate-limits.",
                None,
            ),
            StripeError::Internal(_) => (
                "api_error",
                None,
                "Sorry, something went wrong in the Stripe mirror. If this keeps happening, \
                 please report it with the Request-Id of this response.",
                None,
            ),
        };
        if let Some(code) = code {
            e.insert("code".into(), code.into());
            e.insert("doc_url".into(), doc_url(code).into());
        }
        e.insert("message".into(), message.into());
        if let Some(p) = param {
            e.insert("param".into(), p.into());
        }
        e.insert("type".into(), kind.into());
        json!({ "error": e })
    }
}

/// A card error's hash, its keys in Stripe's (alphabetical) order.
fn card_body(c: &CardError) -> Value {
    let mut fields: Vec<(String, Value)> = vec![
        ("code".into(), c.code.into()),
        ("doc_url".into(), doc_url(c.code).into()),
        ("message".into(), c.message.clone().into()),
        ("type".into(), "card_error".into()),
    ];
    if let Some(d) = c.decline_code {
        fields.push(("decline_code".into(), d.into()));
    }
    if let Some(p) = &c.param {
        fields.push(("param".into(), p.clone().into()));
    }
    fields.extend(c.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    json!({ "error": fields.into_iter().collect::<Map<String, Value>>() })
}

fn doc_url(code: &str) -> String {
    format!(
        "https://stripe.com/docs/error-codes/{}",
        code.replace('_', "-")
    )
}

/// Stripe's words for the failures generic code reports: the session layer's
/// verdicts, the rate limiter's, the server's body limits, a panic.
impl From<VendorError> for StripeError {
    fn from(e: VendorError) -> Self {
        let request = |status, code, message: String| StripeError::InvalidRequest {
            status,
            code,
            message,
            param: None,
        };
        match e {
            VendorError::NotFound { message } => request(StatusCode::NOT_FOUND, None, message),
            VendorError::BadRequest { message, param } => StripeError::InvalidRequest {
                status: StatusCode::BAD_REQUEST,
                code: None,
                message,
                param,
            },
            VendorError::Unauthorized { message } => StripeError::Authentication {
                code: None,
                message,
            },
            VendorError::RateLimited { .. } => StripeError::RateLimited,
            VendorError::Busy => StripeError::LockTimeout,
            VendorError::Gone {
                reason, message, ..
            } => {
                let code = if reason == "expired" {
                    "session_expired"
                } else {
                    "session_ended"
                };
                request(StatusCode::GONE, Some(code), message)
            }
            VendorError::TooLarge { limit } => request(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!(
                    "Request body too large: requests to the Stripe mirror are limited to {}.",
                    limit_in_words(limit)
                ),
            ),
            VendorError::Timeout { after } => request(
                StatusCode::REQUEST_TIMEOUT,
                None,
                format!(
                    "Request body timed out: it did not arrive within {} s.",
                    after.as_secs_f64()
                ),
            ),
            VendorError::Internal(m) => StripeError::Internal(m),
        }
    }
}

impl From<SessionError> for StripeError {
    fn from(e: SessionError) -> Self {
        VendorError::from(e).into()
    }
}

impl From<StateError> for StripeError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Contention(_) => StripeError::LockTimeout,
            other => StripeError::Internal(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for StripeError {
    fn from(e: rusqlite::Error) -> Self {
        let text = e.to_string();
        if text.contains("no such table") || text.contains("no such column") {
            // State built by an older Mirra, before this resource existed.
            return StripeError::InvalidRequest {
                status: StatusCode::CONFLICT,
                code: Some("mirror_schema_outdated"),
                message: "Mirra: this session's Stripe mirror was created by an older Mirra and has no \
                          storage for this resource yet; reset the session (mirra reset) or create a new one."
                    .into(),
                param: None,
            };
        }
        StripeError::Internal(format!("sqlite: {text}"))
    }
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        if let StripeError::Internal(m) = &self {
            tracing::error!(error = %m, "stripe mirror internal error");
        }
        let status = self.status();
        json_response(status, self.body().to_string())
    }
}

/// A JSON response from an already serialized body (responses are serialized once).
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// State from before a resource existed answers a 409 that says how to fix
    /// it (reset), not a 500.
    #[test]
    fn a_missing_table_is_an_outdated_mirror_not_a_500() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let err = conn
            .query_row("SELECT 1 FROM payment_intents", [], |r| r.get::<_, i64>(0))
            .expect_err("no table");
        let e = StripeError::from(err);
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.body()["error"]["code"], "mirror_schema_outdated");
    }
}
