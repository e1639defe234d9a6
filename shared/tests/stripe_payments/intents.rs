//! Card payments: success with charge and balance transaction, the status
//! machine, and every decline token.

use super::*;

/// A confirmed card payment succeeds with a captured charge, its card details
/// and checks, and a balance transaction with Stripe's fee, raising Stripe's
/// events in Stripe's order.
#[tokio::test]
async fn a_card_payment_succeeds_with_a_charge_and_a_balance_transaction() {
    let t = T::new().await;
    let r = t
        .pay(
            2000,
            "pm_card_visa",
            "&description=Order%201&metadata[order]=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let pi = r.json;
    let pi_id = id(&pi);
    assert!(pi_id.starts_with("pi_"));
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(
        (
            pi["amount_received"].as_i64(),
            pi["amount_capturable"].as_i64()
        ),
        (Some(2000), Some(0))
    );
    assert!(pi["client_secret"]
        .as_str()
        .is_some_and(|c| c.starts_with(&format!("{pi_id}_secret_"))));
    assert_eq!(pi["capture_method"], "automatic_async");
    assert!(
        pi.get("charges").is_none(),
        "the pinned version has latest_charge"
    );
    assert!(pi["payment_method"]
        .as_str()
        .is_some_and(|p| p.starts_with("pm_") && p != "pm_card_visa"));
    let ch = pi["latest_charge"].as_str().expect("latest_charge");
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(charge["status"], "succeeded");
    assert_eq!(
        (charge["paid"].as_bool(), charge["captured"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(charge["amount_captured"], 2000);
    assert_eq!(charge["payment_intent"], pi_id.as_str());
    assert_eq!(charge["description"], "Order 1");
    assert_eq!(charge["metadata"]["order"], "1");
    assert_eq!(charge["outcome"]["type"], "authorized");
    assert_eq!(charge["outcome"]["network_status"], "approved_by_network");
    assert_eq!(charge["outcome"]["risk_level"], "normal");
    let card = &charge["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    assert_eq!(card["checks"]["cvc_check"], "pass");
    assert!(charge["receipt_url"]
        .as_str()
        .is_some_and(|u| u.contains("/_mirra/receipts/")));
    let txn = charge["balance_transaction"]
        .as_str()
        .expect("balance transaction");
    let bt = t.got(&format!("/v1/balance_transactions/{txn}")).await;
    assert_eq!(
        (
            bt["amount"].as_i64(),
            bt["fee"].as_i64(),
            bt["net"].as_i64()
        ),
        (Some(2000), Some(88), Some(1912))
    );
    assert_eq!(
        (bt["type"].as_str(), bt["source"].as_str()),
        (Some("charge"), Some(ch))
    );
    assert_eq!(bt["status"], "pending");
    assert_eq!(bt["fee_details"][0]["type"], "stripe_fee");
    assert_eq!(
        t.events().await,
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "charge.updated"
        ]
    );
    // automatic_async: charge.succeeded came before its balance transaction.
    let updated = t.got("/v1/events?type=charge.updated").await;
    assert_eq!(
        updated["data"][0]["data"]["previous_attributes"]["balance_transaction"],
        Value::Null
    );
    let expanded = t
        .got(&format!(
            "/v1/payment_intents/{pi_id}?expand[]=latest_charge.balance_transaction"
        ))
        .await;
    assert_eq!(expanded["latest_charge"]["balance_transaction"]["id"], txn);
}

/// Without `confirm`, an intent walks requires_payment_method →
/// requires_confirmation → succeeded; automatic payment methods (the default)
/// need a `return_url` to confirm, as on Stripe.
#[tokio::test]
async fn an_intent_walks_the_status_machine_and_confirming_needs_a_return_url() {
    let t = T::new().await;
    // A refused confirmation refuses the create: nothing is made, with or
    // without an idempotency key.
    let body = "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true";
    let refused = t.post("/v1/payment_intents", body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    let keyed =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(body),
            &[("idempotency-key", "k")],
        )
        .await;
    assert_eq!(keyed.status, StatusCode::BAD_REQUEST, "{}", keyed.json);
    assert_eq!(
        t.got("/v1/payment_intents").await["data"],
        serde_json::json!([])
    );
    assert!(t.events().await.is_empty());
    let pi = t
        .ok("/v1/payment_intents", "amount=1500&currency=usd")
        .await;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_payment_method");
    assert_eq!(pi["automatic_payment_methods"]["enabled"], true);
    assert_eq!(pi["payment_method_types"], serde_json::json!(["card"]));
    let missing = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&missing)["code"], "payment_intent_unexpected_state");
    assert!(error(&missing)["message"]
        .as_str()
        .is_some_and(|m| m.contains("because it's missing a payment method")));
    let pi = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}"),
            "payment_method=pm_card_mastercard&amount=1800",
        )
        .await;
    assert_eq!(
        (pi["status"].as_str(), pi["amount"].as_i64()),
        (Some("requires_confirmation"), Some(1800))
    );
    let no_return = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(no_return.status, StatusCode::BAD_REQUEST);
    assert!(error(&no_return)["message"]
        .as_str()
        .is_some_and(|m| m.contains("you must provide a `return_url`")));
    let pi = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}/confirm"),
            "return_url=https://shop.example/done",
        )
        .await;
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount_received"], 1800);
    let small = t
        .post("/v1/payment_intents", "amount=20&currency=usd")
        .await;
    assert_eq!(error(&small)["code"], "amount_too_small");
    assert_eq!(
        error(&small)["message"],
        "Amount must be at least $0.50 usd"
    );
}

