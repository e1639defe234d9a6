//! 3-D Secure: requires_action and the test helper, the page, off-session
//! payments that need authentication.

use super::*;

/// A 3-D Secure card lands in requires_action with a `next_action` the mirror
/// serves; the test helper completes it (the payment succeeds), or fails it
/// (`payment_intent_authentication_failure`, no charge).
#[tokio::test]
async fn three_d_secure_requires_action_then_completes_or_fails() {
    let t = T::new().await;
    let pi = t.pay(2500, "pm_card_threeDSecure2Required", "").await.json;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_action");
    assert_eq!(pi["next_action"]["type"], "use_stripe_sdk");
    let url = pi["next_action"]["use_stripe_sdk"]["stripe_js"]
        .as_str()
        .expect("url");
    assert!(
        url.contains(&format!("/_mirra/3ds/{pi_id}?client_secret=")),
        "{url}"
    );
    assert_eq!(pi["latest_charge"], Value::Null);
    let before = t.events().await.len();
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/payment_intents/{pi_id}/authenticate"),
            "outcome=complete",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["next_action"], Value::Null);
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            done["latest_charge"].as_str().expect("charge")
        ))
        .await;
    assert_eq!(
        charge["payment_method_details"]["card"]["three_d_secure"]["result"],
        "authenticated"
    );
    assert_eq!(
        t.raised(before).await,
        [
            "charge.succeeded",
            "payment_intent.succeeded",
            "charge.updated"
        ]
    );
    let again = t
        .post(
            &format!("/v1/test_helpers/mirra/payment_intents/{pi_id}/authenticate"),
            "outcome=complete",
        )
        .await;
    assert_eq!(error(&again)["code"], "payment_intent_unexpected_state");

    let pi = t
        .pay(
            2500,
            "pm_card_authenticationRequired",
            "&return_url=https://shop.example/back",
        )
        .await
        .json;
    assert_eq!(pi["next_action"]["type"], "redirect_to_url");
    assert_eq!(
        pi["next_action"]["redirect_to_url"]["return_url"],
        "https://shop.example/back"
    );
    let failed = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=fail",
        )
        .await;
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    assert_eq!(
        failed["last_payment_error"]["type"],
        "invalid_request_error"
    );
    assert_eq!(failed["latest_charge"], Value::Null);
    let bad = t
        .post(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=maybe",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(error(&bad)["param"], "outcome");

    // Authenticated, then declined by the issuer.
    let pi = t
        .pay(
            2500,
            "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
            "",
        )
        .await
        .json;
    let after = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=complete",
        )
        .await;
    assert_eq!(after["status"], "requires_payment_method");
    assert_eq!(
        after["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
}

/// The page `next_action` points at needs no key: it shows Complete and Fail
/// buttons, refuses a wrong client secret, and its Complete button finishes
/// the payment and returns to the `return_url` with Stripe's parameters.
#[tokio::test]
async fn the_three_d_secure_page_completes_and_redirects_to_the_return_url() {
    let t = T::new().await;
    let pi = t
        .pay(
            3000,
            "pm_card_authenticationRequired",
            "&return_url=https://shop.example/back?x=1",
        )
        .await
        .json;
    let pi_id = id(&pi);
    let secret = pi["client_secret"].as_str().expect("secret");
    let url = pi["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .expect("url");
    let path = url.split("/stripe").nth(1).expect("path below the mirror");
    assert!(url.starts_with("http://127.0.0.1"), "{url}");
    assert!(
        url.contains(&format!(
            "/m/{}/stripe/_mirra/3ds/{pi_id}?client_secret={secret}",
            t.s.id
        )),
        "{url}"
    );
    let (status, _, html) = t.browse(Method::GET, path, "").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Complete") && html.contains("Fail") && html.contains("$30.00"),
        "{html}"
    );
    let (status, _, _) = t
        .browse(
            Method::GET,
            &format!("/_mirra/3ds/{pi_id}?client_secret=nope"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, body) = t
        .browse(
            Method::POST,
            &format!("/_mirra/3ds/{pi_id}"),
            &format!("client_secret={secret}&outcome=complete"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(
        location.starts_with("https://shop.example/back?x=1&payment_intent="),
        "{location}"
    );
    assert!(location.contains("redirect_status=succeeded"), "{location}");
    let after = t.got(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(after["status"], "succeeded");
    let receipt = after["latest_charge"].as_str().expect("charge");
    let (status, _, html) = t
        .browse(Method::GET, &format!("/_mirra/receipts/{receipt}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("$30.00") && html.contains("3184"), "{html}");
}

/// Off session, a card that needs authentication fails with
/// `authentication_required` unless the catalogue says it was set up.
#[tokio::test]
async fn off_session_payments_needing_authentication_fail_as_on_stripe() {
    let t = T::new().await;
    let cus = t.customer().await;
    let pm = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequired/attach",
            &format!("customer={cus}"),
        )
        .await;
    let r = t
        .pay(2000, &id(&pm), &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.json);
    assert_eq!(error(&r)["code"], "authentication_required");
    assert_eq!(error(&r)["decline_code"], "authentication_required");
    assert_eq!(
        error(&r)["payment_intent"]["status"],
        "requires_payment_method"
    );
    let on = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequiredSetupForOffSession/attach",
            &format!("customer={cus}"),
        )
        .await;
    let r = t
        .pay(2000, &id(&on), &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(r.json["status"], "succeeded", "{}", r.json);
    let other = t.customer().await;
    let wrong = t.pay(2000, &id(&on), &format!("&customer={other}")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(error(&wrong)["message"]
        .as_str()
        .is_some_and(|m| m.contains("belongs to the Customer")));
    let off = t
        .post(
            "/v1/payment_intents",
            "amount=900&currency=usd&off_session=true",
        )
        .await;
    assert_eq!(off.status, StatusCode::BAD_REQUEST);
}
