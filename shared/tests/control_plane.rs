//! The control plane through `shared::api::router` with `tower::ServiceExt::oneshot`:
//! status codes, JSON shapes, auth, bad input, expiry, and host routing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use rusqlite::Connection;
use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::mirrors::toolkit::objects::Kind;
use shared::mirrors::{Mirror, Vendor, VendorError};
use shared::session::{Clock, Door, ManualClock, MirrorDef, Sessions};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

const TOKEN: &str = "test-token";

/// A mirror whose one route echoes the session it was reached through.
struct Echo;

impl MirrorDef for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn schema(&self) -> &'static str {
        "CREATE TABLE t (id INTEGER PRIMARY KEY)"
    }
    fn seed_names(&self) -> &'static [&'static str] {
        &["default"]
    }
    fn builtin_seed(&self, name: &str) -> Option<Value> {
        (name == "default").then(|| json!({}))
    }
    fn load_seed(&self, _c: &Connection, seed: &Value) -> Result<(), String> {
        seed.as_object()
            .map(|_| ())
            .ok_or_else(|| "seed must be an object".to_string())
    }
    fn new_credentials(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("key".into(), shared::session::id::random_token(8))])
    }
    fn env(&self, url: &str, c: &BTreeMap<String, String>) -> Vec<(String, String)> {
        vec![
            ("ECHO_URL".into(), url.into()),
            ("ECHO_KEY".into(), c["key"].clone()),
        ]
    }
}

/// Echo speaks Mirra's plain JSON errors; its ids are the kind's prefix and a token.
impl Vendor for Echo {
    fn error_response(&self, e: VendorError) -> Response {
        (
            e.status(),
            Json(json!({"error": {"message": e.to_string()}})),
        )
            .into_response()
    }
    fn new_id(&self, kind: &Kind) -> String {
        format!(
            "{}{}",
            kind.prefix,
            shared::session::id::random_token(kind.id_len)
        )
    }
}

