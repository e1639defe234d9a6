//! What makes a vendor's API recognisably that vendor's, beyond its resources:
//! how its requests carry a credential, how it shapes an error, how its ids
//! look. Generic code — routing, the server's gate, a route no handler serves,
//! a handler that panics — answers a mirror's client through [`Vendor`], so an
//! SDK gets the error it knows how to raise even when no vendor code ran.
//!
//! Failures are said once, vendor-neutrally, as a [`VendorError`]; each vendor
//! renders it. The session layer's verdicts and the rate limiter's map to it
//! here, so a new vendor gets 404/410/429 for its sessions without writing them.

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::toolkit::objects::Kind;
use crate::session::{RateLimited, SessionError};

/// A vendor: its auth scheme, error shape and id format. Deliberately small:
/// only what code outside the vendor's own pipeline needs. The vendor's key
/// check (which key of the session is right, its 401 texts) stays in its
/// pipeline, the only code that authenticates; what the session layer needs
/// (seeds, credentials to mint and index) is its `MirrorDef`.
pub trait Vendor: Send + Sync + 'static {
    /// The credential a request carries in this vendor's scheme that may name
    /// a session (a Stripe `sk_test_…` key, a Twilio account SID), or `None`
    /// when it carries none of this vendor's shape. Credential routing uses it
    /// to find the session of a request whose path and host name none; it only
    /// routes, the vendor still authenticates the request.
    fn credential_in(&self, _headers: &HeaderMap) -> Option<String> {
        None
    }

    /// The host names the vendor's SDKs send this API's requests to by
    /// default (`api.stripe.com`); `*.` + a suffix stands for every name
    /// under it. `mirra proxy` intercepts these, and a request that arrives
    /// with one of them as its `Host` is this vendor's, routed by its
    /// credential and never taken for the control plane.
    fn api_hosts(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether `host` (a `Host` header: any case, maybe with a port) is one
    /// of [`Vendor::api_hosts`].
    fn serves_host(&self, host: &str) -> bool {
        host_matches(self.api_hosts(), host)
    }

    /// `error` as this vendor answers it: status, body and the headers its
    /// SDKs read (Stripe's `request-id`, `stripe-version`).
    fn error_response(&self, error: VendorError) -> Response;

    /// A fresh id for a new object of `kind`, in this vendor's format (Stripe:
    /// the kind's prefix and base-62 characters; Twilio `SM` + 32 hex; Resend a UUID).
    fn new_id(&self, kind: &Kind) -> String;
}

/// Whether `host` — a host name or a `Host` header value, in any case, with
/// or without a port — matches one of `patterns`: a name, or `*.` + a suffix
/// for every name under it (not the suffix itself).
pub fn host_matches(patterns: &[&str], host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let name = name.trim_end_matches('.');
    patterns
        .iter()
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => {
                name.len() > suffix.len() + 1
                    && name.is_char_boundary(name.len() - suffix.len())
                    && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
            }
            None => name.eq_ignore_ascii_case(pattern),
        })
}

/// A failure in words any vendor can render. `Display` is a plain English
/// message, for vendors (and the control plane) without phrasing of their own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VendorError {
    /// No session, mirror or route at this URL.
    #[error("{message}")]
    NotFound { message: String },
    /// The request is malformed; `param` names the culprit when there is one.
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<String>,
    },
    /// No credential, or one that names nothing here.
    #[error("{message}")]
    Unauthorized { message: String },
    /// The session's request budget is spent (`mirra up --rate-limit`).
    #[error("request rate limit exceeded; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: i64 },
    /// Other writers kept winning the race for this mirror; retrying helps.
    #[error("the mirror is busy with other requests; retry")]
    Busy,
    /// The session expired or was ended; `message` says when and what to do.
    #[error("{message}")]
    Gone {
        session: String,
        /// `expired` or `ended`.
        reason: String,
        /// Unix milliseconds.
        ended_at_ms: i64,
        message: String,
    },
    /// The request body is over the server's limit.
    #[error("request body is larger than the {} limit", limit_in_words(*limit))]
    TooLarge { limit: usize },
    /// The request body did not arrive within the server's body timeout.
    #[error("the request body did not arrive within {} s", after.as_secs_f64())]
    Timeout { after: Duration },
    /// Not the caller's fault. The text is for the log, never for a body.
    #[error("internal: {0}")]
    Internal(String),
}

