//! Promotion codes: `/v1/promotion_codes`. A code customers type for a
//! coupon (`promotion[coupon]`, the pinned version's shape), optionally
//! limited to one customer, a number of redemptions, an expiry, a minimum
//! amount or first-time customers. Codes are unique among active codes, case
//! insensitive, as on Stripe; [`find_active`] is how Checkout and
//! subscriptions look one up, [`check_redeemable`] what they check.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::amounts;
use super::coupons;
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::update;
use super::Stripe;
use crate::mirrors::toolkit::list::Filter;
use crate::mirrors::toolkit::objects::{into_map, Kind};
use crate::mirrors::Vendor;
use crate::session::id::random_from;
use rusqlite::types::Value as Sql;

/// Storage: `code` indexed, for uniqueness and lookups.
pub static KIND: Kind = Kind {
    object: "promotion_code",
    table: "promotion_codes",
    prefix: "promo_",
    id_len: 24,
    columns: &["code"],
};

/// The active promotion code `code` (any case), if there is one.
pub fn find_active(conn: &Connection, code: &str) -> Result<Option<Value>, StripeError> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM promotion_codes WHERE deleted = 0 AND lower(code) = lower(?1) \
         AND json_extract(data, '$.active') = 1 LIMIT 1",
    )?;
    let mut rows = stmt.query([code])?;
    match rows.next()? {
        Some(row) => {
            let text: String = row.get(0)?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StripeError::Internal(format!("stored promotion code: {e}")))
        }
        None => Ok(None),
    }
}

fn duplicate(code: &str) -> StripeError {
    StripeError::invalid_code(
        "resource_already_exists",
        format!("An active promotion code with `code: {code}` already exists."),
        "code",
    )
}

/// `POST /v1/promotion_codes`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let coupon = match p.get("promotion").and_then(|pr| pr.get("coupon")) {
        Some(Value::String(id)) => coupons::live(call.conn, id, "promotion[coupon]")?,
        _ => return Err(StripeError::missing_parameter("promotion[coupon]")),
    };
    let active = p.get("active").and_then(Value::as_bool).unwrap_or(true);
    let code = match p.get("code") {
        Some(Value::String(c)) if !c.is_empty() => {
            if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
                return Err(StripeError::invalid(
                    "Invalid code: a promotion code may contain only letters, digits and dashes.",
                    "code",
                ));
            }
            c.clone()
        }
        _ => random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
    };
    if active && find_active(call.conn, &code)?.is_some() {
        return Err(duplicate(&code));
    }
    let customer = match p.get("customer") {
        Some(Value::String(id)) if !id.is_empty() => {
            customers::KIND
                .load(call.conn, id)?
                .ok_or_else(|| StripeError::no_such_param("customer", id, "customer"))?;
            Some(id.clone())
        }
        _ => None,
    };
    if p.get("customer_account").is_some_and(|v| !v.is_null()) {
        return Err(StripeError::unsupported(
            "customer_account",
            "Accounts v2 are not emulated",
        ));
    }
    let expires_at = p.get("expires_at").and_then(Value::as_i64);
    if expires_at.is_some_and(|t| t <= call.now) {
        return Err(StripeError::invalid(
            "Invalid expires_at: must be in the future.",
            "expires_at",
        ));
    }
    if let (Some(t), Some(by)) = (expires_at, coupon["redeem_by"].as_i64()) {
        if t > by {
            return Err(StripeError::invalid(
                "The promotion code's `expires_at` may not be after its coupon's `redeem_by`.",
                "expires_at",
            ));
        }
    }
    let max = p.get("max_redemptions").and_then(Value::as_i64);
    if max.is_some_and(|m| m < 1) {
        return Err(StripeError::invalid(
            "This value must be greater than or equal to 1.",
            "max_redemptions",
        ));
    }
    if let (Some(m), Some(limit)) = (max, coupon["max_redemptions"].as_i64()) {
        if m > limit {
            return Err(StripeError::invalid(
                format!("The promotion code's `max_redemptions` may not be greater than its coupon's ({limit})."),
                "max_redemptions",
            ));
        }
    }
    let restrictions = restrictions(p.get("restrictions"), None)?;
    let mut promo = into_map(json!({
        "id": Stripe.new_id(&KIND),
        "object": "promotion_code",
        "active": active,
        "code": code,
        "created": call.now,
        "customer": customer,
        "customer_account": null,
        "expires_at": expires_at,
        "livemode": false,
        "max_redemptions": max,
        "metadata": {},
        "promotion": {"coupon": coupon["id"], "type": "coupon"},
        "restrictions": restrictions,
        "times_redeemed": 0,
    }));
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut promo, meta)?;
    }
    let v = Value::Object(promo);
    KIND.insert(call.conn, &v)?;
    events::emit(call, "promotion_code.created", &v, None)?;
    Ok(v)
}

