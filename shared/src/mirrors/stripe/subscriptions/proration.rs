//! Changing a subscription mid-period: items added, removed, repriced or
//! requantified, and what that costs. With `proration_behavior`
//! `create_prorations` (the default) the unused time of what was and the
//! remaining time of what is become pending invoice items (credited and
//! charged by the second: amount × (period end − proration date) / period
//! length, rounded to the minor unit), billed on the next invoice;
//! `always_invoice` bills them at once; `none` bills nothing until renewal.

use serde_json::{json, Map, Value};

use super::super::error::StripeError;
use super::super::invoice_items;
use super::super::invoices::collect;
use super::super::pipeline::Call;
use super::super::prices;
use super::{items, lifecycle};

/// `Dec 4, 2026`-style date for a proration line: `04 Dec 2026`.
fn day(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t).map_or_else(
        |_| t.to_string(),
        |d| {
            format!(
                "{:02} {} {}",
                d.day(),
                &format!("{:?}", d.month())[..3],
                d.year()
            )
        },
    )
}

/// The share of the period `(start, end)` left after `at`, as a fraction.
fn prorated(amount: i64, at: i64, (start, end): (i64, i64)) -> i64 {
    let total = (end - start).max(1);
    let left = (end - at).clamp(0, total);
    let v = i128::from(amount) * i128::from(left);
    let t = i128::from(total);
    let r = if v >= 0 {
        (2 * v + t) / (2 * t)
    } else {
        -((-2 * v + t) / (2 * t))
    };
    i64::try_from(r).unwrap_or(0)
}

/// One requested change to the items.
enum Change {
    Add(Value),
    Modify { before: Value, after: Value },
    Remove(Value),
}

/// Applies `items` of a subscription update to `sub` (its items stored and
/// re-embedded), with prorations as `proration_behavior` says; answers the
/// invoice `always_invoice` made.
pub fn change_items(
    call: &Call,
    sub: &mut Value,
    given: &Value,
    p: &Map<String, Value>,
    period: (i64, i64),
) -> Result<Option<Value>, StripeError> {
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let Value::Array(list) = given else {
        return Err(StripeError::invalid("Invalid array", "items"));
    };
    let behavior = p
        .get("proration_behavior")
        .and_then(Value::as_str)
        .unwrap_or("create_prorations");
    let at = p
        .get("proration_date")
        .and_then(Value::as_i64)
        .unwrap_or(call.now);
    if at < period.0 || at > period.1 {
        return Err(StripeError::invalid(
            "`proration_date` must fall within the subscription's current period.",
            "proration_date",
        ));
    }
    let current = items::of(call.conn, &sub_id)?;
    let mut changes = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let here = format!("items[{i}]");
        let c = c.as_object().cloned().unwrap_or_default();
        for k in ["discounts", "billing_thresholds", "current_trial"] {
            if c.get(k).is_some_and(|v| !v.is_null()) {
                return Err(StripeError::unsupported(
                    &format!("{here}[{k}]"),
                    "item discounts, thresholds and trial offers are not emulated",
                ));
            }
        }
        let existing = match c.get("id").and_then(Value::as_str) {
            Some(id) => Some(
                current
                    .iter()
                    .find(|it| it["id"] == id)
                    .cloned()
                    .ok_or_else(|| {
                        StripeError::no_such_param("subscription_item", id, &format!("{here}[id]"))
                    })?,
            ),
            None => None,
        };
        if c.get("deleted") == Some(&json!(true)) {
            let Some(before) = existing else {
                return Err(StripeError::missing_parameter(&format!("{here}[id]")));
            };
            changes.push(Change::Remove(before));
            continue;
        }
        let repriced = ["price", "plan", "price_data"]
            .iter()
            .any(|k| c.contains_key(*k));
        let price = if repriced {
            Some(items::price_for(call, &c, &here, false)?)
        } else {
            None
        };
        let quantity = c.get("quantity").and_then(Value::as_i64);
        if quantity.is_some_and(|q| q < 0) {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 0.",
                format!("{here}[quantity]"),
            ));
        }
        match existing {
            Some(before) => {
                let mut after = before.clone();
                if let Some(price) = &price {
                    after["price"] = price.clone();
                    after["plan"] = items::plan_of(price);
                }
                if let Some(q) = quantity {
                    after["quantity"] = json!(q);
                }
                if c.contains_key("tax_rates") {
                    after["tax_rates"] = invoice_items::rates(call.conn, c.get("tax_rates"))?;
                }
                if let Some(Value::Object(m)) = c.get("metadata") {
                    for (k, v) in m {
                        after["metadata"][k] = v.clone();
                    }
                }
                changes.push(Change::Modify { before, after });
            }
            None => {
                let Some(price) = price else {
                    return Err(StripeError::missing_parameter(&format!("{here}[price]")));
                };
                let rates = invoice_items::rates(call.conn, c.get("tax_rates"))?;
                let meta = c.get("metadata").cloned().unwrap_or(json!({}));
                let item = items::new(
                    &sub_id,
                    &price,
                    quantity.unwrap_or(1),
                    period,
                    call.now,
                    rates,
                    meta,
                );
                changes.push(Change::Add(item));
            }
        }
    }
    check_consistent(sub, &current, &changes)?;

    // Checked: store inline prices, then the items and their prorations.
    let prorate = behavior != "none" && sub["status"] != "trialing";
    let mut prorations = 0;
    for change in changes {
        let (before, after) = match change {
            Change::Add(mut item) => {
                store_inline(call, &mut item, list)?;
                items::KIND.insert(call.conn, &item)?;
                (None, Some(item))
            }
            Change::Modify { before, mut after } => {
                store_inline(call, &mut after, list)?;
                items::KIND.save(call.conn, &after)?;
                (Some(before), Some(after))
            }
            Change::Remove(before) => {
                items::KIND.mark_deleted(call.conn, before["id"].as_str().unwrap_or_default())?;
                (Some(before), None)
            }
        };
        if prorate {
            prorations += prorate_change(call, sub, before.as_ref(), after.as_ref(), at, period)?;
        }
    }
    lifecycle::embed_items(call.conn, sub)?;
    if behavior == "always_invoice" && prorations > 0 {
        let off_session = p.get("off_session") == Some(&json!(true));
        return invoice_pending(call, sub, "subscription_update", off_session);
    }
    Ok(None)
}

