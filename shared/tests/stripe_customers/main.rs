//! The Stripe mirror's customers, driven through its router with
//! `tower::ServiceExt::oneshot` exactly as the API layer mounts it
//! (`/m/{session}/stripe`, 1 MiB body limit). Every customer, list, deleted and
//! error body is checked against Stripe's OpenAPI document
//! (`$MIRRA_SPECS_DIR` or `<workspace>/../shared/specs`).

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::mirrors::stripe::{self, Stripe};
use shared::session::{
    Clock, CreateSession, Door, ManualClock, MirrorDef, SessionError, Sessions, SystemClock,
};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

// ---------------------------------------------------------------- harness

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    sessions: Arc<Sessions>,
}

fn harness_with(clock: Arc<dyn Clock>) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::in_memory().expect("session table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("object store");
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        clock,
        vec![Arc::new(Stripe)],
    ));
    let app = Router::new()
        .nest("/m/{session}/stripe", stripe::router())
        .with_state(Door::new(sessions.clone()))
        .layer(DefaultBodyLimit::max(1 << 20));
    Harness {
        _dir: dir,
        app,
        sessions,
    }
}

fn harness() -> Harness {
    harness_with(Arc::new(SystemClock))
}

/// One session: its id and secret key.
struct Ses {
    id: String,
    key: String,
}

impl Harness {
    async fn session(&self) -> Ses {
        let s = self
            .sessions
            .create("ws", CreateSession::default())
            .await
            .expect("create session");
        let key = s.mirrors["stripe"].credentials["secret_key"].clone();
        Ses { id: s.id, key }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Resp {
    fn err(&self) -> &Value {
        &self.json["error"]
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str),
    Raw(&'a str),
    None,
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Auth<'_>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    match auth {
        Auth::Bearer(k) => req = req.header("authorization", format!("Bearer {k}")),
        Auth::Basic(k) => {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{k}:"));
            req = req.header("authorization", format!("Basic {enc}"));
        }
        Auth::Raw(v) => req = req.header("authorization", v),
        Auth::None => {}
    }
    if body.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    let rid = headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        rid.starts_with("req_") && rid.len() == 18,
        "Request-Id header on every response, got {rid:?}"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    if !status.is_success() {
        validate("error", &json);
    }
    Resp {
        status,
        headers,
        json,
    }
}

impl Ses {
    fn url(&self, path: &str) -> String {
        format!("/m/{}/stripe{path}", self.id)
    }
    async fn get(&self, h: &Harness, path: &str) -> Resp {
        send(
            &h.app,
            Method::GET,
            &self.url(path),
            Auth::Bearer(&self.key),
            None,
            &[],
        )
        .await
    }
    async fn post(&self, h: &Harness, path: &str, body: &str) -> Resp {
        send(
            &h.app,
            Method::POST,
            &self.url(path),
            Auth::Bearer(&self.key),
            Some(body.as_bytes().to_vec()),
            &[],
        )
        .await
    }
    async fn post_idem(&self, h: &Harness, path: &str, body: &str, key: &str) -> Resp {
        let headers = [("idempotency-key", key)];
        send(
            &h.app,
            Method::POST,
            &self.url(path),
            Auth::Bearer(&self.key),
            Some(body.as_bytes().to_vec()),
            &headers,
        )
        .await
    }
    async fn delete(&self, h: &Harness, path: &str) -> Resp {
        send(
            &h.app,
            Method::DELETE,
            &self.url(path),
            Auth::Bearer(&self.key),
            None,
            &[],
        )
        .await
    }
    /// Creates a customer and returns it (checked against the spec).
    async fn create(&self, h: &Harness, body: &str) -> Value {
        let r = self.post(h, "/v1/customers", body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        validate("customer", &r.json);
        r.json
    }
    /// Every live customer id, newest first, by walking `starting_after` pages.
    async fn all_ids(&self, h: &Harness) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = match &after {
                Some(a) => format!("/v1/customers?limit=100&starting_after={a}"),
                None => "/v1/customers?limit=100".to_string(),
            };
            let r = self.get(h, &q).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let page = ids(&r.json);
            after = page.last().cloned();
            out.extend(page);
            if r.json["has_more"] != true {
                return out;
            }
        }
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts Stripe's error body exactly (`doc_url` follows from `code`).
fn assert_error(
    r: &Resp,
    status: StatusCode,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) {
    assert_eq!(r.status, status, "{}", r.json);
    let mut expected = serde_json::Map::new();
    if let Some(c) = code {
        expected.insert("code".into(), c.into());
        expected.insert(
            "doc_url".into(),
            format!(
                "https://stripe.com/docs/error-codes/{}",
                c.replace('_', "-")
            )
            .into(),
        );
    }
    expected.insert("message".into(), message.into());
    if let Some(p) = param {
        expected.insert("param".into(), p.into());
    }
    expected.insert("type".into(), "invalid_request_error".into());
    assert_eq!(r.json, json!({ "error": expected }));
}

mod crud;
mod lists;
mod openapi;
mod requests;
mod sessions;

use openapi::*;
