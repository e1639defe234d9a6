//! Resend's authentication: `Authorization: Bearer re_…`, checked against the
//! session's `api_key`; and the `Idempotency-Key` header's rules. Failures
//! answer as Resend does (401 `missing_api_key`, 403 `invalid_api_key`, 400
//! `invalid_idempotency_key`), so the SDKs raise their own errors.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::error::ResendError;

/// Longest `Idempotency-Key` Resend accepts (its OpenAPI says so too).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

/// The key from `Authorization: Bearer …`, or Resend's 401.
pub fn api_key(headers: &HeaderMap) -> Result<String, ResendError> {
    let missing = || {
        ResendError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "Missing API key in the authorization header. Include the following header \
             Authorization: Bearer YOUR_API_KEY in the request.",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(missing)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let key = rest.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(missing());
    }
    Ok(key.to_string())
}

/// Resend's 403 for a key that names nothing it knows.
pub fn invalid_key() -> ResendError {
    ResendError::new(
        StatusCode::FORBIDDEN,
        "invalid_api_key",
        "API key is invalid",
    )
}

/// The key must be this session's `api_key`. Compared as digests, so the
/// time taken says nothing about how much of a guess was right.
pub fn check_key(key: &str, creds: &BTreeMap<String, String>) -> Result<(), ResendError> {
    match creds.get("api_key") {
        Some(ours) if Sha256::digest(ours.as_bytes()) == Sha256::digest(key.as_bytes()) => Ok(()),
        _ => Err(invalid_key()),
    }
}

/// The `Idempotency-Key` of a request, checked: 1 to 256 characters.
pub fn idempotency_key(value: Option<&HeaderValue>) -> Result<Option<String>, ResendError> {
    let Some(v) = value else { return Ok(None) };
    let bad = || {
        ResendError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "The key must be between 1-256 chars.",
        )
    };
    let key = v.to_str().map_err(|_| bad())?;
    if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(bad());
    }
    Ok(Some(key.to_string()))
}

/// 409 for a key used before with another payload (or on another endpoint).
pub fn key_reused() -> ResendError {
    ResendError::new(
        StatusCode::CONFLICT,
        "invalid_idempotent_request",
        "Same idempotency key used with a different request payload. Change your idempotency key or payload.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(auth).expect("ascii"),
        );
        h
    }

    /// Only Bearer carries a Resend key; anything else is a missing key.
    #[test]
    fn only_a_bearer_key_counts() {
        assert_eq!(
            api_key(&headers("Bearer re_1")).ok().as_deref(),
            Some("re_1")
        );
        let e = api_key(&headers("Basic cmVfMTo=")).expect_err("basic");
        assert_eq!((e.status.as_u16(), e.name), (401, "missing_api_key"));
        assert!(api_key(&HeaderMap::new()).is_err());
        assert!(api_key(&headers("Bearer   ")).is_err());
    }

    /// Another session's key, or a made-up one, is Resend's 403.
    #[test]
    fn a_key_of_another_session_is_invalid() {
        let creds = BTreeMap::from([("api_key".to_string(), "re_ours".to_string())]);
        assert!(check_key("re_ours", &creds).is_ok());
        let e = check_key("re_theirs", &creds).expect_err("other key");
        assert_eq!((e.status.as_u16(), e.name), (403, "invalid_api_key"));
    }

    /// Keys over 256 characters, or empty, are refused before anything runs.
    #[test]
    fn idempotency_keys_are_one_to_256_chars() {
        let ok = HeaderValue::from_str(&"k".repeat(256)).expect("ascii");
        assert!(idempotency_key(Some(&ok)).is_ok());
        let long = HeaderValue::from_str(&"k".repeat(257)).expect("ascii");
        let e = idempotency_key(Some(&long)).expect_err("too long");
        assert_eq!(e.name, "invalid_idempotency_key");
        assert!(idempotency_key(Some(&HeaderValue::from_static(""))).is_err());
    }
}
