//! The Stripe mirror.
// TODO(stripe helper): replace this placeholder with the real mirror.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;

use crate::session::{MirrorDef, Sessions};

pub struct Stripe;

impl MirrorDef for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }
    fn schema(&self) -> &'static str {
        "CREATE TABLE customers (seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, data TEXT NOT NULL)"
    }
    fn seed_names(&self) -> &'static [&'static str] {
        &["default"]
    }
    fn builtin_seed(&self, name: &str) -> Option<serde_json::Value> {
        (name == "default").then(|| serde_json::json!({"customers": []}))
    }
    fn load_seed(&self, _conn: &rusqlite::Connection, _seed: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
    fn new_credentials(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    fn env(&self, _base_url: &str, _credentials: &BTreeMap<String, String>) -> Vec<(String, String)> {
        Vec::new()
    }
}

pub fn router() -> Router<Arc<Sessions>> {
    Router::new()
}
