//! Twilio Messages through the whole API: send, fetch, list with Twilio's
//! paging, redact, delete, media; the magic test numbers' errors; the status
//! moves and their callbacks, POSTed by the dispatcher to a receiver on
//! loopback and signed `X-Twilio-Signature` (checked here with an HMAC-SHA1
//! computed independently); credentials and credential routing.

mod support;

use axum::http::Method;
use serde_json::Value;
use shared::mirrors::twilio::messages::status::{DELIVER_AFTER_MS, STEP_MS};
use support::receiver::receiver;
use support::twilio::{basic, call, form_of, raw, refused, send, session, signature, Api};

/// A message is created queued (201) in Twilio's shape, fetched and listed.
#[tokio::test]
async fn a_message_is_created_queued_then_fetched_and_listed() {
    let api = Api::new();
    let s = session(&api, None).await;
    let m = send(&api, &s, "+14155552671", &[]).await;
    let sid = m["sid"].as_str().expect("sid");
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(m["status"], "queued");
    assert_eq!(m["account_sid"], s.sid.as_str());
    assert_eq!(m["direction"], "outbound-api");
    assert_eq!(m["num_segments"], "1");
    assert_eq!(m["date_created"], "Thu, 01 Jan 2026 00:00:00 +0000");
    assert_eq!(
        m["uri"],
        format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", s.sid)
    );

    let got = call(
        &api,
        &s,
        Method::GET,
        &s.account(&format!("/Messages/{sid}.json")),
        &[],
    )
    .await;
    assert_eq!(got.status.as_u16(), 200, "{}", got.json);
    assert_eq!(got.json, m);
    let listed = call(
        &api,
        &s,
        Method::GET,
        &s.account("/Messages.json"),
        &[("To", "+14155552671")],
    )
    .await;
    assert_eq!(listed.json["messages"][0]["sid"], sid);
    let none = call(
        &api,
        &s,
        Method::GET,
        &s.account("/Messages.json"),
        &[("To", "+14155550000")],
    )
    .await;
    assert_eq!(none.json["messages"], serde_json::json!([]));
}

/// queued → sending → sent → delivered on the mirror's schedule, each change
/// after the first POSTed to StatusCallback, form-encoded and signed.
#[tokio::test]
async fn status_moves_to_delivered_with_a_signed_callback_for_each_change() {
    let api = Api::new();
    let s = session(&api, None).await;
    let (url, got) = receiver().await;
    let m = send(&api, &s, "+14155552671", &[("StatusCallback", &url)]).await;
    let sid = m["sid"].as_str().expect("sid").to_string();
    api.advance_ms(STEP_MS).await;
    api.advance_ms(STEP_MS).await;
    api.advance_ms(DELIVER_AFTER_MS).await;
    let path = s.account(&format!("/Messages/{sid}.json"));
    let done = call(&api, &s, Method::GET, &path, &[]).await.json;
    assert_eq!(done["status"], "delivered");
    assert_eq!(done["date_sent"], "Thu, 01 Jan 2026 00:00:01 +0000");
    assert_eq!(done["price"], "-0.00790");

    let got = got.lock().expect("lock").clone();
    let statuses: Vec<String> = got
        .iter()
        .map(|(_, b)| form_of(b)["MessageStatus"].clone())
        .collect();
    assert_eq!(statuses, ["sending", "sent", "delivered"]);
    for (headers, body) in &got {
        let f = form_of(body);
        assert_eq!(f["MessageSid"], sid);
        assert_eq!(f["AccountSid"], s.sid);
        assert_eq!(f["To"], "+14155552671");
        assert_eq!(f["SmsStatus"], f["MessageStatus"]);
        assert_eq!(
            headers["content-type"].to_str().expect("ascii"),
            "application/x-www-form-urlencoded; charset=utf-8"
        );
        let sig = headers["x-twilio-signature"].to_str().expect("ascii");
        assert_eq!(sig, signature(&s.token, &url, body));
    }
}

/// The mirror's own outcome numbers end undelivered (30003) and failed (30008).
#[tokio::test]
async fn outcome_numbers_end_undelivered_and_failed_with_their_codes() {
    let api = Api::new();
    let s = session(&api, None).await;
    let undelivered = send(&api, &s, "+15005550011", &[]).await;
    let failed = send(&api, &s, "+15005550012", &[]).await;
    for _ in 0..4 {
        api.advance_ms(DELIVER_AFTER_MS).await;
    }
    for (m, status, code) in [
        (undelivered, "undelivered", 30003),
        (failed, "failed", 30008),
    ] {
        let path = s.account(&format!(
            "/Messages/{}.json",
            m["sid"].as_str().expect("sid")
        ));
        let now = call(&api, &s, Method::GET, &path, &[]).await.json;
        assert_eq!(
            (now["status"].as_str(), now["error_code"].as_u64()),
            (Some(status), Some(code))
        );
    }
}

