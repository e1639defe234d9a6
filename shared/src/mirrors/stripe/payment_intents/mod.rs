//! PaymentIntents: `/v1/payment_intents` (create — with `confirm=true` too —,
//! retrieve, update, list by `customer` and `created`, cancel, capture) and
//! Mirra's 3-D Secure test helper. Confirmation, the heart of it, is
//! [`confirm`]. Stripe's status machine, cards only:
//!
//! ```text
//! requires_payment_method ──payment_method──▶ requires_confirmation
//!        ▲                                          │ confirm
//!        │                  ┌───────────────────────┴──────────────┐
//!        │          3-D Secure needed                          otherwise
//!        │                  ▼                                      │
//!        │          requires_action ──authenticated──▶ charge ◀────┘
//!        │                  │ failed                     │
//!        └──────────────────┴────────────◀── declined ───┤
//!            (last_payment_error)                        ├─ approved, automatic(_async) ─▶ succeeded
//!                                                        └─ approved, manual ─▶ requires_capture ─capture─▶ succeeded
//! cancel, from any status but succeeded ─▶ canceled
//! ```
//!
//! Card payments never rest in `processing` (on Stripe neither). A PaymentIntent
//! raises no `.updated` event (Stripe has none): `payment_intent.created`,
//! `.requires_action`, `.succeeded`, `.payment_failed`,
//! `.amount_capturable_updated` and `.canceled`, around its charge's events.

pub mod confirm;

use serde_json::{json, Map, Value};

use super::amounts;
use super::charges;
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::payment_methods;
use super::pipeline::Call;
use super::search::Search;
use super::update;
use crate::mirrors::stripe::Stripe;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use crate::session::id::random_token;

pub static KIND: Kind = Kind {
    object: "payment_intent",
    table: "payment_intents",
    prefix: "pi_",
    id_len: 24,
    columns: &["customer"],
};

/// `GET /v1/payment_intents/search`: the fields Stripe lets queries name.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::number("amount"),
            Field::number("created"),
            Field::token("currency"),
            Field::token("customer"),
            Field::map("metadata"),
            Field::token("status"),
        ],
    },
    url: "/v1/payment_intents/search",
};

/// The statuses in which what is paid, and how, may still change.
pub const OPEN: &[&str] = &[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
];

/// What `POST /v1/payment_intents` acts on (or accepts and ignores:
/// `mandate_data`, `radar_options`, `use_stripe_sdk`).
const CREATE: &[&str] = &[
    "allowed_payment_method_types",
    "amount",
    "automatic_payment_methods",
    "capture_method",
    "confirm",
    "confirmation_method",
    "currency",
    "customer",
    "description",
    "error_on_requires_action",
    "mandate_data",
    "metadata",
    "off_session",
    "payment_method",
    "payment_method_options",
    "radar_options",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
    "use_stripe_sdk",
];

/// What `POST /v1/payment_intents/{intent}` acts on.
const UPDATE: &[&str] = &[
    "allowed_payment_method_types",
    "amount",
    "capture_method",
    "currency",
    "customer",
    "description",
    "metadata",
    "payment_method",
    "payment_method_options",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
];

/// Fields that may change only while the intent is [`OPEN`].
const WHILE_OPEN: &[&str] = &[
    "allowed_payment_method_types",
    "amount",
    "capture_method",
    "currency",
    "customer",
    "payment_method",
    "payment_method_options",
    "setup_future_usage",
];

const NOT_EMULATED: &str =
    "only card payments are emulated; Connect, payment_method_data and mandates are not";

pub fn load(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(call.conn, id)? {
        Some(Value::Object(pi)) => Ok(pi),
        _ => Err(StripeError::no_such("payment_intent", id, "intent")),
    }
}

pub fn save(call: &Call, pi: &Map<String, Value>) -> Result<Value, StripeError> {
    let v = Value::Object(pi.clone());
    KIND.save(call.conn, &v)?;
    Ok(v)
}

