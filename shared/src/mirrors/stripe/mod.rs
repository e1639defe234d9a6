//! The Stripe mirror: what Stripe's official SDKs see when their API base points
//! at `/m/{session}/stripe`. One file per job: [`auth`] (session + Stripe's key
//! check), [`form`] (Stripe's bracketed form encoding), [`error`] (Stripe's error
//! shape), [`idempotency`] (Idempotency-Key replays), [`seed`] (seed documents),
//! and one file per resource ([`customers`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::session::id::random_token;
use crate::session::{MirrorDef, Sessions};

pub mod auth;
pub mod customers;
pub mod error;
pub mod form;
pub mod idempotency;
pub mod seed;

pub use auth::StripeCtx;
pub use error::StripeError;

/// The mirror's DDL (see the comments in the file).
pub const SCHEMA: &str = include_str!("schema.sql");

/// The Stripe mirror's definition for the session layer.
pub struct Stripe;

impl MirrorDef for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn schema(&self) -> &'static str {
        SCHEMA
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

    /// Test-mode keys in Stripe's formats, fresh per session, so one session's key
    /// is refused by every other session.
    fn new_credentials(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "secret_key".to_string(),
                format!("sk_test_{}", random_token(24)),
            ),
            (
                "publishable_key".to_string(),
                format!("pk_test_{}", random_token(24)),
            ),
            (
                "webhook_secret".to_string(),
                format!("whsec_{}", random_token(32)),
            ),
        ])
    }

    fn env(&self, base_url: &str, credentials: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let cred = |k: &str| credentials.get(k).cloned().unwrap_or_default();
        vec![
            ("STRIPE_API_BASE".to_string(), base_url.to_string()),
            ("STRIPE_SECRET_KEY".to_string(), cred("secret_key")),
            (
                "STRIPE_PUBLISHABLE_KEY".to_string(),
                cred("publishable_key"),
            ),
            ("STRIPE_WEBHOOK_SECRET".to_string(), cred("webhook_secret")),
        ]
    }

    /// The secret key names its session, so stripe-node (which can set only
    /// host, port and protocol) reaches it at the server's root.
    fn routing_credentials(&self) -> &'static [&'static str] {
        &["secret_key"]
    }

    /// A test-mode secret key, as Bearer or as the user of Basic auth.
    fn credential_in(&self, request: &axum::http::request::Parts) -> Option<String> {
        auth::api_key(request)
            .ok()
            .filter(|key| key.starts_with("sk_test_"))
    }
}

/// The routes, relative to the mirror's base URL. The API layer nests this under
/// `/m/{session}/stripe`; [`StripeCtx`] reads `{session}` from there.
pub fn router() -> Router<Arc<Sessions>> {
    Router::new()
        .route(
            "/v1/customers",
            get(customers::list).post(customers::create),
        )
        .route(
            "/v1/customers/{customer}",
            get(customers::retrieve)
                .post(customers::update)
                .delete(customers::delete),
        )
        .method_not_allowed_fallback(unrecognized)
        .fallback(unrecognized)
        .layer(middleware::from_fn(stamp_request_id))
}

/// A request's `req_…` id: in the `Request-Id` header of every response and in
/// the request's extensions for handlers (idempotency records keep it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn generate() -> Self {
        RequestId(format!("req_{}", random_token(14)))
    }
}

async fn stamp_request_id(mut req: Request, next: Next) -> Response {
    let id = RequestId::generate();
    let header = HeaderValue::from_str(&id.0).ok();
    req.extensions_mut().insert(id);
    let mut res = next.run(req).await;
    if let Some(h) = header {
        res.headers_mut().insert("request-id", h);
    }
    res
}

/// Stripe answers unknown paths, and known paths with another method, with a 404
/// naming the method and path — after checking the key, as Stripe does.
async fn unrecognized(_auth: StripeCtx, method: Method, uri: Uri) -> StripeError {
    StripeError::unrecognized_url(method.as_str(), uri.path())
}
