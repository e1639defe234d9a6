//! Emails: `/emails`, `/emails/{email_id}`, `/emails/{email_id}/cancel` and
//! `/emails/batch`. Sending is [`send`] and [`batch`]; this file holds the
//! email's storage and what happens to one after it was sent: retrieve, list,
//! reschedule (`PATCH`) and cancel, and where it ends. `last_event` is
//! `scheduled` until a scheduled email goes out (its timer, `later.rs`), or
//! `canceled`; `sent` once it went out; then, a few seconds later, `delivered`,
//! `bounced` or `suppressed` as Resend's test addresses decide ([`outcome`]),
//! and `complained` after a delivery to `complained@resend.dev`.

use serde_json::{json, Value};

use super::error::ResendError;
use super::events;
use super::inbox;
use super::later;
use super::pipeline::Call;
use crate::mirrors::toolkit::list::{self, Cursor, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::timers;

pub mod address;
pub mod batch;
pub mod outcome;
pub mod send;
pub mod time;

pub use batch::batch;
pub use send::send;

/// Storage: one row per email, `last_event` indexed.
pub static KIND: Kind = Kind {
    object: "email",
    table: "emails",
    prefix: "",
    id_len: 0,
    columns: &["last_event"],
};

/// Resend's page size bounds for `GET /emails`.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// Fields a list item leaves out (Resend lists emails without their bodies).
const NOT_IN_LISTS: &[&str] = &["html", "text"];

/// `GET /emails/{email_id}`.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    load(call, call.args.get("email_id"))
}

/// `GET /emails`: newest first, `limit` 1–100 (20), `after` / `before` an email id.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    let p = |k: &str| call.params.get(k);
    let limit = p("limit").and_then(Value::as_i64).unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ResendError::validation(format!(
            "The `limit` parameter must be between 1 and {MAX_LIMIT}."
        )));
    }
    let (after, before) = (
        p("after").and_then(Value::as_str),
        p("before").and_then(Value::as_str),
    );
    let cursor = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ResendError::validation(
                "You can only use `after` or `before`, not both.",
            ))
        }
        (Some(id), None) => Cursor::After(id.to_string()),
        (None, Some(id)) => Cursor::Before(id.to_string()),
        (None, None) => Cursor::None,
    };
    let q = ListQuery {
        limit: usize::try_from(limit).unwrap_or(20),
        cursor,
        ..ListQuery::default()
    };
    let page = list::list(call.conn, &KIND, &q)?;
    let mut data = Vec::with_capacity(page.data.len());
    for text in &page.data {
        let mut v: Value = serde_json::from_str(text).map_err(ResendError::internal)?;
        if let Some(m) = v.as_object_mut() {
            for k in NOT_IN_LISTS {
                m.remove(*k);
            }
        }
        data.push(v);
    }
    Ok(json!({"object": "list", "has_more": page.has_more, "data": data}))
}

/// `PATCH /emails/{email_id}`: a scheduled email gets a new `scheduled_at`; a
/// time already past sends it at once.
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("email_id");
    let mut email = load(call, id)?;
    let Some(text) = call.params.get("scheduled_at").and_then(Value::as_str) else {
        return Err(ResendError::missing_field("scheduled_at"));
    };
    if email["last_event"] != "scheduled" {
        return Err(ResendError::validation(format!(
            "Email {id} cannot be updated: it is not scheduled (its last event is {}).",
            email["last_event"]
        )));
    }
    let at = time::parse_scheduled(text, call.now_ms)
        .map_err(|e| ResendError::validation(e.to_string()))?;
    if at > call.now_ms + send::MAX_SCHEDULE_AHEAD_MS {
        return Err(ResendError::validation(
            "`scheduled_at` must be within the next 30 days.",
        ));
    }
    timers::cancel(call.conn, later::SEND_SCHEDULED, id)?;
    if at <= call.now_ms {
        release(call, id)?;
    } else {
        email["scheduled_at"] = Value::String(time::timestamp(at));
        KIND.save(call.conn, &email)?;
        timers::schedule(call.conn, later::SEND_SCHEDULED, id, None, at)?;
        call.owe(at);
    }
    Ok(json!({"object": "email", "id": id}))
}

/// `POST /emails/{email_id}/cancel`: a scheduled email is never sent.
pub fn cancel(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("email_id");
    let mut email = load(call, id)?;
    if email["last_event"] != "scheduled" {
        return Err(ResendError::validation(format!(
            "Email {id} cannot be canceled: it is not scheduled (its last event is {}).",
            email["last_event"]
        )));
    }
    timers::cancel(call.conn, later::SEND_SCHEDULED, id)?;
    email["last_event"] = Value::String("canceled".into());
    KIND.save(call.conn, &email)?;
    inbox::mark(call.conn, id, "canceled", &time::timestamp(call.now_ms))?;
    Ok(json!({"object": "email", "id": id}))
}

/// A scheduled email goes out now: `last_event` becomes `sent` and its inbox
/// message appears. Anything else (canceled meanwhile) is left alone.
pub fn release(call: &Call, id: &str) -> Result<(), ResendError> {
    let Some(mut email) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if email["last_event"] != "scheduled" {
        return Ok(());
    }
    email["last_event"] = Value::String("sent".into());
    KIND.save(call.conn, &email)?;
    inbox::mark(call.conn, id, "sent", &time::timestamp(call.now_ms))?;
    events::email_event(call, "email.sent", &email)?;
    schedule_delivery(call, id)
}

/// After an email went out: its delivery (or bounce …) is due in a while.
pub fn schedule_delivery(call: &Call, id: &str) -> Result<(), ResendError> {
    let due = call.now_ms + later::DELIVERED_AFTER_MS;
    timers::schedule(call.conn, later::DELIVER, id, None, due)?;
    call.owe(due);
    Ok(())
}

/// A sent email reaches the end its first recipient decides.
pub fn deliver(call: &Call, id: &str) -> Result<(), ResendError> {
    let Some(mut email) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    let delayed = email["last_event"] == "delivery_delayed";
    if email["last_event"] != "sent" && !delayed {
        return Ok(());
    }
    let first = email["to"][0].as_str().unwrap_or_default();
    let end = match outcome::for_recipient(first) {
        outcome::Outcome::Delayed if !delayed => {
            schedule_delivery(call, id)?;
            "delivery_delayed"
        }
        outcome::Outcome::Delivered | outcome::Outcome::Delayed => "delivered",
        outcome::Outcome::Bounced => "bounced",
        outcome::Outcome::Suppressed => "suppressed",
        outcome::Outcome::Complained => {
            let due = call.now_ms + later::DELIVERED_AFTER_MS;
            timers::schedule(call.conn, later::COMPLAIN, id, None, due)?;
            call.owe(due);
            "delivered"
        }
    };
    email["last_event"] = Value::String(end.into());
    KIND.save(call.conn, &email)?;
    events::email_event(call, &format!("email.{end}"), &email)
}

/// A delivered email is marked as spam by its recipient.
pub fn complain(call: &Call, id: &str) -> Result<(), ResendError> {
    let Some(mut email) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if email["last_event"] == "delivered" {
        email["last_event"] = Value::String("complained".into());
        KIND.save(call.conn, &email)?;
        events::email_event(call, "email.complained", &email)?;
    }
    Ok(())
}

/// An email by id: a malformed id is Resend's 422, an unknown one its 404.
fn load(call: &Call, id: &str) -> Result<Value, ResendError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(ResendError::validation("The `id` must be a valid UUID."));
    }
    KIND.load(call.conn, id)?
        .ok_or_else(|| ResendError::not_found("Email"))
}
