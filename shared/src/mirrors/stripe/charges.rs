//! Charges: made by PaymentIntents (one per payment attempt, failed ones
//! included, as on Stripe), read and annotated through `/v1/charges` (retrieve,
//! list by `customer`, `payment_intent`, `transfer_group`, `created`; update
//! `description`, `metadata`, `receipt_email`, `shipping`, `fraud_details`,
//! `transfer_group`, and a `customer` the charge has none of).
//!
//! What a charge says comes from the card's catalogue entry ([`cards`]): Radar's
//! risk level and score, the address and CVC checks, and the issuer's verdict
//! (`outcome`, `failure_code`, `failure_message`). A captured charge has a
//! balance transaction with Stripe's fee ([`balance_transactions`]). Its
//! `receipt_url` is a page the mirror serves (`{base}/_mirra/receipts/{charge}`);
//! failed charges have none.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::balance_transactions::{self, Source};
use super::cards::{Card, Decline, Later, Outcome};
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::payment_methods::Method;
use super::pipeline::Call;
use super::search::Search;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use crate::session::id::random_from;

pub static KIND: Kind = Kind {
    object: "charge",
    table: "charges",
    prefix: "ch_",
    id_len: 24,
    columns: &["customer", "payment_intent", "transfer_group"],
};

/// `GET /v1/charges/search`: the fields Stripe lets queries name (cards being
/// the only payment method, `payment_method_details.card.…`).
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::number("amount"),
            Field::token("billing_details.address.postal_code"),
            Field::number("created"),
            Field::token("currency"),
            Field::token("customer"),
            Field::token("disputed"),
            Field::map("metadata"),
            Field::token("payment_method_details.card.brand"),
            Field::number("payment_method_details.card.exp_month"),
            Field::number("payment_method_details.card.exp_year"),
            Field::token("payment_method_details.card.fingerprint"),
            Field::token("payment_method_details.card.last4"),
            Field::token("refunded"),
            Field::token("status"),
        ],
    },
    url: "/v1/charges/search",
};

/// What the issuer and Radar say of an attempt to charge a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// The issuer declines (`issuer_declined`).
    Declined(Decline),
    /// Radar blocks it before it reaches the network (`blocked`).
    Blocked(Decline),
}

impl Verdict {
    /// The verdict on charging `card` once any authentication is done.
    pub fn of(card: &Card) -> Verdict {
        match card.outcome {
            Outcome::Declined(d) | Outcome::AttachesThenDeclines(d) => Verdict::Declined(d),
            Outcome::Blocked(d) => Verdict::Blocked(d),
            Outcome::RequiresAuthentication { then: Some(d), .. } => Verdict::Declined(d),
            _ => Verdict::Approved,
        }
    }

    pub fn decline(&self) -> Option<Decline> {
        match self {
            Verdict::Approved => None,
            Verdict::Declined(d) | Verdict::Blocked(d) => Some(*d),
        }
    }
}

/// How the charge's money is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// At once, the balance transaction with it (`capture_method=automatic`).
    Now,
    /// At once, the balance transaction a moment later, announced by
    /// `charge.updated` (`automatic_async`, the default): see [`settle`].
    Async,
    /// Authorized only; captured later ([`capture`]).
    Later,
}

/// A new charge for a payment attempt of `intent` with `method`, stored, its
/// `charge.succeeded` / `charge.failed` raised. `authenticated`: 3-D Secure was
/// completed for it.
pub fn attempt(
    call: &Call,
    intent: &Map<String, Value>,
    method: &Method,
    verdict: Verdict,
    authenticated: bool,
    capture: Capture,
) -> Result<Map<String, Value>, StripeError> {
    let mut ch = new(call, intent, method, verdict, authenticated, capture);
    if let (Verdict::Approved, Capture::Now) = (verdict, capture) {
        let amount = int(&ch, "amount");
        let txn = record_charge(call, &ch, method.card.country, method.card.later, amount)?;
        ch.insert("balance_transaction".into(), txn.into());
    }
    let v = Value::Object(ch.clone());
    KIND.insert(call.conn, &v)?;
    let kind = match verdict {
        Verdict::Approved => "charge.succeeded",
        _ => "charge.failed",
    };
    events::emit(call, kind, &v, None)?;
    Ok(ch)
}

