//! Domains: the sending domains a session has. Part one keeps them as seeded
//! state only (the `domains` API is not emulated yet): sending checks that the
//! `from` address's domain is here and verified, as Resend refuses mail from a
//! domain the account has not verified. `resend.dev` (Resend's
//! `onboarding@resend.dev`) needs no domain.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};

use super::emails::time::timestamp;
use crate::mirrors::toolkit::objects::Kind;

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

/// A domain object in Resend's shape.
pub fn new(id: &str, name: &str, status: &str, region: &str, created_ms: i64) -> Value {
    json!({
        "object": "domain",
        "id": id,
        "name": name,
        "status": status,
        "created_at": timestamp(created_ms),
        "region": region,
        "records": [],
    })
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