fn echo_routes() -> Router<Door> {
    Router::new().route(
        "/whoami",
        get(|Path(p): Path<HashMap<String, String>>| async move {
            p.get("session").cloned().unwrap_or_default()
        }),
    )
}

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mirrors = vec![Mirror {
        def: Arc::new(Echo),
        vendor: Arc::new(Echo),
        router: echo_routes,
    }];
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        clock.clone() as Arc<dyn Clock>,
        mirrors.iter().map(|m| m.def.clone()).collect(),
    ));
    let state = AppState::new(sessions, TOKEN, "local", "http://127.0.0.1:4400", mirrors);
    Harness {
        app: router(state),
        clock,
        _dir: dir,
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<String>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

async fn api(app: &Router, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let body = if body.is_null() {
        None
    } else {
        Some(body.to_string())
    };
    call(app, method, path, body, Some(TOKEN)).await
}

fn assert_error(v: &Value, kind: &str) {
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

#[tokio::test]
async fn create_returns_201_with_the_session_json_and_caches_the_second_image() {
    let h = harness();
    let (status, s) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let id = s["id"].as_str().expect("id");
    assert!(shared::session::id::is_session_id(id));
    for field in [
        "name",
        "workspace",
        "mode",
        "status",
        "config_hash",
        "cached",
        "created_at",
        "expires_at",
        "mirrors",
    ] {
        assert!(s.get(field).is_some(), "missing {field}: {s}");
    }
    assert_eq!(
        (
            s["mode"].as_str(),
            s["status"].as_str(),
            s["workspace"].as_str()
        ),
        (Some("ephemeral"), Some("active"), Some("local"))
    );
    assert_eq!(
        s["expires_at"].as_i64(),
        s["created_at"].as_i64().map(|c| c + 3600),
        "default timeout is 60 min"
    );
    assert_eq!(s["cached"], false);
    let m = &s["mirrors"]["echo"];
    assert_eq!(m["url"], format!("http://127.0.0.1:4400/m/{id}/echo"));
    assert_eq!(
        m["host_url"],
        format!("http://echo-{}.localhost:4400", &id[4..])
    );
    assert_eq!(m["seed"], "default");
    assert_eq!(m["env"]["ECHO_URL"], m["url"]);
    assert!(m["credentials"]["key"].is_string());

    let (_, again) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"]}),
    )
    .await;
    assert_eq!(again["cached"], true);
    assert_eq!(again["config_hash"], s["config_hash"]);
    assert_ne!(
        again["mirrors"]["echo"]["credentials"], m["credentials"],
        "each session gets its own credentials"
    );
}

#[tokio::test]
async fn missing_or_wrong_workspace_token_is_401_json() {
    let h = harness();
    for token in [None, Some("wrong")] {
        let (status, v) = call(&h.app, Method::GET, "/v1/sessions", None, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_error(&v, "unauthorized");
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_json_error_never_a_500() {
    let h = harness();
    let cases: Vec<(Method, &str, Option<String>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v1/sessions",
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(r#"{"mirors":["echo"]}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(r#"{"mirrors":["nope"]}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(r#"{"mirrors":["echo"],"seeds":{"echo":"nope"}}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(r#"{"mirrors":["echo"],"seed_files":{"echo":[1]}}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(r#"{"mirrors":["echo"],"timeout_seconds":-1}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(format!(
                r#"{{"mirrors":["echo"],"name":"{}"}}"#,
                "x".repeat(2 << 20)
            )),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
        (
            Method::GET,
            "/v1/sessions/ses_zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/sessions/Not%20An%20Id",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::DELETE,
            "/v1/sessions/ses_zzzz",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/sessions/ses_zzzz/reset",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::PUT,
            "/v1/sessions",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            Method::GET,
            "/v2/nothing",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, path, body, want, kind) in cases {
        let (status, v) = call(&h.app, method.clone(), path, body, Some(TOKEN)).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        assert_error(&v, kind);
    }
}

#[tokio::test]
async fn sessions_are_found_by_id_or_name_and_names_are_unique() {
    let h = harness();
    let body = json!({"mirrors": ["echo"], "persistent": true, "name": "staging"});
    let (status, s) = api(&h.app, Method::POST, "/v1/sessions", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(
        (s["mode"].as_str(), s["expires_at"].is_null()),
        (Some("persistent"), true)
    );
    let (_, by_name) = api(&h.app, Method::GET, "/v1/sessions/staging", Value::Null).await;
    assert_eq!(by_name["id"], s["id"]);
    let (status, dup) = api(&h.app, Method::POST, "/v1/sessions", body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&dup, "conflict");
    let (status, v) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"], "persistent": true}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "persistent needs a name: {v}"
    );
    let (_, list) = api(&h.app, Method::GET, "/v1/sessions", Value::Null).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn reset_snapshot_restore_and_down_round_trip_over_http() {
    let h = harness();
    let (_, s) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"]}),
    )
    .await;
    let id = s["id"].as_str().expect("id").to_string();

    let (status, r) = api(
        &h.app,
        Method::POST,
        &format!("/v1/sessions/{id}/reset"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r["mirrors"]["echo"]["ms"].as_f64().is_some(), "{r}");
    assert!(r["total_ms"].as_f64().is_some());

    let (status, snap) = api(
        &h.app,
        Method::POST,
        &format!("/v1/sessions/{id}/snapshots"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{snap}");
    let snap_id = snap["id"].as_str().expect("snap id");
    let (_, list) = api(
        &h.app,
        Method::GET,
        &format!("/v1/sessions/{id}/snapshots"),
        Value::Null,
    )
    .await;
    assert_eq!(list["data"][0]["id"], snap_id);
    let (status, restored) = api(
        &h.app,
        Method::POST,
        &format!("/v1/sessions/{id}/restore"),
        json!({"snapshot": snap_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    let (status, v) = api(
        &h.app,
        Method::POST,
        &format!("/v1/sessions/{id}/restore"),
        json!({}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "restore needs a snapshot: {v}"
    );

    let (status, ended) = api(
        &h.app,
        Method::DELETE,
        &format!("/v1/sessions/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(
        (ended["status"].as_str(), ended["billed_minutes"].as_u64()),
        (Some("ended"), Some(1))
    );
    let (status, _) = api(
        &h.app,
        Method::GET,
        &format!("/v1/sessions/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "an ended session answers gone");
    let (_, usage) = api(&h.app, Method::GET, "/v1/usage", Value::Null).await;
    assert_eq!(usage["ephemeral_minutes"], 1, "{usage}");
}

#[tokio::test]
async fn an_expired_session_answers_410_and_lists_as_expired_before_the_reaper_runs() {
    let h = harness();
    let (_, s) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"], "timeout_seconds": 60}),
    )
    .await;
    let id = s["id"].as_str().expect("id").to_string();
    h.clock.advance_secs(61);
    let (status, v) = api(
        &h.app,
        Method::GET,
        &format!("/v1/sessions/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert_error(&v, "gone");
    assert_eq!(
        (&v["error"]["code"], &v["error"]["reason"]),
        (&json!("session_expired"), &json!("expired")),
        "{v}"
    );
    let (_, list) = api(&h.app, Method::GET, "/v1/sessions", Value::Null).await;
    assert_eq!(list["data"][0]["status"], "expired");
}

#[tokio::test]
async fn host_routing_reaches_the_same_mirror_as_path_routing() {
    let h = harness();
    let (_, s) = api(
        &h.app,
        Method::POST,
        "/v1/sessions",
        json!({"mirrors": ["echo"]}),
    )
    .await;
    let id = s["id"].as_str().expect("id");
    let by_path = call(
        &h.app,
        Method::GET,
        &format!("/m/{id}/echo/whoami"),
        None,
        None,
    )
    .await;
    let req = Request::builder()
        .uri("/whoami")
        .header("host", format!("echo-{}.localhost:4400", &id[4..]))
        .body(Body::empty())
        .expect("request");
    let resp = h.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(by_path, (StatusCode::OK, Value::String(id.to_string())));
    assert_eq!(&bytes[..], id.as_bytes());
}
