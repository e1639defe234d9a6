//! Prices: `/v1/prices`. One-time and recurring, per unit (integer or
//! decimal amounts, `transform_quantity`, `custom_unit_amount`) or tiered
//! (`volume` / `graduated`), with lookup keys unique across the session's
//! prices (`transfer_lookup_key` moves one). Stripe returns `tiers` and
//! `currency_options` only when expanded, so they are kept beside the price
//! (`toolkit::included`). [`amount`] is what a quantity costs; invoices,
//! subscriptions and Checkout build on [`build`] and [`store`] for their
//! inline `price_data` too. Prices are never deleted, only archived.

pub mod amount;

use serde_json::{json, Map, Value};

use super::amounts;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::products;
use super::search::Search;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension};

/// Storage: `product` and `lookup_key` indexed for lists and lookups.
pub static KIND: Kind = Kind {
    object: "price",
    table: "prices",
    prefix: "price_",
    id_len: 24,
    columns: &["product", "lookup_key"],
};

/// `GET /v1/prices/search`: the fields Stripe lets price queries name.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::token("active"),
            Field::number("created"),
            Field::token("currency"),
            Field::text("lookup_key"),
            Field::map("metadata"),
            Field::token("product"),
            Field::token("type"),
        ],
    },
    url: "/v1/prices/search",
};

/// The longest recurring interval Stripe allows: three years.
const MAX_INTERVALS: &[(&str, i64)] = &[("day", 1095), ("week", 156), ("month", 36), ("year", 3)];

/// A price about to be stored, with the fields kept beside it.
#[derive(Debug)]
pub struct NewPrice {
    pub price: Map<String, Value>,
    pub tiers: Option<Vec<Value>>,
    pub currency_options: Option<Value>,
}

