//! Payment mode: paid through Mirra's helper and through the page (declines,
//! 3-D Secure, promotion codes, retries).

use super::*;

#[tokio::test]
async fn a_payment_session_paid_by_the_helper_completes_with_its_payment_intent() {
    let t = T::new().await;
    let price = t.price(2500, false).await;
    let s = t.checkout(&format!("mode=payment&line_items[0][price]={price}&line_items[0][quantity]=2&customer_creation=always&metadata[order]=42")).await;
    let id = s["id"].as_str().expect("id");
    assert!(id.starts_with("cs_test_"));
    assert_eq!(
        (
            s["status"].as_str(),
            s["payment_status"].as_str(),
            s["amount_total"].as_i64()
        ),
        (Some("open"), Some("unpaid"), Some(5000))
    );
    assert!(
        s.get("line_items").is_none(),
        "line items only when expanded"
    );
    let items = t
        .got(&format!("/v1/checkout/sessions/{id}/line_items"))
        .await;
    assert_eq!(
        (
            items["data"][0]["quantity"].as_i64(),
            items["data"][0]["amount_total"].as_i64()
        ),
        (Some(2), Some(5000))
    );
    let expanded = t
        .got(&format!("/v1/checkout/sessions/{id}?expand[]=line_items"))
        .await;
    assert_eq!(
        expanded["line_items"]["data"][0]["price"]["id"],
        price.as_str()
    );

    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa&email=buyer@example.com",
        )
        .await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    assert_eq!(done["customer_details"]["email"], "buyer@example.com");
    let pi = t
        .got(&format!(
            "/v1/payment_intents/{}",
            done["payment_intent"].as_str().expect("pi")
        ))
        .await;
    assert_eq!(
        (pi["status"].as_str(), pi["amount"].as_i64()),
        (Some("succeeded"), Some(5000))
    );
    assert_eq!(pi["customer"], done["customer"]);
    assert!(t
        .types()
        .await
        .contains(&"checkout.session.completed".to_string()));
    let again =
        t.m.post(
            &t.s,
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(
        again.status.as_u16(),
        400,
        "a complete session cannot be paid again"
    );
}

#[tokio::test]
async fn the_hosted_page_takes_a_card_shows_a_decline_and_sends_the_browser_to_success_url() {
    let t = T::new().await;
    let price = t.price(1999, false).await;
    let s = t
        .checkout(&format!(
            "cancel_url=https://app.example/cart&line_items[0][price]={price}"
        ))
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let shown = t.browse(Method::GET, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.html.contains("$19.99")
            && shown.html.contains(">Pay<")
            && shown.html.contains("https://app.example/cart"),
        "{}",
        shown.html
    );

    let declined = t
        .browse(Method::POST, &path, Some("email=a%40example.com&number=4000+0000+0000+0002&exp_month=12&exp_year=2034&cvc=123"))
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        declined.html.contains("Your card was declined."),
        "{}",
        declined.html
    );
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["status"],
        "open"
    );

    let paid = t
        .browse(Method::POST, &path, Some("email=a%40example.com&number=4242+4242+4242+4242&exp_month=12&exp_year=2034&cvc=123"))
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER);
    assert_eq!(paid.location, format!("https://app.example/ok?cs={id}"));
    let done = t.got(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    assert_eq!(
        done["customer"],
        Value::Null,
        "a guest: no customer made by default"
    );
    let back = t.browse(Method::GET, &path, None).await;
    assert_eq!(
        back.location,
        format!("https://app.example/ok?cs={id}"),
        "a complete session's page goes on"
    );
}

#[tokio::test]
async fn three_d_secure_on_the_page_goes_through_the_challenge_and_back() {
    let t = T::new().await;
    let price = t.price(3000, false).await;
    let s = t.checkout(&format!("line_items[0][price]={price}")).await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let challenged = t
        .browse(
            Method::POST,
            &path,
            Some("number=4000002500003155&exp_month=12&exp_year=2034&cvc=123"),
        )
        .await;
    assert_eq!(
        challenged.status,
        StatusCode::SEE_OTHER,
        "{}",
        challenged.html
    );
    assert!(
        challenged.location.contains("/_mirra/3ds/pi_"),
        "{}",
        challenged.location
    );
    let challenge = &challenged.location[challenged.location.find("/_mirra/").expect("3ds")..];
    let (challenge_path, query) = challenge.split_once('?').expect("query");
    let authenticated = t
        .browse(
            Method::POST,
            challenge_path,
            Some(&format!("{query}&outcome=complete")),
        )
        .await;
    assert_eq!(
        authenticated.status,
        StatusCode::SEE_OTHER,
        "{}",
        authenticated.html
    );
    assert!(
        authenticated
            .location
            .contains(&format!("/_mirra/checkout/{id}/return")),
        "{}",
        authenticated.location
    );
    let returned =
        &authenticated.location[authenticated.location.find("/_mirra/").expect("return")..];
    let landed = t.browse(Method::GET, returned, None).await;
    assert_eq!(landed.location, format!("https://app.example/ok?cs={id}"));
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["payment_status"],
        "paid"
    );
}

