//! Collecting an invoice: finalizing (a number, `open`, or `paid` at once when
//! nothing is due), paying (a PaymentIntent charges the payment method:
//! the one given, the invoice's default, its subscription's, then its
//! customer's `invoice_settings.default_payment_method`, Stripe's order),
//! voiding, marking uncollectible, sending; and the work done later on the
//! customer's clock: a draft with `auto_advance` finalized an hour after it
//! was made ([`FINALIZE`]), a failed automatic payment retried ([`ATTEMPT`])
//! on the session's retry days (`billing_settings`; by default
//! [`RETRY_DAYS`], 8 tries within 2 weeks, where Stripe's Smart Retries
//! choose their own times).

use serde_json::{json, Map, Value};

use super::super::billing;
use super::super::billing_settings;
use super::super::customers;
use super::super::error::StripeError;
use super::super::events;
use super::super::payment_intents;
use super::super::pipeline::Call;
use super::super::subscriptions;
use super::{load, payments, KIND};
use crate::mirrors::toolkit::{included, schedule};

/// Finalize a draft whose `auto_advance` is on.
pub const FINALIZE: &str = "invoice.finalize";
/// Attempt (or retry) an open invoice's automatic payment.
pub const ATTEMPT: &str = "invoice.attempt";

/// A draft with `auto_advance` is finalized this long after it was made.
pub const FINALIZES_AFTER_SECS: i64 = 3600;

/// The default retry days (`billing_settings` may set others).
pub use super::super::billing_settings::RETRY_DAYS;

/// How a payment attempt ended.
#[derive(Debug)]
pub enum Attempt {
    Paid(Value),
    /// Declined (the card error), or no payment method (`None`).
    Failed(Value, Option<StripeError>),
    /// The card asks for authentication the customer must give (on session).
    ActionRequired(Value),
}

impl Attempt {
    pub fn invoice(&self) -> &Value {
        match self {
            Attempt::Paid(v) | Attempt::Failed(v, _) | Attempt::ActionRequired(v) => v,
        }
    }
}

fn clock(inv: &Value) -> &str {
    billing::clock_of(inv)
}

/// Plans the finalization of draft `inv` (with `auto_advance`) an hour after
/// `now`, and notes the time on it.
pub fn plan_finalization(call: &Call, inv: &mut Value, now: i64) -> Result<(), StripeError> {
    let at = now + FINALIZES_AFTER_SECS;
    inv["automatically_finalizes_at"] = json!(at);
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    schedule::cancel(call.conn, FINALIZE, &id)?;
    billing::schedule(call, clock(inv), at, FINALIZE, &id)
}

/// Drops everything planned for invoice `id`.
pub fn unschedule(call: &Call, id: &str) -> Result<(), StripeError> {
    schedule::cancel(call.conn, FINALIZE, id)?;
    schedule::cancel(call.conn, ATTEMPT, id)?;
    Ok(())
}

/// Finalizes draft `inv` at `call.now`: numbered, `open` (or `paid` when
/// nothing is due). With `auto_advance` and automatic collection, the first
/// payment attempt is due at once.
pub fn finalize_now(call: &Call, inv: &Value) -> Result<Value, StripeError> {
    let before = inv.clone();
    let mut inv = inv.clone();
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    schedule::cancel(call.conn, FINALIZE, &id)?;
    if inv["number"].is_null() {
        inv["number"] = json!(next_number(
            call,
            inv["customer"].as_str().unwrap_or_default()
        )?);
    }
    inv["status"] = json!("open");
    inv["automatically_finalizes_at"] = Value::Null;
    inv["effective_at"] = json!(call.now);
    inv["status_transitions"]["finalized_at"] = json!(call.now);
    if inv["collection_method"] == "send_invoice" && inv["due_date"].is_null() {
        inv["due_date"] = json!(call.now + 30 * 86_400);
    }
    KIND.save(call.conn, &inv)?;
    events::emit(call, "invoice.finalized", &inv, Some(&before))?;
    if inv["amount_due"].as_i64().unwrap_or(0) == 0 {
        return mark_paid(call, &inv);
    }
    if inv["auto_advance"] == true && inv["collection_method"] == "charge_automatically" {
        billing::schedule(call, clock(&inv), call.now, ATTEMPT, &id)?;
    }
    Ok(inv)
}

