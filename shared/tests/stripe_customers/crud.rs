//! Create, retrieve, update and delete, with Stripe's defaults and form encoding.

use super::*;

#[tokio::test]
async fn create_returns_a_full_customer_with_stripe_defaults() {
    let h = harness();
    let s = h.session().await;
    let c = s
        .create(&h, "email=jenny%40example.com&name=Jenny+Rosen")
        .await;
    let id = c["id"].as_str().expect("id");
    assert!(
        id.starts_with("cus_")
            && id.len() == 18
            && id[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{id}"
    );
    let prefix = c["invoice_prefix"].as_str().expect("prefix");
    assert!(
        prefix.len() == 8
            && prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        "{prefix}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    assert!((c["created"].as_i64().unwrap_or(0) - now).abs() <= 5);
    let expected = json!({
        "id": id, "object": "customer", "address": null, "balance": 0, "created": c["created"],
        "currency": null, "default_source": null, "delinquent": false, "description": null,
        "discount": null, "email": "jenny@example.com", "invoice_prefix": prefix,
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false, "metadata": {}, "name": "Jenny Rosen", "next_invoice_sequence": 1,
        "phone": null, "preferred_locales": [], "shipping": null, "tax_exempt": "none", "test_clock": null,
    });
    assert_eq!(c, expected);
    if let Some(fields) = default_customer_fields() {
        let got: BTreeSet<String> = c
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let missing: Vec<_> = fields.difference(&got).collect();
        assert!(missing.is_empty(), "customer lacks spec fields {missing:?}");
    }
}

#[tokio::test]
async fn create_accepts_every_emulated_parameter_in_stripe_form_encoding() {
    let h = harness();
    let s = h.session().await;
    let body = "address[line1]=510+Townsend+St&address[city]=San+Francisco&address[postal_code]=94103&address[country]=US\
        &balance=-500&description=VIP&email=a%40b.co&invoice_prefix=ACME1&invoice_settings[footer]=Thanks\
        &invoice_settings[custom_fields][0][name]=PO&invoice_settings[custom_fields][0][value]=42\
        &metadata[plan]=pro&metadata[seats]=5&name=Acme&next_invoice_sequence=7&phone=%2B15555550100\
        &preferred_locales[0]=en&preferred_locales[1]=fr&shipping[name]=Dock+4&shipping[address][line1]=1+Pier\
        &tax_exempt=exempt&expand[]=sources&expand[]=tax";
    let c = s.create(&h, body).await;
    assert_eq!(
        c["address"],
        json!({"city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": null, "postal_code": "94103", "state": null})
    );
    assert_eq!(c["balance"], -500);
    assert_eq!(c["description"], "VIP");
    assert_eq!(c["invoice_prefix"], "ACME1");
    assert_eq!(
        c["invoice_settings"],
        json!({"custom_fields": [{"name": "PO", "value": "42"}], "default_payment_method": null, "footer": "Thanks", "rendering_options": null})
    );
    assert_eq!(c["metadata"], json!({"plan": "pro", "seats": "5"}));
    assert_eq!(c["next_invoice_sequence"], 7);
    assert_eq!(c["phone"], "+15555550100");
    assert_eq!(c["preferred_locales"], json!(["en", "fr"]));
    assert_eq!(
        c["shipping"],
        json!({"address": {"city": null, "country": null, "line1": "1 Pier", "line2": null, "postal_code": null, "state": null}, "name": "Dock 4", "phone": null})
    );
    assert_eq!(c["tax_exempt"], "exempt");
    let id = c["id"].as_str().expect("id");
    assert_eq!(
        c["sources"],
        json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{id}/sources")})
    );
    assert_eq!(c["tax"]["automatic_tax"], "unrecognized_location");
    // Expansions are per request, not stored.
    let r = s.get(&h, &format!("/v1/customers/{id}")).await;
    assert!(
        r.json.get("sources").is_none() && r.json.get("tax").is_none(),
        "{}",
        r.json
    );
    // `expand[]` in a query string, and `data.` on the list.
    let r = s
        .get(
            &h,
            &format!("/v1/customers/{id}?expand[]=subscriptions&expand[]=tax_ids"),
        )
        .await;
    validate("customer", &r.json);
    assert_eq!(
        r.json["subscriptions"]["url"],
        format!("/v1/customers/{id}/subscriptions")
    );
    let r = s
        .get(&h, "/v1/customers?limit=1&expand[]=data.sources")
        .await;
    validate("list", &r.json);
    assert_eq!(r.json["data"][0]["sources"]["data"], json!([]));
}

#[tokio::test]
async fn retrieve_returns_the_stored_customer_and_404s_unknown_ids() {
    let h = harness();
    let s = h.session().await;
    let c = s.create(&h, "email=x%40y.co&metadata[a]=1").await;
    let r = s
        .get(
            &h,
            &format!("/v1/customers/{}", c["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, c);
    let r = s.get(&h, "/v1/customers/cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("id"),
    );
    let r = s.get(&h, "/v1/customers/cus_x?expand[]=bogus").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This property cannot be expanded (bogus).",
        None,
    );
    let r = s.get(&h, "/v1/customers/cus_x?foo=1").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: foo",
        Some("foo"),
    );
}

#[tokio::test]
async fn update_merges_fields_and_metadata_and_empty_values_unset() {
    let h = harness();
    let s = h.session().await;
    let c = s
        .create(&h, "email=a%40b.co&description=old&metadata[a]=1&metadata[b]=2&metadata[c]=3&address[line1]=1+Main&address[city]=X&invoice_settings[footer]=F")
        .await;
    let path = format!("/v1/customers/{}", c["id"].as_str().expect("id"));
    let r = s.post(&h, &path, "metadata[a]=&metadata[b]=two&metadata[d]=4&description=&address[line1]=2+Side&name=New").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    validate("customer", &r.json);
    assert_eq!(r.json["metadata"], json!({"b": "two", "c": "3", "d": "4"}));
    assert_eq!(r.json["description"], Value::Null);
    assert_eq!(r.json["email"], "a@b.co", "absent parameters are kept");
    assert_eq!(r.json["name"], "New");
    assert_eq!(r.json["address"]["line1"], "2 Side");
    assert_eq!(
        r.json["address"]["city"],
        Value::Null,
        "address is replaced as a whole"
    );
    assert_eq!(r.json["invoice_settings"]["footer"], "F");
    assert_eq!(r.json["created"], c["created"]);
    let r = s.post(&h, &path, "metadata=").await;
    assert_eq!(r.json["metadata"], json!({}));
    let r = s
        .post(
            &h,
            &path,
            "address=&email=&invoice_settings[footer]=&tax_exempt=reverse&preferred_locales[]=de",
        )
        .await;
    assert_eq!(r.json["address"], Value::Null);
    assert_eq!(r.json["email"], Value::Null);
    assert_eq!(r.json["invoice_settings"]["footer"], Value::Null);
    assert_eq!(r.json["tax_exempt"], "reverse");
    assert_eq!(r.json["preferred_locales"], json!(["de"]));
    // An update without parameters returns the customer unchanged.
    let before = s.get(&h, &path).await.json;
    let r = s.post(&h, &path, "").await;
    assert_eq!(r.json, before);
    let r = s.post(&h, "/v1/customers/cus_missing", "name=x").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_missing'",
        Some("id"),
    );
}

#[tokio::test]
async fn delete_returns_the_deleted_stub_and_the_customer_stays_deleted() {
    let h = harness();
    let s = h.session().await;
    let c = s.create(&h, "email=gone%40example.com").await;
    let id = c["id"].as_str().expect("id");
    let path = format!("/v1/customers/{id}");
    let r = s.delete(&h, &path).await;
    assert_eq!(r.status, StatusCode::OK);
    let stub = json!({"id": id, "object": "customer", "deleted": true});
    assert_eq!(r.json, stub);
    validate("deleted_customer", &r.json);
    let r = s.get(&h, &path).await;
    assert_eq!(
        (r.status, &r.json),
        (StatusCode::OK, &stub),
        "a deleted customer is still retrievable as a stub"
    );
    let msg = format!("No such customer: '{id}'");
    let r = s.post(&h, &path, "name=x").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        &msg,
        Some("id"),
    );
    let r = s.delete(&h, &path).await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        &msg,
        Some("id"),
    );
    let r = s.delete(&h, "/v1/customers/cus_never").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_never'",
        Some("id"),
    );
    assert!(
        !s.all_ids(&h).await.contains(&id.to_string()),
        "deleted customers are not listed"
    );
    let r = s.get(&h, "/v1/customers?email=gone%40example.com").await;
    assert_eq!(r.json["data"], json!([]));
}
