//! What a Stripe session does around its resources: its request budget, the
//! webhook endpoints its seed brings (and a reset brings back), and replays that
//! raise no second event.

mod support;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::json;
use shared::session::{CreateSession, ResetSession};
use support::stripe::Mirror;

/// Beyond `rate_limit` requests per second a session gets Stripe's 429
/// `rate_limit` error; a reset refills the budget.
#[tokio::test]
async fn the_rate_limit_answers_429_until_a_reset_refills_it() {
    let m = Mirror::new();
    let s = m
        .session_with(CreateSession {
            rate_limit: Some(3),
            ..CreateSession::default()
        })
        .await;
    for _ in 0..3 {
        assert_eq!(m.get(&s, "/v1/customers").await.status, StatusCode::OK);
    }
    let limited = m.get(&s, "/v1/customers").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.json
    );
    assert_eq!(limited.json["error"]["code"], "rate_limit");
    assert_eq!(limited.json["error"]["type"], "invalid_request_error");
    m.sessions
        .reset("ws", &s.id, ResetSession::default())
        .await
        .expect("reset");
    assert_eq!(m.get(&s, "/v1/customers").await.status, StatusCode::OK);
    // Another session's budget is its own (the generous default).
    let other = m.session().await;
    for _ in 0..10 {
        assert_eq!(m.get(&other, "/v1/customers").await.status, StatusCode::OK);
    }
}

/// Endpoints in the seed are there from the start, have no secret of their own,
/// and are what a reset brings back (endpoints added later go).
#[tokio::test]
async fn seeded_webhook_endpoints_come_back_on_reset() {
    let m = Mirror::new();
    let seed = json!({"webhook_endpoints": [{"url": "http://127.0.0.1:9/seeded", "enabled_events": ["customer.created"]}]});
    let s = m
        .session_with(CreateSession {
            seed_files: BTreeMap::from([("stripe".to_string(), seed)]),
            ..CreateSession::default()
        })
        .await;
    let urls = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|e| e["url"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let listed = m.get(&s, "/v1/webhook_endpoints").await;
    assert_eq!(urls(&listed.json), ["http://127.0.0.1:9/seeded"]);
    let added = m
        .post(
            &s,
            "/v1/webhook_endpoints",
            "url=http://127.0.0.1:9/added&enabled_events[]=*",
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.json);
    assert_eq!(
        urls(&m.get(&s, "/v1/webhook_endpoints").await.json).len(),
        2
    );
    m.sessions
        .reset("ws", &s.id, ResetSession::default())
        .await
        .expect("reset");
    assert_eq!(
        urls(&m.get(&s, "/v1/webhook_endpoints").await.json),
        ["http://127.0.0.1:9/seeded"]
    );
}

/// A replayed request answers from its saved response and writes no second event.
#[tokio::test]
async fn an_idempotent_replay_raises_no_second_event() {
    let m = Mirror::new();
    let s = m.session().await;
    let key = [("idempotency-key", "k-1")];
    let first = m
        .call_with(&s, Method::POST, "/v1/customers", Some("name=once"), &key)
        .await;
    let again = m
        .call_with(&s, Method::POST, "/v1/customers", Some("name=once"), &key)
        .await;
    assert_eq!(first.json, again.json);
    let events = m.get(&s, "/v1/events?type=customer.created").await;
    assert_eq!(
        events.json["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        events.json
    );
    assert_eq!(events.json["data"][0]["request"]["idempotency_key"], "k-1");
}
