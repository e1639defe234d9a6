//! Resend contacts through the whole API: created, read by id and by email
//! address (percent-encoded in the path, as the SDKs send it), listed, updated
//! and deleted; duplicates and malformed addresses are refused.

mod support;

use axum::http::Method;
use serde_json::json;
use support::resend::Api;

/// A contact's life, named by id and by address.
#[tokio::test]
async fn contacts_are_created_read_by_id_or_address_updated_and_deleted() {
    let api = Api::new();
    let s = api.session().await;
    let made = api
        .post(
            &s,
            "/contacts",
            json!({"email": "Ann@Test.dev", "first_name": "Ann", "properties": {"plan": "pro"}}),
        )
        .await
        .created();
    assert_eq!(made["object"], "contact");
    let id = made["id"].as_str().expect("id").to_string();
    let by_id = api.get(&s, &format!("/contacts/{id}")).await.ok();
    assert_eq!(by_id["email"], "ann@test.dev");
    assert_eq!(by_id["first_name"], "Ann");
    assert_eq!(by_id["last_name"], json!(null));
    assert_eq!(by_id["unsubscribed"], false);
    assert_eq!(by_id["properties"], json!({"plan": "pro"}));
    let by_address = api.get(&s, "/contacts/ann%40test.dev").await.ok();
    assert_eq!(by_address, by_id);

    let r = api
        .call(
            &s,
            Method::PATCH,
            "/contacts/ann%40test.dev",
            Some(json!({"unsubscribed": true, "properties": {"seats": 3}})),
        )
        .await
        .ok();
    assert_eq!(r, json!({"object": "contact", "id": id}));
    let got = api.get(&s, &format!("/contacts/{id}")).await.ok();
    assert_eq!(got["unsubscribed"], true);
    assert_eq!(got["properties"], json!({"plan": "pro", "seats": 3}));

    api.post(&s, "/contacts", json!({"email": "bob@test.dev"}))
        .await
        .created();
    let list = api.get(&s, "/contacts").await.ok();
    let emails: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["email"].as_str())
        .collect();
    assert_eq!(emails, ["bob@test.dev", "ann@test.dev"]);
    assert!(list["data"][0].get("properties").is_none(), "{list}");

    let r = api
        .call(&s, Method::DELETE, &format!("/contacts/{id}"), None)
        .await
        .ok();
    assert_eq!(r, json!({"object": "contact", "id": id, "deleted": true}));
    api.get(&s, "/contacts/ann%40test.dev")
        .await
        .refused(404, "not_found");
}

/// A second contact for one address, a malformed address, a missing one, and
/// a contact named by neither id nor address are Resend's 4xx.
#[tokio::test]
async fn duplicate_and_malformed_contacts_are_refused() {
    let api = Api::new();
    let s = api.session().await;
    api.post(&s, "/contacts", json!({"email": "ann@test.dev"}))
        .await
        .created();
    api.post(&s, "/contacts", json!({"email": "ANN@test.dev"}))
        .await
        .refused(422, "validation_error");
    api.post(&s, "/contacts", json!({"email": "Ann <ann2@test.dev>"}))
        .await
        .refused(422, "validation_error");
    api.post(&s, "/contacts", json!({"first_name": "x"}))
        .await
        .refused(422, "missing_required_field");
    api.get(&s, "/contacts/nobody")
        .await
        .refused(422, "validation_error");
    api.get(&s, "/contacts?segment_id=x")
        .await
        .refused(404, "not_found");
}
