//! A subscription's life on its customer's clock: its first invoice, trial
//! end, renewals, the incomplete window, cancellation, and what its invoices'
//! payments do to it. Statuses as Stripe documents them:
//!
//! * `trialing` until `trial_end`, then `active` with a renewal invoice;
//! * `incomplete` while the first invoice is unpaid, `incomplete_expired`
//!   23 hours later if it still is (the invoice voided);
//! * `active` → `past_due` when a renewal payment fails; retried on the
//!   invoice's schedule; when the last retry fails, `canceled` (Stripe's
//!   default setting for subscriptions whose retries ran out);
//! * `paused` at trial end without a payment method when
//!   `trial_settings.end_behavior.missing_payment_method=pause`;
//! * `canceled` now, at `cancel_at`, or at the period end.
//!
//! Renewal invoices are drafts finalized an hour later, then charged, as on
//! Stripe; a subscription's first invoice is finalized and charged at once.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::super::billing;
use super::super::billing_settings;
use super::super::customers;
use super::super::discounts;
use super::super::error::StripeError;
use super::super::events;
use super::super::invoice_items;
use super::super::invoices::{self, collect, lines, Draft};
use super::super::pipeline::Call;
use super::{items, save, KIND};
use crate::mirrors::toolkit::schedule;

pub const RENEW: &str = "subscription.renew";
pub const TRIAL_END: &str = "subscription.trial_end";
pub const TRIAL_WILL_END: &str = "subscription.trial_will_end";
pub const INCOMPLETE_EXPIRE: &str = "subscription.incomplete_expire";
pub const CANCEL: &str = "subscription.cancel";
pub const RESUME_COLLECTION: &str = "subscription.resume_collection";
pub const UPCOMING: &str = "subscription.upcoming";

/// `invoice.upcoming` comes this long before a renewal (Stripe's default
/// "upcoming renewal events" setting is days ahead; Mirra sends it 3 days ahead).
pub const UPCOMING_SECS: i64 = 3 * 86_400;

/// An unpaid first invoice expires the subscription after this long.
pub const INCOMPLETE_WINDOW_SECS: i64 = 23 * 3600;
/// `customer.subscription.trial_will_end` comes this long before a trial ends.
pub const TRIAL_WILL_END_SECS: i64 = 3 * 86_400;

/// The subscription's current period, from its first item.
pub fn period(sub: &Value) -> (i64, i64) {
    let item = &sub["items"]["data"][0];
    (
        item["current_period_start"].as_i64().unwrap_or(0),
        item["current_period_end"].as_i64().unwrap_or(0),
    )
}

/// The recurring interval its items share.
pub fn interval(sub: &Value) -> (String, i64) {
    let r = &sub["items"]["data"][0]["price"]["recurring"];
    (
        r["interval"].as_str().unwrap_or("month").to_string(),
        r["interval_count"].as_i64().unwrap_or(1),
    )
}

/// The end of the period starting at `start`, on the subscription's cycle.
pub fn next_end(sub: &Value, start: i64) -> i64 {
    let (interval, count) = interval(sub);
    let anchor = sub["billing_cycle_anchor"].as_i64().unwrap_or(start);
    // The first boundary of the anchor's cycle after `start`.
    let mut n = 1;
    loop {
        let b = billing::boundary(anchor, &interval, count, n);
        if b > start || n > 100_000 {
            return b;
        }
        n += 1;
    }
}

fn clock(sub: &Value) -> &str {
    billing::clock_of(sub)
}

fn id_of(sub: &Value) -> String {
    sub["id"].as_str().unwrap_or_default().to_string()
}

/// Re-embeds `sub.items` from its stored items.
pub fn embed_items(conn: &Connection, sub: &mut Value) -> Result<(), StripeError> {
    let id = id_of(sub);
    let all = items::of(conn, &id)?;
    sub["items"] = json!({
        "object": "list",
        "data": all.iter().take(10).cloned().collect::<Vec<_>>(),
        "has_more": all.len() > 10,
        "url": format!("/v1/subscription_items?subscription={id}"),
    });
    Ok(())
}

