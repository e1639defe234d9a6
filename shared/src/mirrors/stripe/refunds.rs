//! Refunds: `/v1/refunds` (create by `charge` or `payment_intent`, full or
//! partial; retrieve; update `metadata`; list by `charge`, `payment_intent`,
//! `created`; cancel a `pending` one). A refund takes money back out of the
//! balance (a negative balance transaction) and counts in the charge's
//! `amount_refunded`; `refunded` turns true when all of it is.
//!
//! The card catalogue's later behaviour is honoured, on a timer
//! (`later::REFUND_SETTLES_AFTER_MS`): `pm_card_pendingRefund`'s refunds start
//! `pending` and succeed then, unless canceled first or settled at once by
//! Mirra's test helper (`POST /v1/test_helpers/mirra/refunds/{refund}/settle`,
//! `outcome=succeeded|failed`); `pm_card_refundFail`'s are answered
//! `succeeded` and fail then (`refund.updated`, `refund.failed`,
//! `charge.refund.updated`; the money comes back with a `refund_failure`
//! balance transaction).

use serde_json::{json, Map, Value};

use super::amounts;
use super::balance_transactions::{self, Source};
use super::cards::Later;
use super::charges;
use super::error::StripeError;
use super::events;
use super::later;
use super::lists;
use super::payment_intents;
use super::payment_methods;
use super::pipeline::Call;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::timers;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "refund",
    table: "refunds",
    prefix: "re_",
    id_len: 24,
    columns: &["charge", "payment_intent"],
};

/// Parameters of `POST /v1/refunds` this mirror acts on; the others need
/// Connect or customer balances.
const HANDLED: &[&str] = &[
    "amount",
    "charge",
    "currency",
    "metadata",
    "payment_intent",
    "reason",
];

fn load(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(call.conn, id)? {
        Some(Value::Object(r)) => Ok(r),
        _ => Err(StripeError::no_such("refund", id, "refund")),
    }
}

/// The charge a create names, by `charge` or by `payment_intent`.
fn charge_of(call: &Call) -> Result<Map<String, Value>, StripeError> {
    let text = |k: &str| call.params.get(k).and_then(Value::as_str);
    match (text("charge"), text("payment_intent")) {
        (Some(ch), pi) => {
            let charge = match charges::KIND.load(call.conn, ch)? {
                Some(Value::Object(c)) => c,
                _ => return Err(StripeError::no_such_param("charge", ch, "charge")),
            };
            if let Some(pi) = pi {
                if charge.get("payment_intent").and_then(Value::as_str) != Some(pi) {
                    return Err(StripeError::invalid(
                        format!("The charge {ch} does not belong to the PaymentIntent {pi}."),
                        "charge",
                    ));
                }
            }
            Ok(charge)
        }
        (None, Some(pi)) => {
            let Some(intent) = payment_intents::KIND.load(call.conn, pi)? else {
                return Err(StripeError::no_such_param(
                    "payment_intent",
                    pi,
                    "payment_intent",
                ));
            };
            let charge = match intent["latest_charge"].as_str() {
                Some(ch) => charges::load(call.conn, ch)?,
                None => Map::new(),
            };
            if charge.get("status").and_then(Value::as_str) != Some("succeeded") {
                return Err(StripeError::invalid(
                    "This PaymentIntent does not have a successful charge to refund.",
                    "payment_intent",
                ));
            }
            Ok(charge)
        }
        (None, None) => Err(StripeError::invalid(
            "One of the following params should be provided for this request: payment_intent or charge.",
            "charge",
        )),
    }
}

