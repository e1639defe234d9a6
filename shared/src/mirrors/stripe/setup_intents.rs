//! SetupIntents: `/v1/setup_intents` (create — with `confirm=true` too —,
//! retrieve, update, confirm, cancel, list by `customer`, `payment_method`,
//! `created`) and Mirra's 3-D Secure test helper. Setting a card up checks it
//! without charging it: a card the issuer declines fails
//! (`setup_intent.setup_failed`, 402 `card_error` carrying the SetupIntent), a
//! card that asks for 3-D Secure is authenticated first (`requires_action`, as
//! for PaymentIntents, see `three_d_secure.rs`), and on success the method is
//! attached to the SetupIntent's customer (`payment_method.attached`) and
//! marked set up — so later off-session payments with the catalogue's
//! "authenticate unless set up" cards go through.
//!
//! Status machine: `requires_payment_method` → `requires_confirmation` →
//! (`requires_action`) → `succeeded`, or `canceled`. No `.updated` event (Stripe
//! has none): `setup_intent.created`, `.requires_action`, `.setup_failed`,
//! `.succeeded`, `.canceled`. `latest_attempt` stays null (SetupAttempts are not
//! emulated).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::cards::Outcome;
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::payment_methods::{self, Method};
use super::pipeline::Call;
use super::three_d_secure::{self, Need};
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::Vendor;
use crate::session::id::random_token;

pub static KIND: Kind = Kind {
    object: "setup_intent",
    table: "setup_intents",
    prefix: "seti_",
    id_len: 24,
    columns: &["customer", "payment_method"],
};

const OPEN: &[&str] = &[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
];

const CREATE: &[&str] = &[
    "allowed_payment_method_types",
    "automatic_payment_methods",
    "confirm",
    "customer",
    "description",
    "flow_directions",
    "mandate_data",
    "metadata",
    "payment_method",
    "payment_method_options",
    "return_url",
    "usage",
    "use_stripe_sdk",
];
const UPDATE: &[&str] = &[
    "allowed_payment_method_types",
    "customer",
    "description",
    "flow_directions",
    "metadata",
    "payment_method",
    "payment_method_options",
];
const CONFIRM: &[&str] = &[
    "allowed_payment_method_types",
    "mandate_data",
    "payment_method",
    "payment_method_options",
    "return_url",
    "use_stripe_sdk",
];
const NOT_EMULATED: &str =
    "only cards are emulated; Connect, payment_method_data, confirmation tokens and mandates are not";

fn unexpected(message: String) -> StripeError {
    StripeError::InvalidRequest {
        status: StatusCode::BAD_REQUEST,
        code: Some("setup_intent_unexpected_state"),
        message,
        param: None,
    }
}

fn load(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(call.conn, id)? {
        Some(Value::Object(si)) => Ok(si),
        _ => Err(StripeError::no_such("setupintent", id, "intent")),
    }
}

fn save(call: &Call, si: &Map<String, Value>) -> Result<Value, StripeError> {
    let v = Value::Object(si.clone());
    KIND.save(call.conn, &v)?;
    Ok(v)
}

fn status(si: &Map<String, Value>) -> String {
    si["status"].as_str().unwrap_or_default().to_string()
}

fn card_options() -> Value {
    json!({"mandate_options": null, "network": null, "request_three_d_secure": "automatic"})
}

fn new(call: &Call, p: &Map<String, Value>) -> Map<String, Value> {
    let id = Stripe.new_id(&KIND);
    let allowed = p
        .get("allowed_payment_method_types")
        .filter(|v| !v.is_null())
        .cloned();
    let apm = match p.get("automatic_payment_methods") {
        Some(Value::Object(a)) => (a.get("enabled") == Some(&json!(true))).then(|| {
            json!({"allow_redirects": a.get("allow_redirects").and_then(Value::as_str).unwrap_or("always"), "enabled": true})
        }),
        _ if allowed.is_some() => None,
        _ => Some(json!({"allow_redirects": "always", "enabled": true})),
    };
    let secret = call.ctx.credential("secret_key");
    let f = super::cards::fingerprint(&secret, "payment_method_configuration");
    let configuration = apm
        .as_ref()
        .map(|_| json!({"id": format!("pmc_{f}{}", &f[..8]), "parent": null}));
    let v = json!({
        "id": id,
        "object": "setup_intent",
        "allowed_payment_method_types": allowed,
        "application": null,
        "automatic_payment_methods": apm,
        "cancellation_reason": null,
        "client_secret": format!("{id}_secret_{}", random_token(24)),
        "created": call.now,
        "customer": null,
        "customer_account": null,
        "description": null,
        "excluded_payment_method_types": null,
        "flow_directions": null,
        "last_setup_error": null,
        "latest_attempt": null,
        "livemode": false,
        "mandate": null,
        "metadata": {},
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": configuration,
        "payment_method_options": {"card": card_options()},
        "payment_method_types": allowed.unwrap_or_else(|| json!(["card"])),
        "single_use_mandate": null,
        "status": "requires_payment_method",
        "usage": p.get("usage").and_then(Value::as_str).unwrap_or("off_session"),
    });
    into_map(v)
}

