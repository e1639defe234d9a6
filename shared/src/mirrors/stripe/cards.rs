//! Stripe's test cards, as <https://docs.stripe.com/testing> documents them: every
//! test number with its `pm_card_*` names (a `tok_*` name follows from each:
//! `pm_card_visa` ↔ `tok_visa`), its brand, funding, issuing country, and — as
//! data, for the PaymentIntent and SetupIntent code to match on — what a charge or
//! a confirmation with it gets ([`Outcome`]), what Radar and the address/CVC
//! checks say, and what happens after a successful charge (disputes, refunds).
//!
//! A number outside the catalogue is a generic succeeding card of the brand its
//! IIN names, if it passes the Luhn check; otherwise it is Stripe's
//! `incorrect_number` card error. Fingerprints are stable per number within a
//! session (derived from the number and the session's secret key, never random),
//! as Stripe's are within an account.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::StripeError;

/// A card error's fields, in Stripe's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    /// The error code (`card_declined`, `expired_card`, `incorrect_cvc` …).
    pub code: &'static str,
    /// Why the issuer declined (`generic_decline`, `insufficient_funds` …).
    pub decline_code: Option<&'static str>,
    pub message: &'static str,
    /// The card field at fault (`cvc`, `exp_month`, `number`).
    pub param: Option<&'static str>,
}

impl Decline {
    /// The 402 `card_error` Stripe answers with.
    pub fn error(&self) -> StripeError {
        StripeError::card(self.code, self.decline_code, self.message, self.param)
    }

    /// The `last_payment_error` / `last_setup_error` hash fields (`code`,
    /// `decline_code`, `doc_url`, `message`, `param`, `type`) — the PaymentIntent
    /// code adds `payment_method`.
    pub fn as_json(&self) -> Value {
        match self.error().body() {
            Value::Object(mut o) => o.remove("error").unwrap_or(Value::Null),
            other => other,
        }
    }
}

const fn declined(
    code: &'static str,
    decline_code: Option<&'static str>,
    message: &'static str,
    param: Option<&'static str>,
) -> Decline {
    Decline {
        code,
        decline_code,
        message,
        param,
    }
}

/// Stripe's declines, word for word.
pub mod declines {
    use super::{declined, Decline};

    pub const GENERIC: Decline = declined(
        "card_declined",
        Some("generic_decline"),
        "Your card was declined.",
        None,
    );
    pub const INSUFFICIENT_FUNDS: Decline = declined(
        "card_declined",
        Some("insufficient_funds"),
        "Your card has insufficient funds.",
        None,
    );
    pub const LOST_CARD: Decline = declined(
        "card_declined",
        Some("lost_card"),
        "Your card was declined.",
        None,
    );
    pub const STOLEN_CARD: Decline = declined(
        "card_declined",
        Some("stolen_card"),
        "Your card was declined.",
        None,
    );
    pub const EXPIRED_CARD: Decline = declined(
        "expired_card",
        Some("expired_card"),
        "Your card has expired.",
        Some("exp_month"),
    );
    pub const INCORRECT_CVC: Decline = declined(
        "incorrect_cvc",
        Some("incorrect_cvc"),
        "Your card's security code is incorrect.",
        Some("cvc"),
    );
    pub const PROCESSING_ERROR: Decline = declined(
        "processing_error",
        Some("processing_error"),
        "An error occurred while processing your card. Try again in a little bit.",
        None,
    );
    pub const VELOCITY_EXCEEDED: Decline = declined(
        "card_declined",
        Some("card_velocity_exceeded"),
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
        None,
    );
    /// Radar blocked the payment.
    pub const FRAUDULENT: Decline = declined(
        "card_declined",
        Some("fraudulent"),
        "Your card was declined.",
        None,
    );
    /// An off-session payment with a card that needs authentication.
    pub const AUTHENTICATION_REQUIRED: Decline = declined(
        "authentication_required",
        Some("authentication_required"),
        "Your card was declined. This transaction requires authentication.",
        None,
    );
    /// A number that fails the Luhn check.
    pub const INCORRECT_NUMBER: Decline = declined(
        "incorrect_number",
        None,
        "Your card number is incorrect.",
        Some("number"),
    );
    /// Not a card number at all (letters, too short, too long).
    pub const INVALID_NUMBER: Decline = declined(
        "invalid_number",
        None,
        "The card number is not a valid credit card number.",
        Some("number"),
    );
    pub const INVALID_EXPIRY_MONTH: Decline = declined(
        "invalid_expiry_month",
        None,
        "Your card's expiration month is invalid.",
        Some("exp_month"),
    );
    pub const INVALID_EXPIRY_YEAR: Decline = declined(
        "invalid_expiry_year",
        None,
        "Your card's expiration year is invalid.",
        Some("exp_year"),
    );
    pub const INVALID_CVC: Decline = declined(
        "invalid_cvc",
        None,
        "Your card's security code is invalid.",
        Some("cvc"),
    );
}

