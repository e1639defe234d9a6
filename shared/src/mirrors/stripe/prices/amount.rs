//! What a price costs for a quantity, as Stripe computes it: per unit (with
//! fractional `unit_amount_decimal`s and `transform_quantity`), and tiered in
//! `volume` mode (the whole quantity at the tier it reaches) or `graduated`
//! mode (each tier's share at its own rate, plus the flat amount of every tier
//! the quantity reaches). Quantity 0 falls in the first tier, so a first
//! tier's flat amount is billed even then — how a base fee is modelled.
//!
//! Amounts are exact: decimals are read as integers of 10⁻¹² minor units
//! (Stripe allows 12 decimal places) and the total is rounded half up to a
//! whole minor unit once, at the end.

use serde_json::Value;

/// 10¹² fractional units per minor unit (cent).
const SCALE: i128 = 1_000_000_000_000;

/// A decimal string (`"12.5"`, `"0.000000000001"`) in 10⁻¹² units; `None` for
/// anything else or more than 12 decimals.
pub fn parse_decimal(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 12 {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut frac_units: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..12 {
        frac_units *= 10;
    }
    let v = whole.checked_mul(SCALE)?.checked_add(frac_units)?;
    Some(if neg { -v } else { v })
}

/// 10⁻¹² units as Stripe writes a decimal: no trailing zeros, no lone point.
pub fn format_decimal(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let v = v.abs();
    let (whole, frac) = (v / SCALE, v % SCALE);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:012}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// A whole number of minor units when `v` is one.
pub fn whole(v: i128) -> Option<i64> {
    (v % SCALE == 0)
        .then(|| i64::try_from(v / SCALE).ok())
        .flatten()
}

/// A unit or flat amount of a price or tier: `…_decimal` when set, else the
/// integer field, in 10⁻¹² units; 0 when neither is.
fn amount_of(obj: &Value, field: &str) -> i128 {
    let decimal = obj
        .get(format!("{field}_decimal"))
        .and_then(Value::as_str)
        .and_then(parse_decimal);
    decimal
        .or_else(|| {
            obj.get(field)
                .and_then(Value::as_i64)
                .map(|n| i128::from(n) * SCALE)
        })
        .unwrap_or(0)
}

/// Rounds 10⁻¹² units half up (away from zero) to minor units.
pub fn round(v: i128) -> i64 {
    let half = SCALE / 2;
    let r = if v >= 0 {
        (v + half) / SCALE
    } else {
        (v - half) / SCALE
    };
    i64::try_from(r).unwrap_or(if v >= 0 { i64::MAX } else { i64::MIN })
}

/// What `quantity` of `price` costs, in minor units. `tiers` are the price's
/// (kept beside it, see `toolkit::included`); ignored unless it is tiered.
pub fn total(price: &Value, tiers: &[Value], quantity: u64) -> i64 {
    let q = i128::from(quantity);
    if price.get("billing_scheme").and_then(Value::as_str) == Some("tiered") {
        let graduated = price.get("tiers_mode").and_then(Value::as_str) == Some("graduated");
        return round(tiered(tiers, q, graduated));
    }
    let q = match price.get("transform_quantity") {
        Some(t @ Value::Object(_)) => transformed(t, q),
        _ => q,
    };
    round(amount_of(price, "unit_amount").saturating_mul(q))
}

/// `transform_quantity`: the quantity divided by `divide_by`, rounded up or down.
fn transformed(t: &Value, q: i128) -> i128 {
    let by = i128::from(
        t.get("divide_by")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(1),
    );
    match t.get("round").and_then(Value::as_str) {
        Some("up") => (q + by - 1) / by,
        _ => q / by,
    }
}

/// A tier's upper bound; `None` for the last (`up_to: null`, "inf").
fn up_to(tier: &Value) -> Option<i128> {
    tier.get("up_to").and_then(Value::as_i64).map(i128::from)
}

fn tiered(tiers: &[Value], q: i128, graduated: bool) -> i128 {
    if !graduated {
        let tier = tiers
            .iter()
            .find(|t| up_to(t).is_none_or(|max| q <= max))
            .or(tiers.last());
        return tier.map_or(0, |t| {
            amount_of(t, "unit_amount").saturating_mul(q) + amount_of(t, "flat_amount")
        });
    }
    let mut sum = 0i128;
    let mut below = 0i128;
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 && q <= below {
            break;
        }
        let top = up_to(t).map_or(q, |max| q.min(max));
        let units = (top - below).max(0);
        sum += amount_of(t, "unit_amount").saturating_mul(units) + amount_of(t, "flat_amount");
        match up_to(t) {
            Some(max) => below = max,
            None => break,
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Decimals round-trip through 10⁻¹² units and keep no trailing zeros.
    #[test]
    fn decimals_are_exact_to_twelve_places() {
        for s in ["0", "1000", "12.5", "0.000000000001", "999999.123456789012"] {
            assert_eq!(format_decimal(parse_decimal(s).expect(s)), s);
        }
        assert_eq!(
            parse_decimal("1.50").map(format_decimal).as_deref(),
            Some("1.5")
        );
        for bad in ["", ".", "1.2.3", "abc", "1e5", "0.0000000000001"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(whole(parse_decimal("12").expect("12")), Some(12));
        assert_eq!(whole(parse_decimal("12.5").expect("12.5")), None);
    }

    /// Per unit: the unit amount times the quantity, fractional cents rounded
    /// once at the end.
    #[test]
    fn per_unit_prices_multiply_and_round_once() {
        let p = json!({"billing_scheme": "per_unit", "unit_amount": 1500});
        assert_eq!(total(&p, &[], 3), 4500);
        let p = json!({"billing_scheme": "per_unit", "unit_amount_decimal": "0.333"});
        assert_eq!(total(&p, &[], 3), 1);
        assert_eq!(total(&p, &[], 10), 3);
        let p = json!({"billing_scheme": "per_unit", "unit_amount_decimal": "0.5"});
        assert_eq!(total(&p, &[], 1), 1, "half rounds up");
    }

    /// `transform_quantity` divides before multiplying, rounding as asked.
    #[test]
    fn transform_quantity_divides_and_rounds_as_asked() {
        let up =
            json!({"unit_amount": 1000, "transform_quantity": {"divide_by": 10, "round": "up"}});
        let down =
            json!({"unit_amount": 1000, "transform_quantity": {"divide_by": 10, "round": "down"}});
        assert_eq!(total(&up, &[], 11), 2000);
        assert_eq!(total(&down, &[], 11), 1000);
        assert_eq!(total(&up, &[], 10), 1000);
    }

    fn tiers() -> Vec<Value> {
        vec![
            json!({"up_to": 5, "unit_amount": 1000, "flat_amount": 500}),
            json!({"up_to": 10, "unit_amount": 800, "flat_amount": null}),
            json!({"up_to": null, "unit_amount": 600, "flat_amount": 100}),
        ]
    }

    /// Volume: the whole quantity at the rate of the tier it reaches.
    #[test]
    fn volume_tiers_price_the_whole_quantity_at_one_tier() {
        let p = json!({"billing_scheme": "tiered", "tiers_mode": "volume"});
        assert_eq!(total(&p, &tiers(), 5), 5 * 1000 + 500);
        assert_eq!(total(&p, &tiers(), 6), 6 * 800);
        assert_eq!(total(&p, &tiers(), 20), 20 * 600 + 100);
        assert_eq!(
            total(&p, &tiers(), 0),
            500,
            "quantity 0 is in the first tier"
        );
    }

    /// Graduated: each tier's share at its own rate, plus each reached tier's flat amount.
    #[test]
    fn graduated_tiers_sum_each_share_and_flat_amount() {
        let p = json!({"billing_scheme": "tiered", "tiers_mode": "graduated"});
        assert_eq!(total(&p, &tiers(), 3), 3 * 1000 + 500);
        assert_eq!(total(&p, &tiers(), 7), 5 * 1000 + 500 + 2 * 800);
        assert_eq!(
            total(&p, &tiers(), 12),
            5 * 1000 + 500 + 5 * 800 + 2 * 600 + 100
        );
        assert_eq!(total(&p, &tiers(), 0), 500);
    }
}
