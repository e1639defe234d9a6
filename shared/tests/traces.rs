//! Traces of mirror requests through the whole API: each request to a
//! mirror becomes one record in the session's JSONL stream (secrets
//! redacted), readable at `GET /v1/sessions/{id}/traces` with filters and
//! pages and by id; a reset keeps the history; another session's records
//! are never listed. The `TraceSink` contract runs for the JSONL stream, and
//! its layout puts each record in the folder of its UTC date.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::traces::jsonl::JsonlSink;
use shared::traces::{TraceQuery, TraceRecord, TraceSink};
use support::resend::{email, Api, START_MS};

async fn traces(api: &Api, session: &str, query: &str) -> Value {
    if let Some(t) = &api.traces {
        t.flush().await;
    }
    let r = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{session}/traces{query}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

/// Each mirror request is one record: method, path, status, latency,
/// bodies with secrets redacted, the idempotency key, the session's
/// incarnation and workspace.
#[tokio::test]
async fn each_mirror_request_is_one_redacted_record() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    api.call_with(
        &s,
        Method::POST,
        "/emails",
        Some(email("ann@test.dev")),
        &[("idempotency-key", "k-1")],
    )
    .await
    .ok();
    api.post(&s, "/api-keys", json!({"name": "ci"}))
        .await
        .created();
    api.get(&s, "/emails/not-a-uuid")
        .await
        .refused(422, "validation_error");

    let page = traces(&api, &s.id, "?kind=request").await;
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{page}");
    let sent = &data[0];
    assert_eq!(sent["kind"], "request");
    assert_eq!(sent["session"], s.id.as_str());
    assert_eq!(sent["mirror"], "resend");
    assert_eq!(sent["method"], "POST");
    assert_eq!(sent["path"], format!("/m/{}/resend/emails", s.id));
    assert_eq!(sent["status"], 200);
    assert_eq!(sent["idempotency_key"], "k-1");
    assert_eq!(sent["workspace"], "local");
    assert!(sent["incarnation"].is_string(), "{sent}");
    assert!(sent["latency_us"].as_u64().is_some());
    assert!(sent["request_body"]
        .as_str()
        .expect("body")
        .contains("ann@test.dev"));
    let key = &data[1];
    let body: Value =
        serde_json::from_str(key["response_body"].as_str().expect("body")).expect("json");
    assert_eq!(
        body["token"], "[redacted]",
        "a made key's token is not kept"
    );
    let text = page.to_string();
    assert!(
        !text.contains(&s.key),
        "the session's key is nowhere in the traces"
    );
    assert_eq!(data[2]["status"], 422);

    // Filters, pages, one by id.
    let failed = traces(&api, &s.id, "?status=4xx").await;
    assert_eq!(failed["data"].as_array().map(Vec::len), Some(1));
    let first = traces(&api, &s.id, "?kind=request&limit=2").await;
    assert_eq!(first["has_more"], true);
    let next = first["next"].as_str().expect("next");
    let rest = traces(&api, &s.id, &format!("?kind=request&limit=2&after={next}")).await;
    assert_eq!(rest["data"][0]["id"], data[2]["id"]);
    assert_eq!(rest["has_more"], false);
    let id = data[0]["id"].as_str().expect("id");
    let one = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/traces/{id}", s.id),
            None,
        )
        .await;
    assert_eq!(one.json, data[0]);
    let r = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/traces?status=4", s.id),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

/// A reset keeps the history; another session's requests are its own.
#[tokio::test]
async fn a_reset_keeps_history_and_sessions_see_only_their_own() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    let other = api.session().await;
    api.send(&s, email("ann@test.dev")).await;
    api.send(&other, email("bob@test.dev")).await;
    let r = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{}/reset", s.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    api.get(&s, "/emails").await.ok();
    let mine = traces(&api, &s.id, "").await;
    let seen: Vec<String> = mine["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| match r["method"].as_str() {
            Some(m) => format!("{} {m}", r["kind"].as_str().expect("kind")),
            None => r["kind"].as_str().expect("kind").to_string(),
        })
        .collect();
    assert_eq!(
        seen,
        [
            "session.created",
            "request POST",
            "state.reset",
            "request GET"
        ],
        "the request before the reset is still there, and the reset is logged"
    );
    assert!(!mine.to_string().contains("bob@test.dev"));
    let theirs = traces(&api, &other.id, "?kind=request").await;
    assert_eq!(theirs["data"].as_array().map(Vec::len), Some(1));
}

