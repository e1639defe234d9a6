//! Balance transactions: `/v1/balance_transactions` (retrieve, list). One is
//! made for each captured charge (positive, with Stripe's fee) and for each
//! refund that moves money (negative, no fee returned), by the charge and refund
//! code. The fee rule, test mode's as the mirror computes it:
//!
//! * 2.9 % of the amount + 30 (minor units of the charge's currency), rounded
//!   half up — Stripe's standard pricing for a domestic (US) card;
//! * plus 1.5 % when the card was issued outside the US (international cards);
//! * plus 1 % when the charge is not in `usd` (currency conversion). No conversion is
//!   made: the transaction is in the charge's currency, `exchange_rate` null.
//!
//! Funds become available two days after the charge, at 00:00 UTC (at once for
//! the `…bypassPending` cards); `status` is `pending` until then and
//! `available` after, as of the request.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::error::StripeError;
use super::lists;
use super::pipeline::Call;
use super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "balance_transaction",
    table: "balance_transactions",
    prefix: "txn_",
    id_len: 24,
    columns: &["type", "source", "currency"],
};

const DAY: i64 = 86_400;

/// Stripe's fee for a charge of `amount` in `currency` with a card issued in
/// `country` (see the module docs).
pub fn fee(amount: i64, currency: &str, country: &str) -> i64 {
    // In tenths of a percent.
    let mut rate = 29;
    if country != "US" {
        rate += 15;
    }
    if currency != "usd" {
        rate += 10;
    }
    (amount * rate + 500) / 1000 + 30
}

/// What a transaction is for.
pub enum Source<'a> {
    /// A captured charge: its id, description, and the card's country.
    Charge {
        id: &'a str,
        description: Option<&'a str>,
        country: &'a str,
        available_at_once: bool,
    },
    /// A refund: its id and the refunded charge's description.
    Refund {
        id: &'a str,
        description: Option<&'a str>,
    },
    /// A refund that failed: the money comes back.
    RefundFailure { id: &'a str },
}

/// Records a transaction of `amount` (positive: for a charge) and answers its id.
pub fn record(
    conn: &Connection,
    now: i64,
    amount: i64,
    currency: &str,
    source: Source,
) -> Result<String, StripeError> {
    let id = Stripe.new_id(&KIND);
    let (kind, category, fee, description, source_id, at_once) = match source {
        Source::Charge {
            id,
            description,
            country,
            available_at_once,
        } => (
            "charge",
            "charge",
            fee(amount, currency, country),
            description.map(str::to_string),
            id,
            available_at_once,
        ),
        Source::Refund { id, description } => (
            "refund",
            "refund",
            0,
            Some(match description {
                Some(d) => format!("REFUND FOR CHARGE ({d})"),
                None => "REFUND FOR PAYMENT".to_string(),
            }),
            id,
            false,
        ),
        Source::RefundFailure { id } => (
            "refund_failure",
            "refund_failure",
            0,
            Some("REFUND FAILURE".to_string()),
            id,
            false,
        ),
    };
    let available_on = if at_once {
        now
    } else {
        now.div_euclid(DAY) * DAY + 2 * DAY
    };
    let fee_details = if fee == 0 {
        json!([])
    } else {
        json!([{"amount": fee, "application": null, "currency": currency,
                "description": "Stripe processing fees", "type": "stripe_fee"}])
    };
    let txn = json!({
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": category,
        "source": source_id,
        "status": if at_once { "available" } else { "pending" },
        "type": kind,
    });
    KIND.insert(conn, &txn)?;
    Ok(id)
}

/// `status` as of `now`: `available` once `available_on` has passed.
fn as_of(mut txn: Value, now: i64) -> Value {
    if txn["available_on"].as_i64().is_some_and(|t| t <= now) {
        txn["status"] = json!("available");
    }
    txn
}

/// `GET /v1/balance_transactions/{id}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("id");
    let txn = KIND
        .load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such("balance transaction", id, "id"))?;
    Ok(as_of(txn, call.now))
}

/// `GET /v1/balance_transactions`: by `type`, `source`, `currency`, `created`;
/// no payouts are made, so a `payout` filter finds nothing.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let url = "/v1/balance_transactions";
    let mut q = lists::query(call.params)?;
    for col in ["type", "source", "currency"] {
        if let Some(Value::String(v)) = call.params.get(col) {
            q.filters.push((col, v.clone().into()));
        }
    }
    if call.params.get("payout").is_some_and(|v| !v.is_null()) {
        return Ok(lists::empty(url));
    }
    let mut page = lists::page(call.conn, &KIND, &q, url)?;
    if let Some(Value::Array(items)) = page.get_mut("data") {
        for t in items.iter_mut() {
            *t = as_of(t.take(), call.now);
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2.9 % + 30¢ for US cards in usd, more abroad and in other currencies.
    #[test]
    fn fees_follow_the_documented_rule() {
        assert_eq!(fee(2000, "usd", "US"), 88);
        assert_eq!(fee(10_000, "usd", "US"), 320);
        assert_eq!(fee(2000, "usd", "FR"), 118);
        assert_eq!(fee(2000, "eur", "FR"), 138);
        assert_eq!(fee(50, "usd", "US"), 31);
    }
}
