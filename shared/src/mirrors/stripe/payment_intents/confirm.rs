//! Confirming a PaymentIntent: `POST /v1/payment_intents/{intent}/confirm`,
//! `confirm=true` at create, and the end of a 3-D Secure authentication
//! (Mirra's test helper and page). What happens is the card's, from the
//! catalogue: it needs authentication first (`requires_action`), or it is
//! charged — approved (`succeeded`, or `requires_capture` when captured
//! manually) or declined (402 `card_error`, the intent back to
//! `requires_payment_method` with `last_payment_error`, a failed charge kept).

use serde_json::{json, Map, Value};

use super::{load, save, status, unexpected, OPEN};
use crate::mirrors::stripe::cards::{declines, Decline, Outcome};
use crate::mirrors::stripe::charges::{self, Capture, Verdict};
use crate::mirrors::stripe::error::StripeError;
use crate::mirrors::stripe::events;
use crate::mirrors::stripe::payment_methods::{self, Method};
use crate::mirrors::stripe::pipeline::Call;
use crate::mirrors::stripe::three_d_secure::{self, Need};
use crate::mirrors::stripe::update;

/// What `POST …/confirm` acts on (or accepts and ignores: `mandate_data`,
/// `radar_options`, `use_stripe_sdk`).
const CONFIRM: &[&str] = &[
    "allowed_payment_method_types",
    "amount_to_confirm",
    "capture_method",
    "error_on_requires_action",
    "mandate_data",
    "off_session",
    "payment_method",
    "payment_method_options",
    "radar_options",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "shipping",
    "use_stripe_sdk",
];

/// How a confirmation was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The customer is not present (`off_session=true`, or `one_off`/`recurring`).
    pub off_session: bool,
    pub return_url: Option<String>,
    /// Fail instead of asking for authentication.
    pub error_on_requires_action: bool,
}

impl Options {
    pub fn from(p: &Map<String, Value>) -> Self {
        Options {
            off_session: match p.get("off_session") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(_)) => true,
                _ => false,
            },
            return_url: p
                .get("return_url")
                .and_then(Value::as_str)
                .map(str::to_string),
            error_on_requires_action: p.get("error_on_requires_action") == Some(&json!(true)),
        }
    }
}

/// `POST /v1/payment_intents/{intent}/confirm`.
pub fn confirm(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(
        p,
        CONFIRM,
        "only card payments are emulated; payment_method_data and confirmation tokens are not",
    )?;
    let mut pi = load(call, call.args.get("intent"))?;
    check_confirmable(&pi)?;
    if let Some(n) = p.get("amount_to_confirm").and_then(Value::as_i64) {
        if Some(n) != pi["amount"].as_i64() {
            return Err(StripeError::unsupported(
                "amount_to_confirm",
                "confirming part of a PaymentIntent's amount is not emulated",
            ));
        }
    }
    let mut given = p.clone();
    for k in [
        "amount_to_confirm",
        "error_on_requires_action",
        "mandate_data",
        "off_session",
        "radar_options",
        "return_url",
        "use_stripe_sdk",
    ] {
        given.shift_remove(k);
    }
    super::apply(call, &mut pi, &given)?;
    let opts = Options::from(p);
    let method = check(call, &pi, &opts)?;
    run(call, pi, &method, &opts)
}

fn check_confirmable(pi: &Map<String, Value>) -> Result<(), StripeError> {
    match status(pi) {
        s if OPEN.contains(&s) => Ok(()),
        "succeeded" => Err(unexpected(
            "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed."
                .to_string(),
        )),
        s => Err(unexpected(format!(
            "You cannot confirm this PaymentIntent because it has a status of {s}. Only a PaymentIntent \
             with one of the following statuses may be confirmed: requires_confirmation, \
             requires_payment_method, requires_action."
        ))),
    }
}

