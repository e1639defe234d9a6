//! The session's phone numbers (IncomingPhoneNumbers, `PN…`): what a message
//! may be sent `From`, and where an inbound message to one is POSTed
//! (`sms_url`). Seeded (`seed`); the seed's numbers are the session's own.

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::error::TwilioError;
use super::pipeline::Call;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::rfc2822;

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
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": n.sms_url,
        "status": "in-use",
        "status_callback": "",
        "status_callback_method": "POST",
        "subresource_uris": {"assigned_add_ons": format!("{uri}/AssignedAddOns.json")},
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
