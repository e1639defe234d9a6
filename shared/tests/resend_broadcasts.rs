//! Broadcasts through the Resend mirror: a draft edited and sent to its
//! segment's subscribed contacts, each email personalized (merge tags, the
//! contact's own unsubscribe link, `List-Unsubscribe`) and stored like any
//! sent email; the link unsubscribes without a key; scheduled broadcasts go
//! out on the dispatcher's clock or are canceled; what Resend refuses is
//! refused.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::resend::{Api, Ses};
use tower::ServiceExt;

/// A segment of three contacts (Cy unsubscribed); its id.
async fn audience(api: &Api, s: &Ses) -> String {
    let seg = api
        .post(s, "/segments", json!({"name": "News"}))
        .await
        .created();
    let id = seg["id"].as_str().expect("id").to_string();
    for (email, first, unsub) in [
        ("ann@test.dev", Some("Ann"), false),
        ("bob@test.dev", None, false),
        ("cy@test.dev", Some("Cy"), true),
    ] {
        api.post(
            s,
            "/contacts",
            json!({"email": email, "first_name": first, "unsubscribed": unsub,
                   "segments": [id], "properties": {"plan": "pro"}}),
        )
        .await
        .created();
    }
    id
}

fn draft(segment: &str) -> Value {
    json!({
        "segment_id": segment,
        "from": "Acme <news@example.com>",
        "subject": "Hi {{{FIRST_NAME|there}}}",
        "html": "<p>Your plan: {{{plan}}}</p><a href=\"{{{RESEND_UNSUBSCRIBE_URL}}}\">Unsubscribe</a>",
        "name": "November",
    })
}

