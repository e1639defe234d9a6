//! Customers: `/v1/customers` and `/v1/customers/{customer}`.
//!
//! A row keeps the customer's full JSON as it is returned (`data`), so a retrieve
//! or list answers with stored text and no JSON work; `created`, `email` and
//! `deleted` are columns only so that the list can be served from an index.
//! Deleted customers stay as rows (`deleted = 1`): Stripe still answers a
//! retrieve of them, and they remain valid pagination cursors.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::StripeError;
use super::form::{string_value, Fields, Param};
use super::lists;
use super::pipeline::Call;
use crate::mirrors::toolkit::objects::Kind;
use crate::session::id::random_from;

/// Metadata limits Stripe enforces.
const METADATA_MAX_KEYS: usize = 50;
const METADATA_KEY_MAX: usize = 40;
const METADATA_VALUE_MAX: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

/// A customer's shipping details: Stripe returns `address`, `name` and `phone` here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipping {
    pub address: Address,
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceSettings {
    pub custom_fields: Option<Vec<CustomField>>,
    pub default_payment_method: Option<String>,
    pub footer: Option<String>,
    pub rendering_options: Option<Value>,
}

/// The customer object exactly as the API returns it (`id` and `object` first,
/// then Stripe's alphabetical order). Fields that need other resources
/// (`currency`, `default_source`, `discount`, `test_clock`) stay `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub object: String,
    pub address: Option<Address>,
    pub balance: i64,
    pub created: i64,
    pub currency: Option<String>,
    pub default_source: Option<String>,
    pub delinquent: bool,
    pub description: Option<String>,
    pub discount: Option<Value>,
    pub email: Option<String>,
    pub invoice_prefix: Option<String>,
    pub invoice_settings: InvoiceSettings,
    pub livemode: bool,
    pub metadata: BTreeMap<String, String>,
    pub name: Option<String>,
    pub next_invoice_sequence: i64,
    pub phone: Option<String>,
    pub preferred_locales: Vec<String>,
    pub shipping: Option<Shipping>,
    pub tax_exempt: String,
    pub test_clock: Option<String>,
}

impl Customer {
    /// A customer with Stripe's defaults for every field.
    pub fn new(id: String, created: i64, invoice_prefix: String) -> Self {
        Customer {
            id,
            object: "customer".into(),
            address: None,
            balance: 0,
            created,
            currency: None,
            default_source: None,
            delinquent: false,
            description: None,
            discount: None,
            email: None,
            invoice_prefix: Some(invoice_prefix),
            invoice_settings: InvoiceSettings::default(),
            livemode: false,
            metadata: BTreeMap::new(),
            name: None,
            next_invoice_sequence: 1,
            phone: None,
            preferred_locales: Vec::new(),
            shipping: None,
            tax_exempt: "none".into(),
            test_clock: None,
        }
    }
}

/// Stripe generates 8 uppercase hex-like characters per customer.
pub fn new_invoice_prefix() -> String {
    random_from(b"0123456789ABCDEF", 8)
}

/// Which request a parameter set comes from: the parameters differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
    /// A customer in a seed document: create parameters.
    Seed,
}

#[derive(Debug, Clone, PartialEq)]
enum Metadata {
    Absent,
    /// `metadata=`: remove every key.
    Clear,
    /// Per-key changes; `None` removes the key (`metadata[k]=`).
    Keys(Vec<(String, Option<String>)>),
}

#[derive(Debug, Clone, PartialEq)]
struct InvoiceSettingsParams {
    custom_fields: Param<Vec<CustomField>>,
    footer: Param<String>,
    /// Only ever `Empty` (clearing): there are no payment methods to point at.
    default_payment_method: Param<String>,
}

/// The validated parameters of a create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerParams {
    address: Param<Address>,
    balance: Param<i64>,
    description: Param<String>,
    email: Param<String>,
    invoice_prefix: Param<String>,
    invoice_settings: Option<InvoiceSettingsParams>,
    metadata: Metadata,
    name: Param<String>,
    next_invoice_sequence: Param<i64>,
    phone: Param<String>,
    preferred_locales: Param<Vec<String>>,
    shipping: Param<Shipping>,
    tax_exempt: Param<String>,
}

