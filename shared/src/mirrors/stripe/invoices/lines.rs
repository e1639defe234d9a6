//! An invoice's lines (`line_item`): one per invoice item on it, one per
//! subscription item billed by it. Stored apart from the invoice, oldest
//! first, so `GET /v1/invoices/{invoice}/lines` pages them; a line's taxes
//! come from its item's tax rates, else the invoice's `default_tax_rates`.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::super::error::StripeError;
use super::super::invoice_items;
use super::super::lists;
use super::super::pipeline::Call;
use super::super::subscriptions::items as subscription_items;
use super::super::tax_rates;
use super::super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "line_item",
    table: "invoice_lines",
    prefix: "il_",
    id_len: 24,
    columns: &["invoice"],
};

/// The line invoice item `item` makes on invoice `invoice`.
pub fn for_item(item: &Value, invoice: &str) -> Value {
    let mut line = json!({
        "id": Stripe.new_id(&KIND),
        "object": "line_item",
        "amount": 0,
        "currency": item["currency"],
        "description": null,
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "invoice": invoice,
        "livemode": false,
        "metadata": {},
        "parent": {
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": item["proration"],
                "proration_details": {"credited_items": null},
                "subscription": item["parent"]["subscription_details"]["subscription"],
            },
            "subscription_item_details": null,
            "type": "invoice_item_details",
        },
        "period": item["period"],
        "pretax_credit_amounts": [],
        "pricing": null,
        "quantity": null,
        "quantity_decimal": null,
        "subscription": item["parent"]["subscription_details"]["subscription"],
        "subtotal": 0,
        "taxes": [],
    });
    copy_item(&mut line, item);
    line
}

/// The fields a line takes from its invoice item.
fn copy_item(line: &mut Value, item: &Value) {
    for (to, from) in [
        ("amount", "amount"),
        ("subtotal", "amount"),
        ("description", "description"),
        ("discountable", "discountable"),
        ("metadata", "metadata"),
        ("period", "period"),
        ("pricing", "pricing"),
        ("quantity", "quantity"),
        ("quantity_decimal", "quantity_decimal"),
    ] {
        line[to] = item[from].clone();
    }
    if line["metadata"].is_null() {
        line["metadata"] = json!({});
    }
}

/// Stores a new line.
pub fn insert(call: &Call, line: &Value) -> Result<(), StripeError> {
    // Lines carry no `created`: they list in the order they were added.
    KIND.insert_at(call.conn, line, 0)?;
    Ok(())
}

/// Invoice `invoice`'s lines, oldest first.
pub fn of(conn: &Connection, invoice: &str) -> Result<Vec<Value>, StripeError> {
    Ok(KIND.select(conn, "invoice = ?1", [invoice])?)
}

/// Brings `invoice`'s item lines in line with their items: a deleted item's
/// line goes, a changed item's line follows it.
pub fn sync_items(call: &Call, invoice: &str) -> Result<(), StripeError> {
    for mut line in of(call.conn, invoice)? {
        let Some(item_id) = line["parent"]["invoice_item_details"]["invoice_item"]
            .as_str()
            .map(str::to_string)
        else {
            continue;
        };
        let line_id = line["id"].as_str().unwrap_or_default().to_string();
        match invoice_items::KIND.load(call.conn, &item_id)? {
            Some(item) if item["invoice"] == invoice => {
                let before = line.clone();
                copy_item(&mut line, &item);
                if line != before {
                    KIND.save(call.conn, &line)?;
                }
            }
            _ => KIND.remove(call.conn, &line_id)?,
        }
    }
    Ok(())
}

/// The tax rates that apply to `line`: its item's, else the invoice's defaults.
fn rates_of(conn: &Connection, line: &Value, defaults: &Value) -> Result<Vec<Value>, StripeError> {
    let own = match line["parent"]["invoice_item_details"]["invoice_item"].as_str() {
        Some(item) => invoice_items::KIND
            .load(conn, item)?
            .map(|i| i["tax_rates"].clone())
            .unwrap_or(Value::Null),
        None => match line["parent"]["subscription_item_details"]["subscription_item"].as_str() {
            Some(item) => subscription_items::KIND
                .load(conn, item)?
                .map(|i| i["tax_rates"].clone())
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
    };
    let chosen = match own.as_array() {
        Some(r) if !r.is_empty() => r.clone(),
        _ => defaults.as_array().cloned().unwrap_or_default(),
    };
    Ok(chosen)
}

/// Sets `line.taxes` from the rates that apply to it: exclusive rates tax the
/// amount after its discounts (`less`), inclusive ones are the part of it
/// they stand for.
pub fn tax(
    conn: &Connection,
    line: &mut Value,
    defaults: &Value,
    less: i64,
) -> Result<(), StripeError> {
    let amount = line["amount"].as_i64().unwrap_or(0) - less;
    let rates = rates_of(conn, line, defaults)?;
    let taxes: Vec<Value> = rates
        .iter()
        .map(|r| {
            let tax = tax_rates::tax_of(r, amount);
            let inclusive = r["inclusive"] == true;
            json!({
                "amount": tax,
                "tax_behavior": if inclusive { "inclusive" } else { "exclusive" },
                "tax_rate_details": {"tax_rate": r["id"]},
                "taxability_reason": "standard_rated",
                "taxable_amount": if inclusive { amount - tax } else { amount },
                "type": "tax_rate_details",
            })
        })
        .collect();
    line["taxes"] = Value::Array(taxes);
    Ok(())
}

/// `GET /v1/invoices/{invoice}/lines`: oldest first.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    super::load(call.conn, id)?;
    let mut q = lists::query(call.params)?;
    q.oldest_first = true;
    q.filters.push(("invoice", id.to_string().into()));
    lists::page(call.conn, &KIND, &q, &format!("/v1/invoices/{id}/lines"))
}
