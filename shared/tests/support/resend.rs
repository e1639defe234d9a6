//! The whole API (`shared::api::router`, every mirror) with sessions of the
//! Resend mirror, for tests that speak HTTP to it through
//! `tower::ServiceExt::oneshot`: the mirror at `/m/{session}/resend`, the
//! server's root (credential routing) and the control plane alike.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::dispatch::Dispatcher;
use shared::mirrors;
use shared::session::{Clock, ManualClock, Sessions};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::traces::{TraceSettings, Traces};
use tower::ServiceExt;

/// The control plane's workspace token in these tests.
pub const TOKEN: &str = "test-token";

/// 2026-01-01T00:00:00Z: where the tests' clock starts.
pub const START_MS: i64 = 1_767_225_600_000;

pub struct Api {
    _dir: tempfile::TempDir,
    pub app: Router,
    pub sessions: Arc<Sessions>,
    pub clock: Arc<ManualClock>,
    pub dispatcher: Arc<Dispatcher>,
    /// The trace pipeline, for an API made [`with_traces`](Api::with_traces).
    pub traces: Option<Arc<Traces>>,
}

/// One session with a Resend mirror: its id and API key.
pub struct Ses {
    pub id: String,
    pub key: String,
    /// The session as `POST /v1/sessions` answered it.
    pub json: Value,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    /// Asserts a 200 and returns the body.
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        self.json
    }

    /// Asserts a 201 and returns the body.
    pub fn created(self) -> Value {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.json);
        self.json
    }

    /// Asserts Resend's error body: this status and name, exactly three fields.
    pub fn refused(&self, status: u16, name: &str) -> &str {
        assert_eq!(self.status.as_u16(), status, "{}", self.json);
        assert_eq!(self.json["name"], name, "{}", self.json);
        assert_eq!(self.json["statusCode"], status, "{}", self.json);
        let keys: Vec<&String> = self.json.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["statusCode", "name", "message"], "{}", self.json);
        self.json["message"].as_str().expect("message")
    }
}

impl Api {
    pub fn new() -> Self {
        Self::build(None)
    }

    /// The API tracing every mirror request into a JSONL stream in its
    /// temporary data dir (`traces_dir`), as `mirra serve` does.
    pub async fn with_traces() -> Self {
        Self::build(Some(TraceSettings::default()))
    }

    /// [`with_traces`](Api::with_traces), also into the Redis / PostgreSQL
    /// that `settings` name.
    pub async fn with_trace_settings(settings: TraceSettings) -> Self {
        Self::build(Some(settings))
    }

    /// Where [`with_traces`](Api::with_traces) writes the stream's data dir.
    pub fn traces_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    fn build(traced: Option<TraceSettings>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = SqliteSessionTable::in_memory().expect("session table");
        let store = FsObjectStore::open(dir.path().join("objects")).expect("object store");
        let clock = Arc::new(ManualClock::new(START_MS));
        let all = mirrors::all();
        let sessions = Arc::new(Sessions::new(
            Arc::new(table),
            Arc::new(store),
            clock.clone() as Arc<dyn Clock>,
            all.iter().map(|m| m.def.clone()).collect(),
        ));
        let mut state = AppState::new(
            sessions.clone(),
            TOKEN,
            "local",
            "http://127.0.0.1:4400",
            all,
        );
        let traces = traced.map(|settings| {
            let (setup, _) = settings.setup(Some(dir.path())).expect("trace setup");
            Traces::start_with(setup, sessions.clone())
        });
        if let Some(t) = &traces {
            state = state.with_traces(t.clone());
        }
        let dispatcher = Arc::new(Dispatcher::new(sessions.clone()));
        Api {
            _dir: dir,
            app: router(state),
            sessions,
            clock,
            dispatcher,
            traces,
        }
    }

    /// A session created through the control plane with `body`
    /// (`{"mirrors": ["resend"]}` and more).
    pub async fn session_with(&self, body: Value) -> Ses {
        let r = self.control(Method::POST, "/v1/sessions", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        let key = r.json["mirrors"]["resend"]["credentials"]["api_key"]
            .as_str()
            .expect("api_key")
            .to_string();
        Ses {
            id: r.json["id"].as_str().expect("id").to_string(),
            key,
            json: r.json,
        }
    }

    /// A session with only the Resend mirror, default seed.
    pub async fn session(&self) -> Ses {
        self.session_with(json!({"mirrors": ["resend"]})).await
    }

    /// A control-plane request with the workspace token.
    pub async fn control(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        let body = body.map(|b| b.to_string());
        self.raw(method, uri, &[("authorization", &auth)], body.as_deref())
            .await
    }

    /// A request to the session's mirror (`/m/{session}/resend{path}`) with its key.
    pub async fn call(&self, s: &Ses, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_with(s, method, path, body, &[]).await
    }

    /// [`call`](Self::call) with extra headers.
    pub async fn call_with(
        &self,
        s: &Ses,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let auth = format!("Bearer {}", s.key);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        let body = body.map(|b| b.to_string());
        let uri = format!("/m/{}/resend{path}", s.id);
        self.raw(method, &uri, &all, body.as_deref()).await
    }

    pub async fn get(&self, s: &Ses, path: &str) -> Resp {
        self.call(s, Method::GET, path, None).await
    }

    pub async fn post(&self, s: &Ses, path: &str, body: Value) -> Resp {
        self.call(s, Method::POST, path, Some(body)).await
    }

    /// `POST /emails`, asserting a 200; returns the new email's id.
    pub async fn send(&self, s: &Ses, body: Value) -> String {
        let r = self.post(s, "/emails", body).await.ok();
        r["id"].as_str().expect("id").to_string()
    }

    /// Any request: headers as given, a JSON body when there is one.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        Resp {
            status,
            headers,
            json,
        }
    }

    /// The tests' clock, Unix milliseconds.
    pub fn clock_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Moves the clock and lets the dispatcher do what is due.
    pub async fn advance_ms(&self, ms: i64) {
        self.clock.advance_ms(ms);
        self.dispatcher.sweep().await.expect("sweep");
    }

    /// The session's inbox (`GET /v1/sessions/{id}/inbox`, with a query).
    pub async fn inbox(&self, s: &Ses, query: &str) -> Vec<Value> {
        let r = self
            .control(
                Method::GET,
                &format!("/v1/sessions/{}/inbox{query}", s.id),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json["data"].as_array().expect("data").clone()
    }
}

/// A minimal valid email from the seed's verified domain.
pub fn email(to: &str) -> Value {
    json!({
        "from": "Acme <hello@example.com>",
        "to": to,
        "subject": "Hi",
        "html": "<p>Hello</p>",
    })
}
