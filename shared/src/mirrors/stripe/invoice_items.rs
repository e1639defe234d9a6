//! Invoice items: `/v1/invoiceitems`. A charge (or credit) for a customer
//! that waits, pending, for the customer's next invoice, or goes straight
//! onto a draft invoice (`invoice=in_…`). Priced by an amount, a price
//! (`pricing[price]`), inline `price_data`, or a decimal unit amount times a
//! quantity. Once its invoice is finalized an item can no longer change.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::amounts;
use super::billing;
use super::customers;
use super::error::StripeError;
use super::events;
use super::invoices;
use super::lists;
use super::pipeline::Call;
use super::prices::{self, amount as price_amount};
use super::products;
use super::tax_rates;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::Vendor;

/// Storage: `customer` and `invoice` indexed (an invoice gathers its
/// customer's pending items).
pub static KIND: Kind = Kind {
    object: "invoiceitem",
    table: "invoice_items",
    prefix: "ii_",
    id_len: 24,
    columns: &["customer", "invoice"],
};

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("invoiceitem", id, "id"))
}

/// The customer's pending items (on no invoice yet), oldest first.
pub fn pending(conn: &Connection, customer: &str) -> Result<Vec<Value>, StripeError> {
    Ok(KIND.select(conn, "customer = ?1 AND invoice IS NULL", [customer])?)
}

/// The pricing of an item: the unit amount in 10⁻¹² units and, when it is
/// priced by a price, the price.
struct Pricing {
    /// `amount`: the item's whole amount, whatever its quantity.
    total: Option<i64>,
    unit: Option<i128>,
    price: Option<Value>,
    currency: Option<String>,
}

