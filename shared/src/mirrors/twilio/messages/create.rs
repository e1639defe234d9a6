//! `CreateMessage`: the checks Twilio makes, in its order and with its codes,
//! then the message, its media and its schedule.

use serde_json::{json, Value};

use super::{path_of, status, KIND};
use crate::mirrors::toolkit::params::ParamError;
use crate::mirrors::toolkit::time::{iso8601_ms, rfc2822};
use crate::mirrors::twilio::error::{codes, TwilioError};
use crate::mirrors::twilio::phone;
use crate::mirrors::twilio::pipeline::Call;
use crate::mirrors::twilio::{media, messaging_services, numbers, Twilio};
use crate::mirrors::Vendor;

/// Longest body Twilio sends (it splits it into segments).
pub const MAX_BODY_CHARS: usize = 1600;

/// How far ahead a scheduled message may be sent: 5 minutes to 35 days.
pub const SCHEDULE_WINDOW_MS: (i64, i64) = (300_000, 35 * 86_400_000);

/// The codes Twilio gives a message's missing parameters.
pub fn param_error(e: ParamError) -> TwilioError {
    match (&e, e.param()) {
        (ParamError::Missing { .. }, "To") => {
            TwilioError::bad(21604, "A 'To' phone number is required.")
        }
        _ => e.into(),
    }
}

pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let to = call
        .text("To")
        .ok_or_else(|| TwilioError::bad(21604, "A 'To' phone number is required."))?;
    let body = call.text("Body").unwrap_or_default();
    let media_urls: Vec<&str> = call
        .params
        .get("MediaUrl")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let service_sid = call.text("MessagingServiceSid");
    let Some(from_given) = call.text("From").or(service_sid.map(|_| "")) else {
        return Err(TwilioError::bad(
            21603,
            "A 'From' phone number is required.",
        ));
    };
    if body.is_empty() && media_urls.is_empty() && call.text("ContentSid").is_none() {
        return Err(TwilioError::bad(21602, "Message body is required."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(TwilioError::bad(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    for url in &media_urls {
        if !is_http_url(url) {
            return Err(TwilioError::bad(
                21620,
                format!("Invalid media URL(s): {url}"),
            ));
        }
    }
    let mut callback = call.text("StatusCallback").map(str::to_string);
    if let Some(url) = &callback {
        if !is_http_url(url) {
            return Err(TwilioError::bad(
                21609,
                format!("Invalid StatusCallback url: {url}"),
            ));
        }
    }

    // The sender: a magic number, one of the session's, an alphanumeric ID,
    // or the messaging service's first number.
    let from = if from_given.is_empty() {
        let service = messaging_services::sender(call, service_sid.unwrap_or_default())?;
        if callback.is_none() {
            callback = service.status_callback;
        }
        service.from
    } else {
        match phone::magic_from(from_given) {
            Some(verdict) => verdict?,
            None if phone::is_alphanumeric_sender(from_given) => {}
            None if !phone::is_e164(phone::number_of(from_given)) => {
                return Err(TwilioError::bad(
                    21212,
                    format!("The 'From' number {from_given} is not a valid phone number, shortcode, or alphanumeric sender ID."),
                ))
            }
            None if numbers::owns(call, phone::number_of(from_given))? => {}
            None => return Err(phone::not_owned(from_given).unwrap_or_else(|| TwilioError::internal("21606"))),
        }
        if let Some(sid) = service_sid {
            // A From and a service: the service must exist (its callback applies).
            let service = messaging_services::find(call, sid)?;
            if callback.is_none() {
                callback = service.status_callback;
            }
        }
        from_given.to_string()
    };
    let outcome = phone::check_to(to, &from)?;

    // Scheduling needs a messaging service and a time 5 minutes to 35 days out.
    let send_at = match call.text("ScheduleType") {
        Some("fixed") => {
            if service_sid.is_none() {
                return Err(TwilioError::bad(
                    35118,
                    "MessagingServiceSid is required to schedule a message.",
                ));
            }
            let text = call
                .text("SendAt")
                .ok_or_else(|| TwilioError::bad(35111, "SendAt timestamp is missing"))?;
            let at = iso8601_ms(text).ok_or_else(|| {
                TwilioError::bad(
                    codes::INVALID_PARAMETER,
                    format!("Invalid parameter SendAt: {text}"),
                )
            })?;
            let ahead = at - call.now_ms;
            if ahead < SCHEDULE_WINDOW_MS.0 || ahead > SCHEDULE_WINDOW_MS.1 {
                return Err(TwilioError::bad(
                    35114,
                    "SendAt time must be between 300 seconds and 35 days (3024000 seconds) in the future, inclusive.",
                ));
            }
            Some(at)
        }
        _ => None,
    };

    record(
        call,
        Outgoing {
            to,
            from: &from,
            body,
            service_sid,
            media_urls: &media_urls,
            send_at,
            plan: status::Plan { callback, outcome },
        },
    )
}

/// A message on its way out: what [`create`] accepted, or what the mirror
/// sends on its own (Verify's codes), stored and moved like any other.
pub struct Outgoing<'a> {
    pub to: &'a str,
    /// `""`: none (a messaging service that has no number to show).
    pub from: &'a str,
    pub body: &'a str,
    pub service_sid: Option<&'a str>,
    pub media_urls: &'a [&'a str],
    /// When a scheduled message goes out; `None`: now.
    pub send_at: Option<i64>,
    pub plan: status::Plan,
}

/// Stores `m` as a new `outbound-api` message with its media and sets it on
/// its way (`status`); the message as Twilio answers it.
pub fn record(call: &Call, m: Outgoing) -> Result<Value, TwilioError> {
    record_as(call, m, "outbound-api")
}

/// [`record`] with Twilio's `direction` for how the message came about:
/// `outbound-api` (the REST API) or `outbound-reply` (TwiML answering an
/// inbound message).
pub fn record_as(call: &Call, m: Outgoing, direction: &str) -> Result<Value, TwilioError> {
    let Outgoing {
        to,
        from,
        body,
        service_sid,
        media_urls,
        send_at,
        plan,
    } = m;
    let sid = Twilio.new_id(&KIND);
    let initial = match (send_at, service_sid) {
        (Some(_), _) => "scheduled",
        (None, Some(_)) => "accepted",
        (None, None) => "queued",
    };
    let msg = object(
        call,
        &Fields {
            sid: &sid,
            to,
            from,
            body,
            service_sid,
            num_media: media_urls.len(),
            direction,
            status: initial,
        },
    );
    KIND.insert_at(call.conn, &msg, call.now_ms.div_euclid(1000))?;
    media::create_for(call, &sid, media_urls)?;
    match send_at {
        Some(at) => status::schedule_send(call, &sid, &plan, at)?,
        None => status::start(call, &sid, &plan)?,
    }
    Ok(msg)
}

/// What sets one message apart from another, for [`object`].
pub struct Fields<'a> {
    pub sid: &'a str,
    pub to: &'a str,
    /// `""`: none (a messaging service that has no number to show).
    pub from: &'a str,
    pub body: &'a str,
    pub service_sid: Option<&'a str>,
    pub num_media: usize,
    pub direction: &'a str,
    pub status: &'a str,
}

/// A message as Twilio's 2010 API answers it, created now.
pub fn object(call: &Call, f: &Fields) -> Value {
    let account = call.account_sid();
    let path = path_of(account, f.sid);
    let now = rfc2822(call.now_ms);
    json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": f.body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": f.direction,
        "error_code": null,
        "error_message": null,
        "from": if f.from.is_empty() { Value::Null } else { json!(f.from) },
        "messaging_service_sid": f.service_sid,
        "num_media": f.num_media.to_string(),
        "num_segments": segments(f.body).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": f.sid,
        "status": f.status,
        "subresource_uris": {
            "media": format!("{path}/Media.json"),
            "feedback": format!("{path}/Feedback.json"),
        },
        "to": f.to,
        "uri": format!("{path}.json"),
    })
}

/// How many SMS segments a body takes: 160 GSM-7 characters alone, 153 per
/// part when split; 70 / 67 when it needs UCS-2.
pub fn segments(body: &str) -> usize {
    const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€";
    let n = body.chars().count();
    let (single, part) = if body.chars().all(|c| GSM.contains(c)) {
        (160, 153)
    } else {
        (70, 67)
    };
    if n <= single {
        1
    } else {
        n.div_ceil(part)
    }
}

/// An http(s) URL with something after the scheme.
pub fn is_http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments count as a handset splits them: GSM-7 and UCS-2 alike.
    #[test]
    fn segments_count_as_handsets_split_them() {
        assert_eq!(segments("hi"), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"é".repeat(160)), 1);
        assert_eq!(segments(&"ł".repeat(70)), 1);
        assert_eq!(segments(&"ł".repeat(71)), 2);
    }
}
