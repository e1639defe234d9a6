//! Subscriptions on test clocks: trials, renewals, prorations, cancellation,
//! the incomplete window, pauses, discounts, real time, and how far a clock moves.

use super::*;

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
async fn an_upgrade_mid_period_prorates_now_or_on_the_next_invoice() {
    let t = T::new().await;
    let cheap = t.monthly(1000).await;
    let dear = t.monthly(3000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t.subscribe(&customer, &cheap).await;
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
    let sub = t.subscribe(&customer, &price).await;
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
    let sub = t.subscribe(&customer, &price).await;
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
    let sub = t.subscribe(customer, &price).await;
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
    t.subscribe(&customer, &price).await;
    let two_months = 1_773_532_800; // 2026-03-15, two months after T0
    t.refused(
        &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
        &format!("frozen_time={}", two_months + 1),
    )
    .await;
    t.advance(&clock, two_months).await;
}

#[tokio::test]
async fn a_first_time_promotion_code_is_refused_to_a_customer_who_has_paid() {
    let t = T::new().await;
    let price = t.monthly(2000).await;
    t.ok("/v1/coupons", "id=FIRST&percent_off=50&duration=once")
        .await;
    let promo = t
        .ok(
            "/v1/promotion_codes",
            "promotion[type]=coupon&promotion[coupon]=FIRST&code=NEWBIE&restrictions[first_time_transaction]=true",
        )
        .await;
    let promo = promo["id"].as_str().expect("promo");
    let (_, paid_before) = t.customer(Some("pm_card_visa")).await;
    t.ok(
        "/v1/subscriptions",
        &format!("customer={paid_before}&items[0][price]={price}"),
    )
    .await;
    let (status, error) = t
        .refused(
            "/v1/subscriptions",
            &format!("customer={paid_before}&items[0][price]={price}&discounts[0][promotion_code]={promo}"),
        )
        .await;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("discounts[0][promotion_code]"))
    );
    let (_, newcomer) = t.customer(Some("pm_card_visa")).await;
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={newcomer}&items[0][price]={price}&discounts[0][promotion_code]={promo}&expand[]=latest_invoice"),
        )
        .await;
    assert_eq!(
        sub["latest_invoice"]["amount_paid"], 1000,
        "half off the first payment"
    );
}
