//! Stripe Billing in the mirror, driven through its HTTP API on a manual
//! clock with the dispatcher swept by hand: subscriptions on test clocks
//! (trials, renewals, dunning, prorations, cancellation, incomplete and paused
//! subscriptions) and invoices made by hand.

#[path = "../support/mod.rs"]
mod support;

mod dunning;
mod invoices;
mod subscriptions;

use std::sync::Arc;

use serde_json::Value;
use shared::dispatch::Dispatcher;
use shared::mirrors::stripe::invoices::collect::RETRY_DAYS;
use shared::session::{CreateSession, ManualClock};
use support::stripe::{Mirror, Ses};

pub(crate) const DAY: i64 = 86_400;
/// 2026-01-15 00:00:00 UTC: the clocks start here.
pub(crate) const T0: i64 = 1_768_435_200;

pub(crate) struct T {
    m: Mirror,
    s: Ses,
    clock: Arc<ManualClock>,
    dispatcher: Arc<Dispatcher>,
}

impl T {
    pub(crate) async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(T0 * 1000));
        let m = Mirror::with_clock(clock.clone());
        // Persistent: the manual clock moves months, past any timeout.
        let s = m
            .session_with(CreateSession {
                persistent: true,
                name: Some("billing".into()),
                ..CreateSession::default()
            })
            .await;
        let dispatcher = Arc::new(Dispatcher::new(m.sessions.clone()));
        T {
            m,
            s,
            clock,
            dispatcher,
        }
    }

    pub(crate) async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.m.post(&self.s, path, body).await;
        assert_eq!(r.status.as_u16(), 200, "POST {path} {body}: {}", r.json);
        r.json
    }

    pub(crate) async fn refused(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self.m.post(&self.s, path, body).await;
        assert!(
            r.status.is_client_error(),
            "POST {path} {body}: {} {}",
            r.status,
            r.json
        );
        (r.status.as_u16(), r.json["error"].clone())
    }

    pub(crate) async fn got(&self, path: &str) -> Value {
        let r = self.m.get(&self.s, path).await;
        assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.json);
        r.json
    }

    /// A subscription of `customer` to `price` (its first invoice charged at once).
    pub(crate) async fn subscribe(&self, customer: &str, price: &str) -> Value {
        self.ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await
    }

    /// A product with a monthly price of `amount`.
    pub(crate) async fn monthly(&self, amount: i64) -> String {
        let product = self.ok("/v1/products", "name=Pro").await;
        let price = self
            .ok(
                "/v1/prices",
                &format!(
                    "product={}&currency=usd&unit_amount={amount}&recurring[interval]=month",
                    product["id"].as_str().expect("product")
                ),
            )
            .await;
        price["id"].as_str().expect("price").to_string()
    }

    /// A test clock at T0 and a customer on it paying with `card` (a
    /// catalogue name) by default, or with no payment method.
    pub(crate) async fn customer(&self, card: Option<&str>) -> (String, String) {
        let clock = self
            .ok("/v1/test_helpers/test_clocks", &format!("frozen_time={T0}"))
            .await;
        let clock = clock["id"].as_str().expect("clock").to_string();
        let c = self
            .ok("/v1/customers", &format!("test_clock={clock}"))
            .await;
        let customer = c["id"].as_str().expect("customer").to_string();
        if let Some(card) = card {
            self.default_card(&customer, card).await;
        }
        (clock, customer)
    }

    pub(crate) async fn default_card(&self, customer: &str, card: &str) {
        let pm = self
            .ok(
                &format!("/v1/payment_methods/{card}/attach"),
                &format!("customer={customer}"),
            )
            .await;
        let pm = pm["id"].as_str().expect("pm");
        self.ok(
            &format!("/v1/customers/{customer}"),
            &format!("invoice_settings[default_payment_method]={pm}"),
        )
        .await;
    }

    /// Advances `clock` to `to` and lets the dispatcher do the work; the
    /// clock is then `ready` at that time.
    pub(crate) async fn advance(&self, clock: &str, to: i64) {
        let c = self
            .ok(
                &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
                &format!("frozen_time={to}"),
            )
            .await;
        assert_eq!(c["status"], "advancing");
        self.dispatcher.sweep().await.expect("sweep");
        let c = self
            .got(&format!("/v1/test_helpers/test_clocks/{clock}"))
            .await;
        assert_eq!(
            (c["status"].as_str(), c["frozen_time"].as_i64()),
            (Some("ready"), Some(to))
        );
    }

    pub(crate) async fn sub(&self, id: &str) -> Value {
        self.got(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice"))
            .await
    }

    /// The newest event's id: what [`T::events_since`] counts from.
    pub(crate) async fn marker(&self) -> String {
        let page = self.got("/v1/events?limit=1").await;
        page["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The event types raised after event `marker`, oldest first (every page).
    pub(crate) async fn events_since(&self, marker: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut before = marker.to_string();
        loop {
            let page = self
                .got(&format!("/v1/events?limit=100&ending_before={before}"))
                .await;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            // A page before a cursor lists newest first; the oldest is last.
            for e in data.iter().rev() {
                out.push(e["type"].as_str().unwrap_or_default().to_string());
            }
            match data.first() {
                Some(newest) if page["has_more"] == true => {
                    before = newest["id"].as_str().unwrap_or_default().to_string();
                }
                _ => return out,
            }
        }
    }
}

pub(crate) fn count(events: &[String], kind: &str) -> usize {
    events.iter().filter(|e| *e == kind).count()
}
