//! Secrets out of traced bodies, before a record exists: values of fields
//! that name a secret (`secret`, `password`, `token`, `api_key`, `cvc`, card
//! `number`, …) in JSON and form bodies, and anything that reads as a secret
//! wherever it stands — vendor keys (`sk_…`, `rk_…`, `re_…`, `whsec_…`) and
//! card numbers (13–19 digits passing Luhn, not a `+` phone number). Headers
//! are never recorded, so `Authorization` and Basic credentials never are.

use serde_json::Value;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";

/// Field names whose values are secrets, matched case-insensitively on the
/// last segment of a form key (`card[cvc]` → `cvc`).
const SECRET_FIELDS: &[&str] = &[
    "secret",
    "client_secret",
    "signing_secret",
    "webhook_secret",
    "api_key",
    "api_key_secret",
    "api_secret",
    "auth_token",
    "token",
    "password",
    "cvc",
    "cvv",
    "number",
];

/// Value prefixes of vendor secrets.
const SECRET_PREFIXES: &[&str] = &[
    "sk_test_", "sk_live_", "rk_test_", "rk_live_", "re_", "whsec_",
];

fn is_secret_field(name: &str) -> bool {
    let last = name
        .rsplit(['[', '.'])
        .next()
        .unwrap_or(name)
        .trim_end_matches(']')
        .to_ascii_lowercase();
    SECRET_FIELDS.contains(&last.as_str())
}

/// A body as it may be recorded: JSON and form bodies field by field, any
/// other text by pattern. A body with nothing that could be a secret (no
/// secret field name, no key prefix starting a word, no run of 13 digits) is
/// kept as it is, unparsed: most bodies, at a fraction of the cost.
pub fn body(text: &str) -> String {
    if !might_hold_secret(text) {
        return text.to_string();
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(mut v) = serde_json::from_str::<Value>(text) {
            json(&mut v);
            return crate::mirrors::toolkit::objects::json_text(&v);
        }
    }
    if !text.is_empty() && !text.contains(char::is_whitespace) && text.contains('=') {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(text.as_bytes()) {
            let v = if is_secret_field(&k) {
                REDACTED.to_string()
            } else {
                words(&v)
            };
            out.append_pair(&k, &v);
        }
        return out.finish();
    }
    words(text)
}

/// Whether `text` has anything [`body`] would redact (it may have more
/// false alarms, never a miss): a secret field's name anywhere (any case),
/// a key prefix at the start of a word, 13 digits in a row.
fn might_hold_secret(text: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let prefix_starts_word = SECRET_PREFIXES.iter().any(|p| {
        text.match_indices(p)
            .any(|(i, _)| i == 0 || !word(bytes[i - 1]))
    });
    let mut run = 0;
    let digits = bytes.iter().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= 13
    });
    if prefix_starts_word || digits {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    SECRET_FIELDS.iter().any(|f| lower.contains(f))
}

/// Secret fields and secret-looking strings of a JSON value, in place.
pub fn json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if is_secret_field(k) && !child.is_object() && !child.is_array() && !child.is_null()
                {
                    *child = Value::String(REDACTED.into());
                } else {
                    json(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => {
            let clean = words(s);
            if clean != *s {
                *s = clean;
            }
        }
        _ => {}
    }
}

/// `text` with each secret-looking token (vendor keys, card numbers)
/// replaced.
pub fn words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let mut prev: Option<char> = None;
    let flush = |token: &mut String, out: &mut String, before: Option<char>| {
        if SECRET_PREFIXES
            .iter()
            .any(|p| token.starts_with(p) && token.len() > p.len() + 4)
            || (before != Some('+') && is_card_number(token))
        {
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    let mut before_token = None;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if token.is_empty() {
                before_token = prev;
            }
            token.push(c);
        } else {
            flush(&mut token, &mut out, before_token);
            out.push(c);
        }
        prev = Some(c);
    }
    flush(&mut token, &mut out, before_token);
    out
}

/// 13–19 digits passing the Luhn check.
fn is_card_number(s: &str) -> bool {
    if !(13..=19).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every secret kind is redacted in JSON, form and plain bodies; what is
    /// not a secret (a phone number, an id, an amount) stays.
    #[test]
    fn every_secret_kind_is_redacted_and_nothing_else() {
        let form = "card%5Bnumber%5D=4242424242424242&card%5Bcvc%5D=123&amount=2000&To=%2B14155552671&description=key+sk_test_abcdef123456";
        let out = body(form);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(out.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .expect(k)
        };
        assert_eq!(get("card[number]"), REDACTED);
        assert_eq!(get("card[cvc]"), REDACTED);
        assert_eq!(get("amount"), "2000");
        assert_eq!(get("To"), "+14155552671");
        assert_eq!(get("description"), format!("key {REDACTED}"));

        let json_body = r#"{"id":"we_1","secret":"whsec_abc123456789","signing_secret":"whsec_x","api_key":"re_123456789","nested":{"token":"re_abc_defghijk","note":"card 4000056655665556 ok"},"to":"+15005550006","client_secret":"pi_1_secret_2"}"#;
        let v: Value = serde_json::from_str(&body(json_body)).expect("json");
        for k in ["secret", "signing_secret", "api_key", "client_secret"] {
            assert_eq!(v[k], REDACTED, "{k}");
        }
        assert_eq!(v["nested"]["token"], REDACTED);
        assert_eq!(v["nested"]["note"], format!("card {REDACTED} ok"));
        assert_eq!(v["id"], "we_1");
        assert_eq!(v["to"], "+15005550006");

        assert_eq!(
            words("Bearer re_live_1234567890"),
            format!("Bearer {REDACTED}")
        );
        assert_eq!(
            words("order 4111111111111111"),
            format!("order {REDACTED}"),
            "Luhn-valid"
        );
        assert_eq!(
            words("order 4111111111111112"),
            "order 4111111111111112",
            "not Luhn-valid"
        );
    }

    /// The quick check never lets a secret through: whatever `body` would
    /// change, it flags; a plain body is kept byte for byte.
    #[test]
    fn the_quick_check_flags_every_body_with_a_secret() {
        for text in [
            "card%5Bnumber%5D=1",
            r#"{"Password":"x"}"#,
            "key=sk_test_abcdef12345",
            r#"{"k":"(re_abcdefgh1)"}"#,
            "pan 4000056655665556",
            r#"{"cvc":"123"}"#,
        ] {
            assert!(might_hold_secret(text), "{text}");
            assert_ne!(body(text), text, "{text}");
        }
        let plain = r#"{"id": "cus_1", "capture_method": "automatic", "amount": 2000}"#;
        assert!(!might_hold_secret(plain));
        assert_eq!(body(plain), plain);
    }
}
