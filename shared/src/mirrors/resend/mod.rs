//! The Resend mirror: what Resend's official SDKs (resend-python, resend-node)
//! see when their base URL points at `/m/{session}/resend` (or at the server's
//! root, routed by the `re_…` key). [`pipeline`] runs every request (key,
//! session, idempotency, rate limit, route, parameters, one transaction);
//! [`routes`] lists the emulated operations; [`emails`] holds their behaviour;
//! [`inbox`] keeps every email sent as its recipients would get it, for tests
//! to read through the control plane; [`domains`] the session's sending
//! domains (seeded); [`later`] what timers do (a scheduled email goes out,
//! a sent one is delivered); [`contacts`] the session's contacts;
//! [`api_keys`] more keys for the session, full or sending-only;
//! [`segments`] (and audiences, their old name) group contacts, whom
//! [`broadcasts`] are sent to ([`personalize`]: merge tags); [`links`] what
//! recipients open without a key (unsubscribe, open pixel, tracked clicks);
//! [`webhooks`] the session's endpoints and
//! [`events`] what they are sent, Svix-signed, through the toolkit's outbox.
//! Around them: [`auth`] (Bearer keys, idempotency keys), [`error`] (Resend's
//! `{statusCode, name, message}`), [`params`] (tables generated from Resend's
//! OpenAPI by `infra/gen/resend`), [`seed`] (seed documents).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;

use crate::mirrors::toolkit::{idempotency, objects::Kind, outbox, timers};
use crate::mirrors::{Vendor, VendorError};
use crate::session::id::random_token;
use crate::session::{Door, MirrorDef};

pub mod account;
pub mod api_keys;
pub mod auth;
pub mod broadcasts;
pub mod contacts;
pub mod domains;
pub mod emails;
pub mod error;
pub mod events;
pub mod inbox;
pub mod later;
pub mod links;
pub mod lists;
pub mod params;
pub mod personalize;
pub mod pipeline;
pub mod routes;
pub mod seed;
pub mod segments;
pub mod webhooks;

pub use error::ResendError;

/// Every resource's storage.
pub static KINDS: &[&Kind] = &[
    &api_keys::KIND,
    &broadcasts::KIND,
    &contacts::KIND,
    &domains::KIND,
    &emails::KIND,
    &inbox::KIND,
    &segments::KIND,
    &segments::MEMBERS,
    &webhooks::KIND,
];

/// The mirror's DDL: each resource's table, then the toolkit's.
pub static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let mut sql: String = KINDS.iter().map(|k| k.ddl()).collect();
    sql.push_str(account::DDL);
    sql.push_str(idempotency::DDL);
    sql.push_str(outbox::DDL);
    sql.push_str(timers::DDL);
    sql
});

/// The Resend mirror's definition for the session layer, and its vendor.
pub struct Resend;

impl MirrorDef for Resend {
    fn name(&self) -> &'static str {
        "resend"
    }

    fn schema(&self) -> &'static str {
        &SCHEMA
    }

    fn seed_names(&self) -> &'static [&'static str] {
        seed::NAMES
    }

    fn builtin_seed(&self, name: &str) -> Option<serde_json::Value> {
        seed::builtin(name)
    }

    fn load_seed(
        &self,
        conn: &rusqlite::Connection,
        seed: &serde_json::Value,
    ) -> Result<(), String> {
        seed::load(conn, seed)
    }

    /// An API key in Resend's format (`re_` + 8 + `_` + 24) and a Svix-style
    /// webhook secret (`whsec_` + base64 of 24 random bytes: Svix verifiers
    /// base64-decode it), fresh per session, so one session's key is refused
    /// by every other session.
    fn new_credentials(&self) -> BTreeMap<String, String> {
        let secret: [u8; 24] = rand::random();
        BTreeMap::from([
            (
                "api_key".to_string(),
                format!("re_{}_{}", random_token(8), random_token(24)),
            ),
            (
                "webhook_secret".to_string(),
                format!(
                    "whsec_{}",
                    base64::engine::general_purpose::STANDARD.encode(secret)
                ),
            ),
        ])
    }

    /// resend-node reads `RESEND_BASE_URL`, resend-python `RESEND_API_URL`;
    /// both read `RESEND_API_KEY`.
    fn env(&self, base_url: &str, credentials: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let cred = |k: &str| credentials.get(k).cloned().unwrap_or_default();
        vec![
            ("RESEND_API_KEY".to_string(), cred("api_key")),
            ("RESEND_BASE_URL".to_string(), base_url.to_string()),
            ("RESEND_API_URL".to_string(), base_url.to_string()),
            ("RESEND_WEBHOOK_SECRET".to_string(), cred("webhook_secret")),
        ]
    }

    /// The API key names its session, so an SDK pointed at the server's root
    /// reaches it.
    fn routing_credentials(&self) -> &'static [&'static str] {
        &["api_key"]
    }

    fn fire(&self, timer: &crate::session::Firing<'_>) -> Result<(), String> {
        later::fire(timer)
    }
}

/// Resend's auth scheme (`Authorization: Bearer re_…`), error shape
/// ([`ResendError`]) and ids (UUIDs).
impl Vendor for Resend {
    /// A Resend key: it names its session.
    fn credential_in(&self, headers: &HeaderMap) -> Option<String> {
        auth::api_key(headers)
            .ok()
            .filter(|key| key.starts_with("re_"))
    }

    /// Resend's one API host.
    fn api_hosts(&self) -> &'static [&'static str] {
        &["api.resend.com"]
    }

    fn error_response(&self, error: VendorError) -> Response {
        ResendError::from(error).into_response()
    }

    /// A random (version 4) UUID, whatever the kind: Resend's ids.
    fn new_id(&self, _kind: &Kind) -> String {
        uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

/// Every request below the mirror's base URL goes to the [`pipeline`]; the API
/// layer nests this under `/m/{session}/resend`.
pub fn router() -> Router<Door> {
    Router::new()
        .route("/", any(pipeline::handle))
        .route("/{*rest}", any(pipeline::handle))
}