/// Moves every item of `sub` to the period `(start, end)`.
fn set_period(call: &Call, sub: &mut Value, start: i64, end: i64) -> Result<(), StripeError> {
    for mut item in items::of(call.conn, &id_of(sub))? {
        item["current_period_start"] = json!(start);
        item["current_period_end"] = json!(end);
        items::KIND.save(call.conn, &item)?;
    }
    embed_items(call.conn, sub)
}

/// A draft invoice of `sub` for `period`: a line per item (nothing owed in a
/// trial) and, for a renewal, the customer's pending invoice items.
pub fn draft_invoice(
    call: &Call,
    sub: &Value,
    reason: &'static str,
    period: (i64, i64),
    trial: bool,
) -> Result<Value, StripeError> {
    let customer_id = sub["customer"].as_str().unwrap_or_default();
    let customer = customers::KIND
        .load(call.conn, customer_id)?
        .ok_or_else(|| StripeError::no_such_param("customer", customer_id, "customer"))?;
    let d = Draft {
        currency: sub["currency"].as_str().unwrap_or("usd").to_string(),
        billing_reason: reason,
        subscription: Some(id_of(sub)),
        period,
        collection_method: sub["collection_method"]
            .as_str()
            .unwrap_or("charge_automatically")
            .to_string(),
        days_until_due: sub["days_until_due"].as_i64(),
        default_payment_method: None,
        default_tax_rates: sub.get("default_tax_rates").cloned().unwrap_or(json!([])),
        auto_advance: true,
    };
    let mut inv = Value::Object(invoices::new(&customer, call.now, &d));
    inv["parent"]["subscription_details"]["metadata"] = sub["metadata"].clone();
    // A trial's invoice owes nothing: a `once` coupon waits for the first charge.
    let applied = match trial {
        true => json!([]),
        false => discounts::still_active(
            call.conn,
            sub["discounts"].as_array().map_or(&[][..], Vec::as_slice),
            period.0,
        )?,
    };
    inv["discounts"] = applied.clone();
    let inv_id = inv["id"].as_str().unwrap_or_default().to_string();
    invoices::KIND.insert(call.conn, &inv)?;
    // An update's invoice bills only the prorations the update made.
    let update = reason == "subscription_update";
    if !update {
        for item in items::of(call.conn, &id_of(sub))? {
            lines::insert(
                call,
                &items::line(call.conn, &item, &inv_id, period, trial)?,
            )?;
        }
    }
    if reason != "subscription_create" {
        let currency = sub["currency"].clone();
        for item in invoice_items::pending(call.conn, customer_id)? {
            let mine = item["parent"]["subscription_details"]["subscription"] == sub["id"];
            if item["currency"] != currency || (update && !mine) {
                continue;
            }
            let mut moved = item.clone();
            moved["invoice"] = json!(inv_id);
            invoice_items::KIND.save(call.conn, &moved)?;
            lines::insert(call, &lines::for_item(&moved, &inv_id))?;
        }
    }
    invoices::totals(call.conn, &mut inv)?;
    invoices::KIND.save(call.conn, &inv)?;
    events::emit(call, "invoice.created", &inv, None)?;
    let used: Vec<String> = applied
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    discounts::used(call, &used)?;
    Ok(inv)
}

/// Saves `sub` as `after` and raises `customer.subscription.updated` when it
/// changed.
pub fn updated(call: &Call, before: &Value, after: &Value) -> Result<(), StripeError> {
    if after != before {
        save(call, after)?;
        events::emit(call, "customer.subscription.updated", after, Some(before))?;
    }
    Ok(())
}