/// Reads how `p` prices an item (`amount`, `pricing[price]`, `price_data`,
/// `unit_amount_decimal`), creating the price `price_data` describes only
/// when `commit` (after every check passed).
fn pricing(call: &Call, p: &Map<String, Value>) -> Result<Pricing, StripeError> {
    let given: Vec<&str> = ["amount", "pricing", "price_data", "unit_amount_decimal"]
        .into_iter()
        .filter(|k| p.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() > 1 {
        return Err(StripeError::invalid_code(
            "parameters_exclusive",
            format!(
                "You may only specify one of these parameters: {}.",
                given.join(", ")
            ),
            given[1],
        ));
    }
    let currency = match p.get("currency") {
        Some(Value::String(c)) => Some(amounts::currency(c, "currency")?),
        _ => None,
    };
    match given.first().copied() {
        Some("amount") => Ok(Pricing {
            total: p["amount"].as_i64(),
            unit: None,
            price: None,
            currency,
        }),
        Some("unit_amount_decimal") => {
            let d = p["unit_amount_decimal"].as_str().unwrap_or_default();
            let unit = price_amount::parse_decimal(d).ok_or_else(|| {
                StripeError::invalid(format!("Invalid decimal: {d}"), "unit_amount_decimal")
            })?;
            Ok(Pricing {
                total: None,
                unit: Some(unit),
                price: None,
                currency,
            })
        }
        Some("pricing") => {
            let Some(id) = p["pricing"].get("price").and_then(Value::as_str) else {
                return Err(StripeError::missing_parameter("pricing[price]"));
            };
            let price = prices::KIND
                .load(call.conn, id)?
                .ok_or_else(|| StripeError::no_such_param("price", id, "pricing[price]"))?;
            Ok(Pricing {
                total: None,
                unit: None,
                currency: price["currency"].as_str().map(str::to_string),
                price: Some(price),
            })
        }
        Some("price_data") => {
            let data = p["price_data"].as_object().cloned().unwrap_or_default();
            let product = data
                .get("product")
                .and_then(Value::as_str)
                .unwrap_or_default();
            products::live(call.conn, product, "price_data[product]")?;
            let mut price_params = data.clone();
            price_params.shift_remove("product");
            price_params.insert("active".into(), json!(false));
            let built = prices::build(call, &price_params, product, "price_data")?;
            Ok(Pricing {
                total: None,
                unit: None,
                currency: built.price["currency"].as_str().map(str::to_string),
                price: Some(Value::Object(built.price)),
            })
        }
        _ => Err(StripeError::missing_parameter("amount")),
    }
}

/// `POST /v1/invoiceitems`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    for (k, why) in [
        (
            "discounts",
            "discounts on invoice items are not emulated yet",
        ),
        (
            "subscription",
            "invoice items for a subscription's next invoice are not emulated yet",
        ),
        ("customer_account", "Accounts v2 are not emulated"),
        ("tax_code", "Stripe Tax is not emulated"),
    ] {
        if p.get(k).is_some_and(|v| !v.is_null() && v != &json!([])) {
            return Err(StripeError::unsupported(k, why));
        }
    }
    let customer_id = match p.get("customer") {
        Some(Value::String(c)) => c.clone(),
        _ => return Err(StripeError::missing_parameter("customer")),
    };
    let customer = customers::KIND
        .load(call.conn, &customer_id)?
        .ok_or_else(|| StripeError::no_such_param("customer", &customer_id, "customer"))?;
    let now = billing::now_for(call, &customer)?;
    let priced = pricing(call, p)?;
    let Some(currency) = priced.currency.clone() else {
        return Err(StripeError::missing_parameter("currency"));
    };
    let invoice = match p.get("invoice") {
        Some(Value::String(id)) => {
            let inv = invoices::editable(call.conn, id, "invoice")?;
            if inv["customer"] != customer_id.as_str() {
                return Err(StripeError::invalid(
                    format!("The invoice {id} belongs to another customer."),
                    "invoice",
                ));
            }
            if inv["currency"] != currency.as_str() {
                return Err(StripeError::invalid(
                    format!(
                        "The invoice item's currency ({currency}) must match the invoice's ({}).",
                        inv["currency"].as_str().unwrap_or_default()
                    ),
                    "currency",
                ));
            }
            Some(inv)
        }
        _ => None,
    };
    let quantity = quantity(p)?;
    let rates = rates(call.conn, p.get("tax_rates"))?;
    let period = match p.get("period") {
        Some(Value::Object(per)) => json!({"end": per.get("end"), "start": per.get("start")}),
        _ => json!({"end": now, "start": now}),
    };
    let mut item = into_map(json!({
        "id": Stripe.new_id(&KIND),
        "object": "invoiceitem",
        "amount": 0,
        "currency": currency,
        "customer": customer_id,
        "customer_account": null,
        "date": now,
        "description": p.get("description").cloned().unwrap_or(Value::Null),
        "discountable": p.get("discountable").and_then(Value::as_bool).unwrap_or(true),
        "discounts": [],
        "invoice": invoice.as_ref().map(|i| i["id"].clone()),
        "livemode": false,
        "metadata": {},
        "parent": null,
        "period": period,
        "pricing": null,
        "proration": false,
        "quantity": quantity,
        "quantity_decimal": quantity.to_string(),
        "tax_rates": rates,
        "test_clock": customer["test_clock"],
    }));
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut item, meta)?;
    }
    // Everything is checked: the inline price may be stored now.
    let price = match (&priced.price, p.contains_key("price_data")) {
        (Some(price), true) => {
            let built = prices::NewPrice {
                price: into_map(price.clone()),
                tiers: None,
                currency_options: None,
            };
            Some(prices::store(call, built)?)
        }
        (price, _) => price.clone(),
    };
    price_item(call, &mut item, priced.total, priced.unit, price.as_ref())?;
    let v = Value::Object(item);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "invoiceitem.created", &v, None)?;
    if let Some(inv) = invoice {
        invoices::add_item(call, &inv, &v)?;
    }
    Ok(v)
}

/// `quantity` (default 1, at least 0).
fn quantity(p: &Map<String, Value>) -> Result<i64, StripeError> {
    match p.get("quantity").and_then(Value::as_i64) {
        Some(q) if q < 0 => Err(StripeError::invalid(
            "This value must be greater than or equal to 0.",
            "quantity",
        )),
        Some(q) => Ok(q),
        None => Ok(1),
    }
}

/// `tax_rates` as the objects an item embeds (each must exist).
pub fn rates(conn: &Connection, given: Option<&Value>) -> Result<Value, StripeError> {
    let Some(Value::Array(ids)) = given else {
        return Ok(json!([]));
    };
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let id = id.as_str().unwrap_or_default();
        out.push(tax_rates::live(conn, id, &format!("tax_rates[{i}]"))?);
    }
    Ok(Value::Array(out))
}

