//! Segments and audiences through the Resend mirror: one group of contacts
//! under two names, contacts put in and taken out (by id or address, at
//! creation with `segments`, or through the audience-scoped paths the SDKs
//! call given an `audience_id`), and listed per segment.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::resend::{Api, Ses};

fn emails(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["email"].as_str().expect("email").to_string())
        .collect()
}

async fn segment(api: &Api, s: &Ses, path: &str, name: &str) -> String {
    let r = api.post(s, path, json!({"name": name})).await.created();
    r["id"].as_str().expect("id").to_string()
}

/// A segment made as an audience is the same segment: one id, two shapes.
#[tokio::test]
async fn an_audience_is_a_segment_under_its_old_name() {
    let api = Api::new();
    let s = api.session().await;
    let made = api
        .post(&s, "/audiences", json!({"name": "Users"}))
        .await
        .created();
    assert_eq!(made["object"], "audience");
    let id = made["id"].as_str().expect("id");
    let as_segment = api.get(&s, &format!("/segments/{id}")).await.ok();
    assert_eq!(as_segment["object"], "segment");
    assert_eq!(as_segment["name"], "Users");
    let listed = api.get(&s, "/segments").await.ok();
    assert_eq!(listed["data"][0]["id"], id);
    let gone = api
        .call(&s, Method::DELETE, &format!("/audiences/{id}"), None)
        .await
        .ok();
    assert_eq!(
        gone,
        json!({"object": "audience", "id": id, "deleted": true})
    );
    api.get(&s, &format!("/segments/{id}"))
        .await
        .refused(404, "not_found");
    api.post(&s, "/segments", json!({"name": " "}))
        .await
        .refused(422, "missing_required_field");
}

/// Contacts join segments at creation (ids or `{id}` objects) or later, are
/// listed per segment three ways, and leave when taken out or deleted.
#[tokio::test]
async fn contacts_join_and_leave_segments_and_are_listed_per_segment() {
    let api = Api::new();
    let s = api.session().await;
    let beta = segment(&api, &s, "/segments", "Beta").await;
    let paid = segment(&api, &s, "/segments", "Paid").await;
    api.post(
        &s,
        "/contacts",
        json!({"email": "ann@test.dev", "segments": [beta]}),
    )
    .await
    .created();
    api.post(
        &s,
        "/contacts",
        json!({"email": "bob@test.dev", "segments": [{"id": paid}]}),
    )
    .await
    .created();
    api.post(&s, "/contacts", json!({"email": "cy@test.dev"}))
        .await
        .created();
    api.post(
        &s,
        "/contacts",
        json!({"email": "dee@test.dev", "segments": ["nope"]}),
    )
    .await
    .refused(404, "not_found");
    assert_eq!(
        api.get(&s, "/contacts/dee@test.dev").await.status,
        StatusCode::NOT_FOUND,
        "nothing made"
    );

    let add = api
        .call(
            &s,
            Method::POST,
            &format!("/contacts/cy%40test.dev/segments/{beta}"),
            None,
        )
        .await
        .ok();
    assert_eq!(add["segment_id"], beta.as_str());
    assert_eq!(
        emails(
            &api.get(&s, &format!("/contacts?segment_id={beta}"))
                .await
                .ok()
        ),
        ["cy@test.dev", "ann@test.dev"]
    );
    assert_eq!(
        emails(
            &api.get(&s, &format!("/segments/{beta}/contacts"))
                .await
                .ok()
        ),
        ["cy@test.dev", "ann@test.dev"]
    );
    assert_eq!(
        emails(
            &api.get(&s, &format!("/segments/{paid}/contacts"))
                .await
                .ok()
        ),
        ["bob@test.dev"]
    );
    let of_ann = api.get(&s, "/contacts/ann@test.dev/segments").await.ok();
    assert_eq!(of_ann["data"][0]["id"], beta.as_str());
    assert_eq!(of_ann["data"][0]["name"], "Beta");

    api.call(
        &s,
        Method::DELETE,
        &format!("/contacts/cy@test.dev/segments/{beta}"),
        None,
    )
    .await
    .ok();
    api.call(
        &s,
        Method::DELETE,
        &format!("/contacts/cy@test.dev/segments/{beta}"),
        None,
    )
    .await
    .refused(404, "not_found");
    api.call(&s, Method::DELETE, "/contacts/ann@test.dev", None)
        .await
        .ok();
    assert_eq!(
        emails(
            &api.get(&s, &format!("/segments/{beta}/contacts"))
                .await
                .ok()
        ),
        Vec::<String>::new()
    );

    // Deleting a segment keeps its contacts.
    api.call(&s, Method::DELETE, &format!("/segments/{paid}"), None)
        .await
        .ok();
    assert_eq!(
        api.get(&s, "/contacts/bob@test.dev").await.ok()["email"],
        "bob@test.dev"
    );
    assert_eq!(
        api.get(&s, "/contacts/bob@test.dev/segments").await.ok()["data"],
        json!([])
    );
}

/// The audience-scoped contact paths: creating adds the address's contact
/// (new or not) to the audience; get, update and delete see only members.
#[tokio::test]
async fn audience_scoped_contact_paths_work_on_members() {
    let api = Api::new();
    let s = api.session().await;
    let aud = segment(&api, &s, "/audiences", "Users").await;
    let path = format!("/audiences/{aud}/contacts");
    let made = api
        .post(
            &s,
            &path,
            json!({"email": "ann@test.dev", "first_name": "Ann"}),
        )
        .await
        .created();
    let ann = made["id"].as_str().expect("id").to_string();
    api.post(&s, "/contacts", json!({"email": "bob@test.dev"}))
        .await
        .created();
    let again = api
        .post(&s, &path, json!({"email": "bob@test.dev"}))
        .await
        .created();
    assert_eq!(
        emails(&api.get(&s, &path).await.ok()),
        ["bob@test.dev", "ann@test.dev"]
    );
    assert_eq!(
        api.get(&s, &format!("{path}/{ann}")).await.ok()["first_name"],
        "Ann"
    );
    api.post(&s, "/contacts", json!({"email": "cy@test.dev"}))
        .await
        .created();
    api.get(&s, &format!("{path}/cy@test.dev"))
        .await
        .refused(404, "not_found");
    api.call(
        &s,
        Method::PATCH,
        &format!("{path}/{ann}"),
        Some(json!({"last_name": "Lee"})),
    )
    .await
    .ok();
    assert_eq!(
        api.get(&s, &format!("/contacts/{ann}")).await.ok()["last_name"],
        "Lee"
    );
    api.call(
        &s,
        Method::DELETE,
        &format!("{path}/{}", again["id"].as_str().expect("id")),
        None,
    )
    .await
    .ok();
    api.get(&s, "/contacts/bob@test.dev")
        .await
        .refused(404, "not_found");
    api.post(
        &s,
        "/audiences/nope/contacts",
        json!({"email": "x@test.dev"}),
    )
    .await
    .refused(404, "not_found");
}
