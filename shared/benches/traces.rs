//! Trace costs (`cargo bench -p mirra-shared --bench traces`):
//!
//! * `keep` — what the writer does to a record's bodies (redact and cut);
//! * `append` — one batch of 512 records into each sink (JSONL; Redis and
//!   PostgreSQL when they answer at `MIRRA_TEST_REDIS_URL` /
//!   `MIRRA_TEST_DATABASE_URL`, default 127.0.0.1);
//! * `pipeline` — 20,000 records handed to the recorder and carried into
//!   Redis and on into PostgreSQL by the mover, until flushed: sustained
//!   traces/s; every run checks that PostgreSQL holds every record once and
//!   nothing was dropped;
//! * `request` — one Resend request through the whole router with tracing
//!   off, on (the JSONL stream, as `mirra serve`), into Redis with each
//!   answer waiting for its records (the AWS Lambda mode), and into the JSONL
//!   stream, Redis and PostgreSQL: the latency tracing adds to a request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use criterion::{BenchmarkId, Criterion, Throughput};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::config::Backends;
use shared::session::{Sessions, SystemClock};
use shared::traces::conformance::record;
use shared::traces::jsonl::JsonlSink;
use shared::traces::layer::kept;
use shared::traces::postgres::PgSink;
use shared::traces::record::new_id;
use shared::traces::recorder::QUEUE;
use shared::traces::redis::RedisSink;
use shared::traces::{TraceRecord, TraceSettings, TraceSink, Traces};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const TOKEN: &str = "bench-token";

fn redis_url() -> String {
    std::env::var("MIRRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn pg_url() -> String {
    std::env::var("MIRRA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{:08x}", rand::random::<u32>())
}

/// A request record with bodies of a typical size (a Stripe customer).
fn sample(session: &str, i: usize) -> TraceRecord {
    let mut r = record(session, &new_id(i as i64), i as i64, 200, "stripe");
    r.request_body =
        Some("email=jenny.rosen%40example.com&name=Jenny+Rosen&metadata%5Border%5D=6735".into());
    r.response_body = Some(customer().to_string());
    r
}

fn customer() -> Value {
    json!({"id": "cus_NffrFeUfNV2Hib", "object": "customer", "address": null, "balance": 0,
        "created": 1680893993, "currency": null, "default_source": null, "delinquent": false,
        "description": null, "discount": null, "email": "jennyrosen@example.com",
        "invoice_prefix": "0759376C", "invoice_settings": {"custom_fields": null,
        "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false, "metadata": {"order": "6735"}, "name": "Jenny Rosen", "next_invoice_sequence": 1,
        "phone": null, "preferred_locales": [], "shipping": null, "tax_exempt": "none",
        "test_clock": null})
}

fn keep(c: &mut Criterion) {
    let request = b"email=jenny.rosen%40example.com&name=Jenny+Rosen&source=tok_visa&metadata%5Border%5D=6735".to_vec();
    let response = customer().to_string().into_bytes();
    let mut g = c.benchmark_group("keep");
    g.bench_function("form request", |b| b.iter(|| kept(&request)));
    g.bench_function("json response 1 KB", |b| b.iter(|| kept(&response)));
    g.finish();
}

async fn reachable_redis() -> Option<Arc<RedisSink>> {
    let sink = Arc::new(RedisSink::new(&redis_url(), &unique("mirra_bench")).ok()?);
    sink.conn().await.ok()?;
    Some(sink)
}

/// A PostgreSQL sink in a schema of its own (dropped by [`cleanup`]), if
/// PostgreSQL answers.
async fn reachable_pg() -> Option<(Arc<PgSink>, String)> {
    let schema = unique("mirra_bench");
    let sink = Arc::new(PgSink::new(&pg_url(), &schema).ok()?);
    sink.migrate().await.ok()?;
    Some((sink, schema))
}

/// Whether Redis and PostgreSQL both answer (leaving nothing behind).
async fn both_reachable() -> bool {
    let redis = reachable_redis().await;
    let pg = reachable_pg().await;
    let both = redis.is_some() && pg.is_some();
    cleanup(
        redis.as_deref(),
        pg.as_ref().map(|(p, _)| &**p),
        pg.as_ref().map(|(_, s)| s.as_str()),
    )
    .await;
    both
}

async fn cleanup(redis: Option<&RedisSink>, pg: Option<&PgSink>, schema: Option<&str>) {
    if let Some(r) = redis {
        let _ = r.delete_all().await;
    }
    if let (Some(p), Some(schema)) = (pg, schema) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p.pool())
            .await;
    }
}