/// `restrictions` as Stripe returns them; on update (`current`), only
/// `currency_options` may change and merges per currency.
fn restrictions(given: Option<&Value>, current: Option<&Value>) -> Result<Value, StripeError> {
    let mut out = match current {
        Some(Value::Object(c)) => c.clone(),
        _ => into_map(json!({
            "first_time_transaction": false,
            "minimum_amount": null,
            "minimum_amount_currency": null,
        })),
    };
    let Some(Value::Object(g)) = given else {
        return Ok(Value::Object(out));
    };
    if current.is_none() {
        if let Some(Value::Bool(b)) = g.get("first_time_transaction") {
            out.insert("first_time_transaction".into(), (*b).into());
        }
        match (g.get("minimum_amount"), g.get("minimum_amount_currency")) {
            (Some(Value::Number(n)), Some(Value::String(c))) => {
                out.insert("minimum_amount".into(), Value::Number(n.clone()));
                out.insert(
                    "minimum_amount_currency".into(),
                    amounts::currency(c, "restrictions[minimum_amount_currency]")?.into(),
                );
            }
            (Some(Value::Number(_)), _) => {
                return Err(StripeError::missing_parameter(
                    "restrictions[minimum_amount_currency]",
                ))
            }
            (None | Some(Value::Null), Some(Value::String(_))) => {
                return Err(StripeError::missing_parameter(
                    "restrictions[minimum_amount]",
                ))
            }
            _ => {}
        }
    }
    if let Some(Value::Object(opts)) = g.get("currency_options") {
        let own = out
            .get("minimum_amount_currency")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(own) = own else {
            return Err(StripeError::invalid(
                "`restrictions[currency_options]` needs `restrictions[minimum_amount]` and its currency.",
                "restrictions[currency_options]",
            ));
        };
        let mut merged = match out.get("currency_options") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        for (cur, o) in opts {
            let c = amounts::currency(cur, "restrictions[currency_options]")?;
            if c == own {
                return Err(StripeError::invalid(
                    format!("`restrictions[currency_options]` may not include the minimum amount's own currency ({own})."),
                    format!("restrictions[currency_options][{cur}]"),
                ));
            }
            merged.insert(
                c,
                json!({"minimum_amount": o.get("minimum_amount").cloned().unwrap_or(json!(0))}),
            );
        }
        out.insert("currency_options".into(), Value::Object(merged));
    }
    Ok(Value::Object(out))
}

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("promotion_code", id, "id"))
}

/// `GET /v1/promotion_codes/{promotion_code}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("promotion_code"))
}

/// `POST /v1/promotion_codes/{promotion_code}`: active, metadata, currency
/// options; reactivating needs the code to be free.
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("promotion_code");
    let before = load(call.conn, id)?;
    let mut promo = into_map(before.clone());
    let p = call.params;
    if let Some(Value::Bool(active)) = p.get("active") {
        if *active && before["active"] != true {
            let code = before["code"].as_str().unwrap_or_default();
            if find_active(call.conn, code)?.is_some() {
                return Err(duplicate(code));
            }
        }
        promo.insert("active".into(), (*active).into());
    }
    if let Some(meta) = p.get("metadata") {
        update::merge_metadata(&mut promo, meta)?;
    }
    if p.get("restrictions").is_some() {
        let r = restrictions(p.get("restrictions"), before.get("restrictions"))?;
        promo.insert("restrictions".into(), r);
    }
    let v = Value::Object(promo);
    if v != before {
        KIND.save(call.conn, &v)?;
        events::emit(call, "promotion_code.updated", &v, Some(&before))?;
    }
    Ok(v)
}

