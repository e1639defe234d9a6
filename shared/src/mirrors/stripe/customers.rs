//! Customers: `/v1/customers` and `/v1/customers/{customer}`.
//!
//! A row keeps the customer's full JSON as it is returned (`data`), so a retrieve
//! or list answers with stored text and no JSON work; `created`, `email` and
//! `deleted` are columns only so that the list can be served from an index.
//! Deleted customers stay as rows (`deleted = 1`): Stripe still answers a
//! retrieve of them, and they remain valid pagination cursors.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::StripeCtx;
use super::error::{json_response, StripeError};
use super::form::{string_value, Fields, FormBody, FormQuery, Param};
use super::idempotency;
use crate::session::id::{random_from, random_token};

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

/// `cus_` + 14 random alphanumerics, like Stripe's.
pub fn new_id() -> String {
    format!("cus_{}", random_token(14))
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
    /// A customer in a seed document: create parameters, no `expand`.
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
    pub expand: Vec<String>,
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
        let expand = match mode {
            Mode::Seed => Vec::new(),
            Mode::Create | Mode::Update => match f.string_list("expand", 5000)? {
                Param::Given(v) => v,
                Param::Absent | Param::Empty => Vec::new(),
            },
        };
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
            expand,
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

/// What `expand[]` asks for. Expanding a field that is `null` here (discount,
/// default source, test clock, default payment method) is valid and changes
/// nothing; `sources`, `subscriptions`, `tax_ids` and `tax` are only returned
/// when expanded, as in Stripe's current API.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expand {
    sources: bool,
    subscriptions: bool,
    tax_ids: bool,
    tax: bool,
}

impl Expand {
    /// `in_list`: paths must start with `data.`, as on Stripe's list endpoints.
    pub fn parse(paths: &[String], in_list: bool) -> Result<Self, StripeError> {
        let mut e = Expand::default();
        for full in paths {
            let path = if in_list {
                match full.strip_prefix("data.") {
                    Some(p) => p,
                    None => return Err(cannot_expand(full)),
                }
            } else {
                full.as_str()
            };
            match path {
                "sources" => e.sources = true,
                "subscriptions" => e.subscriptions = true,
                "tax_ids" => e.tax_ids = true,
                "tax" => e.tax = true,
                "default_source"
                | "discount"
                | "test_clock"
                | "invoice_settings.default_payment_method" => {}
                _ => return Err(cannot_expand(full)),
            }
        }
        Ok(e)
    }

    pub fn is_empty(&self) -> bool {
        *self == Expand::default()
    }

    /// The stored customer JSON with the expanded fields added.
    pub fn render(&self, data: &str) -> Result<String, StripeError> {
        let mut v: Value = serde_json::from_str(data)
            .map_err(|e| StripeError::Internal(format!("stored customer: {e}")))?;
        self.add(&mut v);
        Ok(v.to_string())
    }

    fn add(&self, v: &mut Value) {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(obj) = v.as_object_mut() else { return };
        let empty_list = |what: &str| serde_json::json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{id}/{what}")});
        if self.sources {
            obj.insert("sources".into(), empty_list("sources"));
        }
        if self.subscriptions {
            obj.insert("subscriptions".into(), empty_list("subscriptions"));
        }
        if self.tax_ids {
            obj.insert("tax_ids".into(), empty_list("tax_ids"));
        }
        if self.tax {
            obj.insert(
                "tax".into(),
                serde_json::json!({"automatic_tax": "unrecognized_location", "ip_address": null, "location": null}),
            );
        }
    }
}

fn cannot_expand(path: &str) -> StripeError {
    StripeError::bad_request(
        StatusCode::BAD_REQUEST,
        format!("This property cannot be expanded ({path})."),
    )
}

/// The row for one customer id: (seq, deleted, created, data).
type Row = (i64, bool, i64, String);

const SELECT_ONE: &str = "SELECT seq, deleted, created, data FROM customers WHERE id = ?1";

fn find(conn: &Connection, id: &str) -> Result<Option<Row>, StripeError> {
    Ok(conn
        .prepare_cached(SELECT_ONE)?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?, r.get(3)?))
        })
        .optional()?)
}

/// Inserts a new customer whose JSON is `data` (seeds use this too).
pub fn insert(conn: &Connection, c: &Customer, data: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO customers (id, created, email, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![c.id, c.created, c.email, data])?;
    Ok(())
}

fn deleted_stub(id: &str) -> String {
    serde_json::json!({"id": id, "object": "customer", "deleted": true}).to_string()
}

fn to_json(c: &Customer) -> Result<String, StripeError> {
    serde_json::to_string(c).map_err(|e| StripeError::Internal(format!("serialize customer: {e}")))
}