impl NewPrice {
    pub fn id(&self) -> &str {
        self.price
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Builds a price of `product` from create parameters (`POST /v1/prices`, a
/// product's `default_price_data`, an item's `price_data`); `at` names the
/// parameters in messages (`""` or `default_price_data`). Checks everything,
/// writes nothing.
pub fn build(
    call: &Call,
    p: &Map<String, Value>,
    product: &str,
    at: &str,
) -> Result<NewPrice, StripeError> {
    let name = |field: &str| {
        if at.is_empty() {
            field.to_string()
        } else {
            format!("{at}[{field}]")
        }
    };
    let currency = match p.get("currency") {
        Some(Value::String(c)) => amounts::currency(c, &name("currency"))?,
        _ => return Err(StripeError::missing_parameter(&name("currency"))),
    };
    let scheme = p
        .get("billing_scheme")
        .and_then(Value::as_str)
        .unwrap_or("per_unit");
    let custom = match p.get("custom_unit_amount") {
        Some(c @ Value::Object(_)) if c["enabled"] == true => {
            Some(custom_unit_amount(c, &name("custom_unit_amount"))?)
        }
        _ => None,
    };
    let unit = unit_amount(p, &name)?;
    let mut price = into_map(json!({
        "id": Stripe.new_id(&KIND),
        "object": "price",
        "active": p.get("active").and_then(Value::as_bool).unwrap_or(true),
        "billing_scheme": scheme,
        "created": call.now,
        "currency": currency,
        "custom_unit_amount": custom,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": product,
        "recurring": null,
        "tax_behavior": p.get("tax_behavior").and_then(Value::as_str).unwrap_or("unspecified"),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "one_time",
        "unit_amount": null,
        "unit_amount_decimal": null,
    }));
    let mut tiers = None;
    if scheme == "tiered" {
        for field in [
            "unit_amount",
            "unit_amount_decimal",
            "custom_unit_amount",
            "transform_quantity",
        ] {
            if p.get(field).is_some_and(|v| !v.is_null()) {
                return Err(StripeError::invalid(
                    format!(
                        "You may not specify `{field}` for a price with `billing_scheme=tiered`."
                    ),
                    name(field),
                ));
            }
        }
        let Some(mode) = p.get("tiers_mode").and_then(Value::as_str) else {
            return Err(StripeError::missing_parameter(&name("tiers_mode")));
        };
        price.insert("tiers_mode".into(), mode.into());
        tiers = Some(build_tiers(p.get("tiers"), &name("tiers"))?);
    } else {
        if p.get("tiers").is_some_and(|v| !v.is_null()) {
            return Err(StripeError::invalid(
                "You may only specify `tiers` for a price with `billing_scheme=tiered`.",
                name("tiers"),
            ));
        }
        match (unit, &custom) {
            (Some(_), Some(_)) => {
                return Err(StripeError::invalid(
                    "You may not specify `unit_amount` together with `custom_unit_amount[enabled]=true`.",
                    name("unit_amount"),
                ))
            }
            (None, None) => return Err(StripeError::missing_parameter(&name("unit_amount"))),
            (Some(units), None) => {
                price.insert("unit_amount".into(), json!(amount::whole(units)));
                price.insert(
                    "unit_amount_decimal".into(),
                    amount::format_decimal(units).into(),
                );
            }
            (None, Some(_)) => {}
        }
        if let Some(t @ Value::Object(_)) = p.get("transform_quantity") {
            let divide_by = t.get("divide_by").and_then(Value::as_i64).unwrap_or(0);
            if divide_by < 1 {
                return Err(StripeError::invalid(
                    "This value must be greater than or equal to 1.",
                    name("transform_quantity[divide_by]"),
                ));
            }
            price.insert(
                "transform_quantity".into(),
                json!({"divide_by": divide_by, "round": t.get("round").cloned().unwrap_or(json!("down"))}),
            );
        }
    }
    if let Some(r @ Value::Object(_)) = p.get("recurring") {
        price.insert("recurring".into(), recurring(r, &name("recurring"))?);
        price.insert("type".into(), "recurring".into());
    }
    if let Some(Value::String(nick)) = p.get("nickname") {
        price.insert("nickname".into(), nick.as_str().into());
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut price, meta)?;
    }
    let currency_options = currency_options(
        p.get("currency_options"),
        &currency,
        &name("currency_options"),
    )?;
    let id = price["id"].as_str().unwrap_or_default().to_string();
    set_lookup_key(call.conn, &mut price, p, &id, &name("lookup_key"))?;
    Ok(NewPrice {
        price,
        tiers,
        currency_options,
    })
}

/// `unit_amount` or `unit_amount_decimal` (not both) in 10⁻¹² units.
fn unit_amount(
    p: &Map<String, Value>,
    name: &dyn Fn(&str) -> String,
) -> Result<Option<i128>, StripeError> {
    let int = p.get("unit_amount").and_then(Value::as_i64);
    let dec = p.get("unit_amount_decimal").and_then(Value::as_str);
    match (int, dec) {
        (Some(_), Some(_)) => Err(StripeError::invalid_code(
            "parameters_exclusive",
            "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            name("unit_amount"),
        )),
        (Some(n), None) if n < 0 => Err(StripeError::invalid(
            "This value must be greater than or equal to 0.",
            name("unit_amount"),
        )),
        (Some(n), None) => Ok(Some(i128::from(n) * 1_000_000_000_000)),
        (None, Some(d)) => match amount::parse_decimal(d) {
            Some(v) if v >= 0 => Ok(Some(v)),
            _ => Err(StripeError::invalid(
                format!("Invalid decimal: {d}"),
                name("unit_amount_decimal"),
            )),
        },
        (None, None) => Ok(None),
    }
}

/// `custom_unit_amount`: pay-what-you-want bounds, as Stripe returns them.
fn custom_unit_amount(c: &Value, at: &str) -> Result<Value, StripeError> {
    let get = |k: &str| c.get(k).and_then(Value::as_i64);
    let (min, max, preset) = (get("minimum"), get("maximum"), get("preset"));
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(StripeError::invalid(
                "The minimum must be less than or equal to the maximum.",
                format!("{at}[minimum]"),
            ));
        }
    }
    if let Some(p) = preset {
        if min.is_some_and(|lo| p < lo) || max.is_some_and(|hi| p > hi) {
            return Err(StripeError::invalid(
                "The preset must be between the minimum and the maximum.",
                format!("{at}[preset]"),
            ));
        }
    }
    Ok(json!({"maximum": max, "minimum": min, "preset": preset}))
}

