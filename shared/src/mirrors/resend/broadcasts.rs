//! Broadcasts (`/broadcasts`): one email to every contact of a segment that
//! has not unsubscribed, each personalized (`personalize`: merge tags and the
//! contact's unsubscribe link, also sent as `List-Unsubscribe`). A broadcast
//! is a `draft` until it is sent — at once (`sent`, every email stored like
//! one sent with `POST /emails`, so they are in `/emails`, the inbox and the
//! webhooks) or at its `scheduled_at` (`scheduled`, then the dispatcher sends
//! it); a scheduled one can be canceled (`canceled`). Only a draft can be
//! edited; a sent one cannot be deleted.

use serde_json::{json, Map, Value};

use super::account;
use super::contacts;
use super::emails::send::{build, store};
use super::emails::time::{parse_scheduled, timestamp};
use super::error::ResendError;
use super::later;
use super::links::unsubscribe_url;
use super::lists;
use super::personalize::merge;
use super::pipeline::Call;
use super::segments;
use super::Resend;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::timers;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "broadcast",
    table: "broadcasts",
    prefix: "",
    id_len: 0,
    columns: &[],
};

/// Fields of a broadcast that are the mirror's own, never answered.
const PRIVATE: &[&str] = &["base_url", "recipients"];

const IN_LISTS: &[&str] = &[
    "id",
    "name",
    "audience_id",
    "segment_id",
    "status",
    "created_at",
    "scheduled_at",
    "sent_at",
    "topic_id",
];

/// The fields create and update take as they are.
const EDITABLE: &[&str] = &[
    "name",
    "from",
    "subject",
    "reply_to",
    "preview_text",
    "html",
    "text",
    "topic_id",
];

/// Most contacts one broadcast goes to.
const MAX_RECIPIENTS: usize = 100_000;

/// `POST /broadcasts`: a draft, or sent (`send: true`, at `scheduled_at`
/// if given).
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let p = call.params;
    let segment = segment_of(call)?.ok_or_else(|| ResendError::missing_field("segment_id"))?;
    let now = call.now_ms;
    let mut b = json!({
        "object": "broadcast",
        "id": Resend.new_id(&KIND),
        "name": null,
        "audience_id": segment,
        "segment_id": segment,
        "from": "",
        "subject": "",
        "reply_to": null,
        "preview_text": null,
        "status": "draft",
        "created_at": timestamp(now),
        "scheduled_at": null,
        "sent_at": null,
        "text": null,
        "html": null,
        "topic_id": null,
        "base_url": call.base_url,
        "recipients": 0,
    });
    edit(call, &mut b)?;
    let send = p["send"].as_bool().unwrap_or(false);
    if !send && p.get("scheduled_at").is_some() {
        return Err(ResendError::validation(
            "The `scheduled_at` field can only be used if `send` is true.",
        ));
    }
    if send {
        dispatch(call, &mut b, p["scheduled_at"].as_str())?;
        KIND.insert_at(call.conn, &b, now.div_euclid(1000))?;
        if b["status"] == "sent" {
            // Stored after the broadcast's own row so its emails are newer.
            let id = b["id"].as_str().unwrap_or_default().to_string();
            go_out(call, &id)?;
        }
    } else {
        KIND.insert_at(call.conn, &b, now.div_euclid(1000))?;
    }
    Ok(json!({"id": b["id"], "object": "broadcast"}))
}

/// `GET /broadcasts/{id}`.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    Ok(lists::without(PRIVATE)(load(call, call.args.get("id"))?))
}

/// `GET /broadcasts`: newest first.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    let only = lists::only(IN_LISTS);
    lists::page(call, &KIND, ListQuery::default(), |b| {
        let mut item = only(b);
        if item["topic_id"].is_null() {
            // The document's list item has it as a string: absent when none.
            if let Some(m) = item.as_object_mut() {
                m.remove("topic_id");
            }
        }
        item
    })
}

/// `PATCH /broadcasts/{id}`: a draft's content or segment.
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let mut b = load(call, call.args.get("id"))?;
    if b["status"] != "draft" {
        return Err(ResendError::validation(format!(
            "Broadcast {} is {}: only a draft can be updated.",
            b["id"].as_str().unwrap_or_default(),
            b["status"].as_str().unwrap_or_default()
        )));
    }
    if let Some(segment) = segment_of(call)? {
        b["segment_id"] = json!(segment);
        b["audience_id"] = json!(segment);
    }
    edit(call, &mut b)?;
    KIND.save(call.conn, &b)?;
    Ok(json!({"id": b["id"], "object": "broadcast"}))
}

/// `DELETE /broadcasts/{id}`: a draft, or a scheduled one (its sending is
/// canceled); a sent one stays.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let b = load(call, call.args.get("id"))?;
    let id = b["id"].as_str().unwrap_or_default();
    if b["status"] == "sent" {
        return Err(ResendError::validation(format!(
            "Broadcast {id} was sent: it cannot be deleted."
        )));
    }
    timers::cancel(call.conn, later::SEND_BROADCAST, id)?;
    KIND.remove(call.conn, id)?;
    Ok(json!({"id": id, "object": "broadcast", "deleted": true}))
}

/// `POST /broadcasts/{id}/send`: now, or at `scheduled_at`.
pub fn send(call: &Call) -> Result<Value, ResendError> {
    let mut b = load(call, call.args.get("id"))?;
    if b["status"] != "draft" {
        return Err(ResendError::validation(format!(
            "Broadcast {} is {}: only a draft can be sent.",
            b["id"].as_str().unwrap_or_default(),
            b["status"].as_str().unwrap_or_default()
        )));
    }
    b["base_url"] = json!(call.base_url);
    dispatch(call, &mut b, call.params["scheduled_at"].as_str())?;
    KIND.save(call.conn, &b)?;
    let id = b["id"].as_str().unwrap_or_default().to_string();
    if b["status"] == "sent" {
        go_out(call, &id)?;
    }
    Ok(json!({"id": id}))
}

