//! Attach and detach with Stripe's rules, test tokens, declined cards and
//! idempotent card errors.

use super::*;

/// Attaching sets the customer and runs the card's checks; attaching again to the
/// same customer changes nothing; another customer, a detached method, an unknown
/// customer or method are refused in Stripe's words.
#[tokio::test]
async fn attach_and_detach_follow_stripes_rules() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let pm = id(&h.method(&s, "tok_visa").await);

    let attached = h.attach(&s, &pm, &a).await.ok();
    assert_eq!(attached["customer"], a.as_str());
    assert_eq!(attached["card"]["checks"]["cvc_check"], "pass");
    assert_eq!(h.attach(&s, &pm, &a).await.ok(), attached);
    let r = h.attach(&s, &pm, &b).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "The payment method you provided has already been attached to a customer.",
        None,
    );

    let detached = h
        .post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    assert_eq!(detached["customer"], Value::Null);
    let r = h
        .post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await;
    assert_invalid(&r, StatusCode::BAD_REQUEST, None, "The payment method you provided is not attached to a customer so detachment is impossible.", None);
    let r = h.attach(&s, &pm, &b).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        None,
    );

    let fresh = id(&h.method(&s, "tok_visa").await);
    let r = h.attach(&s, &fresh, "cus_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h
        .post(&s, &format!("/v1/payment_methods/{fresh}/attach"), "")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: customer.",
        Some("customer"),
    );
    let r = h.attach(&s, "pm_nope", &a).await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("payment_method"),
    );
    let r = h.post(&s, "/v1/payment_methods/pm_nope/detach", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
}

/// Attaching a `pm_card_*` name stores a new method attached to the customer.
#[tokio::test]
async fn a_test_token_becomes_a_stored_method_when_attached() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = h.attach(&s, "pm_card_mastercard", &cus).await.ok();
    assert_ne!(pm["id"], "pm_card_mastercard");
    assert_eq!(
        (&pm["customer"], &pm["card"]["brand"]),
        (&json!(cus), &json!("mastercard"))
    );
    let got = h
        .get(&s, &format!("/v1/payment_methods/{}", id(&pm)))
        .await
        .ok();
    assert_eq!(got, pm);
    let list = h
        .get(&s, &format!("/v1/customers/{cus}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&list), vec![id(&pm)]);
}

/// Cards the issuer declines cannot be attached (Stripe checks them on attach)
/// and nothing is stored; `pm_card_chargeCustomerFail` attaches.
#[tokio::test]
async fn declined_cards_cannot_be_attached_but_charge_customer_fail_can() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let cases: &[Expected] = &[
        (
            "pm_card_chargeDeclined",
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
            None,
        ),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            Some("lost_card"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_chargeDeclinedStolenCard",
            "card_declined",
            Some("stolen_card"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            Some("expired_card"),
            "Your card has expired.",
            Some("exp_month"),
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            Some("incorrect_cvc"),
            "Your card's security code is incorrect.",
            Some("cvc"),
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            Some("processing_error"),
            "An error occurred while processing your card. Try again in a little bit.",
            None,
        ),
    ];
    for (token, code, decline, message, param) in cases {
        let r = h.attach(&s, token, &cus).await;
        assert_card_error(&r, code, *decline, message, *param);
    }
    // A stored declined card is refused the same way and stays unattached.
    let stored = id(&h.method(&s, "tok_chargeDeclined").await);
    let r = h.attach(&s, &stored, &cus).await;
    assert_card_error(
        &r,
        "card_declined",
        Some("generic_decline"),
        "Your card was declined.",
        None,
    );
    let got = h
        .get(&s, &format!("/v1/payment_methods/{stored}"))
        .await
        .ok();
    assert_eq!(got["customer"], Value::Null);

    let fails_later = h.attach(&s, "pm_card_chargeCustomerFail", &cus).await.ok();
    assert_eq!(fails_later["card"]["last4"], "0341");
    let list = h
        .get(&s, &format!("/v1/customers/{cus}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&list), vec![id(&fails_later)]);
}

/// A card error is saved under its idempotency key like any other outcome.
#[tokio::test]
async fn a_card_error_replays_under_its_idempotency_key() {
    let h = harness();
    let s = h.session().await;
    let body = "type=card&card[number]=4242424242424241&card[exp_month]=1&card[exp_year]=2040";
    let first = h
        .send(&s, Method::POST, "/v1/payment_methods", body, Some("k-1"))
        .await;
    let again = h
        .send(&s, Method::POST, "/v1/payment_methods", body, Some("k-1"))
        .await;
    assert_eq!(first.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!((again.status, &again.json), (first.status, &first.json));
}
