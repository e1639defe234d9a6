//! What the session layer needs to know about a mirror: its schema, seeds and
//! credentials. Each mirror implements [`MirrorDef`]; `mirrors::all()` lists them.

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
}
