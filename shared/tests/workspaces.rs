//! Workspaces, tokens, plans and metering through the control plane
//! (`shared::api::router` with `oneshot`, SQLite table, a manual clock): a
//! token sees only its workspace and does only what its scope allows,
//! revoking is immediate, plans refuse with 402/403, and minutes are billed
//! per month exactly once, also when ending fails halfway.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::session::{Clock, ManualClock, Sessions};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::{SessionTable, WorkspaceTable};
use support::racing_table::RacingTable;
use tower::ServiceExt;

const OPERATOR: &str = "operator-token";
/// 2026-11-30T23:50:00Z: ten minutes before December.
const NOV_30_23_50: i64 = 1_796_082_600_000;

struct Harness {
    dir: tempfile::TempDir,
    app: Router,
    clock: Arc<ManualClock>,
    table: Arc<RacingTable>,
    sessions: Arc<Sessions>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Arc::new(SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("db"));
    let table = Arc::new(RacingTable::new(sqlite.clone()));
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let clock = Arc::new(ManualClock::new(NOV_30_23_50));
    let mirrors = shared::mirrors::all();
    let sessions = Arc::new(Sessions::new(
        table.clone() as Arc<dyn SessionTable>,
        Arc::new(store),
        clock.clone() as Arc<dyn Clock>,
        mirrors.iter().map(|m| m.def.clone()).collect(),
    ));
    let state = AppState::new(
        sessions.clone(),
        OPERATOR,
        "local",
        "http://127.0.0.1:4400",
        mirrors,
    )
    .with_workspace_table(sqlite as Arc<dyn WorkspaceTable>);
    Harness {
        app: router(state),
        dir,
        clock,
        table,
        sessions,
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        })
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

async fn get(h: &Harness, path: &str, token: &str) -> (StatusCode, Value) {
    call(&h.app, Method::GET, path, token, Value::Null).await
}

async fn post(h: &Harness, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    call(&h.app, Method::POST, path, token, body).await
}

async fn delete(h: &Harness, path: &str, token: &str) -> (StatusCode, Value) {
    call(&h.app, Method::DELETE, path, token, Value::Null).await
}

