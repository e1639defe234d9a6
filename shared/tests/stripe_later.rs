//! What the Stripe mirror does later on its own, through timers and the
//! dispatcher, on a clock the tests move: refunds to the catalogue's
//! pending-refund and refund-fail cards settle after a delay, with their
//! events, and a refund canceled or settled first stays as it is.

mod support;

use std::sync::Arc;

use serde_json::Value;
use shared::dispatch::Dispatcher;
use shared::mirrors::stripe::later::REFUND_SETTLES_AFTER_MS;
use shared::session::ManualClock;
use support::stripe::{Mirror, Ses};

const CARD: &str = "allowed_payment_method_types[]=card";

struct T {
    m: Mirror,
    s: Ses,
    clock: Arc<ManualClock>,
    dispatcher: Arc<Dispatcher>,
}

impl T {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let m = Mirror::with_clock(clock.clone());
        let s = m.session().await;
        let dispatcher = Arc::new(Dispatcher::new(m.sessions.clone()));
        T {
            m,
            s,
            clock,
            dispatcher,
        }
    }

    async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.m.post(&self.s, path, body).await;
        assert_eq!(r.status.as_u16(), 200, "POST {path} {body}: {}", r.json);
        r.json
    }

    async fn got(&self, path: &str) -> Value {
        let r = self.m.get(&self.s, path).await;
        assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.json);
        r.json
    }

    /// A captured card payment with `pm`, refunded (800 of 2000).
    async fn refund(&self, pm: &str) -> (Value, Value) {
        let pi = self
            .ok(
                "/v1/payment_intents",
                &format!("amount=2000&currency=usd&{CARD}&payment_method={pm}&confirm=true"),
            )
            .await;
        let pi_id = pi["id"].as_str().expect("pi id");
        let refund = self
            .ok("/v1/refunds", &format!("payment_intent={pi_id}&amount=800"))
            .await;
        (pi, refund)
    }

    /// Events raised so far, oldest first: (type, request.id).
    async fn events(&self) -> Vec<(String, Value)> {
        let page = self.got("/v1/events?limit=100").await;
        let mut out: Vec<(String, Value)> = page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or_default().to_string(),
                    e["request"]["id"].clone(),
                )
            })
            .collect();
        out.reverse();
        out
    }

    /// Moves the clock and lets the dispatcher do what is due.
    async fn after(&self, ms: i64) {
        self.clock.advance_ms(ms);
        self.dispatcher.sweep().await.expect("sweep");
    }

    async fn status(&self, refund: &Value) -> Value {
        let id = refund["id"].as_str().expect("refund id");
        self.got(&format!("/v1/refunds/{id}")).await
    }
}

#[tokio::test]
async fn a_pending_refund_succeeds_after_the_delay_with_its_events() {
    let t = T::new().await;
    let (_, refund) = t.refund("pm_card_pendingRefund").await;
    assert_eq!(refund["status"], "pending");
    let before = t.events().await.len();
    t.after(REFUND_SETTLES_AFTER_MS - 1).await;
    assert_eq!(t.status(&refund).await["status"], "pending", "not yet");
    t.after(1).await;
    let settled = t.status(&refund).await;
    assert_eq!(settled["status"], "succeeded");
    assert!(settled.get("pending_reason").is_none());
    let raised = t.events().await.split_off(before);
    assert_eq!(
        raised,
        [
            ("refund.updated".to_string(), Value::Null),
            ("charge.refund.updated".to_string(), Value::Null),
        ],
        "an automatic change has no request"
    );
    t.after(REFUND_SETTLES_AFTER_MS).await;
    assert_eq!(t.events().await.len(), before + 2, "a timer fires once");
}

#[tokio::test]
async fn a_refund_to_the_failing_card_is_answered_succeeded_then_fails() {
    let t = T::new().await;
    let (pi, refund) = t.refund("pm_card_refundFail").await;
    assert_eq!(refund["status"], "succeeded");
    let before = t.events().await.len();
    assert_eq!(t.status(&refund).await["status"], "succeeded");
    t.after(REFUND_SETTLES_AFTER_MS).await;
    let failed = t.status(&refund).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "expired_or_canceled_card");
    assert!(failed["failure_balance_transaction"].is_string());
    let types: Vec<String> = t
        .events()
        .await
        .split_off(before)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        types,
        ["refund.updated", "refund.failed", "charge.refund.updated"]
    );
    let ch = pi["latest_charge"].as_str().expect("charge");
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["amount_refunded"].as_i64(),
            charge["refunded"].as_bool()
        ),
        (Some(0), Some(false)),
        "the money comes back"
    );
}

#[tokio::test]
async fn a_refund_canceled_or_settled_before_its_timer_stays_as_it_is() {
    let t = T::new().await;
    let (_, canceled) = t.refund("pm_card_pendingRefund").await;
    let cid = canceled["id"].as_str().expect("id");
    t.ok(&format!("/v1/refunds/{cid}/cancel"), "").await;
    let (_, settled) = t.refund("pm_card_pendingRefund").await;
    let sid = settled["id"].as_str().expect("id");
    t.ok(
        &format!("/v1/test_helpers/mirra/refunds/{sid}/settle"),
        "outcome=failed",
    )
    .await;
    let before = t.events().await.len();
    t.after(REFUND_SETTLES_AFTER_MS).await;
    assert_eq!(t.status(&canceled).await["status"], "canceled");
    assert_eq!(t.status(&settled).await["status"], "failed");
    assert_eq!(t.events().await.len(), before, "nothing more happened");
}
