//! Paying a Checkout Session, as its page does and as Mirra's helper does
//! without a browser: the customer it names, or a new one (always in
//! `subscription` and `setup` mode, and with `customer_creation=always`),
//! then
//!
//! * `payment`: a PaymentIntent for `amount_total`, confirmed with the card;
//! * `subscription`: a subscription of its line items (with
//!   `subscription_data` and its discounts) whose first invoice's
//!   PaymentIntent is confirmed with the card — a decline takes it back;
//! * `setup`: a SetupIntent confirmed with the card.
//!
//! A card that needs 3-D Secure leaves the session open, awaiting its intent
//! (the page sends the browser to the challenge, which comes back to the
//! session's page); when that intent succeeds the session completes
//! ([`intent_succeeded`], [`setup_succeeded`]). Completing raises
//! `checkout.session.completed`.

use serde_json::{json, Map, Value};

use super::super::customers;
use super::super::discounts;
use super::super::error::StripeError;
use super::super::events;
use super::super::payment_intents::{self, confirm};
use super::super::payment_methods;
use super::super::pipeline::Call;
use super::super::promotion_codes;
use super::super::setup_intents;
use super::super::subscriptions;
use super::{load, KIND, TERMS};
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::timers;

/// `POST /v1/test_helpers/mirra/checkout/sessions/{session}/complete`: pays
/// the session with `payment_method` (an id, or a test name such as
/// `pm_card_visa`) or `card[number|exp_month|exp_year|cvc]`, as its page does.
pub fn complete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("session");
    let s = load(call.conn, id)?;
    if s["status"] != "open" {
        return Err(StripeError::invalid_code(
            "checkout_session_inactive",
            format!(
                "This Checkout Session is no longer active (its status is {}).",
                s["status"].as_str().unwrap_or_default()
            ),
            "session",
        ));
    }
    let p = call.params;
    let pm = match (
        p.get("payment_method").and_then(Value::as_str),
        p.get("card"),
    ) {
        (Some(pm), None) => pm.to_string(),
        (None, Some(card @ Value::Object(_))) => {
            let mut m = Map::new();
            m.insert("type".into(), json!("card"));
            m.insert("card".into(), card.clone());
            let made = payment_methods::create(&call.with_params(&m))?;
            made["id"].as_str().unwrap_or_default().to_string()
        }
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid_code(
                "parameters_exclusive",
                "You may only specify one of these parameters: card, payment_method.",
                "card",
            ))
        }
        _ => return Err(StripeError::missing_parameter("payment_method")),
    };
    let who = Who {
        email: p.get("email").and_then(Value::as_str),
        name: p.get("name").and_then(Value::as_str),
    };
    let code = p
        .get("promotion_code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    let s = match code {
        Some(code) => with_code(call, s, code)?,
        None => s,
    };
    pay(
        call,
        s,
        &pm,
        &who,
        p.get("return_url").and_then(Value::as_str),
    )
}

/// A promotion code the customer typed (`allow_promotion_codes`): checked as
/// Stripe checks it, then the session's discount and totals.
fn with_code(call: &Call, mut s: Value, code: &str) -> Result<Value, StripeError> {
    if s["allow_promotion_codes"] != true {
        return Err(StripeError::invalid(
            "This Checkout Session does not accept promotion codes (allow_promotion_codes).",
            "promotion_code",
        ));
    }
    let Some(promo) = promotion_codes::find_active(call.conn, code)? else {
        return Err(StripeError::invalid_code(
            "promotion_code_invalid",
            format!("This code is invalid: {code}"),
            "promotion_code",
        ));
    };
    let currency = s["currency"].as_str().unwrap_or("usd").to_string();
    let amount = s["amount_subtotal"]
        .as_i64()
        .map(|a| (a, currency.as_str()));
    promotion_codes::check_redeemable(
        &promo,
        call.now,
        s["customer"].as_str(),
        amount,
        "promotion_code",
    )?;
    promotion_codes::check_first_time(call.conn, &promo, s["customer"].as_str(), "promotion_code")?;
    let id = s["id"].as_str().unwrap_or_default().to_string();
    let given = json!([{"promotion_code": promo["id"]}]);
    let customer = s["customer"].as_str().unwrap_or_default().to_string();
    let wanted = discounts::requested(call.conn, Some(&given), &customer, call.now)?;
    let items: Vec<Value> = included::get(call.conn, &id, "line_items")?
        .and_then(|l| l["data"].as_array().cloned())
        .unwrap_or_default();
    super::apply_discounts(call.conn, &mut s, &items, &wanted)?;
    let mut t = terms(call, &id)?;
    t.insert("discounts".into(), given);
    put_terms(call, &id, t)?;
    KIND.save(call.conn, &s)?;
    Ok(s)
}

