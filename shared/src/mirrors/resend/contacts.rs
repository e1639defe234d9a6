//! Contacts: `/contacts` and `/contacts/{id}` — the session's contacts, named by
//! id or by email address (as Resend lets a caller do), each in any number of
//! segments (`segments`). The deprecated audience-scoped paths the SDKs still
//! call given an `audience_id` (`/audiences/{id}/contacts[/{id}]`) are the
//! same contacts seen through that audience's membership; creating one there
//! adds an existing contact of that address to the audience.

use serde_json::{json, Value};

use super::emails::address::mailbox;
use super::emails::time::timestamp;
use super::error::ResendError;
use super::lists;
use super::pipeline::Call;
use super::segments;
use super::Resend;
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

/// Storage: one row per contact, `email` indexed (a contact is found by it).
pub static KIND: Kind = Kind {
    object: "contact",
    table: "contacts",
    prefix: "",
    id_len: 0,
    columns: &["email"],
};

/// Fields a list item has.
const IN_LISTS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "created_at",
    "unsubscribed",
];

/// `POST /contacts`: answers `{object, id}`; `segments` (ids, or `{id}`
/// objects as the SDKs send them) it is put in.
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let email = address(call.params.get("email"))?;
    if find(call, &email)?.is_some() {
        return Err(ResendError::validation(format!(
            "A contact with the email {email} already exists."
        )));
    }
    let mut wanted = Vec::new();
    for s in call.params["segments"].as_array().into_iter().flatten() {
        let id = s.as_str().or_else(|| s["id"].as_str()).unwrap_or_default();
        segments::load(call, id)?;
        wanted.push(id);
    }
    let made = insert(call, &email)?;
    let id = made["id"].as_str().unwrap_or_default();
    for segment in wanted {
        segments::join(call, segment, id)?;
    }
    Ok(json!({"object": "contact", "id": id}))
}

/// `POST /audiences/{audience_id}/contacts`: the address's contact (made
/// if new) joins the audience.
pub fn create_in_audience(call: &Call) -> Result<Value, ResendError> {
    let audience = call.args.get("audience_id");
    segments::load(call, audience)?;
    let email = address(call.params.get("email"))?;
    let contact = match find(call, &email)? {
        Some(c) => c,
        None => insert(call, &email)?,
    };
    let id = contact["id"].as_str().unwrap_or_default();
    segments::join(call, audience, id)?;
    Ok(json!({"object": "contact", "id": id}))
}

/// A new contact of `email` from the request's fields.
fn insert(call: &Call, email: &str) -> Result<Value, ResendError> {
    let p = |k: &str| call.params.get(k);
    let id = Resend.new_id(&KIND);
    let contact = json!({
        "object": "contact",
        "id": id,
        "email": email,
        "first_name": p("first_name").cloned().unwrap_or(Value::Null),
        "last_name": p("last_name").cloned().unwrap_or(Value::Null),
        "created_at": timestamp(call.now_ms),
        "unsubscribed": p("unsubscribed").and_then(Value::as_bool).unwrap_or(false),
        "properties": p("properties").cloned().unwrap_or_else(|| json!({})),
    });
    KIND.insert_at(call.conn, &contact, call.now_ms.div_euclid(1000))?;
    Ok(contact)
}

/// `GET /contacts/{id}`: by id or email address.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    load(call)
}

/// `GET /contacts`: newest first, `limit` 1–100 (20), `after` / `before`.
/// The segment a list is of: the path's (`/segments/{segment_id}/contacts`,
/// `/audiences/{audience_id}/contacts`) or `segment_id`'s.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    let segment = [call.args.get("segment_id"), call.args.get("audience_id")]
        .into_iter()
        .find(|s| !s.is_empty())
        .or_else(|| call.params["segment_id"].as_str());
    let mut q = ListQuery::default();
    if let Some(segment) = segment {
        segments::load(call, segment)?;
        q.conditions.push(segments::members(call, segment)?);
    }
    lists::page(call, &KIND, q, lists::only(IN_LISTS))
}

