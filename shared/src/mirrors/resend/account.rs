//! The session's Resend account settings that seeds set: for now whether its
//! daily sending quota is spent (`resend:over-quota`), so a test can see its
//! application handle Resend's 429 `daily_quota_exceeded`.

use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension};

use super::error::ResendError;

/// The account's settings, one row per key.
pub const DDL: &str = "CREATE TABLE account (
    seq   INTEGER PRIMARY KEY,
    key   TEXT    NOT NULL UNIQUE,
    value TEXT    NOT NULL
);
";

const OVER_QUOTA: &str = "over_quota";

/// Marks the daily quota spent (a seed's `"over_quota": true`).
pub fn set_over_quota(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO account (key, value) VALUES (?1, 'true')",
        [OVER_QUOTA],
    )?;
    Ok(())
}

/// Resend's 429 when the daily quota is spent; every send checks it.
pub fn check_quota(conn: &Connection) -> Result<(), ResendError> {
    let spent: Option<String> = conn
        .prepare_cached("SELECT value FROM account WHERE key = ?1")?
        .query_row([OVER_QUOTA], |r| r.get(0))
        .optional()?;
    if spent.as_deref() == Some("true") {
        return Err(ResendError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "daily_quota_exceeded",
            "You have reached your daily email sending quota.",
        ));
    }
    Ok(())
}
