//! The catalogue of Stripe's test cards as data, and the `const fn`s that
//! build its entries (see `mod.rs` for what each field means).

use super::*;

pub(super) const VISA: Entry = Entry {
    number: "",
    tokens: &[],
    brand: Brand::Visa,
    co_brand: None,
    funding: "credit",
    country: "US",
    outcome: Outcome::Succeeds,
    checks: PASS,
    risk: NORMAL,
    later: Later::Nothing,
    three_d_secure: true,
    description: "",
};

pub(super) const fn visa(
    number: &'static str,
    tokens: &'static [&'static str],
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        description,
        ..VISA
    }
}

pub(super) const fn brand(
    number: &'static str,
    tokens: &'static [&'static str],
    brand: Brand,
    funding: &'static str,
    country: &'static str,
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        brand,
        funding,
        country,
        description,
        ..VISA
    }
}

pub(super) const fn country(
    number: &'static str,
    token: &'static [&'static str],
    country: &'static str,
) -> Entry {
    Entry {
        number,
        tokens: token,
        country,
        description: "Succeeds; issued in this country",
        ..VISA
    }
}

pub(super) const fn outcome(
    number: &'static str,
    tokens: &'static [&'static str],
    outcome: Outcome,
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        outcome,
        description,
        ..VISA
    }
}

pub(super) const fn checks(
    number: &'static str,
    tokens: &'static [&'static str],
    checks: Checks,
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        checks,
        description,
        ..VISA
    }
}

pub(super) const fn later(
    number: &'static str,
    tokens: &'static [&'static str],
    later: Later,
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        later,
        description,
        ..VISA
    }
}

pub(super) const fn authenticate(
    number: &'static str,
    tokens: &'static [&'static str],
    when: When,
    then: Option<Decline>,
    country: &'static str,
    description: &'static str,
) -> Entry {
    Entry {
        number,
        tokens,
        outcome: Outcome::RequiresAuthentication { when, then },
        country,
        description,
        ..VISA
    }
}

pub(super) const fn fails(c: Check) -> Checks {
    Checks { cvc: c, ..PASS }
}

use declines as d;
use Brand::*;