/// Schedules the work of a live period: trial end or renewal, and a planned
/// cancellation.
pub fn plan(call: &Call, sub: &Value) -> Result<(), StripeError> {
    let id = id_of(sub);
    for kind in [RENEW, TRIAL_END, TRIAL_WILL_END, CANCEL, UPCOMING] {
        schedule::cancel(call.conn, kind, &id)?;
    }
    let (_, end) = period(sub);
    match sub["status"].as_str() {
        Some("trialing") => {
            let trial_end = sub["trial_end"].as_i64().unwrap_or(end);
            billing::schedule(call, clock(sub), trial_end, TRIAL_END, &id)?;
            let warn = trial_end - TRIAL_WILL_END_SECS;
            if warn > call.now {
                billing::schedule(call, clock(sub), warn, TRIAL_WILL_END, &id)?;
            }
        }
        Some("active" | "past_due" | "unpaid") => {
            billing::schedule(call, clock(sub), end, RENEW, &id)?;
            let warn = end - UPCOMING_SECS;
            if warn > call.now && sub["cancel_at_period_end"] != true {
                billing::schedule(call, clock(sub), warn, UPCOMING, &id)?;
            }
        }
        _ => {}
    }
    if let Some(at) = sub["cancel_at"].as_i64() {
        billing::schedule(call, clock(sub), at, CANCEL, &id)?;
    }
    Ok(())
}

/// Ends `sub` now: `canceled`, nothing more planned.
pub fn cancel_now(call: &Call, sub: &Value, reason: &str) -> Result<Value, StripeError> {
    let id = id_of(sub);
    for kind in [
        RENEW,
        TRIAL_END,
        TRIAL_WILL_END,
        CANCEL,
        INCOMPLETE_EXPIRE,
        RESUME_COLLECTION,
    ] {
        schedule::cancel(call.conn, kind, &id)?;
    }
    let mut after = sub.clone();
    after["status"] = json!("canceled");
    after["ended_at"] = json!(call.now);
    if after["canceled_at"].is_null() {
        after["canceled_at"] = json!(call.now);
    }
    after["cancellation_details"]["reason"] = json!(reason);
    save(call, &after)?;
    events::emit(call, "customer.subscription.deleted", &after, Some(sub))?;
    Ok(after)
}

/// The first invoice of a new subscription, finalized, and collected as
/// `payment_behavior` says; answers the subscription's status and the
/// invoice. A decline with `error_if_incomplete` answers the card error.
pub fn first_invoice(
    call: &Call,
    sub: &Value,
    payment_behavior: &str,
    off_session: bool,
) -> Result<(String, Value), StripeError> {
    let (start, end) = period(sub);
    let trial = sub["status"] == "trialing";
    let draft = draft_invoice(
        call,
        sub,
        "subscription_create",
        (start, if trial { start } else { end }),
        trial,
    )?;
    let inv = collect::finalize_now(call, &draft)?;
    if inv["status"] == "paid" {
        return Ok((if trial { "trialing" } else { "active" }.into(), inv));
    }
    if sub["collection_method"] == "send_invoice" {
        return Ok(("active".into(), inv));
    }
    match payment_behavior {
        "default_incomplete" => {
            let inv = collect::prepare_confirmation(call, &inv)?;
            Ok(("incomplete".into(), inv))
        }
        _ => match collect::attempt(call, &inv, None, off_session)? {
            collect::Attempt::Paid(inv) => Ok(("active".into(), inv)),
            collect::Attempt::Failed(_, Some(e)) if payment_behavior == "error_if_incomplete" => Err(e),
            collect::Attempt::Failed(_, None) if payment_behavior == "error_if_incomplete" => {
                Err(StripeError::invalid(
                    "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
                    "default_payment_method",
                ))
            }
            other => Ok(("incomplete".into(), other.invoice().clone())),
        },
    }
}

/// The invoice `inv` was paid: its subscription's first payment makes it
/// `active`; a late renewal payment brings it back from `past_due`/`unpaid`.
pub fn invoice_paid(call: &Call, inv: &Value) -> Result<(), StripeError> {
    let Some(sub) = owning(call, inv)? else {
        return Ok(());
    };
    let status = sub["status"].as_str().unwrap_or_default();
    if !matches!(status, "incomplete" | "past_due" | "unpaid") {
        return Ok(());
    }
    if status == "incomplete" && sub["latest_invoice"] != inv["id"] {
        return Ok(());
    }
    let mut after = sub.clone();
    after["status"] = json!("active");
    schedule::cancel(call.conn, INCOMPLETE_EXPIRE, &id_of(&sub))?;
    updated(call, &sub, &after)?;
    plan(call, &after)
}

