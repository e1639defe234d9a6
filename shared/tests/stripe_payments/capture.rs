//! Manual capture, invalid transitions and cancel.

use super::*;

/// Manual capture authorizes (requires_capture, an uncaptured charge), then a
/// partial capture takes part of it and releases the rest; what is captured
/// is what the balance transaction holds.
#[tokio::test]
async fn manual_capture_authorizes_then_captures_part() {
    let t = T::new().await;
    let pi = t
        .pay(2000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(
        (
            pi["amount_capturable"].as_i64(),
            pi["amount_received"].as_i64()
        ),
        (Some(2000), Some(0))
    );
    let ch = pi["latest_charge"].as_str().expect("charge").to_string();
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["captured"].as_bool(),
            charge["amount_captured"].as_i64()
        ),
        (Some(false), Some(0))
    );
    assert!(charge["payment_method_details"]["card"]["capture_before"].is_i64());
    assert_eq!(charge["balance_transaction"], Value::Null);
    let over = t
        .post(
            &format!("/v1/payment_intents/{pi_id}/capture"),
            "amount_to_capture=2500",
        )
        .await;
    assert_eq!(error(&over)["code"], "amount_too_large");
    let before = t.events().await.len();
    let done = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}/capture"),
            "amount_to_capture=1500",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        (
            done["amount_received"].as_i64(),
            done["amount_capturable"].as_i64()
        ),
        (Some(1500), Some(0))
    );
    assert_eq!(
        t.raised(before).await,
        ["charge.captured", "payment_intent.succeeded"]
    );
    let charge = t
        .got(&format!("/v1/charges/{ch}?expand[]=balance_transaction"))
        .await;
    assert_eq!(charge["captured"], true);
    assert_eq!(
        (
            charge["amount_captured"].as_i64(),
            charge["amount_refunded"].as_i64()
        ),
        (Some(1500), Some(500))
    );
    assert_eq!(charge["balance_transaction"]["amount"], 1500);
    assert_eq!(charge["balance_transaction"]["fee"], 74);
    let all = t
        .got("/v1/events?type=payment_intent.amount_capturable_updated")
        .await;
    assert_eq!(all["data"][0]["data"]["object"]["id"], pi_id.as_str());
    let twice = t
        .post(&format!("/v1/payment_intents/{pi_id}/capture"), "")
        .await;
    assert_eq!(error(&twice)["code"], "payment_intent_unexpected_state");
    assert_eq!(
        error(&twice)["message"],
        "This PaymentIntent could not be captured because it has a status of succeeded. Only a \
         PaymentIntent with one of the following statuses may be captured: requires_capture."
    );
}

/// What a settled intent refuses, in Stripe's words; cancel works before,
/// releasing an authorization.
#[tokio::test]
async fn invalid_transitions_get_stripes_errors_and_cancel_releases_authorizations() {
    let t = T::new().await;
    let pi = t.pay(2000, "pm_card_visa", "").await.json;
    let pi_id = id(&pi);
    let again = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&again)["code"], "payment_intent_unexpected_state");
    assert_eq!(
        error(&again)["message"],
        "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed."
    );
    let cancel = t
        .post(&format!("/v1/payment_intents/{pi_id}/cancel"), "")
        .await;
    assert_eq!(
        error(&cancel)["message"],
        "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a \
         PaymentIntent with one of the following statuses may be canceled: requires_payment_method, \
         requires_capture, requires_confirmation, requires_action, processing."
    );
    let amount = t
        .post(&format!("/v1/payment_intents/{pi_id}"), "amount=5000")
        .await;
    assert_eq!(error(&amount)["code"], "payment_intent_unexpected_state");
    let described = t
        .ok(&format!("/v1/payment_intents/{pi_id}"), "description=later")
        .await;
    assert_eq!(described["description"], "later");

    let open = t.ok("/v1/payment_intents", "amount=700&currency=eur").await;
    let before = t.events().await.len();
    let canceled = t
        .ok(
            &format!("/v1/payment_intents/{}/cancel", id(&open)),
            "cancellation_reason=abandoned",
        )
        .await;
    assert_eq!(
        (
            canceled["status"].as_str(),
            canceled["cancellation_reason"].as_str()
        ),
        (Some("canceled"), Some("abandoned"))
    );
    assert!(canceled["canceled_at"].is_i64());
    assert_eq!(t.raised(before).await, ["payment_intent.canceled"]);
    let confirm = t
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&open)),
            "payment_method=pm_card_visa",
        )
        .await;
    assert!(error(&confirm)["message"]
        .as_str()
        .is_some_and(|m| m.contains("has a status of canceled")));

    let held = t
        .pay(4000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let before = t.events().await.len();
    t.ok(&format!("/v1/payment_intents/{}/cancel", id(&held)), "")
        .await;
    assert_eq!(
        t.raised(before).await,
        ["charge.refunded", "payment_intent.canceled"]
    );
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            held["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(
        (
            charge["refunded"].as_bool(),
            charge["amount_refunded"].as_i64()
        ),
        (Some(true), Some(4000))
    );
    let list = t.got("/v1/payment_intents?limit=2").await;
    assert_eq!(list["data"][0]["id"], id(&held).as_str());
    assert_eq!(list["has_more"], true);
}