/// Every magic number, and each missing or bad parameter, answers Twilio's code.
#[tokio::test]
async fn magic_numbers_and_bad_parameters_answer_twilios_codes() {
    let api = Api::new();
    let s = session(&api, None).await;
    let path = s.account("/Messages.json");
    let long = "x".repeat(1601);
    let cases: &[(&[(&str, &str)], u64)] = &[
        (
            &[
                ("To", "+15005550001"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21211,
        ),
        (
            &[
                ("To", "+15005550002"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21612,
        ),
        (
            &[
                ("To", "+15005550003"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21408,
        ),
        (
            &[
                ("To", "+15005550004"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21610,
        ),
        (
            &[
                ("To", "+15005550009"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21614,
        ),
        (
            &[
                ("To", "not a number"),
                ("From", "+15005550006"),
                ("Body", "a"),
            ],
            21211,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550001"),
                ("Body", "a"),
            ],
            21212,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550007"),
                ("Body", "a"),
            ],
            21606,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550008"),
                ("Body", "a"),
            ],
            21611,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+14155550100"),
                ("Body", "a"),
            ],
            21606,
        ),
        (&[("From", "+15005550006"), ("Body", "a")], 21604),
        (&[("To", "+14155552671"), ("Body", "a")], 21603),
        (&[("To", "+14155552671"), ("From", "+15005550006")], 21602),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550006"),
                ("Body", &long),
            ],
            21617,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550006"),
                ("Body", "a"),
                ("StatusCallback", "nope"),
            ],
            21609,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550006"),
                ("Body", "a"),
                ("MessagingServiceSid", "MG00000000000000000000000000000000"),
            ],
            21701,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550006"),
                ("Body", "a"),
                ("ValidityPeriod", "soon"),
            ],
            20001,
        ),
        (
            &[
                ("To", "+14155552671"),
                ("From", "+15005550006"),
                ("Body", "a"),
                ("ScheduleType", "fixed"),
            ],
            35118,
        ),
    ];
    for (form, code) in cases {
        let r = call(&api, &s, Method::POST, &path, form).await;
        refused(&r, 400, *code);
    }
    let listed = call(&api, &s, Method::GET, &path, &[]).await;
    assert_eq!(
        listed.json["messages"],
        serde_json::json!([]),
        "nothing refused was kept"
    );
}

/// Unknown parameters are ignored, as Twilio ignores them.
#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let api = Api::new();
    let s = session(&api, None).await;
    send(&api, &s, "+14155552671", &[("NoSuchParameter", "1")]).await;
}

/// The account SID with its token and the API key with its secret are both
/// accepted; wrong or missing credentials and another account's URL are not.
#[tokio::test]
async fn credentials_are_checked_and_other_accounts_are_not_found() {
    let api = Api::new();
    let s = session(&api, None).await;
    let other = session(&api, None).await;
    let uri = format!("/m/{}/twilio{}", s.id, s.account("/Messages.json"));
    let ok = raw(
        &api,
        Method::GET,
        &uri,
        &basic(&s.key_sid, &s.key_secret),
        &[],
    )
    .await;
    assert_eq!(ok.status.as_u16(), 200, "{}", ok.json);
    refused(&raw(&api, Method::GET, &uri, "", &[]).await, 401, 20003);
    refused(
        &raw(&api, Method::GET, &uri, &basic(&s.sid, "wrong"), &[]).await,
        401,
        20003,
    );
    refused(
        &raw(&api, Method::GET, &uri, &other.basic(), &[]).await,
        401,
        20003,
    );
    let foreign = call(&api, &s, Method::GET, &other.account("/Messages.json"), &[]).await;
    refused(&foreign, 404, 20404);
    let unknown = call(&api, &s, Method::GET, &s.account("/Calls/CA1.json"), &[]).await;
    assert!(refused(&unknown, 404, 20404).contains("not emulated yet"));
}

/// A request at the server's root is routed by its Account SID.
#[tokio::test]
async fn the_account_sid_routes_a_request_at_the_servers_root() {
    let api = Api::new();
    let s = session(&api, None).await;
    let made = send(&api, &s, "+14155552671", &[]).await;
    let r = raw(
        &api,
        Method::GET,
        &s.account("/Messages.json"),
        &s.basic(),
        &[],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    assert_eq!(r.json["messages"][0]["sid"], made["sid"]);
    let nobody = basic("AC00000000000000000000000000000001", "x");
    refused(
        &raw(
            &api,
            Method::GET,
            "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json",
            &nobody,
            &[],
        )
        .await,
        401,
        20003,
    );
}

/// Pages follow Twilio's `next_page_uri` / `previous_page_uri` (relative to the
/// mirror's base URL) through every message, newest first, none twice.
#[tokio::test]
async fn pages_follow_next_and_previous_page_uris() {
    let api = Api::new();
    let s = session(&api, None).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(send(&api, &s, "+14155552671", &[]).await["sid"].clone());
        api.advance_ms(1000).await;
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut next = Some(format!("{}?PageSize=2", s.account("/Messages.json")));
    let mut pages = Vec::new();
    while let Some(uri) = next {
        let page = call(&api, &s, Method::GET, &uri, &[]).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.json);
        assert_eq!(page.json["page_size"], 2);
        seen.extend(
            page.json["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["sid"].clone()),
        );
        next = page.json["next_page_uri"].as_str().map(str::to_string);
        pages.push(page.json);
    }
    assert_eq!(seen, made);
    assert_eq!(pages.len(), 3);
    assert_eq!(
        (pages[2]["page"].as_u64(), pages[2]["start"].as_u64()),
        (Some(2), Some(4))
    );
    let back = pages[2]["previous_page_uri"].as_str().expect("previous");
    let page = call(&api, &s, Method::GET, back, &[]).await.json;
    let sids: Vec<Value> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["sid"].clone())
        .collect();
    assert_eq!(sids, made[2..4]);
    refused(
        &call(
            &api,
            &s,
            Method::GET,
            &s.account("/Messages.json"),
            &[("PageSize", "1001")],
        )
        .await,
        400,
        20001,
    );
}

