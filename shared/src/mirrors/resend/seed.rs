//! Seed documents: `{"domains": [{"name": "example.com", "status"?: "verified",
//! "region"?: "us-east-1"}], "over_quota"?: false}`. Loading is deterministic: ids and times are
//! derived from the document, never drawn at random, so one document always
//! builds the same image.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{account, domains};

const DEFAULT: &str = include_str!("../../../../seeds/resend/default.json");
const EMPTY: &str = include_str!("../../../../seeds/resend/empty.json");
const OVER_QUOTA: &str = include_str!("../../../../seeds/resend/over-quota.json");

/// `created_at` of seeded domains: 2025-01-01T00:00:00Z.
const BASE_CREATED_MS: i64 = 1_735_689_600_000;

/// `default`: one verified domain (`example.com`); `empty`: none, so only
/// `onboarding@resend.dev` may send; `over-quota`: `default` with the daily
/// quota spent, so every send answers 429 `daily_quota_exceeded`.
pub const NAMES: &[&str] = &["default", "empty", "over-quota"];

/// The document of a built-in seed.
pub fn builtin(name: &str) -> Option<Value> {
    match name {
        "default" => serde_json::from_str(DEFAULT).ok(),
        "empty" => serde_json::from_str(EMPTY).ok(),
        "over-quota" => serde_json::from_str(OVER_QUOTA).ok(),
        _ => None,
    }
}

/// Validates `seed` and inserts its rows.
pub fn load(conn: &rusqlite::Connection, seed: &Value) -> Result<(), String> {
    let Value::Object(doc) = seed else {
        return Err("a Resend seed must be a JSON object like {\"domains\": [ … ]}".into());
    };
    if let Some(k) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "domains" | "over_quota"))
    {
        return Err(format!(
            "unknown key {k:?} in a Resend seed (known: domains, over_quota)"
        ));
    }
    match doc.get("over_quota") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => account::set_over_quota(conn).map_err(|e| e.to_string())?,
        Some(other) => return Err(format!("\"over_quota\" must be true or false, not {other}")),
    }
    let list: &[Value] = match doc.get("domains") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err("\"domains\" must be an array of domain objects".into()),
    };
    let mut seen = std::collections::HashSet::new();
    for (i, entry) in list.iter().enumerate() {
        let at = |m: String| format!("domains[{i}]: {m}");
        let Value::Object(map) = entry else {
            return Err(at(
                "must be an object like {\"name\": \"example.com\"}".into()
            ));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "name" | "status" | "region"))
        {
            return Err(at(format!(
                "unknown key {k:?} (known: name, status, region)"
            )));
        }
        let text = |k: &str, default: &str| match map.get(k) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(at(format!("{k} must be a string, not {other}"))),
        };
        let name = text("name", "")?.to_ascii_lowercase();
        if !domains::is_domain_name(&name) {
            return Err(at(format!("name must be a domain name, not {name:?}")));
        }
        if !seen.insert(name.clone()) {
            return Err(at(format!("duplicate domain {name}")));
        }
        let status = text("status", "verified")?;
        if !domains::STATUSES.contains(&status.as_str()) {
            return Err(at(format!(
                "status must be one of {}, not {status:?}",
                domains::STATUSES.join(", ")
            )));
        }
        let region = text("region", "us-east-1")?;
        let id = derived_uuid(&name);
        let created_ms = BASE_CREATED_MS + 1000 * i64::try_from(i).unwrap_or(0);
        let obj = domains::new(&id, &name, &status, &region, created_ms);
        domains::KIND
            .insert_at(conn, &obj, created_ms.div_euclid(1000))
            .map_err(|e| at(e.to_string()))?;
    }
    Ok(())
}

/// A version-4-shaped UUID derived from `name`, so a seed builds one image.
fn derived_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("resend-domain:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirrors::resend::SCHEMA;

    fn db() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(&SCHEMA).expect("schema");
        conn
    }

    /// The default seed verifies example.com; the empty one has no domain.
    #[test]
    fn the_default_seed_verifies_example_com_and_empty_has_none() {
        let conn = db();
        load(&conn, &builtin("default").expect("default")).expect("load");
        assert!(domains::may_send_from(&conn, "example.com").expect("query"));
        let conn = db();
        load(&conn, &builtin("empty").expect("empty")).expect("load");
        assert!(!domains::may_send_from(&conn, "example.com").expect("query"));
        assert!(domains::may_send_from(&conn, "resend.dev").expect("query"));
    }

    /// A pending domain does not let mail through; malformed seeds are refused
    /// with where and why.
    #[test]
    fn seeds_are_checked_and_pending_domains_cannot_send() {
        let conn = db();
        load(
            &conn,
            &serde_json::json!({"domains": [{"name": "p.test", "status": "pending"}]}),
        )
        .expect("load");
        assert!(!domains::may_send_from(&conn, "p.test").expect("query"));
        for (bad, says) in [
            (serde_json::json!({"nope": []}), "unknown key"),
            (
                serde_json::json!({"domains": [{"name": "x"}]}),
                "domains[0]",
            ),
            (
                serde_json::json!({"domains": [{"name": "a.b", "status": "great"}]}),
                "status",
            ),
            (
                serde_json::json!({"domains": [{"name": "a.b"}, {"name": "A.B"}]}),
                "duplicate",
            ),
        ] {
            let e = load(&db(), &bad).expect_err("refused");
            assert!(e.contains(says), "{e}");
        }
    }
}
