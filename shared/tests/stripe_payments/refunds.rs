//! Refunds: partial, over and full; pending ones canceled or settled.

use super::*;

/// Partial, then over, then full refunds: `amount_refunded` and `refunded`
/// follow, each refund has its negative balance transaction, and an
/// over-refund gets Stripe's message.
#[tokio::test]
async fn refunds_partial_over_and_full_follow_the_charge() {
    let t = T::new().await;
    let pi = t
        .pay(2000, "pm_card_visa", "&capture_method=automatic")
        .await
        .json;
    let pi_id = id(&pi);
    let ch = pi["latest_charge"].as_str().expect("charge").to_string();
    let before = t.events().await.len();
    let part = t
        .ok(
            "/v1/refunds",
            &format!("charge={ch}&amount=500&reason=requested_by_customer&metadata[k]=v"),
        )
        .await;
    assert!(id(&part).starts_with("re_"));
    assert_eq!(
        (part["status"].as_str(), part["amount"].as_i64()),
        (Some("succeeded"), Some(500))
    );
    assert_eq!(part["payment_intent"], pi_id.as_str());
    assert_eq!(part["metadata"]["k"], "v");
    assert_eq!(
        t.raised(before).await,
        ["refund.created", "charge.refunded"]
    );
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["amount_refunded"].as_i64(),
            charge["refunded"].as_bool()
        ),
        (Some(500), Some(false))
    );
    let bt = t
        .got(&format!(
            "/v1/balance_transactions/{}",
            part["balance_transaction"].as_str().expect("txn")
        ))
        .await;
    assert_eq!(
        (
            bt["amount"].as_i64(),
            bt["fee"].as_i64(),
            bt["type"].as_str()
        ),
        (Some(-500), Some(0), Some("refund"))
    );
    let over = t
        .post(
            "/v1/refunds",
            &format!("payment_intent={pi_id}&amount=2000"),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error(&over)["message"],
        "Refund amount ($20.00) is greater than unrefunded amount on charge ($15.00)"
    );
    assert_eq!(error(&over)["param"], "amount");
    let rest = t
        .ok("/v1/refunds", &format!("payment_intent={pi_id}"))
        .await;
    assert_eq!(rest["amount"], 1500);
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["amount_refunded"].as_i64(),
            charge["refunded"].as_bool()
        ),
        (Some(2000), Some(true))
    );
    let done = t.post("/v1/refunds", &format!("charge={ch}")).await;
    assert_eq!(error(&done)["code"], "charge_already_refunded");
    assert_eq!(
        error(&done)["message"],
        format!("Charge {ch} has already been refunded.")
    );
    let list = t.got(&format!("/v1/refunds?charge={ch}")).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["data"][0]["id"], id(&rest).as_str());
    let upd = t
        .ok(
            &format!("/v1/refunds/{}", id(&part)),
            "metadata[k]=&metadata[n]=1",
        )
        .await;
    assert_eq!(upd["metadata"], serde_json::json!({"n": "1"}));
    let cancel = t
        .post(&format!("/v1/refunds/{}/cancel", id(&part)), "")
        .await;
    assert_eq!(cancel.status, StatusCode::BAD_REQUEST);
    let txns = t.got("/v1/balance_transactions?type=refund").await;
    assert_eq!(txns["data"].as_array().map(Vec::len), Some(2));
    let neither = t.post("/v1/refunds", "amount=100").await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST);
    let uncaptured = t
        .pay(2000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let r = t
        .post(
            "/v1/refunds",
            &format!("payment_intent={}", id(&uncaptured)),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

/// The catalogue's pending-refund card: a pending refund can be canceled (its
/// money comes back) or settled at once (`stripe_later` has the timers).
#[tokio::test]
async fn a_pending_refund_can_be_canceled_or_settled_at_once() {
    let t = T::new().await;
    let pi = t.pay(2000, "pm_card_pendingRefund", "").await.json;
    let refund = t
        .ok(
            "/v1/refunds",
            &format!("payment_intent={}&amount=800", id(&pi)),
        )
        .await;
    assert_eq!(refund["status"], "pending");
    let canceled = t
        .ok(&format!("/v1/refunds/{}/cancel", id(&refund)), "")
        .await;
    assert_eq!(canceled["status"], "canceled");
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            pi["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(charge["amount_refunded"], 0);
    let second = t
        .ok("/v1/refunds", &format!("payment_intent={}", id(&pi)))
        .await;
    let settled = t
        .ok(
            &format!("/v1/test_helpers/mirra/refunds/{}/settle", id(&second)),
            "outcome=succeeded",
        )
        .await;
    assert_eq!(settled["status"], "succeeded");
}