pub fn status(pi: &Map<String, Value>) -> &str {
    pi.get("status").and_then(Value::as_str).unwrap_or_default()
}

/// Stripe's `payment_intent_unexpected_state` error.
pub fn unexpected(message: String) -> StripeError {
    StripeError::InvalidRequest {
        status: axum::http::StatusCode::BAD_REQUEST,
        code: Some("payment_intent_unexpected_state"),
        message,
        param: None,
    }
}

/// The payment method configuration automatic payment methods use: one per
/// session, as an account has its default one.
fn configuration(call: &Call) -> String {
    let secret = call.ctx.credential("secret_key");
    let f = super::cards::fingerprint(&secret, "payment_method_configuration");
    format!("pmc_{f}{}", &f[..8])
}

/// A new intent with Stripe's defaults: automatic payment methods (cards, in
/// this mirror) unless `allowed_payment_method_types` or manual confirmation
/// says otherwise; `capture_method` `automatic_async`.
fn new(call: &Call, p: &Map<String, Value>) -> Result<Map<String, Value>, StripeError> {
    let id = Stripe.new_id(&KIND);
    let allowed = p
        .get("allowed_payment_method_types")
        .filter(|v| !v.is_null());
    let manual = p.get("confirmation_method").and_then(Value::as_str) == Some("manual");
    let apm = match p.get("automatic_payment_methods") {
        Some(Value::Object(a)) => {
            if manual {
                return Err(StripeError::invalid(
                    "You may only specify one of these parameters: automatic_payment_methods, confirmation_method.",
                    "automatic_payment_methods",
                ));
            }
            let enabled = a.get("enabled").and_then(Value::as_bool).unwrap_or(false);
            enabled.then(|| {
                json!({"allow_redirects": a.get("allow_redirects").and_then(Value::as_str).unwrap_or("always"), "enabled": true})
            })
        }
        _ if allowed.is_some() || manual => None,
        _ => Some(json!({"allow_redirects": "always", "enabled": true})),
    };
    let types = match allowed {
        Some(v) => v.clone(),
        None => json!(["card"]),
    };
    let configuration = apm
        .as_ref()
        .map(|_| json!({"id": configuration(call), "parent": null}))
        .unwrap_or(Value::Null);
    let v = json!({
        "id": id,
        "object": "payment_intent",
        "allowed_payment_method_types": allowed.cloned(),
        "amount": 0,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": apm,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic_async",
        "client_secret": format!("{id}_secret_{}", random_token(25)),
        "confirmation_method": if manual { "manual" } else { "automatic" },
        "created": call.now,
        "currency": "usd",
        "customer": null,
        "customer_account": null,
        "description": null,
        "excluded_payment_method_types": null,
        "last_payment_error": null,
        "latest_charge": null,
    });
    let rest = json!({
        "livemode": false,
        "managed_payments": null,
        "metadata": {},
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": configuration,
        "payment_method_options": {"card": card_options(None)},
        "payment_method_types": types,
        "payment_record": null,
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "requires_payment_method",
        "transfer_data": null,
        "transfer_group": null,
    });
    let mut pi = into_map(v);
    pi.extend(into_map(rest));
    Ok(pi)
}

