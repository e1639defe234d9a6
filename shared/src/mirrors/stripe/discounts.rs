//! Discounts (`discount`, `di_…`): a coupon applied to a subscription or an
//! invoice, directly (`discounts[][coupon]`) or through a promotion code
//! (`discounts[][promotion_code]`). Applying one redeems the coupon (and the
//! code), so `times_redeemed` counts and `max_redemptions` ends it. On an
//! invoice, a percent off takes its share of each discountable line, an
//! amount off is spread over the lines in proportion to their amounts (never
//! more than they are); `applies_to` limits both to its products. A
//! subscription's discount lasts as its coupon says: one invoice (`once`),
//! `duration_in_months`, or `forever`.

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::coupons;
use super::error::StripeError;
use super::pipeline::Call;
use super::promotion_codes;
use super::Stripe;
use crate::mirrors::toolkit::included;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "discount",
    table: "discounts",
    prefix: "di_",
    id_len: 24,
    columns: &[],
};

/// What a `discounts[]` entry asks for, checked, nothing written yet.
pub struct Requested {
    coupon: Value,
    promotion_code: Option<Value>,
}

impl Requested {
    /// The coupon it applies.
    pub fn coupon(&self) -> &Value {
        &self.coupon
    }

    /// The promotion code it came through, if any.
    pub fn promotion_code(&self) -> Option<&Value> {
        self.promotion_code.as_ref()
    }
}

/// Reads a `discounts` parameter (`[{coupon}|{promotion_code}]`) for
/// `customer`, checking every coupon and code is usable now.
pub fn requested(
    conn: &Connection,
    given: Option<&Value>,
    customer: &str,
    now: i64,
) -> Result<Vec<Requested>, StripeError> {
    let Some(Value::Array(list)) = given else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let at = format!("discounts[{i}]");
        let (coupon, promotion_code) =
            match (d.get("coupon"), d.get("promotion_code"), d.get("discount")) {
                (Some(Value::String(c)), None, None) => {
                    (coupons::live(conn, c, &format!("{at}[coupon]"))?, None)
                }
                (None, Some(Value::String(code)), None) => {
                    let promo = promotion_codes::KIND.load(conn, code)?.ok_or_else(|| {
                        StripeError::no_such_param(
                            "promotion_code",
                            code,
                            &format!("{at}[promotion_code]"),
                        )
                    })?;
                    promotion_codes::check_redeemable(
                        &promo,
                        now,
                        Some(customer),
                        None,
                        &format!("{at}[promotion_code]"),
                    )?;
                    promotion_codes::check_first_time(
                        conn,
                        &promo,
                        Some(customer),
                        &format!("{at}[promotion_code]"),
                    )?;
                    let coupon_id = promo["promotion"]["coupon"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    (
                        coupons::live(conn, &coupon_id, &format!("{at}[promotion_code]"))?,
                        Some(promo),
                    )
                }
                (None, None, Some(_)) => {
                    return Err(StripeError::unsupported(
                        &format!("{at}[discount]"),
                        "reusing an existing discount is not emulated; pass its coupon",
                    ))
                }
                _ => {
                    return Err(StripeError::invalid(
                        "Each discount needs exactly one of `coupon` or `promotion_code`.",
                        at,
                    ))
                }
            };
        if coupon["valid"] != true {
            return Err(StripeError::invalid_code(
                "coupon_expired",
                format!(
                    "Coupon expired: {}",
                    coupon["id"].as_str().unwrap_or_default()
                ),
                format!("{at}[coupon]"),
            ));
        }
        out.push(Requested {
            coupon,
            promotion_code,
        });
    }
    Ok(out)
}

/// Where a new discount is applied.
pub struct Target<'a> {
    pub customer: &'a str,
    pub subscription: Option<&'a str>,
    pub invoice: Option<&'a str>,
}

