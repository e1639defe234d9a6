//! Coupons: `/v1/coupons`. A percent or an amount off, applied once, for some
//! months or forever, until `redeem_by` or `max_redemptions`. `valid` turns
//! false at `redeem_by`, through a timer (no event, as on Stripe). `applies_to` and
//! `currency_options` are returned only when expanded (`toolkit::included`).
//! Deleted, a coupon is gone, and its id may be used again.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::amounts;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::products;
use super::update;
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::timers;
use crate::session::id::random_from;

/// Storage: ids are the user's own or 8 random characters, so no prefix.
pub static KIND: Kind = Kind {
    object: "coupon",
    table: "coupons",
    prefix: "",
    id_len: 8,
    columns: &[],
};

/// The timer that ends a coupon's validity at its `redeem_by`.
pub const EXPIRES: &str = "coupon.expire";

/// A coupon id as Stripe makes one: 8 uppercase letters and digits.
fn new_id() -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8)
}

/// The live coupon `id`, else Stripe's 400 on the parameter that named it.
pub fn live(conn: &Connection, id: &str, param: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such_param("coupon", id, param))
}

/// `POST /v1/coupons`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let id = match p.get("id") {
        Some(Value::String(id)) if !id.is_empty() => {
            if KIND.find(call.conn, id)?.is_some() {
                return Err(StripeError::invalid_code(
                    "resource_already_exists",
                    "Coupon already exists.",
                    "id",
                ));
            }
            id.clone()
        }
        _ => new_id(),
    };
    let percent = p.get("percent_off").and_then(Value::as_f64);
    let amount = p.get("amount_off").and_then(Value::as_i64);
    let currency = match (amount, p.get("currency")) {
        (Some(_), Some(Value::String(c))) => Some(amounts::currency(c, "currency")?),
        (Some(_), _) => return Err(StripeError::missing_parameter("currency")),
        (None, _) => None,
    };
    match (percent, amount) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid_code(
                "parameters_exclusive",
                "You may only specify one of these parameters: amount_off, percent_off.",
                "percent_off",
            ))
        }
        (None, None) => {
            return Err(StripeError::invalid(
                "You must pass either `percent_off` or `amount_off`.",
                "percent_off",
            ))
        }
        (Some(pc), None) if !(pc > 0.0 && pc <= 100.0) => {
            return Err(StripeError::invalid(
                "Invalid percent_off: must be greater than 0 and at most 100.",
                "percent_off",
            ))
        }
        (None, Some(a)) if a < 1 => {
            return Err(StripeError::invalid(
                "Invalid amount_off: must be at least 1.",
                "amount_off",
            ))
        }
        _ => {}
    }
    let duration = p.get("duration").and_then(Value::as_str).unwrap_or("once");
    let months = p.get("duration_in_months").and_then(Value::as_i64);
    match (duration, months) {
        ("repeating", None) => return Err(StripeError::missing_parameter("duration_in_months")),
        ("repeating", Some(m)) if m < 1 => {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 1.",
                "duration_in_months",
            ))
        }
        ("repeating", _) | (_, None) => {}
        (_, Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify `duration_in_months` when `duration` is `repeating`.",
                "duration_in_months",
            ))
        }
    }
    let max = p.get("max_redemptions").and_then(Value::as_i64);
    if max.is_some_and(|m| m < 1) {
        return Err(StripeError::invalid(
            "This value must be greater than or equal to 1.",
            "max_redemptions",
        ));
    }
    let redeem_by = p.get("redeem_by").and_then(Value::as_i64);
    if redeem_by.is_some_and(|t| t <= call.now) {
        return Err(StripeError::invalid(
            "Invalid redeem_by: must be in the future.",
            "redeem_by",
        ));
    }
    let applies_to = match p.get("applies_to") {
        Some(Value::Object(a)) => {
            let ids = a
                .get("products")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, id) in ids.iter().enumerate() {
                let id = id.as_str().unwrap_or_default();
                products::live(call.conn, id, &format!("applies_to[products][{i}]"))?;
            }
            Some(json!({"products": ids}))
        }
        _ => None,
    };
    let currency_options = match (p.get("currency_options"), &currency) {
        (Some(Value::Object(o)), Some(cur)) => Some(currency_options(o, cur)?),
        (Some(Value::Object(_)), None) => {
            return Err(StripeError::invalid(
                "`currency_options` can only be set on a coupon with `amount_off`.",
                "currency_options",
            ))
        }
        _ => None,
    };
    let mut coupon = into_map(json!({
        "id": id,
        "object": "coupon",
        "amount_off": amount,
        "created": call.now,
        "currency": currency,
        "duration": duration,
        "duration_in_months": months,
        "livemode": false,
        "max_redemptions": max,
        "metadata": {},
        "name": p.get("name").cloned().unwrap_or(Value::Null),
        "percent_off": percent,
        "redeem_by": redeem_by,
        "times_redeemed": 0,
        "valid": true,
    }));
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut coupon, meta)?;
    }
    if let Some(a) = &applies_to {
        included::put(call.conn, &id, "applies_to", a)?;
    }
    if let Some(o) = &currency_options {
        included::put(call.conn, &id, "currency_options", o)?;
    }
    if let Some(t) = redeem_by {
        let due = t.saturating_mul(1000);
        timers::schedule(call.conn, EXPIRES, &id, None, due)?;
        call.owe(due);
    }
    let v = Value::Object(coupon);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "coupon.created", &v, None)?;
    Ok(v)
}

