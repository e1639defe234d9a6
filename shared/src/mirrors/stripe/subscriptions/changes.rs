//! `POST /v1/subscriptions/{id}`: what an update may change — payment
//! method, cancellation (now, at a time, at period end), collection, taxes,
//! discounts, pause, trial end, and items with their prorations.

use serde_json::{json, Value};

use super::super::billing;
use super::super::discounts;
use super::super::error::StripeError;
use super::super::invoice_items;
use super::super::payment_methods;
use super::super::pipeline::Call;
use super::super::update as fields;
use super::{
    items, lifecycle, load, payment_settings, proration, save, trial_settings, NOT_EMULATED,
};

/// What `POST /v1/subscriptions/{id}` acts on.
const UPDATE: &[&str] = &[
    "cancel_at",
    "cancel_at_period_end",
    "cancellation_details",
    "collection_method",
    "days_until_due",
    "default_payment_method",
    "default_tax_rates",
    "description",
    "discounts",
    "expand",
    "items",
    "metadata",
    "off_session",
    "pause_collection",
    "payment_behavior",
    "payment_settings",
    "proration_behavior",
    "proration_date",
    "trial_end",
    "trial_settings",
];

/// `POST /v1/subscriptions/{subscription_exposed_id}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("subscription_exposed_id");
    let p = call.params;
    fields::reject_unhandled(p, UPDATE, NOT_EMULATED)?;
    let before = load(call.conn, id)?;
    let now = billing::now_for(call, &before)?;
    let call = &call.at(now);
    if matches!(
        before["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Err(StripeError::invalid(
            format!(
                "A canceled subscription can only update its cancellation_details and metadata ({id})."
            ),
            "subscription",
        ));
    }
    let mut sub = before.clone();
    let customer_id = before["customer"].as_str().unwrap_or_default().to_string();
    if let Some(pm) = p.get("default_payment_method") {
        if let Some(pm_id) = pm.as_str() {
            payment_methods::check_attached(
                call.conn,
                pm_id,
                &customer_id,
                "default_payment_method",
            )?;
        }
        sub["default_payment_method"] = pm.clone();
    }
    let (start, end) = lifecycle::period(&before);
    match p.get("cancel_at_period_end") {
        Some(Value::Bool(true)) => {
            sub["cancel_at_period_end"] = json!(true);
            sub["cancel_at"] = json!(end);
            sub["canceled_at"] = json!(now);
        }
        Some(Value::Bool(false)) => {
            sub["cancel_at_period_end"] = json!(false);
            sub["cancel_at"] = Value::Null;
            sub["canceled_at"] = Value::Null;
        }
        _ => {}
    }
    match p.get("cancel_at") {
        Some(Value::Number(n)) => {
            let t = n.as_i64().unwrap_or(0);
            if t <= now {
                return Err(StripeError::invalid(
                    "Invalid timestamp: `cancel_at` must be in the future.",
                    "cancel_at",
                ));
            }
            sub["cancel_at"] = json!(t);
            sub["cancel_at_period_end"] = json!(t == end);
            sub["canceled_at"] = json!(now);
        }
        Some(Value::Null) => {
            sub["cancel_at"] = Value::Null;
            sub["cancel_at_period_end"] = json!(false);
            sub["canceled_at"] = Value::Null;
        }
        _ => {}
    }
    if let Some(Value::Object(d)) = p.get("cancellation_details") {
        for k in ["comment", "feedback"] {
            if let Some(v) = d.get(k) {
                sub["cancellation_details"][k] = v.clone();
            }
        }
    }
    if let Some(m) = p.get("collection_method") {
        sub["collection_method"] = m.clone();
    }
    if let Some(d) = p.get("days_until_due") {
        if d.as_i64().is_some_and(|d| !(0..=3650).contains(&d)) {
            return Err(StripeError::invalid(
                "Invalid days_until_due: must be between 0 and 3650.",
                "days_until_due",
            ));
        }
        sub["days_until_due"] = d.clone();
    }
    if sub["collection_method"] == "send_invoice" && sub["days_until_due"].is_null() {
        return Err(StripeError::missing_parameter("days_until_due"));
    }
    if p.contains_key("default_tax_rates") {
        sub["default_tax_rates"] = invoice_items::rates(call.conn, p.get("default_tax_rates"))?;
    }
    if let Some(d) = p.get("description") {
        sub["description"] = d.clone();
    }
    match p.get("pause_collection") {
        Some(Value::Object(pc)) => {
            let resumes_at = pc.get("resumes_at").and_then(Value::as_i64);
            sub["pause_collection"] =
                json!({"behavior": pc.get("behavior"), "resumes_at": resumes_at});
        }
        Some(Value::Null) => sub["pause_collection"] = Value::Null,
        _ => {}
    }
    if p.contains_key("payment_settings") {
        sub["payment_settings"] = payment_settings(p.get("payment_settings"));
    }
    if p.contains_key("trial_settings") {
        sub["trial_settings"] = trial_settings(p.get("trial_settings"));
    }
    if let Some(meta) = p.get("metadata") {
        let obj = sub
            .as_object_mut()
            .ok_or_else(|| StripeError::Internal("subscription is not an object".into()))?;
        fields::merge_metadata(obj, meta)?;
    }
    let trial_now = match p.get("trial_end") {
        Some(Value::String(s)) if s == "now" && before["status"] == "trialing" => true,
        Some(Value::Number(n)) if before["status"] == "trialing" => {
            let t = n.as_i64().unwrap_or(0);
            if t <= now {
                return Err(StripeError::invalid(
                    "Invalid timestamp: must be an integer Unix timestamp in the future.",
                    "trial_end",
                ));
            }
            sub["trial_end"] = json!(t);
            for mut item in items::of(call.conn, id)? {
                item["current_period_end"] = json!(t);
                items::KIND.save(call.conn, &item)?;
            }
            lifecycle::embed_items(call.conn, &mut sub)?;
            false
        }
        Some(_) => {
            return Err(StripeError::invalid(
                "`trial_end` can only change while the subscription is trialing.",
                "trial_end",
            ))
        }
        None => false,
    };
    match p.get("discounts") {
        Some(Value::Null) => sub["discounts"] = json!([]),
        Some(given @ Value::Array(_)) => {
            let wanted = discounts::requested(call.conn, Some(given), &customer_id, now)?;
            let target = discounts::Target {
                customer: &customer_id,
                subscription: Some(id),
                invoice: None,
            };
            sub["discounts"] = discounts::ids(&discounts::apply(call, wanted, &target)?);
        }
        _ => {}
    }
    let mut proration_invoice = None;
    if let Some(given) = p.get("items") {
        proration_invoice = proration::change_items(call, &mut sub, given, p, (start, end))?;
    }
    if trial_now {
        sub["trial_end"] = json!(now);
        save(call, &sub)?;
        lifecycle::updated(call, &before, &sub)?;
        lifecycle::end_trial(call, id)?;
        return load(call.conn, id);
    }
    if let Some(inv) = &proration_invoice {
        sub["latest_invoice"] = inv["id"].clone();
    }
    lifecycle::updated(call, &before, &sub)?;
    schedule_resume(call, &sub)?;
    lifecycle::plan(call, &sub)?;
    load(call.conn, id)
}

/// Plans the end of a collection pause at its `resumes_at`.
fn schedule_resume(call: &Call, sub: &Value) -> Result<(), StripeError> {
    let id = sub["id"].as_str().unwrap_or_default();
    crate::mirrors::toolkit::schedule::cancel(call.conn, lifecycle::RESUME_COLLECTION, id)?;
    if let Some(at) = sub["pause_collection"]["resumes_at"].as_i64() {
        billing::schedule(
            call,
            billing::clock_of(sub),
            at,
            lifecycle::RESUME_COLLECTION,
            id,
        )?;
    }
    Ok(())
}