/// Creates workspace `id` on `plan` (with `limits` changes); returns its admin token.
async fn workspace(h: &Harness, id: &str, plan: &str, limits: Value) -> String {
    let (status, ws) = post(
        h,
        "/v1/workspaces",
        OPERATOR,
        json!({"id": id, "plan": plan, "limits": limits}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ws}");
    assert_eq!(ws["token"]["scope"], "admin");
    ws["token"]["token"]
        .as_str()
        .expect("token secret")
        .to_string()
}

async fn new_session(h: &Harness, token: &str, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["mirrors"] = json!(["stripe"]);
    post(h, "/v1/sessions", token, body).await
}

#[tokio::test]
async fn a_workspace_token_sees_only_its_workspace_and_is_stored_hashed() {
    let h = harness();
    let acme = workspace(&h, "acme", "team", json!({})).await;
    let beta = workspace(&h, "beta", "team", json!({})).await;
    assert!(acme.starts_with("mirra_") && acme.len() > 30, "{acme}");

    let (status, s) = new_session(&h, &acme, json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let id = s["id"].as_str().expect("id");
    assert_eq!(s["workspace"], "acme");
    // Another workspace's token (and the operator's own workspace) cannot see it.
    for token in [&beta, &OPERATOR.to_string()] {
        let (status, e) = get(&h, &format!("/v1/sessions/{id}"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let (status, e) = delete(&h, &format!("/v1/sessions/{id}"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let (_, list) = get(&h, "/v1/sessions", token).await;
        assert_eq!(
            list["data"],
            json!([]),
            "lists hold only the token's workspace"
        );
    }
    let (status, _) = get(&h, "/v1/sessions/ci", &acme).await;
    assert_eq!(status, StatusCode::OK);

    // Lists of tokens never show a secret; the file never holds one.
    let (status, tokens) = get(&h, "/v1/tokens", &acme).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["data"].as_array().map(Vec::len), Some(1));
    assert!(tokens["data"][0].get("token").is_none(), "{tokens}");
    assert_eq!(tokens["data"][0]["last4"], acme[acme.len() - 4..]);
    drop(h.sessions.clone());
    let db = std::fs::read(h.dir.path().join("sessions.db")).expect("db");
    let wal = std::fs::read(h.dir.path().join("sessions.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(acme.len()).any(|w| w == acme.as_bytes()),
            "the token itself is stored"
        );
    }

    // A workspace can read itself, not others; only the operator lists them.
    let (status, me) = get(&h, "/v1/workspaces/acme", &acme).await;
    assert_eq!(
        (status, me["plan"].clone()),
        (StatusCode::OK, json!("team"))
    );
    let (status, _) = get(&h, "/v1/workspaces/beta", &acme).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = get(&h, "/v1/workspaces", &acme).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("operator_only"))
    );
    let (status, all) = get(&h, "/v1/workspaces?limit=1", OPERATOR).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (all["data"][0]["id"].clone(), all["has_more"].clone()),
        (json!("acme"), json!(true))
    );
    let (_, rest) = get(&h, "/v1/workspaces?starting_after=acme", OPERATOR).await;
    assert_eq!(rest["data"][0]["id"], "beta");

    // Taken, malformed and reserved ids.
    for (id, want) in [
        ("acme", StatusCode::CONFLICT),
        ("Bad_Id", StatusCode::BAD_REQUEST),
        ("local", StatusCode::CONFLICT),
    ] {
        let (status, e) = post(&h, "/v1/workspaces", OPERATOR, json!({"id": id})).await;
        assert_eq!(status, want, "{id}: {e}");
    }
    let (status, e) = post(
        &h,
        "/v1/workspaces",
        OPERATOR,
        json!({"id": "x", "plan": "gold"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn scopes_limit_what_a_token_may_do_and_revoking_is_immediate() {
    let h = harness();
    let admin = workspace(&h, "acme", "team", json!({})).await;
    let mut issued = std::collections::HashMap::new();
    for scope in ["read", "write"] {
        let (status, t) = post(
            &h,
            "/v1/tokens",
            &admin,
            json!({"name": scope, "scope": scope}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        issued.insert(
            scope,
            (
                t["id"].as_str().expect("id").to_string(),
                t["token"].as_str().expect("secret").to_string(),
            ),
        );
    }
    let (read_id, read) = issued["read"].clone();
    let (_, write) = issued["write"].clone();

    let (status, e) = new_session(&h, &read, json!({})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("insufficient_scope")),
        "{e}"
    );
    let (status, s) = new_session(&h, &write, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let id = s["id"].as_str().expect("id");
    let (status, _) = get(&h, &format!("/v1/sessions/{id}"), &read).await;
    assert_eq!(status, StatusCode::OK, "read sees sessions");
    let (status, _) = post(&h, &format!("/v1/sessions/{id}/reset"), &read, Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read cannot reset");
    let (status, _) = get(&h, "/v1/usage", &read).await;
    assert_eq!(status, StatusCode::OK, "read sees usage");
    for token in [&read, &write] {
        let (status, e) = post(&h, "/v1/tokens", token, json!({})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "only admin makes tokens: {e}"
        );
        let (status, _) = get(&h, "/v1/tokens", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, e) = post(&h, "/v1/workspaces", &admin, json!({"id": "mine"})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("operator_only"))
    );

    // Revoked: refused at once; a second revoke and unknown ids are 404.
    let (status, gone) = delete(&h, &format!("/v1/tokens/{read_id}"), &admin).await;
    assert_eq!(
        (status, gone["deleted"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (status, e) = get(&h, "/v1/sessions", &read).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    let (status, _) = delete(&h, &format!("/v1/tokens/{read_id}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = workspace(&h, "beta", "free", json!({})).await;
    let (_, theirs) = get(&h, "/v1/tokens", &other).await;
    let their_id = theirs["data"][0]["id"].as_str().expect("id");
    let (status, _) = delete(&h, &format!("/v1/tokens/{their_id}"), &admin).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another workspace's token is not ours to revoke"
    );
    let (status, _) = get(&h, "/v1/sessions", &other).await;
    assert_eq!(status, StatusCode::OK, "and still works");
    let (status, e) = get(&h, "/v1/sessions", "mirra_made_up").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
}

#[tokio::test]
async fn plans_refuse_features_with_403_and_used_up_quotas_with_402() {
    let h = harness();
    let free = workspace(
        &h,
        "acme",
        "free",
        json!({"concurrent_sessions": 2, "minutes_per_month": 10}),
    )
    .await;

    let (status, e) = new_session(&h, &free, json!({"persistent": true, "name": "staging"})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("persistent_not_in_plan")),
        "{e}"
    );
    assert_eq!(e["error"]["type"], "plan_limit");
    let (status, e) = new_session(&h, &free, json!({"timeout_seconds": 7200})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("timeout_not_in_plan")),
        "{e}"
    );

    // The default timeout fits the plan (free: one hour).
    let (status, a) = new_session(&h, &free, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let (status, b) = new_session(&h, &free, json!({"timeout_seconds": 600})).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let (status, e) = new_session(&h, &free, json!({})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (
            StatusCode::PAYMENT_REQUIRED,
            json!("concurrent_sessions_reached")
        ),
        "{e}"
    );
    let (_, list) = get(&h, "/v1/sessions", &free).await;
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(2),
        "the refused session was not kept"
    );

    // 20 minutes later, at 00:10 on 1 December, `b` has expired (it no longer
    // counts as live) and December has 10 minutes used (`a`'s); November's
    // 20 do not count against December.
    h.clock.advance_secs(20 * 60);
    let (_, nov) = get(&h, "/v1/usage?period=2026-11", &free).await;
    assert_eq!(nov["total_minutes"], 20, "{nov}");
    let (status, e) = new_session(&h, &free, json!({})).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (StatusCode::PAYMENT_REQUIRED, json!("monthly_minutes_used")),
        "{e}"
    );
    let (_, usage) = get(&h, "/v1/usage", &free).await;
    assert_eq!(usage["minutes_remaining"], 0, "{usage}");

    // A larger plan lifts both.
    let (status, ws) = post(&h, "/v1/workspaces/acme", OPERATOR, json!({"plan": "team"})).await;
    assert_eq!(
        (status, ws["limits"]["concurrent_sessions"].clone()),
        (StatusCode::OK, json!(50)),
        "{ws}"
    );
    let (status, s) = new_session(&h, &free, json!({"persistent": true, "name": "staging"})).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    // The operator's own workspace has no limits.
    let (status, s) = new_session(&h, OPERATOR, json!({"timeout_seconds": 604_800})).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_never_leave_more_sessions_than_the_plan_allows() {
    let h = harness();
    let token = workspace(&h, "acme", "team", json!({"concurrent_sessions": 3})).await;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (app, token) = (h.app.clone(), token.clone());
            tokio::spawn(async move {
                call(
                    &app,
                    Method::POST,
                    "/v1/sessions",
                    &token,
                    json!({"mirrors": ["stripe"]}),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.expect("task");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYMENT_REQUIRED => {
                assert_eq!(body["error"]["code"], "concurrent_sessions_reached")
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (_, list) = get(&h, "/v1/sessions", &token).await;
    let live = list["data"].as_array().map(Vec::len).unwrap_or_default();
    assert_eq!(
        live, created,
        "every 201 is a live session, every 402 left none"
    );
    assert!(
        (1..=3).contains(&live),
        "{live} sessions live under a limit of 3"
    );
}

#[tokio::test]
async fn minutes_are_billed_per_month_once_also_when_ending_fails_halfway() {
    let h = harness();
    let token = workspace(&h, "acme", "team", json!({})).await;
    let usage = |period: &str| {
        let (app, token, period) = (h.app.clone(), token.clone(), period.to_string());
        async move {
            let (status, u) = call(
                &app,
                Method::GET,
                &format!("/v1/usage?period={period}"),
                &token,
                Value::Null,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{u}");
            (
                u["ephemeral_minutes"].as_u64(),
                u["persistent_minutes"].as_u64(),
                u["live_sessions"].as_u64(),
            )
        }
    };
    let (_, a) = new_session(&h, &token, json!({})).await;
    let (_, b) = new_session(&h, &token, json!({"persistent": true, "name": "staging"})).await;
    // 23:50 → 00:10: ten minutes in each month, each session.
    h.clock.advance_secs(20 * 60);
    assert_eq!(
        usage("2026-11").await,
        (Some(10), Some(10), Some(2)),
        "live minutes count as they run"
    );
    assert_eq!(usage("2026-12").await, (Some(10), Some(10), Some(2)));

    // Ending fails before the table commits: nothing billed, the session lives; a retry bills it.
    h.table.fail_next_end(false);
    let path_a = format!("/v1/sessions/{}", a["id"].as_str().expect("id"));
    let (status, _) = delete(&h, &path_a, &token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, ended) = delete(&h, &path_a, &token).await;
    assert_eq!(
        (status, ended["billed_minutes"].clone()),
        (StatusCode::OK, json!(20)),
        "{ended}"
    );

    // Ending commits but the reply is lost: billed once, a retry finds it gone.
    h.table.fail_next_end(true);
    let path_b = format!("/v1/sessions/{}", b["id"].as_str().expect("id"));
    let (status, _) = delete(&h, &path_b, &token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, e) = delete(&h, &path_b, &token).await;
    assert_eq!(status, StatusCode::GONE, "{e}");
    h.sessions.reap().await.expect("reap");

    assert_eq!(
        usage("2026-11").await,
        (Some(10), Some(10), Some(0)),
        "each month billed once"
    );
    assert_eq!(usage("2026-12").await, (Some(10), Some(10), Some(0)));
    assert_eq!(usage("2027-01").await, (Some(0), Some(0), Some(0)));

    // Periods: other workspaces are the operator's to read; bad ones are 400.
    let (status, u) = get(&h, "/v1/usage?period=2026-12&workspace=acme", OPERATOR).await;
    assert_eq!(
        (status, u["total_minutes"].clone(), u["plan"].clone()),
        (StatusCode::OK, json!(20), json!("team")),
        "{u}"
    );
    assert_eq!(u["period_start"], "2026-12-01T00:00:00.000Z");
    let other = workspace(&h, "beta", "free", json!({})).await;
    let (status, _) = get(&h, "/v1/usage?workspace=acme", &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in ["2026-13", "december", "2026-12-01"] {
        let (status, e) = get(&h, &format!("/v1/usage?period={bad}"), &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {e}");
    }
}

#[tokio::test]
async fn malformed_workspace_and_token_requests_get_a_4xx_in_the_planes_shape() {
    let h = harness();
    let admin = workspace(&h, "acme", "free", json!({})).await;
    let long = "x".repeat(5000);
    let cases: Vec<(Method, &str, &str, String)> = vec![
        (Method::POST, "/v1/workspaces", OPERATOR, "{".into()),
        (Method::POST, "/v1/workspaces", OPERATOR, "[]".into()),
        (
            Method::POST,
            "/v1/workspaces",
            OPERATOR,
            r#"{"id": 7}"#.into(),
        ),
        (
            Method::POST,
            "/v1/workspaces",
            OPERATOR,
            format!(r#"{{"id": "{long}"}}"#),
        ),
        (
            Method::POST,
            "/v1/workspaces",
            OPERATOR,
            r#"{"id": "ok", "limits": {"concurrent_sessions": -1}}"#.into(),
        ),
        (
            Method::POST,
            "/v1/workspaces",
            OPERATOR,
            r#"{"id": "ok", "limits": {"seats": 1}}"#.into(),
        ),
        (
            Method::POST,
            "/v1/workspaces",
            OPERATOR,
            r#"{"id": "ok", "extra": true}"#.into(),
        ),
        (
            Method::POST,
            "/v1/workspaces/nobody",
            OPERATOR,
            r#"{"plan": "team"}"#.into(),
        ),
        (
            Method::POST,
            "/v1/workspaces/acme",
            OPERATOR,
            r#"{"plan": "platinum"}"#.into(),
        ),
        (
            Method::GET,
            "/v1/workspaces?limit=0",
            OPERATOR,
            String::new(),
        ),
        (
            Method::GET,
            "/v1/workspaces?limit=abc",
            OPERATOR,
            String::new(),
        ),
        (
            Method::POST,
            "/v1/tokens",
            &admin,
            r#"{"scope": "root"}"#.into(),
        ),
        (
            Method::POST,
            "/v1/tokens",
            &admin,
            format!(r#"{{"name": "{long}"}}"#),
        ),
        (Method::POST, "/v1/tokens", &admin, r#"{"name": ""}"#.into()),
        (Method::POST, "/v1/tokens", OPERATOR, "{}".into()),
        (Method::DELETE, "/v1/tokens/tok_nope", &admin, String::new()),
        (
            Method::GET,
            "/v1/usage?period=0000-01",
            &admin,
            String::new(),
        ),
        (Method::GET, "/v1/usage?nonsense=1", &admin, String::new()),
        (
            Method::GET,
            "/v1/usage?workspace=nobody",
            OPERATOR,
            String::new(),
        ),
    ];
    for (method, path, token, body) in cases {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.clone()))
            .expect("request");
        let resp = h.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            status.is_client_error(),
            "{method} {path} {:.60}: {status} {v}",
            body
        );
        assert!(v["error"]["message"].is_string(), "{method} {path}: {v}");
        assert_ne!(
            v["error"]["code"], "session_not_found",
            "{method} {path} is not about a session: {v}"
        );
    }
}