fn append(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sinks: Vec<(&str, Arc<dyn TraceSink>)> =
        vec![("jsonl", Arc::new(JsonlSink::new(dir.path())))];
    let redis = rt.block_on(reachable_redis());
    let pg = rt.block_on(reachable_pg());
    match &redis {
        Some(r) => sinks.push(("redis", r.clone())),
        None => eprintln!("append/redis skipped: no Redis at {}", redis_url()),
    }
    match &pg {
        Some((p, _)) => sinks.push(("postgres", p.clone())),
        None => eprintln!("append/postgres skipped: no PostgreSQL at {}", pg_url()),
    }
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(512));
    for (name, sink) in &sinks {
        let mut n = 0usize;
        g.bench_with_input(BenchmarkId::new("512 records", name), sink, |b, sink| {
            b.to_async(rt).iter(|| {
                let batch: Vec<TraceRecord> = (0..512)
                    .map(|i| {
                        n += 1;
                        sample(&format!("ses_b{:03}", i % 64), n)
                    })
                    .collect();
                let sink = sink.clone();
                async move { sink.append(&batch).await.expect("append") }
            });
        });
    }
    g.finish();
    rt.block_on(cleanup(
        redis.as_deref(),
        pg.as_ref().map(|(p, _)| &**p),
        pg.as_ref().map(|(_, s)| s.as_str()),
    ));
}

fn sessions() -> (
    Arc<Sessions>,
    Vec<shared::mirrors::Mirror>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backends = Backends::embedded(dir.path()).expect("embedded");
    let (sessions, mirrors) = backends.sessions(Arc::new(SystemClock), Default::default());
    (sessions, mirrors, dir)
}

fn pipeline(c: &mut Criterion, rt: &Runtime) {
    const N: usize = 20_000;
    if !rt.block_on(both_reachable()) {
        eprintln!("pipeline skipped: needs Redis and PostgreSQL");
        return;
    }
    let (prefix, schema) = (unique("mirra_bench"), unique("mirra_bench"));
    let (sessions, _, _dir) = sessions();
    let settings = TraceSettings {
        redis_url: Some(redis_url()),
        database_url: Some(pg_url()),
        redis_prefix: Some(prefix.clone()),
        database_schema: Some(schema.clone()),
        ..TraceSettings::default()
    };
    let traces = rt.block_on(async {
        let (setup, _) = settings.setup(None).expect("setup");
        Traces::start_with(setup, sessions.clone())
    });
    let pg = PgSink::new(&pg_url(), &schema).expect("pg");
    let mut sent = 0usize;
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("20,000 records into Redis and PostgreSQL", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let traces = traces.clone();
            let start_at = sent;
            sent += N * iters as usize;
            async move {
                let started = Instant::now();
                for i in 0..N * iters as usize {
                    // As fast as the writer takes them: the queue holds 8,192.
                    while traces.queued() > QUEUE / 2 {
                        tokio::task::yield_now().await;
                    }
                    traces.record(sample(&format!("ses_p{:03}", i % 100), start_at + i));
                }
                traces.flush().await;
                started.elapsed()
            }
        });
    });
    g.finish();
    let stored = rt.block_on(pg.count()).expect("count");
    eprintln!(
        "pipeline: {sent} records recorded, {stored} in PostgreSQL, {} dropped",
        traces.dropped()
    );
    assert_eq!(traces.dropped(), 0, "the bench must not drop records");
    assert_eq!(stored as usize, sent, "every record in PostgreSQL, once");
    let redis = RedisSink::new(&redis_url(), &prefix).expect("redis");
    rt.block_on(cleanup(Some(&redis), Some(&pg), Some(&schema)));
}

struct App {
    app: Router,
    session: String,
    key: String,
    email: String,
    _dir: tempfile::TempDir,
}

