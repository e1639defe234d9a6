//! Domains: `/domains`, `/domains/{domain_id}` and `/domains/{domain_id}/verify`
//! — the session's sending domains, seeded or created through the API with the
//! DNS records Resend asks for. Sending checks that the `from` address's
//! domain is here and verified, as Resend refuses mail from a domain the
//! account has not verified; `resend.dev` (Resend's `onboarding@resend.dev`)
//! needs no domain. With no DNS to look at, `verify` verifies at once.

use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};

use super::emails::time::timestamp;
use super::error::ResendError;
use super::lists;
use super::pipeline::Call;
use super::Resend;
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;

/// Storage: one row per domain, `name` and `status` indexed.
pub static KIND: Kind = Kind {
    object: "domain",
    table: "domains",
    prefix: "",
    id_len: 0,
    columns: &["name", "status"],
};

/// Resend's shared sending domain, usable by every account.
pub const RESEND_DEV: &str = "resend.dev";

/// The statuses a domain may have in Resend.
pub const STATUSES: &[&str] = &[
    "not_started",
    "pending",
    "verified",
    "partially_verified",
    "partially_failed",
    "failed",
    "temporary_failure",
];

/// Fields a list item has (Resend lists domains without their records).
const IN_LISTS: &[&str] = &[
    "id",
    "name",
    "status",
    "created_at",
    "region",
    "open_tracking",
    "click_tracking",
    "capabilities",
];

/// A domain object in Resend's shape, its DNS records in `status` too.
pub fn new(id: &str, name: &str, status: &str, region: &str, created_ms: i64) -> Value {
    json!({
        "object": "domain",
        "id": id,
        "name": name,
        "status": status,
        "created_at": timestamp(created_ms),
        "region": region,
        "open_tracking": false,
        "click_tracking": false,
        "capabilities": {"sending": "enabled", "receiving": "disabled"},
        "records": records(name, "send", region, status),
    })
}

/// The SPF (MX and TXT on the return-path subdomain) and DKIM records Resend
/// asks a domain's owner to publish.
fn records(name: &str, return_path: &str, region: &str, status: &str) -> Value {
    let status = if status == "verified" {
        "verified"
    } else {
        "not_started"
    };
    let dkim: String = name
        .bytes()
        .map(|b| char::from(b'A' + b % 26))
        .chain("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ".chars())
        .collect();
    json!([
        {"record": "SPF", "name": return_path, "type": "MX", "ttl": "Auto", "status": status,
         "value": format!("feedback-smtp.{region}.amazonses.com"), "priority": 10},
        {"record": "SPF", "name": return_path, "type": "TXT", "ttl": "Auto", "status": status,
         "value": "v=spf1 include:amazonses.com ~all"},
        {"record": "DKIM", "name": "resend._domainkey", "type": "TXT", "ttl": "Auto", "status": status,
         "value": format!("p={dkim}")},
    ])
}