/// `POST /v1/refunds`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    update::reject_unhandled(
        call.params,
        HANDLED,
        "Connect transfers, application fees and customer balances are not emulated",
    )?;
    let mut charge = charge_of(call)?;
    let ch = charge["id"].as_str().unwrap_or_default().to_string();
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    if let Some(Value::String(c)) = call.params.get("currency") {
        if !c.eq_ignore_ascii_case(&currency) {
            return Err(StripeError::invalid(
                format!("The refund's currency ({c}) must be the charge's ({currency})."),
                "currency",
            ));
        }
    }
    if charge["status"] != "succeeded" {
        return Err(StripeError::invalid(
            format!("Charge {ch} has failed: there is nothing to refund."),
            "charge",
        ));
    }
    if charge["captured"] != true {
        return Err(StripeError::invalid(
            format!(
                "Charge {ch} has not been captured: cancel its PaymentIntent to release the authorization."
            ),
            "charge",
        ));
    }
    let total = charges::int(&charge, "amount");
    let remaining = total - charges::int(&charge, "amount_refunded");
    if remaining <= 0 {
        return Err(StripeError::invalid_code(
            "charge_already_refunded",
            format!("Charge {ch} has already been refunded."),
            "charge",
        ));
    }
    let amount = match call.params.get("amount") {
        None => remaining,
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => n,
            _ => return Err(StripeError::invalid("Invalid positive integer", "amount")),
        },
    };
    if amount > remaining {
        return Err(StripeError::invalid(
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                amounts::format(amount, &currency),
                amounts::format(remaining, &currency)
            ),
            "amount",
        ));
    }
    let later = match charge["payment_method"].as_str() {
        Some(pm) => {
            payment_methods::resolve(call, pm, "payment_method")?
                .card
                .later
        }
        None => Later::Nothing,
    };
    let id = Stripe.new_id(&KIND);
    let txn = balance_transactions::record(
        call.conn,
        call.now,
        -amount,
        &currency,
        Source::Refund {
            id: &id,
            description: charge["description"].as_str(),
        },
    )?;
    let pending = later == Later::RefundPending;
    let mut refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn,
        "charge": ch,
        "created": call.now,
        "currency": currency,
        "customer": charge["customer"],
        "customer_account": null,
        "destination_details": {
            "card": {"reference_status": "pending",
                     "reference_type": "acquirer_reference_number", "type": "refund"},
            "type": "card",
        },
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": call.params.get("reason").cloned().unwrap_or(Value::Null),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": if pending { "pending" } else { "succeeded" },
        "transfer_reversal": null,
    });
    if pending {
        if let Some(o) = refund.as_object_mut() {
            o.insert("pending_reason".into(), json!("processing"));
            update::stripe_order(o);
        }
    }
    if let (Some(meta), Some(o)) = (call.params.get("metadata"), refund.as_object_mut()) {
        update::merge_metadata(o, meta)?;
    }
    KIND.insert(call.conn, &refund)?;
    let refunded = charges::int(&charge, "amount_refunded") + amount;
    charge.insert("amount_refunded".into(), refunded.into());
    charge.insert("refunded".into(), (refunded == total).into());
    let charge = Value::Object(charge);
    charges::KIND.save(call.conn, &charge)?;
    events::emit(call, "refund.created", &refund, None)?;
    events::emit(call, "charge.refunded", &charge, None)?;
    let kind = match later {
        Later::RefundPending => Some(later::REFUND_SUCCEEDS),
        Later::RefundFails => Some(later::REFUND_FAILS),
        _ => None,
    };
    if let Some(kind) = kind {
        let due = call.ctx.now_ms() + later::REFUND_SETTLES_AFTER_MS;
        timers::schedule(call.conn, kind, &id, None, due)?;
        call.owe(due);
    }
    Ok(refund)
}

/// A succeeded or pending refund fails: the money comes back.
fn fail(call: &Call, mut refund: Map<String, Value>, reason: &str) -> Result<Value, StripeError> {
    let before = Value::Object(refund.clone());
    let id = refund["id"].as_str().unwrap_or_default().to_string();
    let amount = charges::int(&refund, "amount");
    let currency = refund["currency"].as_str().unwrap_or("usd").to_string();
    let txn = balance_transactions::record(
        call.conn,
        call.now,
        amount,
        &currency,
        Source::RefundFailure { id: &id },
    )?;
    refund.insert("failure_balance_transaction".into(), txn.into());
    refund.insert("failure_reason".into(), reason.into());
    refund.shift_remove("pending_reason");
    refund.insert("status".into(), "failed".into());
    update::stripe_order(&mut refund);
    give_back(call, &refund)?;
    changed(call, refund, before, Some("refund.failed"))
}

/// Takes a refund's amount off its charge's `amount_refunded`.
fn give_back(call: &Call, refund: &Map<String, Value>) -> Result<(), StripeError> {
    let Some(ch) = refund["charge"].as_str() else {
        return Ok(());
    };
    let mut charge = charges::load(call.conn, ch)?;
    let refunded = charges::int(&charge, "amount_refunded") - charges::int(refund, "amount");
    charge.insert("amount_refunded".into(), refunded.max(0).into());
    charge.insert("refunded".into(), false.into());
    charges::KIND.save(call.conn, &Value::Object(charge))?;
    Ok(())
}

