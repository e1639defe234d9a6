//! A messaging service's senders (`/v1/Services/{ServiceSid}/PhoneNumbers`):
//! the session's numbers added to it by their `PN…` SID. A number is in one
//! service at most (Twilio's 21710 when it is already in this one, 21712
//! when in another); releasing the number or deleting the service takes it
//! out.

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::{load, service_path, NUMBERS};
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::time::iso8601_secs;
use crate::mirrors::twilio::available_numbers;
use crate::mirrors::twilio::error::TwilioError;
use crate::mirrors::twilio::numbers;
use crate::mirrors::twilio::paging;
use crate::mirrors::twilio::pipeline::Call;

/// Twilio's limit of numbers in one service.
const MAX_NUMBERS: usize = 400;

/// Twilio's refusals for adding a number.
mod codes {
    /// The number is in this service already.
    pub const IN_THIS_SERVICE: u32 = 21710;
    /// The number is in another service.
    pub const IN_ANOTHER_SERVICE: u32 = 21712;
}

/// `CreatePhoneNumber`: adds the session's number `PhoneNumberSid`.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let service = call.args.get("ServiceSid");
    load(call, service)?;
    let pn = call.text("PhoneNumberSid").unwrap_or_default();
    let Some(number) = numbers::KIND.load(call.conn, pn)? else {
        return Err(TwilioError::not_found(&format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{pn}.json",
            call.account_sid()
        )));
    };
    if let Some(link) = NUMBERS.load(call.conn, pn)? {
        return Err(if link["service_sid"] == service {
            TwilioError::bad(
                codes::IN_THIS_SERVICE,
                format!("Phone Number {pn} is already in the Messaging Service {service}"),
            )
        } else {
            TwilioError::bad(
                codes::IN_ANOTHER_SERVICE,
                format!(
                    "Phone Number {pn} is already associated with another Messaging Service ({})",
                    link["service_sid"].as_str().unwrap_or_default()
                ),
            )
        });
    }
    let now = iso8601_secs(call.now_ms);
    let caps = &number["capabilities"];
    let capabilities: Vec<&str> = [("sms", "SMS"), ("mms", "MMS"), ("voice", "Voice")]
        .into_iter()
        .filter(|(k, _)| caps[*k].as_bool() == Some(true))
        .map(|(_, name)| name)
        .collect();
    let phone_number = number["phone_number"].as_str().unwrap_or_default();
    let link = json!({
        "account_sid": call.account_sid(),
        "capabilities": capabilities,
        "country_code": country_of(phone_number),
        "date_created": now,
        "date_updated": now,
        "phone_number": phone_number,
        "service_sid": service,
        "sid": pn,
        "url": "",
    });
    NUMBERS.insert_at(call.conn, &link, call.now_ms.div_euclid(1000))?;
    Ok(with_url(call.base_url, link))
}

/// `FetchPhoneNumber`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    Ok(with_url(call.base_url, find(call)?))
}

/// `ListPhoneNumber`: the service's numbers, newest first.
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    let service = call.args.get("ServiceSid");
    load(call, service)?;
    let q = ListQuery {
        filters: vec![("service_sid", Sql::Text(service.to_string()))],
        ..ListQuery::default()
    };
    paging::v1(call, &NUMBERS, "phone_numbers", q, |item| {
        with_url(call.base_url, item)
    })
}

/// `DeletePhoneNumber`: the number leaves the service (it stays the
/// session's).
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let link = find(call)?;
    NUMBERS.remove(call.conn, link["sid"].as_str().unwrap_or_default())?;
    Ok(Value::Null)
}

/// Every number in service `sid`.
pub fn of_service(call: &Call, sid: &str) -> Result<Vec<Value>, TwilioError> {
    let q = ListQuery {
        limit: MAX_NUMBERS,
        filters: vec![("service_sid", Sql::Text(sid.to_string()))],
        ..ListQuery::default()
    };
    list::list(call.conn, &NUMBERS, &q)?
        .data
        .iter()
        .map(|t| serde_json::from_str(t).map_err(TwilioError::internal))
        .collect()
}

/// The number the URL names in the service it names, or 20404.
fn find(call: &Call) -> Result<Value, TwilioError> {
    let (service, sid) = (call.args.get("ServiceSid"), call.args.get("Sid"));
    NUMBERS
        .load(call.conn, sid)?
        .filter(|link| link["service_sid"] == service)
        .ok_or_else(|| {
            TwilioError::not_found(&format!("{}/PhoneNumbers/{sid}", service_path(service)))
        })
}

fn with_url(base: &str, mut link: Value) -> Value {
    let path = format!(
        "{}/PhoneNumbers/{}",
        service_path(link["service_sid"].as_str().unwrap_or_default()),
        link["sid"].as_str().unwrap_or_default()
    );
    link["url"] = json!(format!("{base}{path}"));
    link
}

/// The ISO country of a number: the catalogue's, else read off the
/// calling code as far as the catalogue sells numbers.
fn country_of(number: &str) -> &'static str {
    if let Some(offer) = available_numbers::offer_of(number) {
        offer.iso_country()
    } else if number.starts_with("+44") {
        "GB"
    } else if number.starts_with("+1") {
        "US"
    } else {
        "ZZ"
    }
}
