//! Previews: `POST /v1/invoices/create_preview` and the `invoice.upcoming`
//! event. The invoice Stripe would make next is made for real — the same
//! lines, prorations, discounts and taxes as the real one will have — inside
//! a savepoint that is then rolled back, with effects that go nowhere, so a
//! preview leaves no trace. Its id is `upcoming_in_…`, as Stripe's are.

use serde_json::{json, Map, Value};

use super::super::billing;
use super::super::error::StripeError;
use super::super::invoice_items;
use super::super::pipeline::Call;
use super::super::subscriptions::{self, lifecycle, proration};
use super::super::update;
use crate::mirrors::toolkit::effects::Effects;
use crate::session::id::random_token;

const HANDLED: &[&str] = &[
    "currency",
    "customer",
    "discounts",
    "expand",
    "invoice_items",
    "preview_mode",
    "subscription",
    "subscription_details",
];

/// `POST /v1/invoices/create_preview`: the next invoice of a subscription
/// (with `subscription_details`, after those changes), or of a customer's
/// pending and given invoice items.
pub fn create_preview(call: &Call) -> Result<Value, StripeError> {
    update::reject_unhandled(
        call.params,
        HANDLED,
        "schedules, automatic tax, Connect and customer_details previews are not emulated",
    )?;
    preview(call, |c| build(c, c.params))
}

/// Runs `make` inside a savepoint that is rolled back; answers what it made.
fn preview(
    call: &Call,
    make: impl FnOnce(&Call) -> Result<Value, StripeError>,
) -> Result<Value, StripeError> {
    let effects = Effects::default();
    let scratch = call.scratch(&effects);
    scratch.conn.execute_batch("SAVEPOINT invoice_preview")?;
    let made = make(&scratch);
    scratch
        .conn
        .execute_batch("ROLLBACK TO invoice_preview; RELEASE invoice_preview")?;
    let mut inv = made?;
    inv["id"] = json!(format!("upcoming_in_{}", random_token(24)));
    if let Some(lines) = inv["lines"]["url"].as_str().map(str::to_string) {
        inv["lines"]["url"] = json!(lines.replace("/v1/invoices/", "/v1/invoices/upcoming_"));
    }
    Ok(inv)
}

fn none_upcoming(what: &str) -> StripeError {
    StripeError::InvalidRequest {
        status: axum::http::StatusCode::NOT_FOUND,
        code: Some("invoice_upcoming_none"),
        message: format!("No upcoming invoices for {what}"),
        param: None,
    }
}

fn build(call: &Call, p: &Map<String, Value>) -> Result<Value, StripeError> {
    match p.get("subscription").and_then(Value::as_str) {
        Some(id) => subscription_preview(call, id, p),
        None => customer_preview(call, p),
    }
}

/// A subscription's next invoice, after `subscription_details` changes.
fn subscription_preview(
    call: &Call,
    id: &str,
    p: &Map<String, Value>,
) -> Result<Value, StripeError> {
    let mut sub = subscriptions::load(call.conn, id)?;
    if p.get("customer").is_some_and(|c| c != &sub["customer"]) {
        return Err(StripeError::invalid(
            "The subscription belongs to another customer.",
            "customer",
        ));
    }
    let now = billing::now_for(call, &sub)?;
    let call = &call.at(now);
    let details = p
        .get("subscription_details")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if matches!(
        sub["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) || details.get("cancel_at_period_end") == Some(&json!(true))
        || (sub["cancel_at_period_end"] == true && !details.contains_key("cancel_at_period_end"))
    {
        return Err(none_upcoming(&format!("subscription: {id}")));
    }
    let behavior = details
        .get("proration_behavior")
        .and_then(Value::as_str)
        .unwrap_or("create_prorations")
        .to_string();
    let period = lifecycle::period(&sub);
    let mut changed = false;
    if let Some(items) = details.get("items") {
        let mut change = Map::new();
        change.insert(
            "proration_behavior".into(),
            json!(if behavior == "always_invoice" {
                "create_prorations"
            } else {
                behavior.as_str()
            }),
        );
        if let Some(d) = details.get("proration_date") {
            change.insert("proration_date".into(), d.clone());
        }
        proration::change_items(call, &mut sub, items, &change, period)?;
        subscriptions::save(call, &sub)?;
        changed = true;
    }
    if behavior == "always_invoice" && changed {
        return lifecycle::draft_invoice(call, &sub, "subscription_update", (now, now), false);
    }
    let (start, trial) = match sub["status"].as_str() {
        Some("trialing") => (sub["trial_end"].as_i64().unwrap_or(period.1), false),
        _ => (period.1, false),
    };
    let end = lifecycle::next_end(&sub, start);
    lifecycle::draft_invoice(
        &call.at(start),
        &sub,
        "subscription_cycle",
        (start, end),
        trial,
    )
}

/// A customer's next invoice: its pending items and the `invoice_items` given.
fn customer_preview(call: &Call, p: &Map<String, Value>) -> Result<Value, StripeError> {
    let Some(Value::String(customer)) = p.get("customer") else {
        return Err(StripeError::missing_parameter("customer"));
    };
    for (i, item) in p
        .get("invoice_items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut m = item.as_object().cloned().unwrap_or_default();
        for k in ["invoiceitem", "period", "tax_code"] {
            if m.shift_remove(k).is_some_and(|v| !v.is_null()) {
                return Err(StripeError::unsupported(
                    &format!("invoice_items[{i}][{k}]"),
                    "previewing changes to existing invoice items is not emulated",
                ));
            }
        }
        m.insert("customer".into(), json!(customer));
        if !m.contains_key("currency") {
            if let Some(c) = p.get("currency") {
                m.insert("currency".into(), c.clone());
            }
        }
        invoice_items::create(&call.with_params(&m))?;
    }
    let mut m = Map::new();
    m.insert("customer".into(), json!(customer));
    m.insert("pending_invoice_items_behavior".into(), json!("include"));
    for k in ["currency", "discounts"] {
        if let Some(v) = p.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let inv = super::create(&call.with_params(&m))?;
    if inv["lines"]["data"].as_array().is_none_or(Vec::is_empty) {
        return Err(none_upcoming(&format!("customer: {customer}")));
    }
    Ok(inv)
}

/// The `invoice.upcoming` event, some days before a renewal: its object is the
/// preview of the renewal invoice.
pub fn upcoming(call: &Call, subscription: &str) -> Result<(), StripeError> {
    let made = preview(call, |c| subscription_preview(c, subscription, &Map::new()));
    match made {
        Ok(inv) => super::super::events::emit(call, "invoice.upcoming", &inv, None),
        // Nothing comes next (canceled meanwhile): no event.
        Err(StripeError::InvalidRequest {
            code: Some("invoice_upcoming_none"),
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}