/// Applies what create, update and confirm share.
fn apply(
    call: &Call,
    si: &mut Map<String, Value>,
    p: &Map<String, Value>,
) -> Result<(), StripeError> {
    if let Some(c) = p.get("customer") {
        if let Some(id) = c.as_str() {
            if customers::KIND.load(call.conn, id)?.is_none() {
                return Err(StripeError::no_such_param("customer", id, "customer"));
            }
        }
        si.insert("customer".into(), c.clone());
    }
    if let Some(Value::Object(opts)) = p.get("payment_method_options") {
        if let Some(k) = opts.keys().find(|k| *k != "card") {
            return Err(StripeError::unsupported(
                &format!("payment_method_options[{k}]"),
                "only cards are emulated",
            ));
        }
        if let Some(Value::Object(card)) = opts.get("card") {
            let mut out = si["payment_method_options"]["card"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (k, v) in card {
                match k.as_str() {
                    "request_three_d_secure" | "network" => {
                        let v = if v.is_null() && k == "request_three_d_secure" {
                            json!("automatic")
                        } else {
                            v.clone()
                        };
                        out.insert(k.clone(), v);
                    }
                    _ => {
                        return Err(StripeError::unsupported(
                            &format!("payment_method_options[card][{k}]"),
                            "mandates are not emulated",
                        ))
                    }
                }
            }
            si.insert("payment_method_options".into(), json!({"card": out}));
        }
    }
    if let Some(Value::Array(types)) = p.get("allowed_payment_method_types") {
        si.insert(
            "allowed_payment_method_types".into(),
            Value::Array(types.clone()),
        );
        si.insert("payment_method_types".into(), Value::Array(types.clone()));
    }
    for k in ["description", "flow_directions"] {
        if let Some(v) = p.get(k) {
            si.insert(k.into(), v.clone());
        }
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(si, meta)?;
    }
    // Last: a `pm_card_*` name becomes a stored method, so only once every
    // other parameter passed.
    if let Some(m) = p.get("payment_method") {
        let id = match m.as_str() {
            Some(id) => Value::from(payment_methods::resolve(call, id, "payment_method")?.id()),
            None => Value::Null,
        };
        si.insert("payment_method".into(), id);
        let next = if si["payment_method"].is_null() {
            "requires_payment_method"
        } else {
            "requires_confirmation"
        };
        si.insert("status".into(), next.into());
        si.insert("next_action".into(), Value::Null);
    }
    Ok(())
}

// ---------------------------------------------------------------- handlers

/// `POST /v1/setup_intents`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, CREATE, NOT_EMULATED)?;
    let confirm = p.get("confirm") == Some(&json!(true));
    if !confirm && p.get("return_url").is_some_and(|v| !v.is_null()) {
        return Err(StripeError::invalid(
            "You may only specify `return_url` when confirming the SetupIntent (confirm=true).",
            "return_url",
        ));
    }
    let mut si = new(call, p);
    apply(call, &mut si, p)?;
    let return_url = p.get("return_url").and_then(Value::as_str);
    // A confirmation Stripe refuses refuses the create: nothing is made.
    let method = match confirm {
        true => Some(check(call, &si, return_url)?),
        false => None,
    };
    let v = Value::Object(si.clone());
    KIND.insert(call.conn, &v)?;
    events::emit(call, "setup_intent.created", &v, None)?;
    match method {
        Some(m) => run(call, si, &m, return_url),
        None => Ok(v),
    }
}

/// `GET /v1/setup_intents/{intent}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let si = load(call, call.args.get("intent"))?;
    if let Some(Value::String(secret)) = call.params.get("client_secret") {
        if si["client_secret"].as_str() != Some(secret) {
            return Err(StripeError::invalid(
                "The client_secret provided does not match the client_secret associated with the SetupIntent.",
                "client_secret",
            ));
        }
    }
    Ok(Value::Object(si))
}

