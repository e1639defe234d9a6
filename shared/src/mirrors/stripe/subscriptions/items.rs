//! A subscription's items (`subscription_item`): a recurring price and a
//! quantity, each with the current period (in the pinned API version the
//! period lives on the items, not on the subscription). Also what an item
//! bills: its invoice line for a period, and for a trial.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::super::amounts;
use super::super::error::StripeError;
use super::super::invoices::lines;
use super::super::pipeline::Call;
use super::super::prices;
use super::super::products;
use super::super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

/// Storage: `subscription` indexed.
pub static KIND: Kind = Kind {
    object: "subscription_item",
    table: "subscription_items",
    prefix: "si_",
    id_len: 14,
    columns: &["subscription"],
};

/// The legacy `plan` view of a recurring price, which items still carry.
pub fn plan_of(price: &Value) -> Value {
    let r = &price["recurring"];
    json!({
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": r["interval"],
        "interval_count": r["interval_count"],
        "livemode": false,
        "metadata": price["metadata"],
        "meter": null,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": price["tiers_mode"],
        "transform_usage": price["transform_quantity"],
        "trial_period_days": r["trial_period_days"],
        "usage_type": r["usage_type"],
    })
}

/// A new item of `subscription` for `price` (`quantity` of it), in the period
/// `(start, end)`.
pub fn new(
    subscription: &str,
    price: &Value,
    quantity: i64,
    period: (i64, i64),
    created: i64,
    tax_rates: Value,
    metadata: Value,
) -> Value {
    json!({
        "id": Stripe.new_id(&KIND),
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": created,
        "current_period_end": period.1,
        "current_period_start": period.0,
        "current_trial": null,
        "discounts": [],
        "metadata": if metadata.is_object() { metadata } else { json!({}) },
        "plan": plan_of(price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": tax_rates,
    })
}

/// A subscription's live items, oldest first.
pub fn of(conn: &Connection, subscription: &str) -> Result<Vec<Value>, StripeError> {
    Ok(KIND.select(conn, "subscription = ?1", [subscription])?)
}

/// A price an item may bill: live, recurring, and (`price_data`) made
/// inline; `at` names the parameter. Checks; stores an inline price only
/// when `store`.
pub fn price_for(
    call: &Call,
    given: &Map<String, Value>,
    at: &str,
    store: bool,
) -> Result<Value, StripeError> {
    let price = match (
        given.get("price"),
        given.get("plan"),
        given.get("price_data"),
    ) {
        (Some(Value::String(id)), _, _) | (None, Some(Value::String(id)), _) => prices::KIND
            .load(call.conn, id)?
            .ok_or_else(|| StripeError::no_such_param("price", id, &format!("{at}[price]")))?,
        (None, None, Some(Value::Object(data))) => {
            let product = data
                .get("product")
                .and_then(Value::as_str)
                .unwrap_or_default();
            products::live(call.conn, product, &format!("{at}[price_data][product]"))?;
            let mut p = data.clone();
            p.shift_remove("product");
            p.insert("active".into(), json!(false));
            let built = prices::build(call, &p, product, &format!("{at}[price_data]"))?;
            if store {
                prices::store(call, built)?
            } else {
                Value::Object(built.price)
            }
        }
        _ => return Err(StripeError::missing_parameter(&format!("{at}[price]"))),
    };
    if price["type"] != "recurring" {
        return Err(StripeError::invalid(
            format!(
                "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`: {}",
                price["id"].as_str().unwrap_or_default()
            ),
            format!("{at}[price]"),
        ));
    }
    Ok(price)
}

/// `1 × Pro (at $10.00 / month)`, how Stripe describes an item's line.
pub fn describe(conn: &Connection, price: &Value, quantity: i64) -> Result<String, StripeError> {
    let product = products::KIND
        .load(conn, price["product"].as_str().unwrap_or_default())?
        .and_then(|p| p["name"].as_str().map(str::to_string))
        .unwrap_or_default();
    let r = &price["recurring"];
    let every = match r["interval_count"].as_i64().unwrap_or(1) {
        1 => r["interval"].as_str().unwrap_or("month").to_string(),
        n => format!("every {n} {}s", r["interval"].as_str().unwrap_or("month")),
    };
    let currency = price["currency"].as_str().unwrap_or("usd");
    let unit = match price["unit_amount"].as_i64() {
        Some(u) => amounts::format(u, currency),
        None => format!(
            "{} {currency}",
            price["unit_amount_decimal"].as_str().unwrap_or("0")
        ),
    };
    Ok(match price["billing_scheme"].as_str() {
        Some("tiered") => format!("{quantity} × {product} (tiered, per {every})"),
        _ => format!("{quantity} × {product} (at {unit} / {every})"),
    })
}

/// The line `item` adds to invoice `invoice` for `period`: the price times the
/// quantity, or nothing owed during a trial.
pub fn line(
    conn: &Connection,
    item: &Value,
    invoice: &str,
    period: (i64, i64),
    trial: bool,
) -> Result<Value, StripeError> {
    let price = &item["price"];
    let quantity = item["quantity"].as_i64().unwrap_or(1).max(0);
    let (amount, description) = if trial {
        let product = products::KIND
            .load(conn, price["product"].as_str().unwrap_or_default())?
            .and_then(|p| p["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        (0, format!("Trial period for {product}"))
    } else {
        (
            prices::amount(conn, price, quantity as u64)?,
            describe(conn, price, quantity)?,
        )
    };
    let sub = &item["subscription"];
    Ok(json!({
        "id": Stripe.new_id(&lines::KIND),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "invoice": invoice,
        "livemode": false,
        "metadata": item["metadata"],
        "parent": {
            "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": null,
                "proration": false,
                "proration_details": {"credited_items": null},
                "subscription": sub,
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": period.1, "start": period.0},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": quantity,
        "quantity_decimal": quantity.to_string(),
        "subscription": sub,
        "subtotal": amount,
        "taxes": [],
    }))
}
