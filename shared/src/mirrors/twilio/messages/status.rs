//! A message's life after it is accepted, on a schedule the dispatcher keeps
//! (`toolkit::timers`): `queued` (or `accepted`, through a messaging service)
//! → `sending` → `sent` → `delivered` / `undelivered`, or `sending` →
//! `failed`, as its `To` decides (`phone::Outcome`). A scheduled message
//! waits as `scheduled` until its `SendAt`, then is `queued`.
//!
//! Each change after the first is POSTed to the message's `StatusCallback`
//! (or its messaging service's), form-encoded with Twilio's parameters and
//! signed with `X-Twilio-Signature`, through the toolkit's outbox: retried,
//! and recorded at `GET /v1/sessions/{id}/deliveries?mirror=twilio`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::KIND;
use crate::mirrors::toolkit::objects::to_json_string;
use crate::mirrors::toolkit::outbox::{self, NewDelivery};
use crate::mirrors::toolkit::time::rfc2822;
use crate::mirrors::toolkit::timers;
use crate::mirrors::twilio::error::TwilioError;
use crate::mirrors::twilio::phone::Outcome;
use crate::mirrors::twilio::pipeline::Call;

/// A message moves to its next status (target: its SID; payload: its [`Plan`]).
pub const ADVANCE: &str = "message.advance";
/// A scheduled message is sent (target: its SID; payload: its [`Plan`]).
pub const SEND_SCHEDULED: &str = "message.send";

/// How long a message stays in each status before the next: long enough for
/// a test to read `queued` first, short enough to wait for `delivered`
/// (about 2 s in all).
pub const STEP_MS: i64 = 500;
/// `sent` lasts longer: the carrier's part.
pub const DELIVER_AFTER_MS: i64 = 1_000;

/// What a message's timers carry: where its callbacks go and how it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub callback: Option<String>,
    #[serde(with = "outcome_text")]
    pub outcome: Outcome,
}

/// A new message's first step, [`STEP_MS`] from now.
pub fn start(call: &Call, sid: &str, plan: &Plan) -> Result<(), TwilioError> {
    later(call, ADVANCE, sid, plan, call.now_ms + STEP_MS)
}

/// A scheduled message goes out at `at`.
pub fn schedule_send(call: &Call, sid: &str, plan: &Plan, at: i64) -> Result<(), TwilioError> {
    later(call, SEND_SCHEDULED, sid, plan, at)
}

fn later(call: &Call, kind: &str, sid: &str, plan: &Plan, at: i64) -> Result<(), TwilioError> {
    let payload = to_json_string(plan).map_err(TwilioError::internal)?;
    timers::schedule(call.conn, kind, sid, Some(&payload), at)?;
    call.owe(at);
    Ok(())
}

/// Reads a timer's plan.
pub fn plan_of(payload: Option<&str>) -> Result<Plan, TwilioError> {
    serde_json::from_str(payload.unwrap_or_default()).map_err(TwilioError::internal)
}

/// [`SEND_SCHEDULED`] fired: a message still `scheduled` is `queued` and on its way.
pub fn release(call: &Call, sid: &str, plan: &Plan) -> Result<(), TwilioError> {
    let Some(mut msg) = KIND.load(call.conn, sid)? else {
        return Ok(()); // deleted meanwhile
    };
    if msg["status"] != "scheduled" {
        return Ok(()); // canceled meanwhile
    }
    set(call, &mut msg, "queued", None)?;
    callback(call, &msg, plan)?;
    start(call, sid, plan)
}

/// [`ADVANCE`] fired: the message takes its next status, says so to its
/// callback, and is given its next step unless it has reached its end.
pub fn advance(call: &Call, sid: &str, plan: &Plan) -> Result<(), TwilioError> {
    let Some(mut msg) = KIND.load(call.conn, sid)? else {
        return Ok(());
    };
    let now = msg["status"].as_str().unwrap_or_default();
    let (next, error, after) = match (now, plan.outcome) {
        ("queued" | "accepted", _) => ("sending", None, Some(STEP_MS)),
        ("sending", Outcome::Failed(code)) => ("failed", Some(code), None),
        ("sending", _) => ("sent", None, Some(DELIVER_AFTER_MS)),
        ("sent", Outcome::Undelivered(code)) => ("undelivered", Some(code), None),
        ("sent", _) => ("delivered", None, None),
        _ => return Ok(()), // canceled, or moved on by other means
    };
    set(call, &mut msg, next, error.map(|c| (c, plan.outcome)))?;
    callback(call, &msg, plan)?;
    if let Some(ms) = after {
        later(call, ADVANCE, sid, plan, call.now_ms + ms)?;
    }
    Ok(())
}