/// `POST /v1/setup_intents/{intent}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, UPDATE, NOT_EMULATED)?;
    let mut si = load(call, call.args.get("intent"))?;
    let s = status(&si);
    if !OPEN.contains(&s.as_str()) {
        return Err(unexpected(format!(
            "You cannot update this SetupIntent because it has a status of {s}. Only a SetupIntent \
             with one of the following statuses may be updated: requires_payment_method, \
             requires_confirmation, requires_action."
        )));
    }
    apply(call, &mut si, p)?;
    save(call, &si)
}

/// `POST /v1/setup_intents/{intent}/confirm`.
pub fn confirm(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, CONFIRM, NOT_EMULATED)?;
    let mut si = load(call, call.args.get("intent"))?;
    check_confirmable(&si)?;
    let mut given = p.clone();
    given.shift_remove("return_url");
    apply(call, &mut si, &given)?;
    let return_url = p.get("return_url").and_then(Value::as_str);
    let method = check(call, &si, return_url)?;
    run(call, si, &method, return_url)
}

fn check_confirmable(si: &Map<String, Value>) -> Result<(), StripeError> {
    match status(si).as_str() {
        s if OPEN.contains(&s) => Ok(()),
        "succeeded" => Err(unexpected(
            "You cannot confirm this SetupIntent because it has already succeeded after being previously confirmed."
                .to_string(),
        )),
        s => Err(unexpected(format!(
            "You cannot confirm this SetupIntent because it has a status of {s}. Only a SetupIntent \
             with one of the following statuses may be confirmed: requires_confirmation, \
             requires_payment_method, requires_action."
        ))),
    }
}

/// What Stripe checks before confirming `si` (its parameters applied): answers
/// the method to set up. Writes nothing.
fn check(
    call: &Call,
    si: &Map<String, Value>,
    return_url: Option<&str>,
) -> Result<Method, StripeError> {
    check_confirmable(si)?;
    let Some(pm) = si["payment_method"].as_str().map(str::to_string) else {
        return Err(unexpected(
            "You cannot confirm this SetupIntent because it's missing a payment method. You can either \
             update the SetupIntent with a payment method and then confirm it again, or confirm it again \
             directly with a payment method or ConfirmationToken."
                .to_string(),
        ));
    };
    let redirects = si["automatic_payment_methods"]["enabled"] == true
        && si["automatic_payment_methods"]["allow_redirects"] != "never";
    if redirects && return_url.is_none() {
        return Err(StripeError::bad_request(
            StatusCode::BAD_REQUEST,
            "This SetupIntent is configured to accept payment methods enabled in your Dashboard. \
             Because some of these payment methods might redirect your customer off of your page, you \
             must provide a `return_url`. If you don't want to accept redirect-based payment methods, \
             set `automatic_payment_methods[enabled]` to `true` and \
             `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and \
             Payment Intents.",
        ));
    }
    let method = payment_methods::resolve(call, &pm, "payment_method")?;
    payment_methods::check_usable(
        &method,
        si["customer"].as_str(),
        "payment_method",
        "SetupIntent",
    )?;
    Ok(method)
}

/// Confirms a saved, [`check`]ed SetupIntent: authenticates or sets the card up.
fn run(
    call: &Call,
    mut si: Map<String, Value>,
    method: &Method,
    return_url: Option<&str>,
) -> Result<Value, StripeError> {
    si.insert("last_setup_error".into(), Value::Null);
    if let Outcome::Declined(d) = method.card.outcome {
        return Err(failed(call, si, method, d.as_json(), Some(d))?.1);
    }
    let requested = si["payment_method_options"]["card"]["request_three_d_secure"]
        .as_str()
        .map(str::to_string);
    if three_d_secure::need(
        &method.card,
        false,
        method.set_up,
        requested.as_deref(),
        true,
    ) == Need::Challenge
    {
        let id = si["id"].as_str().unwrap_or_default().to_string();
        let secret = si["client_secret"].as_str().unwrap_or_default().to_string();
        si.insert(
            "next_action".into(),
            three_d_secure::next_action(call.base_url, &id, &secret, return_url),
        );
        si.insert("status".into(), "requires_action".into());
        let v = save(call, &si)?;
        events::emit(call, "setup_intent.requires_action", &v, None)?;
        return Ok(v);
    }
    succeed(call, si, method)
}

