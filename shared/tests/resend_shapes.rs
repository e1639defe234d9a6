//! The Resend mirror's answers checked against Resend's OpenAPI document
//! (`$MIRRA_SPECS_DIR` or `<workspace>/../shared/specs`, `resend.json`), and
//! generated bad requests to every emulated operation: each gets Resend's
//! error shape with a 4xx, never a 5xx.

mod support;

use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{json, Value};
use support::openapi::component;
use support::resend::{email, Api, Resp};

/// Fields Resend returns that the document leaves out or types too narrowly,
/// with why. `html`, `text` and `scheduled_at` are `null` when not set (as
/// Resend's API reference shows them); `scheduled_at` and `tags` are in its
/// reference's retrieve answer but not in the document's `Email`.
const EMAIL_NULLABLE: &[&str] = &["html", "text"];
const EMAIL_EXTRA: &[(&str, &str)] = &[
    ("scheduled_at", r#"{"type": ["string", "null"]}"#),
    (
        "tags",
        r##"{"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}"##,
    ),
];

/// The document with `Email` corrected as above and closed
/// (`additionalProperties: false`: a mirror must not invent fields), or `None`
/// outside CI when it is absent.
fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = std::env::var("MIRRA_SPECS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs")
            });
        let path = dir.join("resend.json");
        let mut doc: Value = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("resend.json parses"),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI needs the Resend spec at {}: {e}",
                    path.display()
                );
                eprintln!("skipping OpenAPI checks: no {} ({e})", path.display());
                return None;
            }
        };
        let email = &mut doc["components"]["schemas"]["Email"];
        for f in EMAIL_NULLABLE {
            email["properties"][*f]["type"] = json!(["string", "null"]);
        }
        for (f, schema) in EMAIL_EXTRA {
            email["properties"][*f] = serde_json::from_str(schema).expect("schema");
        }
        email["additionalProperties"] = json!(false);
        // A draft's times, name and preview are null in Resend's answers (its
        // own examples show them so); the document types them as strings.
        let schemas = &mut doc["components"]["schemas"];
        for f in [
            "scheduled_at",
            "sent_at",
            "name",
            "preview_text",
            "reply_to",
        ] {
            let one = &mut schemas["GetBroadcastResponseSuccess"]["properties"][f];
            let t = one["type"].clone();
            one["type"] = json!([t, "null"]);
        }
        for f in ["scheduled_at", "sent_at", "name"] {
            let one = &mut schemas["ListBroadcastsResponseSuccess"]["properties"]["data"]["items"]
                ["properties"][f];
            let t = one["type"].clone();
            one["type"] = json!([t, "null"]);
        }
        Some(doc)
    })
    .as_ref()
}

/// Validates `v` against `schema` (a JSON Schema whose `$ref`s point into the
/// document); panics with every violation.
fn validate(what: &str, schema: Value, v: &Value) {
    let Some(doc) = spec() else { return };
    support::openapi::check(doc, what, schema, &[], v);
}

/// Resend's error body: exactly `statusCode`, `name`, `message`, with a 4xx.
fn assert_resend_error(what: &str, r: &Resp) {
    let s = r.status.as_u16();
    assert!((400..500).contains(&s), "{what}: status {s}: {}", r.json);
    let keys: Vec<&String> = r
        .json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["statusCode", "name", "message"],
        "{what}: {}",
        r.json
    );
    assert_eq!(r.json["statusCode"], s, "{what}");
    assert!(
        r.json["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{what}"
    );
}

/// Every answer of every emulated operation matches the document: send,
/// batch, retrieve (sent, scheduled, canceled), list, update and cancel.
#[tokio::test]
async fn every_answer_matches_resends_openapi_document() {
    let api = Api::new();
    let s = api.session().await;
    let r = api.post(&s, "/emails", email("a@test.dev")).await.ok();
    validate("send", component("SendEmailResponse"), &r);
    let sent = r["id"].as_str().expect("id").to_string();
    let mut later = email("b@test.dev");
    later["scheduled_at"] = json!("in 1 hour");
    later["text"] = json!("plain");
    later["tags"] = json!([{"name": "k", "value": "v"}]);
    let later = api.send(&s, later).await;
    let batch = api
        .post(&s, "/emails/batch", json!([email("c@test.dev")]))
        .await
        .ok();
    validate("batch", component("CreateBatchEmailsResponse"), &batch);
    for id in [&sent, &later] {
        let got = api.get(&s, &format!("/emails/{id}")).await.ok();
        validate("retrieve", component("Email"), &got);
    }
    let list = api.get(&s, "/emails").await.ok();
    validate("list", component("ListEmailsResponse"), &list);
    let moved = api
        .call(
            &s,
            Method::PATCH,
            &format!("/emails/{later}"),
            Some(json!({"scheduled_at": "in 2 hours"})),
        )
        .await
        .ok();
    // The document lists UpdateEmailOptions as the answer; Resend answers
    // `{object, id}` as resend-python's UpdateEmailResponse and the cancel do.
    assert_eq!(moved, json!({"object": "email", "id": later}));
    let canceled = api
        .post(&s, &format!("/emails/{later}/cancel"), json!({}))
        .await
        .ok();
    validate(
        "cancel",
        json!({"type": "object", "required": ["object", "id"]}),
        &canceled,
    );
    let got = api.get(&s, &format!("/emails/{later}")).await.ok();
    validate("retrieve canceled", component("Email"), &got);
}

