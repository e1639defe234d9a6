//! Checkout Sessions: `/v1/checkout/sessions`. A session's `url` is a page
//! this mirror serves ([`page`]) where a person or a headless browser pays
//! with a test card; [`complete`] does what paying does — a PaymentIntent
//! (`payment`), a subscription (`subscription`) or a SetupIntent (`setup`) for
//! the customer it finds or makes — then `checkout.session.completed` and the
//! browser goes to `success_url`. Mirra's helper completes a session without
//! a browser (`POST /v1/test_helpers/mirra/checkout/sessions/{session}/complete`).
//! Sessions expire after `expires_at` (24 hours by default) through the
//! dispatcher, or at once with `expire`.

pub mod complete;
pub mod page;

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::amounts;
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::subscriptions::items as subscription_items;
use super::update;
use super::{discounts, prices, Stripe};
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::toolkit::timers;
use crate::mirrors::Vendor;
use crate::session::id::random_token;
use rusqlite::types::Value as Sql;

/// Storage: `customer` and `status` indexed.
pub static KIND: Kind = Kind {
    object: "checkout.session",
    table: "checkout_sessions",
    prefix: "cs_test_",
    id_len: 58,
    columns: &["customer", "status"],
};

/// The timer that expires an open session at its `expires_at`.
pub const EXPIRES: &str = "checkout.session.expire";

/// Sessions last 24 hours unless `expires_at` says otherwise (30 minutes to 24 hours).
const LIFETIME_SECS: i64 = 24 * 3600;

const HANDLED: &[&str] = &[
    "allow_promotion_codes",
    "allowed_payment_method_types",
    "billing_address_collection",
    "cancel_url",
    "client_reference_id",
    "currency",
    "customer",
    "customer_creation",
    "customer_email",
    "discounts",
    "expand",
    "expires_at",
    "line_items",
    "locale",
    "metadata",
    "mode",
    "payment_intent_data",
    "payment_method_types",
    "setup_intent_data",
    "submit_type",
    "subscription_data",
    "success_url",
    "ui_mode",
];

const NOT_EMULATED: &str = "Checkout's embedded and elements modes, automatic tax, shipping, \
    custom fields, consent and tax id collection, Connect and payment links are not emulated";

