//! Opens, clicks and late deliveries through the Resend mirror: with its
//! domain's tracking on, what a recipient gets has its links through the
//! mirror and an open pixel; opening them (no key) after delivery raises
//! `email.opened` / `email.clicked` and moves `last_event`; a click goes on
//! to the link. `delayed@resend.dev` is `delivery_delayed` before delivered.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::mirrors::resend::later::DELIVERED_AFTER_MS;
use support::receiver::receiver;
use support::resend::{email, Api, Ses};
use tower::ServiceExt;

/// GET `url` (absolute, back to the mirror) without a key: status, headers.
async fn open(api: &Api, url: &str) -> (StatusCode, axum::http::HeaderMap) {
    let path = url
        .split_once("://")
        .and_then(|(_, r)| r.find('/').map(|i| r[i..].to_string()))
        .expect("path");
    let req = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("request");
    let res = api.app.clone().oneshot(req).await.expect("infallible");
    let (status, headers) = (res.status(), res.headers().clone());
    let _ = res.into_body().collect().await;
    (status, headers)
}

async fn track(api: &Api, s: &Ses) {
    let domains = api.get(s, "/domains").await.ok();
    let id = domains["data"][0]["id"]
        .as_str()
        .expect("domain")
        .to_string();
    api.call(
        s,
        Method::PATCH,
        &format!("/domains/{id}"),
        Some(json!({"open_tracking": true, "click_tracking": true})),
    )
    .await
    .ok();
}

fn event_types(got: &[(axum::http::HeaderMap, String)]) -> Vec<String> {
    got.iter()
        .map(|(_, b)| {
            let v: Value = serde_json::from_str(b).expect("json");
            v["type"].as_str().expect("type").to_string()
        })
        .collect()
}

/// With tracking on: links through the mirror and a pixel in what the
/// recipient gets; clicks and opens after delivery are events.
#[tokio::test]
async fn tracked_links_and_the_open_pixel_raise_clicked_and_opened() {
    let api = Api::new();
    let s = api.session().await;
    track(&api, &s).await;
    let (hook, got) = receiver().await;
    api.post(
        &s,
        "/webhooks",
        json!({"endpoint": hook, "events": ["email.opened", "email.clicked"]}),
    )
    .await
    .created();
    let mut body = email("ann@test.dev");
    body["html"] = json!(r#"<p><a href="https://app.test/magic?t=1&amp;u=2">Sign in</a></p>"#);
    let id = api.send(&s, body).await;

    let msg = &api.inbox(&s, "?to=ann@test.dev").await[0];
    let link = msg["links"][0].as_str().expect("link").to_string();
    assert!(
        link.contains(&format!("/m/{}/resend/click/{id}.", s.id)),
        "{link}"
    );
    let html = msg["html"].as_str().expect("html");
    let pixel = html
        .split("<img src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("pixel")
        .to_string();
    assert!(pixel.contains(&format!("/resend/open/{id}.")), "{pixel}");
    let stored = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert!(
        stored["html"]
            .as_str()
            .expect("html")
            .contains("https://app.test/magic"),
        "the email keeps what was sent"
    );

    // Before delivery a click goes on but counts for nothing.
    let (status, headers) = open(&api, &link).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://app.test/magic?t=1&u=2");
    assert_eq!(
        api.get(&s, &format!("/emails/{id}")).await.ok()["last_event"],
        "sent"
    );

    api.advance_ms(DELIVERED_AFTER_MS).await;
    let (status, _) = open(&api, &link).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        api.get(&s, &format!("/emails/{id}")).await.ok()["last_event"],
        "clicked"
    );
    let (status, headers) = open(&api, &pixel).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/gif");
    assert_eq!(
        api.get(&s, &format!("/emails/{id}")).await.ok()["last_event"],
        "opened"
    );

    api.advance_ms(1).await;
    let got = got.lock().expect("lock").clone();
    assert_eq!(event_types(&got), ["email.clicked", "email.opened"]);
    let clicked: Value = serde_json::from_str(&got[0].1).expect("json");
    assert_eq!(
        clicked["data"]["click"]["link"],
        "https://app.test/magic?t=1&u=2"
    );
    assert_eq!(clicked["data"]["email_id"], id.as_str());

    // A forged link is refused; another URL under a real MAC too.
    let forged = link.replace("app.test", "evil.test");
    assert_eq!(open(&api, &forged).await.0, StatusCode::NOT_FOUND);
}

/// Without tracking the recipient gets the links as sent, and no pixel.
#[tokio::test]
async fn without_tracking_links_are_as_sent() {
    let api = Api::new();
    let s = api.session().await;
    let mut body = email("ann@test.dev");
    body["html"] = json!(r#"<a href="https://app.test/x">x</a>"#);
    api.send(&s, body).await;
    let msg = &api.inbox(&s, "?to=ann@test.dev").await[0];
    assert_eq!(msg["links"], json!(["https://app.test/x"]));
    assert!(!msg["html"].as_str().expect("html").contains("<img"));
}

/// `delayed@resend.dev` is `delivery_delayed` first (its event raised),
/// then delivered.
#[tokio::test]
async fn a_delayed_address_is_delivery_delayed_before_delivered() {
    let api = Api::new();
    let s = api.session().await;
    let (hook, got) = receiver().await;
    api.post(
        &s,
        "/webhooks",
        json!({"endpoint": hook, "events": ["email.delivery_delayed", "email.delivered"]}),
    )
    .await
    .created();
    let id = api.send(&s, email("delayed+signup@resend.dev")).await;
    api.advance_ms(DELIVERED_AFTER_MS).await;
    assert_eq!(
        api.get(&s, &format!("/emails/{id}")).await.ok()["last_event"],
        "delivery_delayed"
    );
    api.advance_ms(DELIVERED_AFTER_MS).await;
    assert_eq!(
        api.get(&s, &format!("/emails/{id}")).await.ok()["last_event"],
        "delivered"
    );
    api.advance_ms(1).await;
    assert_eq!(
        event_types(&got.lock().expect("lock")),
        ["email.delivery_delayed", "email.delivered"]
    );
}
