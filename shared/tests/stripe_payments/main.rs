//! Payments on the Stripe mirror, driven through its router as the API layer
//! mounts it: PaymentIntents through every state of Stripe's status machine
//! (with the test-card catalogue's declines and 3-D Secure cards), charges and
//! their balance transactions, refunds, SetupIntents, the events each change
//! raises, and Mirra's 3-D Secure page and test helpers.

#[path = "../support/mod.rs"]
mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use support::stripe::{Mirror, Resp, Ses};
use tower::ServiceExt;

/// Card-only PaymentIntents confirm without a `return_url`.
const CARD: &str = "allowed_payment_method_types[]=card";

struct T {
    m: Mirror,
    s: Ses,
}

impl T {
    async fn new() -> Self {
        let m = Mirror::new();
        let s = m.session().await;
        T { m, s }
    }

    async fn post(&self, path: &str, body: &str) -> Resp {
        self.m.post(&self.s, path, body).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.m.get(&self.s, path).await
    }

    async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, StatusCode::OK, "POST {path} {body}: {}", r.json);
        r.json
    }

    async fn got(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.json);
        r.json
    }

    /// A confirmed card payment of `amount` with `pm` (and `extra` parameters).
    async fn pay(&self, amount: i64, pm: &str, extra: &str) -> Resp {
        self.post(
            "/v1/payment_intents",
            &format!("amount={amount}&currency=usd&{CARD}&payment_method={pm}&confirm=true{extra}"),
        )
        .await
    }

    async fn customer(&self) -> String {
        self.ok("/v1/customers", "email=ada@example.com").await["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// Every event's type since `after` events, oldest first.
    async fn events(&self) -> Vec<String> {
        let page = self.got("/v1/events?limit=100").await;
        let mut types: Vec<String> = page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect();
        types.reverse();
        types
    }

    /// The event types raised by `f`.
    async fn raised(&self, before: usize) -> Vec<String> {
        self.events().await.split_off(before)
    }

    /// A request a browser makes (no key): status, `Location`, body text.
    async fn browse(&self, method: Method, path: &str, body: &str) -> (StatusCode, String, String) {
        let req = Request::builder()
            .method(method)
            .uri(format!("/m/{}/stripe{path}", self.s.id))
            .header("host", "127.0.0.1:4400")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .expect("request");
        let res = self.m.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn error(r: &Resp) -> &Value {
    &r.json["error"]
}

mod authentication;
mod capture;
mod charges;
mod intents;
mod refunds;
mod routes;
mod search;
mod setup_intents;
