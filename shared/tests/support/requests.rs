//! Requests made from the route table and each operation's generated parameter
//! schema, so a new resource is exercised the moment its routes are listed:
//! which operations exist, what their path parameters name, what a valid set of
//! parameters looks like, and Stripe's form encoding of it.
//!
//! Valid values come from the schema (enums, types, lengths) plus [`hint`]: the
//! few parameter *names* whose meaning a schema cannot tell (`currency` is a
//! currency code, `customer` an existing customer's id, `url` a URL). A new
//! resource needs a hint only when one of its parameters is such a name and is
//! new.

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::{json, Map, Value};
use shared::mirrors::stripe::params;
use shared::mirrors::stripe::routes;
use shared::mirrors::toolkit::params::{Schema, StringSchema};

/// One emulated operation, as the route table lists it.
#[derive(Debug, Clone)]
pub struct Op {
    pub id: &'static str,
    pub method: Method,
    pub template: &'static str,
    /// What the operation answers with (`customer`, `list`, …) and a list's items.
    pub returns: String,
    pub items: Option<String>,
    /// Path parameters in order, with the object type each names (when known).
    pub path_params: Vec<(String, Option<String>)>,
    pub schema: &'static Schema,
}

impl Op {
    pub fn has_path_params(&self) -> bool {
        !self.path_params.is_empty()
    }

    /// The type of the objects the answer is made of (a list's items).
    pub fn object_type(&self) -> &str {
        self.items.as_deref().unwrap_or(&self.returns)
    }

    /// The concrete path for `ids` (one per path parameter).
    pub fn path(&self, ids: &[&str]) -> String {
        let mut out = String::new();
        let mut ids = ids.iter();
        for seg in self.template.split('/').filter(|s| !s.is_empty()) {
            out.push('/');
            if seg.starts_with('{') {
                let id = ids.next().copied().unwrap_or("x");
                out.extend(form_urlencoded::byte_serialize(id.as_bytes()));
            } else {
                out.push_str(seg);
            }
        }
        out
    }

    /// The top-level parameters, when the schema is a hash (it always is).
    pub fn properties(&self) -> BTreeMap<String, Schema> {
        self.schema
            .object()
            .map(|o| o.properties.clone())
            .unwrap_or_default()
    }

    pub fn required(&self) -> Vec<String> {
        self.schema
            .object()
            .map(|o| o.required.clone())
            .unwrap_or_default()
    }
}

/// Every operation of the route table, in its order.
pub fn operations() -> Vec<Op> {
    routes::table()
        .iter()
        .map(|r| {
            let op = params::operation(r.operation);
            Op {
                id: r.operation,
                method: r.method.clone(),
                template: r.template,
                returns: op.returns.clone().unwrap_or_default(),
                items: op.items.clone(),
                path_params: path_params(r.template),
                schema: &op.params,
            }
        })
        .collect()
}

/// `{customer}` in `/v1/customers/{customer}/payment_methods` names what the
/// retrieve operation at `/v1/customers/{customer}` returns, or else the items of
/// the list at `/v1/customers`.
fn path_params(template: &str) -> Vec<(String, Option<String>)> {
    let segs: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let ops: Vec<_> = params::table().operations().collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let upto = format!("/{}", segs[..=i].join("/"));
        let before = format!("/{}", segs[..i].join("/"));
        let by_retrieve = ops
            .iter()
            .find(|o| o.method == "GET" && o.path == upto)
            .and_then(|o| o.returns.clone());
        let by_list = ops
            .iter()
            .find(|o| o.method == "GET" && o.path == before)
            .and_then(|o| o.items.clone());
        out.push((name.to_string(), by_retrieve.or(by_list)));
    }
    out
}

/// Objects the mirror has answered with, by type, oldest first.
#[derive(Debug, Default)]
pub struct World {
    pub objects: BTreeMap<String, Vec<(String, bool)>>,
}

