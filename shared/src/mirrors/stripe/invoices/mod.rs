//! Invoices: `/v1/invoices`. A draft gathers lines (invoice items, a
//! subscription's items) and its totals follow them ([`refresh`]: subtotal,
//! exclusive and inclusive tax from tax rates, total, amount due); finalizing
//! numbers it and opens it; it is then paid (a PaymentIntent charges the
//! default payment method), voided or marked uncollectible ([`collect`]).
//! Lines are objects of their own (`line_item`, `GET …/lines`, oldest first);
//! the invoice embeds the first ten.

pub mod collect;
pub mod lines;
pub mod payments;
pub mod preview;

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::billing;
use super::customers;
use super::discounts;
use super::error::StripeError;
use super::events;
use super::invoice_items;
use super::lists;
use super::pipeline::Call;
use super::search::Search;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::search::{Field, Searchable};
use crate::mirrors::Vendor;
use rusqlite::types::Value as Sql;

/// Storage: `customer` and `status` indexed for lists and dunning.
pub static KIND: Kind = Kind {
    object: "invoice",
    table: "invoices",
    prefix: "in_",
    id_len: 24,
    columns: &["customer", "status"],
};

/// `GET /v1/invoices/search`.
pub static SEARCH: Search = Search {
    searchable: Searchable {
        kind: &KIND,
        fields: &[
            Field::number("created"),
            Field::token("currency"),
            Field::token("customer"),
            Field::map("metadata"),
            Field::text("number"),
            Field::token("status"),
            Field::number("total"),
        ],
    },
    url: "/v1/invoices/search",
};

/// What a new draft is for, besides its customer.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub currency: String,
    /// `manual`, `subscription_create`, `subscription_cycle`, `subscription_update`.
    pub billing_reason: &'static str,
    pub subscription: Option<String>,
    pub period: (i64, i64),
    pub collection_method: String,
    pub days_until_due: Option<i64>,
    pub default_payment_method: Option<String>,
    pub default_tax_rates: Value,
    pub auto_advance: bool,
}

/// A new draft invoice for `customer` at `now` (its clock's time), with
/// Stripe's defaults and the customer's details copied in.
pub fn new(customer: &Value, now: i64, d: &Draft) -> Map<String, Value> {
    let id = Stripe.new_id(&KIND);
    let parent = match &d.subscription {
        Some(sub) => json!({
            "quote_details": null,
            "subscription_details": {"metadata": {}, "subscription": sub},
            "type": "subscription_details",
        }),
        None => Value::Null,
    };
    let due_date = match (d.collection_method.as_str(), d.days_until_due) {
        ("send_invoice", Some(days)) => json!(now.saturating_add(days.saturating_mul(86_400))),
        _ => Value::Null,
    };
    let head = json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Mirra",
        "account_tax_ids": null,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": null,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": d.auto_advance,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
        "automatically_finalizes_at": null,
        "billing_reason": d.billing_reason,
        "collection_method": d.collection_method,
        "created": now,
        "currency": d.currency,
        "custom_fields": null,
    });
    let middle = json!({
        "customer": customer["id"],
        "customer_account": null,
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": customer["shipping"],
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": d.default_payment_method,
        "default_source": null,
        "default_tax_rates": d.default_tax_rates.as_array().map_or(json!([]), |r| json!(r)),
        "description": null,
        "discounts": [],
        "due_date": due_date,
        "effective_at": null,
        "ending_balance": null,
        "footer": null,
        "from_invoice": null,
        "hosted_invoice_url": null,
        "invoice_pdf": null,
        "issuer": {"type": "self"},
        "last_finalization_error": null,
        "latest_revision": null,
    });
    let tail = json!({
        "lines": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/invoices/{id}/lines")},
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": null,
        "number": null,
        "on_behalf_of": null,
        "parent": parent,
        "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
        "period_end": d.period.1,
        "period_start": d.period.0,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": null,
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": null,
        "status": "draft",
        "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null},
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": customer["test_clock"],
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": null,
    });
    let mut inv = into_map(head);
    inv.extend(into_map(middle));
    inv.extend(into_map(tail));
    inv
}

