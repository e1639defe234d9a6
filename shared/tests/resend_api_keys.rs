//! API keys through the Resend mirror: a key made with `POST /api-keys` is
//! shown once and works as the session's own does (full access), or only
//! sends (sending access, optionally from one domain); it is listed without
//! its token, renamed, and invalid as soon as it is deleted.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::resend::{email, Api, Ses};

fn with_key(s: &Ses, key: &str) -> Ses {
    Ses {
        id: s.id.clone(),
        key: key.to_string(),
        json: Value::Null,
    }
}

async fn make_key(api: &Api, s: &Ses, body: Value) -> (String, String) {
    let r = api.post(s, "/api-keys", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let keys: Vec<&String> = r.json.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["id", "token"]);
    let token = r.json["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("re_") && token.len() > 30, "{token}");
    (r.json["id"].as_str().expect("id").to_string(), token)
}

/// A full-access key reads and writes like the session's own key; deleted,
/// it is Resend's 403 `invalid_api_key`.
#[tokio::test]
async fn a_full_access_key_works_until_it_is_deleted() {
    let api = Api::new();
    let s = api.session().await;
    let (id, token) = make_key(&api, &s, json!({"name": "CI"})).await;
    let other = with_key(&s, &token);
    api.send(&other, email("ann@test.dev")).await;
    assert_eq!(api.get(&other, "/domains").await.status, StatusCode::OK);

    let listed = api.get(&s, "/api-keys").await.ok();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["data"][0]["name"], "CI");
    let mut fields: Vec<&String> = listed["data"][0]
        .as_object()
        .expect("item")
        .keys()
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["created_at", "id", "last_used_at", "name"],
        "no token, no digest"
    );

    let renamed = api
        .call(
            &s,
            Method::PATCH,
            &format!("/api-keys/{id}"),
            Some(json!({"name": "CI 2"})),
        )
        .await
        .ok();
    assert_eq!(renamed, json!({"object": "api_key", "id": id}));
    let gone = api
        .call(&s, Method::DELETE, &format!("/api-keys/{id}"), None)
        .await
        .ok();
    assert_eq!(
        gone,
        json!({"object": "api_key", "id": id, "deleted": true})
    );
    api.get(&other, "/domains")
        .await
        .refused(403, "invalid_api_key");
    api.call(&s, Method::DELETE, &format!("/api-keys/{id}"), None)
        .await
        .refused(404, "not_found");
}

/// A sending-access key sends and nothing else (401 `restricted_api_key`);
/// with a `domain_id` it sends only from that domain.
#[tokio::test]
async fn a_sending_access_key_only_sends_and_only_from_its_domain() {
    let api = Api::new();
    let s = api.session().await;
    let (_, token) = make_key(
        &api,
        &s,
        json!({"name": "send", "permission": "sending_access"}),
    )
    .await;
    let sender = with_key(&s, &token);
    api.send(&sender, email("ann@test.dev")).await;
    let batch = api
        .post(
            &sender,
            "/emails/batch",
            json!([email("a@test.dev"), email("b@test.dev")]),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.json);
    api.get(&sender, "/emails")
        .await
        .refused(401, "restricted_api_key");
    api.post(&sender, "/api-keys", json!({"name": "escalate"}))
        .await
        .refused(401, "restricted_api_key");

    api.post(&s, "/domains", json!({"name": "other.test"}))
        .await;
    let domains = api.get(&s, "/domains").await.ok();
    let id_of = |name: &str| {
        domains["data"]
            .as_array()
            .expect("domains")
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["id"].as_str())
            .expect("domain")
            .to_string()
    };
    api.call(
        &s,
        Method::POST,
        &format!("/domains/{}/verify", id_of("other.test")),
        None,
    )
    .await;
    let (_, narrow) = make_key(
        &api,
        &s,
        json!({"name": "one domain", "permission": "sending_access", "domain_id": id_of("example.com")}),
    )
    .await;
    let narrow = with_key(&s, &narrow);
    api.send(&narrow, email("ann@test.dev")).await;
    let mut elsewhere = email("ann@test.dev");
    elsewhere["from"] = json!("Acme <hi@other.test>");
    api.post(&narrow, "/emails", elsewhere.clone())
        .await
        .refused(403, "validation_error");
    api.send(&s, elsewhere).await;

    api.post(
        &s,
        "/api-keys",
        json!({"name": "x", "domain_id": id_of("example.com")}),
    )
    .await
    .refused(422, "validation_error");
    api.post(
        &s,
        "/api-keys",
        json!({"name": "x", "permission": "sending_access", "domain_id": "nope"}),
    )
    .await
    .refused(404, "not_found");
    api.post(&s, "/api-keys", json!({}))
        .await
        .refused(422, "missing_required_field");
}

/// Reset forgets the keys made: their tokens are invalid again.
#[tokio::test]
async fn reset_forgets_made_keys() {
    let api = Api::new();
    let s = api.session().await;
    let (_, token) = make_key(&api, &s, json!({"name": "CI"})).await;
    let r = api
        .control(Method::POST, &format!("/v1/sessions/{}/reset", s.id), None)
        .await;
    assert!(r.status.is_success(), "{}", r.json);
    api.get(&with_key(&s, &token), "/emails")
        .await
        .refused(403, "invalid_api_key");
    assert_eq!(api.get(&s, "/api-keys").await.ok()["data"], json!([]));
}
