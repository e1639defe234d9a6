//! PaymentMethods: `/v1/payment_methods` (create, retrieve, update, list, attach,
//! detach) and `/v1/customers/{customer}/payment_methods`. Cards only: made from a
//! test token (`card[token]=tok_visa`), a card number, or — wherever Stripe takes a
//! PaymentMethod id — a `pm_card_*` name, which becomes a new stored method when
//! it is used (attach, a PaymentIntent) and is described without being stored by a
//! retrieve. What each card does when charged is [`cards`]' catalogue; a method
//! remembers its card number beside it, in `payment_method_cards`, for the
//! PaymentIntent and SetupIntent code ([`resolve`]).
//!
//! Stripe's rules kept here: a card the issuer declines cannot be attached (the
//! attach checks it); a method belongs to one customer; a detached method, or one
//! used without a customer ([`mark_consumed`]), cannot be attached again; only an
//! attached method can be updated; detaching a customer's default payment method
//! unsets the default.

use axum::http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::cards::{self, Card, Outcome};
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

mod card;

use card::{
    billing_details, card_from, insert_before, new_method, preferred_network, run_checks,
    set_preferred,
};

/// Storage: one row per stored method; lists filter on its customer, type and
/// `allow_redisplay`.
pub static KIND: Kind = Kind {
    object: "payment_method",
    table: "payment_methods",
    prefix: "pm_",
    id_len: 24,
    columns: &["customer", "type", "allow_redisplay"],
};

/// What Stripe does not show of a method: the card number it was made from (its
/// outcomes follow from it) and two flags the payment flows set.
pub const DDL: &str = "CREATE TABLE payment_method_cards (
    id       TEXT    PRIMARY KEY,
    number   TEXT    NOT NULL,
    set_up   INTEGER NOT NULL DEFAULT 0,
    consumed INTEGER NOT NULL DEFAULT 0
);
";

const ALREADY_ATTACHED: &str =
    "The payment method you provided has already been attached to a customer.";
const NOT_ATTACHED: &str =
    "The payment method you provided is not attached to a customer so detachment is impossible.";
const USED_UP: &str =
    "This PaymentMethod was previously used without being attached to a Customer \
                       or was detached from a Customer, and may not be used again.";
const UPDATE_UNATTACHED: &str =
    "You must save this PaymentMethod to a customer before you can update it.";

/// A method as the handlers and the payment flows see it.
#[derive(Debug, Clone)]
pub struct Method {
    /// The object as the API returns it.
    pub object: Map<String, Value>,
    pub card: Card,
    /// Set up for off-session use (a SetupIntent, or `setup_future_usage`).
    pub set_up: bool,
    /// Used without a customer, or detached: it cannot be attached again.
    pub consumed: bool,
    /// Made just now from a `pm_card_*` name; not stored yet.
    pub fresh: bool,
}