/// Sets an item's `amount` and `pricing`: a whole `total` (`amount=`), a
/// unit amount or a price times its quantity.
fn price_item(
    call: &Call,
    item: &mut Map<String, Value>,
    total: Option<i64>,
    unit: Option<i128>,
    price: Option<&Value>,
) -> Result<(), StripeError> {
    let q = item["quantity"].as_i64().unwrap_or(1).max(0);
    let (amount, unit_decimal) = match (total, price, unit) {
        (Some(t), _, _) => (
            t,
            price_amount::format_decimal(i128::from(t) * 1_000_000_000_000 / i128::from(q.max(1))),
        ),
        (None, Some(price), _) => (
            prices::amount(call.conn, price, q as u64)?,
            price["unit_amount_decimal"]
                .as_str()
                .unwrap_or("0")
                .to_string(),
        ),
        (None, None, Some(u)) => (
            price_amount::round(u.saturating_mul(i128::from(q))),
            price_amount::format_decimal(u),
        ),
        (None, None, None) => return Ok(()),
    };
    item.insert("amount".into(), json!(amount));
    let pricing = match price {
        Some(price) => json!({
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": unit_decimal,
        }),
        None => json!({"type": "price_details", "unit_amount_decimal": unit_decimal}),
    };
    item.insert("pricing".into(), pricing);
    if let (Some(price), Some(Value::Null) | None) = (price, item.get("description")) {
        let product =
            products::KIND.load(call.conn, price["product"].as_str().unwrap_or_default())?;
        if let Some(name) = product.as_ref().and_then(|p| p["name"].as_str()) {
            item.insert("description".into(), name.into());
        }
    }
    Ok(())
}

/// An item that may still change: pending, or on a draft invoice.
fn editable(call: &Call, id: &str) -> Result<Value, StripeError> {
    let item = load(call.conn, id)?;
    if let Some(inv) = item["invoice"].as_str() {
        let status = invoices::KIND
            .load(call.conn, inv)?
            .map(|i| i["status"].clone())
            .unwrap_or(Value::Null);
        if status != "draft" {
            return Err(StripeError::invalid(
                format!(
                    "You cannot update or delete an invoice item that is on a finalized invoice ({inv})."
                ),
                "id",
            ));
        }
    }
    Ok(item)
}

/// `GET /v1/invoiceitems/{invoiceitem}`: a deleted item is gone.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("invoiceitem"))
}

/// `POST /v1/invoiceitems/{invoiceitem}`: a pending item or one on a draft.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoiceitem");
    let before = editable(call, id)?;
    let p = call.params;
    for (k, why) in [
        (
            "discounts",
            "discounts on invoice items are not emulated yet",
        ),
        ("invoicing_rules", "invoicing rules are not emulated"),
        ("tax_code", "Stripe Tax is not emulated"),
    ] {
        if p.get(k).is_some_and(|v| !v.is_null() && v != &json!([])) {
            return Err(StripeError::unsupported(k, why));
        }
    }
    let mut item = into_map(before.clone());
    let repriced = ["amount", "pricing", "price_data", "unit_amount_decimal"]
        .iter()
        .any(|k| p.get(*k).is_some_and(|v| !v.is_null()));
    let priced = if repriced {
        let mut with_currency = p.clone();
        with_currency.insert("currency".into(), before["currency"].clone());
        Some(pricing(call, &with_currency)?)
    } else {
        None
    };
    if let Some(pr) = &priced {
        if pr.currency.as_deref() != before["currency"].as_str() {
            return Err(StripeError::invalid(
                "The invoice item's currency cannot change.",
                "pricing",
            ));
        }
    }
    if p.contains_key("quantity") {
        let q = quantity(p)?;
        item.insert("quantity".into(), json!(q));
        item.insert("quantity_decimal".into(), json!(q.to_string()));
    }
    if p.contains_key("tax_rates") {
        item.insert("tax_rates".into(), rates(call.conn, p.get("tax_rates"))?);
    }
    for k in ["description", "discountable"] {
        if let Some(v) = p.get(k) {
            item.insert(k.into(), v.clone());
        }
    }
    if let Some(Value::Object(per)) = p.get("period") {
        item.insert(
            "period".into(),
            json!({"end": per.get("end"), "start": per.get("start")}),
        );
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut item, meta)?;
    }
    // Re-price from the new pricing, or the stored one with a new quantity.
    let price = match &priced {
        Some(pr) if p.contains_key("price_data") => {
            let built = prices::NewPrice {
                price: into_map(pr.price.clone().unwrap_or_default()),
                tiers: None,
                currency_options: None,
            };
            Some(prices::store(call, built)?)
        }
        Some(pr) => pr.price.clone(),
        None => match item["pricing"]["price_details"]["price"].as_str() {
            Some(pid) => prices::KIND.load(call.conn, pid)?,
            None => None,
        },
    };
    // Unchanged pricing: the same unit amount (or whole amount) again.
    let (total, unit) = match &priced {
        Some(pr) => (pr.total, pr.unit),
        None if price.is_some() => (None, None),
        None if before["quantity"] == item["quantity"] => (before["amount"].as_i64(), None),
        None => (
            None,
            item["pricing"]["unit_amount_decimal"]
                .as_str()
                .and_then(price_amount::parse_decimal),
        ),
    };
    price_item(call, &mut item, total, unit, price.as_ref())?;
    let v = Value::Object(item);
    if v != before {
        KIND.save(call.conn, &v)?;
        if let Some(inv) = v["invoice"].as_str() {
            invoices::refresh(call, inv)?;
        }
    }
    Ok(v)
}

