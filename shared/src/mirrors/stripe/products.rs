//! Products: `/v1/products`. What a price sells. A product may be created with
//! its `default_price_data` (the price is created with it), names its
//! `default_price` (one of its own active prices), and can be deleted only
//! while no price refers to it; deleted, it is gone (404), as on Stripe.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::prices;
use super::search::Search;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;

/// Storage: lists filter on fields of the document (few products per session).
pub static KIND: Kind = Kind {
    object: "product",
    table: "products",
    prefix: "prod_",
    id_len: 14,
    columns: &[],
};

/// `GET /v1/products/search`: the fields Stripe lets product queries name.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::token("active"),
            Field::number("created"),
            Field::text("description"),
            Field::map("metadata"),
            Field::text("name"),
            Field::token("shippable"),
            Field::text("url"),
        ],
    },
    url: "/v1/products/search",
};

const MAX_IMAGES: usize = 8;
const MAX_FEATURES: usize = 15;

/// The product `id` when it exists and is not deleted; else Stripe's 400 on
/// the parameter `param` that named it.
pub fn live(conn: &Connection, id: &str, param: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such_param("product", id, param))
}

/// A new product from create parameters (`POST /v1/products`, a price's
/// `product_data`); `at` names them in messages. Checks, writes nothing.
pub fn build(call: &Call, data: &Value, at: &str) -> Result<Map<String, Value>, StripeError> {
    let name = |f: &str| {
        if at.is_empty() {
            f.to_string()
        } else {
            format!("{at}[{f}]")
        }
    };
    let id = match data.get("id") {
        Some(Value::String(id)) if !id.is_empty() => {
            if KIND.find(call.conn, id)?.is_some() {
                return Err(StripeError::invalid_code(
                    "resource_already_exists",
                    "Product already exists.",
                    name("id"),
                ));
            }
            id.clone()
        }
        _ => Stripe.new_id(&KIND),
    };
    let mut product = into_map(json!({
        "id": id,
        "object": "product",
        "active": true,
        "created": call.now,
        "default_price": null,
        "description": null,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": {},
        "name": "",
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "tax_details": null,
        "type": "service",
        "unit_label": null,
        "updated": call.now,
        "url": null,
    }));
    let mut fields = data.as_object().cloned().unwrap_or_default();
    for handled in ["id", "default_price_data", "expand"] {
        fields.shift_remove(handled);
    }
    apply(&mut product, &fields, &name)?;
    Ok(product)
}

/// Sets validated create or update fields on a product, with Stripe's limits.
fn apply(
    product: &mut Map<String, Value>,
    p: &Map<String, Value>,
    name: &dyn Fn(&str) -> String,
) -> Result<(), StripeError> {
    let mut p = p.clone();
    if let Some(Value::Array(images)) = p.get("images") {
        if images.len() > MAX_IMAGES {
            return Err(StripeError::invalid(
                format!("Invalid array: images can have at most {MAX_IMAGES} items"),
                name("images"),
            ));
        }
    }
    match p.get_mut("marketing_features") {
        Some(Value::Array(features)) => {
            if features.len() > MAX_FEATURES {
                return Err(StripeError::invalid(
                    format!(
                        "Invalid array: marketing_features can have at most {MAX_FEATURES} items"
                    ),
                    name("marketing_features"),
                ));
            }
            for f in features.iter_mut() {
                *f = json!({"name": f.get("name").cloned().unwrap_or(Value::Null)});
            }
        }
        Some(v @ Value::Null) => *v = json!([]),
        _ => {}
    }
    if let Some(v @ Value::Null) = p.get_mut("images") {
        *v = json!([]);
    }
    if let Some(Value::String(sd)) = p.get("statement_descriptor") {
        if sd.len() < 5
            || !sd.chars().any(char::is_alphabetic)
            || sd
                .chars()
                .any(|c| matches!(c, '<' | '>' | '\\' | '\'' | '"' | '*'))
        {
            return Err(StripeError::invalid(
                "The statement descriptor must be 5 to 22 characters long, contain at least one \
                 letter and none of the characters < > \\ ' \" *.",
                name("statement_descriptor"),
            ));
        }
    }
    if let Some(Value::Object(t)) = p.get("tax_details") {
        let t = json!({
            "performance_location": t.get("performance_location"),
            "tax_code": t.get("tax_code"),
        });
        p.insert("tax_details".into(), t);
    }
    // A product always has a name: `name=` cannot unset it.
    match p.get("name") {
        Some(Value::Null) => return Err(StripeError::invalid_empty(&name("name"))),
        Some(Value::String(n)) if n.is_empty() => {
            return Err(StripeError::invalid_empty(&name("name")))
        }
        _ => {}
    }
    update::apply(product, &p, &[])
}