/// Applies the checked discounts to `target` at `call.now`: the discount
/// objects, and each coupon (and code) redeemed once. Answers their ids.
pub fn apply(
    call: &Call,
    wanted: Vec<Requested>,
    target: &Target,
) -> Result<Vec<String>, StripeError> {
    let mut ids = Vec::with_capacity(wanted.len());
    for r in wanted {
        let coupon_id = r.coupon["id"].as_str().unwrap_or_default().to_string();
        let end = match (
            r.coupon["duration"].as_str(),
            r.coupon["duration_in_months"].as_i64(),
        ) {
            (Some("repeating"), Some(m)) => Some(super::billing::boundary(call.now, "month", m, 1)),
            _ => None,
        };
        let v = json!({
            "id": Stripe.new_id(&KIND),
            "object": "discount",
            "checkout_session": null,
            "customer": target.customer,
            "customer_account": null,
            "end": end,
            "invoice": target.invoice,
            "invoice_item": null,
            "promotion_code": r.promotion_code.as_ref().map(|p| p["id"].clone()),
            "source": {"coupon": coupon_id, "type": "coupon"},
            "start": call.now,
            "subscription": target.subscription,
            "subscription_item": null,
        });
        KIND.insert_at(call.conn, &v, call.now)?;
        redeem(call, &coupon_id)?;
        if let Some(mut promo) = r.promotion_code {
            promo["times_redeemed"] = json!(promo["times_redeemed"].as_i64().unwrap_or(0) + 1);
            promotion_codes::KIND.save(call.conn, &promo)?;
        }
        ids.push(v["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(ids)
}

/// One redemption of coupon `id`; its last allowed one makes it invalid.
fn redeem(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(mut coupon) = coupons::KIND.load(call.conn, id)? else {
        return Ok(());
    };
    let times = coupon["times_redeemed"].as_i64().unwrap_or(0) + 1;
    coupon["times_redeemed"] = json!(times);
    if coupon["max_redemptions"]
        .as_i64()
        .is_some_and(|m| times >= m)
    {
        coupon["valid"] = json!(false);
    }
    coupons::KIND.save(call.conn, &coupon)?;
    Ok(())
}

/// Whether discount `d` still applies to an invoice for a period starting at
/// `start` (a `once` coupon's discount is ended once used, see [`used`]).
pub fn active_at(d: &Value, start: i64) -> bool {
    d["end"].as_i64().is_none_or(|end| start < end)
}

/// After an invoice used discounts `ids`: a `once` discount ends now.
pub fn used(call: &Call, ids: &[String]) -> Result<(), StripeError> {
    for id in ids {
        let Some(mut d) = KIND.load(call.conn, id)? else {
            continue;
        };
        if coupon_of(call.conn, &d)?["duration"] == "once" {
            d["end"] = json!(call.now);
            KIND.save(call.conn, &d)?;
        }
    }
    Ok(())
}

/// The coupon a discount applies (kept after the coupon is deleted: the
/// discount goes on, as on Stripe).
fn coupon_of(conn: &Connection, d: &Value) -> Result<Value, StripeError> {
    let id = d["source"]["coupon"].as_str().unwrap_or_default();
    Ok(coupons::KIND
        .find(conn, id)?
        .map(|s| s.value())
        .transpose()?
        .unwrap_or(Value::Null))
}

/// The discount amounts for `lines` (their `amount`s, currency, product):
/// per line, `[{amount, discount}]`.
pub fn amounts(
    conn: &Connection,
    discount_ids: &[Value],
    lines: &[Value],
    currency: &str,
    period_start: i64,
) -> Result<Vec<Vec<Value>>, StripeError> {
    let mut applied = Vec::new();
    for id in discount_ids.iter().filter_map(Value::as_str) {
        let Some(d) = KIND.load(conn, id)? else {
            continue;
        };
        if active_at(&d, period_start) {
            applied.push((id.to_string(), coupon_of(conn, &d)?));
        }
    }
    amounts_by(conn, &applied, lines, currency)
}

/// The discount amounts coupons take of `lines`, each labelled with its
/// discount's id (`(id, coupon)` pairs, in order): per line, `[{amount, discount}]`.
pub fn amounts_by(
    conn: &Connection,
    applied: &[(String, Value)],
    lines: &[Value],
    currency: &str,
) -> Result<Vec<Vec<Value>>, StripeError> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new(); lines.len()];
    let mut left: Vec<i64> = lines
        .iter()
        .map(|l| l["amount"].as_i64().unwrap_or(0).max(0))
        .collect();
    for (id, coupon) in applied {
        let applies = applies_to(conn, coupon)?;
        let eligible: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i]["discountable"] != false && left[i] > 0)
            .filter(|&i| {
                applies
                    .as_ref()
                    .is_none_or(|ps| ps.contains(&lines[i]["pricing"]["price_details"]["product"]))
            })
            .collect();
        let shares: Vec<i64> = if let Some(pct) = coupon["percent_off"].as_f64() {
            eligible
                .iter()
                .map(|&i| ((left[i] as f64) * pct / 100.0).round() as i64)
                .collect()
        } else {
            let off = amount_off(conn, coupon, currency)?;
            let base: i64 = eligible.iter().map(|&i| left[i]).sum();
            let total = off.min(base);
            spread(
                total,
                &eligible.iter().map(|&i| left[i]).collect::<Vec<_>>(),
            )
        };
        for (k, &i) in eligible.iter().enumerate() {
            let a = shares[k].min(left[i]);
            if a > 0 {
                left[i] -= a;
                out[i].push(json!({"amount": a, "discount": id}));
            }
        }
    }
    Ok(out)
}

