//! Session lifecycle costs on the embedded backends (`cargo bench -p mirra-shared`):
//! create with a cached config (in-process and over HTTP), and reset of one
//! mirror to `stripe:default`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::api::{router, AppState};
use shared::config::Backends;
use shared::session::{CreateSession, ResetSession, Sessions};

const TOKEN: &str = "bench";

fn sessions(dir: &std::path::Path) -> (Arc<Sessions>, Vec<shared::mirrors::Mirror>) {
    Backends::embedded(dir).expect("backends").into_sessions()
}

fn stripe_default() -> CreateSession {
    CreateSession {
        mirrors: Some(vec!["stripe".into()]),
        ..Default::default()
    }
}

fn session_create_cached(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _) = sessions(dir.path());
    // Build the image once; every measured create then reuses it.
    rt.block_on(s.create("ws", stripe_default())).expect("warm");
    c.bench_function("session_create_cached_in_process", |b| {
        b.to_async(&rt).iter(|| async {
            let created = s.create("ws", stripe_default()).await.expect("create");
            assert!(created.cached);
        })
    });
}

fn session_reset(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _) = sessions(dir.path());
    let session = rt
        .block_on(s.create("ws", stripe_default()))
        .expect("create");
    c.bench_function("reset_one_mirror_to_stripe_default", |b| {
        b.to_async(&rt).iter(|| async {
            s.reset("ws", &session.id, ResetSession::default())
                .await
                .expect("reset");
        })
    });
}

fn session_create_over_http(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, mirrors) = sessions(dir.path());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(AppState::new(s, TOKEN, "local", &url, mirrors));
    rt.spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::blocking::Client::new();
    let create = || {
        let resp = http
            .post(format!("{url}/v1/sessions"))
            .bearer_auth(TOKEN)
            .body(r#"{"mirrors":["stripe"]}"#)
            .send()
            .expect("POST /v1/sessions");
        assert_eq!(resp.status().as_u16(), 201);
    };
    create();
    c.bench_function("session_create_cached_over_http", |b| b.iter(create));
}

criterion_group!(
    benches,
    session_create_cached,
    session_reset,
    session_create_over_http
);
criterion_main!(benches);