/// Saves a refund whose status changed and raises `refund.updated`, `extra`
/// (`refund.failed`) and `charge.refund.updated`.
fn changed(
    call: &Call,
    refund: Map<String, Value>,
    before: Value,
    extra: Option<&str>,
) -> Result<Value, StripeError> {
    let v = Value::Object(refund);
    KIND.save(call.conn, &v)?;
    events::emit(call, "refund.updated", &v, Some(&before))?;
    if let Some(kind) = extra {
        events::emit(call, kind, &v, None)?;
    }
    events::emit(call, "charge.refund.updated", &v, Some(&before))?;
    Ok(v)
}

/// `GET /v1/refunds/{refund}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    Ok(Value::Object(load(call, call.args.get("refund"))?))
}

/// `POST /v1/refunds/{refund}`: metadata only.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let mut refund = load(call, call.args.get("refund"))?;
    let before = Value::Object(refund.clone());
    if let Some(meta) = call.params.get("metadata") {
        update::merge_metadata(&mut refund, meta)?;
    }
    let v = Value::Object(refund);
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "refund.updated", &v, Some(&before))?;
        events::emit(call, "charge.refund.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `POST /v1/refunds/{refund}/cancel`: only a `pending` refund; its money
/// comes back.
pub fn cancel(call: &Call) -> Result<Value, StripeError> {
    let mut refund = load(call, call.args.get("refund"))?;
    let status = refund["status"].as_str().unwrap_or_default().to_string();
    if status != "pending" && status != "requires_action" {
        return Err(StripeError::invalid(
            format!("This refund cannot be canceled because it has a status of {status}. Only a refund with a status of pending or requires_action can be canceled."),
            "refund",
        ));
    }
    let before = Value::Object(refund.clone());
    let id = refund["id"].as_str().unwrap_or_default().to_string();
    let currency = refund["currency"].as_str().unwrap_or("usd").to_string();
    balance_transactions::record(
        call.conn,
        call.now,
        charges::int(&refund, "amount"),
        &currency,
        Source::RefundFailure { id: &id },
    )?;
    refund.shift_remove("pending_reason");
    refund.insert("status".into(), "canceled".into());
    timers::cancel(call.conn, later::REFUND_SUCCEEDS, &id)?;
    give_back(call, &refund)?;
    changed(call, refund, before, None)
}

/// A refund's timer fired (`later`): a `pending` one succeeds (or fails), a
/// `succeeded` one fails; one that moved on meanwhile (canceled, settled by
/// the helper) stays as it is.
pub fn settle_later(call: &Call, id: &str, fails: bool) -> Result<(), StripeError> {
    let mut refund = load(call, id)?;
    match (refund["status"].as_str(), fails) {
        (Some("pending"), false) => {
            let before = Value::Object(refund.clone());
            refund.shift_remove("pending_reason");
            refund.insert("status".into(), "succeeded".into());
            changed(call, refund, before, None)?;
        }
        (Some("succeeded" | "pending"), true) => {
            fail(call, refund, "expired_or_canceled_card")?;
        }
        _ => {}
    }
    Ok(())
}

/// `POST /v1/test_helpers/mirra/refunds/{refund}/settle` (Mirra's own): a
/// `pending` refund succeeds or fails at once, as the bank would eventually say.
pub fn settle(call: &Call) -> Result<Value, StripeError> {
    let mut refund = load(call, call.args.get("refund"))?;
    timers::cancel(call.conn, later::REFUND_SUCCEEDS, &refund_id(&refund))?;
    if refund["status"] != "pending" {
        return Err(StripeError::invalid(
            format!(
                "Only a pending refund can be settled; this one is {}.",
                refund["status"].as_str().unwrap_or_default()
            ),
            "refund",
        ));
    }
    if call.params.get("outcome").and_then(Value::as_str) == Some("failed") {
        return fail(call, refund, "declined");
    }
    let before = Value::Object(refund.clone());
    refund.shift_remove("pending_reason");
    refund.insert("status".into(), "succeeded".into());
    changed(call, refund, before, None)
}

/// `GET /v1/refunds`: by `charge`, `payment_intent`, `created`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    for col in ["charge", "payment_intent"] {
        if let Some(Value::String(v)) = call.params.get(col) {
            q.filters.push((col, v.clone().into()));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/refunds")
}

fn refund_id(refund: &Map<String, Value>) -> String {
    refund["id"].as_str().unwrap_or_default().to_string()
}