impl World {
    /// Remembers the objects in an answer (itself, or a list's items).
    pub fn record(&mut self, v: &Value) {
        if let Some(items) = v["data"].as_array().filter(|_| v["object"] != "event") {
            // Lists come newest first: seen oldest first, the newest stays newest.
            for item in items.iter().rev() {
                self.record(item);
            }
            return;
        }
        let (Some(kind), Some(id)) = (v["object"].as_str(), v["id"].as_str()) else {
            return;
        };
        // An ended object (a canceled subscription) is offered last, like a deleted one.
        let deleted = v["deleted"] == true
            || (v["object"] == "subscription"
                && matches!(
                    v["status"].as_str(),
                    Some("canceled" | "incomplete_expired")
                ));
        let list = self.objects.entry(kind.to_string()).or_default();
        match list.iter_mut().find(|(i, _)| i == id) {
            Some(entry) => entry.1 |= deleted,
            None => list.push((id.to_string(), deleted)),
        }
    }

    /// Live objects of `kind`, newest first, then deleted ones.
    pub fn candidates(&self, kind: &str) -> Vec<String> {
        let Some(list) = self.objects.get(kind) else {
            return Vec::new();
        };
        let live = list.iter().rev().filter(|(_, d)| !d);
        let dead = list.iter().rev().filter(|(_, d)| *d);
        live.chain(dead).map(|(id, _)| id.clone()).collect()
    }

    pub fn any(&self, kind: &str) -> Option<String> {
        self.candidates(kind).into_iter().next()
    }
}

/// The value a parameter *name* calls for, where the schema alone cannot tell
/// (`leaf` is the last segment of its path, `path` the whole bracket path).
pub fn hint(path: &str, leaf: &str, schema: &Schema, world: &World) -> Option<Value> {
    let string = |s: &Schema| match s {
        Schema::String(StringSchema { values: None, .. }) => true,
        Schema::AnyOf(alts) => alts
            .iter()
            .any(|a| matches!(a, Schema::String(StringSchema { values: None, .. }))),
        _ => false,
    };
    let integer = |s: &Schema| match s {
        Schema::Integer => true,
        Schema::AnyOf(alts) => alts.iter().any(|a| matches!(a, Schema::Integer)),
        _ => false,
    };
    // A card by a test name, stored afresh on each use: an existing method may
    // belong to another customer or be used up. This one succeeds and its
    // refunds start pending, so refunds can be canceled too.
    if leaf == "payment_method" && path == leaf && string(schema) {
        return Some(json!("pm_card_pendingRefund"));
    }
    // An id of an object this mirror has (`customer=cus_…`).
    if string(schema) && params::object_type(leaf).is_some() && !path.contains('[') {
        if let Some(id) = world.any(leaf) {
            return Some(json!(id));
        }
    }
    match leaf {
        "currency" if string(schema) => Some(json!("usd")),
        "email" | "receipt_email" if string(schema) => Some(json!("ada@example.com")),
        "url" if string(schema) => Some(json!("https://example.com/return")),
        "payment_method" if string(schema) => Some(json!("pm_card_visa")),
        // Authorize only, so there is something to capture (and to cancel).
        "capture_method" if path == leaf => Some(json!("manual")),
        // Cards only: confirming needs no `return_url` (which Stripe accepts only
        // with a confirmation).
        "allowed_payment_method_types" if path == leaf => Some(json!(["card"])),
        "token" if path == "card[token]" => Some(json!("tok_visa")),
        "enabled_events" => Some(json!(["*"])),
        // Invoices and subscriptions sent for payment: open without a card, so
        // they can be sent, voided and marked uncollectible.
        "collection_method" if path == leaf && string_enum(schema, "send_invoice") => {
            Some(json!("send_invoice"))
        }
        "days_until_due" if path == leaf && integer(schema) => Some(json!(30)),
        // A clock only moves forward: each request a day further than the last.
        "frozen_time" if integer(schema) => {
            static DAYS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            Some(json!(
                now + 86_400 * DAYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ))
        }
        // A subscription's item: a monthly price made inline for a product.
        "items"
            if path == leaf
                && matches!(schema, Schema::Array(_))
                && world.any("product").is_some() =>
        {
            Some(json!([{"price_data": monthly(world)?}]))
        }
        // A Checkout Session's item: a one-time price made inline (payment mode).
        "line_items"
            if path == leaf
                && matches!(schema, Schema::Array(_))
                && world.any("product").is_some() =>
        {
            let mut data = monthly(world)?;
            data.as_object_mut()?.remove("recurring");
            Some(json!([{"price_data": data, "quantity": 1}]))
        }
        "success_url" | "cancel_url" if string(schema) && path == leaf => {
            Some(json!("https://example.com/return"))
        }
        "price_data" if path == leaf => {
            let mut data = monthly(world)?;
            if let Schema::Object(o) = schema {
                if !o.properties.contains_key("recurring") {
                    data.as_object_mut()?.remove("recurring");
                }
            }
            Some(data)
        }
        // A price needs an amount; a promotion code the coupon it promotes.
        "unit_amount" if path == leaf && integer(schema) => Some(json!(1500)),
        "promotion" if path == leaf => {
            Some(json!({"type": "coupon", "coupon": world.any("coupon")?}))
        }
        // Stripe's search language; metadata is searchable on every searchable resource.
        "query" if string(schema) && !path.contains('[') => Some(json!("metadata['order']:'6735'")),
        "limit" if integer(schema) => Some(json!(3)),
        // `amount_to_confirm` may only repeat the amount (partial confirmation is
        // not emulated), so it is left to the sweep.
        l if (l == "amount" || l.starts_with("amount_"))
            && l != "amount_to_confirm"
            && integer(schema) =>
        {
            Some(json!(2000))
        }
        "type" => match schema {
            Schema::String(StringSchema {
                values: Some(v), ..
            }) if v.iter().any(|x| x == "card") => Some(json!("card")),
            _ => None,
        },
        // A card by Stripe's test token, where a `card` hash may be one.
        "card" => {
            let alts = match schema {
                Schema::AnyOf(alts) => alts.iter().collect(),
                s => vec![s],
            };
            alts.iter()
                .any(|a| matches!(a, Schema::Object(o) if o.properties.contains_key("token")))
                .then(|| json!({"token": "tok_visa"}))
        }
        _ => None,
    }
}