/// `GET /audiences/{audience_id}/contacts/{id}`: a contact of the audience.
pub fn retrieve_in_audience(call: &Call) -> Result<Value, ResendError> {
    in_audience(call)
}

/// `PATCH /audiences/{audience_id}/contacts/{id}`.
pub fn update_in_audience(call: &Call) -> Result<Value, ResendError> {
    in_audience(call)?;
    update(call)
}

/// `DELETE /audiences/{audience_id}/contacts/{id}`: the contact is deleted,
/// as an audience's contact was before audiences became segments.
pub fn remove_in_audience(call: &Call) -> Result<Value, ResendError> {
    in_audience(call)?;
    remove(call)
}

/// The contact the path names, if it is in the path's audience.
fn in_audience(call: &Call) -> Result<Value, ResendError> {
    let audience = call.args.get("audience_id");
    segments::load(call, audience)?;
    let contact = load(call)?;
    if !segments::has(call, audience, contact["id"].as_str().unwrap_or_default())? {
        return Err(ResendError::not_found("Contact"));
    }
    Ok(contact)
}

/// `PATCH /contacts/{id}`: names, `unsubscribed`, properties (merged).
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let mut contact = load(call)?;
    for k in ["first_name", "last_name", "unsubscribed"] {
        if let Some(v) = call.params.get(k) {
            contact[k] = v.clone();
        }
    }
    if let Some(Value::Object(props)) = call.params.get("properties") {
        for (k, v) in props {
            contact["properties"][k] = v.clone();
        }
    }
    KIND.save(call.conn, &contact)?;
    Ok(json!({"object": "contact", "id": contact["id"]}))
}

/// `DELETE /contacts/{id}`.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let contact = load(call)?;
    let id = contact["id"].as_str().unwrap_or_default();
    segments::forget_contact(call, id)?;
    KIND.remove(call.conn, id)?;
    Ok(json!({"object": "contact", "id": id, "deleted": true}))
}

/// The contact the path names, by id or (percent-encoded) email address.
fn load(call: &Call) -> Result<Value, ResendError> {
    named(call, call.args.get("id"))
}

/// The contact `key` names: its id, or its (percent-encoded) address.
pub fn named(call: &Call, key: &str) -> Result<Value, ResendError> {
    let key = percent_decoded(key);
    let found = if key.contains('@') {
        find(call, &key.to_ascii_lowercase())?
    } else if uuid::Uuid::try_parse(&key).is_ok() {
        KIND.load(call.conn, &key)?
    } else {
        return Err(ResendError::validation(
            "The contact must be named by its id (a UUID) or its email address.",
        ));
    };
    found.ok_or_else(|| ResendError::not_found("Contact"))
}

fn find(call: &Call, email: &str) -> Result<Option<Value>, ResendError> {
    let id: Option<String> = {
        use rusqlite::OptionalExtension;
        call.conn
            .prepare_cached("SELECT id FROM contacts WHERE deleted = 0 AND email = ?1")?
            .query_row([email], |r| r.get(0))
            .optional()?
    };
    match id {
        Some(id) => Ok(KIND.load(call.conn, &id)?),
        None => Ok(None),
    }
}

/// A contact's address: a plain address, lowercased.
fn address(v: Option<&Value>) -> Result<String, ResendError> {
    let text = v.and_then(Value::as_str).unwrap_or_default().trim();
    match mailbox(text) {
        Some(a) if a == text => Ok(a.to_ascii_lowercase()),
        _ => Err(ResendError::validation(
            "Invalid `email` field. The email address needs to follow the `email@example.com` format.",
        )),
    }
}

/// `%40` → `@`: a path segment as the SDKs encode an address into it.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encoded addresses in a path read back as addresses; the rest is left.
    #[test]
    fn encoded_addresses_in_a_path_are_decoded() {
        assert_eq!(percent_decoded("ann%40test.dev"), "ann@test.dev");
        assert_eq!(percent_decoded("a%2Bb%40t.dev"), "a+b@t.dev");
        assert_eq!(percent_decoded("plain"), "plain");
        assert_eq!(percent_decoded("bad%4"), "bad%4");
        assert_eq!(percent_decoded("bad%zz"), "bad%zz");
    }
}