/// `DELETE /v1/invoiceitems/{invoiceitem}`: a pending item or one on a draft.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoiceitem");
    let item = editable(call, id)?;
    KIND.mark_deleted(call.conn, id)?;
    events::emit(call, "invoiceitem.deleted", &item, None)?;
    if let Some(inv) = item["invoice"].as_str() {
        invoices::refresh(call, inv)?;
    }
    Ok(json!({"id": id, "object": "invoiceitem", "deleted": true}))
}

/// `GET /v1/invoiceitems`: newest first, by `customer`, `invoice`, `pending`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::String(c)) = p.get("customer") {
        q.filters.push(("customer", c.clone().into()));
    }
    if let Some(Value::String(i)) = p.get("invoice") {
        q.filters.push(("invoice", i.clone().into()));
    }
    if let Some(Value::Bool(pending)) = p.get("pending") {
        q.conditions.push(Filter::Null("invoice", *pending));
    }
    lists::page(call.conn, &KIND, &q, "/v1/invoiceitems")
}

/// What a subscription bills through an invoice item (a proration).
pub struct ForSubscription<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    pub subscription_item: Option<&'a str>,
    pub currency: &'a str,
    pub amount: i64,
    pub description: String,
    pub period: (i64, i64),
    pub price: Option<&'a Value>,
    pub quantity: i64,
    pub proration: bool,
    pub test_clock: &'a Value,
}

/// A pending invoice item a subscription makes (a proration), with its event.
pub fn insert_for_subscription(call: &Call, s: &ForSubscription) -> Result<Value, StripeError> {
    let pricing = match s.price {
        Some(price) => json!({
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        }),
        None => Value::Null,
    };
    let v = json!({
        "id": Stripe.new_id(&KIND),
        "object": "invoiceitem",
        "amount": s.amount,
        "currency": s.currency,
        "customer": s.customer,
        "customer_account": null,
        "date": call.now,
        "description": s.description,
        "discountable": false,
        "discounts": [],
        "invoice": null,
        "livemode": false,
        "metadata": {},
        "parent": {
            "subscription_details": {"subscription": s.subscription, "subscription_item": s.subscription_item},
            "type": "subscription_details",
        },
        "period": {"end": s.period.1, "start": s.period.0},
        "pricing": pricing,
        "proration": s.proration,
        "quantity": s.quantity,
        "quantity_decimal": s.quantity.to_string(),
        "tax_rates": [],
        "test_clock": s.test_clock,
    });
    KIND.insert(call.conn, &v)?;
    events::emit(call, "invoiceitem.created", &v, None)?;
    Ok(v)
}