impl CustomerParams {
    /// Reads and validates every parameter `mode` accepts; leftovers are the
    /// caller's to report (so seeds can take `id` and `created` first).
    pub fn parse(f: &mut Fields, mode: Mode) -> Result<Self, StripeError> {
        reject_unemulated(f, mode)?;
        let address = match f.hash("address")? {
            Param::Absent => Param::Absent,
            Param::Empty => Param::Empty,
            Param::Given(a) => Param::Given(address(a)?),
        };
        let balance = f.integer("balance")?;
        if let Param::Empty = balance {
            return Err(StripeError::invalid_empty("balance"));
        }
        let description = f.string("description", 5000)?;
        let email = f.string("email", 512)?;
        if let Param::Given(e) = &email {
            if !valid_email(e) {
                return Err(StripeError::invalid_code(
                    "email_invalid",
                    format!("Invalid email address: {e}"),
                    "email",
                ));
            }
        }
        let invoice_prefix = f.string("invoice_prefix", 5000)?;
        match &invoice_prefix {
            Param::Empty => return Err(StripeError::invalid_empty("invoice_prefix")),
            Param::Given(p)
                if !(3..=12).contains(&p.len())
                    || !p
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                return Err(StripeError::invalid(
                    format!(
                        "Invalid invoice_prefix: {p}; must be 3-12 uppercase letters or numbers"
                    ),
                    "invoice_prefix",
                ))
            }
            _ => {}
        }
        let invoice_settings = match f.hash("invoice_settings")? {
            Param::Absent => None,
            Param::Empty => return Err(StripeError::invalid_empty("invoice_settings")),
            Param::Given(s) => Some(invoice_settings(s)?),
        };
        let metadata = metadata(f)?;
        let name = f.string("name", 256)?;
        let next_invoice_sequence = f.integer("next_invoice_sequence")?;
        match next_invoice_sequence {
            Param::Empty => return Err(StripeError::invalid_empty("next_invoice_sequence")),
            Param::Given(n) if n < 1 => {
                return Err(StripeError::invalid(
                    "This value must be greater than or equal to 1.",
                    "next_invoice_sequence",
                ))
            }
            _ => {}
        }
        let phone = f.string("phone", 20)?;
        let preferred_locales = f.string_list("preferred_locales", 5000)?;
        let shipping = match f.hash("shipping")? {
            Param::Absent => Param::Absent,
            Param::Empty => Param::Empty,
            Param::Given(s) => Param::Given(shipping(s)?),
        };
        let tax_exempt = f.string("tax_exempt", 5000)?;
        if let Param::Given(t) = &tax_exempt {
            if !matches!(t.as_str(), "none" | "exempt" | "reverse") {
                return Err(StripeError::invalid(
                    format!(
                        "Invalid tax_exempt: must be one of exempt, none, or reverse (got {t:?})"
                    ),
                    "tax_exempt",
                ));
            }
        }
        Ok(CustomerParams {
            address,
            balance,
            description,
            email,
            invoice_prefix,
            invoice_settings,
            metadata,
            name,
            next_invoice_sequence,
            phone,
            preferred_locales,
            shipping,
            tax_exempt,
        })
    }

    /// Applies the parameters with Stripe's update semantics: absent keeps, `""`
    /// unsets, `address`/`shipping` replace as a whole, `invoice_settings` and
    /// `metadata` merge per key.
    pub fn apply(&self, c: &mut Customer) {
        set_opt(&mut c.address, &self.address);
        if let Param::Given(b) = self.balance {
            c.balance = b;
        }
        set_opt(&mut c.description, &self.description);
        set_opt(&mut c.email, &self.email);
        if let Param::Given(p) = &self.invoice_prefix {
            c.invoice_prefix = Some(p.clone());
        }
        if let Some(s) = &self.invoice_settings {
            set_opt(&mut c.invoice_settings.custom_fields, &s.custom_fields);
            set_opt(&mut c.invoice_settings.footer, &s.footer);
            set_opt(
                &mut c.invoice_settings.default_payment_method,
                &s.default_payment_method,
            );
        }
        match &self.metadata {
            Metadata::Absent => {}
            Metadata::Clear => c.metadata.clear(),
            Metadata::Keys(keys) => {
                for (k, v) in keys {
                    match v {
                        Some(v) => {
                            c.metadata.insert(k.clone(), v.clone());
                        }
                        None => {
                            c.metadata.remove(k);
                        }
                    }
                }
            }
        }
        set_opt(&mut c.name, &self.name);
        if let Param::Given(n) = self.next_invoice_sequence {
            c.next_invoice_sequence = n;
        }
        set_opt(&mut c.phone, &self.phone);
        match &self.preferred_locales {
            Param::Absent => {}
            Param::Empty => c.preferred_locales.clear(),
            Param::Given(l) => c.preferred_locales = l.clone(),
        }
        set_opt(&mut c.shipping, &self.shipping);
        match &self.tax_exempt {
            Param::Absent => {}
            Param::Empty => c.tax_exempt = "none".into(),
            Param::Given(t) => c.tax_exempt = t.clone(),
        }
    }

    /// Checks the metadata of the result against Stripe's key limit.
    pub fn check_result(c: &Customer) -> Result<(), StripeError> {
        if c.metadata.len() > METADATA_MAX_KEYS {
            return Err(StripeError::invalid(
                format!("Invalid metadata: metadata can have at most {METADATA_MAX_KEYS} keys"),
                "metadata",
            ));
        }
        Ok(())
    }
}