/// `payment_method_options.card` after applying the `card` hash of a
/// `payment_method_options` parameter to `current`.
fn card_options(given: Option<(&Value, &Map<String, Value>)>) -> Value {
    let mut o = json!({
        "installments": null,
        "mandate_options": null,
        "network": null,
        "request_three_d_secure": "automatic",
    });
    let Some((current, given)) = given else {
        return o;
    };
    if let (Value::Object(cur), Value::Object(out)) = (current, &mut o) {
        for (k, v) in cur {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Value::Object(out) = &mut o {
        for (k, v) in given {
            match (k.as_str(), v) {
                ("request_three_d_secure", Value::Null) => {
                    out.insert(k.clone(), json!("automatic"));
                }
                (_, Value::Null) => {
                    out.shift_remove(k);
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        if !out.contains_key("network") {
            out.insert("network".into(), Value::Null);
        }
        update::stripe_order(out);
    }
    o
}

/// Applies the parameters create and update share, with Stripe's checks.
fn apply(
    call: &Call,
    pi: &mut Map<String, Value>,
    p: &Map<String, Value>,
) -> Result<(), StripeError> {
    if let Some(Value::String(c)) = p.get("currency") {
        pi.insert("currency".into(), amounts::currency(c, "currency")?.into());
    }
    if let Some(v) = p.get("amount") {
        let Some(a) = v.as_i64() else {
            return Err(StripeError::invalid_empty("amount"));
        };
        let currency = pi["currency"].as_str().unwrap_or("usd").to_string();
        amounts::check(a, &currency, "amount")?;
        pi.insert("amount".into(), a.into());
    }
    if let Some(c) = p.get("customer") {
        if let Some(id) = c.as_str() {
            if customers::KIND.load(call.conn, id)?.is_none() {
                return Err(StripeError::no_such_param("customer", id, "customer"));
            }
        }
        pi.insert("customer".into(), c.clone());
    }
    match p.get("payment_method_options") {
        Some(Value::Object(opts)) => card_options_param(pi, opts)?,
        Some(_) => {
            pi.insert(
                "payment_method_options".into(),
                json!({"card": card_options(None)}),
            );
        }
        None => {}
    }
    if let Some(Value::Array(types)) = p.get("allowed_payment_method_types") {
        pi.insert(
            "allowed_payment_method_types".into(),
            Value::Array(types.clone()),
        );
        pi.insert("payment_method_types".into(), Value::Array(types.clone()));
    }
    apply_plain(pi, p)?;
    // Last: a `pm_card_*` name becomes a stored method, so only once every
    // other parameter passed.
    if let Some(m) = p.get("payment_method") {
        let id = match m.as_str() {
            Some(id) => Value::from(payment_methods::resolve(call, id, "payment_method")?.id()),
            None => Value::Null,
        };
        pi.insert("payment_method".into(), id);
    }
    Ok(())
}

/// Applies a `payment_method_options` parameter: card options only.
fn card_options_param(
    pi: &mut Map<String, Value>,
    opts: &Map<String, Value>,
) -> Result<(), StripeError> {
    {
        for (k, v) in opts {
            if k != "card" && !v.is_null() {
                return Err(StripeError::unsupported(
                    &format!("payment_method_options[{k}]"),
                    "only card payments are emulated",
                ));
            }
        }
        if let Some(Value::Object(card)) = opts.get("card") {
            const CARD: &[&str] = &[
                "capture_method",
                "network",
                "request_three_d_secure",
                "setup_future_usage",
            ];
            if let Some(k) = card.keys().find(|k| !CARD.contains(&k.as_str())) {
                return Err(StripeError::unsupported(
                    &format!("payment_method_options[card][{k}]"),
                    "installments, mandates and extended authorizations are not emulated",
                ));
            }
            let current = pi["payment_method_options"]["card"].clone();
            pi.insert(
                "payment_method_options".into(),
                json!({"card": card_options(Some((&current, card)))}),
            );
        }
    }
    Ok(())
}

/// The fields that are set as given (`""` unsets), metadata merged, shipping
/// in Stripe's shape.
fn apply_plain(pi: &mut Map<String, Value>, p: &Map<String, Value>) -> Result<(), StripeError> {
    for k in [
        "capture_method",
        "description",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
    ] {
        if let Some(v) = p.get(k) {
            let v = if k == "capture_method" && v.is_null() {
                json!("automatic_async")
            } else {
                v.clone()
            };
            pi.insert(k.into(), v);
        }
    }
    if let Some(ship) = p.get("shipping") {
        pi.insert("shipping".into(), shipping(ship));
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(pi, meta)?;
    }
    Ok(())
}

/// A `shipping` parameter as Stripe returns it.
pub fn shipping(given: &Value) -> Value {
    let Value::Object(s) = given else {
        return Value::Null;
    };
    json!({
        "address": update::shaped(s.get("address").unwrap_or(&Value::Null),
                                  &["city", "country", "line1", "line2", "postal_code", "state"]),
        "carrier": s.get("carrier"),
        "name": s.get("name"),
        "phone": s.get("phone"),
        "tracking_number": s.get("tracking_number"),
    })
}

/// Where the intent stands once a payment method is set or taken away.
fn settle_status(pi: &mut Map<String, Value>) {
    let has_method = pi.get("payment_method").is_some_and(|v| !v.is_null());
    let next = if has_method {
        "requires_confirmation"
    } else {
        "requires_payment_method"
    };
    pi.insert("status".into(), next.into());
    pi.insert("next_action".into(), Value::Null);
}

// ---------------------------------------------------------------- handlers

/// `POST /v1/payment_intents`: raises `payment_intent.created`, then, with
/// `confirm=true`, what the confirmation raises.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, CREATE, NOT_EMULATED)?;
    let confirm = p.get("confirm").and_then(Value::as_bool) == Some(true);
    if !confirm {
        for k in ["off_session", "return_url", "error_on_requires_action"] {
            if p.get(k).is_some_and(|v| !v.is_null() && v != &json!(false)) {
                return Err(StripeError::invalid(
                    format!("You may only specify `{k}` when confirming the PaymentIntent (confirm=true)."),
                    k,
                ));
            }
        }
    }
    let mut pi = new(call, p)?;
    apply(call, &mut pi, p)?;
    settle_status(&mut pi);
    // A confirmation Stripe refuses refuses the create: nothing is made.
    let opts = confirm::Options::from(p);
    let method = match confirm {
        true => Some(confirm::check(call, &pi, &opts)?),
        false => None,
    };
    let v = Value::Object(pi.clone());
    KIND.insert(call.conn, &v)?;
    events::emit(call, "payment_intent.created", &v, None)?;
    match method {
        Some(m) => confirm::run(call, pi, &m, &opts),
        None => Ok(v),
    }
}

/// `GET /v1/payment_intents/{intent}`: a `client_secret`, when given, must be
/// the intent's.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let pi = load(call, call.args.get("intent"))?;
    if let Some(Value::String(secret)) = call.params.get("client_secret") {
        if pi.get("client_secret").and_then(Value::as_str) != Some(secret) {
            return Err(StripeError::invalid(
                "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
                "client_secret",
            ));
        }
    }
    Ok(Value::Object(pi))
}

/// `POST /v1/payment_intents/{intent}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, UPDATE, NOT_EMULATED)?;
    let mut pi = load(call, call.args.get("intent"))?;
    let status = status(&pi).to_string();
    if !OPEN.contains(&status.as_str()) {
        if let Some(field) = WHILE_OPEN.iter().find(|k| p.contains_key(**k)) {
            return Err(unexpected(format!(
                "This PaymentIntent's {field} could not be updated because it has a status of {status}. \
                 You may only update the {field} of a PaymentIntent with one of the following statuses: \
                 requires_payment_method, requires_confirmation, requires_action."
            )));
        }
    }
    apply(call, &mut pi, p)?;
    let rearmed = ["amount", "currency", "payment_method"]
        .iter()
        .any(|k| p.contains_key(*k));
    if OPEN.contains(&status.as_str()) && rearmed {
        settle_status(&mut pi);
    }
    save(call, &pi)
}

/// `GET /v1/payment_intents`: by `customer` and `created`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    if let Some(Value::String(c)) = call.params.get("customer") {
        q.filters.push(("customer", c.clone().into()));
    }
    lists::page(call.conn, &KIND, &q, "/v1/payment_intents")
}