/// An inline `price_data` price is stored once the whole update is checked.
fn store_inline(call: &Call, item: &mut Value, _given: &[Value]) -> Result<(), StripeError> {
    let id = item["price"]["id"].as_str().unwrap_or_default().to_string();
    if prices::KIND.find(call.conn, &id)?.is_none() {
        let built = prices::NewPrice {
            price: item["price"].as_object().cloned().unwrap_or_default(),
            tiers: None,
            currency_options: None,
        };
        let stored = prices::store(call, built)?;
        item["plan"] = items::plan_of(&stored);
        item["price"] = stored;
    }
    Ok(())
}

/// After the changes, at least one item, one currency and one interval.
fn check_consistent(sub: &Value, current: &[Value], changes: &[Change]) -> Result<(), StripeError> {
    let mut prices: Vec<Value> = current.iter().map(|i| i["price"].clone()).collect();
    let mut ids: Vec<Value> = current.iter().map(|i| i["id"].clone()).collect();
    for c in changes {
        match c {
            Change::Add(item) => {
                prices.push(item["price"].clone());
                ids.push(item["id"].clone());
            }
            Change::Modify { before, after } => {
                if let Some(i) = ids.iter().position(|x| *x == before["id"]) {
                    prices[i] = after["price"].clone();
                }
            }
            Change::Remove(before) => {
                if let Some(i) = ids.iter().position(|x| *x == before["id"]) {
                    prices.remove(i);
                    ids.remove(i);
                }
            }
        }
    }
    let Some(first) = prices.first() else {
        return Err(StripeError::invalid(
            "A subscription must have at least one item; cancel it instead.",
            "items",
        ));
    };
    if first["currency"] != sub["currency"] {
        return Err(StripeError::invalid(
            "A subscription's currency cannot change.",
            "items",
        ));
    }
    let same = |p: &Value| {
        p["currency"] == first["currency"]
            && p["recurring"]["interval"] == first["recurring"]["interval"]
            && p["recurring"]["interval_count"] == first["recurring"]["interval_count"]
    };
    if !prices.iter().all(same) {
        return Err(StripeError::invalid(
            "Currency and interval fields must match across all prices on this subscription.",
            "items",
        ));
    }
    Ok(())
}

