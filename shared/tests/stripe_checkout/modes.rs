//! Subscription and setup mode, and sessions that expire.

use super::*;

#[tokio::test]
async fn subscription_mode_subscribes_a_new_customer_with_the_card() {
    let t = T::new().await;
    let price = t.price(1200, true).await;
    t.ok("/v1/coupons", "id=HALF&percent_off=50&duration=once")
        .await;
    let s = t.checkout(&format!("mode=subscription&line_items[0][price]={price}&customer_email=sub%40example.com&discounts[0][coupon]=HALF&subscription_data[metadata][plan]=pro")).await;
    let id = s["id"].as_str().expect("id");
    assert_eq!(s["amount_total"], 600);
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    let sub = t
        .got(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            done["subscription"].as_str().expect("subscription")
        ))
        .await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["metadata"]["plan"], "pro");
    assert_eq!(
        sub["latest_invoice"]["amount_paid"], 600,
        "the coupon applied"
    );
    assert!(sub["default_payment_method"]
        .as_str()
        .is_some_and(|p| p.starts_with("pm_")));
    let customer = t
        .got(&format!(
            "/v1/customers/{}",
            done["customer"].as_str().expect("customer")
        ))
        .await;
    assert_eq!(customer["email"], "sub@example.com");
    assert_eq!(t.got("/v1/coupons/HALF").await["times_redeemed"], 1);
}

#[tokio::test]
async fn a_declined_card_in_subscription_mode_leaves_no_subscription() {
    let t = T::new().await;
    // The session's seed has customers of its own.
    let seeded = t.got("/v1/customers?limit=100").await["data"]
        .as_array()
        .map_or(0, Vec::len);
    let price = t.price(1200, true).await;
    let s = t
        .checkout(&format!("mode=subscription&line_items[0][price]={price}"))
        .await;
    let id = s["id"].as_str().expect("id");
    let r =
        t.m.post(
            &t.s,
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_chargeDeclined",
        )
        .await;
    assert_eq!(r.status.as_u16(), 402, "{}", r.json);
    let subs = t.got("/v1/subscriptions?status=all").await;
    assert_eq!(subs["data"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["status"],
        "open"
    );
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    let customers = t.got("/v1/customers?limit=100").await;
    assert_eq!(
        customers["data"].as_array().map(Vec::len),
        Some(seeded + 1),
        "the declined try made no second customer"
    );
    assert_eq!(customers["data"][0]["id"], done["customer"]);
    let sub = t
        .got(&format!(
            "/v1/subscriptions/{}",
            done["subscription"].as_str().expect("sub")
        ))
        .await;
    assert_eq!(
        done["invoice"], sub["latest_invoice"],
        "the session names the first invoice"
    );
}

#[tokio::test]
async fn setup_mode_saves_the_card_for_the_customer() {
    let t = T::new().await;
    let c = t.ok("/v1/customers", "email=saver@example.com").await;
    let customer = c["id"].as_str().expect("customer");
    let s = t
        .checkout(&format!("mode=setup&currency=usd&customer={customer}"))
        .await;
    assert_eq!(
        (s["payment_status"].as_str(), s["amount_total"].as_i64()),
        (Some("no_payment_required"), None)
    );
    let done = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/checkout/sessions/{}/complete",
                s["id"].as_str().expect("id")
            ),
            "payment_method=pm_card_mastercard",
        )
        .await;
    assert_eq!(done["status"], "complete");
    let si = t
        .got(&format!(
            "/v1/setup_intents/{}",
            done["setup_intent"].as_str().expect("si")
        ))
        .await;
    assert_eq!(si["status"], "succeeded");
    let pms = t
        .got(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    assert_eq!(pms["data"][0]["card"]["brand"], "mastercard");
}

#[tokio::test]
async fn sessions_expire_when_asked_and_after_their_time() {
    let t = T::new().await;
    let price = t.price(500, false).await;
    let items = format!("line_items[0][price]={price}");
    let make = || t.checkout(&items);
    let first = make().await;
    let first_id = first["id"].as_str().expect("id");
    let expired = t
        .ok(&format!("/v1/checkout/sessions/{first_id}/expire"), "")
        .await;
    assert_eq!(expired["status"], "expired");
    let again =
        t.m.post(
            &t.s,
            &format!("/v1/checkout/sessions/{first_id}/expire"),
            "",
        )
        .await;
    assert_eq!(again.status.as_u16(), 400);
    let page = t.browse(Method::GET, &T::page_of(&first), None).await;
    assert_eq!(page.status, StatusCode::GONE);

    let second = make().await;
    let second_id = second["id"].as_str().expect("id");
    let dispatcher = Arc::new(Dispatcher::new(t.m.sessions.clone()));
    t.clock.advance_ms(24 * 3600 * 1000 - 1000);
    dispatcher.sweep().await.expect("sweep");
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{second_id}")).await["status"],
        "open"
    );
    t.clock.advance_ms(1000);
    dispatcher.sweep().await.expect("sweep");
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{second_id}")).await["status"],
        "expired"
    );
    assert_eq!(
        t.types()
            .await
            .iter()
            .filter(|k| *k == "checkout.session.expired")
            .count(),
        2
    );
    let list = t.got("/v1/checkout/sessions?status=expired").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
}
