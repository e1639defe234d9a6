//! Verifications (`VE…`, `/v2/Services/{ServiceSid}/Verifications`): a code
//! sent to `To` over a channel, `pending` for 10 minutes from the first send,
//! then `approved` (a right check, or `Status=approved`), `canceled`
//! (`Status=canceled`) or `expired` (its timer, `EXPIRE`).
//!
//! Starting a verification to a `To` that has one pending resends the same
//! code (`send_code_attempts` grows), at most [`MAX_SENDS`] times (then
//! 60203). Every send is an outbound message of the session ([`deliver`]).
//! Approved and expired verifications are soft-deleted, as Twilio does: the
//! row stays, the API answers 20404 for it.

use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{codes, invalid, located, not_found, service_path, services, too_many};
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::iso8601_secs;
use crate::mirrors::toolkit::timers;
use crate::mirrors::twilio::error::TwilioError;
use crate::mirrors::twilio::messages::create::{record, Outgoing};
use crate::mirrors::twilio::messages::status::Plan;
use crate::mirrors::twilio::phone::{self, Outcome};
use crate::mirrors::twilio::pipeline::Call;
use crate::mirrors::twilio::{numbers, Twilio};
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "verification",
    table: "verifications",
    prefix: "VE",
    id_len: 32,
    columns: &["service_sid", "to", "status"],
};

/// What a verification keeps from the API's answers: its code and its
/// wrong checks ([`Secret`]), one row per verification, keyed by its SID.
pub static SECRETS: Kind = Kind {
    object: "verification_secret",
    table: "verification_secrets",
    prefix: "VE",
    id_len: 32,
    columns: &[],
};

/// A pending verification expires (target: its SID).
pub const EXPIRE: &str = "verification.expire";
/// How long a verification stays pending: Twilio's default code validity.
pub const LIFETIME_MS: i64 = 600_000;
/// Sends of one verification's code before 60203.
pub const MAX_SENDS: usize = 5;
/// Wrong checks of one verification before 60202.
pub const MAX_CHECKS: i64 = 5;
/// The channels the mirror sends codes over (Twilio's `sna` needs a carrier).
pub const CHANNELS: &[&str] = &["sms", "call", "whatsapp", "email"];
/// The sender of a session without numbers of its own: the magic number.
pub const FALLBACK_FROM: &str = "+15005550006";

/// A verification's private part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secret {
    pub sid: String,
    pub code: String,
    pub wrong_checks: i64,
    pub expires_at_ms: i64,
}

/// A pending verification with its secret.
pub struct Pending {
    pub verification: Value,
    pub secret: Secret,
}

/// `CreateVerification`: a new verification, or the pending one to the same
/// `To` sent again.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let service_sid = call.args.get("ServiceSid");
    let service = services::load(call, service_sid)?;
    let channel = call.text("Channel").unwrap_or_default();
    if !CHANNELS.contains(&channel) {
        return Err(invalid("Channel"));
    }
    let to = call.text("To").unwrap_or_default();
    let from = sender(call)?;
    let outcome = destination(to, channel, &from)?;

    let now = iso8601_secs(call.now_ms);
    let attempt = json!({"attempt_sid": attempt_sid(), "channel": channel, "time": now});
    let (verification, code) = match pending_to(call, service_sid, to)? {
        Some(Pending {
            mut verification,
            secret,
        }) => {
            let attempts = verification["send_code_attempts"]
                .as_array_mut()
                .ok_or_else(|| TwilioError::internal("verification without attempts"))?;
            if attempts.len() >= MAX_SENDS {
                return Err(too_many(
                    codes::MAX_SEND_ATTEMPTS,
                    "Max send attempts reached",
                ));
            }
            attempts.push(attempt);
            verification["channel"] = json!(channel);
            verification["date_updated"] = json!(now);
            KIND.save(call.conn, &verification)?;
            (verification, secret.code)
        }
        None => start(call, &service, to, channel, attempt)?,
    };
    deliver(call, &service, to, &from, &code, outcome)?;
    Ok(with_url(call.base_url, verification))
}

/// A new pending verification, its secret and its expiry timer.
fn start(
    call: &Call,
    service: &Value,
    to: &str,
    channel: &str,
    attempt: Value,
) -> Result<(Value, String), TwilioError> {
    let sid = Twilio.new_id(&KIND);
    let service_sid = service["sid"].as_str().unwrap_or_default();
    let code = match call.text("CustomCode") {
        Some(custom) if service["custom_code_enabled"] == true => custom.to_string(),
        _ => new_code(service["code_length"].as_i64().unwrap_or(6)),
    };
    let now = iso8601_secs(call.now_ms);
    let verification = with_url(
        call.base_url,
        json!({
            "account_sid": call.account_sid(),
            "amount": call.text("Amount"),
            "channel": channel,
            "date_created": now,
            "date_updated": now,
            "lookup": {"carrier": null},
            "payee": call.text("Payee"),
            "send_code_attempts": [attempt],
            "service_sid": service_sid,
            "sid": sid,
            "sna": null,
            "status": "pending",
            "to": to,
            "url": "",
            "valid": false,
        }),
    );
    let created = call.now_ms.div_euclid(1000);
    KIND.insert_at(call.conn, &verification, created)?;
    let expires_at_ms = call.now_ms + LIFETIME_MS;
    let secret = Secret {
        sid: sid.clone(),
        code: code.clone(),
        wrong_checks: 0,
        expires_at_ms,
    };
    let text = serde_json::to_value(&secret).map_err(TwilioError::internal)?;
    SECRETS.insert_at(call.conn, &text, created)?;
    timers::schedule(call.conn, EXPIRE, &sid, None, expires_at_ms)?;
    call.owe(expires_at_ms);
    Ok((verification, code))
}