/// `POST /v1/checkout/sessions`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    update::reject_unhandled(p, HANDLED, NOT_EMULATED)?;
    if let Some(mode) = p.get("ui_mode").and_then(Value::as_str) {
        if mode != "hosted_page" {
            return Err(StripeError::unsupported("ui_mode", NOT_EMULATED));
        }
    }
    for k in ["allowed_payment_method_types", "payment_method_types"] {
        if let Some(Value::Array(types)) = p.get(k) {
            if types.iter().any(|t| t != "card") {
                return Err(StripeError::unsupported(
                    k,
                    "only card payments are emulated",
                ));
            }
        }
    }
    let mode = p.get("mode").and_then(Value::as_str).unwrap_or("payment");
    let Some(success_url) = p.get("success_url").and_then(Value::as_str) else {
        return Err(StripeError::missing_parameter("success_url"));
    };
    let customer = match p.get("customer").and_then(Value::as_str) {
        Some(id) => Some(
            customers::KIND
                .load(call.conn, id)?
                .ok_or_else(|| StripeError::no_such_param("customer", id, "customer"))?,
        ),
        None => None,
    };
    if customer.is_some() && p.get("customer_email").is_some_and(|v| !v.is_null()) {
        return Err(StripeError::invalid_code(
            "parameters_exclusive",
            "You may only specify one of these parameters: customer, customer_email.",
            "customer_email",
        ));
    }
    let items = line_items(call, p.get("line_items"), mode)?;
    if mode != "setup" && items.is_empty() {
        return Err(StripeError::missing_parameter("line_items"));
    }
    let currency = match (items.first(), p.get("currency").and_then(Value::as_str)) {
        (Some(first), _) => Some(first["currency"].as_str().unwrap_or("usd").to_string()),
        (None, Some(c)) => Some(amounts::currency(c, "currency")?),
        (None, None) if mode == "setup" => return Err(StripeError::missing_parameter("currency")),
        (None, None) => None,
    };
    if items
        .iter()
        .any(|i| i["currency"].as_str() != currency.as_deref())
    {
        return Err(StripeError::invalid(
            "All line items must have the same currency.",
            "line_items",
        ));
    }
    let expires_at = match p.get("expires_at").and_then(Value::as_i64) {
        Some(t) if t < call.now + 1800 || t > call.now + LIFETIME_SECS => {
            return Err(StripeError::invalid(
                "expires_at must be between 30 minutes and 24 hours from now.",
                "expires_at",
            ))
        }
        Some(t) => t,
        None => call.now + LIFETIME_SECS,
    };
    let wanted = discounts::requested(
        call.conn,
        p.get("discounts"),
        customer
            .as_ref()
            .and_then(|c| c["id"].as_str())
            .unwrap_or_default(),
        call.now,
    )?;
    if !wanted.is_empty() && p.get("allow_promotion_codes") == Some(&json!(true)) {
        return Err(StripeError::invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            "discounts",
        ));
    }
    let id = Stripe.new_id(&KIND);
    let subtotal: i64 = items
        .iter()
        .map(|i| i["amount_subtotal"].as_i64().unwrap_or(0))
        .sum();
    let mut s = into_map(json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": p.get("allow_promotion_codes").cloned().unwrap_or(Value::Null),
        "allowed_payment_method_types": p.get("allowed_payment_method_types").cloned().unwrap_or(Value::Null),
        "amount_subtotal": if mode == "setup" { Value::Null } else { json!(subtotal) },
        "amount_total": if mode == "setup" { Value::Null } else { json!(subtotal) },
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": p.get("billing_address_collection").cloned().unwrap_or(Value::Null),
        "cancel_url": p.get("cancel_url").cloned().unwrap_or(Value::Null),
        "client_reference_id": p.get("client_reference_id").cloned().unwrap_or(Value::Null),
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": call.now,
        "currency": currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": customer.as_ref().map(|c| c["id"].clone()),
        "customer_account": null,
        "customer_creation": if customer.is_some() || mode != "payment" { Value::Null } else { p.get("customer_creation").cloned().unwrap_or(json!("if_required")) },
        "customer_details": customer.as_ref().map(|c| json!({"address": c["address"], "business_name": null, "email": c["email"], "individual_name": null, "name": c["name"], "phone": c["phone"], "tax_exempt": c["tax_exempt"], "tax_ids": []})),
        "customer_email": p.get("customer_email").cloned().unwrap_or(Value::Null),
        "discounts": [],
        "expires_at": expires_at,
    }));
    s.extend(into_map(json!({
        "integration_identifier": null,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": p.get("locale").cloned().unwrap_or(Value::Null),
        "managed_payments": null,
        "metadata": {},
        "mode": mode,
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": if mode == "subscription" { json!("always") } else { Value::Null },
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": if mode == "setup" { "no_payment_required" } else { "unpaid" },
        "permissions": null,
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": p.get("submit_type").cloned().unwrap_or(Value::Null),
        "subscription": null,
        "success_url": success_url,
        "total_details": if mode == "setup" { Value::Null } else { json!({"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}) },
        "ui_mode": "hosted_page",
        "url": format!("{}/_mirra/checkout/{id}", call.base_url),
        "wallet_options": null,
    })));
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut s, meta)?;
    }
    // What completing needs later, kept beside the session (never answered).
    let mut terms = Map::new();
    for k in [
        "payment_intent_data",
        "setup_intent_data",
        "subscription_data",
    ] {
        if let Some(v) = p.get(k) {
            terms.insert(k.into(), v.clone());
        }
    }
    terms.insert("secret".into(), json!(random_token(24)));
    if let Some(d) = p.get("discounts") {
        terms.insert("discounts".into(), d.clone());
    }
    let mut v = Value::Object(s);
    if !wanted.is_empty() {
        apply_discounts(call.conn, &mut v, &items, &wanted)?;
    }
    included::put(
        call.conn,
        &id,
        "line_items",
        &json!({
            "object": "list",
            "data": items,
            "has_more": false,
            "url": format!("/v1/checkout/sessions/{id}/line_items"),
        }),
    )?;
    included::put(call.conn, &id, TERMS, &Value::Object(terms))?;
    KIND.insert(call.conn, &v)?;
    let due = expires_at.saturating_mul(1000);
    timers::schedule(call.conn, EXPIRES, &id, None, due)?;
    call.owe(due);
    Ok(v)
}