/// `recurring` as Stripe returns it, its interval at most three years.
fn recurring(r: &Value, at: &str) -> Result<Value, StripeError> {
    let interval = r["interval"].as_str().unwrap_or("month");
    let count = r.get("interval_count").and_then(Value::as_i64).unwrap_or(1);
    let max = MAX_INTERVALS
        .iter()
        .find(|(i, _)| *i == interval)
        .map_or(1, |(_, m)| *m);
    if count < 1 || count > max {
        return Err(StripeError::invalid(
            format!(
                "Invalid recurring[interval_count]: the maximum billing interval is 3 years \
                 ({max} {interval}s); it must be between 1 and {max}."
            ),
            format!("{at}[interval_count]"),
        ));
    }
    let usage = r
        .get("usage_type")
        .and_then(Value::as_str)
        .unwrap_or("licensed");
    if usage == "metered" || r.get("meter").is_some_and(|m| !m.is_null()) {
        return Err(StripeError::unsupported(
            &format!("{at}[usage_type]"),
            "metered prices need billing meters, which are not emulated",
        ));
    }
    Ok(json!({
        "interval": interval,
        "interval_count": count,
        "meter": null,
        "trial_period_days": r.get("trial_period_days").and_then(Value::as_i64),
        "usage_type": usage,
    }))
}

/// `tiers` as Stripe returns them: bounds rising, the last `inf` (`null`),
/// each with an amount.
fn build_tiers(given: Option<&Value>, at: &str) -> Result<Vec<Value>, StripeError> {
    let Some(Value::Array(given)) = given else {
        return Err(StripeError::missing_parameter(at));
    };
    if given.is_empty() {
        return Err(StripeError::missing_parameter(at));
    }
    let mut out = Vec::with_capacity(given.len());
    let mut last_bound = 0i64;
    for (i, t) in given.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let up_to = match t.get("up_to") {
            Some(Value::String(s)) if s == "inf" => None,
            Some(Value::Number(n)) => n.as_i64(),
            _ => return Err(StripeError::missing_parameter(&format!("{here}[up_to]"))),
        };
        let is_last = i + 1 == given.len();
        match up_to {
            None if !is_last => {
                return Err(StripeError::invalid(
                    "Only the last tier may have `up_to=inf`.",
                    format!("{here}[up_to]"),
                ))
            }
            Some(_) if is_last => {
                return Err(StripeError::invalid(
                    "The last tier must have `up_to=inf`.",
                    format!("{here}[up_to]"),
                ))
            }
            Some(n) if n <= last_bound => {
                return Err(StripeError::invalid(
                    "Tiers must be in ascending order of `up_to`, each above the one before (and above 0).",
                    format!("{here}[up_to]"),
                ))
            }
            Some(n) => last_bound = n,
            None => {}
        }
        let unit = pair(t, "unit_amount", &here)?;
        let flat = pair(t, "flat_amount", &here)?;
        if unit.is_none() && flat.is_none() {
            return Err(StripeError::invalid(
                "Each tier needs a `unit_amount`, `unit_amount_decimal`, `flat_amount` or `flat_amount_decimal`.",
                format!("{here}[unit_amount]"),
            ));
        }
        let int = |v: Option<i128>| v.and_then(amount::whole);
        let dec = |v: Option<i128>| v.map(amount::format_decimal);
        out.push(json!({
            "flat_amount": int(flat),
            "flat_amount_decimal": dec(flat),
            "unit_amount": int(unit),
            "unit_amount_decimal": dec(unit),
            "up_to": up_to,
        }));
    }
    Ok(out)
}

/// A tier's `{field}` or `{field}_decimal` (not both), in 10⁻¹² units.
fn pair(t: &Value, field: &str, at: &str) -> Result<Option<i128>, StripeError> {
    let int = t.get(field).and_then(Value::as_i64);
    let dec = t.get(format!("{field}_decimal")).and_then(Value::as_str);
    match (int, dec) {
        (Some(_), Some(_)) => Err(StripeError::invalid_code(
            "parameters_exclusive",
            format!("You may only specify one of these parameters: {field}, {field}_decimal."),
            format!("{at}[{field}]"),
        )),
        (Some(n), None) if n >= 0 => Ok(Some(i128::from(n) * 1_000_000_000_000)),
        (None, Some(d)) => match amount::parse_decimal(d) {
            Some(v) if v >= 0 => Ok(Some(v)),
            _ => Err(StripeError::invalid(
                format!("Invalid decimal: {d}"),
                format!("{at}[{field}_decimal]"),
            )),
        },
        (Some(_), None) => Err(StripeError::invalid(
            "This value must be greater than or equal to 0.",
            format!("{at}[{field}]"),
        )),
        (None, None) => Ok(None),
    }
}