/// What Stripe checks before confirming `pi` (its parameters applied): answers
/// the method to pay with. Nothing is written, so a refused confirmation —
/// `confirm=true` at create included — leaves no trace.
pub fn check(call: &Call, pi: &Map<String, Value>, opts: &Options) -> Result<Method, StripeError> {
    check_confirmable(pi)?;
    let Some(pm) = pi["payment_method"].as_str().map(str::to_string) else {
        let message = match pi["customer"].as_str() {
            Some(c) => format!(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm \
                 the PaymentIntent with {c}, specify a payment method attached to this customer along \
                 with the customer ID."
            ),
            None => "You cannot confirm this PaymentIntent because it's missing a payment method. You can \
                     either update the PaymentIntent with a payment method and then confirm it again, or \
                     confirm it again directly with a payment method."
                .to_string(),
        };
        return Err(unexpected(message));
    };
    let redirects = pi["automatic_payment_methods"]["enabled"] == true
        && pi["automatic_payment_methods"]["allow_redirects"] != "never";
    if redirects && opts.return_url.is_none() {
        return Err(StripeError::bad_request(
            axum::http::StatusCode::BAD_REQUEST,
            "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. \
             Because some of these payment methods might redirect your customer off of your page, you \
             must provide a `return_url`. If you don't want to accept redirect-based payment methods, \
             set `automatic_payment_methods[enabled]` to `true` and \
             `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and \
             Payment Intents.",
        ));
    }
    let types = pi["payment_method_types"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !types.iter().any(|t| t == "card") {
        let listed: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        return Err(StripeError::invalid(
            format!(
                "The PaymentMethod provided (card) is not allowed for this PaymentIntent. Please attach a \
                 PaymentMethod of one of the following types: {}. Alternatively, update the allowed \
                 payment_method_types for this PaymentIntent to include \"card\".",
                listed.join(", ")
            ),
            "payment_method",
        ));
    }
    let method = payment_methods::resolve(call, &pm, "payment_method")?;
    payment_methods::check_usable(
        &method,
        pi["customer"].as_str(),
        "payment_method",
        "PaymentIntent",
    )?;
    Ok(method)
}

/// Confirms `pi` (saved, its parameters applied, [`check`]ed): authenticates or
/// charges `method`.
pub fn run(
    call: &Call,
    mut pi: Map<String, Value>,
    method: &Method,
    opts: &Options,
) -> Result<Value, StripeError> {
    pi.insert("last_payment_error".into(), Value::Null);
    let requested = pi["payment_method_options"]["card"]["request_three_d_secure"]
        .as_str()
        .map(str::to_string);
    match three_d_secure::need(
        &method.card,
        opts.off_session,
        method.set_up,
        requested.as_deref(),
        false,
    ) {
        Need::Challenge if !opts.error_on_requires_action => {
            let id = pi["id"].as_str().unwrap_or_default().to_string();
            let secret = pi["client_secret"].as_str().unwrap_or_default().to_string();
            let action = three_d_secure::next_action(
                call.base_url,
                &id,
                &secret,
                opts.return_url.as_deref(),
            );
            pi.insert("next_action".into(), action);
            pi.insert("status".into(), "requires_action".into());
            let v = save(call, &pi)?;
            events::emit(call, "payment_intent.requires_action", &v, None)?;
            Ok(v)
        }
        Need::Nothing => finish(call, pi, method, Verdict::of(&method.card), false),
        Need::Challenge | Need::Impossible => finish(
            call,
            pi,
            method,
            Verdict::Declined(declines::AUTHENTICATION_REQUIRED),
            false,
        ),
    }
}

/// Charges the intent's card as `verdict` says: the intent succeeds (or awaits
/// capture), or the decline is answered as Stripe answers it.
fn finish(
    call: &Call,
    pi: Map<String, Value>,
    method: &Method,
    verdict: Verdict,
    authenticated: bool,
) -> Result<Value, StripeError> {
    match attempt(call, pi, method, verdict, authenticated)? {
        (v, None) => Ok(v),
        (_, Some(e)) => Err(e),
    }
}

/// One charge attempt: the intent after it, and the card error when declined.
fn attempt(
    call: &Call,
    mut pi: Map<String, Value>,
    method: &Method,
    verdict: Verdict,
    authenticated: bool,
) -> Result<(Value, Option<StripeError>), StripeError> {
    let capture_method = pi["payment_method_options"]["card"]["capture_method"]
        .as_str()
        .or(pi["capture_method"].as_str())
        .unwrap_or("automatic_async")
        .to_string();
    let capture = match capture_method.as_str() {
        "manual" => Capture::Later,
        "automatic" => Capture::Now,
        _ => Capture::Async,
    };
    let charge = charges::attempt(call, &pi, method, verdict, authenticated, capture)?;
    let ch = charge["id"].as_str().unwrap_or_default().to_string();
    pi.insert("latest_charge".into(), ch.clone().into());
    pi.insert("next_action".into(), Value::Null);
    if let Some(d) = verdict.decline() {
        let (v, e) = failed(call, pi, method, &d, Some(&ch))?;
        return Ok((v, Some(e)));
    }
    let amount = charges::int(&pi, "amount");
    pi.insert("payment_method".into(), method.id().into());
    after_success(call, &pi, method)?;
    if capture == Capture::Later {
        pi.insert("amount_capturable".into(), amount.into());
        pi.insert("status".into(), "requires_capture".into());
        let v = save(call, &pi)?;
        events::emit(call, "payment_intent.amount_capturable_updated", &v, None)?;
        return Ok((v, None));
    }
    pi.insert("amount_received".into(), amount.into());
    pi.insert("status".into(), "succeeded".into());
    let v = save(call, &pi)?;
    events::emit(call, "payment_intent.succeeded", &v, None)?;
    if capture == Capture::Async {
        charges::settle(call, &ch, method)?;
    }
    // An invoice waiting on this intent (a subscription's first payment) is paid.
    crate::mirrors::stripe::invoices::collect::intent_succeeded(call, &v)?;
    // And a Checkout Session waiting on it (3-D Secure) completes.
    crate::mirrors::stripe::checkout::complete::intent_succeeded(call, &v)?;
    Ok((v, None))
}

/// After an approved payment: `setup_future_usage` with a customer attaches the
/// method (and sets it up for off-session use); a method paid with and not
/// attached to anyone cannot be used again.
fn after_success(call: &Call, pi: &Map<String, Value>, method: &Method) -> Result<(), StripeError> {
    let future = pi["setup_future_usage"].as_str();
    match (future, pi["customer"].as_str()) {
        (Some(usage), Some(customer)) => {
            if let Some(m) =
                payment_methods::prepare_attach(call, method.id(), "payment_method", customer)?
            {
                payment_methods::commit_attach(call, &m)?;
            }
            if usage == "off_session" {
                payment_methods::mark_set_up(call.conn, method.id())?;
            }
        }
        _ if method.customer().is_none() => {
            payment_methods::mark_consumed(call.conn, method.id())?;
        }
        _ => {}
    }
    Ok(())
}

/// The intent after a failed attempt: `requires_payment_method`,
/// `last_payment_error` set, its method taken off, `payment_intent.payment_failed`;
/// and the error to answer (a `card_error` carrying the intent).
fn failed(
    call: &Call,
    mut pi: Map<String, Value>,
    method: &Method,
    d: &Decline,
    charge: Option<&str>,
) -> Result<(Value, StripeError), StripeError> {
    let mut lpe = match d.as_json() {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    if let Some(ch) = charge {
        lpe.insert("charge".into(), ch.into());
    }
    lpe.insert(
        "payment_method".into(),
        Value::Object(method.object.clone()),
    );
    update::stripe_order(&mut lpe);
    pi.insert("last_payment_error".into(), Value::Object(lpe));
    pi.insert("payment_method".into(), Value::Null);
    pi.insert("next_action".into(), Value::Null);
    pi.insert("status".into(), "requires_payment_method".into());
    let v = save(call, &pi)?;
    events::emit(call, "payment_intent.payment_failed", &v, None)?;
    let mut e = d
        .error()
        .with("payment_intent", v.clone())
        .with("payment_method", Value::Object(method.object.clone()));
    if let Some(ch) = charge {
        e = e.with("charge", ch.into());
    }
    Ok((v, e))
}

/// `POST /v1/test_helpers/mirra/payment_intents/{intent}/authenticate` (Mirra's
/// own; what the 3-D Secure page's buttons send): `outcome=complete` charges the
/// card as the catalogue says after authentication, `outcome=fail` fails the
/// authentication (`payment_intent_authentication_failure`). Answers the intent
/// either way; a decline shows in its `last_payment_error`.
pub fn authenticate(call: &Call) -> Result<Value, StripeError> {
    let mut pi = load(call, call.args.get("intent"))?;
    let s = status(&pi).to_string();
    if s != "requires_action" {
        return Err(unexpected(format!(
            "This PaymentIntent is not awaiting authentication: it has a status of {s}. Only a \
             PaymentIntent with a status of requires_action can be authenticated."
        )));
    }
    let pm = pi["payment_method"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let method = payment_methods::resolve(call, &pm, "payment_method")?;
    if call.params.get("outcome").and_then(Value::as_str) == Some("fail") {
        let mut lpe = json!({
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide \
                        payment_method_data or a new PaymentMethod to attempt to fulfill this \
                        PaymentIntent again.",
            "payment_method": method.object,
            "type": "invalid_request_error",
        });
        if let Some(o) = lpe.as_object_mut() {
            update::stripe_order(o);
        }
        pi.insert("last_payment_error".into(), lpe);
        pi.insert("next_action".into(), Value::Null);
        pi.insert("payment_method".into(), Value::Null);
        pi.insert("status".into(), "requires_payment_method".into());
        let v = save(call, &pi)?;
        events::emit(call, "payment_intent.payment_failed", &v, None)?;
        return Ok(v);
    }
    let verdict = match method.card.outcome {
        Outcome::AuthenticationOptional { fails: Some(d) } => Verdict::Declined(d),
        _ => Verdict::of(&method.card),
    };
    Ok(attempt(call, pi, &method, verdict, true)?.0)
}
