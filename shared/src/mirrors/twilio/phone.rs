//! Phone numbers as Twilio reads them, and its magic test numbers, which decide
//! what sending to (or from) them does, exactly as with Twilio's test
//! credentials:
//!
//! | `To`           | answer |
//! |----------------|--------|
//! | `+15005550001` | 400, 21211 invalid number |
//! | `+15005550002` | 400, 21612 cannot route |
//! | `+15005550003` | 400, 21408 no international permission |
//! | `+15005550004` | 400, 21610 unsubscribed recipient (blocked) |
//! | `+15005550009` | 400, 21614 not a mobile number |
//!
//! | `From`         | answer |
//! |----------------|--------|
//! | `+15005550006` | sends (a valid number of every session) |
//! | `+15005550001` | 400, 21212 invalid number |
//! | `+15005550007` | 400, 21606 not owned by the account |
//! | `+15005550008` | 400, 21611 queue full |
//!
//! Twilio's test credentials never deliver, so the mirror adds two numbers of
//! its own for the outcomes a test needs to see after a message is accepted:
//! `+15005550011` ends `undelivered` (30003) and `+15005550012` `failed`
//! (30008). Every other valid `To` is `delivered`.

use super::error::TwilioError;

/// Twilio's magic numbers that more than one resource reads.
pub mod magic {
    /// Sends from any session; bought with test credentials.
    pub const VALID: &str = "+15005550006";
    /// Invalid as `To` (21211), `From` (21212) and to buy (21421).
    pub const INVALID: &str = "+15005550001";
    /// Not available to buy (21422).
    pub const UNAVAILABLE: &str = "+15005550000";
}

/// What becomes of a message once it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The carrier could not deliver it: `undelivered` with this code.
    Undelivered(u32),
    /// Twilio could not send it: `failed` with this code.
    Failed(u32),
}

impl Outcome {
    /// The error message Twilio gives a message ending so.
    pub fn error_message(self) -> Option<&'static str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Undelivered(_) => Some("Unreachable destination handset"),
            Outcome::Failed(_) => Some("Unknown error"),
        }
    }
}

/// `+` and 2 to 15 digits, the first not 0 (E.164).
pub fn is_e164(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// The number behind a channel address (`whatsapp:+1…` → `+1…`).
pub fn number_of(address: &str) -> &str {
    address.split_once(':').map_or(address, |(_, n)| n)
}

/// An alphanumeric sender ID: 1 to 11 letters, digits and spaces, at least
/// one letter.
pub fn is_alphanumeric_sender(s: &str) -> bool {
    (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `To` checked: Twilio's refusal for an invalid or magic number, else what
/// will become of the message.
pub fn check_to(to: &str, from: &str) -> Result<Outcome, TwilioError> {
    let n = number_of(to);
    let bad = |code, message: String| Err(TwilioError::bad(code, message));
    if !is_e164(n) {
        return bad(21211, format!("Invalid 'To' Phone Number: {to}"));
    }
    match n {
        magic::INVALID => bad(21211, format!("Invalid 'To' Phone Number: {to}")),
        "+15005550002" => bad(
            21612,
            format!(
                "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: {from} via SMS."
            ),
        ),
        "+15005550003" => bad(
            21408,
            format!("Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."),
        ),
        "+15005550004" => bad(21610, "Attempt to send to unsubscribed recipient".to_string()),
        "+15005550009" => bad(21614, format!("'To' number {to} is not a valid mobile number")),
        "+15005550011" => Ok(Outcome::Undelivered(30003)),
        "+15005550012" => Ok(Outcome::Failed(30008)),
        _ => Ok(Outcome::Delivered),
    }
}

/// A `From` given as a magic number is decided here (`Some`); any other is
/// the session's business (its numbers), `None`.
pub fn magic_from(from: &str) -> Option<Result<(), TwilioError>> {
    let bad = |code, message: String| Some(Err(TwilioError::bad(code, message)));
    match number_of(from) {
        magic::VALID => Some(Ok(())),
        magic::INVALID => bad(
            21212,
            format!("The 'From' number {from} is not a valid phone number, shortcode, or alphanumeric sender ID."),
        ),
        "+15005550007" => not_owned(from).map(Err),
        "+15005550008" => bad(21611, "This 'From' number has exceeded the maximum number of queued messages".to_string()),
        _ => None,
    }
}

/// 21606: a `From` that is not one of the account's numbers.
pub fn not_owned(from: &str) -> Option<TwilioError> {
    Some(TwilioError::bad(
        21606,
        format!("The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every magic `To` number answers its code; others are delivered.
    #[test]
    fn magic_to_numbers_answer_their_codes() {
        let code = |to| check_to(to, "+15005550006").map_err(|e| e.code);
        assert_eq!(code("+15005550001"), Err(21211));
        assert_eq!(code("+15005550002"), Err(21612));
        assert_eq!(code("+15005550003"), Err(21408));
        assert_eq!(code("+15005550004"), Err(21610));
        assert_eq!(code("+15005550009"), Err(21614));
        assert_eq!(code("12345"), Err(21211));
        assert_eq!(code("+15005550011"), Ok(Outcome::Undelivered(30003)));
        assert_eq!(code("+15005550012"), Ok(Outcome::Failed(30008)));
        assert_eq!(code("+14155552671"), Ok(Outcome::Delivered));
        assert_eq!(code("whatsapp:+14155552671"), Ok(Outcome::Delivered));
    }

    /// Magic `From` numbers decide; others are left to the session's numbers.
    #[test]
    fn magic_from_numbers_decide_and_others_are_left_open() {
        let code = |f| magic_from(f).map(|r| r.map_err(|e| e.code));
        assert_eq!(code("+15005550006"), Some(Ok(())));
        assert_eq!(code("+15005550001"), Some(Err(21212)));
        assert_eq!(code("+15005550007"), Some(Err(21606)));
        assert_eq!(code("+15005550008"), Some(Err(21611)));
        assert_eq!(code("+14155552671"), None);
        assert!(is_alphanumeric_sender("Mirra"));
        assert!(!is_alphanumeric_sender("123"));
    }
}