/// Stores a built product and its `product.created` event.
pub fn store(call: &Call, product: Map<String, Value>) -> Result<Value, StripeError> {
    let v = Value::Object(product);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "product.created", &v, None)?;
    Ok(v)
}

/// `POST /v1/products`: with `default_price_data`, its default price too.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let params = Value::Object(call.params.clone());
    let mut product = build(call, &params, "")?;
    let price = match call.params.get("default_price_data") {
        Some(Value::Object(data)) => {
            let id = product["id"].as_str().unwrap_or_default().to_string();
            Some(prices::build(call, data, &id, "default_price_data")?)
        }
        _ => None,
    };
    if let Some(price) = &price {
        product.insert("default_price".into(), price.id().into());
    }
    let v = store(call, product)?;
    if let Some(price) = price {
        prices::store(call, price)?;
    }
    Ok(v)
}

fn load(call: &Call, id: &str) -> Result<Value, StripeError> {
    KIND.load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such("product", id, "id"))
}

/// `GET /v1/products/{id}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call, call.args.get("id"))
}

/// `POST /v1/products/{id}`: `default_price` must be one of its active prices.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("id");
    let before = load(call, id)?;
    let mut product = into_map(before.clone());
    let mut p = call.params.clone();
    if let Some(Value::String(price_id)) = p.get("default_price") {
        let price = prices::KIND
            .load(call.conn, price_id)?
            .ok_or_else(|| StripeError::no_such_param("price", price_id, "default_price"))?;
        if price["product"] != id || price["active"] != true {
            return Err(StripeError::invalid(
                "The default price must be an active price of this product.",
                "default_price",
            ));
        }
    }
    p.shift_remove("expand");
    apply(&mut product, &p, &|f: &str| f.to_string())?;
    let v = {
        let mut changed = Value::Object(product);
        if changed != before {
            changed["updated"] = json!(call.now);
        }
        changed
    };
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "product.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `DELETE /v1/products/{id}`: only a product no price refers to.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("id");
    let product = load(call, id)?;
    let priced: bool = call
        .conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM prices WHERE product = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if priced {
        return Err(StripeError::invalid(
            "This product cannot be deleted because it has one or more user-created prices.",
            "id",
        ));
    }
    KIND.mark_deleted(call.conn, id)?;
    events::emit(call, "product.deleted", &product, None)?;
    Ok(json!({"id": id, "object": "product", "deleted": true}))
}

/// `GET /v1/products`: newest first, by `active`, `ids`, `shippable`, `type`
/// and `url`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    for (param, path) in [("active", "$.active"), ("shippable", "$.shippable")] {
        if let Some(Value::Bool(b)) = p.get(param) {
            q.conditions
                .push(Filter::Field(path, Sql::Integer(i64::from(*b))));
        }
    }
    for (param, path) in [("type", "$.type"), ("url", "$.url")] {
        if let Some(Value::String(s)) = p.get(param) {
            q.conditions.push(Filter::Field(path, Sql::Text(s.clone())));
        }
    }
    if let Some(Value::Array(ids)) = p.get("ids") {
        let ids = ids
            .iter()
            .filter_map(Value::as_str)
            .map(|s| Sql::Text(s.to_string()));
        q.conditions.push(Filter::In("id", ids.collect()));
    }
    lists::page(call.conn, &KIND, &q, "/v1/products")
}

/// `GET /v1/products/search`.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}