fn set_opt<T: Clone>(field: &mut Option<T>, p: &Param<T>) {
    match p {
        Param::Absent => {}
        Param::Empty => *field = None,
        Param::Given(v) => *field = Some(v.clone()),
    }
}

/// Parameters of Stripe's customer API that need resources this mirror does not
/// have yet. An empty value (unsetting nothing) is accepted; anything else gets a
/// clear error instead of being silently dropped.
fn reject_unemulated(f: &mut Fields, mode: Mode) -> Result<(), StripeError> {
    // (parameter, Some(resource name) → "No such …", None → unsupported)
    const CREATE: &[(&str, Option<&str>)] = &[
        ("coupon", Some("coupon")),
        ("payment_method", None),
        ("promotion_code", Some("promotion code")),
        ("source", None),
        ("tax", None),
        ("tax_id_data", None),
        ("test_clock", Some("test clock")),
    ];
    const UPDATE: &[(&str, Option<&str>)] = &[
        ("bank_account", None),
        ("card", None),
        ("coupon", Some("coupon")),
        ("default_alipay_account", Some("source")),
        ("default_bank_account", Some("source")),
        ("default_card", Some("source")),
        ("default_source", Some("source")),
        ("promotion_code", Some("promotion code")),
        ("source", None),
        ("tax", None),
        ("trial_end", None),
    ];
    let list = match mode {
        Mode::Create | Mode::Seed => CREATE,
        Mode::Update => UPDATE,
    };
    for (param, resource) in list {
        let Some(v) = f.take(param) else { continue };
        match (&v, resource) {
            (Value::Null, _) => {}
            (Value::String(s), _) if s.is_empty() => {}
            (Value::String(s), Some(resource)) => {
                return Err(StripeError::no_such_param(resource, s, param))
            }
            _ => return Err(StripeError::unsupported(
                param,
                "payment sources, payment methods, discounts, tax and test clocks are not emulated",
            )),
        }
    }
    Ok(())
}

fn address(mut a: Fields) -> Result<Address, StripeError> {
    let mut field = |k: &str| -> Result<Option<String>, StripeError> {
        Ok(match a.string(k, 5000)? {
            Param::Given(s) => Some(s),
            Param::Absent | Param::Empty => None,
        })
    };
    let out = Address {
        city: field("city")?,
        country: field("country")?,
        line1: field("line1")?,
        line2: field("line2")?,
        postal_code: field("postal_code")?,
        state: field("state")?,
    };
    a.finish()?;
    Ok(out)
}

fn shipping(mut s: Fields) -> Result<Shipping, StripeError> {
    let addr = match s.hash("address")? {
        Param::Given(a) => address(a)?,
        Param::Absent | Param::Empty => {
            return Err(StripeError::missing_parameter(&s.path("address")))
        }
    };
    let name = match s.string("name", 5000)? {
        Param::Given(n) => Some(n),
        Param::Absent | Param::Empty => {
            return Err(StripeError::missing_parameter(&s.path("name")))
        }
    };
    let phone = match s.string("phone", 5000)? {
        Param::Given(p) => Some(p),
        Param::Absent | Param::Empty => None,
    };
    s.finish()?;
    Ok(Shipping {
        address: addr,
        name,
        phone,
    })
}