/// A server that traces nothing says so.
#[tokio::test]
async fn without_tracing_the_traces_route_says_so() {
    let api = Api::new();
    let s = api.session().await;
    let r = api
        .control(Method::GET, &format!("/v1/sessions/{}/traces", s.id), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
}

/// The `TraceSink` contract, for the JSONL stream.
#[tokio::test]
async fn the_jsonl_stream_keeps_the_sink_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    shared::traces::conformance::run(&JsonlSink::new(dir.path())).await;
}

/// Records either side of midnight UTC go to the folders of their dates; a
/// torn last line (a crash mid-write) is skipped, not an error.
#[tokio::test]
async fn records_go_to_the_folder_of_their_utc_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = JsonlSink::new(dir.path());
    let rec = |ms: i64| TraceRecord {
        mirror: Some("stripe".into()),
        method: Some("GET".into()),
        path: Some("/m/ses_abcd/stripe/v1/customers".into()),
        status: Some(200),
        latency_us: Some(1),
        ..TraceRecord::new("request", "ses_abcd", ms)
    };
    let before = START_MS - 1; // 2025-12-31T23:59:59.999Z
    let after = START_MS + 1;
    sink.append(&[rec(before), rec(after)])
        .await
        .expect("append");
    let day1 = dir.path().join(".sessions/2025-12-31/ses_abcd.jsonl");
    let day2 = dir.path().join(".sessions/2026-01-01/ses_abcd.jsonl");
    for (file, ms) in [(&day1, before), (&day2, after)] {
        let text = std::fs::read_to_string(file).expect("file");
        let line: Value = serde_json::from_str(text.trim()).expect("one line");
        assert_eq!(line["session"], "ses_abcd");
        assert_eq!(line["time_ms"], ms);
    }
    std::fs::write(
        &day2,
        format!(
            "{}{{\"id\":\"tr_torn",
            std::fs::read_to_string(&day2).expect("read")
        ),
    )
    .expect("tear");
    let q = TraceQuery {
        session: "ses_abcd".into(),
        limit: 10,
        ..TraceQuery::default()
    };
    assert_eq!(sink.list(&q).await.expect("list").data.len(), 2);
}

/// The session's lifecycle is in its traces beside its requests: created,
/// a snapshot, a reset, a restore, and its end (read after it ended).
#[tokio::test]
async fn lifecycle_events_are_records_beside_the_requests() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    api.send(&s, email("ann@test.dev")).await;
    let snap = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{}/snapshots", s.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(snap.status, StatusCode::CREATED, "{}", snap.json);
    let snap_id = snap.json["id"].as_str().expect("snapshot").to_string();
    api.control(
        Method::POST,
        &format!("/v1/sessions/{}/reset", s.id),
        Some(json!({})),
    )
    .await;
    api.control(
        Method::POST,
        &format!("/v1/sessions/{}/restore", s.id),
        Some(json!({"snapshot": snap_id})),
    )
    .await;
    let r = api
        .control(Method::DELETE, &format!("/v1/sessions/{}", s.id), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    let all = traces(&api, &s.id, "").await;
    let kinds: Vec<&str> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "session.created",
            "request",
            "snapshot.created",
            "state.reset",
            "state.restored",
            "session.ended"
        ]
    );
    let created = &all["data"][0];
    assert_eq!(created["detail"]["seeds"]["resend"], "default");
    assert_eq!(created["workspace"], "local");
    assert_eq!(all["data"][2]["detail"]["snapshot"], snap_id.as_str());
    let resets = traces(&api, &s.id, "?kind=state.reset").await;
    assert_eq!(resets["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(resets["data"][0]["detail"]["seeds"]["resend"], "default");
}

/// A session the reaper ends on its timeout leaves `session.expired`.
#[tokio::test]
async fn an_expired_session_leaves_session_expired() {
    let api = Api::with_traces().await;
    let s = api
        .session_with(json!({"mirrors": ["resend"], "timeout_seconds": 60}))
        .await;
    api.clock.advance_ms(61_000);
    assert_eq!(api.sessions.reap().await.expect("reap"), 1);
    let ended = traces(&api, &s.id, "?kind=session.expired").await;
    assert_eq!(ended["data"].as_array().map(Vec::len), Some(1), "{ended}");
    assert_eq!(ended["data"][0]["detail"]["ended_at_ms"], START_MS + 60_000);
}

/// Each attempt the dispatcher makes is a record: `webhook.delivered` with
/// the receiver's status, `webhook.failed` when it did not answer 2xx.
#[tokio::test]
async fn every_webhook_attempt_is_a_record() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    let (url, _got) = support::receiver::receiver().await;
    for endpoint in [url.as_str(), "http://127.0.0.1:9/hook"] {
        api.post(
            &s,
            "/webhooks",
            json!({"endpoint": endpoint, "events": ["email.sent"]}),
        )
        .await
        .created();
    }
    api.send(&s, email("ann@test.dev")).await;
    api.dispatcher.sweep().await.expect("sweep");
    let ok = traces(&api, &s.id, "?kind=webhook.delivered").await;
    assert_eq!(ok["data"].as_array().map(Vec::len), Some(1), "{ok}");
    assert_eq!(ok["data"][0]["status"], 200);
    assert_eq!(ok["data"][0]["mirror"], "resend");
    assert_eq!(ok["data"][0]["detail"]["url"], url.as_str());
    assert_eq!(ok["data"][0]["detail"]["attempt"], 1);
    assert!(ok["data"][0]["request_body"]
        .as_str()
        .expect("payload")
        .contains("email.sent"));
    let failed = traces(&api, &s.id, "?kind=webhook.failed").await;
    assert_eq!(failed["data"].as_array().map(Vec::len), Some(1), "{failed}");
    assert_eq!(failed["data"][0]["status"], Value::Null);
}

