//! Search over PaymentIntents and charges.

use super::*;

/// PaymentIntents and charges are searchable with Stripe's query language on
/// the fields Stripe lists (status, amount, customer, metadata; a charge's
/// card last4, refunded …).
#[tokio::test]
async fn payment_intents_and_charges_are_searchable() {
    let t = T::new().await;
    let cus = t.customer().await;
    let a = t
        .pay(
            5000,
            "pm_card_visa",
            &format!("&customer={cus}&metadata[order]=A1"),
        )
        .await
        .json;
    t.pay(700, "pm_card_mastercard", "&metadata[order]=B2")
        .await;
    t.pay(900, "pm_card_chargeDeclined", "").await;
    let found = t
        .got("/v1/payment_intents/search?query=status%3A%27succeeded%27%20AND%20amount%3E1000")
        .await;
    assert_eq!(found["object"], "search_result");
    assert_eq!(found["url"], "/v1/payment_intents/search");
    let ids: Vec<&str> = found["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, [id(&a).as_str()]);
    let by_meta = t
        .got("/v1/payment_intents/search?query=metadata%5B%27order%27%5D%3A%27B2%27")
        .await;
    assert_eq!(by_meta["data"].as_array().map(Vec::len), Some(1));
    let by_customer = t
        .got(&format!("/v1/charges/search?query=customer%3A%27{cus}%27"))
        .await;
    assert_eq!(by_customer["data"][0]["payment_intent"], id(&a).as_str());
    let failed = t
        .got("/v1/charges/search?query=status%3A%27failed%27&expand[]=total_count")
        .await;
    assert_eq!(failed["total_count"], 1);
    let last4 = t
        .got("/v1/charges/search?query=payment_method_details.card.last4%3A%274444%27")
        .await;
    assert_eq!(last4["data"][0]["amount"], 700);
    let bad = t.get("/v1/charges/search?query=nickname%3A%27x%27").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&bad)["param"], "query");
}