#[tokio::test]
async fn a_promotion_code_typed_on_the_page_discounts_the_payment() {
    let t = T::new().await;
    let price = t.price(4000, false).await;
    t.ok(
        "/v1/coupons",
        "id=TENOFF&amount_off=1000&currency=usd&duration=once",
    )
    .await;
    let promo = t
        .ok(
            "/v1/promotion_codes",
            "promotion[type]=coupon&promotion[coupon]=TENOFF&code=SPRING",
        )
        .await;
    let s = t
        .checkout(&format!(
            "line_items[0][price]={price}&allow_promotion_codes=true"
        ))
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    assert!(t
        .browse(Method::GET, &path, None)
        .await
        .html
        .contains("id=\"promotion_code\""));
    let card = "number=4242424242424242&exp_month=12&exp_year=2034&cvc=123";
    let wrong = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("{card}&promotion_code=WINTER")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.html.contains("This code is invalid"),
        "{}",
        wrong.html
    );
    let paid = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("{card}&promotion_code=spring")),
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.html);
    let done = t.got(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(
        (
            done["amount_total"].as_i64(),
            done["total_details"]["amount_discount"].as_i64()
        ),
        (Some(3000), Some(1000))
    );
    assert_eq!(done["discounts"][0]["promotion_code"], promo["id"]);
    let pi = t
        .got(&format!(
            "/v1/payment_intents/{}",
            done["payment_intent"].as_str().expect("pi")
        ))
        .await;
    assert_eq!(pi["amount"], 3000);
    assert_eq!(
        t.got(&format!(
            "/v1/promotion_codes/{}",
            promo["id"].as_str().expect("promo")
        ))
        .await["times_redeemed"],
        1
    );
    let plain = t.checkout(&format!("line_items[0][price]={price}")).await;
    let r =
        t.m.post(
            &t.s,
            &format!(
                "/v1/test_helpers/mirra/checkout/sessions/{}/complete",
                plain["id"].as_str().expect("id")
            ),
            "payment_method=pm_card_visa&promotion_code=SPRING",
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        400,
        "a session without allow_promotion_codes takes none"
    );
}

#[tokio::test]
async fn retries_after_a_decline_or_a_failed_challenge_reuse_the_intent_and_the_subscription() {
    let t = T::new().await;
    let once = t.price(2000, false).await;
    let s = t.checkout(&format!("line_items[0][price]={once}")).await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let card = |n: &str| format!("number={n}&exp_month=12&exp_year=2034&cvc=123");
    let declined = t
        .browse(Method::POST, &path, Some(&card("4000000000000002")))
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    let asked = t
        .browse(Method::POST, &path, Some(&card("4000002500003155")))
        .await;
    let back = challenge(&t, &asked, "fail").await;
    let shown = t.browse(Method::GET, &back, None).await;
    assert!(
        shown.html.contains("authentication failed"),
        "{}",
        shown.html
    );
    // The form on the return page posts to it: paying from there works.
    let paid = t
        .browse(Method::POST, &back, Some(&card("4242424242424242")))
        .await;
    assert_eq!(
        paid.location,
        format!("https://app.example/ok?cs={id}"),
        "{}",
        paid.html
    );
    let pis = t.got("/v1/payment_intents?limit=10").await;
    assert_eq!(
        pis["data"].as_array().map(Vec::len),
        Some(1),
        "one PaymentIntent for the session"
    );
    assert_eq!(pis["data"][0]["status"], "succeeded");

    let monthly = t.price(1500, true).await;
    let s = t
        .checkout(&format!(
            "mode=subscription&customer_email=x%40example.com&line_items[0][price]={monthly}"
        ))
        .await;
    let path = T::page_of(&s);
    let asked = t
        .browse(Method::POST, &path, Some(&card("4000002500003155")))
        .await;
    let back = challenge(&t, &asked, "fail").await;
    let paid = t
        .browse(Method::POST, &back, Some(&card("4242424242424242")))
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.html);
    let subs = t.got("/v1/subscriptions?status=all").await;
    assert_eq!(
        subs["data"].as_array().map(Vec::len),
        Some(1),
        "one subscription, paid on the retry"
    );
    assert_eq!(subs["data"][0]["status"], "active");
}