/// Domains' and webhooks' answers match the document too.
#[tokio::test]
async fn domain_and_webhook_answers_match_resends_openapi_document() {
    let api = Api::new();
    let s = api.session().await;
    let made = api
        .post(
            &s,
            "/domains",
            json!({"name": "acme.test", "region": "eu-west-1"}),
        )
        .await
        .ok();
    validate("create domain", component("CreateDomainResponse"), &made);
    let id = made["id"].as_str().expect("id").to_string();
    let path = format!("/domains/{id}");
    validate(
        "get domain",
        component("Domain"),
        &api.get(&s, &path).await.ok(),
    );
    validate(
        "list domains",
        component("ListDomainsResponse"),
        &api.get(&s, "/domains").await.ok(),
    );
    let verified = api
        .post(&s, &format!("{path}/verify"), json!({}))
        .await
        .ok();
    validate(
        "verify domain",
        component("VerifyDomainResponse"),
        &verified,
    );
    let updated = api
        .call(
            &s,
            Method::PATCH,
            &path,
            Some(json!({"open_tracking": true})),
        )
        .await
        .ok();
    validate(
        "update domain",
        component("UpdateDomainResponseSuccess"),
        &updated,
    );
    let deleted = api.call(&s, Method::DELETE, &path, None).await.ok();
    validate("delete domain", component("DeleteDomainResponse"), &deleted);

    let hook = api
        .post(
            &s,
            "/webhooks",
            json!({"endpoint": "https://h.test/x", "events": ["email.sent"]}),
        )
        .await;
    validate(
        "create webhook",
        component("CreateWebhookResponse"),
        &hook.json,
    );
    let path = format!("/webhooks/{}", hook.json["id"].as_str().expect("id"));
    validate(
        "get webhook",
        component("GetWebhookResponse"),
        &api.get(&s, &path).await.ok(),
    );
    validate(
        "list webhooks",
        component("ListWebhooksResponse"),
        &api.get(&s, "/webhooks").await.ok(),
    );
    let updated = api
        .call(
            &s,
            Method::PATCH,
            &path,
            Some(json!({"status": "disabled"})),
        )
        .await
        .ok();
    validate(
        "update webhook",
        component("UpdateWebhookResponse"),
        &updated,
    );
    let deleted = api.call(&s, Method::DELETE, &path, None).await.ok();
    validate(
        "delete webhook",
        component("DeleteWebhookResponse"),
        &deleted,
    );
}

/// Contacts' answers match the document.
#[tokio::test]
async fn contact_answers_match_resends_openapi_document() {
    let api = Api::new();
    let s = api.session().await;
    let made = api
        .post(
            &s,
            "/contacts",
            json!({"email": "ann@test.dev", "first_name": "Ann", "last_name": "Lee"}),
        )
        .await
        .created();
    validate(
        "create contact",
        component("CreateContactResponseSuccess"),
        &made,
    );
    let path = format!("/contacts/{}", made["id"].as_str().expect("id"));
    validate(
        "get contact",
        component("GetContactResponseSuccess"),
        &api.get(&s, &path).await.ok(),
    );
    validate(
        "list contacts",
        component("ListContactsResponseSuccess"),
        &api.get(&s, "/contacts").await.ok(),
    );
    let updated = api
        .call(
            &s,
            Method::PATCH,
            &path,
            Some(json!({"first_name": "Anne"})),
        )
        .await
        .ok();
    validate(
        "update contact",
        component("UpdateContactResponseSuccess"),
        &updated,
    );
    let deleted = api.call(&s, Method::DELETE, &path, None).await.ok();
    validate(
        "delete contact",
        component("RemoveContactResponseSuccess"),
        &deleted,
    );
}

