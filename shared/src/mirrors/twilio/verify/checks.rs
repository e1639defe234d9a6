//! Verification checks (`/v2/Services/{ServiceSid}/VerificationCheck`): a
//! `Code` against the pending verification named by `To` or
//! `VerificationSid`. The right code approves it (`approved`, `valid: true`);
//! a wrong one leaves it `pending` (`valid: false`), [`MAX_CHECKS`] times,
//! then every check is Twilio's 60202 until it expires. Without a pending
//! verification (never made, approved, canceled, expired) the check is 20404.

use serde_json::{json, Value};

use super::verifications::{self, Pending, MAX_CHECKS};
use super::{codes, invalid, not_found, service_path, services, too_many};
use crate::mirrors::toolkit::time::iso8601_secs;
use crate::mirrors::twilio::error::{codes as api_codes, TwilioError};
use crate::mirrors::twilio::pipeline::Call;

/// The lengths a code may have (Twilio's 60200 outside them).
pub const CODE_LENGTHS: std::ops::RangeInclusive<usize> = 4..=10;

/// `CreateVerificationCheck`.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let service_sid = call.args.get("ServiceSid");
    services::load(call, service_sid)?;
    let Some(code) = call.text("Code") else {
        return Err(missing("Code"));
    };
    if !CODE_LENGTHS.contains(&code.chars().count()) {
        return Err(invalid("Code"));
    }
    let found = match (call.text("VerificationSid"), call.text("To")) {
        (Some(sid), _) => verifications::pending_sid(call, service_sid, sid)?,
        (None, Some(to)) => verifications::pending_to(call, service_sid, to)?,
        (None, None) => return Err(missing("To")),
    };
    let Some(mut pending) = found else {
        return Err(not_found(
            &format!("{}/VerificationCheck", service_path(service_sid)),
            Some("no pending verification: never started, approved, canceled or expired"),
        ));
    };
    if pending.secret.wrong_checks >= MAX_CHECKS {
        return Err(too_many(
            codes::MAX_CHECK_ATTEMPTS,
            "Max check attempts reached",
        ));
    }
    if code == pending.secret.code {
        verifications::approve(call, &mut pending)?;
    } else {
        verifications::count_wrong_check(call, &mut pending)?;
    }
    Ok(answer(call, &pending))
}

/// The check as Twilio answers it: the verification's state after it.
fn answer(call: &Call, p: &Pending) -> Value {
    let v = &p.verification;
    json!({
        "account_sid": v["account_sid"],
        "amount": v["amount"],
        "channel": v["channel"],
        "date_created": v["date_created"],
        "date_updated": iso8601_secs(call.now_ms),
        "payee": v["payee"],
        "service_sid": v["service_sid"],
        "sid": v["sid"],
        "sna_attempts_error_codes": null,
        "status": v["status"],
        "to": v["to"],
        "valid": v["status"] == "approved",
    })
}

/// Twilio's 20001 for a parameter a check needs (`To` stands for "`To` or
/// `VerificationSid`").
fn missing(param: &str) -> TwilioError {
    TwilioError::bad(
        api_codes::INVALID_PARAMETER,
        format!("Missing required parameter {param} in the post body"),
    )
}