async fn call(app: &Router, method: Method, uri: &str, auth: &str, body: Option<&Value>) -> Value {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {auth}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("answer");
    assert!(res.status().is_success(), "{}", res.status());
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn app(settings: Option<TraceSettings>) -> App {
    let (sessions, mirrors, dir) = sessions();
    let mut state = AppState::new(
        sessions.clone(),
        TOKEN,
        "local",
        "http://127.0.0.1:4400",
        mirrors,
    );
    if let Some(settings) = settings {
        // The Lambda mode writes no local stream: Redis only.
        let local = (!settings.flush_each_request).then(|| dir.path());
        let (setup, _) = settings.setup(local).expect("setup");
        state = state.with_traces(Traces::start_with(setup, sessions));
    }
    let app = router(state);
    let s = call(
        &app,
        Method::POST,
        "/v1/sessions",
        TOKEN,
        Some(&json!({"mirrors": ["resend"], "rate_limit": 0})),
    )
    .await;
    let session = s["id"].as_str().expect("id").to_string();
    let key = s["mirrors"]["resend"]["credentials"]["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let email = json!({"from": "Acme <hello@example.com>", "to": "a@test.dev", "subject": "Hi", "html": "<p>Hello</p>"});
    let sent = call(
        &app,
        Method::POST,
        &format!("/m/{session}/resend/emails"),
        &key,
        Some(&email),
    )
    .await;
    App {
        app,
        session,
        key,
        email: sent["id"].as_str().expect("email id").to_string(),
        _dir: dir,
    }
}

fn request(c: &mut Criterion, rt: &Runtime) {
    let mut variants = vec![("off", None), ("jsonl", Some(TraceSettings::default()))];
    if rt.block_on(reachable_redis()).is_some() {
        variants.push((
            "redis, flushed before each answer (Lambda)",
            Some(TraceSettings {
                redis_url: Some(redis_url()),
                redis_prefix: Some(unique("mirra_bench")),
                flush_each_request: true,
                ..TraceSettings::default()
            }),
        ));
    }
    if rt.block_on(both_reachable()) {
        variants.push((
            "jsonl+redis+postgres",
            Some(TraceSettings {
                redis_url: Some(redis_url()),
                database_url: Some(pg_url()),
                redis_prefix: Some(unique("mirra_bench")),
                database_schema: Some(unique("mirra_bench")),
                ..TraceSettings::default()
            }),
        ));
    }
    let email = json!({"from": "Acme <hello@example.com>", "to": "b@test.dev", "subject": "Hi", "html": "<p>Hello</p>"});
    let mut g = c.benchmark_group("request");
    for (name, settings) in variants {
        let cleanup_names = settings
            .as_ref()
            .map(|s| (s.redis_prefix.clone(), s.database_schema.clone()));
        let a = rt.block_on(app(settings));
        let get = format!("/m/{}/resend/emails/{}", a.session, a.email);
        g.bench_function(BenchmarkId::new("resend retrieve email", name), |b| {
            b.to_async(rt)
                .iter(|| call(&a.app, Method::GET, &get, &a.key, None));
        });
        let post = format!("/m/{}/resend/emails", a.session);
        g.bench_function(BenchmarkId::new("resend send email", name), |b| {
            b.to_async(rt)
                .iter(|| call(&a.app, Method::POST, &post, &a.key, Some(&email)));
        });
        // Percentiles, which criterion does not report: 5,000 of each, one
        // at a time.
        for (what, method, uri, body) in [
            ("retrieve", Method::GET, get.as_str(), None),
            ("send", Method::POST, post.as_str(), Some(&email)),
        ] {
            let mut took: Vec<Duration> = rt.block_on(async {
                let mut took = Vec::with_capacity(5000);
                for _ in 0..5000 {
                    let t = Instant::now();
                    call(&a.app, method.clone(), uri, &a.key, body).await;
                    took.push(t.elapsed());
                }
                took
            });
            took.sort();
            eprintln!(
                "request/resend {what} email/{name}: p50 {:.1} µs, p99 {:.1} µs",
                took[took.len() / 2].as_secs_f64() * 1e6,
                took[took.len() * 99 / 100].as_secs_f64() * 1e6
            );
        }
        if let Some((Some(prefix), schema)) = cleanup_names {
            let redis = RedisSink::new(&redis_url(), &prefix).expect("redis");
            let pg = schema
                .as_deref()
                .map(|schema| PgSink::new(&pg_url(), schema).expect("pg"));
            rt.block_on(cleanup(Some(&redis), pg.as_ref(), schema.as_deref()));
        }
    }
    g.finish();
}

fn main() {
    let rt = Runtime::new().expect("runtime");
    // Pools and writer tasks start on it.
    let _entered = rt.enter();
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    keep(&mut c);
    append(&mut c, &rt);
    pipeline(&mut c, &rt);
    request(&mut c, &rt);
    c.final_summary();
}