/// `FetchVerification`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    let (service_sid, sid) = (call.args.get("ServiceSid"), call.args.get("Sid"));
    services::load(call, service_sid)?;
    let path = path_of(service_sid, sid);
    let Some(row) = KIND.find(call.conn, sid)? else {
        return Err(not_found(&path, None));
    };
    let v = row.value()?;
    if v["service_sid"] != service_sid {
        return Err(not_found(&path, None));
    }
    if row.deleted {
        let why = format!(
            "it is {}; Twilio forgets approved and expired verifications",
            v["status"].as_str().unwrap_or_default()
        );
        return Err(not_found(&path, Some(&why)));
    }
    if v["status"] == "pending" && overdue(call, sid)? {
        return Err(not_found(&path, Some("it expired")));
    }
    Ok(with_url(call.base_url, v))
}

/// `UpdateVerification`: `Status=approved` or `canceled`, of a pending one.
pub fn update(call: &Call) -> Result<Value, TwilioError> {
    let (service_sid, sid) = (call.args.get("ServiceSid"), call.args.get("Sid"));
    services::load(call, service_sid)?;
    let Some(mut pending) = pending_sid(call, service_sid, sid)? else {
        return Err(not_found(
            &path_of(service_sid, sid),
            Some("only a pending verification can be approved or canceled"),
        ));
    };
    match call.text("Status") {
        Some("approved") => approve(call, &mut pending)?,
        // `canceled`: the only other value the schema lets through.
        _ => {
            let v = &mut pending.verification;
            v["status"] = json!("canceled");
            v["date_updated"] = json!(iso8601_secs(call.now_ms));
            KIND.save(call.conn, v)?;
            timers::cancel(call.conn, EXPIRE, sid)?;
        }
    }
    Ok(with_url(call.base_url, pending.verification))
}

/// The verification is approved and, as Twilio does, forgotten.
pub fn approve(call: &Call, pending: &mut Pending) -> Result<(), TwilioError> {
    let v = &mut pending.verification;
    v["status"] = json!("approved");
    v["valid"] = json!(true);
    v["date_updated"] = json!(iso8601_secs(call.now_ms));
    let sid = pending.secret.sid.as_str();
    KIND.save(call.conn, v)?;
    KIND.mark_deleted(call.conn, sid)?;
    timers::cancel(call.conn, EXPIRE, sid)?;
    Ok(())
}

/// A wrong check counted.
pub fn count_wrong_check(call: &Call, pending: &mut Pending) -> Result<(), TwilioError> {
    pending.secret.wrong_checks += 1;
    let text = serde_json::to_value(&pending.secret).map_err(TwilioError::internal)?;
    SECRETS.save(call.conn, &text)?;
    Ok(())
}

/// [`EXPIRE`] fired, or a write found the verification overdue: a pending
/// verification is `expired` and forgotten.
pub fn expire(call: &Call, sid: &str) -> Result<(), TwilioError> {
    let Some(mut v) = KIND.load(call.conn, sid)? else {
        return Ok(()); // approved meanwhile
    };
    if v["status"] != "pending" {
        return Ok(()); // canceled meanwhile
    }
    v["status"] = json!("expired");
    v["date_updated"] = json!(iso8601_secs(call.now_ms));
    KIND.save(call.conn, &v)?;
    KIND.mark_deleted(call.conn, sid)?;
    timers::cancel(call.conn, EXPIRE, sid)?;
    Ok(())
}

/// The pending verification of `service_sid` to `to`, if any; one found
/// overdue (its timer not fired yet) is expired here.
pub fn pending_to(
    call: &Call,
    service_sid: &str,
    to: &str,
) -> Result<Option<Pending>, TwilioError> {
    let q = ListQuery {
        limit: 1,
        filters: vec![
            ("service_sid", Sql::Text(service_sid.to_string())),
            ("to", Sql::Text(to.to_string())),
            ("status", Sql::Text("pending".to_string())),
        ],
        ..ListQuery::default()
    };
    let Some(text) = list::list(call.conn, &KIND, &q)?.data.into_iter().next() else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(&text).map_err(TwilioError::internal)?;
    let sid = v["sid"].as_str().unwrap_or_default().to_string();
    pending_sid(call, service_sid, &sid)
}

