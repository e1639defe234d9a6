//! Twilio's authentication: HTTP Basic with the Account SID and auth token, or
//! an API key SID (`SK…`) and its secret, checked against the session's
//! credentials. Failures answer as Twilio does: 401 with code 20003.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::{codes, TwilioError};

/// The user and password of `Authorization: Basic …`, or Twilio's 401.
pub fn basic(headers: &HeaderMap) -> Result<(String, String), TwilioError> {
    let none = || unauthorized("Authentication Error - No credentials provided");
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(none)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(none());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("Authentication Error - invalid username"))?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    if user.is_empty() {
        return Err(none());
    }
    Ok((user.to_string(), password.to_string()))
}

/// Twilio's 401 for credentials that name nothing it knows.
pub fn unauthorized(message: &str) -> TwilioError {
    TwilioError::new(StatusCode::UNAUTHORIZED, codes::AUTHENTICATE, message)
}

/// The user (Account SID or API key SID) and password must be a pair of this
/// session's credentials. Compared as digests, so the time taken says
/// nothing about how much of a guess was right.
pub fn check(
    user: &str,
    password: &str,
    creds: &BTreeMap<String, String>,
) -> Result<(), TwilioError> {
    let pair = |id: &str, secret: &str| -> bool {
        let same = |k: &str, given: &str| {
            creds.get(k).is_some_and(|ours| {
                Sha256::digest(ours.as_bytes()) == Sha256::digest(given.as_bytes())
            })
        };
        same(id, user) && same(secret, password)
    };
    if pair("account_sid", "auth_token") || pair("api_key_sid", "api_key_secret") {
        Ok(())
    } else {
        Err(unauthorized("Authenticate"))
    }
}

/// The shape of a SID: two letters and 32 hex digits (`AC…`, `SK…`).
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(auth).expect("ascii"),
        );
        h
    }

    fn basic_of(user: &str, password: &str) -> HeaderMap {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        headers(&format!("Basic {b}"))
    }

    /// Only Basic carries Twilio credentials; a missing header is 20003.
    #[test]
    fn only_basic_auth_carries_credentials() {
        assert_eq!(
            basic(&basic_of("AC1", "tok")).ok(),
            Some(("AC1".into(), "tok".into()))
        );
        let e = basic(&headers("Bearer AC1")).expect_err("bearer");
        assert_eq!((e.status.as_u16(), e.code), (401, 20003));
        assert!(basic(&HeaderMap::new()).is_err());
    }

    /// The account SID with its token, or the API key with its secret, pass;
    /// crossing them does not.
    #[test]
    fn either_credential_pair_passes_but_not_mixed() {
        let creds = BTreeMap::from([
            ("account_sid".to_string(), "ACa".to_string()),
            ("auth_token".to_string(), "tok".to_string()),
            ("api_key_sid".to_string(), "SKb".to_string()),
            ("api_key_secret".to_string(), "sec".to_string()),
        ]);
        assert!(check("ACa", "tok", &creds).is_ok());
        assert!(check("SKb", "sec", &creds).is_ok());
        assert!(check("ACa", "sec", &creds).is_err());
        assert!(check("SKb", "tok", &creds).is_err());
        assert!(check("ACz", "tok", &creds).is_err());
    }
}
