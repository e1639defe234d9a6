//! Messaging services (`MG…`, messaging.twilio.com `/v1/Services`): a pool of
//! the session's numbers a message can be sent through
//! (`MessagingServiceSid` instead of `From`), with a status callback and an
//! inbound URL of their own. Created, listed, updated and deleted here; the
//! numbers in one are [`phone_numbers`]. What a message needs of one:
//! [`find`] and [`sender`].

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::error::TwilioError;
use super::paging;
use super::pipeline::Call;
use super::Twilio;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::iso8601_secs;
use crate::mirrors::Vendor;

pub mod phone_numbers;

pub static KIND: Kind = Kind {
    object: "messaging_service",
    table: "messaging_services",
    prefix: "MG",
    id_len: 32,
    columns: &[],
};

/// A service's senders: one row per number in it, keyed by the number's
/// `PN…` SID (a number is in one service at most).
pub static NUMBERS: Kind = Kind {
    object: "messaging_phone_number",
    table: "messaging_service_numbers",
    prefix: "PN",
    id_len: 32,
    columns: &["service_sid"],
};

/// What sending through a service uses.
pub struct Service {
    /// Its first number, the sender; `""` when `find` did not look.
    pub from: String,
    /// Its `status_callback`, for messages that have none of their own.
    pub status_callback: Option<String>,
}

/// Service `sid`, or Twilio's 21701 for a SID that names none.
pub fn find(call: &Call, sid: &str) -> Result<Service, TwilioError> {
    let service = KIND.load(call.conn, sid)?.ok_or_else(|| {
        TwilioError::bad(
            21701,
            format!("The Messaging Service Sid {sid} is invalid."),
        )
    })?;
    Ok(Service {
        from: String::new(),
        status_callback: service["status_callback"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    })
}

/// Service `sid` with the number a message sent through it goes from, or
/// Twilio's 21704 when it has none.
pub fn sender(call: &Call, sid: &str) -> Result<Service, TwilioError> {
    let mut service = find(call, sid)?;
    let q = ListQuery {
        limit: 1,
        filters: vec![("service_sid", Sql::Text(sid.to_string()))],
        ..ListQuery::default()
    };
    let first = list::list(call.conn, &NUMBERS, &q)?.data.into_iter().next();
    let Some(text) = first else {
        return Err(TwilioError::bad(
            21704,
            format!("The Messaging Service {sid} contains no phone numbers."),
        ));
    };
    let number: Value = serde_json::from_str(&text).map_err(TwilioError::internal)?;
    service.from = number["phone_number"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok(service)
}

/// Each settable parameter and where it lands, for create and update alike.
const SETTINGS: &[(&str, &str)] = &[
    ("FriendlyName", "/friendly_name"),
    ("InboundRequestUrl", "/inbound_request_url"),
    ("InboundMethod", "/inbound_method"),
    ("FallbackUrl", "/fallback_url"),
    ("FallbackMethod", "/fallback_method"),
    ("StatusCallback", "/status_callback"),
    ("StickySender", "/sticky_sender"),
    ("MmsConverter", "/mms_converter"),
    ("SmartEncoding", "/smart_encoding"),
    ("ScanMessageContent", "/scan_message_content"),
    ("FallbackToLongCode", "/fallback_to_long_code"),
    ("AreaCodeGeomatch", "/area_code_geomatch"),
    ("ValidityPeriod", "/validity_period"),
    ("SynchronousValidation", "/synchronous_validation"),
    ("Usecase", "/usecase"),
    (
        "UseInboundWebhookOnNumber",
        "/use_inbound_webhook_on_number",
    ),
];

const URLS: &[&str] = &["InboundRequestUrl", "FallbackUrl", "StatusCallback"];

/// Longest `FriendlyName`.
const MAX_FRIENDLY_NAME: usize = 64;
/// `ValidityPeriod` bounds, seconds.
const VALIDITY: std::ops::RangeInclusive<i64> = 1..=36_000;

/// `CreateService`.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let sid = Twilio.new_id(&KIND);
    let now = iso8601_secs(call.now_ms);
    let mut service = json!({
        "account_sid": call.account_sid(),
        "area_code_geomatch": true,
        "date_created": now,
        "date_updated": now,
        "fallback_method": "POST",
        "fallback_to_long_code": true,
        "fallback_url": null,
        "friendly_name": "",
        "inbound_method": "POST",
        "inbound_request_url": null,
        "links": {},
        "mms_converter": true,
        "scan_message_content": "inherit",
        "sid": sid,
        "smart_encoding": true,
        "status_callback": null,
        "sticky_sender": true,
        "synchronous_validation": true,
        "url": "",
        "us_app_to_person_registered": false,
        "use_inbound_webhook_on_number": false,
        "usecase": "undeclared",
        "validity_period": 36_000,
    });
    apply(call, &mut service)?;
    KIND.insert_at(call.conn, &service, call.now_ms.div_euclid(1000))?;
    Ok(with_urls(call.base_url, service))
}

/// `FetchService`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    Ok(with_urls(call.base_url, load(call, call.args.get("Sid"))?))
}

