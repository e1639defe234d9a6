//! A Stripe mirror behind its router, with sessions, for tests that speak
//! HTTP to it through `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::mirrors::stripe::{self, Stripe};
use shared::session::{Clock, CreateSession, Door, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

pub struct Mirror {
    _dir: tempfile::TempDir,
    pub app: Router,
    pub sessions: Arc<Sessions>,
}

/// One session of the mirror: its id and secret key.
pub struct Ses {
    pub id: String,
    pub key: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub json: Value,
}

impl Mirror {
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A mirror whose sessions (and dispatcher) read time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
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
            .with_state(Door::new(sessions.clone()));
        Mirror {
            _dir: dir,
            app,
            sessions,
        }
    }

    pub async fn session(&self) -> Ses {
        self.session_with(CreateSession::default()).await
    }

    pub async fn session_with(&self, req: CreateSession) -> Ses {
        let s = self
            .sessions
            .create("ws", req)
            .await
            .expect("create session");
        let key = s.mirrors["stripe"].credentials["secret_key"].clone();
        Ses { id: s.id, key }
    }

    /// `GET` (`body` None) or a form `POST`/`DELETE` to `path` below the mirror.
    pub async fn call(&self, s: &Ses, method: Method, path: &str, body: Option<&str>) -> Resp {
        self.call_with(s, method, path, body, &[]).await
    }

    /// [`call`](Self::call) with extra headers.
    pub async fn call_with(
        &self,
        s: &Ses,
        method: Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/m/{}/stripe{path}", s.id))
            .header("authorization", format!("Bearer {}", s.key));
        if body.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        Resp { status, json }
    }

    pub async fn get(&self, s: &Ses, path: &str) -> Resp {
        self.call(s, Method::GET, path, None).await
    }

    pub async fn post(&self, s: &Ses, path: &str, body: &str) -> Resp {
        self.call(s, Method::POST, path, Some(body)).await
    }
}