/// `currency_options`: other currencies' amounts, keyed by currency (not the
/// price's own). Kept as given, amounts completed as Stripe returns them.
fn currency_options(
    given: Option<&Value>,
    currency: &str,
    at: &str,
) -> Result<Option<Value>, StripeError> {
    let Some(Value::Object(opts)) = given else {
        return Ok(None);
    };
    let mut out = Map::new();
    for (cur, o) in opts {
        let c = amounts::currency(cur, at)?;
        if c == currency {
            return Err(StripeError::invalid(
                format!("`{at}` may not include the price's own currency ({currency})."),
                format!("{at}[{cur}]"),
            ));
        }
        let here = format!("{at}[{cur}]");
        let unit = pair(o, "unit_amount", &here)?;
        out.insert(
            c,
            json!({
                "custom_unit_amount": null,
                "tax_behavior": o.get("tax_behavior").cloned().unwrap_or(json!("unspecified")),
                "unit_amount": unit.and_then(amount::whole),
                "unit_amount_decimal": unit.map(amount::format_decimal),
            }),
        );
    }
    Ok(Some(Value::Object(out)))
}

/// Sets `lookup_key` when given: unique across the session's prices unless
/// `transfer_lookup_key` takes it from the price holding it.
fn set_lookup_key(
    conn: &Connection,
    price: &mut Map<String, Value>,
    p: &Map<String, Value>,
    id: &str,
    at: &str,
) -> Result<(), StripeError> {
    let key = match p.get("lookup_key") {
        Some(Value::String(k)) => k.clone(),
        Some(Value::Null) => {
            price.insert("lookup_key".into(), Value::Null);
            return Ok(());
        }
        _ => return Ok(()),
    };
    if let Some(holder) = holder_of(conn, &key)? {
        let holder_id = holder["id"].as_str().unwrap_or_default();
        if holder_id != id && p.get("transfer_lookup_key") != Some(&Value::Bool(true)) {
            return Err(StripeError::invalid(
                format!("A price (`{holder_id}`) already uses that lookup key."),
                at,
            ));
        }
    }
    price.insert("lookup_key".into(), key.into());
    Ok(())
}

/// The price holding `lookup_key`, if any.
fn holder_of(conn: &Connection, key: &str) -> Result<Option<Value>, StripeError> {
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM prices WHERE lookup_key = ?1 LIMIT 1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(match id {
        Some(id) => KIND.load(conn, &id)?,
        None => None,
    })
}

/// Takes the lookup key of `price` from the price that held it (the holder is
/// updated and raises `price.updated`).
fn transfer_lookup_key(call: &Call, price: &Map<String, Value>) -> Result<(), StripeError> {
    let Some(key) = price.get("lookup_key").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(holder) = holder_of(call.conn, key)? else {
        return Ok(());
    };
    if holder["id"] == price["id"] {
        return Ok(());
    }
    let mut moved = holder.clone();
    moved["lookup_key"] = Value::Null;
    KIND.save(call.conn, &moved)?;
    events::emit(call, "price.updated", &moved, Some(&holder))?;
    Ok(())
}

/// Stores a built price, its kept fields and its `price.created` event.
pub fn store(call: &Call, new: NewPrice) -> Result<Value, StripeError> {
    transfer_lookup_key(call, &new.price)?;
    let id = new.id().to_string();
    if let Some(tiers) = &new.tiers {
        included::put(call.conn, &id, "tiers", &Value::Array(tiers.clone()))?;
    }
    if let Some(opts) = &new.currency_options {
        included::put(call.conn, &id, "currency_options", opts)?;
    }
    let v = Value::Object(new.price);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "price.created", &v, None)?;
    Ok(v)
}

/// The tiers of a tiered price (empty for others).
pub fn tiers_of(conn: &Connection, price: &Value) -> Result<Vec<Value>, StripeError> {
    let id = price["id"].as_str().unwrap_or_default();
    Ok(match included::get(conn, id, "tiers")? {
        Some(Value::Array(t)) => t,
        _ => Vec::new(),
    })
}

/// What `quantity` of `price` costs, in its currency's minor units.
pub fn amount(conn: &Connection, price: &Value, quantity: u64) -> Result<i64, StripeError> {
    Ok(amount::total(price, &tiers_of(conn, price)?, quantity))
}

/// Whether `price` is its product's `default_price`.
fn is_default_price(conn: &Connection, price: &Value) -> Result<bool, StripeError> {
    let product = products::KIND.load(conn, price["product"].as_str().unwrap_or_default())?;
    Ok(product.is_some_and(|p| p["default_price"] == price["id"]))
}

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("price", id, "price"))
}

