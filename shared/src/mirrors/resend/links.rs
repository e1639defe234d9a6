//! Links back to the mirror that a recipient opens without a key, as from a
//! mail client: a broadcast contact's unsubscribe link, and, for a domain
//! with tracking on, an email's open pixel and its tracked links.
//!
//! Each is `{mirror base URL}/{kind}/{id}.{mac}` (a click also carries its
//! `?url=`): the MAC, HMAC-SHA256 keyed with the session's webhook secret over
//! the kind, the id and the URL, makes them unguessable and unforgeable, so
//! a click link cannot be turned into an open redirect.
//!
//! | opened | does | answers |
//! |---|---|---|
//! | `/unsubscribe/{contact}.{mac}` (GET, or RFC 8058's one-click POST) | the contact unsubscribes from broadcasts | a small page |
//! | `/open/{email}.{mac}` | `email.opened` | a 1×1 GIF |
//! | `/click/{email}.{mac}?url=…` | `email.clicked` (with the link) | 302 to the link |
//!
//! Opens and clicks count once the email is delivered (its `last_event`
//! `delivered`, `opened`, `clicked` or `complained`); before that, or after a
//! bounce, they answer the same and record nothing.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::contacts;
use super::emails;
use super::error::ResendError;
use super::events;
use super::pipeline::Call;

const UNSUBSCRIBE: &str = "unsubscribe";
const OPEN: &str = "open";
const CLICK: &str = "click";

/// What opening a link comes to.
#[derive(Debug, PartialEq)]
pub enum Opened {
    /// The contact of this address unsubscribed.
    Unsubscribed(String),
    /// The open pixel.
    Pixel,
    /// Where a tracked link leads.
    Redirect(String),
    /// Not one of this session's links.
    NotFound,
}

/// True for a path below the mirror that is one of these links.
pub fn is_link(path: &str) -> bool {
    [UNSUBSCRIBE, OPEN, CLICK].iter().any(|k| {
        path.strip_prefix('/')
            .and_then(|p| p.strip_prefix(k))
            .is_some_and(|r| r.starts_with('/'))
    })
}

type HmacSha256 = Hmac<Sha256>;

fn mac(call: &Call, kind: &str, id: &str, url: &str) -> String {
    let secret = call
        .ctx
        .credentials()
        .get("webhook_secret")
        .cloned()
        .unwrap_or_default();
    let Ok(mut m) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    for part in [kind, id, url] {
        m.update(part.as_bytes());
        m.update(b"\n");
    }
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// Compares in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Contact `contact_id`'s unsubscribe link.
pub fn unsubscribe_url(call: &Call, contact_id: &str) -> String {
    let base = call.base_url;
    format!(
        "{base}/{UNSUBSCRIBE}/{contact_id}.{}",
        mac(call, UNSUBSCRIBE, contact_id, "")
    )
}

/// Email `email_id`'s open pixel.
pub fn open_url(call: &Call, email_id: &str) -> String {
    let base = call.base_url;
    format!("{base}/{OPEN}/{email_id}.{}", mac(call, OPEN, email_id, ""))
}

/// Email `email_id`'s tracked link to `url`.
pub fn click_url(call: &Call, email_id: &str, url: &str) -> String {
    let base = call.base_url;
    let m = mac(call, CLICK, email_id, url);
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("url", url)
        .finish();
    format!("{base}/{CLICK}/{email_id}.{m}?{q}")
}

/// Opens the link at `path` (below the mirror's base URL) with `query`.
pub fn open(call: &Call, path: &str, query: &str) -> Result<Opened, ResendError> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (Some(kind), Some(token)) = (parts.next(), parts.next()) else {
        return Ok(Opened::NotFound);
    };
    let Some((id, given)) = token.split_once('.') else {
        return Ok(Opened::NotFound);
    };
    let url = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !same(&mac(call, kind, id, &url), given) {
        return Ok(Opened::NotFound);
    }
    match kind {
        UNSUBSCRIBE => {
            let Some(mut contact) = contacts::KIND.load(call.conn, id)? else {
                return Ok(Opened::NotFound);
            };
            contact["unsubscribed"] = Value::Bool(true);
            contacts::KIND.save(call.conn, &contact)?;
            Ok(Opened::Unsubscribed(
                contact["email"].as_str().unwrap_or_default().to_string(),
            ))
        }
        OPEN => {
            engage(call, id, "opened", None)?;
            Ok(Opened::Pixel)
        }
        CLICK => {
            let click = json!({
                "ipAddress": "127.0.0.1",
                "link": url,
                "timestamp": events::iso_ms(call.now_ms),
                "userAgent": "Mirra",
            });
            engage(call, id, "clicked", Some(click))?;
            Ok(Opened::Redirect(url))
        }
        _ => Ok(Opened::NotFound),
    }
}

/// A delivered email was opened or clicked: its `last_event` and event.
fn engage(call: &Call, id: &str, what: &str, click: Option<Value>) -> Result<(), ResendError> {
    let Some(mut email) = emails::KIND.load(call.conn, id)? else {
        return Ok(());
    };
    let delivered = ["delivered", "opened", "clicked", "complained"];
    if !email["last_event"]
        .as_str()
        .is_some_and(|e| delivered.contains(&e))
    {
        return Ok(());
    }
    email["last_event"] = json!(what);
    emails::KIND.save(call.conn, &email)?;
    let extra = click.map(|c| ("click", c));
    events::email_event_with(call, &format!("email.{what}"), &email, extra)
}
