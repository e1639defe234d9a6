//! What generic code answers for a mirror comes in the mirror's vendor shape,
//! so a Stripe SDK raises its own error class with a `request-id`: the
//! server's refusals of a body before any routing (413 over the limit, 408 too
//! slow) whichever way the request names its mirror (path, host, credential),
//! a URL no route of the mirror serves, and a handler that panics. The
//! control plane keeps its own JSON shape for its own paths.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::api::{router, AppState};
use shared::mirrors::{self, stripe, Mirror};
use shared::server::{serve, ServeConfig};
use shared::session::{CreateSession, Door, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const TOKEN: &str = "test-token";
const WS: &str = "local";

fn sessions(dir: &tempfile::TempDir, all: &[Mirror]) -> Arc<Sessions> {
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        Arc::new(SystemClock),
        all.iter().map(|m| m.def.clone()).collect(),
    ))
}

/// The whole API for `all`, with its state in `dir`.
fn app(dir: &tempfile::TempDir, all: Vec<Mirror>) -> Router {
    let sessions = sessions(dir, &all);
    router(AppState::new(
        sessions,
        TOKEN,
        WS,
        "http://127.0.0.1:4400",
        all,
    ))
}

/// A response's status, headers and JSON body.
async fn answer_of(res: axum::response::Response) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

async fn a_buggy_handler() -> &'static str {
    panic!("a bug in a handler")
}

/// The Stripe mirror's routes plus one whose handler panics, as a bug would.
fn stripe_with_a_panicking_route() -> Router<Door> {
    stripe::router().route("/v1/test_helpers/panic", get(a_buggy_handler))
}

/// A handler that panics answers Stripe's 500 `api_error` with a `request-id`
/// (SDKs raise `APIError` and may retry) instead of dropping the connection,
/// and the mirror keeps serving.
#[tokio::test]
async fn a_panicking_mirror_handler_answers_stripes_api_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = vec![Mirror {
        router: stripe_with_a_panicking_route,
        ..mirrors::all().remove(0)
    }];
    let app = app(&dir, all);
    let req = Request::get("/m/ses_ab12/stripe/v1/test_helpers/panic")
        .body(Body::empty())
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let (status, headers, v) = answer_of(res).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["error"]["type"], "api_error", "{v}");
    assert!(
        !v["error"]["message"]
            .to_string()
            .contains("a bug in a handler"),
        "the panic's text is for the log, not the client: {v}"
    );
    assert!(
        headers
            .get("request-id")
            .is_some_and(|id| id.as_bytes().starts_with(b"req_")),
        "no request-id"
    );
    // The next request to the mirror is served as usual (Stripe's 401: no key).
    let req = Request::get("/m/ses_ab12/stripe/v1/customers")
        .body(Body::empty())
        .expect("request");
    let res = app.oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A URL below a Stripe mirror that none of its routes serves — its base
/// with a trailing slash (a host-routed `/`), a method its page does not
/// take — is Stripe's 404, not the control plane's.
#[tokio::test]
async fn a_url_the_stripe_mirror_does_not_serve_is_a_stripe_404() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(&dir, mirrors::all());
    for (method, uri, host) in [
        ("GET", "/", "stripe-ab12.localhost:4400"),
        ("GET", "/m/ses_ab12/stripe/", "127.0.0.1:4400"),
        (
            "PUT",
            "/m/ses_ab12/stripe/_mirra/receipts/ch_1",
            "127.0.0.1:4400",
        ),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .body(Body::empty())
            .expect("request");
        let res = app.clone().oneshot(req).await.expect("infallible");
        let (status, headers, v) = answer_of(res).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert!(headers.contains_key("request-id"), "{method} {uri}");
        assert_eq!(
            v["error"]["type"], "invalid_request_error",
            "{method} {uri}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("({method}: {uri})")),
            "{method} {uri}: {message}"
        );
    }
}

// ── The serving loop: refusals before routing ─────────────────────────────