/// `GET /v1/promotion_codes`: newest first, by `active`, `code` (any case),
/// `coupon` and `customer`.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut q = lists::query(p)?;
    if let Some(Value::Bool(active)) = p.get("active") {
        q.conditions
            .push(Filter::Field("$.active", Sql::Integer(i64::from(*active))));
    }
    if let Some(Value::String(code)) = p.get("code") {
        q.conditions.push(Filter::Folded("code", code.clone()));
    }
    for (param, path) in [("coupon", "$.promotion.coupon"), ("customer", "$.customer")] {
        if let Some(Value::String(v)) = p.get(param) {
            q.conditions.push(Filter::Field(path, Sql::Text(v.clone())));
        }
    }
    if p.get("customer_account").is_some_and(|v| !v.is_null()) {
        return Ok(lists::empty("/v1/promotion_codes"));
    }
    lists::page(call.conn, &KIND, &q, "/v1/promotion_codes")
}

/// Whether `promo` may be redeemed now by `customer` for an amount of
/// `amount` in `currency` (Checkout and subscriptions ask before applying
/// it); Stripe's words when not.
pub fn check_redeemable(
    promo: &Value,
    now: i64,
    customer: Option<&str>,
    amount: Option<(i64, &str)>,
    param: &str,
) -> Result<(), StripeError> {
    let code = promo["code"].as_str().unwrap_or_default();
    let inactive = || {
        StripeError::invalid_code(
            "promotion_code_inactive",
            format!("This promotion code cannot be redeemed: {code}"),
            param,
        )
    };
    if promo["active"] != true
        || promo["expires_at"].as_i64().is_some_and(|t| now >= t)
        || promo["max_redemptions"]
            .as_i64()
            .is_some_and(|m| promo["times_redeemed"].as_i64().unwrap_or(0) >= m)
    {
        return Err(inactive());
    }
    if let Some(only) = promo["customer"].as_str() {
        if customer != Some(only) {
            return Err(StripeError::invalid_code(
                "promotion_code_customer_not_eligible",
                format!("This promotion code cannot be redeemed by this customer: {code}"),
                param,
            ));
        }
    }
    let r = &promo["restrictions"];
    if let (Some(min), Some(min_cur), Some((amt, cur))) = (
        r["minimum_amount"].as_i64(),
        r["minimum_amount_currency"].as_str(),
        amount,
    ) {
        let needed = if cur == min_cur {
            Some(min)
        } else {
            r["currency_options"][cur]["minimum_amount"].as_i64()
        };
        if needed.is_some_and(|n| amt < n) {
            return Err(StripeError::invalid_code(
                "promotion_code_minimum_amount_not_met",
                format!(
                    "This promotion code requires a minimum amount of {}.",
                    amounts::format(needed.unwrap_or(min), cur)
                ),
                param,
            ));
        }
    }
    Ok(())
}

/// `restrictions.first_time_transaction`: the code is only for a customer
/// who has never paid (no succeeded charge); a guest (no customer) always may.
pub fn check_first_time(
    conn: &Connection,
    promo: &Value,
    customer: Option<&str>,
    param: &str,
) -> Result<(), StripeError> {
    let Some(customer) = customer.filter(|c| !c.is_empty()) else {
        return Ok(());
    };
    if promo["restrictions"]["first_time_transaction"] != true {
        return Ok(());
    }
    let paid: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM charges WHERE deleted = 0 AND customer = ?1 \
             AND json_extract(data, '$.status') = 'succeeded')",
        )?
        .query_row([customer], |r| r.get(0))?;
    if paid {
        let code = promo["code"].as_str().unwrap_or_default();
        return Err(StripeError::invalid_code(
            "promotion_code_customer_not_eligible",
            format!(
                "This promotion code cannot be redeemed because the customer has prior transactions: {code}"
            ),
            param,
        ));
    }
    Ok(())
}
