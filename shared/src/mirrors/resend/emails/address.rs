//! Email addresses as Resend takes them: `email@example.com` or
//! `Name <email@example.com>`, a field given as one string or an array.

use serde_json::Value;

use crate::mirrors::resend::error::ResendError;

/// Most addresses one of `to`, `cc` or `bcc` may hold.
pub const MAX_RECIPIENTS: usize = 50;

/// The address part of `Name <email@example.com>` (or the whole), when it looks
/// like an address: one `@`, a local part, a dotted domain, no spaces.
pub fn mailbox(text: &str) -> Option<&str> {
    let t = text.trim();
    let addr = match (t.rfind('<'), t.ends_with('>')) {
        (Some(open), true) => &t[open + 1..t.len() - 1],
        (None, false) => t,
        _ => return None,
    };
    let (local, domain) = addr.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !addr.chars().any(char::is_whitespace);
    ok.then_some(addr)
}

/// The domain of an address (`example.com`), lowercased.
pub fn domain(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Resend's refusal of a malformed address in `field`.
pub fn invalid(field: &str) -> ResendError {
    ResendError::validation(format!(
        "Invalid `{field}` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
    ))
}

/// A recipients field (`to`, `cc`, `bcc`, `reply_to`) as a list: one string or
/// an array of them (the schema let only those through), each checked, at
/// most [`MAX_RECIPIENTS`].
pub fn list(field: &str, v: Option<&Value>) -> Result<Vec<String>, ResendError> {
    let items: Vec<&str> = match v {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(invalid(field)),
    };
    if items.len() > MAX_RECIPIENTS {
        return Err(ResendError::validation(format!(
            "Too many recipients in the `{field}` field. The maximum is {MAX_RECIPIENTS}."
        )));
    }
    items
        .into_iter()
        .map(|s| {
            mailbox(s)
                .map(|_| s.trim().to_string())
                .ok_or_else(|| invalid(field))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Both of Resend's forms are addresses; the rest are not.
    #[test]
    fn plain_and_named_addresses_are_read() {
        assert_eq!(mailbox("a@example.com"), Some("a@example.com"));
        assert_eq!(mailbox("Acme <hi@acme.dev>"), Some("hi@acme.dev"));
        for bad in ["", "nobody", "a@b", "a b@c.d", "<a@b.c", "a@@b.c", "@b.c"] {
            assert_eq!(mailbox(bad), None, "{bad:?}");
        }
        assert_eq!(domain("Hi@Example.COM"), "example.com");
    }

    /// A field holds one address or up to fifty; the fifty-first is refused.
    #[test]
    fn a_field_takes_one_address_or_up_to_fifty() {
        assert_eq!(
            list("to", Some(&json!("a@b.co"))).expect("one"),
            vec!["a@b.co"]
        );
        let fifty: Vec<String> = (0..50).map(|i| format!("u{i}@b.co")).collect();
        assert_eq!(list("cc", Some(&json!(fifty))).expect("fifty").len(), 50);
        let more: Vec<String> = (0..51).map(|i| format!("u{i}@b.co")).collect();
        let e = list("bcc", Some(&json!(more))).expect_err("51");
        assert!(e.message.contains("`bcc`"), "{}", e.message);
        assert_eq!(
            list("to", Some(&json!(["x"])))
                .expect_err("bad")
                .status
                .as_u16(),
            422
        );
    }
}
