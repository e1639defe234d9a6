//! Segments (`/segments`) and audiences (`/audiences`, their deprecated
//! name: Resend made every audience a segment with the same id, so here they
//! are one table answered in two shapes), and which contacts are in which
//! (`/contacts/{id}/segments/{segment_id}`). A broadcast goes to a segment's
//! contacts.

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::contacts;
use super::emails::time::timestamp;
use super::error::ResendError;
use super::lists;
use super::pipeline::Call;
use super::Resend;
use crate::mirrors::toolkit::list::{self, Filter, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "segment",
    table: "segments",
    prefix: "",
    id_len: 0,
    columns: &[],
};

/// One row per contact in a segment, id `{segment_id}:{contact_id}`.
pub static MEMBERS: Kind = Kind {
    object: "segment_member",
    table: "segment_members",
    prefix: "",
    id_len: 0,
    columns: &["segment_id", "contact_id"],
};

/// Most contacts a segment's member list reads (Resend's largest audience
/// on its paid plans is far beyond a test's).
const MAX_MEMBERS: usize = 100_000;

const IN_LISTS: &[&str] = &["id", "name", "created_at"];

/// `POST /segments`.
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let s = make(call)?;
    Ok(json!({"object": "segment", "id": s["id"], "name": s["name"]}))
}

/// `POST /audiences`: a segment by its old name.
pub fn create_audience(call: &Call) -> Result<Value, ResendError> {
    let s = make(call)?;
    Ok(json!({"object": "audience", "id": s["id"], "name": s["name"]}))
}

fn make(call: &Call) -> Result<Value, ResendError> {
    let name = call.params["name"].as_str().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(ResendError::missing_field("name"));
    }
    if call.params.get("filter").is_some() {
        return Err(ResendError::validation(
            "Mirra: segments defined by a `filter` are not emulated yet; add contacts to it instead.",
        ));
    }
    let s = json!({
        "id": Resend.new_id(&KIND),
        "name": name,
        "created_at": timestamp(call.now_ms),
    });
    KIND.insert_at(call.conn, &s, call.now_ms.div_euclid(1000))?;
    Ok(s)
}

/// `GET /segments/{id}`.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    shaped(load(call, call.args.get("id"))?, "segment")
}

/// `GET /audiences/{id}`.
pub fn retrieve_audience(call: &Call) -> Result<Value, ResendError> {
    shaped(load(call, call.args.get("id"))?, "audience")
}

fn shaped(s: Value, object: &str) -> Result<Value, ResendError> {
    Ok(json!({"object": object, "id": s["id"], "name": s["name"], "created_at": s["created_at"]}))
}

/// `GET /segments` and `GET /audiences`: newest first.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    lists::page(call, &KIND, ListQuery::default(), lists::only(IN_LISTS))
}

/// `DELETE /segments/{id}`: its contacts stay, out of it.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let id = drop_segment(call)?;
    Ok(json!({"object": "segment", "id": id, "deleted": true}))
}

/// `DELETE /audiences/{id}`.
pub fn remove_audience(call: &Call) -> Result<Value, ResendError> {
    let id = drop_segment(call)?;
    Ok(json!({"object": "audience", "id": id, "deleted": true}))
}

fn drop_segment(call: &Call) -> Result<String, ResendError> {
    let id = load(call, call.args.get("id"))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for row in rows(call, Filter::In("segment_id", vec![Sql::Text(id.clone())]))? {
        MEMBERS.remove(call.conn, row["id"].as_str().unwrap_or_default())?;
    }
    KIND.remove(call.conn, &id)?;
    Ok(id)
}

/// Segment `id`, or Resend's 404.
pub fn load(call: &Call, id: &str) -> Result<Value, ResendError> {
    KIND.load(call.conn, id)?
        .ok_or_else(|| ResendError::not_found("Segment"))
}

