//! Customers and their methods: the default must be attached, create
//! attaches, odd inputs never 500.

use super::*;

/// `invoice_settings[default_payment_method]` takes a method attached to that
/// customer, expands with `expand[]=invoice_settings.default_payment_method`, and
/// is unset when the method is detached.
#[tokio::test]
async fn a_customers_default_payment_method_must_be_attached_to_it() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let pm = id(&h.method(&s, "tok_visa").await);
    let set = format!("invoice_settings[default_payment_method]={pm}");
    let msg = format!(
        "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
    );
    let r = h.post(&s, &format!("/v1/customers/{a}"), &set).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        &msg,
        Some("invoice_settings[default_payment_method]"),
    );
    let r = h
        .post(
            &s,
            &format!("/v1/customers/{a}"),
            "invoice_settings[default_payment_method]=pm_nope",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("invoice_settings[default_payment_method]"),
    );

    h.attach(&s, &pm, &a).await.ok();
    let c = h.post(&s, &format!("/v1/customers/{a}"), &set).await.ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], pm.as_str());
    let r = h.post(&s, &format!("/v1/customers/{b}"), &set).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        &msg,
        Some("invoice_settings[default_payment_method]"),
    );

    let c = h
        .get(
            &s,
            &format!("/v1/customers/{a}?expand[]=invoice_settings.default_payment_method"),
        )
        .await
        .ok();
    assert_eq!(
        c["invoice_settings"]["default_payment_method"]["id"],
        pm.as_str()
    );
    assert_eq!(
        c["invoice_settings"]["default_payment_method"]["card"]["last4"],
        "4242"
    );

    h.post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    let c = h.get(&s, &format!("/v1/customers/{a}")).await.ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], Value::Null);
}

/// `payment_method` on customer create attaches it (and it may be the default);
/// a declined card fails the create and leaves no customer behind.
#[tokio::test]
async fn customer_create_attaches_its_payment_method() {
    let h = harness();
    let s = h.session().await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let c = h
        .post(
            &s,
            "/v1/customers",
            &format!(
                "email=a%40b.co&payment_method={pm}&invoice_settings[default_payment_method]={pm}"
            ),
        )
        .await
        .ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], pm.as_str());
    assert!(c.get("payment_method").is_none(), "{c}");
    let got = h.get(&s, &format!("/v1/payment_methods/{pm}")).await.ok();
    assert_eq!(got["customer"], c["id"]);

    let by_token = h
        .post(
            &s,
            "/v1/customers",
            "email=t%40b.co&payment_method=pm_card_mastercard",
        )
        .await
        .ok();
    let list = h
        .get(
            &s,
            &format!("/v1/customers/{}/payment_methods", id(&by_token)),
        )
        .await
        .ok();
    assert_eq!(list["data"][0]["card"]["brand"], "mastercard");

    let before = h.get(&s, "/v1/customers?limit=100").await.ok();
    let r = h
        .post(
            &s,
            "/v1/customers",
            "email=d%40b.co&payment_method=pm_card_chargeDeclined",
        )
        .await;
    assert_card_error(
        &r,
        "card_declined",
        Some("generic_decline"),
        "Your card was declined.",
        None,
    );
    let r = h.post(&s, "/v1/customers", "payment_method=pm_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("payment_method"),
    );
    let after = h.get(&s, "/v1/customers?limit=100").await.ok();
    assert_eq!(ids(&after), ids(&before));
}

/// Odd inputs to every payment-method operation get Stripe-shaped 4xx, never a 500.
#[tokio::test]
async fn odd_inputs_never_cause_a_500() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let bodies = [
        "",
        "type=",
        "type=card&card=",
        "type=card&card[token]=",
        "type=card&card[token]=pm_card_visa",
        "type=card&card[number]=&card[exp_month]=1&card[exp_year]=2040",
        "type=card&card[number]=4242424242424242&card[exp_month]=-1&card[exp_year]=-1",
        "type=card&card[number]=4242424242424242&card[exp_month]=1&card[exp_year]=999999",
        "type=card&card[token]=tok_visa&card[number]=4242424242424242",
        "type=card&card[token]=tok_visa&card[networks][preferred]=mastercard",
        "type=card&card[token]=tok_visa&billing_details=",
        "type=card&card[token]=tok_visa&customer=cus_x",
        "type=card&card[token]=tok_visa&radar_options[session]=rse_1",
        "customer=",
        "card[exp_month]=abc",
        "billing_details[address]=",
        "metadata=",
    ];
    let paths = [
        "/v1/payment_methods".to_string(),
        format!("/v1/payment_methods/{pm}"),
        format!("/v1/payment_methods/{pm}/attach"),
        format!("/v1/payment_methods/{pm}/detach"),
        "/v1/payment_methods/pm_card_visa/attach".to_string(),
        "/v1/payment_methods/pm_card_visa/detach".to_string(),
        format!("/v1/customers/{cus}"),
    ];
    for path in &paths {
        for body in bodies {
            // `send` asserts no 5xx and a Stripe-shaped error body.
            h.post(&s, path, body).await;
        }
    }
    for q in [
        "?limit=0",
        "?limit=abc",
        "?customer=",
        "?type=",
        "?customer_account=x",
        "?expand[]=data.card",
    ] {
        h.get(&s, &format!("/v1/payment_methods{q}")).await;
        h.get(&s, &format!("/v1/customers/{cus}/payment_methods{q}"))
            .await;
    }
}
