//! Resend's list envelope, once for every resource: `limit` 1–100 (default
//! 20), `after` or `before` an object's id (not both), newest first,
//! `{"object": "list", "has_more", "data"}`.

use serde_json::{json, Map, Value};

use super::error::ResendError;
use super::pipeline::Call;
use crate::mirrors::toolkit::list::{self, Cursor, ListQuery};
use crate::mirrors::toolkit::objects::Kind;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// One page of `kind` matching `q`'s filters, each item through `item`.
pub fn page(
    call: &Call,
    kind: &Kind,
    mut q: ListQuery,
    item: impl Fn(Value) -> Value,
) -> Result<Value, ResendError> {
    let p = |k: &str| call.params.get(k);
    let limit = p("limit").and_then(Value::as_i64).unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ResendError::validation(format!(
            "The `limit` parameter must be between 1 and {MAX_LIMIT}."
        )));
    }
    q.cursor = match (
        p("after").and_then(Value::as_str),
        p("before").and_then(Value::as_str),
    ) {
        (Some(_), Some(_)) => {
            return Err(ResendError::validation(
                "You can only use `after` or `before`, not both.",
            ))
        }
        (Some(id), None) => Cursor::After(id.to_string()),
        (None, Some(id)) => Cursor::Before(id.to_string()),
        (None, None) => Cursor::None,
    };
    q.limit = usize::try_from(limit).unwrap_or(20);
    let page = list::list(call.conn, kind, &q)?;
    let mut data = Vec::with_capacity(page.data.len());
    for text in &page.data {
        let v: Value = serde_json::from_str(text).map_err(ResendError::internal)?;
        data.push(item(v));
    }
    Ok(json!({"object": "list", "has_more": page.has_more, "data": data}))
}

/// An item of only these fields (those it has), in this order.
pub fn only(fields: &'static [&'static str]) -> impl Fn(Value) -> Value {
    move |v| {
        let item: Map<String, Value> = fields
            .iter()
            .filter_map(|k| v.get(*k).map(|x| (k.to_string(), x.clone())))
            .collect();
        Value::Object(item)
    }
}

/// An item without these fields.
pub fn without(fields: &'static [&'static str]) -> impl Fn(Value) -> Value {
    move |mut v| {
        if let Some(m) = v.as_object_mut() {
            for k in fields {
                m.remove(*k);
            }
        }
        v
    }
}