/// `POST /contacts/{contact_id}/segments/{segment_id}` (the contact by id
/// or address); adding it again changes nothing.
pub fn add_contact(call: &Call) -> Result<Value, ResendError> {
    let contact = contacts::named(call, call.args.get("contact_id"))?;
    let segment = call.args.get("segment_id");
    load(call, segment)?;
    let contact_id = contact["id"].as_str().unwrap_or_default();
    join(call, segment, contact_id)?;
    Ok(json!({"object": "contact_segment", "contact_id": contact_id, "segment_id": segment}))
}

/// `DELETE /contacts/{contact_id}/segments/{segment_id}`.
pub fn remove_contact(call: &Call) -> Result<Value, ResendError> {
    let contact = contacts::named(call, call.args.get("contact_id"))?;
    let segment = call.args.get("segment_id");
    let contact_id = contact["id"].as_str().unwrap_or_default();
    if !leave(call, segment, contact_id)? {
        return Err(ResendError::not_found("Contact in segment"));
    }
    Ok(json!({
        "object": "contact_segment",
        "contact_id": contact_id,
        "segment_id": segment,
        "deleted": true,
    }))
}

/// `GET /contacts/{contact_id}/segments`: the segments a contact is in.
pub fn of_contact(call: &Call) -> Result<Value, ResendError> {
    let contact = contacts::named(call, call.args.get("contact_id"))?;
    let id = contact["id"].as_str().unwrap_or_default().to_string();
    let ids: Vec<Sql> = rows(call, Filter::In("contact_id", vec![Sql::Text(id)]))?
        .iter()
        .filter_map(|r| r["segment_id"].as_str().map(|s| Sql::Text(s.to_string())))
        .collect();
    let q = ListQuery {
        conditions: vec![Filter::In("id", ids)],
        ..ListQuery::default()
    };
    lists::page(call, &KIND, q, lists::only(IN_LISTS))
}

/// True when contact `contact_id` is in segment `segment`.
pub fn has(call: &Call, segment: &str, contact_id: &str) -> Result<bool, ResendError> {
    Ok(MEMBERS
        .load(call.conn, &format!("{segment}:{contact_id}"))?
        .is_some())
}

/// Puts contact `contact_id` in segment `segment` (once).
pub fn join(call: &Call, segment: &str, contact_id: &str) -> Result<(), ResendError> {
    let id = format!("{segment}:{contact_id}");
    if !has(call, segment, contact_id)? {
        let row = json!({"id": id, "segment_id": segment, "contact_id": contact_id});
        MEMBERS.insert_at(call.conn, &row, call.now_ms.div_euclid(1000))?;
    }
    Ok(())
}

/// Takes contact `contact_id` out of segment `segment`; false if it was not in.
pub fn leave(call: &Call, segment: &str, contact_id: &str) -> Result<bool, ResendError> {
    let was_in = has(call, segment, contact_id)?;
    if was_in {
        MEMBERS.remove(call.conn, &format!("{segment}:{contact_id}"))?;
    }
    Ok(was_in)
}

/// A contact leaves every segment (it is being deleted).
pub fn forget_contact(call: &Call, contact_id: &str) -> Result<(), ResendError> {
    for row in rows(
        call,
        Filter::In("contact_id", vec![Sql::Text(contact_id.to_string())]),
    )? {
        MEMBERS.remove(call.conn, row["id"].as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// The ids of segment `segment`'s contacts, as a list condition on contacts.
pub fn members(call: &Call, segment: &str) -> Result<Filter, ResendError> {
    let ids = rows(
        call,
        Filter::In("segment_id", vec![Sql::Text(segment.to_string())]),
    )?
    .iter()
    .filter_map(|r| r["contact_id"].as_str().map(|s| Sql::Text(s.to_string())))
    .collect();
    Ok(Filter::In("id", ids))
}

fn rows(call: &Call, filter: Filter) -> Result<Vec<Value>, ResendError> {
    let q = ListQuery {
        limit: MAX_MEMBERS,
        conditions: vec![filter],
        ..ListQuery::default()
    };
    list::list(call.conn, &MEMBERS, &q)?
        .data
        .iter()
        .map(|t| serde_json::from_str(t).map_err(ResendError::internal))
        .collect()
}
