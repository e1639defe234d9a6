//! Verify v2 (verify.twilio.com `/v2/…`, served at the mirror's one base
//! URL): [`services`] (`VA…`) hold the settings, [`verifications`] (`VE…`)
//! send a one-time code and live 10 minutes, [`checks`] approve them.
//!
//! The code is "sent" as an outbound message of the session (`messages`), so
//! a test reads it back with the Messages API (`messages.list(to=…)`), email
//! codes included (their `to` is the address). What Twilio forgets, the
//! mirror forgets the same way: an approved or expired verification is
//! soft-deleted, and fetching or checking it answers 20404.
//!
//! Verify's objects carry absolute URLs (`https://verify.twilio.com/v2/…`);
//! the mirror writes them against the URL each request reached it at
//! ([`located`]), so they lead back to the session.

use axum::http::StatusCode;

use super::error::TwilioError;

pub mod checks;
pub mod services;
pub mod verifications;

/// Verify's own refusals, named once.
pub mod codes {
    /// A parameter Verify refuses (`Invalid parameter: Channel`).
    pub const INVALID_PARAMETER: u32 = 60200;
    /// Five wrong codes for one verification.
    pub const MAX_CHECK_ATTEMPTS: u32 = 60202;
    /// Five sends of one verification's code.
    pub const MAX_SEND_ATTEMPTS: u32 = 60203;
}

/// Twilio's 60200, naming the parameter (`Invalid parameter: Code`).
pub fn invalid(param: &str) -> TwilioError {
    TwilioError::bad(
        codes::INVALID_PARAMETER,
        format!("Invalid parameter: {param}"),
    )
}

/// A 429 of Verify's rate limits (60202, 60203).
pub fn too_many(code: u32, message: &str) -> TwilioError {
    TwilioError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
}

/// Twilio's 20404 for a Verify path: its message names the path without the
/// version (`/Services/VA…/VerificationCheck`), as verify.twilio.com does;
/// `why`, when given, is the mirror's note on what became of the resource.
pub fn not_found(path: &str, why: Option<&str>) -> TwilioError {
    let mut e = TwilioError::not_found(path.strip_prefix("/v2").unwrap_or(path));
    if let Some(why) = why {
        e.message = format!("{} (Mirra: {why})", e.message);
    }
    e
}

/// `/v2/Services/{sid}`.
pub fn service_path(sid: &str) -> String {
    format!("/v2/Services/{sid}")
}

/// `base` + `path`: an absolute URL back to the mirror.
pub fn located(base: &str, path: &str) -> String {
    format!("{base}{path}")
}