/// `GET /v1/payment_intents/search`: Stripe's query language.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}

/// `POST /v1/payment_intents/{intent}/cancel`: an authorized charge is released
/// (`charge.refunded`), then `payment_intent.canceled`.
pub fn cancel(call: &Call) -> Result<Value, StripeError> {
    let mut pi = load(call, call.args.get("intent"))?;
    let status = status(&pi).to_string();
    if !matches!(
        status.as_str(),
        "requires_payment_method"
            | "requires_capture"
            | "requires_confirmation"
            | "requires_action"
            | "processing"
    ) {
        return Err(unexpected(format!(
            "You cannot cancel this PaymentIntent because it has a status of {status}. Only a \
             PaymentIntent with one of the following statuses may be canceled: requires_payment_method, \
             requires_capture, requires_confirmation, requires_action, processing."
        )));
    }
    if status == "requires_capture" {
        if let Some(ch) = pi["latest_charge"].as_str() {
            charges::release(call, ch)?;
        }
    }
    pi.insert("amount_capturable".into(), 0.into());
    pi.insert("canceled_at".into(), call.now.into());
    pi.insert(
        "cancellation_reason".into(),
        call.params
            .get("cancellation_reason")
            .cloned()
            .unwrap_or(Value::Null),
    );
    pi.insert("next_action".into(), Value::Null);
    pi.insert("status".into(), "canceled".into());
    let v = save(call, &pi)?;
    events::emit(call, "payment_intent.canceled", &v, None)?;
    Ok(v)
}