/// The card is set up: attached to the SetupIntent's customer, marked set up.
fn succeed(call: &Call, mut si: Map<String, Value>, method: &Method) -> Result<Value, StripeError> {
    if let Some(customer) = si["customer"].as_str() {
        if let Some(m) =
            payment_methods::prepare_attach(call, method.id(), "payment_method", customer)?
        {
            payment_methods::commit_attach(call, &m)?;
        }
    }
    payment_methods::mark_set_up(call.conn, method.id())?;
    si.insert("next_action".into(), Value::Null);
    si.insert("payment_method".into(), method.id().into());
    si.insert("status".into(), "succeeded".into());
    let v = save(call, &si)?;
    events::emit(call, "setup_intent.succeeded", &v, None)?;
    super::checkout::complete::setup_succeeded(call, &v)?;
    Ok(v)
}

/// The SetupIntent after a failed attempt (`last_setup_error`,
/// `setup_intent.setup_failed`), and — for a decline — the card error to answer.
fn failed(
    call: &Call,
    mut si: Map<String, Value>,
    method: &Method,
    error: Value,
    decline: Option<super::cards::Decline>,
) -> Result<(Value, StripeError), StripeError> {
    let mut lse = match error {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    lse.insert(
        "payment_method".into(),
        Value::Object(method.object.clone()),
    );
    update::stripe_order(&mut lse);
    si.insert("last_setup_error".into(), Value::Object(lse));
    si.insert("next_action".into(), Value::Null);
    si.insert("payment_method".into(), Value::Null);
    si.insert("status".into(), "requires_payment_method".into());
    let v = save(call, &si)?;
    events::emit(call, "setup_intent.setup_failed", &v, None)?;
    let e = match decline {
        Some(d) => d
            .error()
            .with("setup_intent", v.clone())
            .with("payment_method", Value::Object(method.object.clone())),
        None => StripeError::Internal("no decline".into()),
    };
    Ok((v, e))
}

/// `POST /v1/setup_intents/{intent}/cancel`.
pub fn cancel(call: &Call) -> Result<Value, StripeError> {
    let mut si = load(call, call.args.get("intent"))?;
    let s = status(&si);
    if !OPEN.contains(&s.as_str()) {
        return Err(unexpected(format!(
            "You cannot cancel this SetupIntent because it has a status of {s}. Only a SetupIntent \
             with one of the following statuses may be canceled: requires_payment_method, \
             requires_confirmation, requires_action."
        )));
    }
    si.insert(
        "cancellation_reason".into(),
        call.params
            .get("cancellation_reason")
            .cloned()
            .unwrap_or(Value::Null),
    );
    si.insert("next_action".into(), Value::Null);
    si.insert("status".into(), "canceled".into());
    let v = save(call, &si)?;
    events::emit(call, "setup_intent.canceled", &v, None)?;
    Ok(v)
}

/// `GET /v1/setup_intents`: by `customer`, `payment_method`, `created`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    for col in ["customer", "payment_method"] {
        if let Some(Value::String(v)) = call.params.get(col) {
            q.filters.push((col, v.clone().into()));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/setup_intents")
}

/// `POST /v1/test_helpers/mirra/setup_intents/{intent}/authenticate` (Mirra's
/// own): completes (`outcome=complete`) or fails the 3-D Secure authentication
/// a SetupIntent awaits. Answers the SetupIntent either way.
pub fn authenticate(call: &Call) -> Result<Value, StripeError> {
    let si = load(call, call.args.get("intent"))?;
    let s = status(&si);
    if s != "requires_action" {
        return Err(unexpected(format!(
            "This SetupIntent is not awaiting authentication: it has a status of {s}. Only a \
             SetupIntent with a status of requires_action can be authenticated."
        )));
    }
    let pm = si["payment_method"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let method = payment_methods::resolve(call, &pm, "payment_method")?;
    let failure = match (
        call.params.get("outcome").and_then(Value::as_str),
        method.card.outcome,
    ) {
        (Some("fail"), _) => Some(json!({
            "code": "setup_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/setup-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide \
                        payment_method_data or a new PaymentMethod to attempt to fulfill this \
                        SetupIntent again.",
            "type": "invalid_request_error",
        })),
        (_, Outcome::AuthenticationOptional { fails: Some(d) }) => Some(d.as_json()),
        _ => None,
    };
    match failure {
        Some(error) => Ok(failed(call, si, &method, error, None)?.0),
        None => succeed(call, si, &method),
    }
}