/// Where the session keeps what completing it needs (`payment_intent_data`,
/// `subscription_data`, the page's secret): beside it, and not a field any
/// request may expand.
pub const TERMS: &str = "mirra_terms";

/// Sets the session's discounts (as asked for: coupon or promotion code) and
/// its totals after them; the coupons are redeemed when it completes.
pub(super) fn apply_discounts(
    conn: &Connection,
    s: &mut Value,
    items: &[Value],
    wanted: &[discounts::Requested],
) -> Result<(), StripeError> {
    let lines: Vec<Value> = items
        .iter()
        .map(|i| json!({"amount": i["amount_subtotal"], "discountable": true, "pricing": {"price_details": {"product": i["price"]["product"]}}}))
        .collect();
    let currency = s["currency"].as_str().unwrap_or("usd").to_string();
    let pairs: Vec<(String, Value)> = wanted
        .iter()
        .map(|r| {
            (
                r.coupon()["id"].as_str().unwrap_or_default().to_string(),
                r.coupon().clone(),
            )
        })
        .collect();
    let off = discounts::amounts_by(conn, &pairs, &lines, &currency)?;
    let total_off: i64 = off
        .iter()
        .flatten()
        .filter_map(|d| d["amount"].as_i64())
        .sum();
    let subtotal = s["amount_subtotal"].as_i64().unwrap_or(0);
    s["amount_total"] = json!(subtotal - total_off);
    s["total_details"]["amount_discount"] = json!(total_off);
    s["discounts"] = Value::Array(
        wanted
            .iter()
            .map(|r| match r.promotion_code() {
                Some(p) => json!({"coupon": null, "promotion_code": p["id"]}),
                None => json!({"coupon": r.coupon()["id"], "promotion_code": null}),
            })
            .collect(),
    );
    Ok(())
}

