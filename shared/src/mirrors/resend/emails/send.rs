//! `POST /emails`: one email, from validated parameters to a stored email and
//! its inbox message. [`build`] makes the checks Resend makes beyond the schema
//! (addresses, recipients, the sender's domain, tags, headers, attachments,
//! `scheduled_at`); [`store`] writes what it built. `batch.rs` uses both.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::address::{self, mailbox};
use super::time::{parse_scheduled, timestamp};
use super::KIND;
use crate::mirrors::resend::error::ResendError;
use crate::mirrors::resend::events;
use crate::mirrors::resend::inbox;
use crate::mirrors::resend::later;
use crate::mirrors::resend::pipeline::Call;
use crate::mirrors::resend::Resend;
use crate::mirrors::resend::{account, domains, links};
use crate::mirrors::toolkit::timers;
use crate::mirrors::Vendor;

/// How far ahead an email may be scheduled (Resend: 30 days).
pub const MAX_SCHEDULE_AHEAD_MS: i64 = 30 * 24 * 3600 * 1000;

/// Longest tag name or value.
const MAX_TAG_LEN: usize = 256;

/// An email ready to store: its public object, its inbox message, and when it
/// goes out if it is scheduled.
#[derive(Debug)]
pub struct Outgoing {
    pub email: Value,
    pub message: Value,
    pub due_ms: Option<i64>,
}

/// `POST /emails`.
pub fn send(call: &Call) -> Result<Value, ResendError> {
    let empty = Map::new();
    let p = call.params.as_object().unwrap_or(&empty);
    account::check_quota(call.conn)?;
    let out = build(call, p, false)?;
    let id = store(call, out)?;
    Ok(json!({ "id": id }))
}

/// Checks one email's parameters and builds it. `in_batch`: the fields a batch
/// does not take (`attachments`, `scheduled_at`) are refused.
pub fn build(call: &Call, p: &Map<String, Value>, in_batch: bool) -> Result<Outgoing, ResendError> {
    if in_batch {
        for field in ["attachments", "scheduled_at"] {
            if p.contains_key(field) {
                return Err(ResendError::validation(format!(
                    "The `{field}` field is not supported for batch emails."
                )));
            }
        }
    }
    if p.contains_key("template") {
        return Err(ResendError::validation(
            "Mirra: sending with a `template` is not emulated yet; send `html` or `text`.",
        ));
    }
    let text_field = |k: &str| p.get(k).and_then(Value::as_str);
    let from = text_field("from").unwrap_or_default();
    let Some(sender) = mailbox(from) else {
        return Err(address::invalid("from"));
    };
    let to = address::list("to", p.get("to"))?;
    if to.is_empty() {
        return Err(ResendError::missing_field("to"));
    }
    let cc = address::list("cc", p.get("cc"))?;
    let bcc = address::list("bcc", p.get("bcc"))?;
    let reply_to = address::list("reply_to", p.get("reply_to"))?;
    let subject = text_field("subject").unwrap_or_default();
    let tags = tags(p.get("tags"))?;
    let custom_headers = headers(p.get("headers"))?;
    let attachments = attachments(p.get("attachments"))?;

    let domain = address::domain(sender);
    if !domains::may_send_from(call.conn, &domain)? {
        return Err(ResendError::new(
            StatusCode::FORBIDDEN,
            "validation_error",
            format!(
                "The {domain} domain is not verified. Please, add and verify your domain on https://resend.com/domains"
            ),
        ));
    }

    call.access.may_send_from(&domain)?;

    let now = call.now_ms;
    let due_ms = match text_field("scheduled_at") {
        None => None,
        Some(text) => {
            let at =
                parse_scheduled(text, now).map_err(|e| ResendError::validation(e.to_string()))?;
            if at > now + MAX_SCHEDULE_AHEAD_MS {
                return Err(ResendError::validation(
                    "`scheduled_at` must be within the next 30 days.",
                ));
            }
            // A time already past sends at once, as "now" does.
            (at > now).then_some(at)
        }
    };

    let id = Resend.new_id(&KIND);
    let created_at = timestamp(now);
    let html = text_field("html");
    let text = text_field("text");
    let message_id = format!("<{id}@resend.mirra>");
    let email = json!({
        "object": "email",
        "id": id,
        "message_id": message_id,
        "to": to,
        "from": from,
        "created_at": created_at,
        "subject": subject,
        "html": html,
        "text": text,
        "bcc": bcc,
        "cc": cc,
        "reply_to": reply_to,
        "last_event": if due_ms.is_some() { "scheduled" } else { "sent" },
        "scheduled_at": due_ms.map(timestamp),
        "tags": tags,
    });

    let mut hdrs = Map::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            hdrs.insert(k.to_string(), Value::String(v));
        }
    };
    put("Message-ID", message_id);
    put("Date", created_at);
    put("From", from.to_string());
    put("To", to.join(", "));
    put("Cc", cc.join(", "));
    put("Reply-To", reply_to.join(", "));
    put("Subject", subject.to_string());
    hdrs.extend(custom_headers);
    // What the recipient gets: with the domain's tracking, links through the
    // mirror and an open pixel (`links`); the email itself keeps what was sent.
    let (track_opens, track_clicks) = domains::tracking(call.conn, &domain)?;
    let mut seen_html = html.map(str::to_string);
    if let Some(h) = seen_html.as_mut() {
        if track_clicks {
            *h = inbox::map_links(h, |l| links::click_url(call, &id, l));
        }
        if track_opens {
            h.push_str(&format!(
                "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" />",
                links::open_url(call, &id)
            ));
        }
    }
    let recipients: Vec<String> = to
        .iter()
        .chain(&cc)
        .chain(&bcc)
        .filter_map(|a| mailbox(a).map(str::to_ascii_lowercase))
        .collect();
    let message = json!({
        "id": id,
        "object": "inbox_message",
        "status": if due_ms.is_some() { "scheduled" } else { "sent" },
        "sent_at": if due_ms.is_some() { Value::Null } else { email["created_at"].clone() },
        "from": from,
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "reply_to": reply_to,
        "recipients": recipients,
        "subject": subject,
        "html": seen_html,
        "text": text,
        "headers": hdrs,
        "attachments": attachments,
        "tags": email["tags"].clone(),
        "links": seen_html.as_deref().map(inbox::links).unwrap_or_default(),
    });
    Ok(Outgoing {
        email,
        message,
        due_ms,
    })
}

