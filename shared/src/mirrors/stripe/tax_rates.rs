//! Tax rates: `/v1/tax_rates`. A percentage, exclusive (added to an amount)
//! or inclusive (part of it), that invoices and Checkout apply. Its
//! percentage and inclusiveness never change after creation (Stripe's rule:
//! archive it and make another); [`tax_of`] is what a rate takes of an amount.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;

pub static KIND: Kind = Kind {
    object: "tax_rate",
    table: "tax_rates",
    prefix: "txr_",
    id_len: 24,
    columns: &[],
};

/// The live tax rate `id`, else Stripe's 400 on the parameter that named it.
pub fn live(conn: &Connection, id: &str, param: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such_param("tax_rate", id, param))
}

/// What `rate` takes of `amount` (minor units), rounded half up: exclusive
/// adds `amount × p`, inclusive is the part `amount × p / (1 + p)` already in it.
pub fn tax_of(rate: &Value, amount: i64) -> i64 {
    let p = rate["percentage"].as_f64().unwrap_or(0.0) / 100.0;
    let a = amount as f64;
    let tax = if rate["inclusive"] == true {
        a - a / (1.0 + p)
    } else {
        a * p
    };
    tax.round() as i64
}

/// `POST /v1/tax_rates`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let percentage = p.get("percentage").and_then(Value::as_f64).unwrap_or(-1.0);
    if !(0.0..=100.0).contains(&percentage) {
        return Err(StripeError::invalid(
            "Invalid percentage: must be between 0 and 100.",
            "percentage",
        ));
    }
    let text = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let mut rate = into_map(json!({
        "id": Stripe.new_id(&KIND),
        "object": "tax_rate",
        "active": p.get("active").and_then(Value::as_bool).unwrap_or(true),
        "country": text("country"),
        "created": call.now,
        "description": text("description"),
        "display_name": text("display_name"),
        "effective_percentage": percentage,
        "flat_amount": null,
        "inclusive": p.get("inclusive").and_then(Value::as_bool).unwrap_or(false),
        "jurisdiction": text("jurisdiction"),
        "jurisdiction_level": null,
        "livemode": false,
        "metadata": {},
        "percentage": percentage,
        "rate_type": "percentage",
        "state": text("state"),
        "tax_type": text("tax_type"),
    }));
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut rate, meta)?;
    }
    let v = Value::Object(rate);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "tax_rate.created", &v, None)?;
    Ok(v)
}

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("tax_rate", id, "id"))
}

/// `GET /v1/tax_rates/{tax_rate}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("tax_rate"))
}

/// `POST /v1/tax_rates/{tax_rate}`: everything but the percentage and
/// whether it is inclusive.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("tax_rate");
    let before = load(call.conn, id)?;
    let mut rate = into_map(before.clone());
    let mut p = call.params.clone();
    if let Some(Value::Null) = p.get("display_name") {
        return Err(StripeError::invalid_empty("display_name"));
    }
    p.shift_remove("expand");
    update::apply(&mut rate, &p, &[])?;
    let v = Value::Object(rate);
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "tax_rate.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `GET /v1/tax_rates`: newest first, by `active` and `inclusive`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    for (param, path) in [("active", "$.active"), ("inclusive", "$.inclusive")] {
        if let Some(Value::Bool(b)) = p.get(param) {
            q.conditions
                .push(Filter::Field(path, Sql::Integer(i64::from(*b))));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/tax_rates")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exclusive rates add to the amount, inclusive ones are part of it.
    #[test]
    fn exclusive_rates_add_and_inclusive_rates_are_contained() {
        let excl = json!({"percentage": 20.0, "inclusive": false});
        let incl = json!({"percentage": 20.0, "inclusive": true});
        assert_eq!(tax_of(&excl, 1000), 200);
        assert_eq!(tax_of(&incl, 1200), 200);
        assert_eq!(
            tax_of(&json!({"percentage": 8.25, "inclusive": false}), 999),
            82
        );
    }
}
