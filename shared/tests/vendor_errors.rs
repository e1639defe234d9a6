//! What generic code answers for a mirror comes in the mirror's vendor shape,
//! so a Stripe SDK raises its own error class with a `request-id`: a URL no
//! route of the mirror serves, and a handler that panics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::api::{router, AppState};
use shared::mirrors::{self, stripe, Mirror};
use shared::session::{Door, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
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