impl Method {
    pub fn id(&self) -> &str {
        self.object
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The customer it is attached to.
    pub fn customer(&self) -> Option<&str> {
        self.object.get("customer").and_then(Value::as_str)
    }

    /// What a charge or confirmation with it gets.
    pub fn outcome(&self) -> Outcome {
        self.card.outcome
    }
}

// ---------------------------------------------------------------- for the payment flows

/// The method a PaymentIntent or SetupIntent names (`param`): a stored method,
/// or a `pm_card_*` name, stored now as a new method (as Stripe does on use).
pub fn resolve(call: &Call, id: &str, param: &str) -> Result<Method, StripeError> {
    resolve_in(&State::of(call), id, param)
}

fn resolve_in(st: &State, id: &str, param: &str) -> Result<Method, StripeError> {
    let mut m = find(st, id, Named::Param(param))?;
    if m.fresh {
        store(st.conn, &m)?;
        m.fresh = false;
    }
    Ok(m)
}

/// Checks that a payment (or setup) for `customer` may use `m`: a method
/// attached to a customer pays for that customer only, and one used without a
/// customer or detached cannot be used again.
pub fn check_usable(
    m: &Method,
    customer: Option<&str>,
    param: &str,
    intent: &str,
) -> Result<(), StripeError> {
    match m.customer() {
        Some(owner) if Some(owner) != customer => Err(StripeError::invalid(
            format!(
                "The `payment_method` parameter supplied {} belongs to the Customer {owner}. \
                 Please include the Customer in the `customer` parameter on the {intent}.",
                m.id()
            ),
            param,
        )),
        None if m.consumed => Err(StripeError::invalid(USED_UP, param)),
        _ => Ok(()),
    }
}

/// Records that a method has been set up for future off-session use.
pub fn mark_set_up(conn: &Connection, id: &str) -> Result<(), StripeError> {
    conn.prepare_cached("UPDATE payment_method_cards SET set_up = 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Records that a method was used without a customer: it cannot be attached later.
pub fn mark_consumed(conn: &Connection, id: &str) -> Result<(), StripeError> {
    conn.prepare_cached("UPDATE payment_method_cards SET consumed = 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Checks `invoice_settings[default_payment_method]` (or another `param`) of
/// customer `customer`: it must name a method attached to that customer.
pub fn check_attached(
    conn: &Connection,
    pm: &str,
    customer: &str,
    param: &str,
) -> Result<(), StripeError> {
    match KIND.load(conn, pm)? {
        None => Err(StripeError::no_such_param("PaymentMethod", pm, param)),
        Some(m) if m.get("customer").and_then(Value::as_str) == Some(customer) => Ok(()),
        Some(_) => Err(StripeError::invalid(
            format!(
                "The customer does not have a payment method with the ID {pm}. \
                 The payment method must be attached to the customer."
            ),
            param,
        )),
    }
}

/// Everything attaching `id` to `customer` can refuse, checked before anything is
/// written: the method ready to [`store`], its customer set and its card checked.
/// `None` when it is attached to that customer already.
pub fn prepare_attach(
    call: &Call,
    id: &str,
    param: &str,
    customer: &str,
) -> Result<Option<Method>, StripeError> {
    prepare(call, id, Named::Param(param), customer)
}

fn prepare(
    call: &Call,
    id: &str,
    named: Named,
    customer: &str,
) -> Result<Option<Method>, StripeError> {
    let mut m = lookup(call, id, named)?;
    match m.customer() {
        Some(c) if c == customer => return Ok(None),
        Some(_) => return Err(bad_request(ALREADY_ATTACHED)),
        None if m.consumed => return Err(bad_request(USED_UP)),
        None => {}
    }
    if let Outcome::Declined(d) = m.card.outcome {
        return Err(d.error());
    }
    run_checks(&mut m);
    m.object.insert("customer".into(), customer.into());
    Ok(Some(m))
}

/// Stores a method [`prepare_attach`] readied and raises `payment_method.attached`.
pub fn commit_attach(call: &Call, m: &Method) -> Result<(), StripeError> {
    store(call.conn, m)?;
    events::emit(
        call,
        "payment_method.attached",
        &Value::Object(m.object.clone()),
        None,
    )
}

/// Saves a method (inserting one made from a token) and its card row.
pub fn store(conn: &Connection, m: &Method) -> Result<(), StripeError> {
    let v = Value::Object(m.object.clone());
    if m.fresh {
        KIND.insert(conn, &v)?;
    } else {
        KIND.save(conn, &v)?;
    }
    conn.prepare_cached(
        "INSERT INTO payment_method_cards (id, number, set_up, consumed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET number = ?2, set_up = ?3, consumed = ?4",
    )?
    .execute(params![m.id(), m.card.number, m.set_up, m.consumed])?;
    Ok(())
}

// ---------------------------------------------------------------- handlers

/// `POST /v1/payment_methods`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    for (k, v) in p {
        match k.as_str() {
            "allow_redisplay" | "billing_details" | "card" | "metadata" | "radar_options"
            | "type" => {}
            "customer" | "payment_method" => {
                return Err(StripeError::unsupported(
                    k,
                    "sharing payment methods with connected accounts (Connect) is not emulated",
                ))
            }
            _ if v.is_null() => {}
            _ => {
                return Err(StripeError::unsupported(
                    k,
                    "only card payment methods are emulated",
                ))
            }
        }
    }
    match p.get("type").and_then(Value::as_str) {
        None => return Err(StripeError::missing_parameter("type")),
        Some("card") => {}
        Some(_) => {
            return Err(StripeError::unsupported(
                "type",
                "only card payment methods are emulated",
            ))
        }
    }
    let Some(Value::Object(given)) = p.get("card") else {
        return Err(StripeError::missing_parameter("card"));
    };
    let (card, exp_month, exp_year, cvc_given) = card_from(given, call.now)?;
    let preferred = preferred_network(given, &card)?;
    let billing = billing_details(&Map::new(), p.get("billing_details"));
    let mut m = new_method(
        &Stripe.new_id(&KIND),
        call.now,
        card,
        (exp_month, exp_year),
        &State::of(call).secret,
        cvc_given,
        billing,
    );
    if let Some(pref) = preferred {
        set_preferred(&mut m, pref);
    }
    if let Some(a) = p.get("allow_redisplay").filter(|v| !v.is_null()) {
        m.object.insert("allow_redisplay".into(), a.clone());
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut m.object, meta)?;
    }
    if let Some(Value::Object(r)) = p.get("radar_options") {
        let radar = json!({"session": r.get("session").cloned().unwrap_or(Value::Null)});
        insert_before(&mut m.object, "type", "radar_options", radar);
    }
    store(call.conn, &m)?;
    Ok(Value::Object(m.object))
}

/// `GET /v1/payment_methods/{payment_method}`: a `pm_card_*` name is described
/// with a fresh id and not stored (a GET changes nothing); using it stores one.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let m = lookup(call, call.args.get("payment_method"), Named::Path)?;
    Ok(Value::Object(m.object))
}

/// `POST /v1/payment_methods/{payment_method}`: billing details, metadata, the
/// card's expiry and preferred network, `allow_redisplay`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let mut m = lookup(call, call.args.get("payment_method"), Named::Path)?;
    if m.customer().is_none() {
        return Err(bad_request(UPDATE_UNATTACHED));
    }
    let before = m.object.clone();
    let p = call.params;
    if p.get("us_bank_account").is_some_and(|v| !v.is_null()) {
        return Err(StripeError::unsupported(
            "us_bank_account",
            "only card payment methods are emulated",
        ));
    }
    if let Some(Value::Object(c)) = p.get("card") {
        let card_hash = m.object.get("card").cloned().unwrap_or(Value::Null);
        let int = |k: &str| c.get(k).and_then(Value::as_i64);
        let month = int("exp_month").or_else(|| card_hash["exp_month"].as_i64());
        let year = int("exp_year").or_else(|| card_hash["exp_year"].as_i64());
        if let (Some(month), Some(year)) = (month, year) {
            if int("exp_month").is_some() || int("exp_year").is_some() {
                let year = cards::check_expiry(month, year, call.now).map_err(|d| d.error())?;
                if let Some(Value::Object(h)) = m.object.get_mut("card") {
                    h.insert("exp_month".into(), month.into());
                    h.insert("exp_year".into(), year.into());
                }
            }
        }
        if let Some(pref) = preferred_network(c, &m.card)? {
            set_preferred(&mut m, pref);
        } else if c
            .get("networks")
            .and_then(|n| n.get("preferred"))
            .is_some_and(Value::is_null)
        {
            set_preferred(&mut m, "");
        }
    }
    if let Some(given) = p.get("billing_details") {
        let current = m
            .object
            .get("billing_details")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        m.object.insert(
            "billing_details".into(),
            billing_details(&current, Some(given)),
        );
    }
    if let Some(a) = p.get("allow_redisplay") {
        let a = if a.is_null() {
            json!("unspecified")
        } else {
            a.clone()
        };
        m.object.insert("allow_redisplay".into(), a);
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut m.object, meta)?;
    }
    if m.object != before {
        store(call.conn, &m)?;
        events::emit(
            call,
            "payment_method.updated",
            &Value::Object(m.object.clone()),
            Some(&Value::Object(before)),
        )?;
    }
    Ok(Value::Object(m.object))
}

