//! Customers: `/v1/customers` and `/v1/customers/{customer}`. Behaviour only —
//! parameters arrive validated and typed (pipeline), storage, lists and
//! expansion are the toolkit's. What is left is the customer's own rules: its
//! defaults, the fields that need resources this mirror does not have yet, and
//! the checks Stripe makes beyond the schema (email, invoice prefix, sequence).
//! Deleted customers keep their row: Stripe still answers a retrieve of them,
//! and they remain valid list cursors.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::error::StripeError;
use super::events;
use super::lists;
use super::payment_methods;
use super::pipeline::Call;
use super::search::Search;
use super::test_clocks;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use crate::session::id::random_from;
use rusqlite::types::Value as Sql;

/// Storage: one row per customer ever created, `email` indexed for lists.
pub static KIND: Kind = Kind {
    object: "customer",
    table: "customers",
    prefix: "cus_",
    id_len: 14,
    columns: &["email"],
};

/// `GET /v1/customers/search`: the fields Stripe lets customer queries name.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::number("created"),
            Field::text("email"),
            Field::map("metadata"),
            Field::text("name"),
            Field::text("phone"),
        ],
    },
    url: "/v1/customers/search",
};

const ADDRESS: &[&str] = &["city", "country", "line1", "line2", "postal_code", "state"];

/// Fields a customer has only once they are set (`business_name?: string`).
const OMITTED_WHEN_UNSET: &[&str] = &["business_name", "individual_name"];

/// Which request the parameters come from: a few differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// A new customer with Stripe's defaults (`id`, `object` first, then Stripe's
/// alphabetical order). Fields that need other resources stay `null`.
pub fn new(id: &str, created: i64, invoice_prefix: &str) -> Map<String, Value> {
    let v = json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": created,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "discount": null,
        "email": null,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": {},
        "name": null,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    });
    into_map(v)
}

/// Stripe generates 8 uppercase hex-like characters per customer.
pub fn new_invoice_prefix() -> String {
    random_from(b"0123456789ABCDEF", 8)
}

/// Applies validated parameters to a customer with Stripe's rules.
pub fn apply(
    c: &mut Map<String, Value>,
    params: &Map<String, Value>,
    mode: Mode,
) -> Result<(), StripeError> {
    let mut p = params.clone();
    // Attached by the create handler (it needs the customer's id and the state).
    p.shift_remove("payment_method");
    reject_unemulated(&mut p, mode)?;
    if let Some(Value::String(e)) = p.get("email") {
        if !valid_email(e) {
            return Err(StripeError::invalid_code(
                "email_invalid",
                format!("Invalid email address: {e}"),
                "email",
            ));
        }
    }
    match p.get("invoice_prefix") {
        Some(Value::Null) => return Err(StripeError::invalid_empty("invoice_prefix")),
        Some(Value::String(x))
            if !(3..=12).contains(&x.len())
                || !x
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            return Err(StripeError::invalid(
                format!("Invalid invoice_prefix: {x}; must be 3-12 uppercase letters or numbers"),
                "invoice_prefix",
            ))
        }
        _ => {}
    }
    if let Some(n) = p.get("next_invoice_sequence").and_then(Value::as_i64) {
        if n < 1 {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 1.",
                "next_invoice_sequence",
            ));
        }
    }
    if let Some(a) = p.get_mut("address") {
        if !a.is_null() {
            *a = update::shaped(a, ADDRESS);
        }
    }
    if let Some(s) = p.get_mut("shipping") {
        if let Value::Object(ship) = s {
            let address = update::shaped(ship.get("address").unwrap_or(&Value::Null), ADDRESS);
            *s = json!({"address": address, "name": ship.get("name"), "phone": ship.get("phone")});
        }
    }
    if let Some(v) = p.get_mut("preferred_locales") {
        if v.is_null() {
            *v = json!([]);
        }
    }
    if let Some(v) = p.get_mut("tax_exempt") {
        if v.is_null() {
            *v = json!("none");
        }
    }
    if let Some(Value::Object(s)) = p.get("invoice_settings") {
        if let Some(Value::Array(fields)) = s.get("custom_fields") {
            if fields.len() > 4 {
                return Err(StripeError::invalid(
                    "Invalid array: invoice_settings[custom_fields] can have at most 4 items",
                    "invoice_settings[custom_fields]",
                ));
            }
        }
        if s.get("rendering_options").is_some_and(|v| !v.is_null()) {
            return Err(StripeError::unsupported(
                "invoice_settings[rendering_options]",
                "invoice rendering is not emulated",
            ));
        }
    }
    update::apply(c, &p, &["invoice_settings"])?;
    // The pinned version leaves these out until they are set, and never answers
    // them as `null`: unsetting one (`business_name=`) removes it.
    for field in OMITTED_WHEN_UNSET {
        if c.get(*field).is_some_and(Value::is_null) {
            c.shift_remove(*field);
        }
    }
    Ok(())
}

