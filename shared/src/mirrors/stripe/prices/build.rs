//! Building a price from create parameters, with Stripe's checks: amounts
//! (integer or 12-place decimal), tiers, recurring intervals, custom unit
//! amounts, currency options. Shared by `POST /v1/prices`, a product's
//! `default_price_data` and every `price_data`.

use serde_json::{json, Map, Value};

use super::super::amounts;
use super::super::error::StripeError;
use super::super::pipeline::Call;
use super::super::update;
use super::super::Stripe;
use super::{amount, set_lookup_key, NewPrice, KIND};
use crate::mirrors::toolkit::objects::into_map;
use crate::mirrors::Vendor;

/// The longest recurring interval Stripe allows: three years.
const MAX_INTERVALS: &[(&str, i64)] = &[("day", 1095), ("week", 156), ("month", 36), ("year", 3)];

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
pub(super) fn currency_options(
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