/// `POST /broadcasts/{id}/cancel`: a scheduled broadcast is not sent.
pub fn cancel(call: &Call) -> Result<Value, ResendError> {
    let mut b = load(call, call.args.get("id"))?;
    let id = b["id"].as_str().unwrap_or_default().to_string();
    if b["status"] != "scheduled" {
        return Err(ResendError::validation(format!(
            "Broadcast {id} is {}: only a scheduled broadcast can be canceled.",
            b["status"].as_str().unwrap_or_default()
        )));
    }
    timers::cancel(call.conn, later::SEND_BROADCAST, &id)?;
    b["status"] = json!("canceled");
    KIND.save(call.conn, &b)?;
    Ok(json!({"id": id, "object": "broadcast"}))
}

/// The timer of a scheduled broadcast: it goes out now (unless it was
/// canceled or deleted meanwhile).
pub fn fire(call: &Call, id: &str) -> Result<(), ResendError> {
    let Some(mut b) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if b["status"] != "scheduled" {
        return Ok(());
    }
    b["status"] = json!("sent");
    b["sent_at"] = json!(timestamp(call.now_ms));
    KIND.save(call.conn, &b)?;
    go_out(call, id)
}

/// Checks a broadcast can go, then marks it sent now or scheduled.
fn dispatch(call: &Call, b: &mut Value, at: Option<&str>) -> Result<(), ResendError> {
    let has = |k: &str| b[k].as_str().is_some_and(|s| !s.is_empty());
    if !has("html") && !has("text") {
        return Err(ResendError::validation(
            "A broadcast needs `html` or `text` before it can be sent.",
        ));
    }
    segments::load(call, b["segment_id"].as_str().unwrap_or_default())?;
    account::check_quota(call.conn)?;
    let now = call.now_ms;
    let due = match at {
        None => None,
        Some(text) => {
            let at =
                parse_scheduled(text, now).map_err(|e| ResendError::validation(e.to_string()))?;
            (at > now).then_some(at)
        }
    };
    match due {
        Some(at) => {
            let id = b["id"].as_str().unwrap_or_default();
            timers::schedule(call.conn, later::SEND_BROADCAST, id, None, at)?;
            call.owe(at);
            b["status"] = json!("scheduled");
            b["scheduled_at"] = json!(timestamp(at));
        }
        None => {
            b["status"] = json!("sent");
            b["sent_at"] = json!(timestamp(now));
        }
    }
    Ok(())
}

/// One email per subscribed contact of the broadcast's segment.
fn go_out(call: &Call, id: &str) -> Result<(), ResendError> {
    let Some(mut b) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    let segment = b["segment_id"].as_str().unwrap_or_default().to_string();
    if segments::KIND.load(call.conn, &segment)?.is_none() {
        return Ok(()); // deleted while the broadcast was scheduled: no one to send to
    }
    let q = ListQuery {
        limit: MAX_RECIPIENTS,
        conditions: vec![segments::members(call, &segment)?],
        ..ListQuery::default()
    };
    let base = b["base_url"].as_str().unwrap_or_default().to_string();
    let call = &call.with_base(&base);
    let mut sent = 0;
    for text in list::list(call.conn, &contacts::KIND, &q)?.data {
        let contact: Value = serde_json::from_str(&text).map_err(ResendError::internal)?;
        if contact["unsubscribed"] == true {
            continue;
        }
        let cid = contact["id"].as_str().unwrap_or_default();
        let url = unsubscribe_url(call, cid);
        let merged = |k: &str| b[k].as_str().map(|t| json!(merge(t, &contact, &url)));
        let mut p = Map::new();
        p.insert("from".into(), b["from"].clone());
        p.insert("to".into(), json!([contact["email"]]));
        p.insert("subject".into(), merged("subject").unwrap_or_default());
        for k in ["html", "text"] {
            if let Some(v) = merged(k) {
                p.insert(k.into(), v);
            }
        }
        if !b["reply_to"].is_null() {
            p.insert("reply_to".into(), b["reply_to"].clone());
        }
        p.insert(
            "headers".into(),
            json!({
                "List-Unsubscribe": format!("<{url}>"),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }),
        );
        store(call, build(call, &p, true)?)?;
        sent += 1;
    }
    b["recipients"] = json!(sent);
    KIND.save(call.conn, &b)?;
    Ok(())
}

/// The segment the request names (`segment_id`, or `audience_id`, its old
/// name), checked to exist.
fn segment_of(call: &Call) -> Result<Option<String>, ResendError> {
    let p = call.params;
    let Some(id) = p["segment_id"]
        .as_str()
        .or_else(|| p["audience_id"].as_str())
    else {
        return Ok(None);
    };
    segments::load(call, id)?;
    Ok(Some(id.to_string()))
}

/// The request's editable fields written into `b`, then checked.
fn edit(call: &Call, b: &mut Value) -> Result<(), ResendError> {
    for k in EDITABLE {
        if let Some(v) = call.params.get(*k) {
            b[*k] = v.clone();
        }
    }
    let from = b["from"].as_str().unwrap_or_default();
    if super::emails::address::mailbox(from).is_none() {
        return Err(ResendError::validation(
            "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
        ));
    }
    if b["subject"].as_str().unwrap_or_default().is_empty() {
        return Err(ResendError::missing_field("subject"));
    }
    Ok(())
}

fn load(call: &Call, id: &str) -> Result<Value, ResendError> {
    KIND.load(call.conn, id)?
        .ok_or_else(|| ResendError::not_found("Broadcast"))
}
