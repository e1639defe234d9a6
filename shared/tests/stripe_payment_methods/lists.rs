//! Lists filtered by customer and type, paged newest first.

use super::*;

/// Lists are newest first, filtered by customer (path or parameter), type and
/// `allow_redisplay`, paged with Stripe's cursors and envelope.
#[tokio::test]
async fn lists_filter_by_customer_and_type_and_page_newest_first() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let mut of_a = Vec::new();
    for token in ["pm_card_visa", "pm_card_mastercard", "pm_card_amex"] {
        of_a.push(id(&h.attach(&s, token, &a).await.ok()));
    }
    let of_b = id(&h.attach(&s, "pm_card_discover", &b).await.ok());
    let loose = id(&h.method(&s, "tok_jcb").await);
    of_a.reverse();

    let url = format!("/v1/customers/{a}/payment_methods");
    let all = h.get(&s, &url).await.ok();
    assert_eq!(ids(&all), of_a);
    assert_eq!(
        (&all["url"], &all["has_more"]),
        (&json!(url), &json!(false))
    );
    let page = h.get(&s, &format!("{url}?limit=2&type=card")).await.ok();
    assert_eq!(
        (ids(&page), &page["has_more"]),
        (of_a[..2].to_vec(), &json!(true))
    );
    let next = h
        .get(&s, &format!("{url}?limit=2&starting_after={}", of_a[1]))
        .await
        .ok();
    assert_eq!(ids(&next), of_a[2..].to_vec());
    let back = h
        .get(&s, &format!("{url}?ending_before={}", of_a[2]))
        .await
        .ok();
    assert_eq!(ids(&back), of_a[..2].to_vec());

    let by_param = h
        .get(&s, &format!("/v1/payment_methods?customer={a}&type=card"))
        .await
        .ok();
    assert_eq!(
        (ids(&by_param), &by_param["url"]),
        (of_a.clone(), &json!("/v1/payment_methods"))
    );
    let everything = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&everything).len(), 5);
    assert_eq!(ids(&everything)[0], loose);
    let b_list = h
        .get(&s, &format!("/v1/customers/{b}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&b_list), vec![of_b]);
    let none = h
        .get(&s, &format!("{url}?allow_redisplay=always"))
        .await
        .ok();
    assert_eq!(ids(&none), Vec::<String>::new());
    let expanded = h
        .get(&s, &format!("{url}?limit=1&expand[]=data.customer"))
        .await
        .ok();
    assert_eq!(expanded["data"][0]["customer"]["id"], a.as_str());

    let r = h.get(&s, "/v1/customers/cus_nope/payment_methods").await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h.get(&s, "/v1/payment_methods?customer=cus_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h.get(&s, &format!("{url}?starting_after=pm_nope")).await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("starting_after"),
    );
    let r = h.get(&s, &format!("{url}?type=bogus")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}