/// The server's body timeout here: short, so the 408 tests stay fast.
const BODY_TIMEOUT: Duration = Duration::from_secs(1);
/// Far longer than any answer takes: reaching it means the server held on.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// `mirra serve`'s serving loop on a loopback port, with one Stripe session.
struct Server {
    _dir: tempfile::TempDir,
    port: u16,
    session: String,
    key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let all = mirrors::all();
        let sessions = sessions(&dir, &all);
        let created = sessions
            .create(WS, CreateSession::default())
            .await
            .expect("session");
        let key = created.mirrors["stripe"].credentials["secret_key"].clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = format!("http://127.0.0.1:{port}");
        let config = ServeConfig {
            body_timeout: BODY_TIMEOUT,
            log_requests: false,
            mirror_names: all.iter().map(|m| m.def.name()).collect(),
            ..ServeConfig::default()
        };
        let app = router(AppState::new(sessions, TOKEN, WS, &url, all));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, config, async move {
            let _ = stopped.await;
        }));
        Server {
            _dir: dir,
            port,
            session: created.id,
            key,
            stop: Some(stop),
        }
    }

    /// The three ways a Stripe SDK names this session's mirror, as (what,
    /// path below the server, Host header).
    fn mirror_routes(&self) -> [(&'static str, String, String); 3] {
        let plain = format!("127.0.0.1:{}", self.port);
        let suffix = self.session.trim_start_matches("ses_");
        [
            (
                "path",
                format!("/m/{}/stripe/v1/customers", self.session),
                plain.clone(),
            ),
            (
                "host",
                "/v1/customers".to_string(),
                format!("stripe-{suffix}.localhost:{}", self.port),
            ),
            ("credential", "/v1/customers".to_string(), plain),
        ]
    }

    /// Sends a POST head declaring `length` body bytes, then `sent` of them,
    /// and reads the one answer.
    async fn post(&self, path: &str, host: &str, auth: &str, length: usize, sent: &[u8]) -> Answer {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {auth}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("head");
        s.write_all(sent).await.expect("body");
        tokio::time::timeout(HANG_GUARD, read_answer(&mut s))
            .await
            .expect("an answer, not a hang")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One HTTP/1.1 response: status, lowercase head, body as JSON.
struct Answer {
    status: u16,
    head: String,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim)
    }

    /// Stripe's error hash: `invalid_request_error` with a message, the
    /// `request-id` and `stripe-version` headers SDKs read, and the connection
    /// closed (its unread body is never read).
    fn assert_stripe_error(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: {}{}", self.head, self.json);
        let error = &self.json["error"];
        assert_eq!(
            error["type"], "invalid_request_error",
            "{what}: {}",
            self.json
        );
        assert!(error["message"].is_string(), "{what}: {}", self.json);
        assert!(
            self.header("request-id")
                .is_some_and(|v| v.starts_with("req_")),
            "{what}: no request-id in {}",
            self.head
        );
        assert!(
            self.header("stripe-version").is_some(),
            "{what}: {}",
            self.head
        );
        assert_eq!(
            self.header("connection"),
            Some("close"),
            "{what}: {}",
            self.head
        );
    }
}

/// The one answer to a refused request: the server closes the connection
/// after it, so it is everything up to the end of the stream.
async fn read_answer(s: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read to the close");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole answer");
    let head = head.to_ascii_lowercase();
    Answer {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        json: serde_json::from_str(body).unwrap_or(Value::Null),
        head,
    }
}

/// A Content-Length over the limit on a Stripe request — by path, host or key —
/// is Stripe's 413, answered before any of the body is read.
#[tokio::test]
async fn an_oversized_body_for_a_stripe_mirror_is_a_stripe_413_however_it_is_routed() {
    let srv = Server::start().await;
    for (what, path, host) in srv.mirror_routes() {
        let a = srv.post(&path, &host, &srv.key, 5 << 20, b"").await;
        a.assert_stripe_error(413, what);
        let message = a.json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("1 MiB"), "{what}: {message}");
    }
}

/// A Stripe request whose body stalls gets Stripe's 408 once the body timeout
/// passes — by path, host or key.
#[tokio::test]
async fn a_stalled_body_for_a_stripe_mirror_is_a_stripe_408_however_it_is_routed() {
    let srv = Server::start().await;
    let answers = srv.mirror_routes().map(|(what, path, host)| {
        let srv = &srv;
        async move { (what, srv.post(&path, &host, &srv.key, 100, b"email=").await) }
    });
    let [a, b, c] = answers;
    let (a, b, c) = tokio::join!(a, b, c);
    for (what, answer) in [a, b, c] {
        answer.assert_stripe_error(408, what);
    }
}

/// The control plane's own paths keep its shape for both refusals, even when
/// the request also carries a Stripe key.
#[tokio::test]
async fn the_control_plane_keeps_its_json_shape_for_refused_bodies() {
    let srv = Server::start().await;
    let host = format!("127.0.0.1:{}", srv.port);
    let too_large = srv.post("/v1/sessions", &host, TOKEN, 5 << 20, b"").await;
    let stalled = srv.post("/v1/sessions", &host, &srv.key, 100, b"{").await;
    for (a, status, message) in [
        (
            too_large,
            413,
            "request body is larger than the 1 MiB limit",
        ),
        (stalled, 408, "the request body did not arrive within 1 s"),
    ] {
        assert_eq!(a.status, status, "{}{}", a.head, a.json);
        assert_eq!(
            a.json,
            serde_json::json!({"error": {"type": "invalid_request", "message": message}}),
        );
        assert_eq!(a.header("connection"), Some("close"), "{}", a.head);
        assert_eq!(a.header("request-id"), None, "{}", a.head);
    }
}
