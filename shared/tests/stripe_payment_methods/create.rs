//! Creating payment methods: from tokens and numbers, fingerprints, card errors.

use super::*;

/// A method made from `card[token]=tok_visa` is a full card method: Visa credit
/// from the US, last4 4242, this month next year, an unchecked CVC, a fingerprint.
#[tokio::test]
async fn create_from_a_token_returns_a_full_card_method() {
    let h = harness();
    let s = h.session().await;
    let pm = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[token]=tok_visa&billing_details[name]=Jenny+Rosen&metadata[order]=6735",
        )
        .await
        .ok();
    let card = &pm["card"];
    assert_eq!(pm["object"], "payment_method");
    assert_eq!(pm["type"], "card");
    assert_eq!(pm["customer"], Value::Null);
    assert_eq!(pm["livemode"], false);
    assert_eq!(pm["allow_redisplay"], "unspecified");
    assert_eq!(pm["metadata"], json!({"order": "6735"}));
    assert_eq!(pm["billing_details"]["name"], "Jenny Rosen");
    assert_eq!(pm["billing_details"]["address"]["city"], Value::Null);
    assert_eq!(
        (
            &card["brand"],
            &card["display_brand"],
            &card["funding"],
            &card["country"],
            &card["last4"]
        ),
        (
            &json!("visa"),
            &json!("visa"),
            &json!("credit"),
            &json!("US"),
            &json!("4242")
        )
    );
    assert_eq!(card["exp_year"], this_year() + 1);
    assert!((1..=12).contains(&card["exp_month"].as_i64().unwrap_or(0)));
    assert_eq!(
        card["checks"],
        json!({"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "unchecked"})
    );
    assert_eq!(
        card["networks"],
        json!({"available": ["visa"], "preferred": null})
    );
    assert_eq!(card["three_d_secure_usage"], json!({"supported": true}));
    assert_eq!(card["wallet"], Value::Null);
    let fp = card["fingerprint"].as_str().expect("fingerprint");
    assert!(
        fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{fp}"
    );
}

/// Card numbers carry the catalogue's brand, funding and issuing country; a
/// number without a CVC has no CVC check; co-branded cards list both networks.
#[tokio::test]
async fn create_from_a_number_reports_brand_funding_and_country() {
    let h = harness();
    let s = h.session().await;
    let y = this_year() + 2;
    let make = |number: &str, extra: &str| {
        format!("type=card&card[number]={number}&card[exp_month]=7&card[exp_year]={y}{extra}")
    };
    let debit = h
        .post(
            &s,
            "/v1/payment_methods",
            &make("4000056655665556", "&card[cvc]=123"),
        )
        .await
        .ok();
    assert_eq!(debit["card"]["funding"], "debit");
    assert_eq!(
        (
            debit["card"]["exp_month"].as_i64(),
            debit["card"]["exp_year"].as_i64()
        ),
        (Some(7), Some(y))
    );
    assert_eq!(debit["card"]["checks"]["cvc_check"], "unchecked");

    let amex = h
        .post(&s, "/v1/payment_methods", &make("378282246310005", ""))
        .await
        .ok();
    assert_eq!(amex["card"]["brand"], "amex");
    assert_eq!(amex["card"]["display_brand"], "american_express");
    assert_eq!(amex["card"]["three_d_secure_usage"]["supported"], false);
    assert_eq!(amex["card"]["checks"]["cvc_check"], Value::Null);
    assert_eq!(amex["card"]["last4"], "0005");

    let jcb = h
        .post(&s, "/v1/payment_methods", &make("3566002020360505", ""))
        .await
        .ok();
    assert_eq!(
        (&jcb["card"]["brand"], &jcb["card"]["country"]),
        (&json!("jcb"), &json!("JP"))
    );

    let fr = h
        .post(&s, "/v1/payment_methods", &make("4000002500003155", ""))
        .await
        .ok();
    assert_eq!(fr["card"]["country"], "FR");

    let cb = h
        .post(
            &s,
            "/v1/payment_methods",
            &make(
                "4000002500001001",
                "&card[networks][preferred]=cartes_bancaires",
            ),
        )
        .await
        .ok();
    assert_eq!(
        cb["card"]["networks"],
        json!({"available": ["cartes_bancaires", "visa"], "preferred": "cartes_bancaires"})
    );
    assert_eq!(cb["card"]["display_brand"], "cartes_bancaires");

    // A valid number outside the catalogue: a generic card of its IIN's brand.
    let mc = h
        .post(
            &s,
            "/v1/payment_methods",
            &make("5454545454545454", "&card[cvc]=321"),
        )
        .await
        .ok();
    assert_eq!(
        (&mc["card"]["brand"], &mc["card"]["last4"]),
        (&json!("mastercard"), &json!("5454"))
    );
    // Two-digit years are read as Stripe reads them.
    let short = h
        .post(
            &s,
            "/v1/payment_methods",
            &format!(
                "type=card&card[number]=4242424242424242&card[exp_month]=1&card[exp_year]={}",
                (y % 100)
            ),
        )
        .await
        .ok();
    assert_eq!(short["card"]["exp_year"], y);
}

/// A fingerprint names a card number within a session: the same for a token and
/// its number, different for another number and in another session.
#[tokio::test]
async fn fingerprints_are_stable_per_number_and_differ_between_sessions() {
    let h = harness();
    let s = h.session().await;
    let other = h.session().await;
    let fp = |v: &Value| v["card"]["fingerprint"].as_str().expect("fp").to_string();
    let y = this_year() + 1;
    let by_number = h
        .post(
            &s,
            "/v1/payment_methods",
            &format!(
                "type=card&card[number]=4242424242424242&card[exp_month]=3&card[exp_year]={y}"
            ),
        )
        .await
        .ok();
    let by_token = h.method(&s, "tok_visa").await;
    let again = h.method(&s, "tok_visa").await;
    let mastercard = h.method(&s, "tok_mastercard").await;
    let elsewhere = h.method(&other, "tok_visa").await;
    assert_ne!(id(&by_token), id(&again));
    assert_eq!(fp(&by_number), fp(&by_token));
    assert_eq!(fp(&by_token), fp(&again));
    assert_ne!(fp(&by_token), fp(&mastercard));
    assert_ne!(fp(&by_token), fp(&elsewhere));
}

/// Wrong numbers, expiries and CVCs are Stripe's 402 card errors; missing and
/// unsupported parameters its 400s. Nothing is stored for any of them.
#[tokio::test]
async fn bad_card_details_get_stripes_card_errors() {
    let h = harness();
    let s = h.session().await;
    let y = this_year() + 1;
    let with = |number: &str, month: &str, year: &str, cvc: &str| {
        let mut b = format!(
            "type=card&card[number]={number}&card[exp_month]={month}&card[exp_year]={year}"
        );
        if !cvc.is_empty() {
            b.push_str(&format!("&card[cvc]={cvc}"));
        }
        b
    };
    let ys = y.to_string();
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424241", "1", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "incorrect_number",
        None,
        "Your card number is incorrect.",
        Some("number"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("42424242abc", "1", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_number",
        None,
        "The card number is not a valid credit card number.",
        Some("number"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "13", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_expiry_month",
        None,
        "Your card's expiration month is invalid.",
        Some("exp_month"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "1", "95", ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_expiry_year",
        None,
        "Your card's expiration year is invalid.",
        Some("exp_year"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "1", &ys, "99"),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_cvc",
        None,
        "Your card's security code is invalid.",
        Some("cvc"),
    );

    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[number]=4242424242424242&card[exp_year]=2040",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: card[exp_month].",
        Some("card[exp_month]"),
    );
    let r = h
        .post(&s, "/v1/payment_methods", "card[token]=tok_visa")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: type.",
        Some("type"),
    );
    let r = h.post(&s, "/v1/payment_methods", "type=card").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: card.",
        Some("card"),
    );
    let r = h
        .post(&s, "/v1/payment_methods", "type=card&card[token]=tok_nope")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such token: 'tok_nope'",
        Some("card[token]"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=sepa_debit&sepa_debit[iban]=DE89370400440532013000",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("not supported by this Stripe mirror"));
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[token]=tok_visa&bogus=1",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: bogus",
        Some("bogus"),
    );

    let list = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&list), Vec::<String>::new());
}
