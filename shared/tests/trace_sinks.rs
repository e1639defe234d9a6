//! The Redis Streams and PostgreSQL trace sinks against real servers on
//! loopback (`infra/services` starts them for `infra/test`; the URLs come
//! from `MIRRA_TEST_REDIS_URL` / `MIRRA_TEST_DATABASE_URL`, defaulting to
//! 127.0.0.1:6379 and 127.0.0.1:5432/test). Each test keeps to its own
//! Redis key prefix and PostgreSQL schema.
//!
//! Both run the one `TraceSink` conformance suite; PostgreSQL stores a
//! record delivered twice once, and loses nothing its buffer took while it
//! was stopped and started again (a throwaway cluster, `infra/pg`); the
//! mover carries Redis into PostgreSQL and takes over what a consumer that
//! died left pending; with Redis down, requests still succeed and the drop
//! counter moves; live tails (SSE) follow this process or Redis.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::traces::conformance::{self, record};
use shared::traces::mover::{Mover, GROUP};
use shared::traces::output::Output;
use shared::traces::postgres::PgSink;
use shared::traces::record::{new_id, rfc3339};
use shared::traces::redis::RedisSink;
use shared::traces::{TraceRecord, TraceSettings, TraceSink};
use support::resend::{email, Api, START_MS, TOKEN};
use tower::ServiceExt;

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

/// A Redis sink under a prefix of its own.
fn redis_sink() -> Arc<RedisSink> {
    Arc::new(RedisSink::new(&redis_url(), &unique("mirra_test")).expect("redis url"))
}

/// A PostgreSQL sink in a schema of its own, and that schema's name.
fn pg_sink(url: &str) -> (Arc<PgSink>, String) {
    let schema = unique("mirra_test");
    (
        Arc::new(PgSink::new(url, &schema).expect("postgres url")),
        schema,
    )
}

async fn drop_schema(sink: &PgSink, schema: &str) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(sink.pool())
        .await
        .expect("drop schema");
}

fn records(session: &str, n: usize) -> Vec<TraceRecord> {
    (0..n)
        .map(|i| {
            record(
                session,
                &new_id(START_MS + i as i64),
                START_MS + i as i64,
                200,
                "stripe",
            )
        })
        .collect()
}

#[tokio::test]
async fn redis_sink_keeps_the_sink_contract() {
    let sink = redis_sink();
    conformance::run(&*sink).await;
    assert!(
        sink.delete_all().await.expect("clean up") >= 2,
        "its streams"
    );
}

#[tokio::test]
async fn postgres_sink_keeps_the_sink_contract() {
    let (sink, schema) = pg_sink(&pg_url());
    conformance::run(&*sink).await;
    drop_schema(&sink, &schema).await;
}

/// At-least-once delivery (a retry after a lost answer, a mover that died
/// between commit and acknowledgement) never duplicates a row.
#[tokio::test]
async fn postgres_stores_a_record_delivered_twice_once() {
    let (sink, schema) = pg_sink(&pg_url());
    let batch = records("ses_dup1", 300);
    sink.append(&batch).await.expect("append");
    sink.append(&batch[100..]).await.expect("append again");
    sink.append(&batch).await.expect("and again");
    assert_eq!(sink.count().await.expect("count"), 300);
    drop_schema(&sink, &schema).await;
}

