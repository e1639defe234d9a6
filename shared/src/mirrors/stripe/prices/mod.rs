//! Prices: `/v1/prices`. One-time and recurring, per unit (integer or
//! decimal amounts, `transform_quantity`, `custom_unit_amount`) or tiered
//! (`volume` / `graduated`), with lookup keys unique across the session's
//! prices (`transfer_lookup_key` moves one). Stripe returns `tiers` and
//! `currency_options` only when expanded, so they are kept beside the price
//! (`toolkit::included`). [`amount`] is what a quantity costs; invoices,
//! subscriptions and Checkout build on [`build`] and [`store`] for their
//! inline `price_data` too. Prices are never deleted, only archived.

pub mod amount;
mod build;

pub use build::build;
use build::currency_options;

use serde_json::{Map, Value};

use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::products;
use super::search::Search;
use super::update;
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
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

/// Sets `lookup_key` when given: unique across the session's prices unless
/// `transfer_lookup_key` takes it from the price holding it.
pub(super) fn set_lookup_key(
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