/// When a card asks for 3-D Secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every payment, on or off session, set up or not (…3184, …3220): an
    /// off-session payment fails with [`declines::AUTHENTICATION_REQUIRED`].
    Always,
    /// On-session payments, and off-session ones until the card has been set up
    /// for future use (a SetupIntent, or `setup_future_usage`) (…3155).
    UnlessSetUp,
    /// On-session payments only: off-session payments go through as if the card
    /// had been set up (…0446, …3178).
    OnSession,
}

/// What a charge or a confirmation with the card gets. Radar and check results
/// ride beside it on [`Card`]; this is the verdict the PaymentIntent code acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The charge succeeds.
    Succeeds,
    /// The issuer declines every charge, and Stripe's check when the card is
    /// attached to a customer fails the same way ("the cards in this table can't
    /// be attached to a Customer object").
    Declined(Decline),
    /// Attaching works; every charge is declined (…0341 `pm_card_chargeCustomerFail`,
    /// …1280 whose 3-D Secure lookup always fails).
    AttachesThenDeclines(Decline),
    /// Radar blocks every charge (`outcome.type = "blocked"`); attaching works.
    Blocked(Decline),
    /// 3-D Secure is needed `when`; once the customer has authenticated, the charge
    /// succeeds, or is declined with `then`.
    RequiresAuthentication { when: When, then: Option<Decline> },
    /// 3-D Secure is supported but not required: the charge succeeds without it.
    /// When it is requested anyway (`request_three_d_secure=any`), the challenge
    /// works, or — `fails` — the attempt ends in that error (…3097).
    AuthenticationOptional { fails: Option<Decline> },
}

/// A card check's result once the card has been checked (attach or charge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Pass,
    Fail,
    Unavailable,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Pass => "pass",
            Check::Fail => "fail",
            Check::Unavailable => "unavailable",
        }
    }
}

/// What the CVC and address checks say, when the field was provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    pub cvc: Check,
    pub address_line1: Check,
    pub address_postal_code: Check,
}

const PASS: Checks = Checks {
    cvc: Check::Pass,
    address_line1: Check::Pass,
    address_postal_code: Check::Pass,
};

/// Radar's risk evaluation of a charge with the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Risk {
    /// `normal`, `elevated` or `highest`.
    pub level: &'static str,
    /// 0–99 (the mirror's choice per level: 20, 70, 95).
    pub score: u8,
}

const NORMAL: Risk = Risk {
    level: "normal",
    score: 20,
};
const ELEVATED: Risk = Risk {
    level: "elevated",
    score: 70,
};
const HIGHEST: Risk = Risk {
    level: "highest",
    score: 95,
};