/// The live invoice `id`, else Stripe's 404.
pub fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("invoice", id, "invoice"))
}

/// A draft invoice (lines may still change); `param` names it in errors.
pub fn editable(conn: &Connection, id: &str, param: &str) -> Result<Value, StripeError> {
    let inv = KIND
        .load(conn, id)?
        .ok_or_else(|| StripeError::no_such_param("invoice", id, param))?;
    if inv["status"] != "draft" {
        return Err(StripeError::invalid(
            format!(
                "You can only modify draft invoices; invoice {id} is {}.",
                inv["status"].as_str().unwrap_or("finalized")
            ),
            param,
        ));
    }
    Ok(inv)
}

/// Puts invoice item `item` on draft `inv` as a line, and updates its totals.
pub fn add_item(call: &Call, inv: &Value, item: &Value) -> Result<Value, StripeError> {
    let id = inv["id"].as_str().unwrap_or_default();
    lines::insert(call, &lines::for_item(item, id))?;
    refresh(call, id)
}

/// Recomputes draft `id`'s lines from its invoice items and its totals from
/// its lines; saves and raises `invoice.updated` when anything changed.
pub fn refresh(call: &Call, id: &str) -> Result<Value, StripeError> {
    let before = load(call.conn, id)?;
    lines::sync_items(call, id)?;
    let mut inv = before.clone();
    totals(call.conn, &mut inv)?;
    if inv != before {
        KIND.save(call.conn, &inv)?;
        events::emit(call, "invoice.updated", &inv, Some(&before))?;
    }
    Ok(inv)
}

/// Sets `inv`'s embedded lines, taxes and totals from its stored lines.
pub fn totals(conn: &Connection, inv: &mut Value) -> Result<(), StripeError> {
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    let all = lines::of(conn, &id)?;
    let default_rates = inv["default_tax_rates"].clone();
    let currency = inv["currency"].as_str().unwrap_or("usd").to_string();
    let applied = inv["discounts"].as_array().cloned().unwrap_or_default();
    let period_start = inv["period_start"].as_i64().unwrap_or(0);
    let off = discounts::amounts(conn, &applied, &all, &currency, period_start)?;
    let mut subtotal = 0i64;
    let mut discounted = 0i64;
    let (mut inclusive, mut exclusive) = (0i64, 0i64);
    let mut by_rate: Vec<Value> = Vec::new();
    let mut out = Vec::with_capacity(all.len());
    for (mut line, line_off) in all.into_iter().zip(off.iter()) {
        let stored = line.clone();
        let less: i64 = line_off.iter().filter_map(|d| d["amount"].as_i64()).sum();
        line["discount_amounts"] = Value::Array(line_off.clone());
        lines::tax(conn, &mut line, &default_rates, less)?;
        if line != stored {
            lines::KIND.save(conn, &line)?;
        }
        subtotal += line["amount"].as_i64().unwrap_or(0);
        discounted += less;
        for t in line["taxes"].as_array().into_iter().flatten() {
            let amount = t["amount"].as_i64().unwrap_or(0);
            if t["tax_behavior"] == "inclusive" {
                inclusive += amount;
            } else {
                exclusive += amount;
            }
            let rate = &t["tax_rate_details"]["tax_rate"];
            match by_rate
                .iter_mut()
                .find(|r| r["tax_rate_details"]["tax_rate"] == *rate)
            {
                Some(r) => {
                    r["amount"] = json!(r["amount"].as_i64().unwrap_or(0) + amount);
                    r["taxable_amount"] = json!(
                        r["taxable_amount"].as_i64().unwrap_or(0)
                            + t["taxable_amount"].as_i64().unwrap_or(0)
                    );
                }
                None => by_rate.push(t.clone()),
            }
        }
        out.push(line);
    }
    inv["total_discount_amounts"] = Value::Array(discounts::totals_of(&off));
    let total = subtotal - discounted + exclusive;
    let paid = inv["amount_paid"].as_i64().unwrap_or(0);
    let due = total.max(0);
    let embedded: Vec<Value> = out.iter().take(10).cloned().collect();
    inv["lines"] = json!({
        "object": "list",
        "data": embedded,
        "has_more": out.len() > 10,
        "url": format!("/v1/invoices/{id}/lines"),
    });
    inv["subtotal"] = json!(subtotal);
    inv["subtotal_excluding_tax"] = json!(subtotal - inclusive);
    inv["total_excluding_tax"] = json!(subtotal - discounted - inclusive);
    inv["total"] = json!(total);
    inv["total_taxes"] = Value::Array(by_rate);
    inv["amount_due"] = json!(due);
    inv["amount_remaining"] = json!((due - paid).max(0));
    Ok(())
}

