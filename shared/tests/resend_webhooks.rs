//! Resend webhooks through the whole API: endpoints registered per session
//! (create, get, list, update, delete), and the events an email's moves raise
//! POSTed by the dispatcher to a receiver on loopback, signed the Svix way with
//! the endpoint's own secret (checked here with an HMAC computed independently).

mod support;

use axum::http::Method;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shared::mirrors::resend::later::DELIVERED_AFTER_MS;
use support::receiver::receiver;
use support::resend::{email, Api, Ses};

async fn create_hook(api: &Api, s: &Ses, url: &str, events: &[&str]) -> Value {
    let r = api
        .post(s, "/webhooks", json!({"endpoint": url, "events": events}))
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    r.json
}

/// Svix's scheme, written out: base64 HMAC-SHA256 of `id.timestamp.body`
/// keyed with the base64-decoded part of the secret after `whsec_`.
fn svix_signature(secret: &str, id: &str, ts: &str, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Endpoints are created (201, with a `whsec_` secret), read, listed without
/// their secrets, updated and deleted; bad endpoints and event types are 422s.
#[tokio::test]
async fn webhooks_are_created_read_listed_updated_and_deleted() {
    let api = Api::new();
    let s = api.session().await;
    let made = create_hook(&api, &s, "https://hooks.test/resend", &["email.sent"]).await;
    let id = made["id"].as_str().expect("id").to_string();
    assert_eq!(made["object"], "webhook");
    let secret = made["signing_secret"].as_str().expect("secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let got = api.get(&s, &format!("/webhooks/{id}")).await.ok();
    assert_eq!(got["endpoint"], "https://hooks.test/resend");
    assert_eq!(got["events"], json!(["email.sent"]));
    assert_eq!(got["status"], "enabled");
    assert_eq!(got["signing_secret"], secret);
    let list = api.get(&s, "/webhooks").await.ok();
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert!(list["data"][0].get("signing_secret").is_none(), "{list}");
    let r = api
        .call(
            &s,
            Method::PATCH,
            &format!("/webhooks/{id}"),
            Some(json!({"status": "disabled", "events": ["email.bounced"]})),
        )
        .await
        .ok();
    assert_eq!(r, json!({"object": "webhook", "id": id}));
    let got = api.get(&s, &format!("/webhooks/{id}")).await.ok();
    assert_eq!(
        (got["status"].clone(), got["events"].clone()),
        (json!("disabled"), json!(["email.bounced"]))
    );
    let r = api
        .call(&s, Method::DELETE, &format!("/webhooks/{id}"), None)
        .await
        .ok();
    assert_eq!(r, json!({"object": "webhook", "id": id, "deleted": true}));
    api.get(&s, &format!("/webhooks/{id}"))
        .await
        .refused(404, "not_found");

    for bad in [
        json!({"endpoint": "ftp://x.test", "events": ["email.sent"]}),
        json!({"endpoint": "https://x.test", "events": []}),
        json!({"endpoint": "https://x.test", "events": ["email.nope"]}),
        json!({"endpoint": "https://x.test"}),
    ] {
        let r = api.post(&s, "/webhooks", bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {}", r.json);
    }
}

/// An email to `delivered@resend.dev` raises `email.sent` at once and
/// `email.delivered` later; one to `bounced@resend.dev` `email.bounced` with
/// its bounce. Each is POSTed to the endpoint that asked for it, signed with
/// its secret; an endpoint that asked for other types, or is disabled, gets
/// nothing.
#[tokio::test]
async fn email_events_are_delivered_signed_with_the_endpoints_secret() {
    let api = Api::new();
    let s = api.session().await;
    let (url, got) = receiver().await;
    let (other_url, other_got) = receiver().await;
    let hook = create_hook(
        &api,
        &s,
        &url,
        &["email.sent", "email.delivered", "email.bounced"],
    )
    .await;
    let secret = hook["signing_secret"].as_str().expect("secret").to_string();
    create_hook(&api, &s, &other_url, &["email.complained"]).await;
    let off = create_hook(&api, &s, &other_url, &["email.sent"]).await;
    api.call(
        &s,
        Method::PATCH,
        &format!("/webhooks/{}", off["id"].as_str().expect("id")),
        Some(json!({"status": "disabled"})),
    )
    .await
    .ok();

    let mut e = email("delivered@resend.dev");
    e["tags"] = json!([{"name": "flow", "value": "signin"}]);
    let delivered = api.send(&s, e).await;
    let bounced = api.send(&s, email("bounced@resend.dev")).await;
    api.dispatcher.sweep().await.expect("sweep");
    api.advance_ms(DELIVERED_AFTER_MS).await;
    api.dispatcher.sweep().await.expect("sweep");

    let got = got.lock().expect("lock").clone();
    let events: Vec<(String, String)> = got
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_str(body).expect("json");
            (
                v["type"].as_str().unwrap_or_default().to_string(),
                v["data"]["email_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    for want in [
        ("email.sent", &delivered),
        ("email.sent", &bounced),
        ("email.delivered", &delivered),
        ("email.bounced", &bounced),
    ] {
        assert!(
            events.iter().any(|(t, id)| t == want.0 && id == want.1),
            "{want:?} not in {events:?}"
        );
    }
    assert_eq!(events.len(), 4, "{events:?}");
    for (headers, body) in &got {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (id, ts) = (h("svix-id"), h("svix-timestamp"));
        assert!(!id.is_empty() && ts.parse::<i64>().is_ok(), "{headers:?}");
        assert_eq!(h("svix-signature"), svix_signature(&secret, &id, &ts, body));
        let v: Value = serde_json::from_str(body).expect("json");
        assert!(
            v["created_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{v}"
        );
        assert_eq!(v["data"]["from"], "Acme <hello@example.com>");
        if v["type"] == "email.bounced" {
            assert_eq!(v["data"]["bounce"]["type"], "Permanent", "{v}");
        }
        if v["data"]["email_id"] == delivered.as_str() {
            assert_eq!(v["data"]["tags"], json!({"flow": "signin"}), "{v}");
        }
    }
    assert!(
        other_got.lock().expect("lock").is_empty(),
        "nothing for other types or a disabled endpoint"
    );

    let r = api
        .control(
            Method::GET,
            &format!("/v1/sessions/{}/deliveries?mirror=resend", s.id),
            None,
        )
        .await;
    assert_eq!(
        r.json["data"].as_array().map(Vec::len),
        Some(4),
        "{}",
        r.json
    );
}

/// A scheduled email raises `email.scheduled`, then `email.sent` at its time.
#[tokio::test]
async fn a_scheduled_email_raises_scheduled_then_sent() {
    let api = Api::new();
    let s = api.session().await;
    let (url, got) = receiver().await;
    create_hook(&api, &s, &url, &["email.scheduled", "email.sent"]).await;
    let mut e = email("a@test.dev");
    e["scheduled_at"] = json!("in 1 min");
    api.send(&s, e).await;
    api.dispatcher.sweep().await.expect("sweep");
    api.advance_ms(60_000).await;
    api.dispatcher.sweep().await.expect("sweep");
    let types: Vec<String> = got
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).expect("json")["type"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["email.scheduled", "email.sent"]);
}

/// Reset gives the session its seed back whole: webhook registrations and
/// the deliveries they were owed are gone (nothing arrives afterwards), the
/// rate budget is full again, and the seed's verified domain is back after
/// it was deleted.
#[tokio::test]
async fn reset_drops_webhooks_and_owed_deliveries_refills_the_budget_and_restores_the_seed() {
    let api = Api::new();
    let s = api
        .session_with(json!({"mirrors": ["resend"], "rate_limit": 6}))
        .await;
    let (url, got) = receiver().await;
    create_hook(&api, &s, &url, &["email.delivered"]).await;
    api.send(&s, email("ann@test.dev")).await; // its delivery is owed in 5 s
    let domains = api.get(&s, "/domains").await.ok();
    let domain = domains["data"][0]["id"]
        .as_str()
        .expect("domain")
        .to_string();
    api.call(&s, Method::DELETE, &format!("/domains/{domain}"), None)
        .await
        .ok();
    loop {
        let r = api.get(&s, "/webhooks").await;
        if r.status.as_u16() == 429 {
            break;
        }
    }
    let r = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{}/reset", s.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);

    assert_eq!(
        api.get(&s, "/webhooks").await.ok()["data"],
        json!([]),
        "budget refilled, hooks gone"
    );
    api.advance_ms(DELIVERED_AFTER_MS).await;
    api.dispatcher.sweep().await.expect("sweep");
    assert!(
        got.lock().expect("lock").is_empty(),
        "no delivery owed before the reset arrives"
    );
    let back = api.get(&s, "/domains").await.ok();
    assert_eq!(back["data"][0]["name"], "example.com");
    api.send(&s, email("bob@test.dev")).await;
}