/// A body is redacted and a message deleted only once it reached its end.
#[tokio::test]
async fn redact_and_delete_wait_for_the_end_of_delivery() {
    let api = Api::new();
    let s = session(&api, None).await;
    let m = send(&api, &s, "+14155552671", &[]).await;
    let path = s.account(&format!(
        "/Messages/{}.json",
        m["sid"].as_str().expect("sid")
    ));
    refused(
        &call(&api, &s, Method::POST, &path, &[("Body", "")]).await,
        400,
        20009,
    );
    refused(
        &call(&api, &s, Method::DELETE, &path, &[]).await,
        400,
        20009,
    );
    refused(
        &call(&api, &s, Method::POST, &path, &[("Status", "canceled")]).await,
        400,
        20009,
    );
    for _ in 0..3 {
        api.advance_ms(DELIVER_AFTER_MS).await;
    }
    let redacted = call(&api, &s, Method::POST, &path, &[("Body", "")]).await;
    assert_eq!(redacted.status.as_u16(), 200, "{}", redacted.json);
    assert_eq!(redacted.json["body"], "");
    let gone = call(&api, &s, Method::DELETE, &path, &[]).await;
    assert_eq!(gone.status.as_u16(), 204);
    refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
}

/// Each MediaUrl is a media object of the message: listed, fetched, deleted.
#[tokio::test]
async fn media_urls_become_the_messages_media() {
    let api = Api::new();
    let s = session(&api, None).await;
    let m = send(
        &api,
        &s,
        "+14155552671",
        &[
            ("MediaUrl", "https://demo.test/a.jpg"),
            ("MediaUrl", "https://demo.test/b.png"),
        ],
    )
    .await;
    assert_eq!(m["num_media"], "2");
    let media_uri = m["subresource_uris"]["media"].as_str().expect("media uri");
    let list = call(&api, &s, Method::GET, media_uri, &[]).await.json;
    let items = list["media_list"].as_array().expect("media_list");
    let types: Vec<&str> = items
        .iter()
        .filter_map(|i| i["content_type"].as_str())
        .collect();
    assert_eq!(types, ["image/png", "image/jpeg"]);
    let one = items[0]["uri"].as_str().expect("uri");
    assert_eq!(call(&api, &s, Method::GET, one, &[]).await.json, items[0]);
    assert_eq!(
        call(&api, &s, Method::DELETE, one, &[])
            .await
            .status
            .as_u16(),
        204
    );
    refused(&call(&api, &s, Method::GET, one, &[]).await, 404, 20404);
}

/// Reset drops the session's messages and their pending callbacks.
#[tokio::test]
async fn reset_drops_messages_and_pending_callbacks() {
    let api = Api::new();
    let s = session(&api, None).await;
    let (url, got) = receiver().await;
    send(&api, &s, "+14155552671", &[("StatusCallback", &url)]).await;
    let r = api
        .control(Method::POST, &format!("/v1/sessions/{}/reset", s.id), None)
        .await;
    assert!(r.status.is_success(), "{}", r.json);
    for _ in 0..3 {
        api.advance_ms(DELIVER_AFTER_MS).await;
    }
    let listed = call(&api, &s, Method::GET, &s.account("/Messages.json"), &[]).await;
    assert_eq!(listed.json["messages"], serde_json::json!([]));
    assert!(got.lock().expect("lock").is_empty());
}

/// The account is the session's: fetched with its SID, seeded numbers named
/// with it too.
#[tokio::test]
async fn the_account_is_the_sessions_own() {
    let api = Api::new();
    let s = session(&api, None).await;
    let acct = call(
        &api,
        &s,
        Method::GET,
        &format!("/2010-04-01/Accounts/{}.json", s.sid),
        &[],
    )
    .await;
    assert_eq!(acct.status.as_u16(), 200, "{}", acct.json);
    assert_eq!(
        (acct.json["sid"].as_str(), acct.json["status"].as_str()),
        (Some(s.sid.as_str()), Some("active"))
    );
}