/// Stores a built email and its inbox message; a scheduled one gets its timer.
/// Returns the email's id.
pub fn store(call: &Call, out: Outgoing) -> Result<String, ResendError> {
    let id = out.email["id"].as_str().unwrap_or_default().to_string();
    let created = call.now_ms.div_euclid(1000);
    KIND.insert_at(call.conn, &out.email, created)?;
    inbox::KIND.insert_at(call.conn, &out.message, created)?;
    match out.due_ms {
        Some(due) => {
            timers::schedule(call.conn, later::SEND_SCHEDULED, &id, None, due)?;
            call.owe(due);
            events::email_event(call, "email.scheduled", &out.email)?;
        }
        None => {
            super::schedule_delivery(call, &id)?;
            events::email_event(call, "email.sent", &out.email)?;
        }
    }
    Ok(id)
}

/// `tags`: `[{name, value}]`, each of ASCII letters, digits, `_` and `-`.
fn tags(v: Option<&Value>) -> Result<Vec<Value>, ResendError> {
    let Some(Value::Array(items)) = v else {
        return Ok(Vec::new());
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_TAG_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    items
        .iter()
        .map(|t| {
            let name = t.get("name").and_then(Value::as_str);
            let value = t.get("value").and_then(Value::as_str);
            match (name, value) {
                (None, _) => Err(ResendError::missing_field("tags.name")),
                (Some(n), v) if ok(n) && v.is_none_or(ok) => Ok(json!({"name": n, "value": v})),
                _ => Err(ResendError::validation(
                    "Invalid `tags` field. Tag names and values can only contain ASCII letters, numbers, \
                     underscores or dashes, and at most 256 characters.",
                )),
            }
        })
        .collect()
}

/// `headers`: a map of header names to string values.
fn headers(v: Option<&Value>) -> Result<Map<String, Value>, ResendError> {
    let Some(Value::Object(m)) = v else {
        return Ok(Map::new());
    };
    for (k, v) in m {
        let name_ok = !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !name_ok || !v.is_string() {
            return Err(ResendError::validation(format!(
                "Invalid `headers` field: `{k}` must be a header name with a string value."
            )));
        }
    }
    Ok(m.clone())
}

/// `attachments`: each with `content` (base64, or bytes as a list of integers,
/// as resend-python sends them) or a `path` URL; kept with their bytes in
/// base64 for the inbox.
fn attachments(v: Option<&Value>) -> Result<Vec<Value>, ResendError> {
    let Some(Value::Array(items)) = v else {
        return Ok(Vec::new());
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let invalid =
        |m: &str| ResendError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachment", m);
    items
        .iter()
        .map(|a| {
            let field = |k: &str| a.get(k).and_then(Value::as_str);
            let bytes: Option<Vec<u8>> = match a.get("content") {
                None => None,
                Some(Value::String(s)) => Some(
                    b64.decode(s.trim())
                        .map_err(|_| invalid("Attachment `content` must be base64-encoded."))?,
                ),
                Some(Value::Array(xs)) => Some(
                    xs.iter()
                        .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
                        .collect::<Option<Vec<u8>>>()
                        .ok_or_else(|| invalid("Attachment `content` bytes must be 0-255."))?,
                ),
                Some(_) => return Err(invalid("Attachment `content` must be a string.")),
            };
            let path = field("path");
            if bytes.is_none() && path.is_none() {
                return Err(invalid(
                    "Attachment must have either a `content` or `path`.",
                ));
            }
            let filename = field("filename")
                .map(str::to_string)
                .or_else(|| path.and_then(|p| p.rsplit('/').next()).map(str::to_string))
                .unwrap_or_default();
            if bytes.is_some() && filename.is_empty() {
                return Err(invalid("Attachment `filename` is required with `content`."));
            }
            let content_type = field("content_type")
                .map(str::to_string)
                .unwrap_or_else(|| guess_type(&filename).to_string());
            Ok(json!({
                "filename": filename,
                "content_type": content_type,
                "content_id": field("content_id").or_else(|| field("inline_content_id")),
                "path": path,
                "size": bytes.as_ref().map(Vec::len),
                "content": bytes.map(|b| b64.encode(b)),
            }))
        })
        .collect()
}

/// A content type from a file name's extension, as Resend derives one.
fn guess_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "ics" => "text/calendar",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes as base64 and as a list of integers are the same attachment.
    #[test]
    fn attachment_bytes_arrive_as_base64_or_integers() {
        let a = attachments(Some(&json!([
            {"filename": "a.txt", "content": "aGk="},
            {"filename": "b.pdf", "content": [104, 105]},
            {"path": "https://files.test/c.png"}
        ])))
        .expect("attachments");
        assert_eq!(a[0]["content"], "aGk=");
        assert_eq!(a[0]["content_type"], "text/plain");
        assert_eq!(a[1]["content"], "aGk=");
        assert_eq!(a[1]["content_type"], "application/pdf");
        assert_eq!(a[2]["filename"], "c.png");
        assert_eq!(a[2]["content"], Value::Null);
    }

    /// An attachment with neither bytes nor a path, or bytes that are not
    /// base64, is Resend's `invalid_attachment`.
    #[test]
    fn attachments_without_content_or_with_bad_base64_are_refused() {
        for bad in [
            json!([{"filename": "a"}]),
            json!([{"filename": "a", "content": "%%"}]),
        ] {
            let e = attachments(Some(&bad)).expect_err("refused");
            assert_eq!((e.status.as_u16(), e.name), (422, "invalid_attachment"));
        }
    }

    /// Tags take only Resend's characters.
    #[test]
    fn tags_take_only_letters_digits_underscores_and_dashes() {
        assert!(tags(Some(&json!([{"name": "cat-1", "value": "a_b"}]))).is_ok());
        assert!(tags(Some(&json!([{"name": "bad tag"}]))).is_err());
        assert!(tags(Some(&json!([{"value": "x"}]))).is_err());
    }
}
