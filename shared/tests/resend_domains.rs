//! Resend domains through the whole API: a domain created with its DNS
//! records cannot send until it is verified; verified, it can; deleted, it
//! cannot again. Names are checked and cannot be registered twice.

mod support;

use axum::http::Method;
use serde_json::json;
use support::resend::{email, Api};

/// Create → refused → verify → sent → delete → refused, with the domain's
/// records and list entries as Resend shows them.
#[tokio::test]
async fn a_created_domain_sends_once_verified_and_not_after_deletion() {
    let api = Api::new();
    let s = api
        .session_with(json!({"mirrors": ["resend"], "seeds": {"resend": "empty"}}))
        .await;
    let made = api
        .post(
            &s,
            "/domains",
            json!({"name": "Acme.test", "custom_return_path": "bounce"}),
        )
        .await
        .ok();
    assert_eq!(made["name"], "acme.test");
    assert_eq!(made["status"], "not_started");
    assert_eq!(made["region"], "us-east-1");
    let records = made["records"].as_array().expect("records");
    assert_eq!(records.len(), 3, "{made}");
    assert_eq!(records[0]["name"], "bounce");
    assert_eq!(records[2]["name"], "resend._domainkey");
    let id = made["id"].as_str().expect("id").to_string();

    let mut e = email("a@test.dev");
    e["from"] = json!("Acme <hi@acme.test>");
    api.post(&s, "/emails", e.clone())
        .await
        .refused(403, "validation_error");
    let r = api
        .post(&s, &format!("/domains/{id}/verify"), json!({}))
        .await
        .ok();
    assert_eq!(r, json!({"object": "domain", "id": id}));
    let got = api.get(&s, &format!("/domains/{id}")).await.ok();
    assert_eq!(got["status"], "verified");
    assert!(got["records"]
        .as_array()
        .expect("records")
        .iter()
        .all(|r| r["status"] == "verified"));
    api.send(&s, e.clone()).await;

    let list = api.get(&s, "/domains").await.ok();
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert!(list["data"][0].get("records").is_none(), "{list}");
    let r = api
        .call(
            &s,
            Method::PATCH,
            &format!("/domains/{id}"),
            Some(json!({"click_tracking": true})),
        )
        .await
        .ok();
    assert_eq!(r, json!({"object": "domain", "id": id}));
    assert_eq!(
        api.get(&s, &format!("/domains/{id}")).await.ok()["click_tracking"],
        true
    );

    let r = api
        .call(&s, Method::DELETE, &format!("/domains/{id}"), None)
        .await
        .ok();
    assert_eq!(r["deleted"], true);
    api.get(&s, &format!("/domains/{id}"))
        .await
        .refused(404, "not_found");
    api.post(&s, "/emails", e)
        .await
        .refused(403, "validation_error");
}

/// A name that is no domain is a 422; one already registered (the seed's
/// `example.com`) a 403, as Resend answers.
#[tokio::test]
async fn bad_and_taken_domain_names_are_refused() {
    let api = Api::new();
    let s = api.session().await;
    for bad in ["localhost", "a b.com", "-x.com", ""] {
        let r = api.post(&s, "/domains", json!({"name": bad})).await;
        r.refused(422, "validation_error");
    }
    api.post(&s, "/domains", json!({}))
        .await
        .refused(422, "missing_required_field");
    api.post(&s, "/domains", json!({"name": "example.com"}))
        .await
        .refused(403, "validation_error");
    api.post(
        &s,
        "/domains",
        json!({"name": "x.test", "region": "mars-1"}),
    )
    .await
    .refused(422, "validation_error");
}