/// Checkout `item`s from `line_items` (a price, or inline `price_data`, and a
/// quantity); a subscription needs recurring prices, a payment one-time ones.
fn line_items(call: &Call, given: Option<&Value>, mode: &str) -> Result<Vec<Value>, StripeError> {
    let Some(Value::Array(list)) = given else {
        return Ok(Vec::new());
    };
    if mode == "setup" && !list.is_empty() {
        return Err(StripeError::invalid(
            "You cannot pass `line_items` in `setup` mode.",
            "line_items",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, it) in list.iter().enumerate() {
        let at = format!("line_items[{i}]");
        let m = it.as_object().cloned().unwrap_or_default();
        if m.get("adjustable_quantity").is_some_and(|v| !v.is_null()) {
            return Err(StripeError::unsupported(
                &format!("{at}[adjustable_quantity]"),
                NOT_EMULATED,
            ));
        }
        let price = match (m.get("price").and_then(Value::as_str), m.get("price_data")) {
            (Some(id), None) => prices::KIND
                .load(call.conn, id)?
                .ok_or_else(|| StripeError::no_such_param("price", id, &format!("{at}[price]")))?,
            (None, Some(Value::Object(data))) => {
                if data.contains_key("product_data") {
                    return Err(StripeError::unsupported(
                        &format!("{at}[price_data][product_data]"),
                        "pass an existing product",
                    ));
                }
                let product = data
                    .get("product")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                super::products::live(call.conn, product, &format!("{at}[price_data][product]"))?;
                let mut pd = data.clone();
                pd.shift_remove("product");
                pd.insert("active".into(), json!(false));
                let built = prices::build(call, &pd, product, &format!("{at}[price_data]"))?;
                prices::store(call, built)?
            }
            _ => return Err(StripeError::missing_parameter(&format!("{at}[price]"))),
        };
        let recurring = price["type"] == "recurring";
        if mode == "payment" && recurring {
            return Err(StripeError::invalid(
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
                format!("{at}[price]"),
            ));
        }
        if mode == "subscription" && !recurring {
            return Err(StripeError::invalid(
                "You must provide at least one recurring price in `subscription` mode when using prices.",
                format!("{at}[price]"),
            ));
        }
        let quantity = m.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        if quantity < 1 {
            return Err(StripeError::invalid(
                "This value must be greater than or equal to 1.",
                format!("{at}[quantity]"),
            ));
        }
        let amount = prices::amount(call.conn, &price, quantity as u64)?;
        let description = match recurring {
            true => subscription_items::describe(call.conn, &price, quantity)?,
            false => super::products::KIND
                .load(call.conn, price["product"].as_str().unwrap_or_default())?
                .and_then(|p| p["name"].as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        out.push(json!({
            "id": format!("li_{}", random_token(24)),
            "object": "item",
            "adjustable_quantity": null,
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": 0,
            "amount_total": amount,
            "currency": price["currency"],
            "description": description,
            "metadata": m.get("metadata").cloned().unwrap_or(json!({})),
            "price": price,
            "quantity": quantity,
        }));
    }
    Ok(out)
}

pub fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("checkout.session", id, "session"))
}

/// `GET /v1/checkout/sessions/{session}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("session"))
}

/// `GET /v1/checkout/sessions/{session}/line_items`: in the order given.
pub fn list_line_items(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("session");
    load(call.conn, id)?;
    let all = included::get(call.conn, id, "line_items")?
        .and_then(|l| l["data"].as_array().cloned())
        .unwrap_or_default();
    let limit = lists::limit(call.params)?;
    let start = match call.params.get("starting_after").and_then(Value::as_str) {
        Some(after) => {
            1 + all
                .iter()
                .position(|i| i["id"] == after)
                .ok_or_else(|| StripeError::no_such("item", after, "starting_after"))?
        }
        None => 0,
    };
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    Ok(json!({
        "object": "list",
        "data": page,
        "has_more": start + limit < all.len(),
        "url": format!("/v1/checkout/sessions/{id}/line_items"),
    }))
}

/// `GET /v1/checkout/sessions`: newest first, by `status`, `customer`,
/// `payment_intent`, `subscription`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::String(s)) = p.get("status") {
        q.filters.push(("status", s.clone().into()));
    }
    if let Some(Value::String(c)) = p.get("customer") {
        q.filters.push(("customer", c.clone().into()));
    }
    for (param, path) in [
        ("payment_intent", "$.payment_intent"),
        ("subscription", "$.subscription"),
    ] {
        if let Some(Value::String(v)) = p.get(param) {
            q.conditions.push(Filter::Field(path, Sql::Text(v.clone())));
        }
    }
    lists::page(call.conn, &KIND, &q, "/v1/checkout/sessions")
}

/// `POST /v1/checkout/sessions/{session}/expire`: an open session only.
pub fn expire(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("session");
    let s = load(call.conn, id)?;
    if s["status"] != "open" {
        return Err(StripeError::invalid(
            format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                s["status"].as_str().unwrap_or_default()
            ),
            "session",
        ));
    }
    expire_now(call, &s)
}

fn expire_now(call: &Call, s: &Value) -> Result<Value, StripeError> {
    let mut after = s.clone();
    after["status"] = json!("expired");
    KIND.save(call.conn, &after)?;
    timers::cancel(call.conn, EXPIRES, s["id"].as_str().unwrap_or_default())?;
    events::emit(call, "checkout.session.expired", &after, None)?;
    Ok(after)
}

/// The [`EXPIRES`] timer.
pub fn expire_later(call: &Call, id: &str) -> Result<(), StripeError> {
    match KIND.load(call.conn, id)? {
        Some(s) if s["status"] == "open" => expire_now(call, &s).map(|_| ()),
        _ => Ok(()),
    }
}