/// `POST /v1/payment_methods/{payment_method}/attach`.
pub fn attach(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("payment_method");
    if call
        .params
        .get("customer_account")
        .is_some_and(|v| !v.is_null())
    {
        return Err(StripeError::unsupported(
            "customer_account",
            "Accounts v2 customers are not emulated",
        ));
    }
    let customer = match call.params.get("customer") {
        Some(Value::String(c)) => c.as_str(),
        Some(Value::Null) => return Err(StripeError::invalid_empty("customer")),
        _ => return Err(StripeError::missing_parameter("customer")),
    };
    if customers::KIND.load(call.conn, customer)?.is_none() {
        return Err(StripeError::no_such_param("customer", customer, "customer"));
    }
    match prepare(call, id, Named::Path, customer)? {
        Some(m) => {
            commit_attach(call, &m)?;
            Ok(Value::Object(m.object))
        }
        None => Ok(Value::Object(lookup(call, id, Named::Path)?.object)),
    }
}

/// `POST /v1/payment_methods/{payment_method}/detach`.
pub fn detach(call: &Call) -> Result<Value, StripeError> {
    let mut m = lookup(call, call.args.get("payment_method"), Named::Path)?;
    let Some(customer) = m.customer().map(str::to_string) else {
        return Err(bad_request(NOT_ATTACHED));
    };
    let before = Value::Object(m.object.clone());
    m.object.insert("customer".into(), Value::Null);
    m.consumed = true;
    store(call.conn, &m)?;
    let detached = Value::Object(m.object);
    events::emit(call, "payment_method.detached", &detached, Some(&before))?;
    // Stripe unsets a customer's default payment method when it is detached.
    if let Some(Value::Object(c)) = customers::KIND.load(call.conn, &customer)? {
        let id = call.args.get("payment_method");
        let was_default = c
            .get("invoice_settings")
            .and_then(|s| s.get("default_payment_method"))
            .and_then(Value::as_str)
            == Some(id);
        if was_default {
            let before = Value::Object(c.clone());
            let mut c = c;
            if let Some(Value::Object(s)) = c.get_mut("invoice_settings") {
                s.insert("default_payment_method".into(), Value::Null);
            }
            let after = Value::Object(c);
            customers::KIND.save(call.conn, &after)?;
            events::emit(call, "customer.updated", &after, Some(&before))?;
        }
    }
    Ok(detached)
}