/// `{prefix}-{sequence}` from the customer, whose sequence moves on.
fn next_number(call: &Call, customer: &str) -> Result<String, StripeError> {
    let Some(mut c) = customers::KIND.load(call.conn, customer)? else {
        return Ok(format!("MIRRA-{}", call.now));
    };
    let seq = c["next_invoice_sequence"].as_i64().unwrap_or(1);
    let prefix = c["invoice_prefix"].as_str().unwrap_or("MIRRA").to_string();
    c["next_invoice_sequence"] = json!(seq + 1);
    customers::KIND.save(call.conn, &c)?;
    Ok(format!("{prefix}-{seq:04}"))
}

/// Marks `inv` paid in full at `call.now`.
pub fn mark_paid(call: &Call, inv: &Value) -> Result<Value, StripeError> {
    let before = inv.clone();
    let mut inv = inv.clone();
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    unschedule(call, &id)?;
    inv["amount_paid"] = inv["amount_due"].clone();
    inv["amount_remaining"] = json!(0);
    inv["status"] = json!("paid");
    inv["next_payment_attempt"] = Value::Null;
    inv["status_transitions"]["paid_at"] = json!(call.now);
    KIND.save(call.conn, &inv)?;
    events::emit(call, "invoice.paid", &inv, Some(&before))?;
    events::emit(call, "invoice.payment_succeeded", &inv, None)?;
    subscriptions::lifecycle::invoice_paid(call, &inv)?;
    Ok(inv)
}

/// The payment method to charge for `inv`, in Stripe's order.
fn payment_method(
    call: &Call,
    inv: &Value,
    given: Option<&str>,
) -> Result<Option<String>, StripeError> {
    if let Some(pm) = given {
        return Ok(Some(pm.to_string()));
    }
    if let Some(pm) = inv["default_payment_method"].as_str() {
        return Ok(Some(pm.to_string()));
    }
    if let Some(sub) = inv["parent"]["subscription_details"]["subscription"].as_str() {
        if let Some(s) = subscriptions::KIND.load(call.conn, sub)? {
            if let Some(pm) = s["default_payment_method"].as_str() {
                return Ok(Some(pm.to_string()));
            }
        }
    }
    let customer = customers::KIND.load(call.conn, inv["customer"].as_str().unwrap_or_default())?;
    Ok(customer.and_then(|c| {
        c["invoice_settings"]["default_payment_method"]
            .as_str()
            .map(str::to_string)
    }))
}

