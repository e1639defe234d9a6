//! What the session layer needs to know about a mirror: its schema, seeds and
//! credentials, and which of those credentials name a session. Each mirror
//! implements [`MirrorDef`]; `mirrors::all()` lists them. How a request carries
//! a credential is its vendor's auth scheme (`mirrors::vendor::Vendor`), not
//! the session layer's business.

use std::collections::BTreeMap;

use rusqlite::Connection;

pub trait MirrorDef: Send + Sync + 'static {
    /// `stripe`, `resend`, `twilio`: the path segment and host prefix.
    fn name(&self) -> &'static str;
    /// DDL for the mirror's tables (single-column primary keys; see `state::changes`).
    fn schema(&self) -> &'static str;
    /// Names of the built-in seeds, `default` first.
    fn seed_names(&self) -> &'static [&'static str];
    /// The JSON of a built-in seed.
    fn builtin_seed(&self, name: &str) -> Option<serde_json::Value>;
    /// Inserts a seed's rows into a fresh database; rejects a malformed seed with a
    /// message for the user. Must be deterministic.
    fn load_seed(&self, conn: &Connection, seed: &serde_json::Value) -> Result<(), String>;
    /// Fresh credentials for one session, in the vendor's shapes.
    fn new_credentials(&self) -> BTreeMap<String, String>;
    /// Environment variables that point an application at this mirror.
    fn env(&self, base_url: &str, credentials: &BTreeMap<String, String>) -> Vec<(String, String)>;

    /// Which of a session's credentials (keys of [`new_credentials`](Self::new_credentials))
    /// name it: the session table indexes them, so a request whose path and
    /// host name no session is routed by the one it carries (SDKs such as
    /// stripe-node can change only host and port; the vendor's `credential_in`
    /// finds it in the request). None by default.
    fn routing_credentials(&self) -> &'static [&'static str] {
        &[]
    }

    /// Makes the state change a due timer stands for (`mirrors::toolkit::timers`:
    /// its `kind`, `target` and `payload`), inside the dispatcher's logged
    /// write at `now_ms`. A timer whose change no longer applies (its target
    /// moved on) is a no-op; an `Err` undoes this timer's writes only and
    /// drops it. Mirrors without timers keep the default.
    fn fire(&self, _timer: &Firing<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// A due timer handed to [`MirrorDef::fire`], with what firing may use.
pub struct Firing<'a> {
    pub conn: &'a Connection,
    pub ctx: &'a super::SessionContext,
    pub kind: &'a str,
    pub target: &'a str,
    pub payload: Option<&'a str>,
    pub now_ms: i64,
}

/// Marks a request routed by a credential that names no session (its URI then
/// names no real session either): the mirror answers it as its vendor answers
/// an unknown key. Set only by the API's credential routing, never by a client.
#[derive(Debug, Clone, Copy)]
pub struct UnknownCredential;