/// The proration items one item change makes; answers how many.
fn prorate_change(
    call: &Call,
    sub: &Value,
    before: Option<&Value>,
    after: Option<&Value>,
    at: i64,
    period: (i64, i64),
) -> Result<usize, StripeError> {
    let amount = |it: &Value| -> Result<i64, StripeError> {
        prices::amount(
            call.conn,
            &it["price"],
            it["quantity"].as_i64().unwrap_or(1).max(0) as u64,
        )
    };
    let old = before.map(amount).transpose()?;
    let new = after.map(amount).transpose()?;
    let same_price = before
        .zip(after)
        .is_some_and(|(b, a)| b["price"]["id"] == a["price"]["id"]);
    if old == new && (same_price || old.is_none()) {
        return Ok(0);
    }
    let mut made = 0;
    if let (Some(b), Some(old)) = (before, old) {
        let desc = format!(
            "Unused time on {} after {}",
            items::describe(call.conn, &b["price"], b["quantity"].as_i64().unwrap_or(1))?,
            day(at)
        );
        item(
            call,
            sub,
            b,
            -prorated(old, at, period),
            desc,
            (at, period.1),
        )?;
        made += 1;
    }
    if let (Some(a), Some(new)) = (after, new) {
        let desc = format!(
            "Remaining time on {} after {}",
            items::describe(call.conn, &a["price"], a["quantity"].as_i64().unwrap_or(1))?,
            day(at)
        );
        item(
            call,
            sub,
            a,
            prorated(new, at, period),
            desc,
            (at, period.1),
        )?;
        made += 1;
    }
    Ok(made)
}

/// A pending proration invoice item for subscription item `si`.
fn item(
    call: &Call,
    sub: &Value,
    si: &Value,
    amount: i64,
    description: String,
    period: (i64, i64),
) -> Result<Value, StripeError> {
    invoice_items::insert_for_subscription(
        call,
        &invoice_items::ForSubscription {
            customer: sub["customer"].as_str().unwrap_or_default(),
            subscription: sub["id"].as_str().unwrap_or_default(),
            subscription_item: si["id"].as_str(),
            currency: sub["currency"].as_str().unwrap_or("usd"),
            amount,
            description,
            period,
            price: Some(&si["price"]),
            quantity: si["quantity"].as_i64().unwrap_or(1),
            proration: true,
            test_clock: &sub["test_clock"],
        },
    )
}

/// Credits the unused rest of the current period of every item (a
/// cancellation with `prorate`).
pub fn credit_unused(call: &Call, sub: &Value, at: i64) -> Result<(), StripeError> {
    let period = lifecycle::period(sub);
    for it in items::of(call.conn, sub["id"].as_str().unwrap_or_default())? {
        prorate_change(call, sub, Some(&it), None, at, period)?;
    }
    Ok(())
}

/// Bills `sub`'s pending items now: an invoice finalized and, collected
/// automatically, charged at once.
pub fn invoice_pending(
    call: &Call,
    sub: &Value,
    reason: &'static str,
    off_session: bool,
) -> Result<Option<Value>, StripeError> {
    let pending = invoice_items::pending(call.conn, sub["customer"].as_str().unwrap_or_default())?;
    if !pending
        .iter()
        .any(|i| i["parent"]["subscription_details"]["subscription"] == sub["id"])
    {
        return Ok(None);
    }
    let draft = lifecycle::draft_invoice(call, sub, reason, (call.now, call.now), false)?;
    let inv = collect::finalize_now(call, &draft)?;
    if inv["status"] != "open" || inv["collection_method"] != "charge_automatically" {
        return Ok(Some(inv));
    }
    let done = collect::attempt(call, &inv, None, off_session)?;
    Ok(Some(done.invoice().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proration is the share of the period left, rounded to the minor unit.
    #[test]
    fn prorations_are_the_share_of_the_period_left() {
        let period = (0, 30 * 86_400);
        assert_eq!(prorated(3000, 15 * 86_400, period), 1500);
        assert_eq!(prorated(-3000, 20 * 86_400, period), -1000);
        assert_eq!(prorated(1000, 0, period), 1000);
        assert_eq!(prorated(1000, 30 * 86_400, period), 0);
        assert_eq!(prorated(1000, 10 * 86_400, period), 667, "666.67 rounds up");
    }
}
