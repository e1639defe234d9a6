//! Credential routing through the whole `shared::api::router`: a request whose
//! path and host name no session reaches the session its Stripe secret key
//! names (what stripe-node, which can set only host, port and protocol, sends),
//! and every other request keeps the answer it had.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::api::{router, AppState};
use shared::mirrors;
use shared::session::{Clock, CreateSession, ManualClock, Session, Sessions};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

const TOKEN: &str = "test-token";
const WS: &str = "local";

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    sessions: Arc<Sessions>,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let all = mirrors::all();
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        clock.clone() as Arc<dyn Clock>,
        all.iter().map(|m| m.def.clone()).collect(),
    ));
    let state = AppState::new(sessions.clone(), TOKEN, WS, "http://127.0.0.1:4400", all);
    Harness {
        app: router(state),
        sessions,
        clock,
        _dir: dir,
    }
}

impl Harness {
    async fn session(&self, timeout_seconds: Option<u64>) -> Session {
        self.sessions
            .create(
                WS,
                CreateSession {
                    timeout_seconds,
                    ..CreateSession::default()
                },
            )
            .await
            .expect("create session")
    }
}

fn secret(s: &Session) -> String {
    s.mirrors["stripe"].credentials["secret_key"].clone()
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    /// `curl -u key:`.
    Basic(&'a str),
    None,
}

struct Resp {
    status: StatusCode,
    request_id: Option<String>,
    json: Value,
}

async fn send(app: &Router, method: Method, uri: &str, auth: Auth<'_>, form: Option<&str>) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    match auth {
        Auth::Bearer(k) => req = req.header("authorization", format!("Bearer {k}")),
        Auth::Basic(k) => {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{k}:"));
            req = req.header("authorization", format!("Basic {enc}"));
        }
        Auth::None => {}
    }
    if form.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(
            form.map(|f| Body::from(f.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let request_id = resp
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Resp {
        status,
        request_id,
        json,
    }
}

fn emails(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["email"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A Stripe key, as Bearer or as Basic's user, reaches its own session's
/// customers at the server's root, and only those.
#[tokio::test]
async fn a_stripe_key_routes_a_request_without_a_session_to_its_own_session() {
    let h = harness();
    let (a, b) = (h.session(None).await, h.session(None).await);
    let (ka, kb) = (secret(&a), secret(&b));

    let created = send(
        &h.app,
        Method::POST,
        "/v1/customers",
        Auth::Bearer(&ka),
        Some("email=routed%40example.com"),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    assert_eq!(created.json["object"], "customer");
    assert!(
        created.request_id.is_some_and(|id| id.starts_with("req_")),
        "a credential-routed answer carries Stripe's Request-Id"
    );
    let id = created.json["id"].as_str().expect("id").to_string();

    let by_path = send(
        &h.app,
        Method::GET,
        &format!("/m/{}/stripe/v1/customers/{id}", a.id),
        Auth::Bearer(&ka),
        None,
    )
    .await;
    assert_eq!(
        by_path.json, created.json,
        "path routing sees what credential routing created"
    );
    let mine = "/v1/customers?email=routed%40example.com";
    let basic = send(&h.app, Method::GET, mine, Auth::Basic(&ka), None).await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.json);
    assert_eq!(
        emails(&basic.json),
        ["routed@example.com"],
        "Basic auth routes too"
    );

    let other = send(&h.app, Method::GET, mine, Auth::Bearer(&kb), None).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.json);
    assert!(
        emails(&other.json).is_empty(),
        "another session's key sees none of this session's customers: {}",
        other.json
    );
    let foreign = send(
        &h.app,
        Method::GET,
        &format!("/v1/customers/{id}"),
        Auth::Bearer(&kb),
        None,
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.json);
    assert_eq!(foreign.json["error"]["code"], "resource_missing");
}

/// A `sk_test_…` key that names no session gets the 401 Stripe gives an
/// unknown key, in Stripe's shape, so SDKs raise their authentication error.
#[tokio::test]
async fn an_unknown_stripe_key_gets_stripes_invalid_key_401() {
    let h = harness();
    h.session(None).await;
    for auth in [
        Auth::Bearer("sk_test_nosuchkey0000abcd"),
        Auth::Basic("sk_test_nosuchkey0000abcd"),
    ] {
        let r = send(&h.app, Method::GET, "/v1/customers", auth, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
        assert_eq!(r.json["error"]["type"], "invalid_request_error");
        // Stripe shows the prefix and the last four: 25 characters, 13 masked.
        assert_eq!(
            r.json["error"]["message"],
            format!("Invalid API Key provided: sk_test_{}abcd", "*".repeat(13))
        );
        assert!(r.request_id.is_some(), "Stripe's 401 carries a Request-Id");
    }
}

/// Without a credential in a vendor's shape, a path no one routes still gets
/// the control plane's JSON 404, whatever else `Authorization` holds.
#[tokio::test]
async fn a_request_without_a_recognizable_credential_gets_the_json_404() {
    let h = harness();
    let a = h.session(None).await;
    let publishable = a.mirrors["stripe"].credentials["publishable_key"].clone();
    for auth in [
        Auth::None,
        Auth::Bearer(TOKEN),
        Auth::Bearer(&publishable),
        Auth::Bearer("rk_123"),
    ] {
        let r = send(&h.app, Method::GET, "/v1/customers", auth, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
        assert_eq!(r.json["error"]["type"], "not_found", "{}", r.json);
        assert_eq!(r.json["error"]["message"], "no route for /v1/customers");
    }
}

/// A Resend key (`re_…`) is a credential in Resend's shape: one that names no
/// session gets Resend's own 403, not the control plane's 404.
#[tokio::test]
async fn a_resend_key_of_no_session_gets_resends_403() {
    let h = harness();
    let r = send(&h.app, Method::GET, "/emails", Auth::Bearer("re_123"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    assert_eq!(
        r.json,
        serde_json::json!({"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"})
    );
}

/// The control plane's paths stay the control plane's: a Stripe key there is
/// a bad workspace token, not a route to a mirror.
#[tokio::test]
async fn control_plane_paths_keep_priority_over_credential_routing() {
    let h = harness();
    let a = h.session(None).await;
    let key = secret(&a);
    for path in [
        "/v1/sessions".to_string(),
        format!("/v1/sessions/{}", a.id),
        "/v1/snapshots".to_string(),
        "/v1/usage".to_string(),
    ] {
        let r = send(&h.app, Method::GET, &path, Auth::Bearer(&key), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.json);
        assert_eq!(
            r.json["error"]["type"], "unauthorized",
            "{path}: {}",
            r.json
        );
    }
    let listed = send(
        &h.app,
        Method::GET,
        "/v1/sessions",
        Auth::Bearer(TOKEN),
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
}

/// An ended session's key answers exactly what its path does: Stripe's 410
/// with `session_ended`; an expired one's, `session_expired`, before and after
/// the reaper ends it.
#[tokio::test]
async fn an_ended_or_expired_sessions_key_answers_the_same_410_as_its_path() {
    let h = harness();
    let ended = h.session(None).await;
    h.sessions.down(WS, &ended.id).await.expect("down");
    let by_key = send(
        &h.app,
        Method::GET,
        "/v1/customers",
        Auth::Bearer(&secret(&ended)),
        None,
    )
    .await;
    let by_path = send(
        &h.app,
        Method::GET,
        &format!("/m/{}/stripe/v1/customers", ended.id),
        Auth::Bearer(&secret(&ended)),
        None,
    )
    .await;
    assert_eq!(by_key.status, StatusCode::GONE, "{}", by_key.json);
    assert_eq!(by_key.json["error"]["code"], "session_ended");
    assert_eq!(by_key.json, by_path.json, "the same 410 as path routing");

    let expiring = h.session(Some(60)).await;
    let key = secret(&expiring);
    let ok = send(
        &h.app,
        Method::GET,
        "/v1/customers",
        Auth::Bearer(&key),
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    h.clock.advance_secs(61);
    let before_reaper = send(
        &h.app,
        Method::GET,
        "/v1/customers",
        Auth::Bearer(&key),
        None,
    )
    .await;
    assert_eq!(
        before_reaper.status,
        StatusCode::GONE,
        "{}",
        before_reaper.json
    );
    assert_eq!(before_reaper.json["error"]["code"], "session_expired");
    assert_eq!(h.sessions.reap().await.expect("reap"), 1);
    let after_reaper = send(
        &h.app,
        Method::GET,
        "/v1/customers",
        Auth::Bearer(&key),
        None,
    )
    .await;
    assert_eq!(
        after_reaper.status,
        StatusCode::GONE,
        "{}",
        after_reaper.json
    );
    assert_eq!(after_reaper.json, before_reaper.json);
}

/// Path and host routing are untouched: a session named in the path is
/// reached with its key, and another session's key there is still refused.
#[tokio::test]
async fn a_session_in_the_path_or_host_wins_over_the_credential() {
    let h = harness();
    let (a, b) = (h.session(None).await, h.session(None).await);
    let r = send(
        &h.app,
        Method::GET,
        &format!("/m/{}/stripe/v1/customers", a.id),
        Auth::Bearer(&secret(&b)),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    let req = Request::builder()
        .uri("/v1/customers")
        .header("host", format!("stripe-{}.localhost:4400", &a.id[4..]))
        .header("authorization", format!("Bearer {}", secret(&b)))
        .body(Body::empty())
        .expect("request");
    let resp = h.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "host routing keeps its session; b's key is refused there"
    );
}
