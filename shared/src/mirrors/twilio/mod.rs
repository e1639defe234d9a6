//! The Twilio mirror: what Twilio's official SDKs (twilio-python, twilio-node)
//! see when their domains' base URLs point at `/m/{session}/twilio` (or at the
//! server's root, routed by the Account SID or API key SID). One base URL
//! serves the three hosts the SDKs call (`api.`, `verify.`, `messaging.`),
//! told apart by the path's version (`pipeline`).
//!
//! [`pipeline`] runs every request (Basic credentials, session, rate limit,
//! route, parameters, one transaction); [`routes`] lists the emulated
//! operations. Resources: [`messages`] (sent on a schedule with status
//! callbacks, [`phone`]'s magic numbers deciding outcomes), [`media`],
//! [`numbers`] (the session's own, seeded or bought from
//! [`available_numbers`]), [`messaging_services`], [`account`].
//! Around them: [`auth`], [`error`] (Twilio's `{code, message, more_info,
//! status}`), [`params`] (tables generated from Twilio's OpenAPI documents by
//! `infra/gen/twilio`), [`paging`] (Twilio's pages), [`later`] (timers),
//! [`seed`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use crate::mirrors::toolkit::{objects::Kind, outbox, timers};
use crate::mirrors::{Vendor, VendorError};
use crate::session::{Door, MirrorDef};

pub mod account;
pub mod auth;
pub mod available_numbers;
pub mod error;
pub mod inbound;
pub mod later;
pub mod media;
pub mod messages;
pub mod messaging_services;
pub mod numbers;
pub mod paging;
pub mod params;
pub mod phone;
pub mod pipeline;
pub mod routes;
pub mod seed;
pub mod twiml;
pub mod verify;

pub use error::TwilioError;

/// Every resource's storage.
pub static KINDS: &[&Kind] = &[
    &media::KIND,
    &messages::KIND,
    &messaging_services::KIND,
    &messaging_services::NUMBERS,
    &numbers::KIND,
    &verify::services::KIND,
    &verify::verifications::KIND,
    &verify::verifications::SECRETS,
];

/// The mirror's DDL: each resource's table, then the toolkit's.
pub static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let mut sql: String = KINDS.iter().map(|k| k.ddl()).collect();
    sql.push_str(outbox::DDL);
    sql.push_str(timers::DDL);
    sql
});

/// Twilio's SIDs: two letters and 32 lowercase hex digits.
fn sid(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The Twilio mirror's definition for the session layer, and its vendor.
pub struct Twilio;

impl MirrorDef for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
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

    /// An account (`AC` + 32 hex) with its auth token (32 hex), and an API key
    /// (`SK` + 32 hex) with its secret, fresh per session, so one session's
    /// credentials are refused by every other session.
    fn new_credentials(&self) -> BTreeMap<String, String> {
        let secret: [u8; 16] = rand::random();
        BTreeMap::from([
            ("account_sid".to_string(), sid("AC")),
            (
                "auth_token".to_string(),
                hex::encode(rand::random::<[u8; 16]>()),
            ),
            ("api_key_sid".to_string(), sid("SK")),
            ("api_key_secret".to_string(), hex::encode(secret)),
        ])
    }

    /// twilio-python and twilio-node read `TWILIO_ACCOUNT_SID` and
    /// `TWILIO_AUTH_TOKEN` (`Client()` / `twilio()` with no arguments); the base
    /// URL is for the app to set on the client's domains (README).
    fn env(&self, base_url: &str, credentials: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let cred = |k: &str| credentials.get(k).cloned().unwrap_or_default();
        vec![
            ("TWILIO_ACCOUNT_SID".to_string(), cred("account_sid")),
            ("TWILIO_AUTH_TOKEN".to_string(), cred("auth_token")),
            ("TWILIO_API_KEY".to_string(), cred("api_key_sid")),
            ("TWILIO_API_SECRET".to_string(), cred("api_key_secret")),
            ("TWILIO_BASE_URL".to_string(), base_url.to_string()),
        ]
    }

    /// The Account SID and the API key SID each name their session, so an SDK
    /// pointed at the server's root reaches it.
    fn routing_credentials(&self) -> &'static [&'static str] {
        &["account_sid", "api_key_sid"]
    }

    fn fire(&self, timer: &crate::session::Firing<'_>) -> Result<(), String> {
        later::fire(timer)
    }
}

/// Twilio's auth scheme (Basic, `AC…` or `SK…` as the user), error shape
/// ([`TwilioError`]) and SIDs.
impl Vendor for Twilio {
    /// An Account SID or API key SID as the Basic user: it names its session.
    fn credential_in(&self, headers: &HeaderMap) -> Option<String> {
        auth::basic(headers)
            .ok()
            .map(|(user, _)| user)
            .filter(|u| auth::is_sid(u, "AC") || auth::is_sid(u, "SK"))
    }

    /// Every product host (`api`, `verify`, `messaging`, `lookups`, …) and the
    /// regional ones (`api.dublin.ie1.twilio.com`): all are REST API hosts.
    fn api_hosts(&self) -> &'static [&'static str] {
        &["*.twilio.com"]
    }

    fn error_response(&self, error: VendorError) -> Response {
        TwilioError::from(error).into_response()
    }

    /// The kind's two-letter prefix and 32 hex digits.
    fn new_id(&self, kind: &Kind) -> String {
        sid(kind.prefix)
    }
}

/// Every request below the mirror's base URL goes to the [`pipeline`]; the API
/// layer nests this under `/m/{session}/twilio`.
pub fn router() -> Router<Door> {
    Router::new()
        .route("/", any(pipeline::handle))
        .route("/{*rest}", any(pipeline::handle))
}
