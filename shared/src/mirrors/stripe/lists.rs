//! Stripe's list endpoints on the toolkit's lists: the common parameters
//! (`limit` 1–100, `starting_after` / `ending_before`, `created` ranges), the
//! `{"object": "list", …}` envelope and Stripe's messages for each mistake.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::error::StripeError;
use super::form::{integer_value, Fields, Param};
use crate::mirrors::toolkit::list::{list, Cursor, ListError, ListQuery};
use crate::mirrors::toolkit::objects::Kind;

/// Reads the common list parameters out of `f`; the resource reads its filters.
pub fn query(f: &mut Fields) -> Result<ListQuery, StripeError> {
    let limit = match f.integer("limit")? {
        Param::Absent => 10,
        Param::Empty => return Err(StripeError::invalid_empty("limit")),
        Param::Given(n) if n < 1 => {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 1.",
                "limit",
            ))
        }
        Param::Given(n) if n > 100 => {
            return Err(StripeError::invalid(
                "This value must be less than or equal to 100.",
                "limit",
            ))
        }
        Param::Given(n) => n as usize,
    };
    let given = |p: Param<String>| match p {
        Param::Given(s) => Some(s),
        Param::Absent | Param::Empty => None,
    };
    let starting_after = given(f.string("starting_after", 5000)?);
    let ending_before = given(f.string("ending_before", 5000)?);
    let cursor = match (starting_after, ending_before) {
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
    let created = created_range(f)?;
    Ok(ListQuery {
        limit,
        cursor,
        created,
        filters: Vec::new(),
    })
}

/// One page of `kind` as Stripe's list object.
pub fn page(conn: &Connection, kind: &Kind, q: &ListQuery, url: &str) -> Result<Value, StripeError> {
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

/// `created=T` or `created[gt|gte|lt|lte]=T` as an inclusive range.
fn created_range(f: &mut Fields) -> Result<(i64, i64), StripeError> {
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    match f.take("created") {
        None => {}
        Some(Value::Object(map)) => {
            let mut r = Fields::new(map);
            let mut bound = |k: &str| -> Result<Option<i64>, StripeError> {
                let path = format!("created[{k}]");
                match r.take(k) {
                    None => Ok(None),
                    Some(v) => match integer_value(v, &path)? {
                        Param::Given(n) => Ok(Some(n)),
                        _ => Err(StripeError::invalid_empty(&path)),
                    },
                }
            };
            if let Some(n) = bound("gt")? {
                lo = lo.max(n.saturating_add(1));
            }
            if let Some(n) = bound("gte")? {
                lo = lo.max(n);
            }
            if let Some(n) = bound("lt")? {
                hi = hi.min(n.saturating_sub(1));
            }
            if let Some(n) = bound("lte")? {
                hi = hi.min(n);
            }
            if let Some(k) = r.drain().into_iter().next().map(|(k, _)| k) {
                return Err(StripeError::unknown_parameter(&format!("created[{k}]")));
            }
        }
        Some(v) => match integer_value(v, "created")? {
            Param::Given(n) => {
                lo = n;
                hi = n;
            }
            _ => return Err(StripeError::invalid_empty("created")),
        },
    }
    Ok((lo, hi))
}
