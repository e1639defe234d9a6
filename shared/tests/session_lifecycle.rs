//! The whole HTTP surface (`shared::api::router`, control plane + Stripe mirror)
//! through `oneshot`, on the embedded backends and a manual clock: who owns a
//! snapshot, how long it lives, what an ended or expired session answers, and
//! paged lists.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::api::{router, AppState};
use shared::session::{Clock, ManualClock, Session, Sessions};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::SessionTable;
use tower::ServiceExt;

const TOKEN: &str = "test-token";
/// Starts half a second into a second, so whole-second rounding would show.
const T0: i64 = 1_700_000_000_500;

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    clock: Arc<ManualClock>,
    sessions: Arc<Sessions>,
    table: Arc<SqliteSessionTable>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = Arc::new(SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table"));
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    let clock = Arc::new(ManualClock::new(T0));
    let mirrors = shared::mirrors::all();
    let sessions = Arc::new(Sessions::new(
        table.clone(),
        Arc::new(store),
        clock.clone() as Arc<dyn Clock>,
        mirrors.iter().map(|m| m.def.clone()).collect(),
    ));
    let state = AppState::new(
        sessions.clone(),
        TOKEN,
        "local",
        "http://127.0.0.1:4400",
        mirrors,
    );
    Harness {
        app: router(state),
        clock,
        sessions,
        table,
        _dir: dir,
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    /// A control-plane call with the workspace token.
    async fn api(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(body)
            .expect("request");
        self.send(req).await
    }

    async fn up(&self, body: Value) -> Value {
        let (status, s) = self.api(Method::POST, "/v1/sessions", body).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        s
    }

    /// A Stripe call on a session's mirror, form-encoded.
    async fn stripe(
        &self,
        s: &Value,
        method: Method,
        path: &str,
        form: &str,
    ) -> (StatusCode, Value) {
        let url = format!("/m/{}/stripe{path}", s["id"].as_str().expect("id"));
        let key = s["mirrors"]["stripe"]["credentials"]["secret_key"]
            .as_str()
            .expect("key");
        let req = Request::builder()
            .method(method)
            .uri(url)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("request");
        self.send(req).await
    }

    async fn add_customer(&self, s: &Value, email: &str) {
        let (status, v) = self
            .stripe(s, Method::POST, "/v1/customers", &format!("email={email}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    async fn emails(&self, s: &Value) -> Vec<String> {
        let (status, v) = self
            .stripe(s, Method::GET, "/v1/customers?limit=100", "")
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let mut out: Vec<String> = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|c| c["email"].as_str().map(str::to_owned))
            .filter(|e| e.ends_with("@test.dev"))
            .collect();
        out.sort();
        out
    }

    async fn snapshot(&self, s: &Value, body: Value) -> String {
        let (status, snap) = self
            .api(
                Method::POST,
                &format!("/v1/sessions/{}/snapshots", s["id"].as_str().expect("id")),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{snap}");
        snap["id"].as_str().expect("snap id").to_owned()
    }

    async fn down(&self, s: &Value) -> Value {
        let (status, v) = self
            .api(
                Method::DELETE,
                &format!("/v1/sessions/{}", s["id"].as_str().expect("id")),
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    /// Puts a new session row under an ended session's id, as a later `up`
    /// that drew the same 4-character id would (ids are reused).
    async fn reuse_id(&self, ended: &Value) -> Value {
        let template = self
            .sessions
            .create("local", Default::default())
            .await
            .expect("create");
        let mut reused: Session = template.clone();
        reused.id = ended["id"].as_str().expect("id").to_owned();
        reused.incarnation = format!("reused-{}", template.incarnation);
        self.table
            .create_session(&reused.to_row().expect("row"))
            .await
            .expect("create the reused row");
        let (status, v) = self
            .api(
                Method::GET,
                &format!("/v1/sessions/{}", reused.id),
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "the reused id is live again: {v}");
        v
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Item 1: a session that reuses an ended session's id sees none of its snapshots.
#[tokio::test]
async fn a_reused_session_id_lists_none_of_the_ended_sessions_snapshots() {
    let h = harness();
    let old = h.up(json!({"persistent": true, "name": "old-one"})).await;
    h.add_customer(&old, "old@test.dev").await;
    let kept = h.snapshot(&old, Value::Null).await;
    h.clock.advance_ms(1);
    let ended = h.down(&old).await;
    let final_snapshot = ended["final_snapshot"].as_str().expect("final").to_owned();

    let new = h.reuse_id(&old).await;
    let (status, list) = h
        .api(
            Method::GET,
            &format!("/v1/sessions/{}/snapshots", new["id"].as_str().expect("id")),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        ids(&list),
        Vec::<String>::new(),
        "the new incarnation must not list the old one's snapshots"
    );
    assert_eq!(h.emails(&new).await, Vec::<String>::new());

    // The workspace still has them, and restoring one by id forks state on purpose.
    let (_, all) = h.api(Method::GET, "/v1/snapshots", Value::Null).await;
    assert_eq!(ids(&all), [final_snapshot.clone(), kept.clone()], "{all}");
    let (status, v) = h
        .api(
            Method::POST,
            &format!("/v1/sessions/{}/restore", new["id"].as_str().expect("id")),
            json!({"snapshot": kept}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(h.emails(&new).await, ["old@test.dev"]);
}

/// Item 2: an ephemeral session's snapshots go with it unless taken with `keep`.
#[tokio::test]
async fn ending_an_ephemeral_session_deletes_its_snapshots_except_kept_ones() {
    let h = harness();
    let s = h.up(json!({})).await;
    h.add_customer(&s, "a@test.dev").await;
    let plain = h.snapshot(&s, Value::Null).await;
    h.clock.advance_ms(1);
    let kept = h.snapshot(&s, json!({"keep": true})).await;
    let (_, list) = h
        .api(
            Method::GET,
            &format!("/v1/sessions/{}/snapshots", s["id"].as_str().expect("id")),
            Value::Null,
        )
        .await;
    assert_eq!(
        ids(&list),
        [kept.clone(), plain.clone()],
        "newest first: {list}"
    );
    assert_eq!(list["data"][0]["keep"], true);
    h.down(&s).await;

    let (_, all) = h.api(Method::GET, "/v1/snapshots", Value::Null).await;
    assert_eq!(ids(&all), std::slice::from_ref(&kept), "{all}");
    let other = h.up(json!({})).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    let restore = |snap: String| {
        let (h, path) = (&h, format!("/v1/sessions/{other_id}/restore"));
        async move {
            h.api(Method::POST, &path, json!({ "snapshot": snap }))
                .await
        }
    };
    let (status, v) = restore(plain.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "snapshot_not_found", "{v}");
    let (status, v) = restore(kept.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(h.emails(&other).await, ["a@test.dev"]);
}

/// Item 2: `DELETE /v1/snapshots/{id}` deletes it; sessions restored from it keep their state.
#[tokio::test]
async fn a_deleted_snapshot_is_gone_but_sessions_restored_from_it_keep_their_state() {
    let h = harness();
    let s = h.up(json!({})).await;
    h.add_customer(&s, "b@test.dev").await;
    let snap = h.snapshot(&s, Value::Null).await;
    let other = h.up(json!({})).await;
    let (status, _) = h
        .api(
            Method::POST,
            &format!("/v1/sessions/{}/restore", other["id"].as_str().expect("id")),
            json!({"snapshot": snap}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, v) = h
        .api(
            Method::DELETE,
            &format!("/v1/snapshots/{snap}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"id": snap, "object": "snapshot", "deleted": true})
    );
    let (status, v) = h
        .api(
            Method::DELETE,
            &format!("/v1/snapshots/{snap}"),
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("snapshot_not_found")),
        "{v}"
    );
    let (_, all) = h.api(Method::GET, "/v1/snapshots", Value::Null).await;
    assert!(!ids(&all).contains(&snap), "{all}");
    let (status, v) = h
        .api(Method::DELETE, "/v1/snapshots/not-a-snapshot", Value::Null)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    // A cold instance rebuilds the restored session from its own copy of the bytes.
    h.sessions.engine().evict_idle(std::time::Duration::ZERO);
    assert_eq!(
        h.sessions.engine().resident_copies(),
        0,
        "every copy is cold"
    );
    assert_eq!(h.emails(&other).await, ["b@test.dev"]);
}

/// Item 2: the workspace's snapshots come in pages, newest first.
#[tokio::test]
async fn workspace_snapshots_page_newest_first() {
    let h = harness();
    let s = h.up(json!({})).await;
    let mut taken = Vec::new();
    for _ in 0..5 {
        taken.push(h.snapshot(&s, Value::Null).await);
        h.clock.advance_ms(1);
    }
    taken.reverse();
    let (_, first) = h
        .api(Method::GET, "/v1/snapshots?limit=2", Value::Null)
        .await;
    assert_eq!(
        (ids(&first), &first["has_more"]),
        (taken[..2].to_vec(), &json!(true))
    );
    let (_, rest) = h
        .api(
            Method::GET,
            &format!("/v1/snapshots?limit=10&starting_after={}", taken[1]),
            Value::Null,
        )
        .await;
    assert_eq!(
        (ids(&rest), &rest["has_more"]),
        (taken[2..].to_vec(), &json!(false))
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "starting_after=ses_abcd",
        "color=red",
    ] {
        let (status, v) = h
            .api(Method::GET, &format!("/v1/snapshots?{bad}"), Value::Null)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
}

/// Item 3: an ended session answers 410 with reason and time, on both planes.
#[tokio::test]
async fn an_ended_session_answers_410_with_reason_and_time_on_both_planes() {
    let h = harness();
    let s = h.up(json!({})).await;
    let id = s["id"].as_str().expect("id");
    h.clock.advance_ms(2_000);
    h.down(&s).await;
    h.clock.advance_ms(23 * 3_600_000);
    h.sessions.reap().await.expect("reap");

    let (status, v) = h
        .api(Method::GET, &format!("/v1/sessions/{id}"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::GONE, "{v}");
    assert_eq!(v["error"]["code"], "session_ended");
    assert_eq!(v["error"]["reason"], "ended");
    assert_eq!(v["error"]["ended_at_ms"], T0 + 2_000);
    assert_eq!(v["error"]["ended_at"], "2023-11-14T22:13:22.500Z");
    let (status, v) = h
        .api(
            Method::POST,
            &format!("/v1/sessions/{id}/reset"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{v}");

    let (status, v) = h.stripe(&s, Method::GET, "/v1/customers", "").await;
    assert_eq!(status, StatusCode::GONE, "{v}");
    assert_eq!(
        v["error"]["type"], "invalid_request_error",
        "Stripe's shape: {v}"
    );
    assert_eq!(v["error"]["code"], "session_ended", "{v}");

    // Kept for at least a day, then forgotten.
    h.clock.advance_ms(2 * 3_600_000);
    h.sessions.reap().await.expect("reap");
    let (status, v) = h
        .api(Method::GET, &format!("/v1/sessions/{id}"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

/// Item 3: expiry counts milliseconds: a 1 s session lives exactly 1 s.
#[tokio::test]
async fn a_one_second_session_lives_one_second_to_the_millisecond() {
    let h = harness();
    let s = h.up(json!({"timeout_seconds": 1})).await;
    let id = s["id"].as_str().expect("id");
    assert_eq!(s["expires_at_ms"], T0 + 1_000, "{s}");
    h.clock.advance_ms(999);
    h.sessions.reap().await.expect("reap");
    let (status, v) = h.stripe(&s, Method::GET, "/v1/customers", "").await;
    assert_eq!(status, StatusCode::OK, "alive at 999 ms: {v}");
    h.clock.advance_ms(1);
    let (status, v) = h.stripe(&s, Method::GET, "/v1/customers", "").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (StatusCode::GONE, &json!("session_expired")),
        "{v}"
    );
    assert_eq!(h.sessions.reap().await.expect("reap"), 1);
    let (status, v) = h
        .api(Method::GET, &format!("/v1/sessions/{id}"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::GONE, "{v}");
    assert_eq!(
        (&v["error"]["reason"], &v["error"]["ended_at_ms"]),
        (&json!("expired"), &json!(T0 + 1_000))
    );
}

/// Item 8: `GET /v1/sessions` pages by id and filters by status, mode and name.
#[tokio::test]
async fn session_list_pages_and_filters() {
    let h = harness();
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(h.up(json!({})).await["id"].as_str().expect("id").to_owned());
    }
    let short = h.up(json!({"timeout_seconds": 1})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let named = h.up(json!({"persistent": true, "name": "staging"})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    made.push(short.clone());
    made.push(named.clone());
    made.sort();
    h.clock.advance_ms(1_000);

    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = h
            .api(
                Method::GET,
                &format!("/v1/sessions?limit=3{cursor}"),
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = ids(&page);
        assert!(got.len() <= 3);
        paged.extend(got.clone());
        if page["has_more"] != json!(true) {
            break;
        }
        cursor = format!("&starting_after={}", got.last().expect("a full page"));
    }
    assert_eq!(paged, made, "every session once, ordered by id");

    let (_, v) = h
        .api(Method::GET, "/v1/sessions?status=expired", Value::Null)
        .await;
    assert_eq!(ids(&v), std::slice::from_ref(&short));
    let (_, v) = h
        .api(Method::GET, "/v1/sessions?mode=persistent", Value::Null)
        .await;
    assert_eq!(ids(&v), std::slice::from_ref(&named));
    let (_, v) = h
        .api(Method::GET, "/v1/sessions?name=staging", Value::Null)
        .await;
    assert_eq!(ids(&v), [named]);
    let (_, v) = h
        .api(
            Method::GET,
            "/v1/sessions?status=active&limit=100",
            Value::Null,
        )
        .await;
    assert_eq!(ids(&v).len(), 6, "{v}");
    for bad in [
        "limit=0",
        "limit=5000",
        "status=dead",
        "mode=forever",
        "starting_after=x",
        "foo=1",
    ] {
        let (status, v) = h
            .api(Method::GET, &format!("/v1/sessions?{bad}"), Value::Null)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request", "{v}");
    }
}
