//! Invoice payments (`invoice_payment`): which PaymentIntent is meant to pay
//! which invoice, where the customer confirms it themselves (a subscription
//! created `default_incomplete`, or a payment that asked for 3-D Secure).
//! When that intent succeeds, the invoice is paid
//! (`collect::intent_succeeded`).

use serde_json::{json, Value};

use super::super::error::StripeError;
use super::super::pipeline::Call;
use super::super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

/// Storage: `invoice` indexed; the intent is found through the document.
pub static KIND: Kind = Kind {
    object: "invoice_payment",
    table: "invoice_payments",
    prefix: "inpay_",
    id_len: 24,
    columns: &["invoice"],
};

/// Records that `pi` is to pay `inv`.
pub fn link(call: &Call, inv: &Value, pi: &Value) -> Result<(), StripeError> {
    let v = json!({
        "id": Stripe.new_id(&KIND),
        "object": "invoice_payment",
        "amount_paid": null,
        "amount_requested": pi["amount"],
        "created": call.now,
        "currency": pi["currency"],
        "invoice": inv["id"],
        "is_default": true,
        "livemode": false,
        "payment": {"payment_intent": pi["id"], "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": null, "paid_at": null},
    });
    KIND.insert(call.conn, &v)?;
    Ok(())
}

/// Marks the open payment made with `pi` paid; answers its invoice.
pub fn paid(call: &Call, pi: &Value) -> Result<Option<String>, StripeError> {
    let text: Option<String> = {
        let mut stmt = call.conn.prepare_cached(
            "SELECT data FROM invoice_payments WHERE deleted = 0 \
             AND json_extract(data, '$.payment.payment_intent') = ?1 \
             AND json_extract(data, '$.status') = 'open' LIMIT 1",
        )?;
        let mut rows = stmt.query([pi["id"].as_str().unwrap_or_default()])?;
        match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        }
    };
    let Some(text) = text else { return Ok(None) };
    let mut payment: Value = serde_json::from_str(&text)
        .map_err(|e| StripeError::Internal(format!("stored invoice payment: {e}")))?;
    payment["status"] = json!("paid");
    payment["amount_paid"] = pi["amount_received"].clone();
    payment["status_transitions"]["paid_at"] = json!(call.now);
    KIND.save(call.conn, &payment)?;
    Ok(payment["invoice"].as_str().map(str::to_string))
}
