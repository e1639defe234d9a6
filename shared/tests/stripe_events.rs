//! Stripe events and webhook endpoints: every change writes its event, in the
//! same transaction, and a delivery for each endpoint that subscribed to it.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::stripe::Mirror;

/// Create, update and delete of a customer each write an event with the right
/// type, object, previous attributes and request id, listed newest first.
#[tokio::test]
async fn customer_changes_are_recorded_as_events() {
    let m = Mirror::new();
    let s = m.session().await;
    let c = m
        .post(
            &s,
            "/v1/customers",
            "email=a@example.com&metadata[plan]=pro",
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.json);
    let id = c.json["id"].as_str().expect("id").to_string();
    let u = m
        .post(&s, &format!("/v1/customers/{id}"), "email=b@example.com")
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.json);
    let d = m
        .call(&s, Method::DELETE, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.json);

    let list = m.get(&s, "/v1/events?limit=10").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    let types: Vec<&str> = list.json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["customer.deleted", "customer.updated", "customer.created"]
    );
    let updated = &list.json["data"][1];
    assert_eq!(updated["data"]["object"]["email"], "b@example.com");
    assert_eq!(
        updated["data"]["previous_attributes"],
        json!({"email": "a@example.com"})
    );
    assert_eq!(updated["api_version"], "2026-10-28.endive");
    assert!(updated["request"]["id"]
        .as_str()
        .is_some_and(|r| r.starts_with("req_")));

    let one = m
        .get(
            &s,
            &format!("/v1/events/{}", updated["id"].as_str().unwrap_or("")),
        )
        .await;
    assert_eq!(one.json["type"], "customer.updated");
    let filtered = m.get(&s, "/v1/events?type=customer.*&limit=2").await;
    assert_eq!(filtered.json["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(filtered.json["has_more"], true);
    let by_types = m
        .get(
            &s,
            "/v1/events?types[]=customer.created&types[]=customer.deleted",
        )
        .await;
    assert_eq!(by_types.json["data"].as_array().map(Vec::len), Some(2));
    let missing = m.get(&s, "/v1/events/evt_nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json["error"]["message"],
        "No such event: 'evt_nope'"
    );
}

/// The endpoint's secret is shown on create only; updates, lists and deletes
/// follow Stripe; bad URLs are refused.
#[tokio::test]
async fn webhook_endpoints_show_their_secret_once() {
    let m = Mirror::new();
    let s = m.session().await;
    let created = m
        .post(
            &s,
            "/v1/webhook_endpoints",
            "url=http://127.0.0.1:9/hook&enabled_events[]=customer.created",
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    assert!(created.json["secret"]
        .as_str()
        .is_some_and(|x| x.starts_with("whsec_")));
    assert_eq!(created.json["status"], "enabled");
    let id = created.json["id"].as_str().expect("id").to_string();
    let got = m.get(&s, &format!("/v1/webhook_endpoints/{id}")).await;
    assert!(got.json.get("secret").is_none(), "{}", got.json);
    let upd = m
        .post(
            &s,
            &format!("/v1/webhook_endpoints/{id}"),
            "disabled=true&description=d",
        )
        .await;
    assert_eq!(
        (
            upd.json["status"].as_str(),
            upd.json["description"].as_str()
        ),
        (Some("disabled"), Some("d"))
    );
    let list = m.get(&s, "/v1/webhook_endpoints").await;
    assert_eq!(list.json["data"][0]["id"], id.as_str());
    assert!(list.json["data"][0].get("secret").is_none());
    let bad = m
        .post(
            &s,
            "/v1/webhook_endpoints",
            "url=ftp://x&enabled_events[]=*",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(bad.json["error"]["param"], "url");
    let unknown_event = m
        .post(
            &s,
            "/v1/webhook_endpoints",
            "url=http://x.co&enabled_events[]=nope.nope",
        )
        .await;
    assert_eq!(
        unknown_event.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown_event.json
    );
    let del = m
        .call(
            &s,
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(
        del.json,
        json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    assert_eq!(
        m.get(&s, &format!("/v1/webhook_endpoints/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// An event counts the deliveries it owes: one per enabled endpoint whose
/// `enabled_events` match (or `*`), none for a disabled or unsubscribed one.
#[tokio::test]
async fn events_owe_one_delivery_per_matching_enabled_endpoint() {
    let m = Mirror::new();
    let s = m.session().await;
    for body in [
        "url=http://127.0.0.1:9/a&enabled_events[]=*",
        "url=http://127.0.0.1:9/b&enabled_events[]=customer.created",
        "url=http://127.0.0.1:9/c&enabled_events[]=customer.deleted",
    ] {
        assert_eq!(
            m.post(&s, "/v1/webhook_endpoints", body).await.status,
            StatusCode::OK
        );
    }
    let off = m
        .post(
            &s,
            "/v1/webhook_endpoints",
            "url=http://127.0.0.1:9/d&enabled_events[]=*",
        )
        .await;
    let off_id = off.json["id"].as_str().expect("id").to_string();
    m.post(
        &s,
        &format!("/v1/webhook_endpoints/{off_id}"),
        "disabled=true",
    )
    .await;
    m.post(&s, "/v1/customers", "name=x").await;
    let ev = m.get(&s, "/v1/events?type=customer.created").await;
    assert_eq!(ev.json["data"][0]["pending_webhooks"], 2, "{}", ev.json);
}