/// `POST /v1/customers`.
pub async fn create(sc: StripeCtx, form: FormBody) -> Result<Response, StripeError> {
    let mut f = Fields::new(form.params);
    let params = CustomerParams::parse(&mut f, Mode::Create)?;
    f.finish()?;
    let expand = Expand::parse(&params.expand, false)?;
    // Ids and times are fixed before the write, so a re-run after a lost race
    // produces the same row.
    let mut c = Customer::new(new_id(), sc.ctx.now(), new_invoice_prefix());
    params.apply(&mut c);
    CustomerParams::check_result(&c)?;
    let data = to_json(&c)?;
    let body = if expand.is_empty() {
        data.clone()
    } else {
        expand.render(&data)?
    };
    idempotency::write(&sc, "POST /v1/customers", &form.raw, |conn| {
        insert(conn, &c, &data)?;
        Ok(body.clone())
    })
    .await
}

/// `GET /v1/customers/{customer}`.
pub async fn retrieve(sc: StripeCtx, FormQuery(q): FormQuery) -> Result<Response, StripeError> {
    let id = sc.path_param("customer").unwrap_or_default().to_string();
    let mut f = Fields::new(q);
    let expand = match f.string_list("expand", 5000)? {
        Param::Given(v) => Expand::parse(&v, false)?,
        Param::Absent | Param::Empty => Expand::default(),
    };
    f.finish()?;
    let body = sc
        .ctx
        .read(|conn| match find(conn, &id)? {
            None => Err(StripeError::no_such("customer", &id, "id")),
            Some((_, true, _, _)) => Ok(deleted_stub(&id)),
            Some((_, false, _, data)) if expand.is_empty() => Ok(data),
            Some((_, false, _, data)) => expand.render(&data),
        })
        .await?;
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /v1/customers/{customer}`.
pub async fn update(sc: StripeCtx, form: FormBody) -> Result<Response, StripeError> {
    let id = sc.path_param("customer").unwrap_or_default().to_string();
    let mut f = Fields::new(form.params);
    let params = CustomerParams::parse(&mut f, Mode::Update)?;
    f.finish()?;
    let expand = Expand::parse(&params.expand, false)?;
    let endpoint = format!("POST /v1/customers/{id}");
    idempotency::write(&sc, &endpoint, &form.raw, |conn| {
        let (seq, data) = match find(conn, &id)? {
            Some((seq, false, _, data)) => (seq, data),
            _ => return Err(StripeError::no_such("customer", &id, "id")),
        };
        let mut c: Customer = serde_json::from_str(&data)
            .map_err(|e| StripeError::Internal(format!("stored customer {id}: {e}")))?;
        params.apply(&mut c);
        CustomerParams::check_result(&c)?;
        let new = to_json(&c)?;
        if new != data {
            conn.prepare_cached("UPDATE customers SET email = ?2, data = ?3 WHERE seq = ?1")?
                .execute(params![seq, c.email, new])?;
        }
        if expand.is_empty() {
            Ok(new)
        } else {
            expand.render(&new)
        }
    })
    .await
}

/// `DELETE /v1/customers/{customer}`.
pub async fn delete(sc: StripeCtx, FormQuery(q): FormQuery) -> Result<Response, StripeError> {
    let id = sc.path_param("customer").unwrap_or_default().to_string();
    Fields::new(q).finish()?;
    let body = sc
        .ctx
        .write(|conn| match find(conn, &id)? {
            Some((seq, false, _, _)) => {
                conn.prepare_cached("UPDATE customers SET deleted = 1 WHERE seq = ?1")?
                    .execute([seq])?;
                Ok(deleted_stub(&id))
            }
            _ => Err(StripeError::no_such("customer", &id, "id")),
        })
        .await?;
    Ok(json_response(StatusCode::OK, body))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    None,
    After,
    Before,
}

/// `GET /v1/customers`: newest first (`created`, then insertion order).
pub async fn list(sc: StripeCtx, FormQuery(q): FormQuery) -> Result<Response, StripeError> {
    let mut f = Fields::new(q);
    let limit = match f.integer("limit")? {
        Param::Absent => 10,
        Param::Empty => return Err(StripeError::invalid_empty("limit")),
        Param::Given(n) if n < 1 => {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 1.",
                "limit",
            ))
        }
        Param::Given(n) if n > 100 => {
            return Err(StripeError::invalid(
                "This value must be less than or equal to 100.",
                "limit",
            ))
        }
        Param::Given(n) => n,
    };
    let given = |p: Param<String>| match p {
        Param::Given(s) => Some(s),
        Param::Absent | Param::Empty => None,
    };
    let starting_after = given(f.string("starting_after", 5000)?);
    let ending_before = given(f.string("ending_before", 5000)?);
    if starting_after.is_some() && ending_before.is_some() {
        return Err(StripeError::invalid_code(
            "parameters_exclusive",
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
        ));
    }
    let email = given(f.string("email", 512)?);
    let (mut lo, mut hi) = created_range(&mut f)?;
    let test_clock = given(f.string("test_clock", 5000)?);
    let expand = match f.string_list("expand", 5000)? {
        Param::Given(v) => Expand::parse(&v, true)?,
        Param::Absent | Param::Empty => Expand::default(),
    };
    f.finish()?;

    let (cursor, cursor_id) = match (starting_after, ending_before) {
        (Some(id), _) => (Cursor::After, Some(id)),
        (_, Some(id)) => (Cursor::Before, Some(id)),
        _ => (Cursor::None, None),
    };
    let mut sql =
        String::from("SELECT data FROM customers WHERE deleted = 0 AND created BETWEEN ?1 AND ?2");
    if email.is_some() {
        sql.push_str(" AND email = ?3");
    }
    let (c_created, c_seq) = (
        if email.is_some() { 4 } else { 3 },
        if email.is_some() { 5 } else { 4 },
    );
    // With `created` already bounded by the cursor's, "strictly after the cursor in
    // list order" reduces to this, which keeps the index range scan.
    match cursor {
        Cursor::None => {}
        Cursor::After => sql.push_str(&format!(" AND (created < ?{c_created} OR seq < ?{c_seq})")),
        Cursor::Before => sql.push_str(&format!(" AND (created > ?{c_created} OR seq > ?{c_seq})")),
    }
    sql.push_str(match cursor {
        Cursor::Before => " ORDER BY created ASC, seq ASC LIMIT ",
        _ => " ORDER BY created DESC, seq DESC LIMIT ",
    });
    sql.push_str(&(limit + 1).to_string());

    let (rows, has_more) = sc
        .ctx
        .read(|conn| {
            let mut binds: Vec<rusqlite::types::Value> = Vec::with_capacity(5);
            let mut cursor_at = None;
            if let Some(cid) = &cursor_id {
                let param = if cursor == Cursor::After {
                    "starting_after"
                } else {
                    "ending_before"
                };
                match find(conn, cid)? {
                    Some((seq, _, created, _)) => {
                        if cursor == Cursor::After {
                            hi = hi.min(created);
                        } else {
                            lo = lo.max(created);
                        }
                        cursor_at = Some((created, seq));
                    }
                    None => return Err(StripeError::no_such("customer", cid, param)),
                }
            }
            binds.push(lo.into());
            binds.push(hi.into());
            if let Some(e) = &email {
                binds.push(e.clone().into());
            }
            if let Some((created, seq)) = cursor_at {
                binds.push(created.into());
                binds.push(seq.into());
            }
            if test_clock.is_some() {
                // No customer belongs to a test clock in this mirror.
                return Ok((Vec::new(), false));
            }
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut out: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(binds), |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let more = out.len() as i64 > limit;
            out.truncate(limit as usize);
            if cursor == Cursor::Before {
                out.reverse();
            }
            Ok((out, more))
        })
        .await?;

    let mut body = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 80);
    body.push_str(r#"{"object":"list","data":["#);
    for (i, data) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        if expand.is_empty() {
            body.push_str(data);
        } else {
            body.push_str(&expand.render(data)?);
        }
    }
    body.push_str(r#"],"has_more":"#);
    body.push_str(if has_more { "true" } else { "false" });
    body.push_str(r#","url":"/v1/customers"}"#);
    Ok(json_response(StatusCode::OK, body))
}

/// `created=T` or `created[gt|gte|lt|lte]=T` as an inclusive range.
fn created_range(f: &mut Fields) -> Result<(i64, i64), StripeError> {
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    match f.take("created") {
        None => {}
        Some(Value::Object(map)) => {
            let mut r = Fields::new(map);
            let mut bound = |k: &str| -> Result<Option<i64>, StripeError> {
                let path = format!("created[{k}]");
                match r.take(k) {
                    None => Ok(None),
                    Some(v) => match super::form::integer_value(v, &path)? {
                        Param::Given(n) => Ok(Some(n)),
                        _ => Err(StripeError::invalid_empty(&path)),
                    },
                }
            };
            if let Some(n) = bound("gt")? {
                lo = lo.max(n.saturating_add(1));
            }
            if let Some(n) = bound("gte")? {
                lo = lo.max(n);
            }
            if let Some(n) = bound("lt")? {
                hi = hi.min(n.saturating_sub(1));
            }
            if let Some(n) = bound("lte")? {
                hi = hi.min(n);
            }
            if let Some(k) = r.drain().into_iter().next().map(|(k, _)| k) {
                return Err(StripeError::unknown_parameter(&format!("created[{k}]")));
            }
        }
        Some(v) => match super::form::integer_value(v, "created")? {
            Param::Given(n) => {
                lo = n;
                hi = n;
            }
            _ => return Err(StripeError::invalid_empty("created")),
        },
    }
    Ok((lo, hi))
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