/// Every test card, in the order of Stripe's testing page.
#[rustfmt::skip]
pub static CATALOGUE: &[Entry] = &[
    // ── Cards by brand ──────────────────────────────────────────────────────
    visa("4242424242424242", &["pm_card_visa", "pm_card_us"], "Succeeds; 3-D Secure supported, not enrolled"),
    brand("4000056655665556", &["pm_card_visa_debit"], Visa, "debit", "US", "Succeeds"),
    brand("5555555555554444", &["pm_card_mastercard"], Mastercard, "credit", "US", "Succeeds"),
    brand("2223003122003222", &[], Mastercard, "credit", "US", "Succeeds (2-series)"),
    brand("5200828282828210", &["pm_card_mastercard_debit"], Mastercard, "debit", "US", "Succeeds"),
    brand("5105105105105100", &["pm_card_mastercard_prepaid"], Mastercard, "prepaid", "US", "Succeeds"),
    Entry {
        number: "378282246310005",
        tokens: &["pm_card_amex", "pm_card_amex_threeDSecureNotSupported"],
        brand: Amex,
        three_d_secure: false,
        description: "Succeeds; 3-D Secure not supported",
        ..VISA
    },
    brand("371449635398431", &[], Amex, "credit", "US", "Succeeds"),
    brand("6011111111111117", &["pm_card_discover"], Discover, "credit", "US", "Succeeds"),
    brand("6011000990139424", &[], Discover, "credit", "US", "Succeeds"),
    brand("6011981111111113", &[], Discover, "debit", "US", "Succeeds"),
    brand("3056930009020004", &["pm_card_diners"], Diners, "credit", "US", "Succeeds"),
    brand("36227206271667", &[], Diners, "credit", "US", "Succeeds (14 digits)"),
    brand("6555900000604105", &[], Discover, "credit", "US", "Succeeds (BCcard and DinaCard)"),
    brand("3566002020360505", &["pm_card_jcb"], Jcb, "credit", "JP", "Succeeds"),
    brand("6200000000000005", &["pm_card_unionpay"], UnionPay, "credit", "CN", "Succeeds"),
    brand("6200000000000047", &[], UnionPay, "debit", "CN", "Succeeds"),
    brand("6205500000000000004", &[], UnionPay, "credit", "CN", "Succeeds (19 digits)"),
    Entry {
        number: "4000002500001001",
        tokens: &["pm_card_visa_cartesBancaires"],
        co_brand: Some("cartes_bancaires"),
        country: "FR",
        description: "Succeeds; co-branded Cartes Bancaires",
        ..VISA
    },
    Entry {
        number: "5555552500001001",
        tokens: &["pm_card_mastercard_cartesBancaires"],
        brand: Mastercard,
        co_brand: Some("cartes_bancaires"),
        country: "FR",
        description: "Succeeds; co-branded Cartes Bancaires",
        ..VISA
    },
    Entry {
        number: "4000050360000001",
        tokens: &[],
        co_brand: Some("eftpos_au"),
        funding: "debit",
        country: "AU",
        description: "Succeeds; co-branded eftpos Australia",
        ..VISA
    },
    Entry {
        number: "5555050360000080",
        tokens: &[],
        brand: Mastercard,
        co_brand: Some("eftpos_au"),
        funding: "debit",
        country: "AU",
        description: "Succeeds; co-branded eftpos Australia",
        ..VISA
    },
    // ── Cards by country ────────────────────────────────────────────────────
    country("4000000320000021", &["pm_card_ar"], "AR"),
    country("4000000760000002", &["pm_card_br"], "BR"),
    country("4000001240000000", &["pm_card_ca"], "CA"),
    country("4000001520000001", &["pm_card_cl"], "CL"),
    country("4000001700000003", &["pm_card_co"], "CO"),
    country("4000001880000005", &["pm_card_cr"], "CR"),
    country("4000002180000000", &["pm_card_ec"], "EC"),
    country("4000004840008001", &["pm_card_mx"], "MX"),
    country("4000005910000000", &["pm_card_pa"], "PA"),
    country("4000006000000066", &["pm_card_py"], "PY"),
    country("4000006040000068", &["pm_card_pe"], "PE"),
    country("4000008580000003", &["pm_card_uy"], "UY"),
    country("4000007840000001", &["pm_card_ae"], "AE"),
    brand("5200007840000022", &["pm_card_ae_mastercard"], Mastercard, "credit", "AE", "Succeeds; issued in this country"),
    country("4000000400000008", &["pm_card_at"], "AT"),
    country("4000000560000004", &["pm_card_be"], "BE"),
    country("4000001000000000", &["pm_card_bg"], "BG"),
    country("4000001120000005", &["pm_card_by"], "BY"),
    country("4000001910000009", &["pm_card_hr"], "HR"),
    country("4000001960000008", &["pm_card_cy"], "CY"),
    country("4000002030000002", &["pm_card_cz"], "CZ"),
    country("4000002080000001", &["pm_card_dk"], "DK"),
    country("4000002330000009", &["pm_card_ee"], "EE"),
    country("4000002460000001", &["pm_card_fi"], "FI"),
    country("4000002500000003", &["pm_card_fr"], "FR"),
    country("4000002760000016", &["pm_card_de"], "DE"),
    country("4000002920000005", &["pm_card_gi"], "GI"),
    country("4000003000000030", &["pm_card_gr"], "GR"),
    country("4000003480000005", &["pm_card_hu"], "HU"),
    country("4000003720000005", &["pm_card_ie"], "IE"),
    country("4000003800000008", &["pm_card_it"], "IT"),
    country("4000004280000005", &["pm_card_lv"], "LV"),
    country("4000004380000004", &["pm_card_li"], "LI"),
    country("4000004400000000", &["pm_card_lt"], "LT"),
    country("4000004420000006", &["pm_card_lu"], "LU"),
    country("4000004700000007", &["pm_card_mt"], "MT"),
    country("4000005280000002", &["pm_card_nl"], "NL"),
    country("4000005780000007", &["pm_card_no"], "NO"),
    country("4000006160000005", &["pm_card_pl"], "PL"),
    country("4000006200000007", &["pm_card_pt"], "PT"),
    country("4000006420000001", &["pm_card_ro"], "RO"),
    country("4000006820000007", &["pm_card_sa"], "SA"),
    country("4000007050000006", &["pm_card_si"], "SI"),
    country("4000007030000001", &["pm_card_sk"], "SK"),
    country("4000007240000007", &["pm_card_es"], "ES"),
    country("4000007520000008", &["pm_card_se"], "SE"),
    country("4000007560000009", &["pm_card_ch"], "CH"),
    country("4000008260000000", &["pm_card_gb"], "GB"),
    brand("4000058260000005", &["pm_card_gb_debit"], Visa, "debit", "GB", "Succeeds; issued in this country"),
    brand("5555558265554449", &["pm_card_gb_mastercard"], Mastercard, "credit", "GB", "Succeeds; issued in this country"),
    country("4000000360000006", &["pm_card_au"], "AU"),
    country("4000001560000002", &["pm_card_cn"], "CN"),
    country("4000003440000004", &["pm_card_hk"], "HK"),
    country("4000003560000008", &["pm_card_in"], "IN"),
    country("4000003920000003", &["pm_card_jp"], "JP"),
    brand("3530111333300000", &["pm_card_jp_jcb"], Jcb, "credit", "JP", "Succeeds; issued in this country"),
    country("4000004580000002", &["pm_card_my"], "MY"),
    country("4000005540000008", &["pm_card_nz"], "NZ"),
    country("4000007020000003", &["pm_card_sg"], "SG"),
    country("4000001580000008", &["pm_card_tw"], "TW"),
    brand("4000007640000003", &["pm_card_th_credit"], Visa, "credit", "TH", "Succeeds; issued in this country"),
    brand("4000057640000008", &["pm_card_th_debit"], Visa, "debit", "TH", "Succeeds; issued in this country"),
    // ── Declined payments ───────────────────────────────────────────────────
    outcome("4000000000000002", &["pm_card_visa_chargeDeclined", "pm_card_chargeDeclined"], Outcome::Declined(d::GENERIC), "Declined: generic_decline"),
    outcome("4000000000009995", &["pm_card_visa_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedInsufficientFunds"], Outcome::Declined(d::INSUFFICIENT_FUNDS), "Declined: insufficient_funds"),
    outcome("4000000000009987", &["pm_card_visa_chargeDeclinedLostCard", "pm_card_chargeDeclinedLostCard"], Outcome::Declined(d::LOST_CARD), "Declined: lost_card"),
    outcome("4000000000009979", &["pm_card_visa_chargeDeclinedStolenCard", "pm_card_chargeDeclinedStolenCard"], Outcome::Declined(d::STOLEN_CARD), "Declined: stolen_card"),
    outcome("4000000000000069", &["pm_card_chargeDeclinedExpiredCard"], Outcome::Declined(d::EXPIRED_CARD), "Declined: expired_card"),
    outcome("4000000000000127", &["pm_card_chargeDeclinedIncorrectCvc"], Outcome::Declined(d::INCORRECT_CVC), "Declined: incorrect_cvc"),
    outcome("4000000000000119", &["pm_card_chargeDeclinedProcessingError"], Outcome::Declined(d::PROCESSING_ERROR), "Declined: processing_error"),
    outcome("4000000000006975", &["pm_card_visa_chargeDeclinedVelocityLimitExceeded"], Outcome::Declined(d::VELOCITY_EXCEEDED), "Declined: card_velocity_exceeded"),
    outcome("4000000000000341", &["pm_card_chargeCustomerFail"], Outcome::AttachesThenDeclines(d::GENERIC), "Attaches to a customer; every charge is declined"),
    // ── Fraud prevention (Radar with its default rules) ─────────────────────
    Entry {
        number: "4100000000000019",
        tokens: &["pm_card_radarBlock"],
        outcome: Outcome::Blocked(d::FRAUDULENT),
        risk: HIGHEST,
        description: "Always blocked by Radar (risk level highest)",
        ..VISA
    },
    Entry {
        number: "4000000000004954",
        tokens: &["pm_card_riskLevelHighest"],
        outcome: Outcome::Blocked(d::FRAUDULENT),
        risk: HIGHEST,
        description: "Risk level highest: blocked by Radar's default rules",
        ..VISA
    },
    Entry {
        number: "4000000000009235",
        tokens: &["pm_card_riskLevelElevated"],
        risk: ELEVATED,
        description: "Succeeds with risk level elevated",
        ..VISA
    },
    checks("4000000000000101", &["pm_card_cvcCheckFail"], fails(Check::Fail), "Succeeds; the CVC check fails when a CVC is given"),
    checks("4000000000000036", &["pm_card_avsZipFail"], Checks { address_postal_code: Check::Fail, ..PASS }, "Succeeds; the postal code check fails"),
    checks("4000000000000028", &["pm_card_avsLine1Fail"], Checks { address_line1: Check::Fail, ..PASS }, "Succeeds; the address line 1 check fails"),
    checks("4000000000000010", &["pm_card_avsFail"], Checks { address_line1: Check::Fail, address_postal_code: Check::Fail, ..PASS }, "Succeeds; both address checks fail"),
    checks("4000000000000044", &["pm_card_avsUnchecked"], Checks { address_line1: Check::Unavailable, address_postal_code: Check::Unavailable, ..PASS }, "Succeeds; both address checks unavailable"),
    // ── Disputes, refunds, available balance ────────────────────────────────
    later("4000000000000259", &["pm_card_createDispute"], Later::Dispute("fraudulent"), "Succeeds, then disputed as fraudulent"),
    later("4000000000002685", &["pm_card_createDisputeProductNotReceived"], Later::Dispute("product_not_received"), "Succeeds, then disputed as product not received"),
    later("4000000000001976", &["pm_card_createDisputeInquiry"], Later::Inquiry, "Succeeds, then disputed as an inquiry"),
    later("4000000000005423", &["pm_card_createIssuerFraudRecord"], Later::EarlyFraudWarning, "Succeeds, then an early fraud warning"),
    later("4000000404000079", &["pm_card_createMultipleDisputes"], Later::MultipleDisputes, "Succeeds, then disputed several times"),
    later("4000000000007726", &["pm_card_pendingRefund"], Later::RefundPending, "Succeeds; refunds start pending, then succeed"),
    later("4000000000005126", &["pm_card_refundFail"], Later::RefundFails, "Succeeds; refunds start succeeded, then fail"),
    later("4000000000000077", &["pm_card_bypassPending"], Later::AvailableAtOnce, "Succeeds; funds available at once"),
    Entry {
        number: "4000003720000278",
        tokens: &["pm_card_bypassPendingInternational"],
        country: "IE",
        later: Later::AvailableAtOnce,
        description: "Succeeds; funds available at once (international)",
        ..VISA
    },
    // ── 3D Secure ───────────────────────────────────────────────────────────
    authenticate("4000002500003155", &["pm_card_authenticationRequiredOnSetup"], When::UnlessSetUp, None, "FR", "Authentication on session, and off session until set up"),
    authenticate("4000002760003184", &["pm_card_authenticationRequired"], When::Always, None, "DE", "Authentication on every payment"),
    authenticate("4000003800000446", &["pm_card_authenticationRequiredSetupForOffSession"], When::OnSession, None, "IT", "Authentication on session; off-session payments succeed"),
    authenticate("4000008260003178", &["pm_card_authenticationRequiredChargeDeclinedInsufficientFunds"], When::OnSession, Some(d::INSUFFICIENT_FUNDS), "GB", "Authentication on session, then declined: insufficient_funds"),
    authenticate("4000000000003220", &["pm_card_threeDSecure2Required"], When::Always, None, "US", "3-D Secure 2 required"),
    authenticate("4000008400001629", &["pm_card_threeDSecureRequiredChargeDeclined"], When::Always, Some(d::GENERIC), "US", "3-D Secure required, then declined: card_declined"),
    outcome("4000008400001280", &["pm_card_threeDSecureRequiredProcessingError"], Outcome::AttachesThenDeclines(d::GENERIC), "3-D Secure lookup fails: declined with card_declined"),
    outcome("4000000000003055", &["pm_card_threeDSecureOptional"], Outcome::AuthenticationOptional { fails: None }, "3-D Secure supported, not required"),
    outcome("4000000000003097", &["pm_card_threeDSecureOptionalProcessingError"], Outcome::AuthenticationOptional { fails: Some(d::PROCESSING_ERROR) }, "3-D Secure supported, not required; a requested attempt fails"),
    authenticate("4000000000003238", &[], When::Always, None, "US", "3-D Secure 2 (one-time passcode challenge)"),
    authenticate("4000000000003246", &[], When::Always, None, "US", "3-D Secure 2 (single-select challenge)"),
    authenticate("4000000000003253", &[], When::Always, None, "US", "3-D Secure 2 (multi-select challenge)"),
];
