//! Webhooks: `/webhooks` and `/webhooks/{webhook_id}` — the session's
//! endpoints, each with the event types it wants and its own `whsec_` signing
//! secret. `events.rs` delivers to them through the toolkit's outbox, signed
//! the Svix way with that secret. Reset drops them with the rest of the state.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Value};

use super::emails::time::timestamp;
use super::error::ResendError;
use super::events::EVENT_TYPES;
use super::lists;
use super::pipeline::Call;
use super::Resend;
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

/// Storage: one row per endpoint, `status` indexed.
pub static KIND: Kind = Kind {
    object: "webhook",
    table: "webhooks",
    prefix: "",
    id_len: 0,
    columns: &["status"],
};

/// Fields a list item leaves out.
const NOT_IN_LISTS: &[&str] = &["object", "signing_secret"];

/// `POST /webhooks`: answers the id and the signing secret (201).
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let endpoint = endpoint(call.params.get("endpoint"))?;
    let events = events(call.params.get("events"))?;
    let id = Resend.new_id(&KIND);
    let secret: [u8; 24] = rand::random();
    let signing_secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    );
    let hook = json!({
        "object": "webhook",
        "id": id,
        "endpoint": endpoint,
        "events": events,
        "status": "enabled",
        "created_at": timestamp(call.now_ms),
        "signing_secret": signing_secret,
    });
    KIND.insert_at(call.conn, &hook, call.now_ms.div_euclid(1000))?;
    Ok(json!({"object": "webhook", "id": id, "signing_secret": signing_secret}))
}

/// `GET /webhooks/{webhook_id}`.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    load(call, call.args.get("webhook_id"))
}

/// `GET /webhooks`: newest first, `limit` 1–100 (20), `after` / `before`.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    lists::page(
        call,
        &KIND,
        ListQuery::default(),
        lists::without(NOT_IN_LISTS),
    )
}

/// `PATCH /webhooks/{webhook_id}`: a new endpoint, event types or status.
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("webhook_id");
    let mut hook = load(call, id)?;
    if let Some(v) = call.params.get("endpoint") {
        hook["endpoint"] = Value::String(endpoint(Some(v))?);
    }
    if let Some(v) = call.params.get("events") {
        hook["events"] = json!(events(Some(v))?);
    }
    if let Some(status) = call.params.get("status").and_then(Value::as_str) {
        hook["status"] = Value::String(status.to_string());
    }
    KIND.save(call.conn, &hook)?;
    Ok(json!({"object": "webhook", "id": id}))
}

/// `DELETE /webhooks/{webhook_id}`.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("webhook_id");
    load(call, id)?;
    KIND.remove(call.conn, id)?;
    Ok(json!({"object": "webhook", "id": id, "deleted": true}))
}

fn load(call: &Call, id: &str) -> Result<Value, ResendError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(ResendError::validation("The `id` must be a valid UUID."));
    }
    KIND.load(call.conn, id)?
        .ok_or_else(|| ResendError::not_found("Webhook"))
}

/// An `http://` or `https://` URL with a host.
fn endpoint(v: Option<&Value>) -> Result<String, ResendError> {
    let url = v.and_then(Value::as_str).unwrap_or_default().trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.contains(char::is_whitespace) => {
            Ok(url.to_string())
        }
        _ => Err(ResendError::validation(
            "Invalid `endpoint` field: it must be an http or https URL.",
        )),
    }
}

/// At least one event type, each one Resend sends.
fn events(v: Option<&Value>) -> Result<Vec<String>, ResendError> {
    let list: Vec<&str> = v
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        return Err(ResendError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "Invalid `events` field: at least one event type is required.",
        ));
    }
    if let Some(bad) = list.iter().find(|e| !EVENT_TYPES.contains(e)) {
        return Err(ResendError::validation(format!(
            "Invalid `events` field: {bad:?} is not an event type (known: {}).",
            EVENT_TYPES.join(", ")
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for e in list {
        if !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}
