//! The customer portal.

use super::*;

#[tokio::test]
async fn the_customer_portal_cancels_keeps_and_switches_a_subscription() {
    let t = T::new().await;
    let basic = t.price(1000, true).await;
    let pro = t.price(3000, true).await;
    let c = t.ok("/v1/customers", "payment_method=pm_card_visa").await;
    let customer = c["id"].as_str().expect("customer");
    let pm = t
        .got(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    let pm = pm["data"][0]["id"].as_str().expect("pm");
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={basic}&default_payment_method={pm}"),
        )
        .await;
    let sub_id = sub["id"].as_str().expect("sub");
    let other = t.ok("/v1/customers", "").await;
    let portal = t
        .ok(
            "/v1/billing_portal/sessions",
            &format!("customer={customer}&return_url=https://app.example/account"),
        )
        .await;
    assert!(portal["id"].as_str().is_some_and(|i| i.starts_with("bps_")));
    assert!(portal["configuration"]
        .as_str()
        .is_some_and(|c| c.starts_with("bpc_")));
    let path = T::page_of(&portal);
    let shown = t.browse(Method::GET, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.html.contains("$10.00 / month")
            && shown.html.contains("$30.00 / month")
            && shown.html.contains("https://app.example/account"),
        "{}",
        shown.html
    );

    let canceled = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("subscription={sub_id}&action=cancel")),
        )
        .await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.got(&format!("/v1/subscriptions/{sub_id}")).await["cancel_at_period_end"],
        true
    );
    assert!(t
        .browse(Method::GET, &path, None)
        .await
        .html
        .contains("cancels at the end of the period"));
    t.browse(
        Method::POST,
        &path,
        Some(&format!("subscription={sub_id}&action=renew")),
    )
    .await;
    assert_eq!(
        t.got(&format!("/v1/subscriptions/{sub_id}")).await["cancel_at_period_end"],
        false
    );

    let switched = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("subscription={sub_id}&action=switch&price={pro}")),
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    let after = t.got(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(after["items"]["data"][0]["price"]["id"], pro.as_str());
    let pending = t
        .got(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await;
    assert_eq!(
        pending["data"].as_array().map(Vec::len),
        Some(2),
        "prorated, as the portal's default"
    );
    assert!(
        t.types()
            .await
            .iter()
            .filter(|k| *k == "customer.subscription.updated")
            .count()
            >= 3
    );

    let refused = t
        .browse(
            Method::POST,
            &path,
            Some(&format!(
                "subscription={sub_id}&action=switch&price={basic}x"
            )),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let others = t
        .ok(
            "/v1/billing_portal/sessions",
            &format!("customer={}", other["id"].as_str().expect("other")),
        )
        .await;
    let theirs = T::page_of(&others);
    assert!(t
        .browse(Method::GET, &theirs, None)
        .await
        .html
        .contains("No current subscriptions."));
    let foreign = t
        .browse(
            Method::POST,
            &theirs,
            Some(&format!("subscription={sub_id}&action=cancel")),
        )
        .await;
    assert_eq!(
        foreign.status,
        StatusCode::NOT_FOUND,
        "another customer's subscription"
    );
    let missing =
        t.m.post(&t.s, "/v1/billing_portal/sessions", "customer=cus_nope")
            .await;
    assert_eq!(missing.status.as_u16(), 400);
}
