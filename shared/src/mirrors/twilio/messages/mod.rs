//! Messages (`/2010-04-01/Accounts/{AccountSid}/Messages`): [`create`] checks
//! and sends, [`status`] moves a sent message through Twilio's statuses on a
//! schedule with a status callback for each change; here, what a message
//! looks like and the operations on one that exists (fetch, list, update to
//! redact or cancel, delete).

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::error::{codes, TwilioError};
use super::media;
use super::paging;
use super::pipeline::Call;
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::{iso8601_ms, rfc2822};
use crate::mirrors::toolkit::timers;

pub mod create;
pub mod status;

pub use create::create;

pub static KIND: Kind = Kind {
    object: "message",
    table: "messages",
    prefix: "SM",
    id_len: 32,
    columns: &["to", "from", "status"],
};

/// Statuses a message does not leave on its own.
pub const FINAL: &[&str] = &[
    "delivered",
    "undelivered",
    "failed",
    "received",
    "canceled",
    "read",
];

/// The API path of a message (`/2010-04-01/Accounts/AC…/Messages/SM…`), without `.json`.
pub fn path_of(account: &str, sid: &str) -> String {
    format!("/2010-04-01/Accounts/{account}/Messages/{sid}")
}

/// A stored message, or Twilio's 404 for its URL.
pub fn load(call: &Call, sid: &str) -> Result<Value, TwilioError> {
    KIND.load(call.conn, sid)?.ok_or_else(|| {
        TwilioError::not_found(&format!("{}.json", path_of(call.account_sid(), sid)))
    })
}

/// `FetchMessage`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    load(call, call.args.get("Sid"))
}

/// `ListMessage`: newest first, filtered by `To`, `From` and the day it was
/// sent (`DateSent=YYYY-MM-DD`, or a bound with `DateSent<` / `DateSent>`,
/// read as the time the message was created).
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    let mut q = ListQuery::default();
    for (param, column) in [("To", "to"), ("From", "from")] {
        if let Some(v) = call.text(param) {
            q.filters.push((column, Sql::Text(v.to_string())));
        }
    }
    let day = |param: &str| -> Result<Option<i64>, TwilioError> {
        match call.text(param) {
            None => Ok(None),
            Some(t) => iso8601_ms(t)
                .map(|ms| Some(ms.div_euclid(1000)))
                .ok_or_else(|| {
                    TwilioError::bad(
                        codes::INVALID_PARAMETER,
                        format!("Invalid parameter {param}: {t} is not a date (YYYY-MM-DD)"),
                    )
                }),
        }
    };
    if let Some(at) = day("DateSent")? {
        // A bare date is that whole day; a time is that second.
        let whole_day = call.text("DateSent").is_some_and(|t| t.len() == 10);
        q.created = (at, if whole_day { at + 86_399 } else { at });
    }
    if let Some(before) = day("DateSent<")? {
        q.created.1 = q.created.1.min(before);
    }
    if let Some(after) = day("DateSent>")? {
        q.created.0 = q.created.0.max(after);
    }
    paging::v2010(call, &KIND, "messages", q)
}

/// `UpdateMessage`: `Body=""` redacts a message that has reached its end;
/// `Status=canceled` cancels a scheduled one.
pub fn update(call: &Call) -> Result<Value, TwilioError> {
    let sid = call.args.get("Sid");
    let mut msg = load(call, sid)?;
    let state = msg["status"].as_str().unwrap_or_default().to_string();
    if call.params.get("Status").and_then(Value::as_str) == Some("canceled") {
        if state != "scheduled" {
            return Err(TwilioError::bad(
                codes::INVALID_STATE,
                format!("Message {sid} cannot be canceled: its status is {state}, and only scheduled messages can be canceled."),
            ));
        }
        timers::cancel(call.conn, status::SEND_SCHEDULED, sid)?;
        msg["status"] = json!("canceled");
    }
    // `Body=` arrives as "unset" (the form's empty value): redact.
    let redact = call
        .params
        .get("Body")
        .is_some_and(|b| b.is_null() || b == "");
    if redact {
        if !FINAL.contains(&msg["status"].as_str().unwrap_or_default()) {
            return Err(TwilioError::bad(
                codes::INVALID_STATE,
                "Cannot redact message body of a message that has not been delivered yet.",
            ));
        }
        msg["body"] = json!("");
    }
    msg["date_updated"] = json!(rfc2822(call.now_ms));
    KIND.save(call.conn, &msg)?;
    Ok(msg)
}

/// `DeleteMessage`: only once it has reached its end, with its media.
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let sid = call.args.get("Sid");
    let msg = load(call, sid)?;
    if !FINAL.contains(&msg["status"].as_str().unwrap_or_default()) && msg["status"] != "scheduled"
    {
        return Err(TwilioError::bad(
            codes::INVALID_STATE,
            "Cannot delete message because delivery has not been completed.",
        ));
    }
    timers::cancel(call.conn, status::SEND_SCHEDULED, sid)?;
    media::remove_all(call, sid)?;
    KIND.remove(call.conn, sid)?;
    Ok(Value::Null)
}
