//! A webhook receiver on loopback: answers 200 and records every POST's
//! headers and body, for tests of what the dispatcher delivers.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;

/// What a receiver got: headers and body of each POST.
pub type Got = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// Starts a receiver; its URL (`http://127.0.0.1:…/hook`) and what it got.
pub async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let g = g.clone();
            async move {
                g.lock()
                    .expect("lock")
                    .push((headers, String::from_utf8_lossy(&body).into_owned()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}