/// `POST /v1/prices`: of an existing `product`, or a new one from `product_data`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let product = match (p.get("product"), p.get("product_data")) {
        (Some(Value::String(id)), None) => {
            products::live(call.conn, id, "product")?;
            None
        }
        (None, Some(data @ Value::Object(_))) => Some(products::build(call, data, "product_data")?),
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid_code(
                "parameters_exclusive",
                "You may only specify one of these parameters: product, product_data.",
                "product",
            ))
        }
        _ => return Err(StripeError::missing_parameter("product")),
    };
    let product_id = match (&product, p.get("product")) {
        (Some(new), _) => new["id"].as_str().unwrap_or_default().to_string(),
        (None, Some(Value::String(id))) => id.clone(),
        _ => String::new(),
    };
    let price = build(call, p, &product_id, "")?;
    if let Some(new) = product {
        products::store(call, new)?;
    }
    store(call, price)
}

/// `GET /v1/prices/{price}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("price"))
}

/// `POST /v1/prices/{price}`: only what Stripe lets change after creation.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("price");
    let before = load(call.conn, id)?;
    let mut price = into_map(before.clone());
    let p = call.params;
    if let Some(Value::Bool(active)) = p.get("active") {
        if !active && before["active"] == true && is_default_price(call.conn, &before)? {
            return Err(StripeError::invalid(
                "This price cannot be archived because it is the default price of its product.",
                "active",
            ));
        }
        price.insert("active".into(), (*active).into());
    }
    if let Some(nick) = p.get("nickname") {
        price.insert("nickname".into(), nick.clone());
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut price, meta)?;
    }
    if let Some(Value::String(tb)) = p.get("tax_behavior") {
        let current = price["tax_behavior"].as_str().unwrap_or("unspecified");
        if current != "unspecified" && current != tb {
            return Err(StripeError::invalid(
                "Tax behavior cannot be changed once it is set to `inclusive` or `exclusive`.",
                "tax_behavior",
            ));
        }
        price.insert("tax_behavior".into(), tb.as_str().into());
    }
    set_lookup_key(call.conn, &mut price, p, id, "lookup_key")?;
    if let Some(opts) = p.get("currency_options") {
        let currency = price["currency"].as_str().unwrap_or_default().to_string();
        if let Some(new) = currency_options(Some(opts), &currency, "currency_options")? {
            let mut merged = match included::get(call.conn, id, "currency_options")? {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            merged.extend(into_map(new));
            included::put(call.conn, id, "currency_options", &Value::Object(merged))?;
        }
    }
    transfer_lookup_key(call, &price)?;
    let v = Value::Object(price);
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "price.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `GET /v1/prices`: newest first, by product, `lookup_keys`, `active`,
/// `type`, `currency` and `recurring`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::String(product)) = p.get("product") {
        q.filters.push(("product", product.clone().into()));
    }
    if let Some(Value::Array(keys)) = p.get("lookup_keys") {
        if keys.len() > 10 {
            return Err(StripeError::invalid(
                "Invalid array: lookup_keys can have at most 10 items",
                "lookup_keys",
            ));
        }
        let keys = keys
            .iter()
            .filter_map(Value::as_str)
            .map(|k| Sql::Text(k.to_string()));
        q.conditions.push(Filter::In("lookup_key", keys.collect()));
    }
    if let Some(Value::Bool(active)) = p.get("active") {
        q.conditions
            .push(Filter::Field("$.active", Sql::Integer(i64::from(*active))));
    }
    for field in ["type", "currency"] {
        if let Some(Value::String(v)) = p.get(field) {
            let path = if field == "type" {
                "$.type"
            } else {
                "$.currency"
            };
            q.conditions.push(Filter::Field(path, Sql::Text(v.clone())));
        }
    }
    if let Some(Value::Object(r)) = p.get("recurring") {
        if let Some(Value::String(i)) = r.get("interval") {
            q.conditions
                .push(Filter::Field("$.recurring.interval", Sql::Text(i.clone())));
        }
        if let Some(Value::String(u)) = r.get("usage_type") {
            q.conditions.push(Filter::Field(
                "$.recurring.usage_type",
                Sql::Text(u.clone()),
            ));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/prices")
}

/// `GET /v1/prices/search`.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}