/// `currency_options[cur][amount_off]`: the amount off in other currencies.
fn currency_options(given: &Map<String, Value>, own: &str) -> Result<Value, StripeError> {
    let mut out = Map::new();
    for (cur, o) in given {
        let c = amounts::currency(cur, "currency_options")?;
        if c == own {
            return Err(StripeError::invalid(
                format!("`currency_options` may not include the coupon's own currency ({own})."),
                format!("currency_options[{cur}]"),
            ));
        }
        out.insert(c, json!({"amount_off": o.get("amount_off")}));
    }
    Ok(Value::Object(out))
}

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("coupon", id, "id"))
}

/// `GET /v1/coupons/{coupon}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("coupon"))
}

/// `POST /v1/coupons/{coupon}`: name, metadata and currency options only.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("coupon");
    let before = load(call.conn, id)?;
    let mut coupon = into_map(before.clone());
    let p = call.params;
    if let Some(name) = p.get("name") {
        coupon.insert("name".into(), name.clone());
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut coupon, meta)?;
    }
    if let Some(Value::Object(o)) = p.get("currency_options") {
        let Some(own) = coupon.get("currency").and_then(Value::as_str) else {
            return Err(StripeError::invalid(
                "`currency_options` can only be set on a coupon with `amount_off`.",
                "currency_options",
            ));
        };
        let new = into_map(currency_options(o, own)?);
        let mut merged = match included::get(call.conn, id, "currency_options")? {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        merged.extend(new);
        included::put(call.conn, id, "currency_options", &Value::Object(merged))?;
    }
    let v = Value::Object(coupon);
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "coupon.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `DELETE /v1/coupons/{coupon}`: gone at once; what it was applied to keeps
/// its discount, as on Stripe.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("coupon");
    let coupon = load(call.conn, id)?;
    KIND.remove(call.conn, id)?;
    timers::cancel(call.conn, EXPIRES, id)?;
    events::emit(call, "coupon.deleted", &coupon, None)?;
    Ok(json!({"id": id, "object": "coupon", "deleted": true}))
}

/// `GET /v1/coupons`: newest first.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let q = lists::query(call.params)?;
    lists::page(call.conn, &KIND, &q, "/v1/coupons")
}

/// The [`EXPIRES`] timer: past `redeem_by`, the coupon is no longer valid.
pub fn expire_later(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(mut coupon) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if coupon["valid"] == true {
        coupon["valid"] = json!(false);
        KIND.save(call.conn, &coupon)?;
    }
    Ok(())
}
