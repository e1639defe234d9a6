//! Updating attached methods with Stripe's semantics.

use super::*;

/// Only attached methods update; billing details, metadata, expiry and
/// `allow_redisplay` change with Stripe's semantics; a bad expiry is a card error.
#[tokio::test]
async fn update_changes_attached_methods_with_stripes_semantics() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let path = format!("/v1/payment_methods/{pm}");
    let r = h.post(&s, &path, "metadata[a]=1").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "You must save this PaymentMethod to a customer before you can update it.",
        None,
    );

    h.attach(&s, &pm, &cus).await.ok();
    let y = this_year() + 3;
    let up = h
        .post(
            &s,
            &path,
            &format!(
                "billing_details[name]=Ada&billing_details[email]=ada%40example.com\
                 &billing_details[address][city]=London&metadata[a]=1&metadata[b]=2\
                 &card[exp_month]=4&card[exp_year]={y}&allow_redisplay=always"
            ),
        )
        .await
        .ok();
    assert_eq!(up["billing_details"]["name"], "Ada");
    assert_eq!(up["billing_details"]["address"]["city"], "London");
    assert_eq!(up["metadata"], json!({"a": "1", "b": "2"}));
    assert_eq!(
        (
            up["card"]["exp_month"].as_i64(),
            up["card"]["exp_year"].as_i64()
        ),
        (Some(4), Some(y))
    );
    assert_eq!(up["allow_redisplay"], "always");

    let up = h
        .post(
            &s,
            &path,
            "billing_details[address][line1]=1+Pier&billing_details[email]=&metadata[a]=",
        )
        .await
        .ok();
    assert_eq!(up["billing_details"]["name"], "Ada", "absent fields stay");
    assert_eq!(
        up["billing_details"]["email"],
        Value::Null,
        "an empty value unsets"
    );
    assert_eq!(
        up["billing_details"]["address"],
        json!({"city": null, "country": null, "line1": "1 Pier", "line2": null, "postal_code": null, "state": null}),
        "the address is replaced as a whole"
    );
    assert_eq!(up["metadata"], json!({"b": "2"}));
    assert_eq!(h.get(&s, &path).await.ok(), up);

    let r = h.post(&s, &path, "card[exp_month]=13").await;
    assert_card_error(
        &r,
        "invalid_expiry_month",
        None,
        "Your card's expiration month is invalid.",
        Some("exp_month"),
    );
    let r = h
        .post(&s, "/v1/payment_methods/pm_nope", "metadata[a]=1")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
