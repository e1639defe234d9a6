//! Messaging services (`MG…`, messaging.twilio.com `/v1/Services`): a pool of
//! the session's numbers a message can be sent through
//! (`MessagingServiceSid` instead of `From`), with a status callback of its
//! own. What a message needs of one: [`find`] and [`sender`].

use rusqlite::types::Value as Sql;
use serde_json::Value;

use super::error::TwilioError;
use super::pipeline::Call;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;

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
