//! The session's phone numbers (IncomingPhoneNumbers, `PN…`): what a message
//! may be sent `From`, and where an inbound message to one is POSTed
//! (`sms_url`). Seeded (`seed`) or bought from the catalogue
//! (`available_numbers`) with [`create`]; configured with [`update`] and
//! released with [`remove`].
//!
//! Buying answers as Twilio does with its test credentials for the magic
//! numbers: `PhoneNumber=+15005550000` is unavailable (21422),
//! `+15005550001` invalid (21421), `+15005550006` is bought (unless the
//! session owns it already); `AreaCode=533` has no numbers (21452). Any other
//! number must be one the catalogue offers and the session does not own.

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::available_numbers::{self, friendly_name};
use super::error::TwilioError;
use super::messaging_services;
use super::paging;
use super::phone;
use super::pipeline::Call;
use super::Twilio;
use crate::mirrors::toolkit::list::{self, Filter, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::rfc2822;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "incoming_phone_number",
    table: "incoming_phone_numbers",
    prefix: "PN",
    id_len: 32,
    columns: &["phone_number"],
};

/// The session's number `number` (E.164), if it has it.
pub fn find(conn: &rusqlite::Connection, number: &str) -> Result<Option<Value>, TwilioError> {
    let q = ListQuery {
        limit: 1,
        filters: vec![("phone_number", Sql::Text(number.to_string()))],
        ..ListQuery::default()
    };
    match list::list(conn, &KIND, &q)?.data.first() {
        Some(text) => Ok(Some(
            serde_json::from_str(text).map_err(TwilioError::internal)?,
        )),
        None => Ok(None),
    }
}

/// True when `number` is one of the session's.
pub fn owns(call: &Call, number: &str) -> Result<bool, TwilioError> {
    Ok(find(call.conn, number)?.is_some())
}

/// A number as Twilio's 2010 API answers it.
pub struct NewNumber<'a> {
    pub account: &'a str,
    pub sid: &'a str,
    pub phone_number: &'a str,
    pub friendly_name: &'a str,
    pub sms_url: &'a str,
    pub created_ms: i64,
}

pub fn render(n: &NewNumber) -> Value {
    let date = rfc2822(n.created_ms);
    let (account, sid) = (n.account, n.sid);
    let uri = format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{sid}");
    json!({
        "account_sid": account,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": "2010-04-01",
        "beta": false,
        "bundle_sid": null,
        "capabilities": {"fax": false, "mms": true, "sms": true, "voice": true},
        "date_created": date,
        "date_updated": date,
        "emergency_address_sid": null,
        "emergency_address_status": "unregistered",
        "emergency_status": "Active",
        "friendly_name": n.friendly_name,
        "identity_sid": null,
        "origin": "twilio",
        "phone_number": n.phone_number,
        "sid": sid,
        "sms_application_sid": null,
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": n.sms_url,
        "status": "in-use",
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": null,
        "uri": format!("{uri}.json"),
        "voice_application_sid": null,
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": null,
        "voice_method": "POST",
        "voice_receive_mode": "voice",
        "voice_url": null,
    })
}

/// Each settable parameter and the field it lands in, for buying and
/// updating alike.
const SETTINGS: &[(&str, &str)] = &[
    ("FriendlyName", "/friendly_name"),
    ("ApiVersion", "/api_version"),
    ("SmsUrl", "/sms_url"),
    ("SmsMethod", "/sms_method"),
    ("SmsFallbackUrl", "/sms_fallback_url"),
    ("SmsFallbackMethod", "/sms_fallback_method"),
    ("SmsApplicationSid", "/sms_application_sid"),
    ("StatusCallback", "/status_callback"),
    ("StatusCallbackMethod", "/status_callback_method"),
    ("VoiceUrl", "/voice_url"),
    ("VoiceMethod", "/voice_method"),
    ("VoiceFallbackUrl", "/voice_fallback_url"),
    ("VoiceFallbackMethod", "/voice_fallback_method"),
    ("VoiceCallerIdLookup", "/voice_caller_id_lookup"),
    ("VoiceApplicationSid", "/voice_application_sid"),
    ("VoiceReceiveMode", "/voice_receive_mode"),
    ("TrunkSid", "/trunk_sid"),
    ("IdentitySid", "/identity_sid"),
    ("AddressSid", "/address_sid"),
    ("BundleSid", "/bundle_sid"),
    ("EmergencyStatus", "/emergency_status"),
    ("EmergencyAddressSid", "/emergency_address_sid"),
];

/// The settings that are URLs Twilio requests: each must be http(s).
const URLS: &[&str] = &[
    "SmsUrl",
    "SmsFallbackUrl",
    "StatusCallback",
    "VoiceUrl",
    "VoiceFallbackUrl",
];

/// Longest `FriendlyName` Twilio keeps.
const MAX_FRIENDLY_NAME: usize = 64;

/// Twilio's codes for buying.
mod codes {
    /// `PhoneNumber` is not a phone number.
    pub const INVALID_NUMBER: u32 = 21421;
    /// `PhoneNumber` is not for sale (taken, or not in the catalogue).
    pub const UNAVAILABLE: u32 = 21422;
    /// Neither `PhoneNumber` nor `AreaCode`.
    pub const NUMBER_OR_AREA_REQUIRED: u32 = 21451;
    /// Nothing for sale in `AreaCode`.
    pub const NONE_IN_AREA: u32 = 21452;
}

