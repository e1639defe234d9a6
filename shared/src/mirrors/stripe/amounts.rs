//! Money as Stripe words it: amounts in a currency's smallest unit, the minimum
//! and maximum a payment may be, and amounts written out in messages
//! (`$20.00`, `€7.00`, `¥500`).

use super::error::StripeError;

/// Currencies without a minor unit: amounts are whole units (`jpy` 500 is ¥500).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// The smallest charge per settlement currency, from Stripe's documentation
/// (others: 50 minor units).
const MINIMUMS: &[(&str, i64)] = &[
    ("aed", 200),
    ("bgn", 100),
    ("czk", 1500),
    ("dkk", 250),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("thb", 1000),
];

/// The largest amount a payment may be (eight digits).
pub const MAXIMUM: i64 = 99_999_999;

pub fn zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// `$20.00`, `€7.00`, `£0.30`, `¥500`, else `20.00 chf`.
pub fn format(amount: i64, currency: &str) -> String {
    let symbol = match currency {
        "usd" | "aud" | "cad" | "nzd" | "sgd" | "hkd" | "mxn" => Some("$"),
        "eur" => Some("€"),
        "gbp" => Some("£"),
        "jpy" => Some("¥"),
        _ => None,
    };
    let number = if zero_decimal(currency) {
        amount.to_string()
    } else {
        let sign = if amount < 0 { "-" } else { "" };
        let a = amount.unsigned_abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    };
    match symbol {
        Some(s) => format!("{s}{number}"),
        None => format!("{number} {currency}"),
    }
}

/// Checks a payment amount as Stripe does: at least the currency's minimum
/// (`amount_too_small`), at most eight digits (`amount_too_large`).
pub fn check(amount: i64, currency: &str, param: &str) -> Result<(), StripeError> {
    let min = MINIMUMS
        .iter()
        .find(|(c, _)| *c == currency)
        .map(|(_, m)| *m)
        .unwrap_or(50);
    if amount < min {
        return Err(StripeError::invalid_code(
            "amount_too_small",
            format!(
                "Amount must be at least {} {currency}",
                format(min, currency)
            ),
            param,
        ));
    }
    if amount > MAXIMUM {
        return Err(StripeError::invalid_code(
            "amount_too_large",
            format!("Amount must be no more than {}", format(MAXIMUM, currency)),
            param,
        ));
    }
    Ok(())
}

/// A currency code as Stripe stores it: three lowercase letters.
pub fn currency(given: &str, param: &str) -> Result<String, StripeError> {
    let c = given.to_ascii_lowercase();
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(c)
    } else {
        Err(StripeError::invalid(
            format!("Invalid currency: {given}. Stripe currently supports these currencies: usd, eur, gbp, …"),
            param,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Amounts read as Stripe writes them in its messages.
    #[test]
    fn amounts_are_written_with_their_currency() {
        assert_eq!(format(2000, "usd"), "$20.00");
        assert_eq!(format(5, "eur"), "€0.05");
        assert_eq!(format(500, "jpy"), "¥500");
        assert_eq!(format(1234, "chf"), "12.34 chf");
        let e = check(49, "usd", "amount").expect_err("too small");
        assert_eq!(
            e.body()["error"]["message"],
            "Amount must be at least $0.50 usd"
        );
        assert!(check(30, "gbp", "amount").is_ok());
        assert!(check(100_000_000, "usd", "amount").is_err());
    }
}
