//! Charges: list and update.

use super::*;

/// Charges list by payment intent and customer, and updates raise
/// `charge.updated` with the previous values.
#[tokio::test]
async fn charges_list_and_update() {
    let t = T::new().await;
    let cus = t.customer().await;
    let a = t
        .pay(1000, "pm_card_visa", &format!("&customer={cus}"))
        .await
        .json;
    t.pay(1100, "pm_card_mastercard", "").await;
    let by_customer = t.got(&format!("/v1/charges?customer={cus}")).await;
    assert_eq!(by_customer["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_customer["data"][0]["payment_intent"], id(&a).as_str());
    let by_pi = t
        .got(&format!("/v1/charges?payment_intent={}", id(&a)))
        .await;
    assert_eq!(by_pi["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        t.got("/v1/charges").await["data"].as_array().map(Vec::len),
        Some(2)
    );
    let ch = a["latest_charge"].as_str().expect("charge");
    let upd = t
        .ok(
            &format!("/v1/charges/{ch}"),
            "description=Gift&metadata[a]=1&receipt_email=ada@example.com",
        )
        .await;
    assert_eq!(
        (upd["description"].as_str(), upd["receipt_email"].as_str()),
        (Some("Gift"), Some("ada@example.com"))
    );
    let ev = t.got("/v1/events?type=charge.updated&limit=1").await;
    assert_eq!(
        ev["data"][0]["data"]["previous_attributes"]["description"],
        Value::Null
    );
    assert_eq!(ev["data"][0]["data"]["object"]["description"], "Gift");
    let missing = t.get("/v1/charges/ch_nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(error(&missing)["message"], "No such charge: 'ch_nope'");
    let intl = t
        .pay(2000, "pm_card_fr", "&capture_method=automatic")
        .await
        .json;
    let charge = t
        .got(&format!(
            "/v1/charges/{}?expand[]=balance_transaction",
            intl["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(
        charge["balance_transaction"]["fee"], 118,
        "2.9 % + 1.5 % + 30"
    );
}