/// The check catches a wrong shape (so the test above can fail).
#[test]
fn the_spec_check_catches_invented_and_mistyped_fields() {
    if spec().is_none() {
        return;
    }
    let bad = [
        json!({"object": "email", "invented": 1}),
        json!({"to": "not-a-list"}),
    ];
    for v in bad {
        let caught = std::panic::catch_unwind(|| validate("bad", component("Email"), &v));
        assert!(caught.is_err(), "{v} passed");
    }
}

/// Values of every type in every field of a send, a batch item, an update, a
/// list query and a domain's and a webhook's create: each answer is a success
/// or Resend's error with a 4xx.
#[tokio::test]
async fn generated_bad_requests_never_get_a_5xx() {
    let api = Api::new();
    let s = api.session().await;
    let odd = [
        json!(null),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(true),
        json!(""),
        json!("x".repeat(2000)),
        json!("not an address"),
        json!([]),
        json!([1, 2]),
        json!(["a@test.dev"]),
        json!({}),
        json!({"a": {"b": []}}),
    ];
    let fields = [
        "from",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "subject",
        "html",
        "text",
        "headers",
        "scheduled_at",
        "attachments",
        "tags",
        "template",
        "topic_id",
        "unknown",
    ];
    let mut seen = 0;
    for field in fields {
        for v in &odd {
            let mut body = email("a@test.dev");
            body[field] = v.clone();
            let what = format!("{field} = {v}");
            for (path, b) in [
                ("/emails", body.clone()),
                ("/emails/batch", json!([body.clone()])),
            ] {
                let r = api.post(&s, path, b).await;
                if r.status.as_u16() != 200 {
                    assert_resend_error(&format!("POST {path} {what}"), &r);
                }
                seen += 1;
            }
        }
    }
    let id = api.send(&s, email("a@test.dev")).await;
    for v in &odd {
        for body in [json!({"scheduled_at": v}), v.clone()] {
            let r = api
                .call(
                    &s,
                    Method::PATCH,
                    &format!("/emails/{id}"),
                    Some(body.clone()),
                )
                .await;
            if r.status.as_u16() != 200 {
                assert_resend_error(&format!("PATCH {body}"), &r);
            }
        }
        let shown = match v {
            Value::String(s) => s.chars().take(50).collect(),
            other => other.to_string(),
        };
        for q in ["limit", "after", "before", "other"] {
            let path = format!("/emails?{q}={}", urlencode(&shown));
            let r = api.get(&s, &path).await;
            if r.status.as_u16() != 200 {
                assert_resend_error(&format!("GET {path}"), &r);
            }
        }
    }
    let creates = [
        (
            "/domains",
            json!({"name": "odd.test"}),
            &[
                "name",
                "region",
                "custom_return_path",
                "open_tracking",
                "capabilities",
                "tls",
            ][..],
        ),
        (
            "/webhooks",
            json!({"endpoint": "https://h.test/x", "events": ["email.sent"]}),
            &["endpoint", "events", "status"][..],
        ),
    ];
    for (path, base, fields) in creates {
        for field in fields {
            for v in &odd {
                let mut body = base.clone();
                body[*field] = v.clone();
                let r = api.post(&s, path, body.clone()).await;
                if !r.status.is_success() {
                    assert_resend_error(&format!("POST {path} {body}"), &r);
                }
                seen += 1;
            }
        }
    }
    for path in [
        "/emails/%20",
        "/emails/..",
        "/emails/x/cancel",
        "/emails/batch/cancel",
        "/domains/x",
        "/domains/x/verify",
        "/webhooks/x",
    ] {
        for m in [
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::PUT,
        ] {
            let r = api.call(&s, m.clone(), path, Some(json!({}))).await;
            if r.status.as_u16() != 200 {
                assert_resend_error(&format!("{m} {path}"), &r);
            }
        }
    }
    assert!(seen > 300, "{seen} requests");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// API keys, segments, audiences and contacts' segments answer in the
/// document's shapes.
#[tokio::test]
async fn key_segment_and_audience_answers_match_resends_openapi_document() {
    let api = Api::new();
    let s = api.session().await;
    let key = api
        .post(&s, "/api-keys", json!({"name": "k"}))
        .await
        .created();
    validate("create key", component("CreateApiKeyResponse"), &key);
    validate(
        "list keys",
        component("ListApiKeysResponse"),
        &api.get(&s, "/api-keys").await.ok(),
    );
    let seg = api
        .post(&s, "/segments", json!({"name": "Beta"}))
        .await
        .created();
    validate(
        "create segment",
        component("CreateSegmentResponseSuccess"),
        &seg,
    );
    let id = seg["id"].as_str().expect("id").to_string();
    validate(
        "get segment",
        component("GetSegmentResponseSuccess"),
        &api.get(&s, &format!("/segments/{id}")).await.ok(),
    );
    validate(
        "list segments",
        component("ListSegmentsResponseSuccess"),
        &api.get(&s, "/segments").await.ok(),
    );
    validate(
        "get audience",
        component("GetAudienceResponseSuccess"),
        &api.get(&s, &format!("/audiences/{id}")).await.ok(),
    );
    validate(
        "list audiences",
        component("ListAudiencesResponseSuccess"),
        &api.get(&s, "/audiences").await.ok(),
    );
    api.post(&s, "/contacts", json!({"email": "ann@test.dev"}))
        .await
        .created();
    let added = api
        .call(
            &s,
            Method::POST,
            &format!("/contacts/ann@test.dev/segments/{id}"),
            None,
        )
        .await
        .ok();
    validate(
        "add to segment",
        component("AddContactToSegmentResponseSuccess"),
        &added,
    );
    validate(
        "contact's segments",
        component("ListContactSegmentsResponseSuccess"),
        &api.get(&s, "/contacts/ann@test.dev/segments").await.ok(),
    );
    let removed = api
        .call(
            &s,
            Method::DELETE,
            &format!("/contacts/ann@test.dev/segments/{id}"),
            None,
        )
        .await
        .ok();
    validate(
        "remove from segment",
        component("RemoveContactFromSegmentResponseSuccess"),
        &removed,
    );
    let gone = api
        .call(&s, Method::DELETE, &format!("/segments/{id}"), None)
        .await
        .ok();
    validate(
        "remove segment",
        component("RemoveSegmentResponseSuccess"),
        &gone,
    );
}

/// Broadcasts answer in the document's shapes (draft fields nullable, as
/// Resend sends them).
#[tokio::test]
async fn broadcast_answers_match_resends_openapi_document() {
    let api = Api::new();
    let s = api.session().await;
    let seg = api
        .post(&s, "/segments", json!({"name": "N"}))
        .await
        .created()["id"]
        .as_str()
        .expect("id")
        .to_string();
    api.post(
        &s,
        "/contacts",
        json!({"email": "ann@test.dev", "segments": [seg]}),
    )
    .await
    .created();
    let body =
        json!({"segment_id": seg, "from": "news@example.com", "subject": "S", "html": "<p>x</p>"});
    let made = api.post(&s, "/broadcasts", body.clone()).await.created();
    validate(
        "create broadcast",
        component("CreateBroadcastResponseSuccess"),
        &made,
    );
    let id = made["id"].as_str().expect("id").to_string();
    validate(
        "get draft",
        component("GetBroadcastResponseSuccess"),
        &api.get(&s, &format!("/broadcasts/{id}")).await.ok(),
    );
    let updated = api
        .call(
            &s,
            Method::PATCH,
            &format!("/broadcasts/{id}"),
            Some(json!({"subject": "T"})),
        )
        .await
        .ok();
    validate(
        "update broadcast",
        component("UpdateBroadcastResponseSuccess"),
        &updated,
    );
    let sent = api
        .post(&s, &format!("/broadcasts/{id}/send"), json!({}))
        .await
        .ok();
    validate(
        "send broadcast",
        component("SendBroadcastResponseSuccess"),
        &sent,
    );
    validate(
        "get sent",
        component("GetBroadcastResponseSuccess"),
        &api.get(&s, &format!("/broadcasts/{id}")).await.ok(),
    );
    let later = api.post(&s, "/broadcasts", body).await.created()["id"]
        .as_str()
        .expect("id")
        .to_string();
    api.post(
        &s,
        &format!("/broadcasts/{later}/send"),
        json!({"scheduled_at": "in 10 min"}),
    )
    .await
    .ok();
    validate(
        "list broadcasts",
        component("ListBroadcastsResponseSuccess"),
        &api.get(&s, "/broadcasts").await.ok(),
    );
    let canceled = api
        .post(&s, &format!("/broadcasts/{later}/cancel"), json!({}))
        .await
        .ok();
    validate(
        "cancel broadcast",
        component("CancelBroadcastResponseSuccess"),
        &canceled,
    );
    let gone = api
        .call(&s, Method::DELETE, &format!("/broadcasts/{later}"), None)
        .await
        .ok();
    validate(
        "remove broadcast",
        component("RemoveBroadcastResponseSuccess"),
        &gone,
    );
}