/// The customer an invoice request names (live), else Stripe's 400.
fn customer(call: &Call, id: &str) -> Result<Value, StripeError> {
    customers::KIND
        .load(call.conn, id)?
        .ok_or_else(|| StripeError::no_such_param("customer", id, "customer"))
}

/// The parameters `POST /v1/invoices` acts on; others are refused plainly.
const CREATE: &[&str] = &[
    "auto_advance",
    "collection_method",
    "currency",
    "custom_fields",
    "customer",
    "days_until_due",
    "default_payment_method",
    "default_tax_rates",
    "description",
    "discounts",
    "due_date",
    "expand",
    "footer",
    "metadata",
    "number",
    "pending_invoice_items_behavior",
    "statement_descriptor",
];

const NOT_EMULATED: &str =
    "Connect, automatic tax, shipping, rendering and invoice revisions are not emulated";

/// `POST /v1/invoices`: a draft for a customer; with
/// `pending_invoice_items_behavior=include`, its pending items become lines.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, CREATE, NOT_EMULATED)?;
    let Some(Value::String(customer_id)) = p.get("customer") else {
        return Err(StripeError::missing_parameter("customer"));
    };
    let customer = customer(call, customer_id)?;
    let now = billing::now_for(call, &customer)?;
    let collection = p
        .get("collection_method")
        .and_then(Value::as_str)
        .unwrap_or("charge_automatically")
        .to_string();
    let days = p.get("days_until_due").and_then(Value::as_i64);
    if let Some(d) = days {
        due_after(now, d)?;
    }
    let due_date = p.get("due_date").and_then(Value::as_i64);
    if collection == "send_invoice" && days.is_none() && due_date.is_none() {
        return Err(StripeError::invalid(
            "Invoices with `collection_method=send_invoice` need `days_until_due` or `due_date`.",
            "days_until_due",
        ));
    }
    if collection != "send_invoice" && (days.is_some() || due_date.is_some()) {
        return Err(StripeError::invalid(
            "`days_until_due` and `due_date` are only for invoices with `collection_method=send_invoice`.",
            if days.is_some() { "days_until_due" } else { "due_date" },
        ));
    }
    let include = p
        .get("pending_invoice_items_behavior")
        .and_then(Value::as_str)
        == Some("include");
    let pending = if include {
        invoice_items::pending(call.conn, customer_id)?
    } else {
        Vec::new()
    };
    let currency = match p.get("currency") {
        Some(Value::String(c)) => super::amounts::currency(c, "currency")?,
        _ => pending
            .first()
            .and_then(|i| i["currency"].as_str())
            .or(customer["currency"].as_str())
            .unwrap_or("usd")
            .to_string(),
    };
    if let Some(pm) = p.get("default_payment_method").and_then(Value::as_str) {
        super::payment_methods::check_attached(
            call.conn,
            pm,
            customer_id,
            "default_payment_method",
        )?;
    }
    let draft = Draft {
        currency: currency.clone(),
        billing_reason: "manual",
        subscription: None,
        period: (now, now),
        collection_method: collection,
        days_until_due: days,
        default_payment_method: p
            .get("default_payment_method")
            .and_then(Value::as_str)
            .map(str::to_string),
        default_tax_rates: invoice_items::rates(call.conn, p.get("default_tax_rates"))?,
        auto_advance: p
            .get("auto_advance")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let wanted = discounts::requested(call.conn, p.get("discounts"), customer_id, now)?;
    let mut inv = new(&customer, now, &draft);
    if let Some(d) = due_date {
        inv.insert("due_date".into(), json!(d));
    }
    for k in [
        "description",
        "footer",
        "statement_descriptor",
        "number",
        "custom_fields",
    ] {
        if let Some(v) = p.get(k) {
            inv.insert(k.into(), v.clone());
        }
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut inv, meta)?;
    }
    let id = inv["id"].as_str().unwrap_or_default().to_string();
    let target = discounts::Target {
        customer: customer_id,
        subscription: None,
        invoice: Some(&id),
    };
    inv.insert(
        "discounts".into(),
        discounts::ids(&discounts::apply(call, wanted, &target)?),
    );
    let mut v = Value::Object(inv);
    KIND.insert(call.conn, &v)?;
    for item in pending
        .iter()
        .filter(|i| i["currency"] == currency.as_str())
    {
        let mut moved = item.clone();
        moved["invoice"] = json!(id);
        invoice_items::KIND.save(call.conn, &moved)?;
        lines::insert(call, &lines::for_item(&moved, &id))?;
    }
    totals(call.conn, &mut v)?;
    if v["auto_advance"] == true {
        collect::plan_finalization(call, &mut v, now)?;
    }
    KIND.save(call.conn, &v)?;
    events::emit(call, "invoice.created", &v, None)?;
    Ok(v)
}