/// Who is paying, as the page asked.
struct Who<'a> {
    email: Option<&'a str>,
    name: Option<&'a str>,
}

fn terms(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    Ok(match included::get(call.conn, id, TERMS)? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

fn put_terms(call: &Call, id: &str, t: Map<String, Value>) -> Result<(), StripeError> {
    included::put(call.conn, id, TERMS, &Value::Object(t))?;
    Ok(())
}

fn pay(
    call: &Call,
    mut s: Value,
    pm: &str,
    who: &Who,
    return_url: Option<&str>,
) -> Result<Value, StripeError> {
    let id = s["id"].as_str().unwrap_or_default().to_string();
    let mut t = terms(call, &id)?;
    let customer = customer_for(call, &mut s, who)?;
    let mode = s["mode"].as_str().unwrap_or("payment").to_string();
    let return_url = return_url.map(str::to_string);
    match mode.as_str() {
        "payment" => {
            // One PaymentIntent per session, as on Stripe: made on the first
            // attempt, confirmed again with each card tried.
            let open = match s["payment_intent"].as_str() {
                Some(pi) => {
                    let pi = payment_intents::load(call, pi)?;
                    matches!(
                        pi["status"].as_str(),
                        Some(
                            "requires_payment_method" | "requires_confirmation" | "requires_action"
                        )
                    )
                    .then_some(pi)
                }
                None => None,
            };
            let pi = match open {
                Some(pi) => pi,
                None => {
                    let made = payment_intents::create(&call.with_params(&intent_params(
                        &s,
                        &t,
                        customer.as_ref(),
                    )))?;
                    s["payment_intent"] = made["id"].clone();
                    KIND.save(call.conn, &s)?;
                    payment_intents::load(call, made["id"].as_str().unwrap_or_default())?
                }
            };
            let after = confirm_with(call, pi, pm, return_url.as_deref())?;
            match after["status"].as_str() {
                Some("succeeded") => finish(call, s, "paid"),
                Some("requires_capture") => finish(call, s, "unpaid"),
                _ => {
                    t.insert("awaiting".into(), after["id"].clone());
                    put_terms(call, &id, t)?;
                    Ok(s)
                }
            }
        }
        "subscription" => subscribe(call, s, t, customer, pm, return_url.as_deref()),
        _ => {
            let data = t.get("setup_intent_data").cloned().unwrap_or(json!({}));
            let mut p = Map::new();
            p.insert(
                "customer".into(),
                customer
                    .as_ref()
                    .map(|c| c["id"].clone())
                    .unwrap_or(Value::Null),
            );
            p.insert("payment_method".into(), json!(pm));
            p.insert("confirm".into(), json!(true));
            p.insert("usage".into(), json!("off_session"));
            p.insert("allowed_payment_method_types".into(), json!(["card"]));
            if let Some(url) = &return_url {
                p.insert("return_url".into(), json!(url));
            }
            for k in ["description", "metadata"] {
                if let Some(v) = data.get(k) {
                    p.insert(k.into(), v.clone());
                }
            }
            let si = setup_intents::create(&call.with_params(&p))?;
            s["setup_intent"] = si["id"].clone();
            KIND.save(call.conn, &s)?;
            if si["status"] == "succeeded" {
                finish(call, s, "no_payment_required")
            } else {
                t.insert("awaiting".into(), si["id"].clone());
                put_terms(call, &id, t)?;
                Ok(s)
            }
        }
    }
}

/// The PaymentIntent a payment-mode session makes: its total, its customer,
/// its `payment_intent_data`; confirmed separately ([`confirm_with`]).
fn intent_params(
    s: &Value,
    t: &Map<String, Value>,
    customer: Option<&Value>,
) -> Map<String, Value> {
    let data = t.get("payment_intent_data").cloned().unwrap_or(json!({}));
    let mut p = Map::new();
    p.insert("amount".into(), s["amount_total"].clone());
    p.insert("currency".into(), s["currency"].clone());
    p.insert("allowed_payment_method_types".into(), json!(["card"]));
    if let Some(c) = customer {
        p.insert("customer".into(), c["id"].clone());
    }
    for k in [
        "capture_method",
        "description",
        "metadata",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor",
    ] {
        if let Some(v) = data.get(k) {
            p.insert(k.into(), v.clone());
        }
    }
    p
}

/// Confirms intent `pi` with card `pm` on session (3-D Secure comes back to
/// `return_url`).
fn confirm_with(
    call: &Call,
    mut pi: Map<String, Value>,
    pm: &str,
    return_url: Option<&str>,
) -> Result<Value, StripeError> {
    pi.insert("payment_method".into(), json!(pm));
    let opts = confirm::Options {
        off_session: false,
        return_url: return_url.map(str::to_string),
        error_on_requires_action: false,
    };
    let method = confirm::check(call, &pi, &opts)?;
    confirm::run(call, pi, &method, &opts)
}

/// `subscription` mode: the subscription, its first payment confirmed with
/// the card on session; a decline takes the subscription back.
fn subscribe(
    call: &Call,
    s: Value,
    mut t: Map<String, Value>,
    customer: Option<Value>,
    pm: &str,
    return_url: Option<&str>,
) -> Result<Value, StripeError> {
    let id = s["id"].as_str().unwrap_or_default().to_string();
    let customer = customer
        .ok_or_else(|| StripeError::Internal("subscription mode without a customer".into()))?;
    let customer_id = customer["id"].as_str().unwrap_or_default().to_string();
    let method = payment_methods::resolve(call, pm, "payment_method")?;
    let pm_id =
        match payment_methods::prepare_attach(call, method.id(), "payment_method", &customer_id)? {
            Some(m) => {
                payment_methods::commit_attach(call, &m)?;
                m.id().to_string()
            }
            None => method.id().to_string(),
        };
    let data = t.get("subscription_data").cloned().unwrap_or(json!({}));
    let items: Vec<Value> = included::get(call.conn, &id, "line_items")?
        .and_then(|l| l["data"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|i| json!({"price": i["price"]["id"], "quantity": i["quantity"]}))
        .collect();
    let mut p = Map::new();
    p.insert("customer".into(), json!(customer_id));
    p.insert("items".into(), Value::Array(items));
    p.insert("default_payment_method".into(), json!(pm_id));
    p.insert("payment_behavior".into(), json!("default_incomplete"));
    for k in [
        "trial_period_days",
        "trial_end",
        "metadata",
        "description",
        "default_tax_rates",
    ] {
        if let Some(v) = data.get(k) {
            p.insert(k.into(), v.clone());
        }
    }
    if let Some(d) = t.get("discounts") {
        p.insert("discounts".into(), d.clone());
    }
    call.conn.execute_batch("SAVEPOINT checkout_subscribe")?;
    // A subscription an earlier attempt left incomplete (3-D Secure failed)
    // is paid again with this card, not made twice.
    let earlier = match t.get("subscription").and_then(Value::as_str) {
        Some(sub) => subscriptions::KIND
            .load(call.conn, sub)?
            .filter(|s| s["status"] == "incomplete"),
        None => None,
    };
    let made = (|| {
        let sub = match earlier {
            Some(mut sub) => {
                sub["default_payment_method"] = json!(pm_id);
                subscriptions::save(call, &sub)?;
                sub
            }
            None => subscriptions::create(&call.with_params(&p))?,
        };
        if sub["status"] != "incomplete" {
            return Ok((sub, None));
        }
        let inv = super::super::invoices::load(
            call.conn,
            sub["latest_invoice"].as_str().unwrap_or_default(),
        )?;
        let secret = super::super::invoices::collect::confirmation_secret(
            call.conn,
            inv["id"].as_str().unwrap_or_default(),
        )?
        .unwrap_or_default();
        let pi_id = secret
            .split("_secret_")
            .next()
            .unwrap_or_default()
            .to_string();
        let pi = payment_intents::load(call, &pi_id)?;
        let after = confirm_with(call, pi, &pm_id, return_url)?;
        Ok((
            subscriptions::load(call.conn, sub["id"].as_str().unwrap_or_default())?,
            Some(after),
        ))
    })();
    let (sub, intent) = match made {
        Ok(done) => {
            call.conn.execute_batch("RELEASE checkout_subscribe")?;
            done
        }
        Err(e) => {
            call.conn
                .execute_batch("ROLLBACK TO checkout_subscribe; RELEASE checkout_subscribe")?;
            return Err(e);
        }
    };
    let mut s = s;
    match sub["status"].as_str() {
        Some("active") => {
            s["subscription"] = sub["id"].clone();
            s["invoice"] = sub["latest_invoice"].clone();
            finish(call, s, "paid")
        }
        Some("trialing") => {
            s["subscription"] = sub["id"].clone();
            s["invoice"] = sub["latest_invoice"].clone();
            finish(call, s, "no_payment_required")
        }
        _ => {
            t.insert(
                "awaiting".into(),
                intent.map(|i| i["id"].clone()).unwrap_or(Value::Null),
            );
            t.insert("subscription".into(), sub["id"].clone());
            put_terms(call, &id, t)?;
            KIND.save(call.conn, &s)?;
            Ok(s)
        }
    }
}

/// The session's customer: the one it names, else a new one when the mode
/// needs one (or `customer_creation=always`); `customer_details` either way.
fn customer_for(call: &Call, s: &mut Value, who: &Who) -> Result<Option<Value>, StripeError> {
    let email = who
        .email
        .map(str::to_string)
        .or_else(|| s["customer_email"].as_str().map(str::to_string));
    let customer = match s["customer"].as_str() {
        Some(id) => customers::KIND.load(call.conn, id)?,
        None if s["mode"] != "payment" || s["customer_creation"] == "always" => {
            let mut p = Map::new();
            if let Some(e) = &email {
                p.insert("email".into(), json!(e));
            }
            if let Some(n) = who.name {
                p.insert("name".into(), json!(n));
            }
            let c = customers::create(&call.with_params(&p))?;
            s["customer"] = c["id"].clone();
            // Kept at once: a declined try (taken back) must not make a
            // second customer on the next one.
            KIND.save(call.conn, s)?;
            Some(c)
        }
        None => None,
    };
    let (email, name) = match &customer {
        Some(c) => (c["email"].clone(), c["name"].clone()),
        None => (json!(email), json!(who.name)),
    };
    s["customer_details"] = json!({
        "address": null,
        "business_name": null,
        "email": email,
        "individual_name": null,
        "name": name,
        "phone": null,
        "tax_exempt": "none",
        "tax_ids": [],
    });
    Ok(customer)
}

/// The session is complete: its payment mode's discounts redeemed,
/// `checkout.session.completed`.
fn finish(call: &Call, mut s: Value, payment_status: &str) -> Result<Value, StripeError> {
    let id = s["id"].as_str().unwrap_or_default().to_string();
    if s["mode"] == "payment" {
        let t = terms(call, &id)?;
        if let Some(d) = t.get("discounts") {
            let customer = s["customer"].as_str().unwrap_or_default().to_string();
            let wanted = discounts::requested(call.conn, Some(d), &customer, call.now)?;
            let target = discounts::Target {
                customer: &customer,
                subscription: None,
                invoice: None,
            };
            discounts::apply(call, wanted, &target)?;
        }
    }
    s["status"] = json!("complete");
    s["payment_status"] = json!(payment_status);
    KIND.save(call.conn, &s)?;
    timers::cancel(call.conn, super::EXPIRES, &id)?;
    events::emit(call, "checkout.session.completed", &s, None)?;
    Ok(s)
}

/// A session and its kept terms.
type Awaiting = (Value, Map<String, Value>);

/// The open session awaiting intent `intent` (3-D Secure), if any.
fn awaiting(call: &Call, intent: &str) -> Result<Option<Awaiting>, StripeError> {
    let mut stmt = call
        .conn
        .prepare_cached("SELECT id FROM checkout_sessions WHERE status = 'open' AND deleted = 0")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for id in ids {
        let t = terms(call, &id)?;
        if t.get("awaiting").and_then(Value::as_str) == Some(intent) {
            return Ok(Some((load(call.conn, &id)?, t)));
        }
    }
    Ok(None)
}

/// A PaymentIntent succeeded: the session awaiting it completes.
pub fn intent_succeeded(call: &Call, pi: &Value) -> Result<(), StripeError> {
    let Some((mut s, t)) = awaiting(call, pi["id"].as_str().unwrap_or_default())? else {
        return Ok(());
    };
    if let Some(sub) = t.get("subscription").and_then(Value::as_str) {
        s["subscription"] = json!(sub);
        if let Some(made) = subscriptions::KIND.load(call.conn, sub)? {
            s["invoice"] = made["latest_invoice"].clone();
        }
    }
    let status = if pi["status"] == "succeeded" {
        "paid"
    } else {
        "unpaid"
    };
    finish(call, s, status).map(|_| ())
}

/// A SetupIntent succeeded: the setup session awaiting it completes.
pub fn setup_succeeded(call: &Call, si: &Value) -> Result<(), StripeError> {
    match awaiting(call, si["id"].as_str().unwrap_or_default())? {
        Some((s, _)) => finish(call, s, "no_payment_required").map(|_| ()),
        None => Ok(()),
    }
}
