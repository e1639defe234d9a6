//! What the account's billing settings decide, which Stripe keeps in its
//! Dashboard (Billing → Revenue recovery) and the API cannot reach: the days a
//! failed automatic payment is retried, and what happens to the subscription
//! and the invoice when the last retry fails. Mirra's test helper sets them
//! for a session (`POST /v1/test_helpers/mirra/billing_settings`); being
//! mirror state, they follow reset, snapshot and restore.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};

use super::error::StripeError;
use super::pipeline::Call;
use crate::mirrors::toolkit::objects::json_text;

pub const DDL: &str = "CREATE TABLE settings (
    key  TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
";

const KEY: &str = "billing";

/// Retry days after finalization: with the first attempt, 8 tries within 2
/// weeks (Stripe's recommended setting, on fixed days where Stripe's Smart
/// Retries choose their own times).
pub const RETRY_DAYS: &[i64] = &[1, 3, 5, 7, 10, 12, 14];

/// The settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub retry_days: Vec<i64>,
    /// `canceled` (Stripe's default), `unpaid` or `past_due`.
    pub subscription_after_retries: String,
    /// `past_due` (left open, Stripe's default) or `uncollectible`.
    pub invoice_after_retries: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_days: RETRY_DAYS.to_vec(),
            subscription_after_retries: "canceled".into(),
            invoice_after_retries: "past_due".into(),
        }
    }
}

impl Settings {
    fn to_value(&self) -> Value {
        json!({
            "object": "mirra.billing_settings",
            "invoice_after_retries": self.invoice_after_retries,
            "retry_days": self.retry_days,
            "subscription_after_retries": self.subscription_after_retries,
        })
    }
}

/// The session's settings (the defaults until set).
pub fn get(conn: &Connection) -> Result<Settings, StripeError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT data FROM settings WHERE key = ?1")?
        .query_row([KEY], |r| r.get(0))
        .optional()?;
    let Some(text) = text else {
        return Ok(Settings::default());
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| StripeError::Internal(format!("stored settings: {e}")))?;
    let d = Settings::default();
    Ok(Settings {
        retry_days: v["retry_days"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or(d.retry_days),
        subscription_after_retries: v["subscription_after_retries"]
            .as_str()
            .map_or(d.subscription_after_retries, str::to_string),
        invoice_after_retries: v["invoice_after_retries"]
            .as_str()
            .map_or(d.invoice_after_retries, str::to_string),
    })
}

/// `GET /v1/test_helpers/mirra/billing_settings`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    Ok(get(call.conn)?.to_value())
}

/// `POST /v1/test_helpers/mirra/billing_settings`: `retry_days` are 0 to 8
/// rising days, each at most 60 (an empty list: no retries).
pub fn update(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    let mut s = get(call.conn)?;
    if let Some(Value::Array(days)) = p.get("retry_days") {
        let days: Vec<i64> = days.iter().filter_map(Value::as_i64).collect();
        let rising = days.windows(2).all(|w| w[0] < w[1]);
        if days.len() > 8 || !rising || days.iter().any(|d| !(1..=60).contains(d)) {
            return Err(StripeError::invalid(
                "retry_days must be at most 8 rising numbers of days, each from 1 to 60.",
                "retry_days",
            ));
        }
        s.retry_days = days;
    } else if p.get("retry_days").is_some_and(Value::is_null) {
        s.retry_days = Vec::new();
    }
    if let Some(Value::String(v)) = p.get("subscription_after_retries") {
        s.subscription_after_retries = v.clone();
    }
    if let Some(Value::String(v)) = p.get("invoice_after_retries") {
        s.invoice_after_retries = v.clone();
    }
    let v = s.to_value();
    call.conn
        .prepare_cached("INSERT OR REPLACE INTO settings (key, data) VALUES (?1, ?2)")?
        .execute([KEY, &json_text(&v)])?;
    Ok(v)
}
