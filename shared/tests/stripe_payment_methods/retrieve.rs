//! Retrieving methods and test tokens; expanding their customer.

use super::*;

/// A stored method retrieves as created; a `pm_card_*` name retrieves as a fresh,
/// unstored description of its card; unknown ids are Stripe's 404.
#[tokio::test]
async fn retrieve_returns_stored_methods_and_describes_test_tokens() {
    let h = harness();
    let s = h.session().await;
    let pm = h.method(&s, "tok_mastercard").await;
    let got = h
        .get(&s, &format!("/v1/payment_methods/{}", id(&pm)))
        .await
        .ok();
    assert_eq!(got, pm);

    let token = h
        .get(&s, "/v1/payment_methods/pm_card_visa_debit")
        .await
        .ok();
    assert_eq!(
        (&token["card"]["last4"], &token["card"]["funding"]),
        (&json!("5556"), &json!("debit"))
    );
    assert_ne!(token["id"], "pm_card_visa_debit");
    let again = h
        .get(&s, "/v1/payment_methods/pm_card_visa_debit")
        .await
        .ok();
    assert_ne!(again["id"], token["id"], "a retrieve stores nothing");
    assert_eq!(again["card"]["fingerprint"], token["card"]["fingerprint"]);
    let list = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&list), vec![id(&pm)]);

    for missing in ["pm_doesnotexist", "pm_card_doesnotexist"] {
        let r = h.get(&s, &format!("/v1/payment_methods/{missing}")).await;
        assert_invalid(
            &r,
            StatusCode::NOT_FOUND,
            Some("resource_missing"),
            &format!("No such PaymentMethod: '{missing}'"),
            Some("payment_method"),
        );
    }
}

/// `expand[]=customer` replaces an attached method's customer id by the customer.
#[tokio::test]
async fn a_methods_customer_expands() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = h.method(&s, "tok_visa").await;
    h.attach(&s, &id(&pm), &cus).await.ok();
    let got = h
        .get(
            &s,
            &format!("/v1/payment_methods/{}?expand[]=customer", id(&pm)),
        )
        .await
        .ok();
    assert_eq!(got["customer"]["id"], cus.as_str());
    assert_eq!(got["customer"]["object"], "customer");
}
