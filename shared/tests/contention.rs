//! A Stripe write that keeps losing the race for the next commit-log entry
//! answers what Stripe answers when an object is locked: 429 `lock_timeout`,
//! which the SDKs retry. Driven through the mirror's router over a session
//! table that makes every append lose.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::mirrors::stripe::{self, Stripe};
use shared::session::{CreateSession, Door, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::SessionTable;
use support::racing_table::RacingTable;
use tower::ServiceExt;

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    key: &str,
    body: &str,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

/// Contention is the client's cue to retry, in Stripe's shape: 429
/// `lock_timeout`, never a 500, and the refused create leaves no customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_loses_every_race_answers_429_lock_timeout_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner: Arc<dyn SessionTable> = Arc::new(SqliteSessionTable::in_memory().expect("table"));
    let racing = Arc::new(RacingTable::new(inner));
    let table: Arc<dyn SessionTable> = racing.clone();
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let sessions = Arc::new(Sessions::new(
        table,
        Arc::new(store),
        Arc::new(SystemClock),
        vec![Arc::new(Stripe)],
    ));
    let app = Router::new()
        .nest("/m/{session}/stripe", stripe::router())
        .with_state(Door::new(sessions.clone()));
    let s = sessions
        .create("ws", CreateSession::default())
        .await
        .expect("session");
    let key = s.mirrors["stripe"].credentials["secret_key"].clone();
    let base = format!("/m/{}/stripe/v1/customers", s.id);
    let (_, before) = call(&app, Method::GET, &format!("{base}?limit=100"), &key, "").await;
    let seeded = before["data"].as_array().map(Vec::len).expect("list");

    racing.set_always_lose(true);
    let (status, body) = call(
        &app,
        Method::POST,
        &base,
        &key,
        "email=locked%40example.com",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "lock_timeout", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry the request")),
        "{body}"
    );
    assert!(racing.lost() > 1, "the engine retried before answering 429");
    assert_eq!(racing.appends(), racing.lost(), "no append went through");
    let (_, during) = call(&app, Method::GET, &format!("{base}?limit=100"), &key, "").await;
    assert_eq!(
        during["data"].as_array().map(Vec::len),
        Some(seeded),
        "the refused create left nothing behind"
    );

    racing.set_always_lose(false);
    let (status, created) = call(
        &app,
        Method::POST,
        &base,
        &key,
        "email=locked%40example.com",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the retry goes through: {created}");
    assert_eq!(created["email"], "locked@example.com");
}
