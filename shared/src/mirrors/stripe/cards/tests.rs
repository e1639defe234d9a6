use super::*;
use std::collections::HashSet;

/// Every catalogued number is a valid card number of the brand its IIN names,
/// and no number or name appears twice.
#[test]
fn the_catalogue_is_consistent() {
    let mut numbers = HashSet::new();
    let mut tokens = HashSet::new();
    for e in CATALOGUE {
        assert!(luhn(e.number), "{} fails the Luhn check", e.number);
        assert!(numbers.insert(e.number), "{} listed twice", e.number);
        assert_eq!(Brand::of(e.number), e.brand, "{}", e.number);
        for t in e.tokens {
            assert!(t.starts_with("pm_card_"), "{t}");
            assert!(tokens.insert(*t), "{t} listed twice");
            let card = by_token(t).expect("token resolves");
            assert_eq!(card.number, e.number);
            let tok = t.replacen("pm_card_", "tok_", 1);
            assert_eq!(by_token(&tok).map(|c| c.number), Some(e.number.to_string()));
        }
        assert_eq!(
            by_number(e.number).map(|c| c.number),
            Ok(e.number.to_string())
        );
    }
}

/// The cards the PaymentIntent code depends on carry Stripe's outcomes.
#[test]
fn declines_and_authentication_cards_carry_stripes_outcomes() {
    let outcome = |t: &str| by_token(t).map(|c| c.outcome);
    assert_eq!(outcome("pm_card_visa"), Some(Outcome::Succeeds));
    assert_eq!(
        outcome("pm_card_chargeDeclinedInsufficientFunds"),
        Some(Outcome::Declined(declines::INSUFFICIENT_FUNDS))
    );
    assert_eq!(
        outcome("pm_card_chargeCustomerFail"),
        Some(Outcome::AttachesThenDeclines(declines::GENERIC))
    );
    assert_eq!(
        outcome("pm_card_authenticationRequired"),
        Some(Outcome::RequiresAuthentication {
            when: When::Always,
            then: None
        })
    );
    assert_eq!(
        by_number("4000000000000127").map(|c| c.outcome),
        Ok(Outcome::Declined(declines::INCORRECT_CVC))
    );
    assert_eq!(by_token("pm_card_nope"), None);
}

/// Unknown numbers: Luhn-invalid is `incorrect_number`, non-numbers are
/// `invalid_number`, valid ones are generic cards of their brand.
#[test]
fn unknown_numbers_are_checked_and_branded_by_iin() {
    assert_eq!(
        by_number("4242424242424241"),
        Err(declines::INCORRECT_NUMBER)
    );
    assert_eq!(by_number("4242-4242"), Err(declines::INVALID_NUMBER));
    let visa = by_number("4111111111111111").expect("valid");
    assert_eq!((visa.brand, visa.outcome), (Brand::Visa, Outcome::Succeeds));
    assert_eq!(
        by_number("5454545454545454").map(|c| c.brand),
        Ok(Brand::Mastercard)
    );
    assert_eq!(
        by_number("3530111333300000").map(|c| c.brand),
        Ok(Brand::Jcb)
    );
    assert_eq!(
        by_number("6250947000000014").map(|c| c.brand),
        Ok(Brand::UnionPay)
    );
}

/// Fingerprints depend on the number and the session, never on chance.
#[test]
fn fingerprints_are_stable_per_number_and_session() {
    let a = fingerprint("sk_test_a", "4242424242424242");
    assert_eq!(a.len(), 16);
    assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(a, fingerprint("sk_test_a", "4242424242424242"));
    assert_ne!(a, fingerprint("sk_test_b", "4242424242424242"));
    assert_ne!(a, fingerprint("sk_test_a", "5555555555554444"));
}

/// Dates: civil months from Unix time, expiry rules and the token default.
#[test]
fn expiry_dates_follow_the_calendar() {
    // 2026-12-02T07:55:36Z
    let now = 1_796_198_136;
    assert_eq!(year_month(now), (2026, 12));
    assert_eq!(year_month(0), (1970, 1));
    assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
    assert_eq!(default_expiry(now), (12, 2027));
    assert_eq!(check_expiry(12, 2026, now), Ok(2026));
    assert_eq!(
        check_expiry(11, 2026, now),
        Err(declines::INVALID_EXPIRY_MONTH)
    );
    assert_eq!(
        check_expiry(13, 2030, now),
        Err(declines::INVALID_EXPIRY_MONTH)
    );
    assert_eq!(check_expiry(1, 95, now), Err(declines::INVALID_EXPIRY_YEAR));
    assert_eq!(check_expiry(1, 34, now), Ok(2034));
    assert_eq!(check_cvc("12", Brand::Visa), Err(declines::INVALID_CVC));
    assert_eq!(check_cvc("1234", Brand::Amex), Ok(()));
}