/// `GET /v1/health` answers without a token and shows the drop counter.
#[tokio::test]
async fn health_shows_the_trace_drop_counter() {
    let api = Api::with_traces().await;
    let r = api.raw(Method::GET, "/v1/health", &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["status"], "ok");
    assert_eq!(r.json["traces"]["dropped"], 0);
    let plain = Api::new();
    let r = plain.raw(Method::GET, "/v1/health", &[], None).await;
    assert_eq!(
        r.json["traces"],
        Value::Null,
        "a server that traces nothing"
    );
}

/// A request's record lists the vendor events it raised, in order: a Stripe
/// create its `evt_…` (readable at `/v1/events/{id}`), a Resend send its
/// `email.sent` (named by the email); a read or an idempotent replay
/// raised none.
#[tokio::test]
async fn a_request_lists_the_vendor_events_it_raised() {
    let api = Api::with_traces().await;
    let s = api
        .session_with(json!({"mirrors": ["resend", "stripe"]}))
        .await;
    let sk = s.json["mirrors"]["stripe"]["credentials"]["secret_key"]
        .as_str()
        .expect("secret key")
        .to_string();
    let stripe = |method: Method, path: &str, body: Option<&'static str>| {
        let (api, sk, id) = (&api, &sk, &s.id);
        let path = format!("/m/{id}/stripe{path}");
        async move {
            let auth = format!("Bearer {sk}");
            api.raw(method, &path, &[("authorization", &auth)], body)
                .await
        }
    };
    let customer = stripe(Method::POST, "/v1/customers", Some("email=a%40test.dev")).await;
    assert_eq!(customer.status, StatusCode::OK, "{}", customer.json);
    let sent = api
        .call_with(
            &s,
            Method::POST,
            "/emails",
            Some(email("ann@test.dev")),
            &[("idempotency-key", "k-1")],
        )
        .await
        .ok();
    api.call_with(
        &s,
        Method::POST,
        "/emails",
        Some(email("ann@test.dev")),
        &[("idempotency-key", "k-1")],
    )
    .await
    .ok();

    let page = traces(&api, &s.id, "?kind=request").await;
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{page}");
    let raised = &data[0]["events"];
    assert_eq!(raised.as_array().map(Vec::len), Some(1), "{}", data[0]);
    assert_eq!(raised[0]["type"], "customer.created");
    let evt = raised[0]["id"].as_str().expect("event id");
    let read = stripe(Method::GET, &format!("/v1/events/{evt}"), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    assert_eq!(read.json["data"]["object"]["id"], customer.json["id"]);

    assert_eq!(
        data[1]["events"],
        json!([{"id": sent["id"], "type": "email.sent"}])
    );
    assert!(
        data[2].get("events").is_none(),
        "a replay raised nothing: {}",
        data[2]
    );
    let reads = traces(&api, &s.id, "?kind=request&method=GET").await;
    assert!(reads["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|r| r.get("events").is_none()));
}

/// A request routed by its credential (at the server's root, as an SDK left
/// at its own base URL sends it) is traced like one sent to the session's
/// path: the record names its session and the mirror's path.
#[tokio::test]
async fn a_request_routed_by_its_credential_is_traced_under_its_session() {
    let api = Api::with_traces().await;
    let s = api.session().await;
    let auth = format!("Bearer {}", s.key);
    let body = email("root@test.dev").to_string();
    let r = api
        .raw(
            Method::POST,
            "/emails",
            &[("authorization", &auth)],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let page = traces(&api, &s.id, "?kind=request").await;
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{page}");
    assert_eq!(data[0]["path"], format!("/m/{}/resend/emails", s.id));
    assert_eq!(data[0]["events"][0]["type"], "email.sent");
}