/// Verification `sid` of `service_sid` if it is pending; one found overdue
/// is expired here.
pub fn pending_sid(
    call: &Call,
    service_sid: &str,
    sid: &str,
) -> Result<Option<Pending>, TwilioError> {
    let Some(verification) = KIND.load(call.conn, sid)? else {
        return Ok(None);
    };
    if verification["service_sid"] != service_sid || verification["status"] != "pending" {
        return Ok(None);
    }
    let secret = secret_of(call, sid)?;
    if secret.expires_at_ms <= call.now_ms {
        expire(call, sid)?;
        return Ok(None);
    }
    Ok(Some(Pending {
        verification,
        secret,
    }))
}

fn secret_of(call: &Call, sid: &str) -> Result<Secret, TwilioError> {
    let v = SECRETS
        .load(call.conn, sid)?
        .ok_or_else(|| TwilioError::internal(format!("verification {sid} has no secret")))?;
    serde_json::from_value(v).map_err(TwilioError::internal)
}

/// Whether pending verification `sid` is past its lifetime (read-only).
fn overdue(call: &Call, sid: &str) -> Result<bool, TwilioError> {
    Ok(secret_of(call, sid)?.expires_at_ms <= call.now_ms)
}

/// `To` checked for `channel`: an E.164 number (that Messages would send
/// to) or an email address; what becomes of the message carrying the code.
fn destination(to: &str, channel: &str, from: &str) -> Result<Outcome, TwilioError> {
    let refused = || {
        TwilioError::bad(
            codes::INVALID_PARAMETER,
            format!("Invalid parameter `To`: {to}"),
        )
    };
    if channel == "email" {
        return if is_email(to) {
            Ok(Outcome::Delivered)
        } else {
            Err(refused())
        };
    }
    if !phone::is_e164(to) {
        return Err(refused());
    }
    phone::check_to(to, from).map_err(|_| refused())
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// The code "sent": an outbound message from the session's first number (or
/// the magic number), to `To` as given (an email address too), moving
/// through the statuses of any message.
fn deliver(
    call: &Call,
    service: &Value,
    to: &str,
    from: &str,
    code: &str,
    outcome: Outcome,
) -> Result<(), TwilioError> {
    let name = call
        .text("CustomFriendlyName")
        .or(service["friendly_name"].as_str())
        .unwrap_or_default();
    let mut body = format!("Your {name} verification code is: {code}");
    if service["do_not_share_warning_enabled"] == true {
        body.push_str(
            ". Don’t share this code with anyone; our employees will never ask for the code",
        );
    }
    record(
        call,
        Outgoing {
            to,
            from,
            body: &body,
            service_sid: None,
            media_urls: &[],
            send_at: None,
            plan: Plan {
                callback: None,
                outcome,
            },
        },
    )?;
    Ok(())
}

/// The session's first listed number, else [`FALLBACK_FROM`].
fn sender(call: &Call) -> Result<String, TwilioError> {
    let q = ListQuery {
        limit: 1,
        ..ListQuery::default()
    };
    let first = list::list(call.conn, &numbers::KIND, &q)?
        .data
        .into_iter()
        .next();
    let Some(text) = first else {
        return Ok(FALLBACK_FROM.to_string());
    };
    let number: Value = serde_json::from_str(&text).map_err(TwilioError::internal)?;
    Ok(number["phone_number"]
        .as_str()
        .unwrap_or(FALLBACK_FROM)
        .to_string())
}

/// `length` random digits.
fn new_code(length: i64) -> String {
    (0..length)
        .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
        .collect()
}

/// A send attempt's SID (`VL…`), which Twilio shows and the mirror does not keep.
fn attempt_sid() -> String {
    format!("VL{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// `/v2/Services/{service}/Verifications/{sid}`.
pub fn path_of(service_sid: &str, sid: &str) -> String {
    format!("{}/Verifications/{sid}", service_path(service_sid))
}

/// `v` with its absolute `url`, against `base`.
pub fn with_url(base: &str, mut v: Value) -> Value {
    let path = path_of(
        v["service_sid"].as_str().unwrap_or_default(),
        v["sid"].as_str().unwrap_or_default(),
    );
    v["url"] = json!(located(base, &path));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes have the service's length and only digits.
    #[test]
    fn codes_are_digits_of_the_services_length() {
        for n in [4, 6, 10] {
            let c = new_code(n);
            assert_eq!(c.len(), n as usize);
            assert!(c.bytes().all(|b| b.is_ascii_digit()), "{c}");
        }
    }

    /// Email channels take addresses, the others E.164 numbers Messages would
    /// send to; anything else is Verify's 60200 naming `To`.
    #[test]
    fn destinations_are_checked_per_channel() {
        let code = |to, ch| destination(to, ch, FALLBACK_FROM).map_err(|e| e.code);
        assert_eq!(code("+14155552671", "sms"), Ok(Outcome::Delivered));
        assert_eq!(code("ann@test.dev", "email"), Ok(Outcome::Delivered));
        assert_eq!(
            code("+15005550011", "call"),
            Ok(Outcome::Undelivered(30003))
        );
        assert_eq!(code("ann@test.dev", "sms"), Err(60200));
        assert_eq!(code("+14155552671", "email"), Err(60200));
        assert_eq!(code("4155552671", "sms"), Err(60200));
        assert_eq!(code("+15005550001", "whatsapp"), Err(60200));
    }
}
