//! Events of attach, update and detach.

use super::*;

/// Attach, update and detach raise `payment_method.attached`, `.updated` and
/// `.detached` (with `previous_attributes`); detaching a customer's default also
/// raises `customer.updated`. Creating a method raises nothing, as on Stripe.
#[tokio::test]
async fn attach_update_and_detach_raise_payment_method_events() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    h.attach(&s, &pm, &cus).await.ok();
    h.post(&s, &format!("/v1/payment_methods/{pm}"), "metadata[k]=v")
        .await
        .ok();
    h.post(
        &s,
        &format!("/v1/customers/{cus}"),
        &format!("invoice_settings[default_payment_method]={pm}"),
    )
    .await
    .ok();
    h.post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    let events = h.get(&s, "/v1/events?limit=100").await.ok();
    let types: Vec<&str> = events["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "customer.updated",
            "payment_method.detached",
            "customer.updated",
            "payment_method.updated",
            "payment_method.attached",
            "customer.created"
        ]
    );
    let detached = &events["data"][1]["data"];
    assert_eq!(detached["object"]["id"], pm.as_str());
    assert_eq!(detached["object"]["customer"], Value::Null);
    assert_eq!(detached["previous_attributes"], json!({"customer": cus}));
    let updated = &events["data"][3]["data"];
    assert_eq!(
        updated["previous_attributes"],
        json!({"metadata": {"k": null}})
    );
    assert_eq!(
        events["data"][4]["data"]["object"]["customer"],
        cus.as_str()
    );
}