/// PostgreSQL stopped and started again in the middle of a load: the
/// records the output's buffer took while it was away are all written once
/// it is back, none twice, none dropped.
#[tokio::test]
async fn postgres_stopped_and_restarted_mid_load_loses_nothing_the_buffer_took() {
    let dir = std::env::temp_dir().join(unique("mirra-pg"));
    let dir_s = dir.to_str().expect("utf-8 path").to_string();
    let run = |args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/pg"))
            .args(args)
            .output()
            .expect("infra/pg runs");
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(format!(
                "infra/pg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    };
    let infra = |args: &[&str]| run(args).unwrap_or_else(|e| panic!("{e}"));
    // A port the system just handed out and took back; another test may take
    // it before PostgreSQL binds it (seen once in CI), so a failed first start
    // tries another.
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    };
    let (url, port) = (0..5)
        .find_map(|_| {
            let port = free_port();
            run(&["start", &dir_s, &port.to_string()])
                .ok()
                .map(|u| (u, port))
        })
        .unwrap_or_else(|| panic!("PostgreSQL did not start in {dir_s} on 5 ports"));
    let (sink, _) = pg_sink(&url);
    let out = Output::start("postgres", sink.clone(), 100_000);
    let mut offered = 0;
    for round in 0..40 {
        if round == 10 {
            infra(&["stop", &dir_s]);
        }
        if round == 25 {
            assert!(
                out.health().failing || out.health().buffered > 0,
                "{:?}",
                out.health()
            );
            infra(&["start", &dir_s, &port.to_string()]);
        }
        let batch = records(&format!("ses_r{round:03}"), 50);
        offered += batch.len();
        out.offer(&batch);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), out.flush())
        .await
        .expect("the buffer drains once PostgreSQL is back");
    let stored = sink.count().await.expect("count");
    infra(&["destroy", &dir_s]);
    assert_eq!(out.dropped(), 0);
    assert_eq!(stored, offered as i64, "every record the buffer took, once");
}

/// A consumer of the mover's group reads `n` unread entries and dies before
/// acknowledging them: they stay pending until a mover takes them over.
async fn read_and_die(redis: &RedisSink, n: usize) {
    let mut conn = redis.conn().await.expect("redis");
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg("dead-consumer")
        .arg("COUNT")
        .arg(n)
        .arg("STREAMS")
        .arg(redis.all_key())
        .arg(">")
        .query_async(&mut conn)
        .await
        .expect("read");
}

/// The mover's consumer group carries Redis into PostgreSQL, once, and takes
/// over entries that a consumer read and never acknowledged (it died).
#[tokio::test]
async fn mover_carries_redis_into_postgres_and_takes_over_what_a_dead_consumer_left() {
    let redis = redis_sink();
    let (pg, schema) = pg_sink(&pg_url());
    let first = records("ses_mov1", 200);
    redis.append(&first).await.expect("xadd");
    // A consumer of the group reads 50 entries and dies before XACK.
    let mut conn = redis.conn().await.expect("redis");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(redis.all_key())
        .arg(GROUP)
        .arg("0")
        .query_async(&mut conn)
        .await
        .expect("group");
    read_and_die(&redis, 50).await;
    let mover = Mover::start(redis.clone(), pg.clone(), Duration::from_millis(200));
    redis.append(&records("ses_mov2", 100)).await.expect("xadd");
    // A retried batch (the recorder's at-least-once) adds entries again.
    redis.append(&first[..10]).await.expect("xadd again");
    tokio::time::timeout(Duration::from_secs(20), mover.drained())
        .await
        .expect("the group drains, the dead consumer's entries included")
        .expect("redis");
    assert_eq!(pg.count().await.expect("count"), 300, "each record once");
    assert!(mover.health().moved >= 310, "{:?}", mover.health());
    redis.delete_all().await.expect("clean up");
    drop_schema(&pg, &schema).await;
}

