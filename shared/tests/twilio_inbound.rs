//! Inbound SMS through the control plane (`POST
//! /v1/sessions/{id}/twilio/inbound`): the message is stored as Twilio stores
//! one, sent to the number's `SmsUrl` form-encoded and signed (checked here
//! with an HMAC-SHA1 computed independently), and the app's TwiML answer is
//! carried out — replies sent as `outbound-reply` messages that move and call
//! back like any other, `<Redirect>` followed — or its failure reported with
//! Twilio's codes.

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use shared::mirrors::twilio::messages::status::{DELIVER_AFTER_MS, STEP_MS};
use support::receiver::receiver;
use support::twilio::{call, form_of, session_with, signature, Api, Ses};

const NUMBER: &str = "+14155550100";
const SENDER: &str = "+14155552671";

/// What the app got: method, path with query, headers, body.
type Requests = Arc<Mutex<Vec<(String, String, HeaderMap, String)>>>;

/// An app on loopback answering `/{name}` from a fixed table of answers;
/// its base URL and what it got.
async fn app() -> (String, Requests) {
    let got: Requests = Arc::default();
    let g = got.clone();
    let router = Router::new().route(
        "/{name}",
        any(
            move |method: Method,
                  Path(name): Path<String>,
                  RawQuery(query): RawQuery,
                  headers: HeaderMap,
                  body: Bytes| {
                let g = g.clone();
                async move {
                    let path = match &query {
                        Some(q) => format!("/{name}?{q}"),
                        None => format!("/{name}"),
                    };
                    g.lock().expect("lock").push((
                        method.to_string(),
                        path,
                        headers,
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    answer(&name)
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, got)
}

fn answer(name: &str) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let xml = |s: &str| {
        (
            StatusCode::OK,
            [("content-type", "text/xml")],
            s.to_string(),
        )
    };
    match name {
        "twiml" => xml(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks &amp; welcome</Message><Message to="+14155550199"><Body>Heads up</Body><Media>https://app.test/a.png</Media></Message></Response>"#,
        ),
        "redirect" => {
            xml("<Response><Redirect>/plain</Redirect><Message>never</Message></Response>")
        }
        "plain" => (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            "Got it".into(),
        ),
        "empty" => xml("<Response/>"),
        "broken" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/plain")],
            "boom".into(),
        ),
        "badxml" => xml("<Response><Message>unclosed</Response>"),
        "json" => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{}".into(),
        ),
        "magic" => xml("<Response><Message to=\"+15005550001\">no</Message><Message/></Response>"),
        _ => (
            StatusCode::NOT_FOUND,
            [("content-type", "text/plain")],
            "no such page".into(),
        ),
    }
}

/// A session whose one number `NUMBER` has `sms_url`.
async fn session_with_url(api: &Api, sms_url: &str) -> Ses {
    session_with(
        api,
        json!({
            "mirrors": ["twilio"],
            "seed_files": {"twilio": {"phone_numbers": [
                {"phone_number": NUMBER, "friendly_name": "Support", "sms_url": sms_url}
            ]}},
        }),
    )
    .await
}

async fn inbound(api: &Api, s: &Ses, body: Value) -> support::twilio::Resp {
    api.control(
        Method::POST,
        &format!("/v1/sessions/{}/twilio/inbound", s.id),
        Some(body),
    )
    .await
}

/// The inbound message is stored (`inbound`, `received`) and listed, POSTed
/// to the number's SmsUrl with Twilio's parameters and a valid signature;
/// each `<Message>` of the answer is an `outbound-reply` (to the sender by
/// default, from the number) that moves to delivered.
#[tokio::test]
async fn an_inbound_sms_reaches_the_sms_url_signed_and_its_twiml_replies_go_out() {
    let api = Api::new();
    let (base, got) = app().await;
    let s = session_with_url(&api, &format!("{base}/twiml")).await;

    let r = inbound(
        &api,
        &s,
        json!({"from": SENDER, "to": NUMBER, "body": "Hello there", "media_urls": ["https://cdn.test/pic.jpg"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let msg = &r.json["message"];
    let sid = msg["sid"].as_str().expect("sid");
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(msg["direction"], "inbound");
    assert_eq!(msg["status"], "received");
    assert_eq!(msg["from"], SENDER);
    assert_eq!(msg["to"], NUMBER);
    assert_eq!(msg["num_media"], "1");
    assert_eq!(r.json["errors"], json!([]), "{}", r.json);

    // What the app got: one signed POST with Twilio's parameters.
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (method, path, headers, body) = &got[0];
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/twiml"));
    assert_eq!(
        headers["content-type"].to_str().expect("ascii"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        headers["x-twilio-signature"].to_str().expect("ascii"),
        signature(&s.token, &format!("{base}/twiml"), body)
    );
    let f = form_of(body);
    assert_eq!(f["MessageSid"], sid);
    assert_eq!(f["SmsSid"], sid);
    assert_eq!(f["AccountSid"], s.sid);
    assert_eq!(f["From"], SENDER);
    assert_eq!(f["To"], NUMBER);
    assert_eq!(f["Body"], "Hello there");
    assert_eq!(f["NumMedia"], "1");
    assert_eq!(f["MediaUrl0"], "https://cdn.test/pic.jpg");
    assert_eq!(f["MediaContentType0"], "image/jpeg");
    assert_eq!(f["SmsStatus"], "received");
    assert_eq!(f["ApiVersion"], "2010-04-01");

    // The replies: the first to the sender, the second where it says.
    let replies = r.json["replies"].as_array().expect("replies");
    assert_eq!(replies.len(), 2, "{}", r.json);
    assert_eq!(replies[0]["direction"], "outbound-reply");
    assert_eq!(replies[0]["to"], SENDER);
    assert_eq!(replies[0]["from"], NUMBER);
    assert_eq!(replies[0]["body"], "Thanks & welcome");
    assert_eq!(replies[1]["to"], "+14155550199");
    assert_eq!(replies[1]["num_media"], "1");
    assert_eq!(r.json["requests"][0]["status"], 200);

    // Both are messages of the account, and move like any other.
    api.advance_ms(STEP_MS).await;
    api.advance_ms(STEP_MS).await;
    api.advance_ms(DELIVER_AFTER_MS).await;
    let listed = call(&api, &s, Method::GET, &s.account("/Messages.json"), &[]).await;
    let all = listed.json["messages"].as_array().expect("messages");
    let by_dir = |d: &str| all.iter().filter(|m| m["direction"] == d).count();
    assert_eq!(
        (by_dir("inbound"), by_dir("outbound-reply")),
        (1, 2),
        "{}",
        listed.json
    );
    for m in all.iter().filter(|m| m["direction"] == "outbound-reply") {
        assert_eq!(m["status"], "delivered", "{m}");
    }
    let inbound_again = call(
        &api,
        &s,
        Method::GET,
        &s.account(&format!("/Messages/{sid}.json")),
        &[],
    )
    .await;
    assert_eq!(inbound_again.json["status"], "received");
}

/// A `<Message action=…>` reply calls back its action with each status.
#[tokio::test]
async fn a_replys_action_gets_its_status_callbacks() {
    let api = Api::new();
    let (hook, statuses) = receiver().await;
    // An app whose TwiML names the receiver as the reply's action.
    let router = {
        let hook = hook.clone();
        Router::new().route(
            "/sms",
            any(move || {
                let hook = hook.clone();
                async move {
                    (
                        [("content-type", "application/xml")],
                        format!("<Response><Message action=\"{hook}\">ok</Message></Response>"),
                    )
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/sms", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let s = session_with_url(&api, &url).await;
    let r = inbound(
        &api,
        &s,
        json!({"from": SENDER, "to": NUMBER, "body": "hi"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let reply = r.json["replies"][0]["sid"]
        .as_str()
        .expect("reply")
        .to_string();
    api.advance_ms(STEP_MS).await;
    api.advance_ms(STEP_MS).await;
    api.advance_ms(DELIVER_AFTER_MS).await;
    let got = statuses.lock().expect("lock").clone();
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|(_, b)| {
            let f = form_of(b);
            (f["MessageSid"].clone(), f["MessageStatus"].clone())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (reply.clone(), "sending".to_string()),
            (reply.clone(), "sent".to_string()),
            (reply, "delivered".to_string())
        ]
    );
}

/// `<Redirect>` fetches the next document (relative to the current URL) and
/// what followed it is never reached; a text/plain answer is the reply; an
/// empty `<Response/>` sends nothing.
#[tokio::test]
async fn redirects_are_followed_plain_text_replies_and_an_empty_response_sends_nothing() {
    let api = Api::new();
    let (base, got) = app().await;
    let s = session_with_url(&api, &format!("{base}/redirect")).await;
    let r = inbound(&api, &s, json!({"from": SENDER, "to": NUMBER, "body": "x"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let paths: Vec<String> = got
        .lock()
        .expect("lock")
        .iter()
        .map(|g| g.1.clone())
        .collect();
    assert_eq!(paths, ["/redirect", "/plain"]);
    let bodies: Vec<&Value> = r.json["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|m| &m["body"])
        .collect();
    assert_eq!(bodies, [&json!("Got it")]);

    let s = session_with_url(&api, &format!("{base}/empty")).await;
    let r = inbound(&api, &s, json!({"from": SENDER, "to": NUMBER, "body": "x"})).await;
    assert_eq!(r.json["replies"], json!([]), "{}", r.json);
    assert_eq!(r.json["errors"], json!([]), "{}", r.json);
}

/// Twilio's codes for what goes wrong with the app: 11200 for an error
/// status or no server, 12100 for a document that is not TwiML, 12300 for
/// another content type; 14101 / 14103 for replies Twilio would not send.
/// The inbound message is stored all the same.
#[tokio::test]
async fn what_goes_wrong_with_the_app_is_reported_with_twilios_codes() {
    let api = Api::new();
    let (base, _) = app().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/sms", l.local_addr().expect("addr"))
    };
    for (url, codes) in [
        (format!("{base}/broken"), vec![11200]),
        (dead, vec![11200]),
        (format!("{base}/badxml"), vec![12100]),
        (format!("{base}/json"), vec![12300]),
        (format!("{base}/magic"), vec![14101, 14103]),
    ] {
        let s = session_with_url(&api, &url).await;
        let r = inbound(&api, &s, json!({"from": SENDER, "to": NUMBER, "body": "x"})).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.json);
        let got: Vec<u64> = r.json["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["code"].as_u64().expect("code"))
            .collect();
        assert_eq!(got, codes, "{url}: {}", r.json);
        assert_eq!(r.json["replies"], json!([]), "{url}");
        assert_eq!(r.json["message"]["status"], "received");
    }
}

/// A number without an SmsUrl keeps the message and asks nobody.
#[tokio::test]
async fn a_number_without_an_sms_url_just_receives() {
    let api = Api::new();
    let s = session_with_url(&api, "").await;
    let r = inbound(&api, &s, json!({"from": SENDER, "to": NUMBER, "body": "x"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["requests"], json!([]));
    assert_eq!(r.json["message"]["direction"], "inbound");
}

/// Arrivals the control plane refuses, with a clear JSON error and a 4xx:
/// a number the session does not have, a bad sender, no body, unknown
/// fields, a session without Twilio; and nothing is stored.
#[tokio::test]
async fn bad_arrivals_are_refused_with_a_4xx_and_store_nothing() {
    let api = Api::new();
    let s = session_with_url(&api, "").await;
    for (body, says) in [
        (
            json!({"from": SENDER, "to": "+14155550111", "body": "x"}),
            "is not one of this session's phone numbers",
        ),
        (
            json!({"from": "+1-415-555", "to": NUMBER, "body": "x"}),
            "Invalid 'From'",
        ),
        (json!({"from": SENDER, "to": NUMBER}), "body is required"),
        (
            json!({"from": SENDER, "to": NUMBER, "body": "x", "bogus": 1}),
            "bogus",
        ),
        (
            json!({"from": SENDER, "to": NUMBER, "media_urls": ["ftp://x"]}),
            "media_urls",
        ),
    ] {
        let r = inbound(&api, &s, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.json);
        let message = r.json["error"]["message"].as_str().expect("message");
        assert!(message.contains(says), "{body}: {message}");
    }
    let listed = call(&api, &s, Method::GET, &s.account("/Messages.json"), &[]).await;
    assert_eq!(listed.json["messages"], json!([]));

    let other = api
        .control(
            Method::POST,
            "/v1/sessions",
            Some(json!({"mirrors": ["resend"]})),
        )
        .await;
    let id = other.json["id"].as_str().expect("id");
    let r = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{id}/twilio/inbound"),
            Some(json!({"from": SENDER, "to": NUMBER, "body": "x"})),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.json);
}

/// When the SmsUrl fails, the number's SmsFallbackUrl is asked, and its
/// answer is carried out; `sms_method: GET` sends the parameters in the
/// query string, signed over the whole URL.
#[tokio::test]
async fn a_failing_sms_url_falls_back_and_get_sends_the_parameters_in_the_query() {
    let api = Api::new();
    let (base, got) = app().await;
    let s = session_with(
        &api,
        json!({
            "mirrors": ["twilio"],
            "seed_files": {"twilio": {"phone_numbers": [{
                "phone_number": NUMBER,
                "sms_url": format!("{base}/broken"),
                "sms_fallback_url": format!("{base}/plain"),
                "sms_method": "GET",
            }]}},
        }),
    )
    .await;
    let r = inbound(
        &api,
        &s,
        json!({"from": SENDER, "to": NUMBER, "body": "a b"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let got = got.lock().expect("lock").clone();
    let asked: Vec<(String, String)> = got
        .iter()
        .map(|(m, p, _, _)| {
            (
                m.clone(),
                p.split('?').next().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("GET".to_string(), "/broken".to_string()),
            ("POST".to_string(), "/plain".to_string())
        ]
    );
    // GET: the parameters are in the query; the signature covers the URL.
    let (_, path, headers, body) = &got[0];
    assert!(body.is_empty());
    let query = path.split_once('?').map(|(_, q)| q).expect("query");
    assert_eq!(form_of(query)["Body"], "a b");
    assert_eq!(
        headers["x-twilio-signature"].to_str().expect("ascii"),
        signature(&s.token, &format!("{base}{path}"), "")
    );
    // The failure is reported, and the fallback's answer was sent.
    assert_eq!(r.json["errors"][0]["code"], 11200, "{}", r.json);
    assert_eq!(r.json["replies"][0]["body"], "Got it", "{}", r.json);
}