/// Parameters that need resources this mirror does not have yet. An empty
/// value (unsetting nothing) is accepted; anything else gets a clear error
/// instead of being silently dropped.
fn reject_unemulated(p: &mut Map<String, Value>, mode: Mode) -> Result<(), StripeError> {
    // (parameter, Some(resource name) → "No such …", None → unsupported)
    const CREATE: &[(&str, Option<&str>)] = &[
        ("cash_balance", None),
        ("coupon", None),
        ("promotion_code", None),
        ("source", None),
        ("tax", None),
        ("tax_id_data", None),
        ("validate", None),
    ];
    const UPDATE: &[(&str, Option<&str>)] = &[
        ("cash_balance", None),
        ("coupon", None),
        ("default_source", Some("source")),
        ("promotion_code", None),
        ("source", None),
        ("tax", None),
        ("validate", None),
    ];
    let list = match mode {
        Mode::Create => CREATE,
        Mode::Update => UPDATE,
    };
    for (param, resource) in list {
        let Some(v) = p.shift_remove(*param) else {
            continue;
        };
        match (&v, resource) {
            (Value::Null, _) => {}
            (Value::String(s), _) if s.is_empty() => {}
            (Value::String(s), Some(resource)) => {
                return Err(StripeError::no_such_param(resource, s, param))
            }
            _ => {
                return Err(StripeError::unsupported(
                    param,
                    "payment sources, cash balances, customer discounts and tax are not emulated",
                ))
            }
        }
    }
    Ok(())
}

/// Lenient like Stripe: one `@`, a dotted domain, no spaces.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Fields Stripe includes only when expanded (`expand[]=tax_ids` …), computed
/// from the customer: nothing here creates sources, subscriptions or tax ids yet.
pub fn includable(field: &str) -> Option<fn(&Connection, &Value) -> rusqlite::Result<Value>> {
    fn empty_list(c: &Value, what: &str) -> Value {
        let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
        json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{id}/{what}")})
    }
    Some(match field {
        "sources" => |_, c| Ok(empty_list(c, "sources")),
        "subscriptions" => |_, c| Ok(empty_list(c, "subscriptions")),
        "tax_ids" => |_, c| Ok(empty_list(c, "tax_ids")),
        "tax" => |_, _| {
            Ok(
                json!({"automatic_tax": "unrecognized_location", "ip_address": null, "location": null}),
            )
        },
        _ => return None,
    })
}

fn deleted_stub(id: &str) -> Value {
    json!({"id": id, "object": "customer", "deleted": true})
}

fn load(call: &Call, id: &str) -> Result<Map<String, Value>, StripeError> {
    match KIND.load(call.conn, id)? {
        Some(Value::Object(c)) => Ok(c),
        _ => Err(StripeError::no_such("customer", id, "id")),
    }
}

/// `POST /v1/customers`: `payment_method` is attached to the new customer, and
/// may then be its `invoice_settings[default_payment_method]`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let id = Stripe.new_id(&KIND);
    // A customer on a test clock lives in its time from the start.
    let clock = match call.params.get("test_clock") {
        Some(Value::String(clock)) if !clock.is_empty() => {
            let c = test_clocks::live(call.conn, clock, "test_clock")?;
            Some((clock.clone(), c["frozen_time"].as_i64().unwrap_or(call.now)))
        }
        _ => None,
    };
    let created = clock.as_ref().map_or(call.now, |c| c.1);
    let mut c = new(&id, created, &new_invoice_prefix());
    if let Some((clock, _)) = &clock {
        c.insert("test_clock".into(), clock.as_str().into());
    }
    let mut params = call.params.clone();
    params.shift_remove("test_clock");
    apply(&mut c, &params, Mode::Create)?;
    // Everything that can fail is checked before anything is written.
    let attach = match call.params.get("payment_method") {
        Some(Value::String(pm)) if !pm.is_empty() => {
            payment_methods::prepare_attach(call, pm, "payment_method", &id)?
        }
        _ => None,
    };
    if let Some(pm) = default_payment_method(&c) {
        if attach.as_ref().map(|m| m.id()) != Some(pm) {
            payment_methods::check_attached(call.conn, pm, &id, DEFAULT_PM)?;
        }
    }
    let v = Value::Object(c);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "customer.created", &v, None)?;
    if let Some(m) = attach {
        payment_methods::commit_attach(call, &m)?;
    }
    Ok(v)
}

