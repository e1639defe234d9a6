//! The Stripe mirror: what Stripe's official SDKs see when their API base points
//! at `/m/{session}/stripe`. [`pipeline`] runs every request (key, session,
//! version, idempotency, route, parameters, one transaction, expansion);
//! [`routes`] lists the emulated operations; one file per resource
//! ([`customers`], [`payment_methods`], [`payment_intents`], [`setup_intents`],
//! [`charges`], [`refunds`], [`balance_transactions`]; the catalogue:
//! [`products`], [`prices`], [`coupons`], [`promotion_codes`], [`tax_rates`])
//! holds its behaviour; [`billing`] and [`test_clocks`] keep billing's time;
//! [`cards`] is Stripe's test-card catalogue, [`three_d_secure`] what it asks of
//! a confirmation, [`pages`] the pages a browser opens (3-D Secure, receipts).
//! Around them: [`auth`] (Stripe's key and header checks), [`form`] (bracketed
//! form encoding), [`error`] (Stripe's error shape; [`Stripe`] renders the
//! toolkit's vendor-neutral errors in it), [`lists`] (list parameters
//! and envelope), [`search`] (search parameters, envelope and messages),
//! [`expand`] (what may be expanded), [`amounts`] (money in Stripe's words),
//! [`seed`] (seed documents). The pages a browser opens without a key:
//! [`pages`] (3-D Secure, receipts), [`checkout::page`], [`billing_portal`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;

use crate::mirrors::toolkit::{idempotency, included, objects::Kind, outbox, schedule, timers};
use crate::mirrors::{Vendor, VendorError};
use crate::session::id::random_token;
use crate::session::{Door, MirrorDef};

pub mod amounts;
pub mod auth;
pub mod balance_transactions;
pub mod billing;
pub mod billing_portal;
pub mod billing_settings;
pub mod cards;
pub mod charges;
pub mod checkout;
pub mod coupons;
pub mod customers;
pub mod discounts;
pub mod error;
pub mod events;
pub mod expand;
pub mod form;
pub mod invoice_items;
pub mod invoices;
pub mod later;
pub mod lists;
pub mod pages;
pub mod params;
pub mod payment_intents;
pub mod payment_methods;
pub mod pipeline;
pub mod prices;
pub mod products;
pub mod promotion_codes;
pub mod refunds;
pub mod routes;
pub mod search;
pub mod seed;
pub mod setup_intents;
pub mod subscription_items;
pub mod subscriptions;
pub mod tax_rates;
pub mod test_clocks;
pub mod three_d_secure;
pub mod update;
pub mod webhook_endpoints;

pub use error::StripeError;

/// Every resource's storage.
pub static KINDS: &[&Kind] = &[
    &balance_transactions::KIND,
    &billing_portal::KIND,
    &charges::KIND,
    &checkout::KIND,
    &coupons::KIND,
    &customers::KIND,
    &discounts::KIND,
    &events::KIND,
    &invoice_items::KIND,
    &invoices::KIND,
    &invoices::lines::KIND,
    &invoices::payments::KIND,
    &payment_intents::KIND,
    &payment_methods::KIND,
    &prices::KIND,
    &products::KIND,
    &promotion_codes::KIND,
    &refunds::KIND,
    &setup_intents::KIND,
    &subscriptions::KIND,
    &subscriptions::items::KIND,
    &tax_rates::KIND,
    &test_clocks::KIND,
    &webhook_endpoints::KIND,
];

/// The mirror's DDL: each resource's table, then the toolkit's.
pub static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let mut sql: String = KINDS.iter().map(|k| k.ddl()).collect();
    sql.push_str(payment_methods::DDL);
    sql.push_str(included::DDL);
    sql.push_str(idempotency::DDL);
    sql.push_str(outbox::DDL);
    sql.push_str(timers::DDL);
    sql.push_str(schedule::DDL);
    sql.push_str(billing_settings::DDL);
    sql
});

/// The Stripe mirror's definition for the session layer.
pub struct Stripe;

impl MirrorDef for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
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

    fn fire(&self, timer: &crate::session::Firing<'_>) -> Result<(), String> {
        later::fire(timer)
    }
}

/// Stripe's auth scheme (a secret key as Bearer or Basic user), error shape
/// ([`StripeError`], with `request-id` and `stripe-version` as
/// [`pipeline`] sends them) and ids (prefix + base-62).
impl Vendor for Stripe {
    /// A test-mode secret key: it names its session.
    fn credential_in(&self, headers: &HeaderMap) -> Option<String> {
        auth::api_key(headers)
            .ok()
            .filter(|key| key.starts_with("sk_test_"))
    }

    /// The API, file uploads and v2 meter events.
    fn api_hosts(&self) -> &'static [&'static str] {
        &[
            "api.stripe.com",
            "files.stripe.com",
            "meter-events.stripe.com",
        ]
    }

    fn error_response(&self, error: VendorError) -> Response {
        pipeline::stamp(StripeError::from(error).into_response(), &new_request_id())
    }

    /// The kind's prefix and `id_len` base-62 characters (`cus_` + 14).
    fn new_id(&self, kind: &Kind) -> String {
        format!("{}{}", kind.prefix, random_token(kind.id_len))
    }
}

/// `req_` + 14 base-62: the id a response's `request-id` header and an
/// event's `request.id` carry.
pub fn new_request_id() -> String {
    format!("req_{}", random_token(14))
}

/// Every request below the mirror's base URL goes to the [`pipeline`], but for
/// the pages a browser opens without a key ([`pages`]: 3-D Secure, receipts);
/// the API layer nests this under `/m/{session}/stripe`.
pub fn router() -> Router<Door> {
    Router::new()
        .route(
            "/_mirra/3ds/{intent}",
            get(pages::challenge).post(pages::authenticate),
        )
        .route("/_mirra/receipts/{charge}", get(pages::receipt))
        .route(
            "/_mirra/checkout/{checkout}",
            get(checkout::page::show).post(checkout::page::submit),
        )
        .route(
            "/_mirra/checkout/{checkout}/return",
            get(checkout::page::returned).post(checkout::page::submit),
        )
        .route(
            "/_mirra/billing_portal/{portal}",
            get(billing_portal::show).post(billing_portal::act),
        )
        .route("/", any(pipeline::handle))
        .route("/{*rest}", any(pipeline::handle))
}
