//! Webhook signatures in each vendor's scheme, so the vendor's own SDK verifies
//! what a mirror delivers: Stripe's `Stripe-Signature: t=…,v1=…` (hex
//! HMAC-SHA256 of `t.payload`) and Svix's `svix-signature: v1,<base64>` (HMAC of
//! `id.t.payload` with the base64 key after `whsec_`), which Resend uses; and
//! Twilio's `X-Twilio-Signature` (base64 HMAC-SHA1 of the URL and the sorted
//! form parameters, keyed by the account's auth token) on status callbacks and
//! inbound messages.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The `Stripe-Signature` header value for `payload` sent at `t` (Unix seconds).
pub fn stripe(secret: &str, t: i64, payload: &str) -> String {
    let sig = hmac(
        secret.as_bytes(),
        &[t.to_string().as_bytes(), b".", payload.as_bytes()],
    );
    format!("t={t},v1={}", hex::encode(sig))
}

/// The `svix-signature` header value for message `id` sent at `t`.
pub fn svix(secret: &str, id: &str, t: i64, payload: &str) -> String {
    let key = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap_or_else(|_| key.as_bytes().to_vec());
    let sig = hmac(
        &key,
        &[
            id.as_bytes(),
            b".",
            t.to_string().as_bytes(),
            b".",
            payload.as_bytes(),
        ],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(sig)
    )
}

/// The `X-Twilio-Signature` header value for a request Twilio would make to
/// `url` (the full URL, query string included) with form `params`: each
/// parameter name, sorted, followed by each of its values, sorted and without
/// repeats, appended to the URL with no separators — as the SDKs'
/// `RequestValidator`s compute it.
pub fn twilio(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut signed = String::with_capacity(url.len() + 32 * pairs.len());
    signed.push_str(url);
    for (k, v) in pairs {
        signed.push_str(k);
        signed.push_str(v);
    }
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer test: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    /// is RFC-style vector f7bc83f4…; the Stripe header wraps the same function.
    #[test]
    fn signatures_match_the_hmac_known_answer() {
        let mac = hex::encode(hmac(
            b"key",
            &[b"The quick brown fox jumps over the lazy dog"],
        ));
        assert_eq!(
            mac,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let header = stripe("whsec_x", 1_700_000_000, "{}");
        let expected = hex::encode(hmac(b"whsec_x", &[b"1700000000.{}"]));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert!(
            svix("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1, "{}").starts_with("v1,")
        );
    }

    /// Vectors computed by twilio-python 9.13's `RequestValidator.compute_signature`:
    /// Twilio's documented example, parameters given out of order with
    /// non-ASCII and a repeated pair, and a URL with a query and no parameters.
    #[test]
    fn twilio_signatures_match_the_official_validator() {
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let documented = p(&[
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
        ]);
        assert_eq!(
            twilio(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &documented
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        let unordered = p(&[
            ("To", "+15005550006"),
            ("Body", "héllo & <b>"),
            ("A", "z"),
            ("A", "z"),
        ]);
        assert_eq!(
            twilio("12345", "https://example.com/sms", &unordered),
            "dFY+cRcR5so+zTeRDJ3voTNHshA="
        );
        assert_eq!(
            twilio("12345", "https://example.com/cb?x=1", &[]),
            "Z6EPIw6WF5rfbD9UUCHUBbSynOc="
        );
    }
}
