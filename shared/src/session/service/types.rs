//! What the session service takes and returns: request bodies, reports, pages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::session::Mode;

/// Default ephemeral timeout: 60 minutes.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;
/// Longest ephemeral timeout: 7 days (longer-lived sessions should be persistent).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 86400;

/// `POST /v1/sessions`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    #[serde(default)]
    pub mirrors: Option<Vec<String>>,
    #[serde(default)]
    pub seeds: BTreeMap<String, String>,
    #[serde(default)]
    pub seed_files: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub persistent: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Requests per second the session's mirrors accept (0: unlimited).
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

/// `POST /v1/sessions/{id}/reset`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetSession {
    #[serde(default)]
    pub mirrors: Option<Vec<String>>,
    #[serde(default)]
    pub seeds: BTreeMap<String, String>,
    #[serde(default)]
    pub seed_files: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorTiming {
    pub seed: String,
    pub config_hash: String,
    pub cached: bool,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub session: String,
    pub mirrors: BTreeMap<String, MirrorTiming>,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMirror {
    pub seed: String,
    pub object: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub workspace: String,
    pub session: String,
    pub session_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub created_at_ms: i64,
    /// Outlives its session: taken with `keep`, or by a persistent session.
    #[serde(default)]
    pub keep: bool,
    pub mirrors: BTreeMap<String, SnapshotMirror>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub session: String,
    pub snapshot: String,
    pub mirrors: BTreeMap<String, f64>,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ended {
    pub id: String,
    pub name: Option<String>,
    pub mode: Mode,
    pub status: &'static str,
    pub billed_minutes: u64,
    pub final_snapshot: Option<String>,
}

/// A workspace's session-minutes in one calendar month.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub workspace: String,
    /// `YYYY-MM` (UTC).
    pub period: crate::session::metering::Period,
    pub period_start: String,
    pub period_end: String,
    pub ephemeral_minutes: u64,
    pub persistent_minutes: u64,
    pub total_minutes: u64,
    /// Sessions still running; their minutes in the period so far are
    /// included above.
    pub live_sessions: usize,
}

/// Default page size of the control plane's lists.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
/// Largest page a list returns.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// `GET /v1/sessions` query: a page of the workspace's sessions, ordered by id.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSessions {
    pub limit: Option<usize>,
    /// The id of the last session of the previous page.
    pub starting_after: Option<String>,
    /// `active` or `expired` (expired, not yet torn down).
    pub status: Option<String>,
    pub mode: Option<Mode>,
    pub name: Option<String>,
}

/// `GET /v1/snapshots` and `GET /v1/sessions/{id}/snapshots` query: newest first.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSnapshots {
    pub limit: Option<usize>,
    /// The id of the last snapshot of the previous page.
    pub starting_after: Option<String>,
}

/// `POST /v1/sessions/{id}/snapshots` body.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeSnapshot {
    /// Keep the snapshot after an ephemeral session ends.
    #[serde(default)]
    pub keep: bool,
}

/// One page of a list, Stripe-style.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotDeleted {
    pub id: String,
    pub deleted: bool,
}