/// `GET /v1/invoices/{invoice}`: a deleted draft is gone.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("invoice"))
}

/// The due date `days` days after `from`: at least 0 days, at most Stripe's
/// ten years.
fn due_after(from: i64, days: i64) -> Result<i64, StripeError> {
    if !(0..=3650).contains(&days) {
        return Err(StripeError::invalid(
            "Invalid days_until_due: must be between 0 and 3650.",
            "days_until_due",
        ));
    }
    Ok(from + days * 86_400)
}

/// What `POST /v1/invoices/{invoice}` may change once the invoice is open.
const AFTER_FINALIZATION: &[&str] = &[
    "description",
    "expand",
    "footer",
    "metadata",
    "auto_advance",
];

/// `POST /v1/invoices/{invoice}`.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    let before = load(call.conn, id)?;
    let p = call.params;
    update::reject_unhandled(p, CREATE, NOT_EMULATED)?;
    if before["status"] != "draft" {
        if let Some(k) = p.keys().find(|k| !AFTER_FINALIZATION.contains(&k.as_str())) {
            return Err(StripeError::invalid(
                format!("You can only update `{k}` on a draft invoice."),
                k.as_str(),
            ));
        }
        if matches!(before["status"].as_str(), Some("paid" | "void"))
            && p.contains_key("auto_advance")
        {
            return Err(StripeError::invalid(
                "You cannot change `auto_advance` on a paid or void invoice.",
                "auto_advance",
            ));
        }
    }
    let mut inv = before.clone();
    let obj = inv
        .as_object_mut()
        .ok_or_else(|| StripeError::Internal("invoice is not an object".into()))?;
    for k in [
        "auto_advance",
        "collection_method",
        "custom_fields",
        "days_until_due",
        "description",
        "due_date",
        "footer",
        "number",
        "statement_descriptor",
    ] {
        if let Some(v) = p.get(k) {
            if k != "days_until_due" {
                obj.insert(k.into(), v.clone());
            }
        }
    }
    if let Some(days) = p.get("days_until_due").and_then(Value::as_i64) {
        let created = obj["created"].as_i64().unwrap_or(call.now);
        obj.insert("due_date".into(), json!(due_after(created, days)?));
    }
    if let Some(pm) = p.get("default_payment_method") {
        if let Some(pm_id) = pm.as_str() {
            let customer = obj["customer"].as_str().unwrap_or_default().to_string();
            super::payment_methods::check_attached(
                call.conn,
                pm_id,
                &customer,
                "default_payment_method",
            )?;
        }
        obj.insert("default_payment_method".into(), pm.clone());
    }
    if p.contains_key("default_tax_rates") {
        obj.insert(
            "default_tax_rates".into(),
            invoice_items::rates(call.conn, p.get("default_tax_rates"))?,
        );
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(obj, meta)?;
    }
    match p.get("discounts") {
        Some(Value::Null) => inv["discounts"] = json!([]),
        Some(given @ Value::Array(_)) => {
            let customer_id = inv["customer"].as_str().unwrap_or_default().to_string();
            let now = billing::now_for(call, &inv)?;
            let wanted = discounts::requested(call.conn, Some(given), &customer_id, now)?;
            let target = discounts::Target {
                customer: &customer_id,
                subscription: None,
                invoice: Some(id),
            };
            inv["discounts"] = discounts::ids(&discounts::apply(call, wanted, &target)?);
        }
        _ => {}
    }
    if inv["status"] == "draft" {
        totals(call.conn, &mut inv)?;
    }
    if inv["status"] == "draft" && inv["auto_advance"] != before["auto_advance"] {
        if inv["auto_advance"] == true {
            let now = billing::now_for(call, &inv)?;
            collect::plan_finalization(call, &mut inv, now)?;
        } else {
            collect::unschedule(call, id)?;
            inv["automatically_finalizes_at"] = Value::Null;
        }
    }
    if inv != before {
        KIND.save(call.conn, &inv)?;
        events::emit(call, "invoice.updated", &inv, Some(&before))?;
    }
    Ok(inv)
}