/// A payment of `inv` failed (`last`: the last automatic retry): a renewal
/// makes the subscription `past_due`; after the last retry it becomes what
/// the billing settings say (`canceled` by default, `unpaid`, or `past_due`).
pub fn payment_failed(
    call: &Call,
    inv: &Value,
    last: bool,
    settings: &billing_settings::Settings,
) -> Result<(), StripeError> {
    let Some(sub) = owning(call, inv)? else {
        return Ok(());
    };
    if inv["billing_reason"] == "subscription_create" || sub["status"] == "incomplete" {
        return Ok(());
    }
    if !matches!(sub["status"].as_str(), Some("active" | "past_due")) {
        return Ok(());
    }
    let mut after = sub.clone();
    after["status"] = json!("past_due");
    if last {
        match settings.subscription_after_retries.as_str() {
            "canceled" => {
                cancel_now(call, &sub, "payment_failed")?;
                return Ok(());
            }
            "unpaid" => after["status"] = json!("unpaid"),
            _ => {}
        }
    }
    updated(call, &sub, &after)
}

/// The live subscription that billed `inv`, if any.
fn owning(call: &Call, inv: &Value) -> Result<Option<Value>, StripeError> {
    match inv["parent"]["subscription_details"]["subscription"].as_str() {
        Some(id) => Ok(KIND.load(call.conn, id)?),
        None => Ok(None),
    }
}

/// The [`RENEW`] step: a new period, its invoice (finalized an hour later,
/// then charged), or the end of a subscription set to cancel at period end.
pub fn renew(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(sub) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if !matches!(
        sub["status"].as_str(),
        Some("active" | "past_due" | "unpaid")
    ) {
        return Ok(());
    }
    if sub["cancel_at_period_end"] == true {
        cancel_now(call, &sub, "cancellation_requested")?;
        return Ok(());
    }
    let after = next_period(call, &sub)?;
    updated(call, &sub, &after)?;
    plan(call, &after)
}

/// `sub` moved into the period starting now, with that period's invoice.
fn next_period(call: &Call, sub: &Value) -> Result<Value, StripeError> {
    let start = call.now;
    let end = next_end(sub, start);
    let mut after = sub.clone();
    set_period(call, &mut after, start, end)?;
    let inv = draft_invoice(call, &after, "subscription_cycle", (start, end), false)?;
    let inv = apply_pause(call, &after, inv)?;
    after["latest_invoice"] = inv["id"].clone();
    let applied = after["discounts"].as_array().cloned().unwrap_or_default();
    after["discounts"] = discounts::still_active(call.conn, &applied, start)?;
    Ok(after)
}

/// A new renewal invoice of a subscription whose collection is paused, as
/// `pause_collection.behavior` says; else planned for finalization.
fn apply_pause(call: &Call, sub: &Value, inv: Value) -> Result<Value, StripeError> {
    // An unpaid subscription's invoices are made and left as drafts, as on Stripe.
    let behavior = match sub["status"].as_str() {
        Some("unpaid") => Some("keep_as_draft"),
        _ => sub["pause_collection"]["behavior"].as_str(),
    };
    let mut inv = inv;
    match behavior {
        Some("keep_as_draft") => {
            let before = inv.clone();
            inv["auto_advance"] = json!(false);
            invoices::KIND.save(call.conn, &inv)?;
            events::emit(call, "invoice.updated", &inv, Some(&before))?;
            Ok(inv)
        }
        Some(b @ ("mark_uncollectible" | "void")) => {
            inv["auto_advance"] = json!(false);
            invoices::KIND.save(call.conn, &inv)?;
            let open = collect::finalize_now(call, &inv)?;
            if open["status"] != "open" {
                return Ok(open);
            }
            collect::close_now(
                call,
                &open,
                if b == "void" { "void" } else { "uncollectible" },
            )
        }
        _ => {
            collect::plan_finalization(call, &mut inv, call.now)?;
            invoices::KIND.save(call.conn, &inv)?;
            Ok(inv)
        }
    }
}

