//! The official Resend SDKs (resend-python, resend-node) against a live
//! `mirra serve`: the mirror is right when the vendor's own clients work
//! against it unchanged, and what they send lands in the session inbox.

use mirra_tests::{
    node_script, python_script, resend_of, run_sdk_script, sdk_node, sdk_python, Server, TOKEN,
};
use serde_json::{json, Value};

/// The sent emails of a session addressed to `to`, through the control plane.
fn inbox(server: &Server, session: &Value, to: &str) -> Vec<Value> {
    let id = session["id"].as_str().expect("id");
    let (status, body) = server.api(
        reqwest::Method::GET,
        &format!("/v1/sessions/{id}/inbox?to={to}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().expect("data").clone()
}

/// resend-python sends (attachments as it sends them), reads back, lists,
/// batches, schedules, reschedules and cancels, replays under an idempotency
/// key, raises its own error classes (`RateLimitError` for the over-quota
/// seed), sees a bounce, and verifies the `email.sent` and `email.delivered`
/// webhooks it registered for; the magic link it sent is in the inbox.
#[test]
fn official_resend_python_sdk_sends_and_the_inbox_has_its_magic_link() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["resend"]}));
    let other = server.create_session(json!({"mirrors": ["resend"]}));
    let (base, key) = resend_of(&session);
    let (_, other_key) = resend_of(&other);
    let over =
        server.create_session(json!({"mirrors": ["resend"], "seeds": {"resend": "over-quota"}}));
    let (_, over_key) = resend_of(&over);

    run_sdk_script(
        python_script(&python, "resend_emails.py")
            .env("RESEND_API_URL", &base)
            .env("RESEND_API_KEY", &key)
            .env("RESEND_OTHER_API_KEY", &other_key)
            .env("RESEND_OVER_QUOTA_API_KEY", &over_key),
    );

    let got = inbox(&server, &session, "python@test.dev");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["links"],
        json!(["https://app.test/magic?token=py-123"])
    );
    assert_eq!(got[0]["headers"]["X-Test"], "python");
    assert_eq!(got[0]["attachments"][0]["content"], "aGVsbG8=");
    assert!(inbox(&server, &other, "python@test.dev").is_empty());
}

/// resend-node, pointed at the session with `baseUrl` (and at the server's
/// root, routed by its key), does the same, its `webhooks.verify` included;
/// its magic link is in the inbox.
#[test]
fn official_resend_node_sdk_sends_and_the_inbox_has_its_magic_link() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["resend"]}));
    let (base, key) = resend_of(&session);

    run_sdk_script(
        node_script(&sdk, "resend_emails.mjs", &server.url)
            .env("RESEND_BASE_URL", &base)
            .env("RESEND_API_KEY", &key),
    );

    let got = inbox(&server, &session, "node@test.dev");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["links"],
        json!(["https://app.test/magic?token=node-456"])
    );
    assert_eq!(got[0]["attachments"][0]["content"], "aGVsbG8=");
}

/// resend-python runs a newsletter: a sending-only API key, segments and
/// audiences with contacts (given an `audience_id` too), a broadcast sent
/// and read back personalized from the inbox, its unsubscribe link opened,
/// a scheduled one canceled, a draft removed.
#[test]
fn official_resend_python_sdk_sends_a_broadcast_to_a_segment() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["resend"]}));
    let (base, key) = resend_of(&session);
    run_sdk_script(
        python_script(&python, "resend_broadcasts.py")
            .env("RESEND_API_URL", &base)
            .env("RESEND_API_KEY", &key)
            .env("MIRRA_URL", &server.url)
            .env("MIRRA_TOKEN", TOKEN),
    );
}

/// resend-node does the same.
#[test]
fn official_resend_node_sdk_sends_a_broadcast_to_a_segment() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["resend"]}));
    let (base, key) = resend_of(&session);
    run_sdk_script(
        node_script(&sdk, "resend_broadcasts.mjs", &server.url)
            .env("RESEND_BASE_URL", &base)
            .env("RESEND_API_KEY", &key)
            .env("MIRRA_TOKEN", TOKEN),
    );
}
