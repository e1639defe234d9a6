//! The Resend mirror's emails through the whole API (`shared::api::router`)
//! with `tower::ServiceExt::oneshot`: sending, reading back, lists, the checks
//! Resend makes, batches, idempotency keys and scheduled emails (on a clock the
//! tests move, with the dispatcher firing timers). Every refusal is checked to
//! be Resend's `{statusCode, name, message}` with a 4xx.

mod support;

use axum::http::Method;
use serde_json::{json, Value};
use shared::mirrors::resend::later::DELIVERED_AFTER_MS;
use support::resend::{email, Api, START_MS};

/// A sent email reads back as Resend returns it: its fields, `last_event`
/// `sent`, a UUID id and Resend's timestamp.
#[tokio::test]
async fn a_sent_email_reads_back_with_last_event_sent() {
    let api = Api::new();
    let s = api.session().await;
    let id = api
        .send(
            &s,
            json!({
                "from": "Acme <hello@example.com>",
                "to": ["a@test.dev", "b@test.dev"],
                "cc": "c@test.dev",
                "reply_to": "support@example.com",
                "subject": "Welcome",
                "html": "<b>hi</b>",
                "text": "hi",
                "tags": [{"name": "category", "value": "welcome"}],
            }),
        )
        .await;
    assert!(uuid_like(&id), "{id}");
    let e = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert_eq!(e["object"], "email");
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["to"], json!(["a@test.dev", "b@test.dev"]));
    assert_eq!(e["cc"], json!(["c@test.dev"]));
    assert_eq!(e["bcc"], json!([]));
    assert_eq!(e["reply_to"], json!(["support@example.com"]));
    assert_eq!(e["from"], "Acme <hello@example.com>");
    assert_eq!(e["subject"], "Welcome");
    assert_eq!(e["html"], "<b>hi</b>");
    assert_eq!(e["text"], "hi");
    assert_eq!(e["last_event"], "sent");
    assert_eq!(e["scheduled_at"], Value::Null);
    assert_eq!(e["created_at"], "2026-01-01 00:00:00.000000+00");
    assert_eq!(e["tags"], json!([{"name": "category", "value": "welcome"}]));
}

/// Lists are newest first, without bodies, paged with `after` and `before`.
#[tokio::test]
async fn lists_are_newest_first_and_page_with_after_and_before() {
    let api = Api::new();
    let s = api.session().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(api.send(&s, email(&format!("u{i}@test.dev"))).await);
        api.clock.advance_ms(1000);
    }
    ids.reverse();
    let page = api.get(&s, "/emails?limit=2").await.ok();
    assert_eq!(page["object"], "list");
    assert_eq!(page["has_more"], true);
    assert_eq!(page_ids(&page), ids[..2]);
    assert!(page["data"][0].get("html").is_none(), "{page}");
    let next = api
        .get(&s, &format!("/emails?limit=2&after={}", ids[1]))
        .await
        .ok();
    assert_eq!(page_ids(&next), ids[2..4]);
    let back = api
        .get(&s, &format!("/emails?limit=2&before={}", ids[2]))
        .await
        .ok();
    assert_eq!(page_ids(&back), ids[..2]);
    let all = api.get(&s, "/emails").await.ok();
    assert_eq!(page_ids(&all), ids);
    assert_eq!(all["has_more"], false);
    api.get(&s, "/emails?limit=101")
        .await
        .refused(422, "validation_error");
    api.get(&s, "/emails?limit=ten")
        .await
        .refused(422, "validation_error");
}

/// A missing key is 401 `missing_api_key`; another session's key is 403
/// `invalid_api_key`; neither sends anything.
#[tokio::test]
async fn requests_without_this_sessions_key_are_refused() {
    let api = Api::new();
    let (s, other) = (api.session().await, api.session().await);
    let uri = format!("/m/{}/resend/emails", s.id);
    let body = email("a@test.dev").to_string();
    api.raw(Method::POST, &uri, &[], Some(&body))
        .await
        .refused(401, "missing_api_key");
    let wrong = format!("Bearer {}", other.key);
    api.raw(
        Method::POST,
        &uri,
        &[("authorization", &wrong)],
        Some(&body),
    )
    .await
    .refused(403, "invalid_api_key");
    assert_eq!(api.get(&s, "/emails").await.ok()["data"], json!([]));
}

