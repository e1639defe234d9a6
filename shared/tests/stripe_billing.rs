//! Stripe Billing in the mirror, driven through its HTTP API on a manual
//! clock with the dispatcher swept by hand: subscriptions on test clocks
//! (trials, renewals, dunning, prorations, cancellation, incomplete and paused
//! subscriptions) and invoices made by hand.

mod support;

use std::sync::Arc;

use serde_json::Value;
use shared::dispatch::Dispatcher;
use shared::mirrors::stripe::invoices::collect::RETRY_DAYS;
use shared::session::{CreateSession, ManualClock};
use support::stripe::{Mirror, Ses};

const DAY: i64 = 86_400;
/// 2026-01-15 00:00:00 UTC: the clocks start here.
const T0: i64 = 1_768_435_200;

struct T {
    m: Mirror,
    s: Ses,
    clock: Arc<ManualClock>,
    dispatcher: Arc<Dispatcher>,
}

impl T {
    async fn new() -> Self {
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

    async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.m.post(&self.s, path, body).await;
        assert_eq!(r.status.as_u16(), 200, "POST {path} {body}: {}", r.json);
        r.json
    }

    async fn refused(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self.m.post(&self.s, path, body).await;
        assert!(
            r.status.is_client_error(),
            "POST {path} {body}: {} {}",
            r.status,
            r.json
        );
        (r.status.as_u16(), r.json["error"].clone())
    }

