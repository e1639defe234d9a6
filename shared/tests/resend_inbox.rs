//! The Resend mirror as a session sees it: the inbox a test reads through the
//! control plane (`GET /v1/sessions/{id}/inbox`), the session JSON's
//! credentials and environment, credential routing by the `re_` key, and reset.

mod support;

use axum::http::Method;
use serde_json::{json, Value};
use support::resend::{email, Api};

/// A sent email is in the inbox as its recipients get it: HTML and text,
/// headers (Resend's and the caller's), attachments with their bytes,
/// recipients and the links of its HTML.
#[tokio::test]
async fn the_inbox_holds_what_recipients_would_get() {
    let api = Api::new();
    let s = api.session().await;
    let id = api
        .send(
            &s,
            json!({
                "from": "Acme <hello@example.com>",
                "to": "Ann <ann@test.dev>",
                "bcc": ["audit@test.dev"],
                "subject": "Your sign-in link",
                "html": "<p><a href=\"https://app.test/magic?token=abc&amp;u=1\">Sign in</a></p>",
                "text": "Sign in: https://app.test/magic?token=abc&u=1",
                "headers": {"X-Entity-Ref-ID": "123"},
                "attachments": [
                    {"filename": "note.txt", "content": "aGVsbG8="},
                    {"filename": "raw.bin", "content": [1, 2, 3]}
                ],
            }),
        )
        .await;
    let inbox = api.inbox(&s, "").await;
    assert_eq!(inbox.len(), 1);
    let m = &inbox[0];
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["status"], "sent");
    assert_eq!(m["subject"], "Your sign-in link");
    assert_eq!(m["links"], json!(["https://app.test/magic?token=abc&u=1"]));
    assert_eq!(m["text"], "Sign in: https://app.test/magic?token=abc&u=1");
    assert_eq!(m["recipients"], json!(["ann@test.dev", "audit@test.dev"]));
    assert_eq!(m["headers"]["X-Entity-Ref-ID"], "123");
    assert_eq!(m["headers"]["To"], "Ann <ann@test.dev>");
    assert_eq!(m["headers"]["From"], "Acme <hello@example.com>");
    assert!(
        m["headers"].get("Bcc").is_none(),
        "bcc is not a header recipients see"
    );
    assert_eq!(m["attachments"][0]["content"], "aGVsbG8=");
    assert_eq!(m["attachments"][0]["content_type"], "text/plain");
    assert_eq!(m["attachments"][0]["size"], 5);
    assert_eq!(m["attachments"][1]["content"], "AQID");
    let one = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/inbox/{id}", s.id),
            None,
        )
        .await;
    assert_eq!(one.status.as_u16(), 200, "{}", one.json);
    assert_eq!(&one.json, m);
}

/// `?to=` keeps the emails one address received, by to, cc or bcc,
/// whatever its case; newest first, `limit` bounded.
#[tokio::test]
async fn the_inbox_filters_by_recipient_newest_first() {
    let api = Api::new();
    let s = api.session().await;
    let first = api.send(&s, email("ann@test.dev")).await;
    api.clock.advance_ms(1000);
    let mut cc = email("bob@test.dev");
    cc["cc"] = json!("Ann@Test.dev");
    let second = api.send(&s, cc).await;
    api.clock.advance_ms(1000);
    api.send(&s, email("bob@test.dev")).await;
    let ann: Vec<Value> = api
        .inbox(&s, "?to=ann@test.dev")
        .await
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ann, [json!(second), json!(first)]);
    assert_eq!(api.inbox(&s, "?limit=1").await.len(), 1);
    assert_eq!(api.inbox(&s, "?to=nobody@test.dev").await.len(), 0);
    let r = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/inbox?limit=0", s.id),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.json);
}

/// A scheduled email reaches the inbox only when it is sent.
#[tokio::test]
async fn a_scheduled_email_reaches_the_inbox_when_sent() {
    let api = Api::new();
    let s = api.session().await;
    let mut e = email("ann@test.dev");
    e["scheduled_at"] = json!("in 5 minutes");
    let id = api.send(&s, e).await;
    assert!(api.inbox(&s, "").await.is_empty());
    let r = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/inbox/{id}", s.id),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.json);
    api.advance_ms(5 * 60_000).await;
    let inbox = api.inbox(&s, "").await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["sent_at"], "2026-01-01 00:05:00.000000+00");
}

/// The session JSON carries Resend's credentials and the variables the SDKs
/// read; the key reaches the session at the server's root (credential
/// routing), and a key of no session is Resend's 403.
#[tokio::test]
async fn a_resend_session_is_reached_by_its_key_at_the_root() {
    let api = Api::new();
    let s = api.session().await;
    let m = &s.json["mirrors"]["resend"];
    let key = m["credentials"]["api_key"].as_str().expect("key");
    assert!(key.starts_with("re_") && key.len() > 20, "{key}");
    let secret = m["credentials"]["webhook_secret"].as_str().expect("secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(m["env"]["RESEND_API_KEY"], key);
    let url = format!("http://127.0.0.1:4400/m/{}/resend", s.id);
    assert_eq!(m["env"]["RESEND_BASE_URL"], url.as_str());
    assert_eq!(m["env"]["RESEND_API_URL"], url.as_str());
    assert!(s.json["mirrors"].get("stripe").is_none());

    let auth = format!("Bearer {key}");
    let body = email("ann@test.dev").to_string();
    let r = api
        .raw(
            Method::POST,
            "/emails",
            &[("authorization", &auth)],
            Some(&body),
        )
        .await;
    let id = r.ok()["id"].as_str().expect("id").to_string();
    assert_eq!(api.inbox(&s, "").await[0]["id"], id.as_str());
    let r = api
        .raw(
            Method::GET,
            "/emails",
            &[("authorization", "Bearer re_nobody_123")],
            None,
        )
        .await;
    r.refused(403, "invalid_api_key");
}

/// Reset empties the inbox, the emails and the idempotency keys.
#[tokio::test]
async fn reset_empties_the_inbox_emails_and_keys() {
    let api = Api::new();
    let s = api.session().await;
    let key = [("idempotency-key", "k1")];
    let first = api
        .call_with(
            &s,
            Method::POST,
            "/emails",
            Some(email("ann@test.dev")),
            &key,
        )
        .await
        .ok();
    let r = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{}/reset", s.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    assert!(api.inbox(&s, "").await.is_empty());
    assert_eq!(api.get(&s, "/emails").await.ok()["data"], json!([]));
    let again = api
        .call_with(
            &s,
            Method::POST,
            "/emails",
            Some(email("ann@test.dev")),
            &key,
        )
        .await
        .ok();
    assert_ne!(
        first["id"], again["id"],
        "the key was forgotten with the reset"
    );
}

/// A session without the Resend mirror has no inbox to read.
#[tokio::test]
async fn a_session_without_resend_has_no_inbox() {
    let api = Api::new();
    let r = api
        .control(
            Method::POST,
            "/v1/sessions",
            Some(json!({"mirrors": ["stripe"]})),
        )
        .await;
    let id = r.json["id"].as_str().expect("id").to_string();
    let r = api
        .control(Method::GET, &format!("/v1/sessions/{id}/inbox"), None)
        .await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.json);
}
