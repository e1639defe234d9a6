//! Session lifecycle costs on the embedded backends (`cargo bench -p mirra-shared`):
//! create with a cached config (in-process and over HTTP), and within a
//! plan's limits beside 0 and 1,000 live sessions; reset of one mirror
//! to `stripe:default`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use shared::api::{router, AppState};
use shared::config::Backends;
use shared::session::{CreateSession, ResetSession, Sessions};
use shared::workspace::Limits;

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
    shared::tls::install_provider();
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

/// What a plan's limits cost a create: the workspace's sessions are counted
/// before and after it (and this month's minutes added up), so the cost grows
/// with the sessions it runs. Each measured create is ended again, untimed,
/// so the count stays where it was set up.
fn session_create_within_a_plan(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("session_create_within_a_plan");
    for live in [0usize, 1_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = sessions(dir.path());
        for _ in 0..live {
            rt.block_on(s.create("ws", stripe_default())).expect("live");
        }
        let concurrent = Limits {
            concurrent_sessions: Some(1_000_000),
            ..Limits::NONE
        };
        let and_minutes = Limits {
            minutes_per_month: Some(u64::MAX),
            ..concurrent.clone()
        };
        for (name, limits) in [
            ("no_limits", Limits::NONE),
            ("concurrent_limit", concurrent),
            ("concurrent_and_minutes_limits", and_minutes),
        ] {
            group.bench_function(format!("{name}_{live}_live"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (s, limits) = (s.clone(), limits.clone());
                    async move {
                        let mut spent = std::time::Duration::ZERO;
                        for _ in 0..iters {
                            let started = std::time::Instant::now();
                            let created = s
                                .create_within("ws", &limits, stripe_default())
                                .await
                                .expect("create");
                            spent += started.elapsed();
                            s.down("ws", &created.id).await.expect("down");
                        }
                        spent
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    session_create_cached,
    session_reset,
    session_create_over_http,
    session_create_within_a_plan
);
criterion_main!(benches);