/// What happens after a successful charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Later {
    Nothing,
    /// The charge is disputed with this reason (`fraudulent`, `product_not_received`).
    Dispute(&'static str),
    /// The charge is disputed as an inquiry.
    Inquiry,
    /// The charge gets an early fraud warning.
    EarlyFraudWarning,
    /// The charge is disputed several times.
    MultipleDisputes,
    /// A refund starts `pending`, then succeeds.
    RefundPending,
    /// A refund starts `succeeded`, then fails.
    RefundFails,
    /// The funds go straight to the available balance.
    AvailableAtOnce,
}

/// Card networks, as `card.brand` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Diners,
    Jcb,
    UnionPay,
    Unknown,
}

impl Brand {
    /// `card.brand`.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Diners => "diners",
            Brand::Jcb => "jcb",
            Brand::UnionPay => "unionpay",
            Brand::Unknown => "unknown",
        }
    }

    /// `card.display_brand`.
    pub fn display(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "american_express",
            Brand::Discover => "discover",
            Brand::Diners => "diners_club",
            Brand::Jcb => "jcb",
            Brand::UnionPay => "union_pay",
            Brand::Unknown => "other",
        }
    }

    /// The network in `card.networks.available`.
    pub fn network(self) -> Option<&'static str> {
        match self {
            Brand::Unknown => None,
            b => Some(b.as_str()),
        }
    }

    /// The brand an IIN (the number's first digits) names.
    pub fn of(number: &str) -> Brand {
        let prefix = |n: usize| -> u32 {
            number
                .get(..n.min(number.len()))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
        };
        let (p2, p3, p4, p6) = (prefix(2), prefix(3), prefix(4), prefix(6));
        match () {
            _ if number.starts_with('4') => Brand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => Brand::Mastercard,
            _ if p2 == 34 || p2 == 37 => Brand::Amex,
            _ if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => Brand::Diners,
            _ if (3528..=3589).contains(&p4) => Brand::Jcb,
            _ if (622126..=622925).contains(&p6) => Brand::Discover,
            _ if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => Brand::Discover,
            _ if p2 == 62 || p2 == 81 => Brand::UnionPay,
            _ => Brand::Unknown,
        }
    }
}

/// One test card of Stripe's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub number: &'static str,
    /// Its PaymentMethod names (`pm_card_…`); each has a `tok_…` twin.
    pub tokens: &'static [&'static str],
    pub brand: Brand,
    /// A second network on co-branded cards (`cartes_bancaires`, `eftpos_au`).
    pub co_brand: Option<&'static str>,
    /// `credit`, `debit` or `prepaid`.
    pub funding: &'static str,
    /// The issuer's country.
    pub country: &'static str,
    pub outcome: Outcome,
    pub checks: Checks,
    pub risk: Risk,
    pub later: Later,
    /// `card.three_d_secure_usage.supported`.
    pub three_d_secure: bool,
    /// What Stripe's table says of it.
    pub description: &'static str,
}

