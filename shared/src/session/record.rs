//! The stored session: what `SessionTable` rows carry in their body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::storage::SessionRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Ephemeral,
    Persistent,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ephemeral => "ephemeral",
            Mode::Persistent => "persistent",
        }
    }
}

/// One mirror of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorState {
    /// `default`, another built-in seed name, or `custom` for a seed file.
    pub seed: String,
    /// Config hash of the image the mirror was last created or reset from.
    pub image: String,
    /// The mirror's own credentials for this session (vendor-shaped).
    pub credentials: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub name: Option<String>,
    pub workspace: String,
    pub mode: Mode,
    /// Hash over the mirrors' config hashes.
    pub config_hash: String,
    /// Whether every image was already built when the session was created.
    pub cached: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, rounded up; `None` for persistent sessions.
    pub expires_at: Option<i64>,
    /// Unix milliseconds: expiry is exact to the millisecond, so a 1 s session
    /// lives 1 s. (0 / `None` in records written before these existed.)
    #[serde(default)]
    pub created_at_ms: i64,
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// Random per row: tells a reused id's new session from the old one.
    pub incarnation: String,
    pub mirrors: BTreeMap<String, MirrorState>,
    /// Requests per second its mirrors accept (0: unlimited; `None`: the default,
    /// [`DEFAULT_RATE_LIMIT`](super::rate::DEFAULT_RATE_LIMIT)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
}

impl Session {
    /// When it expires (Unix milliseconds), `None` for persistent sessions.
    pub fn expiry_ms(&self) -> Option<i64> {
        self.expires_at_ms
            .or_else(|| self.expires_at.map(|s| s.saturating_mul(1000)))
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expiry_ms().is_some_and(|t| now_ms >= t)
    }

    /// The row to store. Its `credentials` are left empty: which of the
    /// session's credentials name it is the mirrors' to say, so the session
    /// service fills them in for `create_session` (`put_session` keeps the
    /// stored ones).
    pub fn to_row(&self) -> Result<SessionRow, serde_json::Error> {
        Ok(SessionRow {
            id: self.id.clone(),
            incarnation: self.incarnation.clone(),
            workspace: self.workspace.clone(),
            name: self.name.clone(),
            expires_at: self.expires_at,
            body: serde_json::to_string(self)?,
            credentials: Vec::new(),
        })
    }

    pub fn from_row(row: &SessionRow) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&row.body)
    }

    /// When it started (Unix milliseconds).
    pub fn started_ms(&self) -> i64 {
        if self.created_at_ms > 0 {
            self.created_at_ms
        } else {
            self.created_at.saturating_mul(1000)
        }
    }

    /// Where its billed uptime ends if it ended at `now_ms`: its expiry, when
    /// that came first.
    pub fn billed_until_ms(&self, now_ms: i64) -> i64 {
        self.expiry_ms().map_or(now_ms, |t| t.min(now_ms))
    }
}