    async fn got(&self, path: &str) -> Value {
        let r = self.m.get(&self.s, path).await;
        assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.json);
        r.json
    }

    /// A product with a monthly price of `amount`.
    async fn monthly(&self, amount: i64) -> String {
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
    async fn customer(&self, card: Option<&str>) -> (String, String) {
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

    async fn default_card(&self, customer: &str, card: &str) {
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
    async fn advance(&self, clock: &str, to: i64) {
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

    async fn sub(&self, id: &str) -> Value {
        self.got(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice"))
            .await
    }

    /// The newest event's id: what [`T::events_since`] counts from.
    async fn marker(&self) -> String {
        let page = self.got("/v1/events?limit=1").await;
        page["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The event types raised after event `marker`, oldest first (every page).
    async fn events_since(&self, marker: &str) -> Vec<String> {
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

fn count(events: &[String], kind: &str) -> usize {
    events.iter().filter(|e| *e == kind).count()
}

#[tokio::test]
async fn a_trial_ends_on_the_test_clock_and_each_renewal_is_invoiced_and_paid() {
    let t = T::new().await;
    let price = t.monthly(1000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}&trial_period_days=7"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["trial_end"], T0 + 7 * DAY);
    assert_eq!(sub["items"]["data"][0]["current_period_end"], T0 + 7 * DAY);
    let first = t
        .got(&format!(
            "/v1/invoices/{}",
            sub["latest_invoice"].as_str().expect("invoice")
        ))
        .await;
    assert_eq!(
        (first["status"].as_str(), first["amount_due"].as_i64()),
        (Some("paid"), Some(0))
    );
    assert_eq!(
        first["lines"]["data"][0]["description"],
        "Trial period for Pro"
    );

    let mark = t.marker().await;
    t.advance(&clock, T0 + 7 * DAY + 2 * 3600).await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "active");
    let inv = &s["latest_invoice"];
    assert_eq!(inv["billing_reason"], "subscription_cycle");
    assert_eq!(
        (inv["status"].as_str(), inv["amount_paid"].as_i64()),
        (Some("paid"), Some(1000))
    );
    assert_eq!(
        inv["created"],
        T0 + 7 * DAY,
        "made at the trial's end, on the clock"
    );
    assert_eq!(
        inv["status_transitions"]["paid_at"],
        T0 + 7 * DAY + 3600,
        "finalized and paid an hour later"
    );
    let item = &s["items"]["data"][0];
    assert_eq!(item["current_period_start"], T0 + 7 * DAY);
    assert_eq!(
        item["current_period_end"], 1_771_718_400,
        "2026-02-22: one month after the trial"
    );
    let raised = t.events_since(&mark).await;
    for kind in [
        "test_helpers.test_clock.advancing",
        "customer.subscription.trial_will_end",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "test_helpers.test_clock.ready",
    ] {
        assert!(raised.contains(&kind.to_string()), "{kind} in {raised:?}");
    }

    t.advance(&clock, 1_771_718_400 + 2 * 3600).await;
    let s = t.sub(id).await;
    assert_eq!(s["latest_invoice"]["amount_paid"], 1000);
    assert_ne!(
        s["latest_invoice"]["id"], inv["id"],
        "a second renewal invoice"
    );
    let invoices = t.got(&format!("/v1/invoices?subscription={id}")).await;
    assert_eq!(invoices["data"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_failed_renewal_goes_past_due_is_retried_and_cancels_after_the_last_retry() {
    let t = T::new().await;
    let price = t.monthly(1500).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    assert_eq!(sub["status"], "active");
    t.default_card(&customer, "pm_card_chargeCustomerFail")
        .await;
    let renewal = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");

    t.advance(&clock, renewal + 2 * 3600).await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "past_due");
    let inv = &s["latest_invoice"];
    assert_eq!(
        (inv["status"].as_str(), inv["attempt_count"].as_i64()),
        (Some("open"), Some(1))
    );
    let finalized = inv["status_transitions"]["finalized_at"]
        .as_i64()
        .expect("finalized");
    assert_eq!(inv["next_payment_attempt"], finalized + RETRY_DAYS[0] * DAY);

    let mark = t.marker().await;
    t.advance(
        &clock,
        finalized + RETRY_DAYS[RETRY_DAYS.len() - 1] * DAY + 60,
    )
    .await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "canceled");
    assert_eq!(s["cancellation_details"]["reason"], "payment_failed");
    let inv = &s["latest_invoice"];
    assert_eq!(inv["attempt_count"], 1 + RETRY_DAYS.len());
    assert_eq!(
        (inv["status"].as_str(), inv["next_payment_attempt"].as_i64()),
        (Some("open"), None)
    );
    let raised = t.events_since(&mark).await;
    assert_eq!(count(&raised, "invoice.payment_failed"), RETRY_DAYS.len());
    assert_eq!(count(&raised, "customer.subscription.deleted"), 1);
}

#[tokio::test]
async fn a_retry_that_succeeds_brings_a_past_due_subscription_back() {
    let t = T::new().await;
    let price = t.monthly(1500).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    t.default_card(&customer, "pm_card_chargeCustomerFail")
        .await;
    let renewal = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    t.advance(&clock, renewal + 2 * 3600).await;
    assert_eq!(t.sub(id).await["status"], "past_due");
    t.default_card(&customer, "pm_card_mastercard").await;
    t.advance(&clock, renewal + 2 * DAY).await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "active");
    assert_eq!(
        (
            s["latest_invoice"]["status"].as_str(),
            s["latest_invoice"]["attempt_count"].as_i64()
        ),
        (Some("paid"), Some(1))
    );
}

#[tokio::test]
async fn an_upgrade_mid_period_prorates_now_or_on_the_next_invoice() {
    let t = T::new().await;
    let cheap = t.monthly(1000).await;
    let dear = t.monthly(3000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={cheap}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    let si = sub["items"]["data"][0]["id"].as_str().expect("item");
    let (start, end) = (
        T0,
        sub["items"]["data"][0]["current_period_end"]
            .as_i64()
            .expect("end"),
    );
    let half = start + (end - start) / 2;
    t.advance(&clock, half).await;

    // always_invoice: the difference for the half left is billed at once.
    let s = t
        .ok(
            &format!("/v1/subscriptions/{id}"),
            &format!("items[0][id]={si}&items[0][price]={dear}&proration_behavior=always_invoice"),
        )
        .await;
    assert_eq!(s["items"]["data"][0]["price"]["id"], dear.as_str());
    let inv = t
        .got(&format!(
            "/v1/invoices/{}",
            s["latest_invoice"].as_str().expect("invoice")
        ))
        .await;
    assert_eq!(inv["billing_reason"], "subscription_update");
    let amounts: Vec<i64> = inv["lines"]["data"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["amount"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(
        amounts,
        [-500, 1500],
        "unused half of 10.00, remaining half of 30.00"
    );
    assert_eq!(
        (inv["status"].as_str(), inv["amount_paid"].as_i64()),
        (Some("paid"), Some(1000))
    );
    assert!(inv["lines"]["data"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Unused time on 1 × Pro"));

    // create_prorations: back to cheap, credited on the renewal invoice.
    t.ok(
        &format!("/v1/subscriptions/{id}"),
        &format!("items[0][id]={si}&items[0][price]={cheap}"),
    )
    .await;
    let pending = t
        .got(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await;
    let credit: i64 = pending["data"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["amount"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(credit, 500 - 1500);
    t.advance(&clock, end + 2 * 3600).await;
    let renewal = &t.sub(id).await["latest_invoice"];
    assert_eq!(renewal["subtotal"], 1000 + credit);
    assert_eq!(renewal["lines"]["data"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn cancel_at_period_end_ends_the_subscription_at_its_renewal() {
    let t = T::new().await;
    let price = t.monthly(1000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    let s = t
        .ok(
            &format!("/v1/subscriptions/{id}"),
            "cancel_at_period_end=true",
        )
        .await;
    assert_eq!(
        (s["status"].as_str(), s["cancel_at"].as_i64()),
        (Some("active"), Some(end))
    );
    t.advance(&clock, end + 60).await;
    let s = t.sub(id).await;
    assert_eq!(
        (s["status"].as_str(), s["ended_at"].as_i64()),
        (Some("canceled"), Some(end))
    );
    let invoices = t.got(&format!("/v1/invoices?subscription={id}")).await;
    assert_eq!(
        invoices["data"].as_array().map(Vec::len),
        Some(1),
        "no renewal invoice"
    );
    // Ended: no more changes, and only a paused subscription resumes.
    t.refused(&format!("/v1/subscriptions/{id}"), "metadata[a]=b")
        .await;
    t.refused(&format!("/v1/subscriptions/{id}/resume"), "")
        .await;
}

#[tokio::test]
async fn default_incomplete_waits_for_the_customer_to_confirm_the_first_payment() {
    let t = T::new().await;
    let price = t.monthly(2000).await;
    let (_, customer) = t.customer(None).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}&payment_behavior=default_incomplete&expand[]=latest_invoice.confirmation_secret"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    assert_eq!(sub["status"], "incomplete");
    let secret = sub["latest_invoice"]["confirmation_secret"]["client_secret"]
        .as_str()
        .expect("secret");
    let pi = secret.split("_secret_").next().expect("intent id");
    let confirmed = t
        .ok(
            &format!("/v1/payment_intents/{pi}/confirm"),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(confirmed["status"], "succeeded");
    let s = t.sub(id).await;
    assert_eq!(s["status"], "active");
    assert_eq!(s["latest_invoice"]["status"], "paid");
}

#[tokio::test]
async fn error_if_incomplete_refuses_a_declined_first_payment_and_makes_nothing() {
    let t = T::new().await;
    let price = t.monthly(2000).await;
    let (_, customer) = t.customer(Some("pm_card_chargeCustomerFail")).await;
    let (status, error) = t
        .refused(
            "/v1/subscriptions",
            &format!(
                "customer={customer}&items[0][price]={price}&payment_behavior=error_if_incomplete"
            ),
        )
        .await;
    assert_eq!((status, error["type"].as_str()), (402, Some("card_error")));
    let subs = t
        .got(&format!("/v1/subscriptions?customer={customer}&status=all"))
        .await;
    assert_eq!(subs["data"].as_array().map(Vec::len), Some(0));
    let invoices = t.got(&format!("/v1/invoices?customer={customer}")).await;
    assert_eq!(invoices["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn an_unpaid_first_invoice_expires_the_subscription_after_23_hours() {
    let t = T::new().await;
    let price = t.monthly(2000).await;
    let (clock, customer) = t.customer(Some("pm_card_chargeCustomerFail")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    assert_eq!(sub["status"], "incomplete");
    t.advance(&clock, T0 + 23 * 3600 - 60).await;
    assert_eq!(t.sub(id).await["status"], "incomplete");
    t.advance(&clock, T0 + 23 * 3600).await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "incomplete_expired");
    assert_eq!(s["latest_invoice"]["status"], "void");
}

#[tokio::test]
async fn a_trial_without_a_payment_method_pauses_then_resumes_with_one() {
    let t = T::new().await;
    let price = t.monthly(1000).await;
    let (clock, customer) = t.customer(None).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}&trial_period_days=14&trial_settings[end_behavior][missing_payment_method]=pause"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    t.advance(&clock, T0 + 14 * DAY + 60).await;
    assert_eq!(t.sub(id).await["status"], "paused");
    t.default_card(&customer, "pm_card_visa").await;
    let resumed = t.ok(&format!("/v1/subscriptions/{id}/resume"), "").await;
    assert_eq!(resumed["status"], "active");
    let inv = t
        .got(&format!(
            "/v1/invoices/{}",
            resumed["latest_invoice"].as_str().expect("invoice")
        ))
        .await;
    assert_eq!(
        inv["status"], "draft",
        "finalized an hour later, then charged"
    );
    t.advance(&clock, T0 + 14 * DAY + 2 * 3600).await;
    assert_eq!(t.sub(id).await["latest_invoice"]["status"], "paid");
}

#[tokio::test]
async fn a_subscription_without_a_clock_renews_in_real_time_through_the_dispatcher() {
    let t = T::new().await;
    let price = t.monthly(1000).await;
    let c = t.ok("/v1/customers", "payment_method=pm_card_visa").await;
    let customer = c["id"].as_str().expect("customer");
    let pms = t
        .got(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    let pm = pms["data"][0]["id"].as_str().expect("pm");
    t.ok(
        &format!("/v1/customers/{customer}"),
        &format!("invoice_settings[default_payment_method]={pm}"),
    )
    .await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    t.clock.advance_ms((end - T0) * 1000);
    t.dispatcher.sweep().await.expect("sweep");
    let s = t.sub(id).await;
    assert_eq!(s["items"]["data"][0]["current_period_start"], end);
    assert_eq!(s["latest_invoice"]["status"], "draft");
    t.clock.advance_ms(3600 * 1000);
    t.dispatcher.sweep().await.expect("sweep");
    t.dispatcher.sweep().await.expect("sweep");
    assert_eq!(t.sub(id).await["latest_invoice"]["status"], "paid");
}

#[tokio::test]
async fn invoices_made_by_hand_gather_items_tax_finalize_pay_and_close() {
    let t = T::new().await;
    let (_, customer) = t.customer(Some("pm_card_visa")).await;
    let rate = t
        .ok(
            "/v1/tax_rates",
            "display_name=VAT&percentage=10&inclusive=false",
        )
        .await;
    let rate = rate["id"].as_str().expect("rate");
    t.ok(
        "/v1/invoiceitems",
        &format!("customer={customer}&amount=1000&currency=usd&description=Setup"),
    )
    .await;
    t.ok("/v1/invoiceitems", &format!("customer={customer}&unit_amount_decimal=250&quantity=4&currency=usd&tax_rates[]={rate}")).await;
    let inv = t
        .ok(
            "/v1/invoices",
            &format!("customer={customer}&pending_invoice_items_behavior=include"),
        )
        .await;
    let id = inv["id"].as_str().expect("invoice");
    assert_eq!(inv["status"], "draft");
    assert_eq!(
        (inv["subtotal"].as_i64(), inv["total"].as_i64()),
        (Some(2000), Some(2100))
    );
    assert_eq!(inv["total_taxes"][0]["amount"], 100);
    let lines = t.got(&format!("/v1/invoices/{id}/lines")).await;
    assert_eq!(lines["data"][0]["description"], "Setup", "oldest first");
    let open = t.ok(&format!("/v1/invoices/{id}/finalize"), "").await;
    assert_eq!(open["status"], "open");
    assert!(
        open["number"]
            .as_str()
            .is_some_and(|n| n.ends_with("-0001")),
        "{}",
        open["number"]
    );
    t.refused(
        &format!(
            "/v1/invoiceitems/{}",
            lines["data"][0]["parent"]["invoice_item_details"]["invoice_item"]
                .as_str()
                .expect("item")
        ),
        "amount=5",
    )
    .await;
    let paid = t.ok(&format!("/v1/invoices/{id}/pay"), "").await;
    assert_eq!(
        (paid["status"].as_str(), paid["amount_paid"].as_i64()),
        (Some("paid"), Some(2100))
    );
    t.refused(&format!("/v1/invoices/{id}/void"), "").await;

    t.ok(
        "/v1/invoiceitems",
        &format!("customer={customer}&amount=700&currency=usd"),
    )
    .await;
    let second = t.ok("/v1/invoices", &format!("customer={customer}&pending_invoice_items_behavior=include&collection_method=send_invoice&days_until_due=14")).await;
    let second_id = second["id"].as_str().expect("invoice");
    let open = t
        .ok(&format!("/v1/invoices/{second_id}/finalize"), "")
        .await;
    assert_eq!(
        open["due_date"],
        open["created"].as_i64().expect("created") + 14 * DAY
    );
    t.ok(&format!("/v1/invoices/{second_id}/send"), "").await;
    let uncollectible = t
        .ok(&format!("/v1/invoices/{second_id}/mark_uncollectible"), "")
        .await;
    assert_eq!(uncollectible["status"], "uncollectible");
    let void = t.ok(&format!("/v1/invoices/{second_id}/void"), "").await;
    assert_eq!(
        (void["status"].as_str(), void["amount_remaining"].as_i64()),
        (Some("void"), Some(0))
    );

    let draft = t.ok("/v1/invoices", &format!("customer={customer}")).await;
    let draft_id = draft["id"].as_str().expect("draft");
    let gone =
        t.m.call(
            &t.s,
            axum::http::Method::DELETE,
            &format!("/v1/invoices/{draft_id}"),
            None,
        )
        .await;
    assert_eq!(gone.json["deleted"], true);
    assert_eq!(
        t.m.get(&t.s, &format!("/v1/invoices/{draft_id}"))
            .await
            .status
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn a_coupon_discounts_the_invoices_its_duration_covers() {
    let t = T::new().await;
    let price = t.monthly(2000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    t.ok("/v1/coupons", "id=QUARTER&percent_off=25&duration=once")
        .await;
    t.ok(
        "/v1/coupons",
        "id=FIVER&amount_off=500&currency=usd&duration=repeating&duration_in_months=2",
    )
    .await;
    let promo = t
        .ok(
            "/v1/promotion_codes",
            "promotion[type]=coupon&promotion[coupon]=FIVER&code=SPRING",
        )
        .await;
    let promo = promo["id"].as_str().expect("promo");
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!(
                "customer={customer}&items[0][price]={price}&discounts[0][coupon]=QUARTER&discounts[1][promotion_code]={promo}&expand[]=latest_invoice"
            ),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    let first = &sub["latest_invoice"];
    assert_eq!(first["subtotal"], 2000);
    assert_eq!(
        first["total"],
        2000 - 500 - 500,
        "25 % of 2000, then 5.00 off"
    );
    assert_eq!(
        first["total_discount_amounts"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        first["lines"]["data"][0]["discount_amounts"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        sub["discounts"].as_array().map(Vec::len),
        Some(1),
        "the once coupon is used up"
    );
    assert_eq!(t.got("/v1/coupons/QUARTER").await["times_redeemed"], 1);
    assert_eq!(
        t.got(&format!("/v1/promotion_codes/{promo}")).await["times_redeemed"],
        1
    );

    let mut end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    let mut totals = Vec::new();
    for _ in 0..2 {
        t.advance(&clock, end + 2 * 3600).await;
        let s = t.sub(id).await;
        totals.push(s["latest_invoice"]["amount_paid"].as_i64().unwrap_or(-1));
        end = s["items"]["data"][0]["current_period_end"]
            .as_i64()
            .expect("end");
    }
    assert_eq!(
        totals,
        [1500, 2000],
        "5.00 off for two months from the start, then full price"
    );
    let (_, error) = t
        .refused(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}&discounts[0][coupon]=NOPE"),
        )
        .await;
    assert_eq!(error["code"], "resource_missing");
}

#[tokio::test]
async fn the_dunning_seed_starts_past_due_and_runs_its_retries_when_its_clock_advances() {
    let t = T::new().await;
    let s =
        t.m.session_with(CreateSession {
            seeds: [("stripe".to_string(), "dunning-active".to_string())].into(),
            ..CreateSession::default()
        })
        .await;
    let got = |path: String| {
        let (m, s) = (&t.m, &s);
        async move {
            let r = m.get(s, &path).await;
            assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.json);
            r.json
        }
    };
    let subs = got("/v1/subscriptions?status=past_due".into()).await;
    assert_eq!(subs["data"].as_array().map(Vec::len), Some(2));
    let clocks = got("/v1/test_helpers/test_clocks".into()).await;
    let clock = clocks["data"][0]["id"].as_str().expect("clock").to_string();
    let to = clocks["data"][0]["frozen_time"].as_i64().expect("frozen") + 15 * DAY;
    let r =
        t.m.post(
            &s,
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            &format!("frozen_time={to}"),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    t.dispatcher.sweep().await.expect("sweep");
    let ended = got("/v1/subscriptions?status=canceled".into()).await;
    assert_eq!(
        ended["data"].as_array().map(Vec::len),
        Some(2),
        "retries ran out on the seed's clock"
    );
}

#[tokio::test]
async fn the_billing_settings_decide_the_retry_days_and_what_the_last_failure_does() {
    let t = T::new().await;
    let defaults = t.got("/v1/test_helpers/mirra/billing_settings").await;
    assert_eq!(defaults["subscription_after_retries"], "canceled");
    assert_eq!(
        defaults["retry_days"].as_array().map(Vec::len),
        Some(RETRY_DAYS.len())
    );
    t.refused(
        "/v1/test_helpers/mirra/billing_settings",
        "retry_days[0]=5&retry_days[1]=2",
    )
    .await;
    let set = t
        .ok(
            "/v1/test_helpers/mirra/billing_settings",
            "retry_days[0]=2&retry_days[1]=4&subscription_after_retries=unpaid&invoice_after_retries=uncollectible",
        )
        .await;
    assert_eq!(set["retry_days"], serde_json::json!([2, 4]));
    let price = t.monthly(1500).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    t.default_card(&customer, "pm_card_chargeCustomerFail")
        .await;
    let renewal = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    t.advance(&clock, renewal + 2 * 3600).await;
    let s = t.sub(id).await;
    let finalized = s["latest_invoice"]["status_transitions"]["finalized_at"]
        .as_i64()
        .expect("finalized");
    assert_eq!(
        s["latest_invoice"]["next_payment_attempt"],
        finalized + 2 * DAY
    );
    t.advance(&clock, finalized + 4 * DAY + 60).await;
    let s = t.sub(id).await;
    assert_eq!(s["status"], "unpaid", "the setting, not the default cancel");
    assert_eq!(
        (
            s["latest_invoice"]["status"].as_str(),
            s["latest_invoice"]["attempt_count"].as_i64()
        ),
        (Some("uncollectible"), Some(3))
    );
    // An unpaid subscription's next invoices are made and left as drafts.
    let next = s["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    t.advance(&clock, next + 2 * 3600).await;
    let s = t.sub(id).await;
    assert_eq!(
        (s["status"].as_str(), s["latest_invoice"]["status"].as_str()),
        (Some("unpaid"), Some("draft"))
    );
}

#[tokio::test]
async fn previews_show_the_next_invoice_and_leave_nothing_behind() {
    let t = T::new().await;
    let cheap = t.monthly(1000).await;
    let dear = t.monthly(3000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={cheap}"),
        )
        .await;
    let id = sub["id"].as_str().expect("sub");
    let si = sub["items"]["data"][0]["id"].as_str().expect("item");
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    let before = t.marker().await;

    let next = t
        .ok("/v1/invoices/create_preview", &format!("subscription={id}"))
        .await;
    assert!(
        next["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("upcoming_in_")),
        "{}",
        next["id"]
    );
    assert_eq!(
        (next["total"].as_i64(), next["period_start"].as_i64()),
        (Some(1000), Some(end))
    );
    let half = T0 + (end - T0) / 2;
    let change = t
        .ok(
            "/v1/invoices/create_preview",
            &format!("subscription={id}&subscription_details[items][0][id]={si}&subscription_details[items][0][price]={dear}&subscription_details[proration_date]={half}"),
        )
        .await;
    assert_eq!(
        change["total"],
        3000 - 500 + 1500,
        "the renewal at 30.00 plus the prorations"
    );
    assert!(
        t.events_since(&before).await.is_empty(),
        "a preview raises nothing"
    );
    let s = t.sub(id).await;
    assert_eq!(
        s["items"]["data"][0]["price"]["id"],
        cheap.as_str(),
        "nor changes anything"
    );
    let pending = t
        .got(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await;
    assert_eq!(pending["data"].as_array().map(Vec::len), Some(0));

    let one_off = t
        .ok(
            "/v1/invoices/create_preview",
            &format!(
                "customer={customer}&invoice_items[0][amount]=700&invoice_items[0][currency]=usd"
            ),
        )
        .await;
    assert_eq!(one_off["total"], 700);
    let (status, error) = t
        .refused(
            "/v1/invoices/create_preview",
            &format!("customer={customer}"),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("invoice_upcoming_none"))
    );

    let mark = t.marker().await;
    t.advance(&clock, end - 3 * DAY).await;
    let raised = t.events_since(&mark).await;
    assert_eq!(count(&raised, "invoice.upcoming"), 1, "{raised:?}");
}

#[tokio::test]
async fn a_clock_advances_at_most_two_intervals_of_its_shortest_subscription() {
    let t = T::new().await;
    let (bare, _) = t.customer(None).await;
    let (status, error) = t
        .refused(
            &format!("/v1/test_helpers/test_clocks/{bare}/advance"),
            &format!("frozen_time={}", T0 + 3 * 366 * DAY),
        )
        .await;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("frozen_time")),
        "two years without a subscription"
    );
    t.advance(&bare, T0 + 700 * DAY).await;

    let price = t.monthly(1000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    t.ok(
        "/v1/subscriptions",
        &format!("customer={customer}&items[0][price]={price}"),
    )
    .await;
    let two_months = 1_773_532_800; // 2026-03-15, two months after T0
    t.refused(
        &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
        &format!("frozen_time={}", two_months + 1),
    )
    .await;
    t.advance(&clock, two_months).await;
}
