//! What makes a broadcast's email one contact's: Resend's merge tags in its
//! subject, HTML and text (the contact's own unsubscribe link is one of
//! them, made by `links`).
//!
//! Tags are `{{{NAME}}}` or `{{{NAME|fallback}}}`: `FIRST_NAME`, `LAST_NAME`,
//! `EMAIL` and `RESEND_UNSUBSCRIBE_URL` (any case), `contact.first_name`,
//! `contact.last_name`, `contact.email`, and a contact property by its key
//! (`{{{company}}}` or `{{{contact.company}}}`). A tag with no value and no
//! fallback becomes empty.

use serde_json::Value;

/// `text` with every merge tag replaced for `contact`.
pub fn merge(text: &str, contact: &Value, unsubscribe_url: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{{") {
        let Some(len) = rest[start + 3..].find("}}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 3..start + 3 + len];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner.trim(), None),
        };
        let value = value_of(name, contact, unsubscribe_url);
        out.push_str(
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .or(fallback)
                .unwrap_or_default(),
        );
        rest = &rest[start + 3 + len + 3..];
    }
    out.push_str(rest);
    out
}

fn value_of(name: &str, contact: &Value, unsubscribe_url: &str) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let key = name.strip_prefix("contact.").unwrap_or(name);
    match key.to_ascii_uppercase().as_str() {
        "RESEND_UNSUBSCRIBE_URL" => return Some(unsubscribe_url.to_string()),
        "FIRST_NAME" => return text(&contact["first_name"]),
        "LAST_NAME" => return text(&contact["last_name"]),
        "EMAIL" => return text(&contact["email"]),
        _ => {}
    }
    text(&contact["properties"][key])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Tags take the contact's values, their fallbacks, or nothing.
    #[test]
    fn merge_tags_take_values_fallbacks_or_nothing() {
        let c = json!({"email": "ann@test.dev", "first_name": "Ann", "last_name": null,
                       "properties": {"company": "Acme", "seats": 3}});
        let u = "http://x/unsubscribe/1.ab";
        assert_eq!(merge("Hi {{{FIRST_NAME|there}}}!", &c, u), "Hi Ann!");
        assert_eq!(merge("Hi {{{LAST_NAME|friend}}}", &c, u), "Hi friend");
        assert_eq!(merge("{{{ last_name }}}.", &c, u), ".");
        assert_eq!(
            merge(
                "{{{contact.email}}} at {{{company}}} ({{{contact.seats}}})",
                &c,
                u
            ),
            "ann@test.dev at Acme (3)"
        );
        assert_eq!(
            merge("<a href=\"{{{RESEND_UNSUBSCRIBE_URL}}}\">", &c, u),
            format!("<a href=\"{u}\">")
        );
        assert_eq!(merge("{{{unclosed", &c, u), "{{{unclosed");
        assert_eq!(merge("no tags", &c, u), "no tags");
    }
}