/// `POST /v1/payment_intents/{intent}/capture`: all of `amount_capturable`, or
/// `amount_to_capture` of it (the rest is released). `charge.captured`, then
/// `payment_intent.succeeded`.
pub fn capture(call: &Call) -> Result<Value, StripeError> {
    const CAPTURE: &[&str] = &[
        "amount_to_capture",
        "final_capture",
        "metadata",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ];
    let p = call.params;
    update::reject_unhandled(
        p,
        CAPTURE,
        "application fees and transfers (Connect) are not emulated",
    )?;
    if p.get("final_capture") == Some(&json!(false)) {
        return Err(StripeError::unsupported(
            "final_capture",
            "multicapture is not emulated",
        ));
    }
    let mut pi = load(call, call.args.get("intent"))?;
    let status = status(&pi).to_string();
    if status != "requires_capture" {
        return Err(unexpected(format!(
            "This PaymentIntent could not be captured because it has a status of {status}. Only a \
             PaymentIntent with one of the following statuses may be captured: requires_capture."
        )));
    }
    let capturable = charges::int(&pi, "amount_capturable");
    let currency = pi["currency"].as_str().unwrap_or("usd").to_string();
    let amount = match p.get("amount_to_capture") {
        None => capturable,
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 => n,
            _ => {
                return Err(StripeError::invalid(
                    "Invalid positive integer",
                    "amount_to_capture",
                ))
            }
        },
    };
    if amount > capturable {
        return Err(StripeError::invalid_code(
            "amount_too_large",
            format!(
                "The amount to capture ({}) is greater than the amount capturable ({}).",
                amounts::format(amount, &currency),
                amounts::format(capturable, &currency)
            ),
            "amount_to_capture",
        ));
    }
    apply_plain(&mut pi, p)?;
    let pm = pi["payment_method"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let method = payment_methods::resolve(call, &pm, "payment_method")?;
    if let Some(ch) = pi["latest_charge"].as_str().map(str::to_string) {
        charges::capture(call, &ch, amount, &method)?;
    }
    pi.insert("amount_capturable".into(), 0.into());
    pi.insert("amount_received".into(), amount.into());
    pi.insert("status".into(), "succeeded".into());
    let v = save(call, &pi)?;
    events::emit(call, "payment_intent.succeeded", &v, None)?;
    Ok(v)
}
