//! Subscription items: `/v1/subscription_items`. One item of a subscription,
//! added, changed or removed on its own — each a subscription update with
//! the same prorations (`subscriptions::proration`).

use serde_json::{json, Map, Value};

use super::billing;
use super::error::StripeError;
use super::lists;
use super::pipeline::Call;
use super::subscriptions::{self, items, lifecycle, proration};

fn load_item(call: &Call, id: &str) -> Result<Value, StripeError> {
    items::KIND
        .load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such("subscription_item", id, "item"))
}

/// Runs `change` (one entry of a subscription update's `items`) on
/// `subscription`; answers the item it names afterwards.
fn through_subscription(
    call: &Call,
    subscription: &str,
    change: Map<String, Value>,
) -> Result<Value, StripeError> {
    let before = subscriptions::load(call.conn, subscription)?;
    if matches!(
        before["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Err(StripeError::invalid(
            "The subscription is canceled; its items cannot change.",
            "subscription",
        ));
    }
    let now = billing::now_for(call, &before)?;
    let call = &call.at(now);
    let p = call.params;
    let mut sub = before.clone();
    let period = lifecycle::period(&before);
    let invoice = proration::change_items(call, &mut sub, &json!([change]), p, period)?;
    if let Some(inv) = invoice {
        sub["latest_invoice"] = inv["id"].clone();
    }
    lifecycle::updated(call, &before, &sub)?;
    Ok(sub)
}

/// The parameters of an item change, as a subscription update's `items[]`.
fn change_of(p: &Map<String, Value>) -> Map<String, Value> {
    let mut c = Map::new();
    for k in [
        "metadata",
        "plan",
        "price",
        "price_data",
        "quantity",
        "tax_rates",
        "discounts",
        "billing_thresholds",
        "current_trial",
    ] {
        if let Some(v) = p.get(k) {
            c.insert(k.into(), v.clone());
        }
    }
    c
}

/// `POST /v1/subscription_items`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let Some(Value::String(sub)) = call.params.get("subscription") else {
        return Err(StripeError::missing_parameter("subscription"));
    };
    let before: Vec<Value> = items::of(call.conn, sub)?;
    let after = through_subscription(call, sub, change_of(call.params))?;
    // The new item is the one that was not there before.
    items::of(call.conn, sub)?
        .into_iter()
        .find(|i| !before.iter().any(|b| b["id"] == i["id"]))
        .ok_or_else(|| StripeError::Internal(format!("no new item on {}", after["id"])))
}

/// `GET /v1/subscription_items/{item}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load_item(call, call.args.get("item"))
}

/// `POST /v1/subscription_items/{item}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("item");
    let item = load_item(call, id)?;
    let mut change = change_of(call.params);
    change.insert("id".into(), json!(id));
    through_subscription(
        call,
        item["subscription"].as_str().unwrap_or_default(),
        change,
    )?;
    load_item(call, id)
}

/// `DELETE /v1/subscription_items/{item}`.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("item");
    let item = load_item(call, id)?;
    let mut change = Map::new();
    change.insert("id".into(), json!(id));
    change.insert("deleted".into(), json!(true));
    through_subscription(
        call,
        item["subscription"].as_str().unwrap_or_default(),
        change,
    )?;
    Ok(json!({"id": id, "object": "subscription_item", "deleted": true}))
}

/// `GET /v1/subscription_items?subscription=…`: oldest first.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let Some(Value::String(sub)) = call.params.get("subscription") else {
        return Err(StripeError::missing_parameter("subscription"));
    };
    subscriptions::load(call.conn, sub)?;
    let mut q = lists::query(call.params)?;
    q.oldest_first = true;
    q.filters.push(("subscription", sub.clone().into()));
    lists::page(
        call.conn,
        &items::KIND,
        &q,
        &format!("/v1/subscription_items?subscription={sub}"),
    )
}