/// The balance transaction of an `automatic_async` charge, after the fact:
/// `charge.updated` with `balance_transaction` set.
pub fn settle(call: &Call, id: &str, method: &Method) -> Result<(), StripeError> {
    let mut ch = load(call.conn, id)?;
    let before = Value::Object(ch.clone());
    let amount = int(&ch, "amount_captured");
    let txn = record_charge(call, &ch, method.card.country, method.card.later, amount)?;
    ch.insert("balance_transaction".into(), txn.into());
    let v = Value::Object(ch);
    KIND.save(call.conn, &v)?;
    events::emit(call, "charge.updated", &v, Some(&before))
}

/// Captures `amount` of an authorized charge; the rest is released (it shows in
/// `amount_refunded`, as Stripe reports an uncaptured remainder). Raises
/// `charge.captured`.
pub fn capture(
    call: &Call,
    id: &str,
    amount: i64,
    method: &Method,
) -> Result<Map<String, Value>, StripeError> {
    let mut ch = load(call.conn, id)?;
    let total = int(&ch, "amount");
    let txn = record_charge(call, &ch, method.card.country, method.card.later, amount)?;
    ch.insert("amount_captured".into(), amount.into());
    ch.insert("amount_refunded".into(), (total - amount).into());
    ch.insert("balance_transaction".into(), txn.into());
    ch.insert("captured".into(), true.into());
    if let Some(Value::Object(card)) = ch
        .get_mut("payment_method_details")
        .and_then(|d| d.get_mut("card"))
    {
        card.shift_remove("capture_before");
    }
    let v = Value::Object(ch.clone());
    KIND.save(call.conn, &v)?;
    events::emit(call, "charge.captured", &v, None)?;
    Ok(ch)
}

/// Releases an authorized charge whose PaymentIntent was canceled: refunded in
/// full (`charge.refunded`), nothing captured.
pub fn release(call: &Call, id: &str) -> Result<(), StripeError> {
    let mut ch = load(call.conn, id)?;
    let total = int(&ch, "amount");
    ch.insert("amount_refunded".into(), total.into());
    ch.insert("refunded".into(), true.into());
    let v = Value::Object(ch);
    KIND.save(call.conn, &v)?;
    events::emit(call, "charge.refunded", &v, None)
}

/// The stored charge `id`.
pub fn load(conn: &Connection, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(conn, id)? {
        Some(Value::Object(c)) => Ok(c),
        _ => Err(StripeError::no_such("charge", id, "charge")),
    }
}

fn record_charge(
    call: &Call,
    ch: &Map<String, Value>,
    country: &str,
    later: Later,
    amount: i64,
) -> Result<String, StripeError> {
    balance_transactions::record(
        call.conn,
        call.now,
        amount,
        ch.get("currency").and_then(Value::as_str).unwrap_or("usd"),
        Source::Charge {
            id: ch.get("id").and_then(Value::as_str).unwrap_or_default(),
            description: ch.get("description").and_then(Value::as_str),
            country,
            available_at_once: later == Later::AvailableAtOnce,
        },
    )
}

