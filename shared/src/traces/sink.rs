//! Where trace records go. Every sink keeps the same contract, which one
//! conformance suite (`conformance`) checks for each implementation:
//!
//! * `append` stores a batch before it returns `Ok` — durably, or (the JSONL
//!   stream) so that it survives the process and is durable after `sync` —
//!   and is idempotent by record id: a record appended again (at-least-once
//!   delivery) is listed once.
//! * `list` answers one session's records in id order (oldest first), after
//!   the cursor when given, at most `limit`, with `next` set when more follow.
//!   Records of other sessions are never listed.
//! * `get` answers a session's record by id, `None` for an id it does not
//!   hold (or one of another session).

use async_trait::async_trait;

use super::record::TraceRecord;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("trace sink I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("trace record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("trace sink unavailable: {0}")]
    Unavailable(String),
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    pub session: String,
    /// Only records of this workspace and session incarnation, when set (a
    /// reused session id never shows an earlier session's records).
    pub workspace: Option<String>,
    pub incarnation: Option<String>,
    /// Records after this id.
    pub after: Option<String>,
    pub limit: usize,
    /// `request`, or a lifecycle kind (`state.reset`).
    pub kind: Option<String>,
    pub mirror: Option<String>,
    pub method: Option<String>,
    /// `404`, or a class: `4xx`.
    pub status: Option<String>,
    /// A prefix of the whole path (`/m/ses_x/stripe/v1/customers`) or of
    /// the mirror's own (`/v1/customers`).
    pub path_prefix: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl TraceQuery {
    /// Whether `r` passes the filters (not the session, cursor or limit).
    pub fn matches(&self, r: &TraceRecord) -> bool {
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| got.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(w)))
        };
        let status_ok = self.status.as_deref().is_none_or(|want| {
            let got = r.status.map(|s| s.to_string()).unwrap_or_default();
            match want.strip_suffix("xx") {
                Some(class) => got.starts_with(class),
                None => got == want,
            }
        });
        let owned = |want: &Option<String>, got: &Option<String>| {
            want.as_deref().is_none_or(|w| got.as_deref() == Some(w))
        };
        owned(&self.workspace, &r.workspace)
            && owned(&self.incarnation, &r.incarnation)
            && self.kind.as_deref().is_none_or(|k| r.kind == k)
            && eq(&self.mirror, &r.mirror)
            && eq(&self.method, &r.method)
            && status_ok
            && self.path_prefix.as_deref().is_none_or(|p| {
                r.path.as_deref().is_some_and(|path| {
                    if p.starts_with("/m/") {
                        path.starts_with(p)
                    } else {
                        mirror_path(path).starts_with(p)
                    }
                })
            })
            && self.since_ms.is_none_or(|t| r.time_ms >= t)
            && self.until_ms.is_none_or(|t| r.time_ms <= t)
    }
}

/// `/m/{session}/{mirror}/v1/customers` → `/v1/customers` (the path as the
/// vendor's SDK sent it).
pub fn mirror_path(path: &str) -> &str {
    path.strip_prefix("/m/")
        .and_then(|rest| {
            let mut slashes = rest.match_indices('/').map(|(i, _)| i);
            slashes.nth(1).map(|i| &rest[i..])
        })
        .unwrap_or(path)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracePage {
    pub data: Vec<TraceRecord>,
    /// The cursor for the next page (the last record's id) when more follow.
    pub next: Option<String>,
}

impl TracePage {
    /// The page `q` asks for out of one session's records in id order (for
    /// sinks that read a session's records whole: JSONL, Redis).
    pub fn of(records: impl IntoIterator<Item = TraceRecord>, q: &TraceQuery) -> Self {
        let limit = q.limit.max(1);
        let mut data: Vec<TraceRecord> = records
            .into_iter()
            .filter(|r| q.after.as_deref().is_none_or(|a| r.id.as_str() > a))
            .filter(|r| q.matches(r))
            .take(limit + 1)
            .collect();
        let next = if data.len() > limit {
            data.truncate(limit);
            data.last().map(|r| r.id.clone())
        } else {
            None
        };
        TracePage { data, next }
    }
}

#[async_trait]
pub trait TraceSink: Send + Sync {
    /// Stores `records`; idempotent by id.
    async fn append(&self, records: &[TraceRecord]) -> Result<(), TraceError>;
    /// One session's records, filtered, in id order.
    async fn list(&self, q: &TraceQuery) -> Result<TracePage, TraceError>;
    /// One record of a session.
    async fn get(&self, session: &str, id: &str) -> Result<Option<TraceRecord>, TraceError>;
    /// Makes everything appended so far durable (a sink whose appends are
    /// durable already has nothing to do).
    async fn sync(&self) -> Result<(), TraceError> {
        Ok(())
    }
}