/// A monthly price's `price_data` for one of the world's products.
fn monthly(world: &World) -> Option<Value> {
    Some(
        json!({"currency": "usd", "product": world.any("product")?, "recurring": {"interval": "month"}, "unit_amount": 1500}),
    )
}

/// Whether `schema` is a string enum allowing `value`.
fn string_enum(schema: &Schema, value: &str) -> bool {
    matches!(schema, Schema::String(StringSchema { values: Some(v), .. }) if v.iter().any(|x| x == value))
}

/// A valid value for the parameter at `path`: its hint, else the first thing
/// the schema allows (a hash gets its required keys only).
pub fn sample(path: &str, schema: &Schema, world: &World) -> Option<Value> {
    let leaf = path
        .rsplit('[')
        .next()
        .unwrap_or(path)
        .trim_end_matches(']');
    if let Some(v) = hint(path, leaf, schema, world) {
        return Some(v);
    }
    Some(match schema {
        Schema::String(s) => match &s.values {
            Some(values) => json!(values.iter().find(|v| !v.is_empty())?),
            None => json!("mirra"),
        },
        Schema::Integer => json!(1),
        Schema::Number { decimal: true } => json!("1.5"),
        Schema::Number { decimal: false } => json!(1.5),
        Schema::Boolean => json!(true),
        Schema::Array(items) => json!([sample(&format!("{path}[0]"), items, world)?]),
        Schema::Object(o) => {
            let mut m = Map::new();
            for name in &o.required {
                let v = sample(&format!("{path}[{name}]"), &o.properties[name], world)?;
                m.insert(name.clone(), v);
            }
            if o.properties.is_empty() && o.additional.is_some() && m.is_empty() {
                // A map such as `metadata`.
                m.insert("order".into(), json!("6735"));
            }
            Value::Object(m)
        }
        Schema::AnyOf(alts) => alts
            .iter()
            .filter(|a| !a.allows_empty())
            .find_map(|a| sample(path, a, world))?,
        Schema::Any => json!("mirra"),
    })
}