/// Where nothing runs between requests (AWS Lambda) the mover runs only when
/// the scheduled reaper asks: nothing moves by itself, `move_now` moves what
/// is there (what a consumer that died left pending included, once idle)
/// and answers how much, and a flush of such a pipeline never waits for
/// PostgreSQL.
#[tokio::test]
async fn a_scheduled_mover_moves_only_when_asked_and_flushes_do_not_wait_for_it() {
    let redis = redis_sink();
    let (pg, schema) = pg_sink(&pg_url());
    let mover = Mover::scheduled(redis.clone(), pg.clone(), Duration::from_millis(200));
    assert!(!mover.in_background());
    assert_eq!(mover.move_now().await.expect("empty stream"), 0);
    redis.append(&records("ses_sch1", 120)).await.expect("xadd");
    redis.append(&records("ses_sch2", 30)).await.expect("xadd");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pg.count().await.expect("count"), 0, "nothing moves unasked");
    assert_eq!(mover.move_now().await.expect("move"), 150);
    assert_eq!(pg.count().await.expect("count"), 150);
    // A consumer reads 30 new entries and dies before XACK.
    redis.append(&records("ses_sch3", 30)).await.expect("xadd");
    read_and_die(&redis, 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mover.move_now().await.expect("move"),
        30,
        "taken over once idle"
    );
    assert_eq!(pg.count().await.expect("count"), 180);
    assert_eq!(mover.move_now().await.expect("move"), 0);
    redis.delete_all().await.expect("clean up");
    drop_schema(&pg, &schema).await;

    // The whole pipeline: a request's flush stops at Redis.
    let prefix = unique("mirra_test");
    let schema = unique("mirra_test");
    let api = Api::with_trace_settings(TraceSettings {
        redis_url: Some(redis_url()),
        redis_prefix: Some(prefix.clone()),
        database_url: Some(pg_url()),
        database_schema: Some(schema.clone()),
        flush_each_request: true,
        scheduled_mover: true,
        ..TraceSettings::default()
    })
    .await;
    let s = api.session().await;
    api.send(&s, email("sched@test.dev")).await;
    let pg = PgSink::new(&pg_url(), &schema).expect("pg");
    assert_eq!(
        pg.count().await.unwrap_or(0),
        0,
        "requests do not wait for PostgreSQL"
    );
    let mover = api
        .traces
        .as_ref()
        .and_then(|t| t.mover())
        .expect("a mover")
        .clone();
    assert!(
        mover.move_now().await.expect("move") >= 2,
        "session.created and the request"
    );
    assert!(pg.count().await.expect("count") >= 2);
    RedisSink::new(&redis_url(), &prefix)
        .expect("redis")
        .delete_all()
        .await
        .expect("clean up");
    drop_schema(&pg, &schema).await;
}

async fn health(api: &Api) -> Value {
    let r = api.control(Method::GET, "/v1/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json
}

/// With Redis unreachable, mirror requests answer as before, the JSONL
/// stream keeps every record, and what Redis's small buffer cannot hold is
/// dropped and counted in `GET /v1/health` (never silently).
#[tokio::test]
async fn redis_down_requests_succeed_and_the_drop_counter_moves() {
    let api = Api::with_trace_settings(TraceSettings {
        redis_url: Some("redis://127.0.0.1:1".into()),
        buffer: Some(8),
        redis_prefix: Some(unique("mirra_test")),
        ..TraceSettings::default()
    })
    .await;
    let s = api.session().await;
    for i in 0..30 {
        api.send(&s, email(&format!("u{i}@test.dev"))).await;
    }
    let mut h = Value::Null;
    for _ in 0..100 {
        h = health(&api).await;
        if h["traces"]["dropped"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sinks = h["traces"]["sinks"].as_array().expect("sinks").clone();
    let redis = sinks
        .iter()
        .find(|s| s["sink"] == "redis")
        .expect("redis sink");
    let jsonl = sinks
        .iter()
        .find(|s| s["sink"] == "jsonl")
        .expect("jsonl sink");
    assert!(redis["dropped"].as_u64().unwrap_or(0) > 0, "{h}");
    assert_eq!(redis["buffered"], 8, "{h}");
    assert_eq!(redis["failing"], true, "{h}");
    assert_eq!(jsonl["dropped"], 0, "{h}");
    assert_eq!(h["traces"]["dropped"], redis["dropped"], "{h}");
    // The JSONL stream (the reader here) has every request.
    let mut listed = 0;
    for _ in 0..100 {
        let page = api
            .control(
                Method::GET,
                &format!("/v1/sessions/{}/traces?kind=request&limit=100", s.id),
                None,
            )
            .await;
        listed = page.json["data"].as_array().map_or(0, Vec::len);
        if listed == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed, 30);
}

/// Opens `GET /v1/sessions/{id}/traces/stream{query}` and returns the body.
async fn open_stream(api: &Api, session: &str, query: &str, last_event: Option<&str>) -> Body {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/sessions/{session}/traces/stream{query}"))
        .header("authorization", format!("Bearer {TOKEN}"));
    if let Some(id) = last_event {
        req = req.header("last-event-id", id);
    }
    let res = api
        .app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    res.into_body()
}

/// The next `n` `trace` events' records (skipping comments), waiting up to 10 s.
async fn next_records(body: &mut Body, n: usize) -> Vec<Value> {
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .expect("a frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: trace") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                let id = event
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .expect("id line");
                let record: Value = serde_json::from_str(data).expect("json record");
                assert_eq!(record["id"], id, "the event id is the trace id");
                out.push(record);
            }
        }
    }
    out
}