/// Every decline token answers 402 `card_error` with its code and
/// decline_code and the intent in the error; the intent is back in
/// requires_payment_method with `last_payment_error`, and a failed charge is
/// kept — without an idempotency key too.
#[tokio::test]
async fn every_decline_token_fails_with_its_code_and_keeps_a_failed_charge() {
    let t = T::new().await;
    let cases = [
        (
            "pm_card_chargeDeclined",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_visa_chargeDeclined",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            "lost_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedStolenCard",
            "card_declined",
            "stolen_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            "incorrect_cvc",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            "processing_error",
            "issuer_declined",
        ),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "card_declined",
            "card_velocity_exceeded",
            "issuer_declined",
        ),
        (
            "pm_card_chargeCustomerFail",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_radarBlock",
            "card_declined",
            "fraudulent",
            "blocked",
        ),
        (
            "pm_card_riskLevelHighest",
            "card_declined",
            "fraudulent",
            "blocked",
        ),
    ];
    for (token, code, decline_code, outcome) in cases {
        let before = t.events().await.len();
        let r = t.pay(2000, token, "").await;
        assert_eq!(
            r.status,
            StatusCode::PAYMENT_REQUIRED,
            "{token}: {}",
            r.json
        );
        let e = error(&r);
        assert_eq!(e["type"], "card_error", "{token}");
        assert_eq!(
            (e["code"].as_str(), e["decline_code"].as_str()),
            (Some(code), Some(decline_code)),
            "{token}"
        );
        let pi = &e["payment_intent"];
        assert_eq!(pi["status"], "requires_payment_method", "{token}");
        assert_eq!(pi["last_payment_error"]["code"], code, "{token}");
        assert_eq!(
            pi["last_payment_error"]["decline_code"], decline_code,
            "{token}"
        );
        assert_eq!(pi["payment_method"], Value::Null, "{token}");
        let ch = e["charge"].as_str().expect("charge");
        assert_eq!(pi["latest_charge"], ch);
        let stored = t.got(&format!("/v1/payment_intents/{}", id(pi))).await;
        assert_eq!(
            stored["last_payment_error"]["code"], code,
            "{token}: the failure is kept"
        );
        let charge = t.got(&format!("/v1/charges/{ch}")).await;
        assert_eq!(
            (charge["status"].as_str(), charge["paid"].as_bool()),
            (Some("failed"), Some(false))
        );
        assert_eq!(charge["failure_code"], code);
        assert_eq!(charge["outcome"]["type"], outcome, "{token}");
        assert_eq!(charge["balance_transaction"], Value::Null);
        assert_eq!(
            t.raised(before).await,
            [
                "payment_intent.created",
                "charge.failed",
                "payment_intent.payment_failed"
            ],
            "{token}"
        );
    }
    // The same decline replays under its idempotency key.
    let body = format!(
        "amount=900&currency=usd&{CARD}&payment_method=pm_card_chargeDeclined&confirm=true"
    );
    let first =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(&body),
            &[("idempotency-key", "k1")],
        )
        .await;
    let again =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(&body),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::PAYMENT_REQUIRED, StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(first.json, again.json);
}
