//! Failed renewals: past due, the retry days, what the last failure does, a
//! retry that succeeds, and the dunning seed.

use super::*;

#[tokio::test]
async fn a_failed_renewal_goes_past_due_is_retried_and_cancels_after_the_last_retry() {
    let t = T::new().await;
    let price = t.monthly(1500).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t.subscribe(&customer, &price).await;
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
    let sub = t.subscribe(&customer, &price).await;
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
    let sub = t.subscribe(&customer, &price).await;
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