const VISA: Entry = Entry {
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

const fn visa(
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

const fn brand(
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

const fn country(
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

const fn outcome(
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

const fn checks(
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

const fn later(
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

const fn authenticate(
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

const fn fails(c: Check) -> Checks {
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

/// A card: a catalogue entry, or a generic card of some brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub number: String,
    pub brand: Brand,
    pub co_brand: Option<&'static str>,
    pub funding: &'static str,
    pub country: &'static str,
    pub outcome: Outcome,
    pub checks: Checks,
    pub risk: Risk,
    pub later: Later,
    pub three_d_secure: bool,
}

impl Card {
    fn from_entry(e: &Entry) -> Card {
        Card {
            number: e.number.to_string(),
            brand: e.brand,
            co_brand: e.co_brand,
            funding: e.funding,
            country: e.country,
            outcome: e.outcome,
            checks: e.checks,
            risk: e.risk,
            later: e.later,
            three_d_secure: e.three_d_secure,
        }
    }

    /// A succeeding card of the brand `number`'s IIN names.
    fn generic(number: &str) -> Card {
        Card {
            number: number.to_string(),
            brand: Brand::of(number),
            ..Card::from_entry(&VISA)
        }
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    /// `card.networks.available`: the co-brand first, as Stripe lists them.
    pub fn networks(&self) -> Vec<&'static str> {
        self.co_brand
            .into_iter()
            .chain(self.brand.network())
            .collect()
    }
}

/// The card a `pm_card_…` or `tok_…` name stands for.
pub fn by_token(name: &str) -> Option<Card> {
    let rest = name
        .strip_prefix("pm_card_")
        .or_else(|| name.strip_prefix("tok_"))?;
    CATALOGUE
        .iter()
        .find(|e| {
            e.tokens
                .iter()
                .any(|t| t.strip_prefix("pm_card_") == Some(rest))
        })
        .map(Card::from_entry)
}

/// True for names that look like test tokens (`pm_card_…`, `tok_…`), known or not.
pub fn is_token(name: &str) -> bool {
    name.starts_with("pm_card_") || name.starts_with("tok_")
}

/// The card for a number given in `card[number]`: a catalogue entry, a generic
/// card of its brand, or Stripe's card error for a number that is none.
pub fn by_number(number: &str) -> Result<Card, Decline> {
    if number.len() < 12 || number.len() > 19 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(declines::INVALID_NUMBER);
    }
    if !luhn(number) {
        return Err(declines::INCORRECT_NUMBER);
    }
    Ok(CATALOGUE
        .iter()
        .find(|e| e.number == number)
        .map(Card::from_entry)
        .unwrap_or_else(|| Card::generic(number)))
}

/// The Luhn checksum (mod 10) every card number carries.
pub fn luhn(number: &str) -> bool {
    let mut sum = 0;
    for (i, b) in number.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// `card.fingerprint`: 16 alphanumerics, the same for a number every time in one
/// session (keyed by the session's secret), different across sessions.
pub fn fingerprint(secret: &str, number: &str) -> String {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::new()
        .chain_update(b"mirra card fingerprint\0")
        .chain_update(secret.as_bytes())
        .chain_update(b"\0")
        .chain_update(number.as_bytes())
        .finalize();
    digest
        .iter()
        .take(16)
        .map(|b| ALNUM[usize::from(*b) % ALNUM.len()] as char)
        .collect()
}

/// The (year, month) of a Unix time, UTC.
pub fn year_month(unix: i64) -> (i64, i64) {
    // Howard Hinnant's days-to-civil.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// The expiry a card made from a test token gets: this month, next year.
pub fn default_expiry(now: i64) -> (i64, i64) {
    let (year, month) = year_month(now);
    (month, year + 1)
}

/// Checks an expiry given with a number; two-digit years are read as Stripe
/// reads them (`95` is 1995, `34` is 2034). Answers the four-digit year.
pub fn check_expiry(month: i64, year: i64, now: i64) -> Result<i64, Decline> {
    if !(1..=12).contains(&month) {
        return Err(declines::INVALID_EXPIRY_MONTH);
    }
    let (this_year, this_month) = year_month(now);
    let year = match year {
        0..=99 if 2000 + year <= this_year + 50 => 2000 + year,
        0..=99 => 1900 + year,
        y => y,
    };
    if year < this_year || year > this_year + 50 {
        return Err(declines::INVALID_EXPIRY_YEAR);
    }
    if year == this_year && month < this_month {
        return Err(declines::INVALID_EXPIRY_MONTH);
    }
    Ok(year)
}

/// Checks a CVC given with a number: 3 digits, or 3–4 for American Express.
pub fn check_cvc(cvc: &str, brand: Brand) -> Result<(), Decline> {
    let ok_len = if brand == Brand::Amex {
        (3..=4).contains(&cvc.len())
    } else {
        cvc.len() == 3
    };
    if ok_len && cvc.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(declines::INVALID_CVC)
    }
}

#[cfg(test)]
mod tests {
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
}
