//! [`StripeCtx`]: the session named in the URL plus Stripe's own authentication.
//! The key travels as `Authorization: Bearer sk_test_…` or as the user of Basic
//! auth (what `curl -u sk_test_…:` sends); failures answer exactly as Stripe does,
//! so SDKs raise `AuthenticationError`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use base64::Engine;

use super::error::StripeError;
use super::{idempotency, RequestId};
use crate::session::{SessionContext, Sessions, UnknownCredential};

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization \
header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
for details, or we can help at https://support.stripe.com/.";

/// What a Stripe handler gets: the session's state door and request facts.
pub struct StripeCtx {
    pub ctx: SessionContext,
    /// `req_…`, also sent as the `Request-Id` header.
    pub request_id: String,
    /// The `Idempotency-Key` of a POST, validated.
    pub idempotency_key: Option<String>,
    /// Path parameters other than `session` (`customer`, …).
    params: Vec<(String, String)>,
}

impl StripeCtx {
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequestParts<Arc<Sessions>> for StripeCtx {
    type Rejection = StripeError;

    async fn from_request_parts(
        parts: &mut Parts,
        sessions: &Arc<Sessions>,
    ) -> Result<Self, Self::Rejection> {
        // Stripe checks for a key before anything else.
        let key = api_key(parts)?;
        // Routed by a key that names no session (api::credential): Stripe's
        // answer to an unknown key.
        if parts.extensions.get::<UnknownCredential>().is_some() {
            return Err(StripeError::Authentication {
                code: None,
                message: format!("Invalid API Key provided: {}", mask(&key)),
            });
        }
        let raw = RawPathParams::from_request_parts(parts, sessions)
            .await
            .map_err(|e| StripeError::bad_request(StatusCode::NOT_FOUND, format!("Mirra: {e}")))?;
        let mut session = None;
        let mut params = Vec::new();
        for (k, v) in raw.iter() {
            if k == "session" {
                session = Some(v.to_string());
            } else {
                params.push((k.to_string(), v.to_string()));
            }
        }
        let Some(session) = session else {
            return Err(StripeError::Internal(
                "the Stripe router was mounted without a {session} path parameter".into(),
            ));
        };
        let ctx = sessions
            .context(&session, "stripe")
            .await
            .map_err(StripeError::from_session)?;
        let creds = ctx.credentials();
        let secret = creds
            .get("secret_key")
            .map(String::as_str)
            .unwrap_or_default();
        if secret.is_empty() || !constant_time_eq(key.as_bytes(), secret.as_bytes()) {
            let publishable = creds
                .get("publishable_key")
                .map(String::as_str)
                .unwrap_or_default();
            if !publishable.is_empty() && constant_time_eq(key.as_bytes(), publishable.as_bytes()) {
                return Err(StripeError::Authentication {
                    code: Some("secret_key_required"),
                    message: "This API call cannot be made with a publishable API key. Please use a secret API key. \
                              You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
                        .into(),
                });
            }
            return Err(StripeError::Authentication {
                code: None,
                message: format!("Invalid API Key provided: {}", mask(&key)),
            });
        }
        let idempotency_key = match (&parts.method, parts.headers.get("idempotency-key")) {
            (&Method::POST, Some(v)) => idempotency::check_key(v.as_bytes())?,
            _ => None,
        };
        let request_id = match parts.extensions.get::<RequestId>() {
            Some(RequestId(id)) => id.clone(),
            None => RequestId::generate().0,
        };
        Ok(StripeCtx {
            ctx,
            request_id,
            idempotency_key,
            params,
        })
    }
}

/// The key from `Authorization`, or Stripe's 401 when there is none.
pub(super) fn api_key(parts: &Parts) -> Result<String, StripeError> {
    let missing = || StripeError::Authentication {
        code: None,
        message: NO_KEY.into(),
    };
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(missing());
    };
    let value = value.to_str().map_err(|_| missing())?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| missing())?;
        let text = String::from_utf8(decoded).map_err(|_| missing())?;
        text.split(':').next().unwrap_or_default().to_string()
    } else {
        return Err(missing());
    };
    if key.is_empty() {
        return Err(missing());
    }
    Ok(key)
}

/// `sk_test_********************ab12`: Stripe shows the prefix and the last four.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let prefix_len = key
        .match_indices('_')
        .nth(1)
        .map(|(i, _)| key[..=i].chars().count())
        .unwrap_or(0);
    if chars.len() <= prefix_len + 4 {
        return key.to_string();
    }
    let mut out: String = chars[..prefix_len].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - prefix_len - 4));
    out.extend(&chars[chars.len() - 4..]);
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_prefix_and_last_four() {
        assert_eq!(mask("sk_test_abcdefgh1234"), "sk_test_********1234");
        assert_eq!(mask("sk_test_12"), "sk_test_12");
        assert_eq!(mask("nonsense-key"), "********-key");
    }
}