/// Whether mail may be sent from `domain` (lowercase): `resend.dev`, or one of
/// the session's domains that is verified.
pub fn may_send_from(conn: &Connection, domain: &str) -> rusqlite::Result<bool> {
    if domain == RESEND_DEV {
        return Ok(true);
    }
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT 1 FROM domains WHERE deleted = 0 AND name = ?1 AND status = 'verified' LIMIT 1",
        )?
        .query_row([domain], |r| r.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// Whether the session's domain `domain` tracks opens and clicks.
pub fn tracking(conn: &Connection, domain: &str) -> rusqlite::Result<(bool, bool)> {
    let found: Option<String> = conn
        .prepare_cached("SELECT data FROM domains WHERE deleted = 0 AND name = ?1 LIMIT 1")?
        .query_row([domain], |r| r.get(0))
        .optional()?;
    let d: serde_json::Value = found
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Ok((
        d["open_tracking"].as_bool().unwrap_or(false),
        d["click_tracking"].as_bool().unwrap_or(false),
    ))
}

/// `POST /domains`: a new domain, `not_started`, with the records to publish.
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let p = |k: &str| call.params.get(k);
    let name = p("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !is_domain_name(&name) {
        return Err(ResendError::validation(format!(
            "Invalid `name` field: {name:?} is not a domain name."
        )));
    }
    let taken: Option<i64> = call
        .conn
        .prepare_cached("SELECT 1 FROM domains WHERE deleted = 0 AND name = ?1")?
        .query_row([&name], |r| r.get(0))
        .optional()?;
    if taken.is_some() || name == RESEND_DEV {
        return Err(ResendError::new(
            StatusCode::FORBIDDEN,
            "validation_error",
            format!("The domain {name} has been registered already."),
        ));
    }
    let region = p("region").and_then(Value::as_str).unwrap_or("us-east-1");
    let id = Resend.new_id(&KIND);
    let mut d = new(&id, &name, "not_started", region, call.now_ms);
    if let Some(rp) = p("custom_return_path").and_then(Value::as_str) {
        d["records"] = records(&name, rp, region, "not_started");
    }
    for k in ["open_tracking", "click_tracking", "tracking_subdomain"] {
        if let Some(v) = p(k) {
            d[k] = v.clone();
        }
    }
    if let Some(Value::Object(c)) = p("capabilities") {
        for (k, v) in c {
            d["capabilities"][k] = v.clone();
        }
    }
    KIND.insert_at(call.conn, &d, call.now_ms.div_euclid(1000))?;
    let mut out = d;
    if let Some(m) = out.as_object_mut() {
        m.remove("object");
    }
    Ok(out)
}

/// `GET /domains/{domain_id}`.
pub fn retrieve(call: &Call) -> Result<Value, ResendError> {
    load(call, call.args.get("domain_id"))
}

/// `GET /domains`: newest first, without records.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    lists::page(call, &KIND, ListQuery::default(), lists::only(IN_LISTS))
}

/// `PATCH /domains/{domain_id}`: tracking, TLS and capabilities.
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("domain_id");
    let mut d = load(call, id)?;
    for k in [
        "open_tracking",
        "click_tracking",
        "tls",
        "tracking_subdomain",
    ] {
        if let Some(v) = call.params.get(k) {
            d[k] = v.clone();
        }
    }
    if let Some(Value::Object(c)) = call.params.get("capabilities") {
        for (k, v) in c {
            d["capabilities"][k] = v.clone();
        }
    }
    KIND.save(call.conn, &d)?;
    Ok(json!({"object": "domain", "id": id}))
}

/// `POST /domains/{domain_id}/verify`: the domain and its records are verified.
pub fn verify(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("domain_id");
    let mut d = load(call, id)?;
    d["status"] = json!("verified");
    if let Some(records) = d["records"].as_array_mut() {
        for r in records {
            r["status"] = json!("verified");
        }
    }
    KIND.save(call.conn, &d)?;
    Ok(json!({"object": "domain", "id": id}))
}

/// `DELETE /domains/{domain_id}`: mail from it is refused again.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let id = call.args.get("domain_id");
    load(call, id)?;
    KIND.remove(call.conn, id)?;
    Ok(json!({"object": "domain", "id": id, "deleted": true}))
}

fn load(call: &Call, id: &str) -> Result<Value, ResendError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(ResendError::validation("The `id` must be a valid UUID."));
    }
    KIND.load(call.conn, id)?
        .ok_or_else(|| ResendError::not_found("Domain"))
}

/// Dotted labels of letters, digits and `-`, not starting or ending with `-`.
pub fn is_domain_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Domain names are dotted labels; the rest are refused.
    #[test]
    fn domain_names_are_dotted_labels() {
        for ok in ["example.com", "mail.acme-corp.co.uk", "a1.io"] {
            assert!(is_domain_name(ok), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "a b.com",
            "a_b.com",
        ] {
            assert!(!is_domain_name(bad), "{bad}");
        }
    }
}