/// `ListService`: newest first, Twilio's v1 paging.
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    paging::v1(call, &KIND, "services", ListQuery::default(), |item| {
        with_urls(call.base_url, item)
    })
}

/// `UpdateService`: the settings given replace the stored ones.
pub fn update(call: &Call) -> Result<Value, TwilioError> {
    let mut service = load(call, call.args.get("Sid"))?;
    apply(call, &mut service)?;
    service["date_updated"] = json!(iso8601_secs(call.now_ms));
    KIND.save(call.conn, &service)?;
    Ok(with_urls(call.base_url, service))
}

/// `DeleteService`: its numbers return to the account (they stay the
/// session's); messages sent through it keep its SID.
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let sid = call.args.get("Sid");
    load(call, sid)?;
    for number in phone_numbers::of_service(call, sid)? {
        NUMBERS.remove(call.conn, number["sid"].as_str().unwrap_or_default())?;
    }
    KIND.remove(call.conn, sid)?;
    Ok(Value::Null)
}

/// Service `sid`, or Twilio's 20404 for its URL.
pub fn load(call: &Call, sid: &str) -> Result<Value, TwilioError> {
    KIND.load(call.conn, sid)?
        .ok_or_else(|| TwilioError::not_found(&service_path(sid)))
}

fn apply(call: &Call, service: &mut Value) -> Result<(), TwilioError> {
    call.check_urls(URLS)?;
    call.apply_settings(SETTINGS, service);
    let name = service["friendly_name"].as_str().unwrap_or_default();
    if name.trim().is_empty() || name.chars().count() > MAX_FRIENDLY_NAME {
        return Err(TwilioError::bad(
            super::error::codes::INVALID_PARAMETER,
            format!("FriendlyName must be 1 to {MAX_FRIENDLY_NAME} characters"),
        ));
    }
    let validity = service["validity_period"].as_i64().unwrap_or_default();
    if !VALIDITY.contains(&validity) {
        return Err(TwilioError::bad(
            super::error::codes::INVALID_PARAMETER,
            format!("ValidityPeriod must be between 1 and 36000 seconds, not {validity}"),
        ));
    }
    Ok(())
}

/// `/v1/Services/{sid}`.
pub fn service_path(sid: &str) -> String {
    format!("/v1/Services/{sid}")
}

/// `service` with its absolute `url` and `links`, against `base`.
fn with_urls(base: &str, mut service: Value) -> Value {
    let path = service_path(service["sid"].as_str().unwrap_or_default());
    let link = |rest: &str| format!("{base}{path}/{rest}");
    service["url"] = json!(format!("{base}{path}"));
    service["links"] = json!({
        "alpha_senders": link("AlphaSenders"),
        "channel_senders": link("ChannelSenders"),
        "destination_alpha_senders": link("DestinationAlphaSenders"),
        "messages": link("Messages"),
        "phone_numbers": link("PhoneNumbers"),
        "short_codes": link("ShortCodes"),
        "us_app_to_person": link("Compliance/Usa2p"),
        "us_app_to_person_usecases": link("Compliance/Usa2p/Usecases"),
    });
    service
}
