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

mod catalogue;

pub use catalogue::CATALOGUE;
use catalogue::VISA;

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
mod tests;