fn invoice_settings(mut s: Fields) -> Result<InvoiceSettingsParams, StripeError> {
    let custom_fields = match s.list("custom_fields")? {
        Param::Absent => Param::Absent,
        Param::Empty => Param::Empty,
        Param::Given(items) => {
            if items.len() > 4 {
                return Err(StripeError::invalid(
                    "Invalid array: invoice_settings[custom_fields] can have at most 4 items",
                    s.path("custom_fields"),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (path, item) in items {
                let Value::Object(map) = item else {
                    return Err(StripeError::invalid("Invalid hash", path));
                };
                let mut fields = Fields::new(map);
                let mut req = |k: &str| -> Result<String, StripeError> {
                    let p = format!("{path}[{k}]");
                    match fields.take(k) {
                        None => Err(StripeError::missing_parameter(&p)),
                        Some(v) => match string_value(v, &p, 30)? {
                            Param::Given(s) => Ok(s),
                            _ => Err(StripeError::invalid_empty(&p)),
                        },
                    }
                };
                let name = req("name")?;
                let value = req("value")?;
                if let Some(k) = fields.drain().into_iter().next().map(|(k, _)| k) {
                    return Err(StripeError::unknown_parameter(&format!("{path}[{k}]")));
                }
                out.push(CustomField { name, value });
            }
            Param::Given(out)
        }
    };
    let footer = s.string("footer", 5000)?;
    let default_payment_method = match s.string("default_payment_method", 5000)? {
        Param::Given(pm) => {
            return Err(StripeError::no_such_param(
                "PaymentMethod",
                &pm,
                "invoice_settings[default_payment_method]",
            ))
        }
        other => other,
    };
    if s.take("rendering_options").is_some() {
        return Err(StripeError::unsupported(
            "invoice_settings[rendering_options]",
            "invoice rendering is not emulated",
        ));
    }
    s.finish()?;
    Ok(InvoiceSettingsParams {
        custom_fields,
        footer,
        default_payment_method,
    })
}

fn metadata(f: &mut Fields) -> Result<Metadata, StripeError> {
    let mut m = match f.hash("metadata")? {
        Param::Absent => return Ok(Metadata::Absent),
        Param::Empty => return Ok(Metadata::Clear),
        Param::Given(m) => m,
    };
    let mut keys = Vec::new();
    for (k, v) in m.drain() {
        let path = format!("metadata[{k}]");
        if k.chars().count() > METADATA_KEY_MAX {
            return Err(StripeError::invalid(
                format!("Invalid metadata: metadata keys must be at most {METADATA_KEY_MAX} characters ({k})"),
                path,
            ));
        }
        match string_value(v, &path, METADATA_VALUE_MAX)? {
            Param::Given(v) => keys.push((k, Some(v))),
            Param::Empty | Param::Absent => keys.push((k, None)),
        }
    }
    if keys.len() > METADATA_MAX_KEYS {
        return Err(StripeError::invalid(
            format!("Invalid metadata: metadata can have at most {METADATA_MAX_KEYS} keys"),
            "metadata",
        ));
    }
    Ok(Metadata::Keys(keys))
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

/// Storage: one row per customer ever created, `email` indexed for lists.
pub static KIND: Kind = Kind {
    object: "customer",
    table: "customers",
    prefix: "cus_",
    id_len: 14,
    columns: &["email"],
};

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
        "tax" => |_, _| Ok(json!({"automatic_tax": "unrecognized_location", "ip_address": null, "location": null})),
        _ => return None,
    })
}

/// Inserts a new customer (seeds use this too).
pub fn insert(conn: &Connection, c: &Customer) -> Result<(), StripeError> {
    KIND.insert(conn, &to_value(c)?)?;
    Ok(())
}

fn deleted_stub(id: &str) -> Value {
    json!({"id": id, "object": "customer", "deleted": true})
}

fn to_value(c: &Customer) -> Result<Value, StripeError> {
    serde_json::to_value(c).map_err(|e| StripeError::Internal(format!("serialize customer: {e}")))
}

fn load(call: &Call, id: &str) -> Result<Customer, StripeError> {
    let stored = KIND.load(call.conn, id)?.ok_or_else(|| StripeError::no_such("customer", id, "id"))?;
    serde_json::from_value(stored).map_err(|e| StripeError::Internal(format!("stored customer {id}: {e}")))
}

/// `POST /v1/customers`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let mut f = Fields::new(call.params.clone());
    let params = CustomerParams::parse(&mut f, Mode::Create)?;
    f.finish()?;
    let mut c = Customer::new(KIND.new_id(), call.now, new_invoice_prefix());
    params.apply(&mut c);
    CustomerParams::check_result(&c)?;
    let v = to_value(&c)?;
    KIND.insert(call.conn, &v)?;
    Ok(v)
}