pub fn int(o: &Map<String, Value>, k: &str) -> i64 {
    o.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// Radar's and the issuer's say, in `charge.outcome`'s words.
fn outcome(verdict: Verdict, card: &Card) -> Value {
    let (network_status, reason, seller_message, kind) = match verdict {
        Verdict::Approved => (
            "approved_by_network",
            None,
            "Payment complete.".to_string(),
            "authorized",
        ),
        Verdict::Blocked(_) => (
            "not_sent_to_network",
            Some("highest_risk_level"),
            "Stripe blocked this payment as too risky.".to_string(),
            "blocked",
        ),
        Verdict::Declined(d) => {
            let code = d.decline_code.unwrap_or(d.code);
            let message = if code == "generic_decline" {
                "The bank did not return any further details with this decline.".to_string()
            } else {
                format!("The bank returned the decline code `{code}`.")
            };
            (
                "declined_by_network",
                Some(code),
                message,
                "issuer_declined",
            )
        }
    };
    json!({
        "advice_code": null,
        "network_advice_code": null,
        "network_decline_code": null,
        "network_status": network_status,
        "reason": reason,
        "risk_level": card.risk.level,
        "risk_score": card.risk.score,
        "seller_message": seller_message,
        "type": kind,
    })
}

/// `payment_method_details` of a charge with `method`: the card as the method
/// describes it, its checks run, and what this payment did (3-D Secure, capture).
fn details(method: &Method, amount: i64, now: i64, authenticated: bool, capture: Capture) -> Value {
    let card = method.object.get("card").cloned().unwrap_or(Value::Null);
    let field = |k: &str| card.get(k).cloned().unwrap_or(Value::Null);
    let result = method.card.checks;
    let check = |k: &str, r: super::cards::Check| match card["checks"][k].as_str() {
        Some("unchecked") => json!(r.as_str()),
        _ => card["checks"].get(k).cloned().unwrap_or(Value::Null),
    };
    let three_d_secure = if authenticated {
        json!({
            "authentication_flow": "challenge",
            "electronic_commerce_indicator": "05",
            "exemption_indicator": null,
            "result": "authenticated",
            "result_reason": null,
            "transaction_id": uuid_like(),
            "version": "2.2.0",
        })
    } else {
        Value::Null
    };
    let mut c = Map::new();
    c.insert("amount_authorized".into(), amount.into());
    c.insert("authorization_code".into(), Value::Null);
    c.insert("brand".into(), field("brand"));
    if capture == Capture::Later {
        c.insert("capture_before".into(), (now + 7 * 86_400).into());
    }
    c.insert(
        "checks".into(),
        json!({
            "address_line1_check": check("address_line1_check", result.address_line1),
            "address_postal_code_check": check("address_postal_code_check", result.address_postal_code),
            "cvc_check": check("cvc_check", result.cvc),
        }),
    );
    c.insert("country".into(), field("country"));
    c.insert("electronic_commerce_indicator".into(), Value::Null);
    c.insert("exp_month".into(), field("exp_month"));
    c.insert("exp_year".into(), field("exp_year"));
    c.insert(
        "extended_authorization".into(),
        json!({"status": "disabled"}),
    );
    c.insert("fingerprint".into(), field("fingerprint"));
    c.insert("funding".into(), field("funding"));
    c.insert(
        "incremental_authorization".into(),
        json!({"status": "unavailable"}),
    );
    c.insert("installments".into(), Value::Null);
    c.insert("last4".into(), field("last4"));
    c.insert("mandate".into(), Value::Null);
    c.insert("multicapture".into(), json!({"status": "unavailable"}));
    c.insert(
        "network".into(),
        method.card.brand.network().map_or(Value::Null, Value::from),
    );
    c.insert("network_token".into(), json!({"used": false}));
    c.insert(
        "network_transaction_id".into(),
        random_from(b"0123456789", 15).into(),
    );
    c.insert(
        "overcapture".into(),
        json!({"maximum_amount_capturable": amount, "status": "unavailable"}),
    );
    c.insert("regulated_status".into(), json!("unregulated"));
    c.insert("three_d_secure".into(), three_d_secure);
    c.insert("transaction_link_id".into(), Value::Null);
    c.insert("wallet".into(), Value::Null);
    json!({"card": c, "type": "card"})
}

fn uuid_like() -> String {
    let hex = random_from(b"0123456789abcdef", 32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The statement descriptor a customer sees.
fn calculated_descriptor(intent: &Map<String, Value>) -> String {
    let s = |k: &str| intent.get(k).and_then(Value::as_str);
    match (s("statement_descriptor"), s("statement_descriptor_suffix")) {
        (Some(d), _) => d.to_string(),
        (None, Some(suffix)) => format!("MIRRA* {suffix}"),
        (None, None) => "MIRRA".to_string(),
    }
}

fn new(
    call: &Call,
    intent: &Map<String, Value>,
    method: &Method,
    verdict: Verdict,
    authenticated: bool,
    capture: Capture,
) -> Map<String, Value> {
    let id = Stripe.new_id(&KIND);
    let get = |k: &str| intent.get(k).cloned().unwrap_or(Value::Null);
    let amount = int(intent, "amount");
    let approved = verdict == Verdict::Approved;
    let captured = approved && capture != Capture::Later;
    let decline = verdict.decline();
    let receipt_url = if approved {
        json!(format!("{}/_mirra/receipts/{id}", call.base_url))
    } else {
        Value::Null
    };
    let v = json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if captured { amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": null,
        "billing_details": method.object.get("billing_details").cloned().unwrap_or(Value::Null),
        "calculated_statement_descriptor": calculated_descriptor(intent),
        "captured": captured,
        "created": call.now,
        "currency": get("currency"),
        "customer": get("customer"),
        "description": get("description"),
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": decline.map(|d| d.code),
        "failure_message": decline.map(|d| d.message),
        "fraud_details": {},
    });
    let rest = json!({
        "livemode": false,
        "metadata": get("metadata"),
        "on_behalf_of": null,
        "outcome": outcome(verdict, &method.card),
        "paid": approved,
        "payment_intent": get("id"),
        "payment_method": method.id(),
        "payment_method_details": details(method, amount, call.now, authenticated, capture),
        "radar_options": {},
        "receipt_email": get("receipt_email"),
        "receipt_number": null,
        "receipt_url": receipt_url,
        "refunded": false,
        "review": null,
        "shipping": get("shipping"),
        "source": null,
        "source_transfer": null,
        "statement_descriptor": get("statement_descriptor"),
        "statement_descriptor_suffix": get("statement_descriptor_suffix"),
        "status": if approved { "succeeded" } else { "failed" },
        "transfer_data": null,
        "transfer_group": get("transfer_group"),
    });
    let mut ch = into_map(v);
    ch.extend(into_map(rest));
    ch
}

// ---------------------------------------------------------------- handlers

/// `GET /v1/charges/{charge}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    Ok(Value::Object(load(call.conn, call.args.get("charge"))?))
}

/// `POST /v1/charges/{charge}`: raises `charge.updated` when something changed.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("charge");
    let mut ch = load(call.conn, id)?;
    let before = ch.clone();
    let mut p = call.params.clone();
    if let Some(c) = p.shift_remove("customer") {
        match (c.as_str(), ch.get("customer").and_then(Value::as_str)) {
            (None, _) => return Err(StripeError::invalid_empty("customer")),
            (Some(c), Some(have)) if c != have => {
                return Err(StripeError::invalid(
                    format!("This charge already has a customer ({have}): it cannot be changed."),
                    "customer",
                ))
            }
            (Some(c), _) => {
                if customers::KIND.load(call.conn, c)?.is_none() {
                    return Err(StripeError::no_such_param("customer", c, "customer"));
                }
                ch.insert("customer".into(), c.into());
            }
        }
    }
    if let Some(Value::Object(f)) = p.shift_remove("fraud_details") {
        let mut details = Map::new();
        if let Some(Value::String(r)) = f.get("user_report") {
            details.insert("user_report".into(), r.clone().into());
        }
        ch.insert("fraud_details".into(), Value::Object(details));
    }
    if let Some(Value::Object(ship)) = p.get("shipping") {
        let address = update::shaped(
            ship.get("address").unwrap_or(&Value::Null),
            &["city", "country", "line1", "line2", "postal_code", "state"],
        );
        let shaped = json!({
            "address": address,
            "carrier": ship.get("carrier"),
            "name": ship.get("name"),
            "phone": ship.get("phone"),
            "tracking_number": ship.get("tracking_number"),
        });
        p.insert("shipping".into(), shaped);
    }
    update::apply(&mut ch, &p, &[])?;
    let v = Value::Object(ch);
    if v.as_object() != Some(&before) {
        KIND.save(call.conn, &v)?;
        events::emit(call, "charge.updated", &v, Some(&Value::Object(before)))?;
    }
    Ok(v)
}

/// `GET /v1/charges/search`: Stripe's query language.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}

/// `GET /v1/charges`: by `customer`, `payment_intent`, `transfer_group`, `created`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    for col in ["customer", "payment_intent", "transfer_group"] {
        if let Some(Value::String(v)) = call.params.get(col) {
            q.filters.push((col, v.clone().into()));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/charges")
}