/// `GET /v1/payment_methods`: newest first, by `customer`, `type` and
/// `allow_redisplay`; without `customer`, every method of the session.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    if call
        .params
        .get("customer_account")
        .is_some_and(|v| !v.is_null())
    {
        return Err(StripeError::unsupported(
            "customer_account",
            "Accounts v2 customers are not emulated",
        ));
    }
    let mut q = query(call)?;
    if let Some(Value::String(c)) = call.params.get("customer") {
        if customers::KIND.load(call.conn, c)?.is_none() {
            return Err(StripeError::no_such_param("customer", c, "customer"));
        }
        q.filters.push(("customer", c.clone().into()));
    }
    lists::page(call.conn, &KIND, &q, "/v1/payment_methods")
}

/// `GET /v1/customers/{customer}/payment_methods`.
pub fn customer_list(call: &Call) -> Result<Value, StripeError> {
    let customer = call.args.get("customer");
    if customers::KIND.load(call.conn, customer)?.is_none() {
        return Err(StripeError::no_such("customer", customer, "customer"));
    }
    let mut q = query(call)?;
    q.filters.push(("customer", customer.to_string().into()));
    lists::page(
        call.conn,
        &KIND,
        &q,
        &format!("/v1/customers/{customer}/payment_methods"),
    )
}

// ---------------------------------------------------------------- the object

/// A list query with the `type` and `allow_redisplay` filters; cursors must name
/// stored methods (in Stripe's words).
fn query(call: &Call) -> Result<crate::mirrors::toolkit::list::ListQuery, StripeError> {
    let mut q = lists::query(call.params)?;
    for param in ["starting_after", "ending_before"] {
        if let Some(Value::String(id)) = call.params.get(param) {
            if !id.is_empty() && KIND.find(call.conn, id)?.is_none() {
                return Err(StripeError::no_such("PaymentMethod", id, param));
            }
        }
    }
    for col in ["type", "allow_redisplay"] {
        if let Some(Value::String(v)) = call.params.get(col) {
            q.filters.push((col, v.clone().into()));
        }
    }
    Ok(q)
}

/// Where a method id came from: Stripe answers 404 for the URL's, 400 for a
/// parameter's.
#[derive(Clone, Copy)]
enum Named<'a> {
    Path,
    Param(&'a str),
}

/// What finding a method needs of a request.
struct State<'a> {
    conn: &'a Connection,
    now: i64,
    /// The session's secret key: fingerprints are stable within a session.
    secret: String,
}

impl<'a> State<'a> {
    fn of(call: &Call<'a>) -> Self {
        State {
            conn: call.conn,
            now: call.now,
            secret: call.ctx.credential("secret_key"),
        }
    }
}

/// The stored method `id`, or a fresh one for a `pm_card_*` name.
fn lookup(call: &Call, id: &str, named: Named) -> Result<Method, StripeError> {
    find(&State::of(call), id, named)
}

