//! 3-D Secure for PaymentIntents and SetupIntents: whether a confirmation with a
//! card must be authenticated by the customer first (the card catalogue's
//! [`Outcome`], whether the payment is off session, whether the card was set up),
//! and the `next_action` that sends the customer to do so.
//!
//! The customer's side is a page the mirror serves (`pages.rs`):
//! `{base}/_mirra/3ds/{intent}?client_secret=…`, with "Complete" and "Fail"
//! buttons. A test that has no browser calls Mirra's test helper instead:
//! `POST /v1/test_helpers/mirra/{payment_intents|setup_intents}/{intent}/authenticate`
//! with `outcome=complete|fail`.
//!
//! `next_action` is `redirect_to_url` when the confirmation gave a `return_url`
//! (as on Stripe), else `use_stripe_sdk` — the hash Stripe.js reads — whose
//! `stripe_js` is the same page, as Stripe's is a page a browser can open.

use serde_json::{json, Value};

use super::cards::{Card, Outcome, When};

/// What a confirmation with a card needs before it can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: charge (or set up) now.
    Nothing,
    /// The customer must authenticate (`requires_action`).
    Challenge,
    /// Authentication is needed but the customer is not there (off session, or
    /// `error_on_requires_action`): the attempt fails with
    /// `authentication_required`.
    Impossible,
}

/// What confirming with `card` needs. `off_session`: the customer is not
/// present; `set_up`: the card was set up for future use; `requested`:
/// `payment_method_options[card][request_three_d_secure]`; `setting_up`: this
/// is a SetupIntent (setting a card up is always done on session).
pub fn need(
    card: &Card,
    off_session: bool,
    set_up: bool,
    requested: Option<&str>,
    setting_up: bool,
) -> Need {
    let asked = matches!(requested, Some("any" | "challenge")) && card.three_d_secure;
    match card.outcome {
        Outcome::RequiresAuthentication { when, .. } => {
            if setting_up || !off_session {
                return Need::Challenge;
            }
            match when {
                When::Always => Need::Impossible,
                When::UnlessSetUp if !set_up => Need::Impossible,
                _ => Need::Nothing,
            }
        }
        Outcome::AuthenticationOptional { .. } | Outcome::Succeeds if asked && !off_session => {
            Need::Challenge
        }
        _ => Need::Nothing,
    }
}

/// The page a customer authenticates on.
pub fn page_url(base_url: &str, intent: &str, client_secret: &str) -> String {
    format!("{base_url}/_mirra/3ds/{intent}?client_secret={client_secret}")
}

/// The `next_action` of an intent awaiting authentication.
pub fn next_action(
    base_url: &str,
    intent: &str,
    client_secret: &str,
    return_url: Option<&str>,
) -> Value {
    let url = page_url(base_url, intent, client_secret);
    match return_url {
        Some(r) => json!({
            "redirect_to_url": {"return_url": r, "url": url},
            "type": "redirect_to_url",
        }),
        None => json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"stripe_js": url, "type": "three_d_secure_redirect"},
        }),
    }
}

/// The `return_url` a `next_action` carries, for when authentication is done.
pub fn return_url(next_action: &Value) -> Option<&str> {
    next_action["redirect_to_url"]["return_url"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirrors::stripe::cards::by_token;

    fn card(t: &str) -> Card {
        by_token(t).expect("catalogued")
    }

    /// On session every authentication card is challenged; off session only
    /// those the catalogue says still need it (unless set up).
    #[test]
    fn authentication_follows_the_catalogue() {
        let always = card("pm_card_authenticationRequired");
        let setup = card("pm_card_authenticationRequiredOnSetup");
        let on_session = card("pm_card_authenticationRequiredSetupForOffSession");
        let visa = card("pm_card_visa");
        assert_eq!(need(&always, false, false, None, false), Need::Challenge);
        assert_eq!(need(&always, true, true, None, false), Need::Impossible);
        assert_eq!(need(&setup, true, false, None, false), Need::Impossible);
        assert_eq!(need(&setup, true, true, None, false), Need::Nothing);
        assert_eq!(need(&on_session, true, false, None, false), Need::Nothing);
        assert_eq!(need(&setup, false, false, None, true), Need::Challenge);
        assert_eq!(need(&visa, false, false, None, false), Need::Nothing);
        assert_eq!(
            need(&visa, false, false, Some("any"), false),
            Need::Challenge
        );
        assert_eq!(
            need(&card("pm_card_amex"), false, false, Some("any"), false),
            Need::Nothing
        );
    }
}
