//! Due work on AWS Lambda, on the emulator (S3, DynamoDB and SQS from moto):
//! a mirror request that leaves a webhook due enqueues it before it answers;
//! the SQS event carrying that message (with a stranger's message beside it)
//! goes through the dispatcher function's handler and the webhook arrives,
//! signed; the reaper's scheduled event ends an expired session and enqueues
//! again the due work whose message was lost.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use mirra_tests::receiver::Receiver;
use serde_json::Value;
use shared::lambda::{app_with, Plane, Settings, Worker};
use shared::traces::TraceSettings;
use tower::ServiceExt;

const TOKEN: &str = "lambda-test-token";

struct Rig {
    control: Router,
    mirrors: Router,
    worker: Worker,
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

async fn rig(test: &str) -> Option<Rig> {
    rig_with(test, TraceSettings::default()).await
}

/// A rig whose functions trace with `traces`.
async fn rig_with(test: &str, traces: TraceSettings) -> Option<Rig> {
    let env = mirra_tests::cloud_env(test)?;
    let var = |k: &str| env.var(k);
    env.export_aws();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name(var("MIRRA_S3_BUCKET"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let settings = Settings {
        bucket: var("MIRRA_S3_BUCKET"),
        table: var("MIRRA_DYNAMODB_TABLE"),
        token: TOKEN.into(),
        public_url: "https://api.mirra.example.com".into(),
        traces,
        due_queue_url: Some(queue.clone()),
        create_resources: true,
    };
    Some(Rig {
        control: app_with(Plane::Control, settings.clone())
            .await
            .expect("control"),
        mirrors: app_with(Plane::Mirrors, settings.clone())
            .await
            .expect("mirrors"),
        worker: Worker::with(settings).await.expect("worker"),
        sqs,
        queue,
    })
}

async fn call(app: &Router, req: Request<Body>) -> (u16, Value) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

impl Rig {
    async fn session(&self, body: Value) -> (String, String) {
        let req = Request::post("/v1/sessions")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, s) = call(&self.control, req).await;
        assert_eq!(status, 201, "{s}");
        let (_, key) = mirra_tests::stripe_of(&s);
        (s["id"].as_str().expect("id").to_string(), key)
    }

    async fn stripe(&self, session: &str, key: &str, path: &str, form: &str) -> (u16, Value) {
        let req = Request::post(format!("/m/{session}/stripe{path}"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("request");
        call(&self.mirrors, req).await
    }

    /// A webhook endpoint of the session's for `customer.created`, at `receiver`.
    async fn webhook_to(&self, receiver: &Receiver, session: &str, key: &str) {
        let form = format!(
            "url={}&enabled_events[]=customer.created",
            receiver.url.replace(':', "%3A").replace('/', "%2F")
        );
        let (status, endpoint) = self
            .stripe(session, key, "/v1/webhook_endpoints", &form)
            .await;
        assert_eq!(status, 200, "{endpoint}");
    }

    /// Messages waiting in the queue, taken off it.
    async fn receive(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .send()
            .await
            .expect("receive");
        got.messages.unwrap_or_default()
    }
}

/// An API Gateway event fixture of `function`, filled in, as lambda_http
/// hands it to the app.
fn http_event(function: &str, name: &str, vars: &[(&str, &str)]) -> Request<Body> {
    let req = lambda_http::request::from_str(&mirra_tests::lambda_fixture(function, name, vars))
        .expect("a Lambda event");
    let (parts, body) = req.into_parts();
    Request::from_parts(parts, Body::from(body.to_vec()))
}

/// The reaper function's EventBridge schedule event.
fn scheduled_event() -> aws_lambda_events::event::eventbridge::EventBridgeEvent<Value> {
    serde_json::from_str(&mirra_tests::lambda_fixture(
        "reaper",
        "eventbridge_scheduled.json",
        &[],
    ))
    .expect("a scheduled event")
}

/// The dispatcher function's SQS event fixture around `message`.
fn sqs_event(message: &aws_sdk_sqs::types::Message) -> aws_lambda_events::event::sqs::SqsEvent {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sqs_event.json");
    let body = message.body().expect("body");
    let text = std::fs::read_to_string(path)
        .expect("fixture")
        .replace("${MESSAGE_ID}", message.message_id().expect("id"))
        .replace("${RECEIPT}", message.receipt_handle().expect("receipt"))
        .replace("${MD5}", message.md5_of_body().unwrap_or_default())
        .replace("${BODY}", &Value::String(body.to_string()).to_string());
    serde_json::from_str(&text).expect("an SQS event")
}

#[tokio::test]
async fn a_webhook_left_due_by_a_request_is_sent_by_the_dispatcher_from_its_sqs_message() {
    let Some(rig) = rig("lambda-queue").await else {
        return;
    };
    let receiver = Receiver::start(&[]);
    let (session, key) = rig
        .session(serde_json::json!({"mirrors": ["stripe"]}))
        .await;
    rig.webhook_to(&receiver, &session, &key).await;
    let (status, customer) = rig
        .stripe(
            &session,
            &key,
            "/v1/customers",
            "email=queued%40example.com",
        )
        .await;
    assert_eq!(status, 200, "{customer}");

    // Enqueued before the answer: the message is there now.
    let messages = rig.receive().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let work: Value = serde_json::from_str(messages[0].body().expect("body")).expect("json");
    assert_eq!(
        (work["session_id"].as_str(), work["mirror"].as_str()),
        (Some(session.as_str()), Some("stripe"))
    );
    assert!(
        receiver.wait_for(1, Duration::from_millis(300)).is_empty(),
        "nothing sent yet"
    );

    let response = rig.worker.on_sqs(sqs_event(&messages[0])).await;
    // The stranger's message is dropped, not retried; ours succeeded.
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let got = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(got[0].headers.contains_key("stripe-signature"));
    let event: Value = serde_json::from_str(&got[0].body).expect("event");
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["data"]["object"]["id"], customer["id"]);

    // The same message again (SQS delivers at least once): nothing is sent twice.
    let again = rig.worker.on_sqs(sqs_event(&messages[0])).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(receiver.wait_for(2, Duration::from_millis(500)).len(), 1);
}

#[tokio::test]
async fn the_reaper_ends_expired_sessions_and_enqueues_again_what_lost_its_message() {
    let Some(rig) = rig("lambda-reaper").await else {
        return;
    };
    assert_eq!(scheduled_event().detail_type, "Scheduled Event");

    // Due work whose message is lost (taken off the queue and dropped).
    let receiver = Receiver::start(&[]);
    let (session, key) = rig
        .session(serde_json::json!({"mirrors": ["stripe"]}))
        .await;
    rig.webhook_to(&receiver, &session, &key).await;
    rig.stripe(&session, &key, "/v1/customers", "email=lost%40example.com")
        .await;
    assert_eq!(rig.receive().await.len(), 1, "the message, lost here");
    // And a session about to expire.
    let (short, short_key) = rig
        .session(serde_json::json!({"mirrors": ["stripe"], "timeout_seconds": 1}))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let reaped = rig.worker.reap().await.expect("reap");
    assert!(reaped.ended >= 1, "{reaped:?}");
    assert!(reaped.enqueued >= 1, "{reaped:?}");
    let (status, gone) = rig
        .stripe(&short, &short_key, "/v1/customers", "email=x%40example.com")
        .await;
    assert_eq!(status, 410, "{gone}");
    // The lost work is a message again, and the dispatcher sends it.
    let messages = rig.receive().await;
    let ours: Vec<_> = messages
        .iter()
        .filter(|m| m.body().is_some_and(|b| b.contains(&session)))
        .collect();
    assert_eq!(ours.len(), 1, "{messages:?}");
    let response = rig.worker.on_sqs(sqs_event(ours[0])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(receiver.wait_for(1, Duration::from_secs(10)).len(), 1);
}

/// One session through every function, each fed its own event JSON: created
/// by the control plane (API Gateway, `prod` stage), a webhook endpoint and
/// a customer by the mirror function on the session's host, the webhook
/// delivered by the dispatcher from the SQS event of the message that
/// request enqueued, then reset and ended by the control plane (billed), and
/// the reaper's scheduled run after it, the session's host answering 410.
#[tokio::test]
async fn one_session_goes_through_every_function_by_their_events() {
    let Some(rig) = rig("lambda-flow").await else {
        return;
    };
    let receiver = Receiver::start(&[]);
    let (status, session) = call(
        &rig.control,
        http_event(
            "control-plane",
            "apigw_v2_create_session_prod_stage.json",
            &[("TOKEN", TOKEN)],
        ),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_str().expect("id").to_string();
    let (_, key) = mirra_tests::stripe_of(&session);
    let suffix = id.trim_start_matches("ses_").to_string();
    let hook = receiver.url.replace(':', "%3A").replace('/', "%2F");
    let vars = [
        ("TOKEN", TOKEN),
        ("SESSION", id.as_str()),
        ("SUFFIX", suffix.as_str()),
        ("KEY", key.as_str()),
        ("WEBHOOK_URL", hook.as_str()),
    ];

    let (status, endpoint) = call(
        &rig.mirrors,
        http_event(
            "mirror",
            "apigw_v2_create_webhook_endpoint_by_host.json",
            &vars,
        ),
    )
    .await;
    assert_eq!(status, 200, "{endpoint}");
    let (status, customer) = call(
        &rig.mirrors,
        http_event("mirror", "apigw_v2_create_customer_by_host.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{customer}");

    let messages = rig.receive().await;
    assert_eq!(
        messages.len(),
        1,
        "the request enqueued its webhook: {messages:?}"
    );
    let response = rig.worker.on_sqs(sqs_event(&messages[0])).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let got = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    let event: Value = serde_json::from_str(&got[0].body).expect("event");
    assert_eq!(event["data"]["object"]["id"], customer["id"]);

    let (status, reset) = call(
        &rig.control,
        http_event("control-plane", "apigw_v2_reset_session.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    let (status, ended) = call(
        &rig.control,
        http_event("control-plane", "apigw_v2_delete_session.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{ended}");
    assert!(
        ended["billed_minutes"].as_u64().is_some_and(|m| m >= 1),
        "{ended}"
    );

    assert_eq!(scheduled_event().detail_type, "Scheduled Event");
    let reaped = rig.worker.reap().await.expect("reap");
    assert_eq!(reaped.ended, 0, "down ended it already: {reaped:?}");
    let (status, gone) = call(
        &rig.mirrors,
        http_event("mirror", "apigw_v2_create_customer_by_host.json", &vars),
    )
    .await;
    assert_eq!(status, 410, "{gone}");
    assert!(
        receiver.wait_for(2, Duration::from_millis(300)).len() == 1,
        "nothing more was sent"
    );
}

/// With Redis and PostgreSQL set, requests answer once their records are in
/// Redis, and the scheduled reaper carries them into PostgreSQL: no function
/// moves traces in the background (it would run only while thawed).
#[tokio::test]
async fn the_reaper_moves_the_traces_requests_left_in_redis_into_postgres() {
    let redis_url =
        std::env::var("MIRRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let pg_url = std::env::var("MIRRA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let unique = format!("mirra_test_{}", shared::session::id::random_lower(8));
    let traces = TraceSettings {
        redis_url: Some(redis_url.clone()),
        redis_prefix: Some(unique.clone()),
        database_url: Some(pg_url.clone()),
        database_schema: Some(unique.clone()),
        ..TraceSettings::default()
    };
    let Some(rig) = rig_with("lambda-traces", traces).await else {
        return;
    };
    let (session, key) = rig
        .session(serde_json::json!({"mirrors": ["stripe"]}))
        .await;
    let (status, _) = rig
        .stripe(
            &session,
            &key,
            "/v1/customers",
            "email=traced%40example.com",
        )
        .await;
    assert_eq!(status, 200);
    let pg = shared::traces::postgres::PgSink::new(&pg_url, &unique).expect("pg");
    assert_eq!(
        pg.count().await.unwrap_or(0),
        0,
        "requests do not wait for PostgreSQL"
    );

    let reaped = rig.worker.reap().await.expect("reap");
    assert!(
        reaped.traces_moved >= 2,
        "session.created and the request: {reaped:?}"
    );
    assert!(pg.count().await.expect("count") >= 2);
    let again = rig.worker.reap().await.expect("reap");
    assert_eq!(again.traces_moved, 0, "{again:?}");

    shared::traces::redis::RedisSink::new(&redis_url, &unique)
        .expect("redis")
        .delete_all()
        .await
        .expect("clean up");
    let drop = format!("DROP SCHEMA IF EXISTS \"{unique}\" CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(pg.pool())
        .await
        .expect("drop schema");
}