fn find(st: &State, id: &str, named: Named) -> Result<Method, StripeError> {
    if id.starts_with("pm_card_") {
        let Some(card) = cards::by_token(id) else {
            return Err(no_such(id, named));
        };
        return Ok(new_method(
            &Stripe.new_id(&KIND),
            st.now,
            card,
            cards::default_expiry(st.now),
            &st.secret,
            true,
            billing_details(&Map::new(), None),
        ));
    }
    let Some(Value::Object(object)) = KIND.load(st.conn, id)? else {
        return Err(no_such(id, named));
    };
    let row: Option<(String, bool, bool)> = st
        .conn
        .prepare_cached("SELECT number, set_up, consumed FROM payment_method_cards WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((number, set_up, consumed)) = row else {
        return Err(StripeError::Internal(format!(
            "payment method {id} has no card row"
        )));
    };
    let card = cards::by_number(&number)
        .map_err(|_| StripeError::Internal(format!("payment method {id}: stored number")))?;
    Ok(Method {
        object,
        card,
        set_up,
        consumed,
        fresh: false,
    })
}

fn no_such(id: &str, named: Named) -> StripeError {
    match named {
        Named::Path => StripeError::no_such("PaymentMethod", id, "payment_method"),
        Named::Param(p) => StripeError::no_such_param("PaymentMethod", id, p),
    }
}

fn bad_request(message: &str) -> StripeError {
    StripeError::bad_request(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&crate::mirrors::stripe::SCHEMA)
            .expect("schema");
        conn
    }

    /// `resolve` stores a `pm_card_*` name as a new method once, finds stored
    /// methods with their card's outcome and flags, and names the parameter of an
    /// unknown id.
    #[test]
    fn resolve_stores_test_names_on_use_and_finds_stored_methods() {
        let conn = db();
        let st = State {
            conn: &conn,
            now: 1_796_198_136,
            secret: "sk_test_x".into(),
        };
        let m = resolve_in(&st, "pm_card_authenticationRequired", "payment_method").expect("token");
        assert!(m.id().starts_with("pm_") && !m.fresh);
        assert_eq!(m.object["card"]["exp_year"], 2027);
        let again = resolve_in(&st, m.id(), "payment_method").expect("stored");
        assert_eq!(again.object, m.object);
        assert!(matches!(
            again.outcome(),
            Outcome::RequiresAuthentication {
                when: cards::When::Always,
                then: None
            }
        ));
        assert!(!again.set_up && !again.consumed);
        mark_set_up(&conn, m.id()).expect("set up");
        mark_consumed(&conn, m.id()).expect("consumed");
        let flagged = resolve_in(&st, m.id(), "payment_method").expect("stored");
        assert!(flagged.set_up && flagged.consumed);
        let missing = resolve_in(&st, "pm_nope", "payment_method").expect_err("unknown");
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        assert_eq!(missing.body()["error"]["param"], "payment_method");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM payment_methods", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
    }

    /// A new card method has Stripe's fields in Stripe's order.
    #[test]
    fn a_new_method_has_stripes_shape() {
        let card = cards::by_token("pm_card_visa").expect("visa");
        let m = new_method(
            "pm_1",
            1,
            card,
            (12, 2030),
            "sk",
            true,
            billing_details(&Map::new(), None),
        );
        let keys: Vec<&str> = m.object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "object",
                "allow_redisplay",
                "billing_details",
                "card",
                "created",
                "customer",
                "customer_account",
                "livemode",
                "metadata",
                "type"
            ]
        );
        assert_eq!(m.object["card"]["last4"], "4242");
        assert_eq!(m.object["card"]["checks"]["cvc_check"], "unchecked");
        assert_eq!(
            m.object["billing_details"]["address"],
            json!({"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null})
        );
    }

    /// Attaching runs the checks the card was given for, with the card's results.
    #[test]
    fn attaching_runs_the_unchecked_checks() {
        let card = cards::by_token("pm_card_cvcCheckFail").expect("card");
        let billing = billing_details(
            &Map::new(),
            Some(&json!({"address": {"postal_code": "94103"}})),
        );
        let mut m = new_method("pm_1", 1, card, (1, 2030), "sk", true, billing);
        run_checks(&mut m);
        assert_eq!(
            m.object["card"]["checks"],
            json!({"address_line1_check": null, "address_postal_code_check": "pass", "cvc_check": "fail"})
        );
    }
}