const DEFAULT_PM: &str = "invoice_settings[default_payment_method]";

/// `invoice_settings.default_payment_method` when it names a method.
fn default_payment_method(c: &Map<String, Value>) -> Option<&str> {
    c.get("invoice_settings")?
        .get("default_payment_method")?
        .as_str()
}

/// `GET /v1/customers/{customer}`: a deleted customer answers as a stub.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    match KIND.find(call.conn, id)? {
        None => Err(StripeError::no_such("customer", id, "id")),
        Some(s) if s.deleted => Ok(deleted_stub(id)),
        Some(s) => Ok(s.value()?),
    }
}

/// `POST /v1/customers/{customer}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    let mut c = load(call, id)?;
    let before = c.clone();
    apply(&mut c, call.params, Mode::Update)?;
    let changed = default_payment_method(&c) != default_payment_method(&before);
    if let (true, Some(pm)) = (changed, default_payment_method(&c)) {
        payment_methods::check_attached(call.conn, pm, id, DEFAULT_PM)?;
    }
    let v = Value::Object(c);
    if v.as_object() != Some(&before) {
        KIND.save(call.conn, &v)?;
        events::emit(call, "customer.updated", &v, Some(&Value::Object(before)))?;
    }
    Ok(v)
}

/// `DELETE /v1/customers/{customer}`.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    let c = Value::Object(load(call, id)?);
    remove(call, &c)?;
    Ok(deleted_stub(id))
}

/// Deletes customer `c` (a delete request, or its test clock deleted).
pub fn remove(call: &Call, c: &Value) -> Result<(), StripeError> {
    let id = c["id"].as_str().unwrap_or_default();
    KIND.mark_deleted(call.conn, id)?;
    events::emit(call, "customer.deleted", c, None)
}

/// The live customers created on test clock `clock`.
pub fn on_clock(conn: &Connection, clock: &str) -> Result<Vec<Value>, StripeError> {
    Ok(KIND.select(conn, "json_extract(data, '$.test_clock') = ?1", [clock])?)
}

/// `GET /v1/customers`: newest first, optionally by `email`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut q = lists::query(call.params)?;
    if let Some(Value::String(email)) = call.params.get("email") {
        q.filters.push(("email", email.clone().into()));
    }
    if let Some(Value::String(clock)) = call.params.get("test_clock") {
        q.conditions
            .push(Filter::Field("$.test_clock", Sql::Text(clock.clone())));
    }
    lists::page(call.conn, &KIND, &q, "/v1/customers")
}

/// `GET /v1/customers/search`: Stripe's query language over live customers.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Updates merge metadata per key and replace the address as a whole.
    #[test]
    fn update_semantics_merge_metadata_and_replace_address() {
        let mut c = new("cus_1", 1, "ABCDEF12");
        apply(
            &mut c,
            &map(json!({"metadata": {"a": "1", "b": "2"}, "address": {"line1": "x", "city": "y"}})),
            Mode::Create,
        )
        .expect("create");
        apply(
            &mut c,
            &map(json!({"metadata": {"a": null}, "address": {"line1": "z"}, "email": null})),
            Mode::Update,
        )
        .expect("update");
        assert_eq!(c["metadata"], json!({"b": "2"}));
        assert_eq!(
            c["address"],
            json!({"city": null, "country": null, "line1": "z", "line2": null, "postal_code": null, "state": null})
        );
        assert_eq!(c["email"], Value::Null);
    }

    /// Unsetting `business_name` removes it: the pinned version never answers it as null.
    #[test]
    fn unsetting_business_name_removes_it() {
        let mut c = new("cus_1", 1, "ABCDEF12");
        apply(&mut c, &map(json!({"business_name": "Acme"})), Mode::Update).expect("set");
        assert_eq!(c["business_name"], "Acme");
        apply(
            &mut c,
            &map(json!({"business_name": null, "individual_name": null})),
            Mode::Update,
        )
        .expect("unset");
        assert!(
            !c.contains_key("business_name") && !c.contains_key("individual_name"),
            "{c:?}"
        );
    }

    /// Email checks are as lenient as Stripe's.
    #[test]
    fn emails_are_checked_leniently() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a b@c.co", "a@b.co.", "a@b..co",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    /// A new customer starts with `id` and `object`, in Stripe's order.
    #[test]
    fn a_new_customer_starts_with_id_and_object() {
        let s = Value::Object(new("cus_1", 1, "ABCDEF12")).to_string();
        assert!(
            s.starts_with(r#"{"id":"cus_1","object":"customer","#),
            "{s}"
        );
    }
}
