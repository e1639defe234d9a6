//! Seed documents: `{"phone_numbers": [{"phone_number": "+15005550006",
//! "friendly_name"?: "…", "sms_url"?: "https://…", "sms_method"?: "POST" |
//! "GET", "sms_fallback_url"?: "https://…"}]}`. Loading is
//! deterministic: SIDs and times are derived from the document, never drawn
//! at random, so one document always builds the same image. The account SID
//! in the numbers' URIs is filled in per session when they are read.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::numbers::{self, NewNumber};
use super::phone;

const DEFAULT: &str = include_str!("../../../../seeds/twilio/default.json");
const EMPTY: &str = include_str!("../../../../seeds/twilio/empty.json");

/// What a seeded number may say.
const KEYS: &[&str] = &[
    "phone_number",
    "friendly_name",
    "sms_url",
    "sms_method",
    "sms_fallback_url",
];

/// `created` of seeded objects: 2025-01-01T00:00:00Z.
const BASE_CREATED_MS: i64 = 1_735_689_600_000;

/// The account SID seeded objects carry: a session's real one is not known
/// when its image is built (images are shared by sessions), so seeded
/// objects name this placeholder and [`ACCOUNT_PLACEHOLDER`] is replaced on
/// the way out (`pipeline`).
pub const ACCOUNT_PLACEHOLDER: &str = "AC00000000000000000000000000000000";

/// `default`: the magic number `+15005550006` as the session's own;
/// `empty`: no numbers (only the magic number sends).
pub const NAMES: &[&str] = &["default", "empty"];

pub fn builtin(name: &str) -> Option<Value> {
    match name {
        "default" => serde_json::from_str(DEFAULT).ok(),
        "empty" => serde_json::from_str(EMPTY).ok(),
        _ => None,
    }
}

/// Validates `seed` and inserts its rows.
pub fn load(conn: &rusqlite::Connection, seed: &Value) -> Result<(), String> {
    let Value::Object(doc) = seed else {
        return Err("a Twilio seed must be a JSON object like {\"phone_numbers\": [ … ]}".into());
    };
    if let Some(k) = doc.keys().find(|k| k.as_str() != "phone_numbers") {
        return Err(format!(
            "unknown key {k:?} in a Twilio seed (known: phone_numbers)"
        ));
    }
    let list: &[Value] = match doc.get("phone_numbers") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err("\"phone_numbers\" must be an array of number objects".into()),
    };
    let mut seen = std::collections::HashSet::new();
    for (i, entry) in list.iter().enumerate() {
        let at = |m: String| format!("phone_numbers[{i}]: {m}");
        let Value::Object(map) = entry else {
            return Err(at(
                "must be an object like {\"phone_number\": \"+15005550006\"}".into(),
            ));
        };
        if let Some(k) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(at(format!(
                "unknown key {k:?} (known: {})",
                KEYS.join(", ")
            )));
        }
        let text = |k: &str| match map.get(k) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(at(format!("{k} must be a string, not {other}"))),
        };
        let number = text("phone_number")?;
        if !phone::is_e164(&number) {
            return Err(at(format!(
                "phone_number must be E.164 (+15005550006), not {number:?}"
            )));
        }
        if !seen.insert(number.clone()) {
            return Err(at(format!("{number} is listed twice")));
        }
        let sms_url = text("sms_url")?;
        let friendly = match text("friendly_name")? {
            f if f.is_empty() => number.clone(),
            f => f,
        };
        let digest = Sha256::digest(format!("twilio seed number {number}").as_bytes());
        let sid = format!("PN{}", &hex::encode(digest)[..32]);
        let created_ms = BASE_CREATED_MS + i as i64 * 1000;
        let sms_method = match text("sms_method")?.to_ascii_uppercase() {
            m if m.is_empty() => "POST".to_string(),
            m if m == "GET" || m == "POST" => m,
            m => return Err(at(format!("sms_method must be GET or POST, not {m:?}"))),
        };
        let mut obj = numbers::render(&NewNumber {
            account: ACCOUNT_PLACEHOLDER,
            sid: &sid,
            phone_number: &number,
            friendly_name: &friendly,
            sms_url: &sms_url,
            created_ms,
        });
        obj["sms_method"] = Value::String(sms_method);
        obj["sms_fallback_url"] = Value::String(text("sms_fallback_url")?);
        numbers::KIND
            .insert_at(conn, &obj, created_ms / 1000)
            .map_err(|e| at(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in seeds parse and load; bad documents say what is wrong.
    #[test]
    fn builtin_seeds_load_and_bad_ones_are_explained() {
        for name in NAMES {
            let conn = rusqlite::Connection::open_in_memory().expect("db");
            conn.execute_batch(&numbers::KIND.ddl()).expect("ddl");
            load(&conn, &builtin(name).expect("seed")).expect("loads");
        }
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch(&numbers::KIND.ddl()).expect("ddl");
        let err = |v: Value| load(&conn, &v).expect_err("bad seed");
        assert!(err(serde_json::json!({"numbers": []})).contains("unknown key"));
        assert!(
            err(serde_json::json!({"phone_numbers": [{"phone_number": "555"}]})).contains("E.164")
        );
        assert!(err(serde_json::json!({"phone_numbers": [
            {"phone_number": "+15005550006", "sms_method": "PUT"}
        ]}))
        .contains("sms_method must be GET or POST"));
    }
}