/// The first parameter sets to try on `op`, each valid by the schema: the
/// required parameters; those plus every hinted optional value (`currency`,
/// `type=card`, …); and that plus every optional reference to another object
/// (`customer=cus_…`), which some operations refuse (Connect's cloning …).
pub fn bases(op: &Op, world: &World) -> Vec<(String, Map<String, Value>)> {
    let props = op.properties();
    let mut base = Map::new();
    for name in op.required() {
        if let Some(v) = sample(&name, &props[&name], world) {
            base.insert(name, v);
        }
    }
    let mut out = vec![("required".to_string(), base.clone())];
    for (label, references) in [("hinted", false), ("hinted+references", true)] {
        let mut m = out.last().map(|b| b.1.clone()).unwrap_or_default();
        for (name, s) in &props {
            if name == "expand" || m.contains_key(name) || is_reference(name) != references {
                continue;
            }
            if let Some(v) = hint(name, name, s, world) {
                m.insert(name.clone(), v);
            }
        }
        if out.iter().all(|(_, b)| *b != m) {
            out.push((label.to_string(), m));
        }
    }
    // Each reference alone, for operations that take one of several (a refund
    // names its `charge` or its `payment_intent`).
    let hinted = out
        .iter()
        .find(|(l, _)| l == "hinted")
        .map(|b| b.1.clone())
        .unwrap_or_else(|| out[0].1.clone());
    for (name, s) in &props {
        if name == "expand" || hinted.contains_key(name) || !is_reference(name) {
            continue;
        }
        if let Some(v) = hint(name, name, s, world) {
            let mut m = hinted.clone();
            m.insert(name.clone(), v);
            if out.iter().all(|(_, b)| *b != m) {
                out.push((format!("hinted+{name}"), m));
            }
        }
    }
    out
}

/// A parameter naming another object of the mirror (`customer`, `payment_method`).
pub fn is_reference(name: &str) -> bool {
    params::object_type(name).is_some()
}

/// `base` plus each other optional parameter in turn, so every field a request
/// can set shows up in an answer at least once.
pub fn sweep(
    op: &Op,
    base: &Map<String, Value>,
    world: &World,
) -> Vec<(String, Map<String, Value>)> {
    let mut out = Vec::new();
    for (name, s) in &op.properties() {
        if name == "expand" || base.contains_key(name) {
            continue;
        }
        if let Some(v) = sample(name, s, world) {
            let mut m = base.clone();
            m.insert(name.clone(), v);
            out.push((format!("+{name}"), m));
        }
    }
    out
}

/// Stripe's form encoding: `a[b]=1`, `a[0]=x`; `null` is the empty string ("unset").
pub fn encode(params: &Map<String, Value>) -> String {
    fn walk(prefix: &str, v: &Value, out: &mut form_urlencoded::Serializer<String>) {
        match v {
            Value::Object(m) => {
                for (k, sub) in m {
                    walk(&format!("{prefix}[{k}]"), sub, out);
                }
            }
            Value::Array(items) => {
                for (i, sub) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), sub, out);
                }
            }
            Value::Null => {
                out.append_pair(prefix, "");
            }
            Value::String(s) => {
                out.append_pair(prefix, s);
            }
            other => {
                out.append_pair(prefix, &other.to_string());
            }
        }
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        walk(k, v, &mut out);
    }
    out.finish()
}

/// `path?query` for a GET or DELETE, `(path, body)` for a POST.
pub fn request(op: &Op, path: &str, form: &str) -> (String, Option<String>) {
    if op.method == Method::POST {
        (path.to_string(), Some(form.to_string()))
    } else if form.is_empty() {
        (path.to_string(), None)
    } else {
        (format!("{path}?{form}"), None)
    }
}
