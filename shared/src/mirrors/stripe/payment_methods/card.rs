//! Building a card payment method: the card its parameters describe, its
//! preferred network, billing details and the checks Stripe runs on attach.

use serde_json::{json, Map, Value};

use super::Method;
use crate::mirrors::stripe::cards::{self, Card, Check};
use crate::mirrors::stripe::error::StripeError;
use crate::mirrors::stripe::update;
use crate::mirrors::toolkit::objects::into_map;

const ADDRESS: &[&str] = &["city", "country", "line1", "line2", "postal_code", "state"];

/// The card `card[…]` describes: a `tok_…` token, or a number with its expiry
/// (and optional CVC), checked as Stripe checks them. Answers the card, its
/// expiry and whether a CVC came with it.
pub(super) fn card_from(
    given: &Map<String, Value>,
    now: i64,
) -> Result<(Card, i64, i64, bool), StripeError> {
    let text = |k: &str| given.get(k).and_then(Value::as_str);
    if let Some(token) = given.get("token") {
        let token = token.as_str().unwrap_or_default();
        if let Some(other) = ["number", "exp_month", "exp_year", "cvc"]
            .into_iter()
            .find(|k| given.get(*k).is_some_and(|v| !v.is_null()))
        {
            return Err(StripeError::invalid(
                format!("You cannot pass card[{other}] together with card[token]."),
                format!("card[{other}]"),
            ));
        }
        let card = token
            .starts_with("tok_")
            .then(|| cards::by_token(token))
            .flatten()
            .ok_or_else(|| StripeError::no_such_param("token", token, "card[token]"))?;
        let (month, year) = cards::default_expiry(now);
        return Ok((card, month, year, true));
    }
    let Some(number) = text("number") else {
        return Err(StripeError::missing_parameter("card[number]"));
    };
    let card = cards::by_number(number).map_err(|d| d.error())?;
    let month = given.get("exp_month").and_then(Value::as_i64);
    let year = given.get("exp_year").and_then(Value::as_i64);
    let Some(month) = month else {
        return Err(StripeError::missing_parameter("card[exp_month]"));
    };
    let Some(year) = year else {
        return Err(StripeError::missing_parameter("card[exp_year]"));
    };
    let year = cards::check_expiry(month, year, now).map_err(|d| d.error())?;
    let cvc = text("cvc").filter(|c| !c.is_empty());
    if let Some(cvc) = cvc {
        cards::check_cvc(cvc, card.brand).map_err(|d| d.error())?;
    }
    Ok((card, month, year, cvc.is_some()))
}

/// `card[networks][preferred]`, which must be one of the card's networks.
pub(super) fn preferred_network(
    given: &Map<String, Value>,
    card: &Card,
) -> Result<Option<&'static str>, StripeError> {
    let Some(Value::String(p)) = given.get("networks").and_then(|n| n.get("preferred")) else {
        return Ok(None);
    };
    match card.networks().into_iter().find(|n| n == p) {
        Some(n) => Ok(Some(n)),
        None => Err(StripeError::invalid(
            format!(
                "The preferred network {p} is not one of this card's networks ({}).",
                card.networks().join(", ")
            ),
            "card[networks][preferred]",
        )),
    }
}

/// Sets `card.networks.preferred` (`""`: unsets) and the brand shown with it.
pub(super) fn set_preferred(m: &mut Method, network: &str) {
    let display = match network {
        "cartes_bancaires" => "cartes_bancaires",
        "eftpos_au" => "eftpos_australia",
        _ => m.card.brand.display(),
    };
    if let Some(Value::Object(card)) = m.object.get_mut("card") {
        let preferred = if network.is_empty() {
            Value::Null
        } else {
            network.into()
        };
        card.insert("display_brand".into(), display.into());
        if let Some(Value::Object(n)) = card.get_mut("networks") {
            n.insert("preferred".into(), preferred);
        }
    }
}

/// A new method in Stripe's shape (`id`, `object`, then alphabetical).
pub(super) fn new_method(
    id: &str,
    created: i64,
    card: Card,
    (exp_month, exp_year): (i64, i64),
    secret: &str,
    cvc_given: bool,
    billing: Value,
) -> Method {
    let address = &billing["address"];
    let given = |k: &str| {
        if address.get(k).is_some_and(|v| !v.is_null()) {
            json!("unchecked")
        } else {
            Value::Null
        }
    };
    let checks = json!({
        "address_line1_check": given("line1"),
        "address_postal_code_check": given("postal_code"),
        "cvc_check": if cvc_given { json!("unchecked") } else { Value::Null },
    });
    let hash = json!({
        "brand": card.brand.as_str(),
        "checks": checks,
        "country": card.country,
        "display_brand": card.brand.display(),
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": cards::fingerprint(secret, &card.number),
        "funding": card.funding,
        "generated_from": null,
        "last4": card.last4(),
        "networks": {"available": card.networks(), "preferred": null},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": card.three_d_secure},
        "wallet": null,
    });
    let object = json!({
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "card": hash,
        "created": created,
        "customer": null,
        "customer_account": null,
        "livemode": false,
        "metadata": {},
        "type": "card",
    });
    Method {
        object: into_map(object),
        card,
        set_up: false,
        consumed: false,
        fresh: true,
    }
}

/// `billing_details` after applying a `billing_details` parameter to `current`:
/// given fields replace (`""` unsets), the address as a whole; always every field.
pub(super) fn billing_details(current: &Map<String, Value>, given: Option<&Value>) -> Value {
    let mut out = Map::new();
    let given = given.and_then(Value::as_object);
    for k in ["address", "email", "name", "phone", "tax_id"] {
        let v = match given.and_then(|g| g.get(k)) {
            Some(v) => v.clone(),
            None => current.get(k).cloned().unwrap_or(Value::Null),
        };
        let v = if k == "address" {
            update::shaped(&v, ADDRESS)
        } else {
            v
        };
        out.insert(k.to_string(), v);
    }
    Value::Object(out)
}

/// Attaching checks the card: `unchecked` CVC and address checks get their result.
pub(super) fn run_checks(m: &mut Method) {
    let result = m.card.checks;
    let Some(Value::Object(checks)) = m.object.get_mut("card").and_then(|c| c.get_mut("checks"))
    else {
        return;
    };
    for (field, check) in [
        ("cvc_check", result.cvc),
        ("address_line1_check", result.address_line1),
        ("address_postal_code_check", result.address_postal_code),
    ] {
        if checks.get(field).and_then(Value::as_str) == Some("unchecked") {
            checks.insert(field.into(), check_value(check));
        }
    }
}

pub(super) fn check_value(c: Check) -> Value {
    c.as_str().into()
}

/// Inserts `key` just before `before` (keeping Stripe's alphabetical order).
pub(super) fn insert_before(obj: &mut Map<String, Value>, before: &str, key: &str, v: Value) {
    let mut out = Map::new();
    let mut v = Some(v);
    for (k, x) in std::mem::take(obj) {
        if k == before {
            if let Some(v) = v.take() {
                out.insert(key.to_string(), v);
            }
        }
        out.insert(k, x);
    }
    if let Some(v) = v {
        out.insert(key.to_string(), v);
    }
    *obj = out;
}