/// One payment attempt on open `inv` at `call.now`: a PaymentIntent for the
/// amount remaining, confirmed with the payment method (off session for the
/// automatic attempts).
pub fn attempt(
    call: &Call,
    inv: &Value,
    given_method: Option<&str>,
    off_session: bool,
) -> Result<Attempt, StripeError> {
    let Some(pm) = payment_method(call, inv, given_method)? else {
        let failed = record_failure(call, inv, false)?;
        return Ok(Attempt::Failed(failed, None));
    };
    let description = match inv["billing_reason"].as_str() {
        Some("subscription_create") => "Subscription creation",
        Some("subscription_cycle") => "Subscription cycle",
        Some("subscription_update") => "Subscription update",
        _ => "Payment for Invoice",
    };
    let mut p = Map::new();
    p.insert("amount".into(), inv["amount_remaining"].clone());
    p.insert("currency".into(), inv["currency"].clone());
    p.insert("customer".into(), inv["customer"].clone());
    p.insert("payment_method".into(), json!(pm));
    p.insert("confirm".into(), json!(true));
    p.insert("allowed_payment_method_types".into(), json!(["card"]));
    p.insert("description".into(), json!(description));
    if off_session {
        p.insert("off_session".into(), json!(true));
    }
    match payment_intents::create(&call.with_params(&p)) {
        Ok(pi) if pi["status"] == "succeeded" => Ok(Attempt::Paid(mark_paid(call, inv)?)),
        Ok(pi) => {
            let mut after = inv.clone();
            after["attempted"] = json!(true);
            after["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
            keep_confirmation_secret(call, &after, &pi)?;
            KIND.save(call.conn, &after)?;
            payments::link(call, &after, &pi)?;
            events::emit(call, "invoice.payment_action_required", &after, Some(inv))?;
            Ok(Attempt::ActionRequired(after))
        }
        Err(e @ StripeError::Card(_)) => {
            let failed = record_failure(call, inv, true)?;
            Ok(Attempt::Failed(failed, Some(e)))
        }
        Err(e) => Err(e),
    }
}

/// A failed attempt: counted, `invoice.payment_failed`, and the next retry
/// planned when the invoice collects itself and a retry is left.
fn record_failure(call: &Call, inv: &Value, retryable: bool) -> Result<Value, StripeError> {
    let mut after = inv.clone();
    let count = inv["attempt_count"].as_i64().unwrap_or(0) + 1;
    after["attempted"] = json!(true);
    after["attempt_count"] = json!(count);
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    schedule::cancel(call.conn, ATTEMPT, &id)?;
    let finalized = inv["status_transitions"]["finalized_at"]
        .as_i64()
        .unwrap_or(call.now);
    let settings = billing_settings::get(call.conn)?;
    let next = (retryable
        && inv["auto_advance"] == true
        && inv["collection_method"] == "charge_automatically")
        .then(|| {
            usize::try_from(count - 1)
                .ok()
                .and_then(|i| settings.retry_days.get(i))
        })
        .flatten()
        .map(|days| finalized + days * 86_400)
        .filter(|at| *at > call.now);
    after["next_payment_attempt"] = json!(next);
    KIND.save(call.conn, &after)?;
    events::emit(call, "invoice.payment_failed", &after, Some(inv))?;
    if let Some(at) = next {
        billing::schedule(call, clock(&after), at, ATTEMPT, &id)?;
    }
    let last = next.is_none() && retryable && inv["auto_advance"] == true;
    subscriptions::lifecycle::payment_failed(call, &after, last, &settings)?;
    if last && settings.invoice_after_retries == "uncollectible" && after["status"] == "open" {
        return close_now(call, &after, "uncollectible");
    }
    Ok(after)
}

/// The [`FINALIZE`] step.
pub fn finalize_later(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(inv) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if inv["status"] == "draft" && inv["auto_advance"] == true {
        finalize_now(call, &inv)?;
    }
    Ok(())
}

/// The [`ATTEMPT`] step: an automatic (off-session) attempt.
pub fn attempt_later(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(inv) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    if inv["status"] == "open" && inv["auto_advance"] == true {
        attempt(call, &inv, None, true)?;
    }
    Ok(())
}

/// `POST /v1/invoices/{invoice}/finalize`.
pub fn finalize(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    let mut inv = load(call.conn, id)?;
    if inv["status"] != "draft" {
        return Err(StripeError::invalid(
            format!("This invoice is already finalized, you can't re-finalize a non-draft invoice ({id})."),
            "invoice",
        ));
    }
    if let Some(Value::Bool(a)) = call.params.get("auto_advance") {
        inv["auto_advance"] = json!(a);
    }
    let now = billing::now_for(call, &inv)?;
    finalize_now(&call.at(now), &inv)
}

/// `POST /v1/invoices/{invoice}/pay`: a draft is finalized first; a decline
/// answers the card error (the failure is recorded all the same).
pub fn pay(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    let p = call.params;
    for k in ["mandate", "source"] {
        if p.get(k).is_some_and(|v| !v.is_null()) {
            return Err(StripeError::unsupported(
                k,
                "only card payment methods are emulated",
            ));
        }
    }
    let mut inv = load(call.conn, id)?;
    let now = billing::now_for(call, &inv)?;
    let at = call.at(now);
    match inv["status"].as_str() {
        Some("draft") => inv = finalize_now(&at, &inv)?,
        Some("open" | "uncollectible") => {}
        Some(s) => {
            return Err(StripeError::invalid(
                format!("Invoice is already {s}"),
                "invoice",
            ))
        }
        None => {}
    }
    if inv["status"] == "paid" {
        return Ok(inv);
    }
    if p.get("paid_out_of_band") == Some(&json!(true)) {
        return mark_paid(&at, &inv);
    }
    let off_session = p
        .get("off_session")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    match attempt(&at, &inv, p.get("payment_method").and_then(Value::as_str), off_session)? {
        Attempt::Paid(v) | Attempt::ActionRequired(v) => Ok(v),
        Attempt::Failed(_, Some(e)) => Err(e),
        Attempt::Failed(_, None) => Err(StripeError::invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
            "payment_method",
        )),
    }
}

/// Moves open `inv` (or uncollectible, to void it) to `status` at `call.now`.
pub fn close_now(call: &Call, inv: &Value, status: &str) -> Result<Value, StripeError> {
    let (stamp, event) = if status == "void" {
        ("voided_at", "invoice.voided")
    } else {
        ("marked_uncollectible_at", "invoice.marked_uncollectible")
    };
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    unschedule(call, &id)?;
    let before = inv.clone();
    let mut inv = inv.clone();
    inv["status"] = json!(status);
    inv["next_payment_attempt"] = Value::Null;
    inv["status_transitions"][stamp] = json!(call.now);
    if status == "void" {
        inv["amount_remaining"] = json!(0);
    }
    KIND.save(call.conn, &inv)?;
    events::emit(call, event, &inv, Some(&before))?;
    Ok(inv)
}

