//! Events: every state change a resource makes writes a Stripe `event` (right
//! `type`, `data.object`, `data.previous_attributes` on updates, `request.id` and
//! `idempotency_key`) and, for each enabled webhook endpoint whose
//! `enabled_events` match, an outbox delivery — in the same transaction as the
//! change. `GET /v1/events` and `GET /v1/events/{id}` read them back.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::StripeError;
use super::lists;
use super::pipeline::{Call, API_VERSION};
use super::webhook_endpoints;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{to_json_string, Kind};
use crate::mirrors::toolkit::outbox::{self, NewDelivery};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;

pub static KIND: Kind = Kind {
    object: "event",
    table: "events",
    prefix: "evt_",
    id_len: 24,
    columns: &["type"],
};

/// Records that `object` changed as `type` says; `before` is the object as it
/// was (updates), from which `previous_attributes` is derived.
pub fn emit(
    call: &Call,
    kind: &str,
    object: &Value,
    before: Option<&Value>,
) -> Result<(), StripeError> {
    let id = Stripe.new_id(&KIND);
    let endpoints = webhook_endpoints::subscribed(call.conn, kind)?;
    // Rendered from borrowed parts: a `Value` event would copy the whole object.
    let event = Event {
        id: &id,
        object: "event",
        api_version: API_VERSION,
        created: call.now,
        data: Data {
            object,
            previous_attributes: before.map(|b| previous_attributes(b, object)),
        },
        livemode: false,
        pending_webhooks: endpoints.len(),
        request: Request {
            // An automatic change (a timer) has no request, as in Stripe.
            id: (!call.request_id.is_empty()).then_some(call.request_id),
            idempotency_key: call.idempotency_key,
        },
        kind,
    };
    let text = to_json_string(&event)
        .map_err(|e| StripeError::Internal(format!("serialize event: {e}")))?;
    KIND.insert_text(
        call.conn,
        &id,
        call.now,
        text,
        vec![Sql::Text(kind.to_string())],
    )?;
    call.raise(&id, kind);
    if endpoints.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string_pretty(&event)
        .map_err(|e| StripeError::Internal(format!("serialize event: {e}")))?;
    let now_ms = call.ctx.now_ms();
    call.owe(now_ms);
    for ep in &endpoints {
        outbox::enqueue(
            call.conn,
            &NewDelivery {
                target: &ep.id,
                url: &ep.url,
                scheme: "stripe",
                secret: ep.secret.as_deref(),
                reference: &id,
                payload: &payload,
                due_at_ms: now_ms,
            },
            now_ms,
        )?;
    }
    Ok(())
}

/// An event as stored and delivered, fields in Stripe's order.
#[derive(Serialize)]
struct Event<'a> {
    id: &'a str,
    object: &'static str,
    api_version: &'static str,
    created: i64,
    data: Data<'a>,
    livemode: bool,
    pending_webhooks: usize,
    request: Request<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Data<'a> {
    object: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attributes: Option<Value>,
}

#[derive(Serialize)]
struct Request<'a> {
    id: Option<&'a str>,
    idempotency_key: Option<&'a str>,
}

/// The top-level fields whose values changed, with their old values (nested
/// hashes as the keys that changed in them, as Stripe reports `metadata`).
pub fn previous_attributes(before: &Value, after: &Value) -> Value {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, old) in b {
        let new = a.get(k).unwrap_or(&Value::Null);
        if old == new {
            continue;
        }
        match (old, new) {
            (Value::Object(o), Value::Object(n)) => {
                let mut sub = Map::new();
                for (sk, sv) in o {
                    if n.get(sk) != Some(sv) {
                        sub.insert(sk.clone(), sv.clone());
                    }
                }
                for sk in n.keys() {
                    if !o.contains_key(sk) {
                        sub.insert(sk.clone(), Value::Null);
                    }
                }
                out.insert(k.clone(), Value::Object(sub));
            }
            _ => {
                out.insert(k.clone(), old.clone());
            }
        }
    }
    Value::Object(out)
}

/// `GET /v1/events/{id}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("id");
    let mut event = KIND
        .load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such("event", id, "id"))?;
    event["pending_webhooks"] = json!(outbox::pending_for(call.conn, id)?);
    Ok(event)
}

/// `GET /v1/events`: by `type` (with `*` wildcards as Stripe allows, e.g.
/// `customer.*`) or `types[]`, and `created`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    match (call.params.get("type"), call.params.get("types")) {
        (Some(Value::String(_)), Some(Value::Array(_))) => {
            return Err(StripeError::invalid_code(
                "parameters_exclusive",
                "You may only specify one of these parameters: type, types.",
                "type",
            ))
        }
        (Some(Value::String(t)), _) => match t.strip_suffix('*') {
            Some(prefix) => q
                .conditions
                .push(Filter::Prefix("type", prefix.to_string())),
            None => q.filters.push(("type", t.clone().into())),
        },
        (_, Some(Value::Array(types))) => q.conditions.push(Filter::In(
            "type",
            types
                .iter()
                .filter_map(Value::as_str)
                .map(|t| t.to_string().into())
                .collect(),
        )),
        _ => {}
    }
    let mut page = lists::page(call.conn, &KIND, &q, "/v1/events")?;
    if let Some(Value::Array(events)) = page.get_mut("data") {
        for e in events {
            let id = e["id"].as_str().unwrap_or_default().to_string();
            e["pending_webhooks"] = json!(outbox::pending_for(call.conn, &id)?);
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Changed fields carry their old values; nested hashes only the changed keys.
    #[test]
    fn previous_attributes_hold_old_values_of_changed_fields() {
        let before = json!({"id": "cus_1", "email": "a@x.co", "metadata": {"a": "1", "b": "2"}, "name": "N"});
        let after = json!({"id": "cus_1", "email": "b@x.co", "metadata": {"a": "1", "c": "3"}, "name": "N"});
        assert_eq!(
            previous_attributes(&before, &after),
            json!({"email": "a@x.co", "metadata": {"b": "2", "c": null}})
        );
    }
}