/// `CreateIncomingPhoneNumber`: buys `PhoneNumber`, or the first number for
/// sale in `AreaCode`, with the settings given.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let offer = match (call.text("PhoneNumber"), call.code("AreaCode")) {
        (Some(number), _) => buyable(call, number)?,
        (None, Some(area)) => available_numbers::first_in_area(call, &area)?.ok_or_else(|| {
            TwilioError::bad(
                codes::NONE_IN_AREA,
                format!("No phone numbers found in area code {area}"),
            )
        })?,
        (None, None) => {
            return Err(TwilioError::bad(
                codes::NUMBER_OR_AREA_REQUIRED,
                "A 'PhoneNumber' or 'AreaCode' is required",
            ))
        }
    };
    let sid = Twilio.new_id(&KIND);
    let number = &offer.phone_number;
    let mut obj = render(&NewNumber {
        account: call.account_sid(),
        sid: &sid,
        phone_number: number,
        friendly_name: &friendly_name(number),
        sms_url: "",
        created_ms: call.now_ms,
    });
    let (voice, sms, mms) = offer.capabilities();
    obj["capabilities"] = json!({"fax": false, "mms": mms, "sms": sms, "voice": voice});
    obj["address_requirements"] = json!(offer.address_requirements());
    apply(call, &mut obj)?;
    KIND.insert_at(call.conn, &obj, call.now_ms.div_euclid(1000))?;
    Ok(obj)
}

/// What buying `number` by `PhoneNumber` gets, or Twilio's refusal.
fn buyable(call: &Call, number: &str) -> Result<available_numbers::Offer, TwilioError> {
    let unavailable = |why: &str| {
        TwilioError::bad(
            codes::UNAVAILABLE,
            format!("PhoneNumber {number} is not available. (Mirra: {why})"),
        )
    };
    if number == phone::magic::INVALID || !phone::is_e164(number) {
        return Err(TwilioError::bad(
            codes::INVALID_NUMBER,
            format!("PhoneNumber {number} is invalid"),
        ));
    }
    if number == phone::magic::UNAVAILABLE {
        return Err(unavailable("Twilio's test number for an unavailable one"));
    }
    if owns(call, number)? {
        return Err(unavailable("the session owns it already"));
    }
    if number == phone::magic::VALID {
        return Ok(available_numbers::Offer::magic(number));
    }
    available_numbers::offer_of(number)
        .ok_or_else(|| unavailable("buy a number AvailablePhoneNumbers lists"))
}

/// `FetchIncomingPhoneNumber`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    load(call)
}

/// `ListIncomingPhoneNumber`: newest first, filtered by `PhoneNumber` (a
/// whole number, or part of one with `*` for any digit), `FriendlyName`,
/// `Origin` and `Beta`.
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    let mut q = ListQuery::default();
    if let Some(n) = call.text("PhoneNumber") {
        if phone::is_e164(n) {
            q.filters.push(("phone_number", Sql::Text(n.to_string())));
        } else if n
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'+')
        {
            q.conditions.push(Filter::Glob(
                "phone_number",
                format!("*{}*", n.replace('*', "?")),
            ));
        } else {
            q.conditions.push(Filter::In("phone_number", Vec::new()));
        }
    }
    if let Some(name) = call.text("FriendlyName") {
        q.conditions.push(Filter::Field(
            "$.friendly_name",
            Sql::Text(name.to_string()),
        ));
    }
    if let Some(origin) = call.text("Origin") {
        q.conditions
            .push(Filter::Field("$.origin", Sql::Text(origin.to_string())));
    }
    if let Some(beta) = call.params.get("Beta").and_then(Value::as_bool) {
        q.conditions
            .push(Filter::Field("$.beta", Sql::Integer(i64::from(beta))));
    }
    paging::v2010(call, &KIND, "incoming_phone_numbers", q)
}

/// `UpdateIncomingPhoneNumber`: the settings given replace the stored ones.
pub fn update(call: &Call) -> Result<Value, TwilioError> {
    let mut obj = load(call)?;
    apply(call, &mut obj)?;
    obj["date_updated"] = json!(rfc2822(call.now_ms));
    KIND.save(call.conn, &obj)?;
    Ok(obj)
}

/// `DeleteIncomingPhoneNumber`: releases the number; it leaves its
/// messaging service, and messages can no longer be sent from it.
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let obj = load(call)?;
    let sid = obj["sid"].as_str().unwrap_or_default();
    KIND.remove(call.conn, sid)?;
    if messaging_services::NUMBERS.load(call.conn, sid)?.is_some() {
        messaging_services::NUMBERS.remove(call.conn, sid)?;
    }
    Ok(Value::Null)
}

/// The number the URL names, or Twilio's 20404 for the URL.
fn load(call: &Call) -> Result<Value, TwilioError> {
    KIND.load(call.conn, call.args.get("Sid"))?
        .ok_or_else(|| TwilioError::not_found(call.path))
}

/// The request's settings written into `obj`, then checked.
fn apply(call: &Call, obj: &mut Value) -> Result<(), TwilioError> {
    call.check_urls(URLS)?;
    call.apply_settings(SETTINGS, obj);
    let name = obj["friendly_name"].as_str().unwrap_or_default();
    if name.chars().count() > MAX_FRIENDLY_NAME {
        return Err(TwilioError::bad(
            super::error::codes::INVALID_PARAMETER,
            format!("FriendlyName is longer than {MAX_FRIENDLY_NAME} characters"),
        ));
    }
    Ok(())
}
