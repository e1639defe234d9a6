//! Stripe's authentication and request headers.
//! The key travels as `Authorization: Bearer sk_test_…` or as the user of Basic
//! auth (what `curl -u sk_test_…:` sends); failures answer exactly as Stripe does,
//! so SDKs raise `AuthenticationError`.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use base64::Engine;

use super::error::StripeError;
use crate::mirrors::toolkit::idempotency::Saved;

/// Longest `Idempotency-Key` Stripe accepts.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization \
header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
for details, or we can help at https://support.stripe.com/.";

/// The key from `Authorization`, or Stripe's 401 when there is none.
pub fn api_key(headers: &HeaderMap) -> Result<String, StripeError> {
    let missing = || StripeError::Authentication {
        code: None,
        message: NO_KEY.into(),
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
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

/// The key must be the session's secret key; its publishable key gets Stripe's
/// own refusal, anything else "Invalid API Key provided".
pub fn check_key(key: &str, creds: &BTreeMap<String, String>) -> Result<(), StripeError> {
    let cred = |k: &str| creds.get(k).map(String::as_str).unwrap_or_default();
    let secret = cred("secret_key");
    if !secret.is_empty() && constant_time_eq(key.as_bytes(), secret.as_bytes()) {
        return Ok(());
    }
    let publishable = cred("publishable_key");
    if !publishable.is_empty() && constant_time_eq(key.as_bytes(), publishable.as_bytes()) {
        return Err(StripeError::Authentication {
            code: Some("secret_key_required"),
            message: "This API call cannot be made with a publishable API key. Please use a secret API key. \
                      You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
                .into(),
        });
    }
    Err(invalid_key(key))
}

/// Stripe's 401 for a key it does not know.
pub fn invalid_key(key: &str) -> StripeError {
    StripeError::Authentication {
        code: None,
        message: format!("Invalid API Key provided: {}", mask(key)),
    }
}

/// `Stripe-Account` (Connect) is not emulated: Stripe's answer to an account
/// that is not a Connect platform.
pub fn connect_refused(_key: &str, _account: &HeaderValue) -> StripeError {
    StripeError::bad_request(
        StatusCode::FORBIDDEN,
        "Only Stripe Connect platforms can work with other accounts. If you specified a client_id parameter, \
         make sure it's correct. If you need to setup a Stripe Connect platform, you can do so at \
         https://dashboard.stripe.com/account/applications/settings.",
    )
}

/// Validates an `Idempotency-Key` header value; empty means none.
pub fn idempotency_key(raw: &[u8]) -> Result<Option<String>, StripeError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let key = std::str::from_utf8(raw).map_err(|_| {
        StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            "Invalid Idempotency-Key header: not UTF-8.",
        )
    })?;
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            format!("Invalid Idempotency-Key: keys must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters long."),
        ));
    }
    Ok(Some(key.to_string()))
}

/// A key first used on another endpoint.
pub fn key_reused_elsewhere(key: &str, saved: &Saved, endpoint: &str) -> StripeError {
    StripeError::Idempotency {
        message: format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first \
             used for ('{}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to \
             execute a different request.",
            saved.endpoint
        ),
    }
}

/// A key first used with other parameters.
pub fn key_reused_with_other_params(key: &str) -> StripeError {
    StripeError::Idempotency {
        message: format!(
            "Keys for idempotent requests can only be used with the same parameters they were \
             first used with. Try using a key other than '{key}' if you meant to execute a \
             different request."
        ),
    }
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