/// Mail from a domain the session has not verified is refused as Resend
/// refuses it; `onboarding@resend.dev` always works; the empty seed has no domain.
#[tokio::test]
async fn only_verified_domains_and_resend_dev_may_send() {
    let api = Api::new();
    let s = api.session().await;
    let mut e = email("a@test.dev");
    e["from"] = json!("me@gmail.com");
    let r = api.post(&s, "/emails", e.clone()).await;
    let msg = r.refused(403, "validation_error");
    assert!(msg.contains("gmail.com domain is not verified"), "{msg}");
    e["from"] = json!("Acme <onboarding@resend.dev>");
    api.send(&s, e.clone()).await;

    let empty = api
        .session_with(json!({"mirrors": ["resend"], "seeds": {"resend": "empty"}}))
        .await;
    api.post(&empty, "/emails", email("a@test.dev"))
        .await
        .refused(403, "validation_error");
    api.send(&empty, e).await;
}

/// Fields Resend requires, addresses it cannot read, more than 50 recipients
/// and wrong types are 422s in Resend's words, never a 5xx.
#[tokio::test]
async fn bad_emails_get_resends_422s() {
    let api = Api::new();
    let s = api.session().await;
    let base = email("a@test.dev");
    let with = |k: &str, v: Value| {
        let mut e = base.clone();
        e[k] = v;
        e
    };
    let without = |k: &str| {
        let mut e = base.clone();
        e.as_object_mut().expect("object").remove(k);
        e
    };
    let fifty_one: Vec<String> = (0..51).map(|i| format!("u{i}@test.dev")).collect();
    let cases = [
        (
            without("to"),
            "missing_required_field",
            "Missing `to` field.",
        ),
        (
            without("from"),
            "missing_required_field",
            "Missing `from` field.",
        ),
        (
            without("subject"),
            "missing_required_field",
            "Missing `subject` field.",
        ),
        (
            with("to", json!([])),
            "missing_required_field",
            "Missing `to` field.",
        ),
        (
            with("from", json!("not an address")),
            "validation_error",
            "Invalid `from` field.",
        ),
        (
            with("to", json!(["ok@test.dev", "nope"])),
            "validation_error",
            "Invalid `to` field.",
        ),
        (
            with("cc", json!(fifty_one)),
            "validation_error",
            "Too many recipients in the `cc` field",
        ),
        (with("subject", json!(5)), "validation_error", "`subject`"),
        (with("to", json!({"a": 1})), "validation_error", "`to`"),
        (with("surprise", json!(1)), "validation_error", "`surprise`"),
        (
            with("headers", json!({"X-N": 1})),
            "validation_error",
            "`headers`",
        ),
        (
            with("tags", json!([{"name": "has space"}])),
            "validation_error",
            "`tags`",
        ),
        (
            with("attachments", json!([{"filename": "a.txt"}])),
            "invalid_attachment",
            "`content` or `path`",
        ),
        (
            with("scheduled_at", json!("someday")),
            "validation_error",
            "`scheduled_at`",
        ),
        (
            with("scheduled_at", json!("in 31 days")),
            "validation_error",
            "30 days",
        ),
    ];
    for (body, name, says) in cases {
        let r = api.post(&s, "/emails", body.clone()).await;
        let msg = r.refused(422, name);
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let uri = format!("/m/{}/resend/emails", s.id);
    let auth = format!("Bearer {}", s.key);
    api.raw(
        Method::POST,
        &uri,
        &[("authorization", &auth)],
        Some("{not json"),
    )
    .await
    .refused(422, "validation_error");
    api.raw(
        Method::POST,
        &uri,
        &[("authorization", &auth)],
        Some("[1, 2]"),
    )
    .await
    .refused(422, "validation_error");
    assert_eq!(api.get(&s, "/emails").await.ok()["data"], json!([]));
}

/// Unknown and malformed ids, and routes Resend has that are not emulated,
/// answer Resend's 404 / 422.
#[tokio::test]
async fn unknown_emails_and_routes_are_resends_404s() {
    let api = Api::new();
    let s = api.session().await;
    api.get(&s, "/emails/0b9e4c1e-3f5a-4c3e-9d1a-2b7c8d9e0f1a")
        .await
        .refused(404, "not_found");
    api.get(&s, "/emails/not-a-uuid")
        .await
        .refused(422, "validation_error");
    let msg = api
        .post(
            &s,
            "/topics",
            json!({"name": "x", "default_subscription": "opt_in"}),
        )
        .await
        .refused(404, "not_found")
        .to_string();
    assert!(msg.contains("not emulated yet"), "{msg}");
    api.get(&s, "/nothing-here").await.refused(404, "not_found");
}

/// The same `Idempotency-Key` and body again answers the first email's id and
/// sends nothing more; another body under it is a 409; keys over 256 chars are 400s.
#[tokio::test]
async fn an_idempotency_key_replays_and_refuses_another_payload() {
    let api = Api::new();
    let s = api.session().await;
    let key = [("idempotency-key", "welcome-user-1")];
    let send = |body: Value| api.call_with(&s, Method::POST, "/emails", Some(body), &key);
    let first = send(email("a@test.dev")).await.ok();
    let again = send(email("a@test.dev")).await.ok();
    assert_eq!(first, again);
    send(email("b@test.dev"))
        .await
        .refused(409, "invalid_idempotent_request");
    assert_eq!(
        api.get(&s, "/emails").await.ok()["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let long = "k".repeat(257);
    api.call_with(
        &s,
        Method::POST,
        "/emails",
        Some(email("a@test.dev")),
        &[("idempotency-key", &long)],
    )
    .await
    .refused(400, "invalid_idempotency_key");
}

/// A batch sends every email or, in strict mode (the default), none when one
/// is bad; permissive mode sends the good ones and lists the others by index.
#[tokio::test]
async fn batches_are_all_or_nothing_unless_permissive() {
    let api = Api::new();
    let s = api.session().await;
    let ok = api
        .post(
            &s,
            "/emails/batch",
            json!([email("a@test.dev"), email("b@test.dev")]),
        )
        .await
        .ok();
    let ids: Vec<&str> = ok["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    let mut bad = email("c@test.dev");
    bad["from"] = json!("me@unverified.test");
    let r = api
        .post(
            &s,
            "/emails/batch",
            json!([email("c@test.dev"), bad.clone()]),
        )
        .await;
    let msg = r.refused(403, "validation_error");
    assert!(msg.starts_with("emails[1]: "), "{msg}");
    assert_eq!(
        list_len(&api, &s).await,
        2,
        "strict: nothing of the bad batch was sent"
    );

    let permissive = [("x-batch-validation", "permissive")];
    let r = api
        .call_with(
            &s,
            Method::POST,
            "/emails/batch",
            Some(json!([email("d@test.dev"), bad])),
            &permissive,
        )
        .await
        .ok();
    assert_eq!(r["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["errors"][0]["index"], 1);
    assert_eq!(list_len(&api, &s).await, 3);

    let mut scheduled = email("e@test.dev");
    scheduled["scheduled_at"] = json!("in 1 hour");
    api.post(&s, "/emails/batch", json!([scheduled]))
        .await
        .refused(422, "validation_error");
    let hundred_one: Vec<Value> = (0..101).map(|i| email(&format!("u{i}@test.dev"))).collect();
    api.post(&s, "/emails/batch", json!(hundred_one))
        .await
        .refused(422, "validation_error");
    api.post(&s, "/emails/batch", json!([]))
        .await
        .refused(422, "validation_error");
    api.post(&s, "/emails/batch", json!({"not": "an array"}))
        .await
        .refused(422, "validation_error");
}

/// A scheduled email is `scheduled` until its time, then `sent` (the
/// dispatcher fires its timer); rescheduling moves that time.
#[tokio::test]
async fn a_scheduled_email_is_sent_at_its_time_and_can_be_moved() {
    let api = Api::new();
    let s = api.session().await;
    let mut e = email("a@test.dev");
    e["scheduled_at"] = json!("2026-01-01T00:10:00Z");
    let id = api.send(&s, e).await;
    let got = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert_eq!(got["last_event"], "scheduled");
    assert_eq!(got["scheduled_at"], "2026-01-01 00:10:00.000000+00");

    let moved = api
        .call(
            &s,
            Method::PATCH,
            &format!("/emails/{id}"),
            Some(json!({"scheduled_at": "in 20 min"})),
        )
        .await
        .ok();
    assert_eq!(moved, json!({"object": "email", "id": id}));
    api.advance_ms(10 * 60_000).await;
    let got = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert_eq!(
        got["last_event"], "scheduled",
        "moved to 00:20, not sent at 00:10"
    );
    api.advance_ms(10 * 60_000).await;
    let got = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert_eq!(got["last_event"], "sent");
    assert_eq!(api.clock_ms(), START_MS + 20 * 60_000);
}

/// A canceled email is never sent; only a scheduled email can be canceled
/// or rescheduled.
#[tokio::test]
async fn a_canceled_email_is_never_sent() {
    let api = Api::new();
    let s = api.session().await;
    let mut e = email("a@test.dev");
    e["scheduled_at"] = json!("in 1 min");
    let id = api.send(&s, e).await;
    let r = api
        .post(&s, &format!("/emails/{id}/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(r, json!({"object": "email", "id": id}));
    api.advance_ms(5 * 60_000).await;
    let got = api.get(&s, &format!("/emails/{id}")).await.ok();
    assert_eq!(got["last_event"], "canceled");
    api.post(&s, &format!("/emails/{id}/cancel"), json!({}))
        .await
        .refused(422, "validation_error");
    let sent = api.send(&s, email("b@test.dev")).await;
    api.call(
        &s,
        Method::PATCH,
        &format!("/emails/{sent}"),
        Some(json!({"scheduled_at": "in 1 hour"})),
    )
    .await
    .refused(422, "validation_error");
    assert!(api
        .inbox(&s, "")
        .await
        .iter()
        .all(|m| m["id"] != id.as_str()));
}

/// A sent email moves on a few seconds later as Resend's test addresses
/// decide: delivered, bounced, suppressed, or delivered and then complained.
#[tokio::test]
async fn resends_test_addresses_decide_where_a_sent_email_ends() {
    let api = Api::new();
    let s = api.session().await;
    let cases = [
        ("ann@test.dev", "delivered", "delivered"),
        ("delivered+x@resend.dev", "delivered", "delivered"),
        ("bounced@resend.dev", "bounced", "bounced"),
        ("Bob <bounced+signup@resend.dev>", "bounced", "bounced"),
        ("suppressed@resend.dev", "suppressed", "suppressed"),
        ("complained@resend.dev", "delivered", "complained"),
    ];
    let mut ids = Vec::new();
    for (to, _, _) in cases {
        ids.push(api.send(&s, email(to)).await);
    }
    for id in &ids {
        assert_eq!(last_event(&api, &s, id).await, "sent");
    }
    api.advance_ms(DELIVERED_AFTER_MS).await;
    for ((to, first, _), id) in cases.iter().zip(&ids) {
        assert_eq!(last_event(&api, &s, id).await, *first, "{to}");
    }
    api.advance_ms(DELIVERED_AFTER_MS).await;
    for ((to, _, then), id) in cases.iter().zip(&ids) {
        assert_eq!(last_event(&api, &s, id).await, *then, "{to}");
    }
}

async fn last_event(api: &Api, s: &support::resend::Ses, id: &str) -> Value {
    api.get(s, &format!("/emails/{id}")).await.ok()["last_event"].clone()
}

/// In a `resend:over-quota` session every send, single or batch, answers
/// Resend's 429 `daily_quota_exceeded`, and nothing is sent.
#[tokio::test]
async fn an_over_quota_session_refuses_every_send_with_429() {
    let api = Api::new();
    let s = api
        .session_with(json!({"mirrors": ["resend"], "seeds": {"resend": "over-quota"}}))
        .await;
    let msg = api
        .post(&s, "/emails", email("a@test.dev"))
        .await
        .refused(429, "daily_quota_exceeded")
        .to_string();
    assert!(msg.contains("daily"), "{msg}");
    api.post(&s, "/emails/batch", json!([email("a@test.dev")]))
        .await
        .refused(429, "daily_quota_exceeded");
    assert_eq!(api.get(&s, "/emails").await.ok()["data"], json!([]));
}

/// Every answer carries Resend's `ratelimit-*` headers; past the session's
/// rate a request gets 429 `rate_limit_exceeded` with `retry-after`.
#[tokio::test]
async fn the_rate_limit_is_told_in_headers_and_enforced_with_429() {
    let api = Api::new();
    let s = api
        .session_with(json!({"mirrors": ["resend"], "rate_limit": 2}))
        .await;
    let h = |r: &support::resend::Resp, k: &str| {
        r.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let first = api.get(&s, "/emails").await;
    assert_eq!(first.status.as_u16(), 200);
    assert_eq!(h(&first, "ratelimit-limit"), "2");
    assert_eq!(h(&first, "ratelimit-remaining"), "1");
    assert_eq!(h(&first, "ratelimit-reset"), "1");
    let second = api.post(&s, "/emails", json!({})).await;
    second.refused(422, "missing_required_field");
    assert_eq!(h(&second, "ratelimit-remaining"), "0", "refusals count too");
    let third = api.get(&s, "/emails").await;
    third.refused(429, "rate_limit_exceeded");
    assert_eq!(h(&third, "retry-after"), "1");
    assert_eq!(h(&third, "ratelimit-remaining"), "0");
    api.clock.advance_ms(1000);
    assert_eq!(api.get(&s, "/emails").await.status.as_u16(), 200);
}

fn uuid_like(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

fn page_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect()
}

async fn list_len(api: &Api, s: &support::resend::Ses) -> usize {
    api.get(s, "/emails?limit=100").await.ok()["data"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

/// Simultaneous requests under one `Idempotency-Key` send one email: the
/// session's writes run one at a time, so each later one replays the first
/// (Resend's `concurrent_idempotent_requests` cannot arise).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_requests_under_one_key_send_once() {
    let api = Api::new();
    let s = api.session().await;
    let body = email("race@test.dev");
    let key = [("idempotency-key", "race-1")];
    let one = || api.call_with(&s, Method::POST, "/emails", Some(body.clone()), &key);
    let (a, b, c, d) = tokio::join!(one(), one(), one(), one());
    let ids: Vec<Value> = [a, b, c, d]
        .into_iter()
        .map(|r| r.ok()["id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(api.inbox(&s, "?to=race@test.dev").await.len(), 1);
}