/// `GET /v1/customers/{customer}`: a deleted customer answers as a stub.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    Fields::new(call.params.clone()).finish()?;
    match KIND.find(call.conn, id)? {
        None => Err(StripeError::no_such("customer", id, "id")),
        Some(s) if s.deleted => Ok(deleted_stub(id)),
        Some(s) => Ok(s.value()?),
    }
}

/// `POST /v1/customers/{customer}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    let mut f = Fields::new(call.params.clone());
    let params = CustomerParams::parse(&mut f, Mode::Update)?;
    f.finish()?;
    let mut c = load(call, id)?;
    let before = c.clone();
    params.apply(&mut c);
    CustomerParams::check_result(&c)?;
    let v = to_value(&c)?;
    if c != before {
        KIND.save(call.conn, &v)?;
    }
    Ok(v)
}

/// `DELETE /v1/customers/{customer}`.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("customer");
    Fields::new(call.params.clone()).finish()?;
    load(call, id)?;
    KIND.mark_deleted(call.conn, id)?;
    Ok(deleted_stub(id))
}

/// `GET /v1/customers`: newest first, optionally by `email`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let mut f = Fields::new(call.params.clone());
    let mut q = lists::query(&mut f)?;
    if let Param::Given(email) = f.string("email", 512)? {
        q.filters.push(("email", email.into()));
    }
    let test_clock = f.string("test_clock", 5000)?;
    f.finish()?;
    if let Param::Given(_) = test_clock {
        // No customer belongs to a test clock in this mirror.
        return Ok(lists::empty("/v1/customers"));
    }
    lists::page(call.conn, &KIND, &q, "/v1/customers")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn fields(v: Value) -> Fields {
        Fields::new(v.as_object().cloned().unwrap_or_else(Map::new))
    }

    #[test]
    fn update_semantics_merge_metadata_and_replace_address() {
        let mut c = Customer::new("cus_1".into(), 1, "ABCDEF12".into());
        let mut f = fields(
            json!({"metadata": {"a": "1", "b": "2"}, "address": {"line1": "x", "city": "y"}}),
        );
        let p = CustomerParams::parse(&mut f, Mode::Create).map_err(|e| e.to_string());
        p.as_ref().map(|p| p.apply(&mut c)).ok();
        let mut f = fields(json!({"metadata": {"a": ""}, "address": {"line1": "z"}, "email": ""}));
        let p = CustomerParams::parse(&mut f, Mode::Update).map_err(|e| e.to_string());
        p.as_ref().map(|p| p.apply(&mut c)).ok();
        assert_eq!(
            c.metadata,
            BTreeMap::from([("b".to_string(), "2".to_string())])
        );
        assert_eq!(
            c.address,
            Some(Address {
                line1: Some("z".into()),
                ..Address::default()
            })
        );
        assert_eq!(c.email, None);
    }

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

    #[test]
    fn the_serialized_customer_round_trips() {
        let c = Customer::new("cus_1".into(), 1, "ABCDEF12".into());
        let s = serde_json::to_string(&c).unwrap_or_default();
        assert!(s.starts_with(r#"{"id":"cus_1","object":"customer","#));
        let back: Option<Customer> = serde_json::from_str(&s).ok();
        assert_eq!(back, Some(c));
    }
}