/// The handlers' check before [`close_now`].
fn close(call: &Call, id: &str, status: &str) -> Result<Value, StripeError> {
    let inv = load(call.conn, id)?;
    let allowed: &[&str] = if status == "void" {
        &["open", "uncollectible"]
    } else {
        &["open"]
    };
    if !allowed.contains(&inv["status"].as_str().unwrap_or_default()) {
        return Err(StripeError::invalid(
            format!(
                "You can only {} an invoice that is {}; this one is {}.",
                if status == "void" {
                    "void"
                } else {
                    "mark uncollectible"
                },
                allowed.join(" or "),
                inv["status"].as_str().unwrap_or_default()
            ),
            "invoice",
        ));
    }
    let now = billing::now_for(call, &inv)?;
    close_now(&call.at(now), &inv, status)
}

/// `POST /v1/invoices/{invoice}/void`.
pub fn void(call: &Call) -> Result<Value, StripeError> {
    close(call, call.args.get("invoice"), "void")
}

/// `POST /v1/invoices/{invoice}/mark_uncollectible`.
pub fn mark_uncollectible(call: &Call) -> Result<Value, StripeError> {
    close(call, call.args.get("invoice"), "uncollectible")
}

/// `POST /v1/invoices/{invoice}/send`: raises `invoice.sent` (no e-mail
/// leaves the mirror, as none leaves Stripe's test mode).
pub fn send(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    let inv = load(call.conn, id)?;
    if inv["status"] != "open" {
        return Err(StripeError::invalid(
            "You can only send an invoice that is open.",
            "invoice",
        ));
    }
    if inv["collection_method"] != "send_invoice" {
        return Err(StripeError::invalid(
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
            "invoice",
        ));
    }
    let now = billing::now_for(call, &inv)?;
    events::emit(&call.at(now), "invoice.sent", &inv, None)?;
    Ok(inv)
}

/// Gives open `inv` a PaymentIntent to confirm on the customer's side
/// (`payment_behavior=default_incomplete`): its client secret is the
/// invoice's `confirmation_secret`; confirming it pays the invoice.
pub fn prepare_confirmation(call: &Call, inv: &Value) -> Result<Value, StripeError> {
    let mut p = Map::new();
    p.insert("amount".into(), inv["amount_remaining"].clone());
    p.insert("currency".into(), inv["currency"].clone());
    p.insert("customer".into(), inv["customer"].clone());
    p.insert("allowed_payment_method_types".into(), json!(["card"]));
    p.insert("description".into(), json!("Subscription creation"));
    p.insert("setup_future_usage".into(), json!("off_session"));
    let pi = payment_intents::create(&call.with_params(&p))?;
    keep_confirmation_secret(call, inv, &pi)?;
    payments::link(call, inv, &pi)?;
    Ok(inv.clone())
}

/// The invoice's `confirmation_secret` (the intent's client secret), which
/// Stripe returns only when expanded (`expand[]=latest_invoice.confirmation_secret`).
fn keep_confirmation_secret(call: &Call, inv: &Value, pi: &Value) -> Result<(), StripeError> {
    let id = inv["id"].as_str().unwrap_or_default();
    let secret = json!({"client_secret": pi["client_secret"], "type": "payment_intent"});
    included::put(call.conn, id, "confirmation_secret", &secret)?;
    Ok(())
}

/// The client secret of the intent that pays `inv`, if it has one.
pub fn confirmation_secret(
    conn: &rusqlite::Connection,
    inv: &str,
) -> Result<Option<String>, StripeError> {
    Ok(included::get(conn, inv, "confirmation_secret")?
        .and_then(|s| s["client_secret"].as_str().map(str::to_string)))
}

/// PaymentIntent `pi` succeeded: an open invoice it was made for is paid.
pub fn intent_succeeded(call: &Call, pi: &Value) -> Result<(), StripeError> {
    let Some(inv_id) = payments::paid(call, pi)? else {
        return Ok(());
    };
    let Some(inv) = KIND.load(call.conn, &inv_id)? else {
        return Ok(());
    };
    if !matches!(inv["status"].as_str(), Some("open" | "uncollectible")) {
        return Ok(());
    }
    let now = billing::now_for(call, &inv)?;
    mark_paid(&call.at(now), &inv).map(|_| ())
}
