//! Webhook events: when an email moves (`email.sent`, `email.scheduled`,
//! `email.delivered`, `email.bounced`, `email.complained`, `email.suppressed`),
//! every enabled webhook of the session that asked for that type gets a
//! delivery in the toolkit's outbox, in the same transaction as the move. The
//! dispatcher POSTs it signed the Svix way (`svix-id`, `svix-timestamp`,
//! `svix-signature: v1,<base64 HMAC-SHA256>` with the webhook's own
//! `whsec_` secret), which resend-node's and resend-python's `webhooks.verify`
//! accept; attempts and retries are the outbox's, readable at
//! `GET /v1/sessions/{id}/deliveries?mirror=resend`.

use std::time::{Duration, UNIX_EPOCH};

use rusqlite::types::Value as Sql;
use serde_json::{json, Map, Value};

use super::error::ResendError;
use super::pipeline::Call;
use super::webhooks;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::json_text;
use crate::mirrors::toolkit::outbox::{self, NewDelivery};

/// The event types Resend sends for emails, contacts and domains; a webhook
/// may ask for any of them (the mirror raises the email ones it emulates).
pub const EVENT_TYPES: &[&str] = &[
    "email.sent",
    "email.delivered",
    "email.delivery_delayed",
    "email.complained",
    "email.bounced",
    "email.opened",
    "email.clicked",
    "email.received",
    "email.failed",
    "email.scheduled",
    "email.suppressed",
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "domain.created",
    "domain.updated",
    "domain.deleted",
];

/// Raises `kind` for `email` (its stored object): one delivery per enabled
/// webhook that asked for it, due now.
pub fn email_event(call: &Call, kind: &str, email: &Value) -> Result<(), ResendError> {
    email_event_with(call, kind, email, None)
}

/// [`email_event`] with one more field in its `data` (a click's `click`).
pub fn email_event_with(
    call: &Call,
    kind: &str,
    email: &Value,
    extra: Option<(&str, Value)>,
) -> Result<(), ResendError> {
    // Resend's events have no id of their own: the trace names the email.
    call.raise(email["id"].as_str().unwrap_or_default(), kind);
    let hooks = subscribers(call, kind)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let mut data = Map::new();
    data.insert("email_id".into(), email["id"].clone());
    data.insert("created_at".into(), json!(iso(&email["created_at"])));
    data.insert("from".into(), email["from"].clone());
    data.insert("to".into(), email["to"].clone());
    data.insert("subject".into(), email["subject"].clone());
    if let Some(tags) = email["tags"].as_array().filter(|t| !t.is_empty()) {
        let map: Map<String, Value> = tags
            .iter()
            .filter_map(|t| {
                let name = t["name"].as_str()?;
                Some((
                    name.to_string(),
                    json!(t["value"].as_str().unwrap_or_default()),
                ))
            })
            .collect();
        data.insert("tags".into(), Value::Object(map));
    }
    if kind == "email.bounced" {
        data.insert(
            "bounce".into(),
            json!({
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                "message": "The recipient's email provider sent a hard bounce message.",
                "subType": "General",
                "type": "Permanent",
            }),
        );
    }
    if let Some((k, v)) = extra {
        data.insert(k.into(), v);
    }
    let payload = json_text(&json!({
        "type": kind,
        "created_at": iso_ms(call.now_ms),
        "data": data,
    }));
    let email_id = email["id"].as_str().unwrap_or_default();
    for hook in hooks {
        let d = NewDelivery {
            target: hook["id"].as_str().unwrap_or_default(),
            url: hook["endpoint"].as_str().unwrap_or_default(),
            scheme: "svix",
            secret: hook["signing_secret"].as_str(),
            reference: email_id,
            payload: &payload,
            due_at_ms: call.now_ms,
        };
        outbox::enqueue(call.conn, &d, call.now_ms)?;
    }
    call.owe(call.now_ms);
    Ok(())
}

/// The enabled webhooks that asked for `kind`.
fn subscribers(call: &Call, kind: &str) -> Result<Vec<Value>, ResendError> {
    let mut out = Vec::new();
    let mut q = ListQuery {
        limit: 100,
        filters: vec![("status", Sql::Text("enabled".into()))],
        ..ListQuery::default()
    };
    loop {
        let page = list::list(call.conn, &webhooks::KIND, &q)?;
        let mut last = None;
        for text in &page.data {
            let hook: Value = serde_json::from_str(text).map_err(ResendError::internal)?;
            last = hook["id"].as_str().map(str::to_string);
            let wants = hook["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x == kind));
            if wants {
                out.push(hook);
            }
        }
        match (page.has_more, last) {
            (true, Some(id)) => q.cursor = list::Cursor::After(id),
            _ => return Ok(out),
        }
    }
}

/// Unix milliseconds as ISO 8601 (`2026-01-01T00:00:00.000Z`), as Resend's
/// event payloads carry times.
pub fn iso_ms(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// An email's `created_at` (`2026-01-01 00:00:00.000000+00`) in ISO 8601.
fn iso(created_at: &Value) -> String {
    let text = created_at.as_str().unwrap_or_default();
    super::emails::time::parse_scheduled(text.trim_end_matches("+00"), 0)
        .map(iso_ms)
        .unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event times are ISO 8601 with milliseconds and `Z`, an email's
    /// `created_at` converted to the same form.
    #[test]
    fn event_times_are_iso_8601() {
        assert_eq!(iso_ms(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(
            iso(&json!("2026-01-01 00:00:00.500000+00")),
            "2026-01-01T00:00:00.500Z"
        );
    }
}