impl VendorError {
    /// The status most APIs answer this with; a vendor may choose another.
    pub fn status(&self) -> StatusCode {
        match self {
            VendorError::NotFound { .. } => StatusCode::NOT_FOUND,
            VendorError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            VendorError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            VendorError::RateLimited { .. } | VendorError::Busy => StatusCode::TOO_MANY_REQUESTS,
            VendorError::Gone { .. } => StatusCode::GONE,
            VendorError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            VendorError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            VendorError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 404 for a URL that no route serves.
    pub fn no_route(method: &Method, path: &str) -> Self {
        VendorError::NotFound {
            message: format!("Unrecognized request URL ({method}: {path})."),
        }
    }

    /// A 400 about the request as a whole, no parameter named.
    pub fn bad_request(message: impl Into<String>) -> Self {
        VendorError::BadRequest {
            message: message.into(),
            param: None,
        }
    }
}

/// A body limit as a user reads it: `1 MiB` for whole mebibytes, else `1000 bytes`.
pub fn limit_in_words(limit: usize) -> String {
    if limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    }
}

/// The session layer's verdict on the session a mirror request names. Its
/// messages are Mirra's, not the vendor's, and say so.
impl From<SessionError> for VendorError {
    fn from(e: SessionError) -> Self {
        let said = e.to_string();
        match e {
            SessionError::NotFound(_) | SessionError::NoSnapshot(_) | SessionError::Invalid(_) => {
                VendorError::NotFound {
                    message: format!("Mirra: {said}"),
                }
            }
            SessionError::Gone {
                id,
                reason,
                ended_at_ms,
            } => VendorError::Gone {
                session: id,
                reason,
                ended_at_ms,
                message: format!("Mirra: {said}; create a new session"),
            },
            SessionError::Busy(_) => VendorError::Busy,
            SessionError::Conflict(m) | SessionError::Internal(m) => VendorError::Internal(m),
            // Plans limit the control plane only; a mirror request never meets one.
            SessionError::Plan(p) => VendorError::Internal(p.to_string()),
        }
    }
}

impl From<RateLimited> for VendorError {
    fn from(e: RateLimited) -> Self {
        VendorError::RateLimited {
            retry_after_ms: e.retry_after_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ended session's verdict keeps when and why, for vendors that show it.
    #[test]
    fn a_gone_session_keeps_its_reason_and_time() {
        let e = VendorError::from(SessionError::Gone {
            id: "ses_ab12".into(),
            reason: "expired".into(),
            ended_at_ms: 0,
        });
        assert_eq!(e.status(), StatusCode::GONE);
        let VendorError::Gone {
            session,
            reason,
            message,
            ..
        } = e
        else {
            panic!("not Gone: {e:?}")
        };
        assert_eq!((session.as_str(), reason.as_str()), ("ses_ab12", "expired"));
        assert_eq!(
            message,
            "Mirra: session ses_ab12 expired at 1970-01-01T00:00:00.000Z; create a new session"
        );
    }

    /// Limits read in the unit a user set them in.
    #[test]
    fn limits_read_in_mebibytes_when_whole() {
        assert_eq!(
            VendorError::TooLarge { limit: 1 << 20 }.to_string(),
            "request body is larger than the 1 MiB limit"
        );
        assert_eq!(
            VendorError::TooLarge { limit: 1000 }.to_string(),
            "request body is larger than the 1000 bytes limit"
        );
    }
}