/// In one process: the stream sends each matching record as its request is
/// answered, and a reconnect with `Last-Event-ID` first sends what it missed.
#[tokio::test]
async fn stream_sends_each_record_as_it_happens_and_catches_up_after_a_reconnect() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    let mut body = open_stream(&api, &s.id, "?kind=request", None).await;
    let first = api.send(&s, email("a@test.dev")).await;
    api.get(&s, "/emails/not-a-uuid").await;
    let got = next_records(&mut body, 2).await;
    assert_eq!(got[0]["method"], "POST");
    assert!(got[0]["response_body"]
        .as_str()
        .unwrap_or("")
        .contains(&first));
    assert_eq!(got[1]["status"], 422);
    drop(body);

    // Two more while nobody listens; a reconnect names the last it saw.
    api.send(&s, email("b@test.dev")).await;
    api.send(&s, email("c@test.dev")).await;
    let seen = got[1]["id"].as_str().expect("id");
    let mut body = open_stream(&api, &s.id, "?kind=request&status=2xx", Some(seen)).await;
    let missed = next_records(&mut body, 2).await;
    assert!(missed
        .iter()
        .all(|r| r["status"] == 200 && r["id"].as_str() > Some(seen)));
    api.send(&s, email("d@test.dev")).await;
    let live = next_records(&mut body, 1).await;
    assert!(live[0]["request_body"]
        .as_str()
        .unwrap_or("")
        .contains("d@test.dev"));
}

/// With Redis, a tail reads the session's stream there, so it sees records
/// that another instance wrote (appended here straight to Redis, as that
/// instance's writer would).
#[tokio::test]
async fn stream_from_redis_sees_records_another_instance_wrote() {
    let prefix = unique("mirra_test");
    let api = Api::with_trace_settings(TraceSettings {
        redis_url: Some(redis_url()),
        redis_prefix: Some(prefix.clone()),
        ..TraceSettings::default()
    })
    .await;
    let s = api.session().await;
    api.traces.as_ref().expect("traced").flush().await;
    let mut body = open_stream(&api, &s.id, "?kind=request", None).await;
    let other = RedisSink::new(&redis_url(), &prefix).expect("redis");
    let live = api.sessions.find(&s.id).await.expect("live session");
    let mut elsewhere = record(&s.id, &new_id(START_MS), START_MS, 201, "resend");
    elsewhere.workspace = Some(live.workspace);
    elsewhere.incarnation = Some(live.incarnation);
    elsewhere.time = rfc3339(START_MS);
    other
        .append(std::slice::from_ref(&elsewhere))
        .await
        .expect("xadd");
    api.send(&s, email("here@test.dev")).await;
    let got = next_records(&mut body, 2).await;
    assert_eq!(got[0]["id"], elsewhere.id.as_str(), "{got:?}");
    assert_eq!(got[1]["method"], "POST");
    other.delete_all().await.expect("clean up");
}

/// In the flush-each-request mode (AWS Lambda, where nothing runs after a
/// response returns) a request answers only once its records are in the
/// sinks: Redis holds the session's `session.created` when the create
/// answers, and each mirror request's record when it answers, with no flush.
#[tokio::test]
async fn flushing_each_request_writes_the_records_before_the_answer() {
    let prefix = unique("mirra_test");
    let api = Api::with_trace_settings(TraceSettings {
        redis_url: Some(redis_url()),
        redis_prefix: Some(prefix.clone()),
        flush_each_request: true,
        ..TraceSettings::default()
    })
    .await;
    let redis = RedisSink::new(&redis_url(), &prefix).expect("redis");
    let in_redis = |session: String| {
        let redis = &redis;
        async move {
            let q = shared::traces::TraceQuery {
                session,
                limit: 100,
                ..Default::default()
            };
            let page = redis.list(&q).await.expect("list");
            page.data.into_iter().map(|r| r.kind).collect::<Vec<_>>()
        }
    };
    let s = api.session().await;
    assert_eq!(in_redis(s.id.clone()).await, ["session.created"]);
    for n in 1..=3 {
        api.send(&s, email(&format!("n{n}@test.dev"))).await;
        assert_eq!(
            in_redis(s.id.clone()).await.len(),
            1 + n,
            "after request {n}"
        );
    }
    redis.delete_all().await.expect("clean up");
}