/// GET `uri` without any key; status and body text.
async fn open(api: &Api, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let res = api.app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A draft is edited, then sent: one personalized email per subscribed
/// contact, in `/emails` and the inbox; a sent broadcast can be neither
/// edited nor deleted.
#[tokio::test]
async fn a_sent_broadcast_reaches_each_subscribed_contact_personalized() {
    let api = Api::new();
    let s = api.session().await;
    let seg = audience(&api, &s).await;
    let made = api.post(&s, "/broadcasts", draft(&seg)).await.created();
    assert_eq!(made["object"], "broadcast");
    let id = made["id"].as_str().expect("id").to_string();
    let got = api.get(&s, &format!("/broadcasts/{id}")).await.ok();
    assert_eq!(got["status"], "draft");
    assert_eq!(got["segment_id"], seg.as_str());
    assert_eq!(got["audience_id"], seg.as_str());
    assert!(
        got.get("base_url").is_none() && got.get("recipients").is_none(),
        "{got}"
    );
    api.call(
        &s,
        Method::PATCH,
        &format!("/broadcasts/{id}"),
        Some(json!({"name": "Nov."})),
    )
    .await
    .ok();
    assert!(api.inbox(&s, "").await.is_empty(), "a draft sends nothing");

    let sent = api
        .post(&s, &format!("/broadcasts/{id}/send"), json!({}))
        .await
        .ok();
    assert_eq!(sent, json!({"id": id}));
    let got = api.get(&s, &format!("/broadcasts/{id}")).await.ok();
    assert_eq!(got["status"], "sent");
    assert_eq!(got["name"], "Nov.");
    assert!(got["sent_at"].is_string());

    let inbox = api.inbox(&s, "").await;
    let mut to: Vec<&str> = inbox
        .iter()
        .map(|m| m["to"][0].as_str().expect("to"))
        .collect();
    to.sort();
    assert_eq!(to, ["ann@test.dev", "bob@test.dev"], "Cy unsubscribed");
    let ann = inbox
        .iter()
        .find(|m| m["to"][0] == "ann@test.dev")
        .expect("ann");
    assert_eq!(ann["subject"], "Hi Ann");
    assert!(ann["html"]
        .as_str()
        .expect("html")
        .contains("Your plan: pro"));
    let bob = inbox
        .iter()
        .find(|m| m["to"][0] == "bob@test.dev")
        .expect("bob");
    assert_eq!(bob["subject"], "Hi there");
    let link = ann["links"][0].as_str().expect("link");
    assert!(
        link.contains(&format!("/m/{}/resend/unsubscribe/", s.id)),
        "{link}"
    );
    assert_eq!(ann["headers"]["List-Unsubscribe"], format!("<{link}>"));
    assert_eq!(
        ann["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert_ne!(
        link,
        bob["links"][0].as_str().expect("link"),
        "each contact has its own"
    );
    let emails = api.get(&s, "/emails").await.ok();
    assert_eq!(emails["data"].as_array().map(Vec::len), Some(2));

    api.call(
        &s,
        Method::PATCH,
        &format!("/broadcasts/{id}"),
        Some(json!({"name": "x"})),
    )
    .await
    .refused(422, "validation_error");
    api.call(&s, Method::DELETE, &format!("/broadcasts/{id}"), None)
        .await
        .refused(422, "validation_error");
    api.post(&s, &format!("/broadcasts/{id}/send"), json!({}))
        .await
        .refused(422, "validation_error");
}

/// Opening a contact's link (no key) unsubscribes it from the next
/// broadcast; a forged link is a 404 page.
#[tokio::test]
async fn the_unsubscribe_link_works_without_a_key() {
    let api = Api::new();
    let s = api.session().await;
    let seg = audience(&api, &s).await;
    let mut body = draft(&seg);
    body["send"] = json!(true);
    api.post(&s, "/broadcasts", body.clone()).await.created();
    let inbox = api.inbox(&s, "?to=ann@test.dev").await;
    let link = inbox[0]["links"][0].as_str().expect("link").to_string();
    let path = link
        .split_once("://")
        .and_then(|(_, r)| r.find('/').map(|i| r[i..].to_string()))
        .expect("path");

    let (status, page) = open(&api, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("ann@test.dev"), "{page}");
    assert_eq!(
        api.get(&s, "/contacts/ann@test.dev").await.ok()["unsubscribed"],
        true
    );
    let last = if path.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &path[..path.len() - 1]);
    assert_eq!(open(&api, &forged).await.0, StatusCode::NOT_FOUND);

    api.post(&s, "/broadcasts", body).await.created();
    assert_eq!(
        api.inbox(&s, "?to=ann@test.dev").await.len(),
        1,
        "no second email to Ann"
    );
    assert_eq!(api.inbox(&s, "?to=bob@test.dev").await.len(), 2);
}

/// A scheduled broadcast goes out when the clock reaches it; a canceled
/// one never does.
#[tokio::test]
async fn scheduled_broadcasts_go_out_on_time_unless_canceled() {
    let api = Api::new();
    let s = api.session().await;
    let seg = audience(&api, &s).await;
    let mut body = draft(&seg);
    body["send"] = json!(true);
    body["scheduled_at"] = json!("in 10 min");
    let one = api.post(&s, "/broadcasts", body.clone()).await.created()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let two = api.post(&s, "/broadcasts", draft(&seg)).await.created()["id"]
        .as_str()
        .expect("id")
        .to_string();
    api.post(
        &s,
        &format!("/broadcasts/{two}/send"),
        json!({"scheduled_at": "in 20 min"}),
    )
    .await
    .ok();
    assert_eq!(
        api.get(&s, &format!("/broadcasts/{one}")).await.ok()["status"],
        "scheduled"
    );
    let canceled = api
        .post(&s, &format!("/broadcasts/{two}/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(canceled, json!({"id": two, "object": "broadcast"}));
    api.post(&s, &format!("/broadcasts/{two}/cancel"), json!({}))
        .await
        .refused(422, "validation_error");

    api.advance_ms(30 * 60 * 1000).await;
    assert_eq!(
        api.get(&s, &format!("/broadcasts/{one}")).await.ok()["status"],
        "sent"
    );
    assert_eq!(
        api.get(&s, &format!("/broadcasts/{two}")).await.ok()["status"],
        "canceled"
    );
    assert_eq!(
        api.inbox(&s, "").await.len(),
        2,
        "one broadcast, two subscribed contacts"
    );
    let listed = api.get(&s, "/broadcasts").await.ok();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
}

/// What Resend refuses: no segment, an unknown one, `scheduled_at` without
/// `send`, sending without content or from an unverified domain.
#[tokio::test]
async fn bad_broadcasts_are_refused_as_resend_does() {
    let api = Api::new();
    let s = api.session().await;
    let seg = audience(&api, &s).await;
    let mut b = draft(&seg);
    b.as_object_mut().expect("object").remove("segment_id");
    api.post(&s, "/broadcasts", b)
        .await
        .refused(422, "missing_required_field");
    let mut b = draft("3f1c2b7a-0000-4000-8000-000000000000");
    api.post(&s, "/broadcasts", b.clone())
        .await
        .refused(404, "not_found");
    b = draft(&seg);
    b["scheduled_at"] = json!("in 1 hour");
    api.post(&s, "/broadcasts", b)
        .await
        .refused(422, "validation_error");
    let mut empty = draft(&seg);
    empty.as_object_mut().expect("object").remove("html");
    let id = api.post(&s, "/broadcasts", empty).await.created()["id"]
        .as_str()
        .expect("id")
        .to_string();
    api.post(&s, &format!("/broadcasts/{id}/send"), json!({}))
        .await
        .refused(422, "validation_error");
    let mut foreign = draft(&seg);
    foreign["from"] = json!("news@gmail.com");
    foreign["send"] = json!(true);
    api.post(&s, "/broadcasts", foreign)
        .await
        .refused(403, "validation_error");
    assert!(api.inbox(&s, "").await.is_empty(), "nothing went out");
    let gone = api
        .call(&s, Method::DELETE, &format!("/broadcasts/{id}"), None)
        .await
        .ok();
    assert_eq!(gone["deleted"], true);
}