/// `amount_off` in `currency` (its own, or from `currency_options`).
fn amount_off(conn: &Connection, coupon: &Value, currency: &str) -> Result<i64, StripeError> {
    if coupon["currency"] == currency {
        return Ok(coupon["amount_off"].as_i64().unwrap_or(0));
    }
    let id = coupon["id"].as_str().unwrap_or_default();
    Ok(included::get(conn, id, "currency_options")?
        .and_then(|o| o[currency]["amount_off"].as_i64())
        .unwrap_or(0))
}

/// The products a coupon is limited to, if it is.
fn applies_to(conn: &Connection, coupon: &Value) -> Result<Option<Vec<Value>>, StripeError> {
    let id = coupon["id"].as_str().unwrap_or_default();
    Ok(included::get(conn, id, "applies_to")?.and_then(|a| a["products"].as_array().cloned()))
}

/// `total` spread over `weights` in proportion, the rounding remainder on
/// the largest shares first, so the shares add up to `total` exactly.
fn spread(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if sum <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i64> = weights
        .iter()
        .map(|w| (i128::from(total) * i128::from(*w) / i128::from(sum)) as i64)
        .collect();
    let mut rest = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
    for i in order.into_iter().cycle().take(weights.len() * 2) {
        if rest == 0 {
            break;
        }
        if shares[i] < weights[i] {
            shares[i] += 1;
            rest -= 1;
        }
    }
    shares
}

/// Of discounts `ids`, those still in force at `at`.
pub fn still_active(conn: &Connection, ids: &[Value], at: i64) -> Result<Value, StripeError> {
    let mut kept = Vec::new();
    for id in ids.iter().filter_map(Value::as_str) {
        if KIND.load(conn, id)?.is_some_and(|d| active_at(&d, at)) {
            kept.push(json!(id));
        }
    }
    Ok(Value::Array(kept))
}

/// The ids of `discounts` as a JSON list.
pub fn ids(list: &[String]) -> Value {
    Value::Array(list.iter().map(|s| json!(s)).collect())
}

/// Adds each line's discount amounts and the invoice's totals of them.
pub fn totals_of(per_line: &[Vec<Value>]) -> Vec<Value> {
    let mut by: Map<String, Value> = Map::new();
    for entries in per_line {
        for e in entries {
            let id = e["discount"].as_str().unwrap_or_default().to_string();
            let a = e["amount"].as_i64().unwrap_or(0);
            let sum = by.get(&id).and_then(Value::as_i64).unwrap_or(0) + a;
            by.insert(id, json!(sum));
        }
    }
    by.into_iter()
        .map(|(id, a)| json!({"amount": a, "discount": id}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An amount off is spread in proportion and adds up exactly.
    #[test]
    fn amounts_off_are_spread_in_proportion_and_add_up() {
        assert_eq!(spread(500, &[1000, 1000]), [250, 250]);
        assert_eq!(spread(3, &[1, 1, 1]), [1, 1, 1]);
        assert_eq!(spread(10, &[3000, 1000, 1000]).iter().sum::<i64>(), 10);
        assert_eq!(spread(10, &[3000, 1000, 1000]), [6, 2, 2]);
        assert_eq!(spread(7, &[0, 0]), [0, 0]);
    }
}