/// `DELETE /v1/invoices/{invoice}`: drafts only; their invoice items are
/// pending again.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("invoice");
    let inv = load(call.conn, id)?;
    if inv["status"] != "draft" {
        return Err(StripeError::invalid(
            "You can only delete draft invoices. Void an open invoice instead.",
            "invoice",
        ));
    }
    if inv["parent"]["type"] == "subscription_details" {
        return Err(StripeError::invalid(
            "A subscription's invoice cannot be deleted.",
            "invoice",
        ));
    }
    for line in lines::of(call.conn, id)? {
        if let Some(item_id) = line["parent"]["invoice_item_details"]["invoice_item"].as_str() {
            if let Some(mut item) = invoice_items::KIND.load(call.conn, item_id)? {
                item["invoice"] = Value::Null;
                invoice_items::KIND.save(call.conn, &item)?;
            }
        }
        lines::KIND.remove(call.conn, line["id"].as_str().unwrap_or_default())?;
    }
    collect::unschedule(call, id)?;
    KIND.mark_deleted(call.conn, id)?;
    events::emit(call, "invoice.deleted", &inv, None)?;
    Ok(json!({"id": id, "object": "invoice", "deleted": true}))
}

/// `GET /v1/invoices`: newest first, by `customer`, `status`,
/// `collection_method`, `subscription` and `due_date`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::String(c)) = p.get("customer") {
        q.filters.push(("customer", c.clone().into()));
    }
    if let Some(Value::String(s)) = p.get("status") {
        q.filters.push(("status", s.clone().into()));
    }
    if let Some(Value::String(m)) = p.get("collection_method") {
        q.conditions
            .push(Filter::Field("$.collection_method", Sql::Text(m.clone())));
    }
    if let Some(Value::String(s)) = p.get("subscription") {
        q.conditions.push(Filter::Field(
            "$.parent.subscription_details.subscription",
            Sql::Text(s.clone()),
        ));
    }
    if p.get("customer_account").is_some_and(|v| !v.is_null()) {
        return Ok(lists::empty("/v1/invoices"));
    }
    if let Some(d) = p.get("due_date") {
        let (lo, hi) = lists::range(Some(d), "due_date")?;
        q.conditions.push(Filter::Range("$.due_date", lo, hi));
    }
    lists::page(call.conn, &KIND, &q, "/v1/invoices")
}

/// `GET /v1/invoices/search`.
pub fn search(call: &Call) -> Result<Value, StripeError> {
    super::search::page(call, &SEARCH)
}
