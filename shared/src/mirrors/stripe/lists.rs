//! Stripe's list endpoints on the toolkit's lists: the common parameters
//! (`limit` 1–100, `starting_after` / `ending_before`, `created` ranges), the
//! `{"object": "list", …}` envelope and Stripe's messages for each mistake.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::error::StripeError;
use crate::mirrors::toolkit::list::{list, Cursor, ListError, ListQuery};
use crate::mirrors::toolkit::objects::Kind;

/// The common list parameters out of a list operation's validated parameters;
/// the resource adds its filters.
pub fn query(p: &Map<String, Value>) -> Result<ListQuery, StripeError> {
    let limit = limit(p)?;
    let given = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let cursor = match (given("starting_after"), given("ending_before")) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid_code(
                "parameters_exclusive",
                "You may only specify one of these parameters: ending_before, starting_after.",
                "ending_before",
            ))
        }
        (Some(id), None) => Cursor::After(id),
        (None, Some(id)) => Cursor::Before(id),
        (None, None) => Cursor::None,
    };
    Ok(ListQuery {
        limit,
        cursor,
        created: range(p.get("created"), "created")?,
        ..ListQuery::default()
    })
}

/// `limit`: 1–100, 10 when absent (lists and searches alike).
pub fn limit(p: &Map<String, Value>) -> Result<usize, StripeError> {
    Ok(match p.get("limit") {
        None => 10,
        Some(Value::Null) => return Err(StripeError::invalid_empty("limit")),
        Some(v) => match v.as_i64().unwrap_or(0) {
            n if n < 1 => {
                return Err(StripeError::invalid(
                    "This value must be greater than or equal to 1.",
                    "limit",
                ))
            }
            n if n > 100 => {
                return Err(StripeError::invalid(
                    "This value must be less than or equal to 100.",
                    "limit",
                ))
            }
            n => n as usize,
        },
    })
}

/// One page of `kind` as Stripe's list object.
pub fn page(
    conn: &Connection,
    kind: &Kind,
    q: &ListQuery,
    url: &str,
) -> Result<Value, StripeError> {
    let page = list(conn, kind, q).map_err(|e| match e {
        ListError::NoSuchCursor { id, param } => StripeError::no_such(kind.object, &id, param),
        ListError::Sql(e) => e.into(),
    })?;
    let data = page
        .data
        .iter()
        .map(|d| serde_json::from_str(d))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| StripeError::Internal(format!("stored {}: {e}", kind.object)))?;
    Ok(json!({"object": "list", "data": data, "has_more": page.has_more, "url": url}))
}

/// An empty list at `url`.
pub fn empty(url: &str) -> Value {
    json!({"object": "list", "data": [], "has_more": false, "url": url})
}

/// `created=T` or `created[gt|gte|lt|lte]=T` (validated) as an inclusive range.
pub fn range(v: Option<&Value>, param: &str) -> Result<(i64, i64), StripeError> {
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    match v {
        None => {}
        Some(Value::Object(bounds)) => {
            for (k, b) in bounds {
                let Some(n) = b.as_i64() else {
                    return Err(StripeError::invalid_empty(&format!("{param}[{k}]")));
                };
                match k.as_str() {
                    "gt" => lo = lo.max(n.saturating_add(1)),
                    "gte" => lo = lo.max(n),
                    "lt" => hi = hi.min(n.saturating_sub(1)),
                    "lte" => hi = hi.min(n),
                    _ => return Err(StripeError::unknown_parameter(&format!("{param}[{k}]"))),
                }
            }
        }
        Some(v) => match v.as_i64() {
            Some(n) => (lo, hi) = (n, n),
            None => return Err(StripeError::invalid_empty(param)),
        },
    }
    Ok((lo, hi))
}