/// The [`TRIAL_END`] step: the trial is over; without a payment method the
/// subscription ends, pauses or invoices as `trial_settings` says.
pub fn end_trial(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(sub) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if sub["status"] != "trialing" {
        return Ok(());
    }
    let missing = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
        .as_str()
        .unwrap_or("create_invoice");
    if missing != "create_invoice" && !has_payment_method(call, &sub)? {
        if missing == "cancel" {
            cancel_now(call, &sub, "cancellation_requested")?;
        } else {
            let mut after = sub.clone();
            after["status"] = json!("paused");
            after["pause_collection"] = Value::Null;
            updated(call, &sub, &after)?;
            events::emit(call, "customer.subscription.paused", &after, None)?;
        }
        return Ok(());
    }
    let mut active = sub.clone();
    active["status"] = json!("active");
    let after = next_period(call, &active)?;
    updated(call, &sub, &after)?;
    plan(call, &after)
}

fn has_payment_method(call: &Call, sub: &Value) -> Result<bool, StripeError> {
    if sub["default_payment_method"].is_string() {
        return Ok(true);
    }
    let customer = customers::KIND.load(call.conn, sub["customer"].as_str().unwrap_or_default())?;
    Ok(customer.is_some_and(|c| c["invoice_settings"]["default_payment_method"].is_string()))
}

/// The [`UPCOMING`] step: `invoice.upcoming` with the renewal's preview.
pub fn upcoming(call: &Call, id: &str) -> Result<(), StripeError> {
    match KIND.load(call.conn, id)? {
        Some(sub)
            if matches!(
                sub["status"].as_str(),
                Some("active" | "past_due" | "unpaid")
            ) =>
        {
            invoices::preview::upcoming(call, id)
        }
        _ => Ok(()),
    }
}

/// The [`TRIAL_WILL_END`] step.
pub fn trial_will_end(call: &Call, id: &str) -> Result<(), StripeError> {
    if let Some(sub) = KIND.load(call.conn, id)? {
        if sub["status"] == "trialing" {
            events::emit(call, "customer.subscription.trial_will_end", &sub, None)?;
        }
    }
    Ok(())
}

/// The [`INCOMPLETE_EXPIRE`] step: a first invoice still unpaid after 23 hours
/// ends the subscription (`incomplete_expired`) and voids the invoice.
pub fn expire_incomplete(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(sub) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if sub["status"] != "incomplete" {
        return Ok(());
    }
    if let Some(inv_id) = sub["latest_invoice"].as_str() {
        if let Some(inv) = invoices::KIND.load(call.conn, inv_id)? {
            if inv["status"] == "open" {
                collect::close_now(call, &inv, "void")?;
            }
        }
    }
    let mut after = sub.clone();
    after["status"] = json!("incomplete_expired");
    after["ended_at"] = json!(call.now);
    save(call, &after)?;
    events::emit(call, "customer.subscription.deleted", &after, Some(&sub))?;
    Ok(())
}

/// The [`CANCEL`] step (`cancel_at` reached).
pub fn cancel_at(call: &Call, id: &str) -> Result<(), StripeError> {
    if let Some(sub) = KIND.load(call.conn, id)? {
        if !matches!(
            sub["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        ) {
            cancel_now(call, &sub, "cancellation_requested")?;
        }
    }
    Ok(())
}

/// The [`RESUME_COLLECTION`] step (`pause_collection.resumes_at` reached).
pub fn resume_collection(call: &Call, id: &str) -> Result<(), StripeError> {
    if let Some(sub) = KIND.load(call.conn, id)? {
        if !sub["pause_collection"].is_null() {
            let mut after = sub.clone();
            after["pause_collection"] = Value::Null;
            updated(call, &sub, &after)?;
        }
    }
    Ok(())
}