fn set(
    call: &Call,
    msg: &mut Value,
    status: &str,
    error: Option<(u32, Outcome)>,
) -> Result<(), TwilioError> {
    let now = rfc2822(call.now_ms);
    msg["status"] = json!(status);
    msg["date_updated"] = json!(now);
    if status == "sent" {
        msg["date_sent"] = json!(now);
        let segments: f64 = msg["num_segments"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0);
        msg["price"] = json!(format!("-{:.5}", 0.0079 * segments));
    }
    if let Some((code, outcome)) = error {
        msg["error_code"] = json!(code);
        msg["error_message"] = json!(outcome.error_message());
    }
    KIND.save(call.conn, msg)?;
    Ok(())
}

/// The status callback for `msg`'s current status, if it has a callback URL.
fn callback(call: &Call, msg: &Value, plan: &Plan) -> Result<(), TwilioError> {
    // A status change is the event (Twilio gives it no id of its own).
    if let (Some(sid), Some(status)) = (msg["sid"].as_str(), msg["status"].as_str()) {
        call.raise(sid, &format!("message.{status}"));
    }
    let Some(url) = plan.callback.as_deref() else {
        return Ok(());
    };
    let text = |k: &str| msg[k].as_str().unwrap_or_default();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("AccountSid", text("account_sid")),
        ("ApiVersion", "2010-04-01"),
        ("From", text("from")),
        ("MessageSid", text("sid")),
        ("MessageStatus", text("status")),
        ("SmsSid", text("sid")),
        ("SmsStatus", text("status")),
        ("To", text("to")),
    ] {
        form.append_pair(k, v);
    }
    if let Some(service) = msg["messaging_service_sid"].as_str() {
        form.append_pair("MessagingServiceSid", service);
    }
    if let Some(code) = msg["error_code"].as_u64() {
        form.append_pair("ErrorCode", &code.to_string());
    }
    let payload = form.finish();
    let sid = text("sid");
    outbox::enqueue(
        call.conn,
        &NewDelivery {
            target: sid,
            url,
            scheme: "twilio",
            secret: None,
            reference: sid,
            payload: &payload,
            due_at_ms: call.now_ms,
        },
        call.now_ms,
    )?;
    call.owe(call.now_ms);
    Ok(())
}

/// A message's end as its timers write it: `delivered`, `undelivered:30003`,
/// `failed:30008`.
mod outcome_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::mirrors::twilio::phone::Outcome;

    pub fn serialize<S: Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&match o {
            Outcome::Delivered => "delivered".to_string(),
            Outcome::Undelivered(c) => format!("undelivered:{c}"),
            Outcome::Failed(c) => format!("failed:{c}"),
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        let text = String::deserialize(d)?;
        let (kind, code) = text.split_once(':').unwrap_or((&text, "0"));
        let code = code.parse().map_err(serde::de::Error::custom)?;
        match kind {
            "delivered" => Ok(Outcome::Delivered),
            "undelivered" => Ok(Outcome::Undelivered(code)),
            "failed" => Ok(Outcome::Failed(code)),
            other => Err(serde::de::Error::custom(format!("no outcome {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan survives its trip through a timer's payload.
    #[test]
    fn plans_round_trip_through_timer_payloads() {
        for outcome in [
            Outcome::Delivered,
            Outcome::Undelivered(30003),
            Outcome::Failed(30008),
        ] {
            let plan = Plan {
                callback: Some("http://127.0.0.1/cb".into()),
                outcome,
            };
            let text = to_json_string(&plan).expect("json");
            assert_eq!(plan_of(Some(&text)).expect("plan"), plan);
        }
    }
}
