//! Twilio Verify v2 through the whole API: services, verifications whose code
//! is "sent" as a message of the session (read back with the Messages API),
//! checks that approve or stay pending, Twilio's limits (60202, 60203), its
//! 20404 for what it forgets, expiry on the manual clock, and reset.

mod support;

use axum::http::Method;
use serde_json::{json, Value};
use shared::mirrors::twilio::messages::status::{DELIVER_AFTER_MS, STEP_MS};
use shared::mirrors::twilio::params;
use shared::mirrors::twilio::verify::verifications::LIFETIME_MS;
use support::twilio::{call, refused, session, Api, Ses};

const TO: &str = "+14155552671";

/// `POST /v2/Services`, asserting a 201; the service.
async fn service(api: &Api, s: &Ses, form: &[(&str, &str)]) -> Value {
    let r = call(api, s, Method::POST, "/v2/Services", form).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    r.json
}

/// A service named Acme with the default settings; its SID.
async fn acme(api: &Api, s: &Ses) -> String {
    let v = service(api, s, &[("FriendlyName", "Acme")]).await;
    v["sid"].as_str().expect("sid").to_string()
}

/// `POST …/Verifications`.
async fn start(api: &Api, s: &Ses, va: &str, to: &str, channel: &str) -> support::twilio::Resp {
    let path = format!("/v2/Services/{va}/Verifications");
    call(
        api,
        s,
        Method::POST,
        &path,
        &[("To", to), ("Channel", channel)],
    )
    .await
}

/// Starts a verification, asserting a 201; the verification.
async fn started(api: &Api, s: &Ses, va: &str, to: &str) -> Value {
    let r = start(api, s, va, to, "sms").await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    r.json
}

/// `POST …/VerificationCheck` with `form`.
async fn check(api: &Api, s: &Ses, va: &str, form: &[(&str, &str)]) -> support::twilio::Resp {
    let path = format!("/v2/Services/{va}/VerificationCheck");
    call(api, s, Method::POST, &path, form).await
}

/// The messages sent to `to`, newest first, through the Messages API.
async fn messages_to(api: &Api, s: &Ses, to: &str) -> Vec<Value> {
    let r = call(
        api,
        s,
        Method::GET,
        &s.account("/Messages.json"),
        &[("To", to)],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    r.json["messages"].as_array().expect("messages").clone()
}

/// The code in the newest message to `to`, read as a test would.
async fn code_sent_to(api: &Api, s: &Ses, to: &str) -> String {
    let got = messages_to(api, s, to).await;
    let body = got.first().expect("a message")["body"]
        .as_str()
        .expect("body");
    body.rsplit(' ').next().expect("code").to_string()
}

/// A wrong code of the same length as `code`.
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// The answer's fields are exactly the object's in Twilio's document.
fn has_twilios_fields(v: &Value, object: &str) {
    let mut want = params::table()
        .object_type(object)
        .expect("object type")
        .fields
        .clone();
    want.sort();
    let mut got: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    got.sort();
    assert_eq!(got, want, "{v}");
}

/// A service is created (201) with Twilio's defaults, its fields and absolute
/// URLs back to the session; fetched, listed with v2 paging, updated, deleted.
#[tokio::test]
async fn a_service_is_created_fetched_listed_updated_and_deleted() {
    let api = Api::new();
    let s = session(&api, None).await;
    let v = service(&api, &s, &[("FriendlyName", "Acme")]).await;
    let sid = v["sid"].as_str().expect("sid");
    assert!(sid.starts_with("VA") && sid.len() == 34, "{sid}");
    has_twilios_fields(&v, "verify_service");
    assert_eq!(v["account_sid"], s.sid.as_str());
    assert_eq!(v["code_length"], 6);
    assert_eq!(v["date_created"], "2026-01-01T00:00:00Z");
    assert_eq!(v["totp"]["issuer"], "Acme");
    let url = format!("http://127.0.0.1/m/{}/twilio/v2/Services/{sid}", s.id);
    assert_eq!(v["url"], url.as_str());
    assert_eq!(
        v["links"]["verifications"],
        format!("{url}/Verifications").as_str()
    );

    let path = format!("/v2/Services/{sid}");
    assert_eq!(call(&api, &s, Method::GET, &path, &[]).await.json, v);
    let listed = call(&api, &s, Method::GET, "/v2/Services", &[]).await.json;
    assert_eq!(listed["services"], json!([v]));
    assert_eq!(listed["meta"]["key"], "services");
    assert_eq!(listed["meta"]["next_page_url"], Value::Null);

    api.advance_ms(1000).await;
    let r = call(
        &api,
        &s,
        Method::POST,
        &path,
        &[
            ("CodeLength", "8"),
            ("DoNotShareWarningEnabled", "true"),
            ("Push.IncludeDate", "true"),
        ],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    assert_eq!(r.json["code_length"], 8);
    assert_eq!(r.json["do_not_share_warning_enabled"], true);
    assert_eq!(r.json["push"]["include_date"], true);
    assert_eq!(r.json["friendly_name"], "Acme");
    assert_eq!(r.json["date_updated"], "2026-01-01T00:00:01Z");

    let gone = call(&api, &s, Method::DELETE, &path, &[]).await;
    assert_eq!(gone.status.as_u16(), 204);
    let msg = refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
    assert_eq!(
        msg,
        format!("The requested resource /Services/{sid} was not found")
    );
}

/// FriendlyName is required and at most 30 characters; CodeLength is 4 to 10.
#[tokio::test]
async fn service_settings_out_of_bounds_are_refused() {
    let api = Api::new();
    let s = session(&api, None).await;
    let long = "x".repeat(31);
    let cases: &[(&[(&str, &str)], u64)] = &[
        (&[("CodeLength", "6")], 20001),
        (&[("FriendlyName", &long)], 60200),
        (&[("FriendlyName", "Acme"), ("CodeLength", "3")], 60200),
        (&[("FriendlyName", "Acme"), ("CodeLength", "11")], 60200),
        (&[("FriendlyName", "Acme"), ("CodeLength", "six")], 20001),
    ];
    for (form, code) in cases {
        let r = call(&api, &s, Method::POST, "/v2/Services", form).await;
        refused(&r, 400, *code);
    }
    let va = acme(&api, &s).await;
    let path = format!("/v2/Services/{va}");
    refused(
        &call(&api, &s, Method::POST, &path, &[("CodeLength", "12")]).await,
        400,
        60200,
    );
    let listed = call(&api, &s, Method::GET, "/v2/Services", &[]).await.json;
    assert_eq!(listed["services"].as_array().map(Vec::len), Some(1));
}

/// Starting a verification sends its code as an outbound message the
/// Messages API reads back; the message moves on to delivered like any other.
#[tokio::test]
async fn the_code_is_sent_as_a_message_the_messages_api_reads_back() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    has_twilios_fields(&v, "verification");
    let sid = v["sid"].as_str().expect("sid");
    assert!(sid.starts_with("VE") && sid.len() == 34, "{sid}");
    assert_eq!(
        (v["status"].as_str(), v["valid"].as_bool()),
        (Some("pending"), Some(false))
    );
    assert_eq!(
        (v["to"].as_str(), v["channel"].as_str()),
        (Some(TO), Some("sms"))
    );
    assert_eq!(v["send_code_attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["send_code_attempts"][0]["channel"], "sms");
    assert_eq!(
        v["url"],
        format!(
            "http://127.0.0.1/m/{}/twilio/v2/Services/{va}/Verifications/{sid}",
            s.id
        )
        .as_str()
    );

    let got = messages_to(&api, &s, TO).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    let body = m["body"].as_str().expect("body");
    let code = body
        .strip_prefix("Your Acme verification code is: ")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(m["from"], "+15005550006");
    assert_eq!(m["direction"], "outbound-api");
    assert_eq!(m["status"], "queued");

    api.advance_ms(STEP_MS).await;
    api.advance_ms(STEP_MS).await;
    api.advance_ms(DELIVER_AFTER_MS).await;
    assert_eq!(messages_to(&api, &s, TO).await[0]["status"], "delivered");
    let path = format!("/v2/Services/{va}/Verifications/{sid}");
    let fetched = call(&api, &s, Method::GET, &path, &[]).await;
    assert_eq!(fetched.json["status"], "pending", "{}", fetched.json);
}

/// The right code approves (valid); then Twilio forgets the verification:
/// fetching or checking it again is 20404, and a new start makes a new one.
#[tokio::test]
async fn the_right_code_approves_and_the_verification_is_then_forgotten() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    let code = code_sent_to(&api, &s, TO).await;
    let r = check(&api, &s, &va, &[("To", TO), ("Code", &code)]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    has_twilios_fields(&r.json, "verification_check");
    assert_eq!(
        (r.json["status"].as_str(), r.json["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    assert_eq!(r.json["sid"], v["sid"]);

    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        v["sid"].as_str().expect("sid")
    );
    let msg = refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
    assert!(msg.contains("it is approved"), "{msg}");
    let again = check(&api, &s, &va, &[("To", TO), ("Code", &code)]).await;
    let msg = refused(&again, 404, 20404);
    assert!(
        msg.starts_with(&format!(
            "The requested resource /Services/{va}/VerificationCheck was not found"
        )),
        "{msg}"
    );
    let next = started(&api, &s, &va, TO).await;
    assert_ne!(next["sid"], v["sid"]);
}

/// A check may name the verification by its SID instead of `To`.
#[tokio::test]
async fn a_check_may_name_the_verification_by_its_sid() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    let code = code_sent_to(&api, &s, TO).await;
    let ve = v["sid"].as_str().expect("sid");
    let r = check(&api, &s, &va, &[("VerificationSid", ve), ("Code", &code)]).await;
    assert_eq!(r.json["status"], "approved", "{}", r.json);
    let unknown = "VE00000000000000000000000000000000";
    refused(
        &check(
            &api,
            &s,
            &va,
            &[("VerificationSid", unknown), ("Code", &code)],
        )
        .await,
        404,
        20404,
    );
}

/// Wrong codes leave the verification pending, five times; the sixth check,
/// right code or not, is Twilio's 429 60202.
#[tokio::test]
async fn five_wrong_codes_stay_pending_and_the_sixth_check_is_60202() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    let code = code_sent_to(&api, &s, TO).await;
    let bad = wrong(&code);
    for _ in 0..5 {
        let r = check(&api, &s, &va, &[("To", TO), ("Code", &bad)]).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.json);
        assert_eq!(
            (r.json["status"].as_str(), r.json["valid"].as_bool()),
            (Some("pending"), Some(false))
        );
    }
    let r = check(&api, &s, &va, &[("To", TO), ("Code", &code)]).await;
    assert_eq!(refused(&r, 429, 60202), "Max check attempts reached");
    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        v["sid"].as_str().expect("sid")
    );
    assert_eq!(
        call(&api, &s, Method::GET, &path, &[]).await.json["status"],
        "pending"
    );
}

/// Starting again while one is pending resends the same code on the same
/// verification (`send_code_attempts` grows); the sixth send is 429 60203.
#[tokio::test]
async fn starting_again_resends_the_same_code_and_the_sixth_send_is_60203() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let first = started(&api, &s, &va, TO).await;
    for n in 2..=5 {
        let r = start(&api, &s, &va, TO, if n == 3 { "call" } else { "sms" }).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        assert_eq!(r.json["sid"], first["sid"]);
        assert_eq!(
            r.json["send_code_attempts"].as_array().map(Vec::len),
            Some(n)
        );
    }
    let got = messages_to(&api, &s, TO).await;
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|m| m["body"] == got[0]["body"]), "{got:?}");
    let sixth = start(&api, &s, &va, TO, "sms").await;
    assert_eq!(refused(&sixth, 429, 60203), "Max send attempts reached");
    assert_eq!(messages_to(&api, &s, TO).await.len(), 5);
    // Another number has its own verification.
    let other = started(&api, &s, &va, "+14155550123").await;
    assert_ne!(other["sid"], first["sid"]);
}

/// A verification expires 10 minutes after it started, on its timer: then it
/// is 20404 to fetch and to check, and a new start makes a new one.
#[tokio::test]
async fn a_verification_expires_after_ten_minutes() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    let code = code_sent_to(&api, &s, TO).await;
    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        v["sid"].as_str().expect("sid")
    );
    api.advance_ms(LIFETIME_MS - 1).await;
    assert_eq!(
        call(&api, &s, Method::GET, &path, &[]).await.json["status"],
        "pending"
    );
    api.advance_ms(1).await;
    let msg = refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
    assert!(msg.contains("it is expired"), "{msg}");
    refused(
        &check(&api, &s, &va, &[("To", TO), ("Code", &code)]).await,
        404,
        20404,
    );
    let next = started(&api, &s, &va, TO).await;
    assert_ne!(next["sid"], v["sid"]);
    assert_eq!(next["send_code_attempts"].as_array().map(Vec::len), Some(1));
}

/// `Status=canceled` ends a pending verification (still fetchable, canceled);
/// `Status=approved` approves one; neither applies to one no longer pending.
#[tokio::test]
async fn update_cancels_or_approves_a_pending_verification() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    let v = started(&api, &s, &va, TO).await;
    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        v["sid"].as_str().expect("sid")
    );
    let r = call(&api, &s, Method::POST, &path, &[("Status", "canceled")]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.json);
    assert_eq!(r.json["status"], "canceled");
    assert_eq!(
        call(&api, &s, Method::GET, &path, &[]).await.json["status"],
        "canceled"
    );
    let code = code_sent_to(&api, &s, TO).await;
    refused(
        &check(&api, &s, &va, &[("To", TO), ("Code", &code)]).await,
        404,
        20404,
    );
    refused(
        &call(&api, &s, Method::POST, &path, &[("Status", "approved")]).await,
        404,
        20404,
    );
    refused(
        &call(&api, &s, Method::POST, &path, &[("Status", "pending")]).await,
        400,
        20001,
    );

    let next = started(&api, &s, &va, TO).await;
    assert_ne!(next["sid"], v["sid"]);
    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        next["sid"].as_str().expect("sid")
    );
    let r = call(&api, &s, Method::POST, &path, &[("Status", "approved")]).await;
    assert_eq!(
        (r.json["status"].as_str(), r.json["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
}

/// Unknown channels and destinations that do not fit the channel are
/// Verify's 60200; missing parameters Twilio's 20001; an unknown service 20404.
#[tokio::test]
async fn bad_channels_destinations_and_codes_are_refused_with_twilios_codes() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    for channel in ["SMS", "pigeon", "sna"] {
        let r = start(&api, &s, &va, TO, channel).await;
        assert_eq!(refused(&r, 400, 60200), "Invalid parameter: Channel");
    }
    for (to, channel) in [
        ("4155552671", "sms"),
        ("ann@test.dev", "call"),
        ("+14155552671", "email"),
        ("+15005550001", "sms"),
    ] {
        let r = start(&api, &s, &va, to, channel).await;
        assert_eq!(
            refused(&r, 400, 60200),
            format!("Invalid parameter `To`: {to}")
        );
    }
    let path = format!("/v2/Services/{va}/Verifications");
    let r = call(&api, &s, Method::POST, &path, &[("To", TO)]).await;
    assert_eq!(
        refused(&r, 400, 20001),
        "Missing required parameter Channel in the post body"
    );
    let unknown = "VA00000000000000000000000000000000";
    refused(&start(&api, &s, unknown, TO, "sms").await, 404, 20404);

    started(&api, &s, &va, TO).await;
    refused(
        &check(&api, &s, &va, &[("To", TO), ("Code", "12")]).await,
        400,
        60200,
    );
    refused(&check(&api, &s, &va, &[("To", TO)]).await, 400, 20001);
    refused(
        &check(&api, &s, &va, &[("Code", "123456")]).await,
        400,
        20001,
    );
    assert!(
        messages_to(&api, &s, "ann@test.dev").await.is_empty(),
        "nothing refused was sent"
    );
    assert_eq!(messages_to(&api, &s, TO).await.len(), 1);
}

/// An email verification records its code as a message to the address; the
/// service's settings shape the code and its message.
#[tokio::test]
async fn service_settings_shape_the_code_and_email_codes_are_recorded_too() {
    let api = Api::new();
    let s = session(&api, None).await;
    let short = service(
        &api,
        &s,
        &[
            ("FriendlyName", "Short"),
            ("CodeLength", "4"),
            ("DoNotShareWarningEnabled", "true"),
        ],
    )
    .await;
    let va = short["sid"].as_str().expect("sid");
    let r = start(&api, &s, va, "ann@test.dev", "email").await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    let got = messages_to(&api, &s, "ann@test.dev").await;
    let body = got[0]["body"].as_str().expect("body");
    let rest = body
        .strip_prefix("Your Short verification code is: ")
        .unwrap_or_else(|| panic!("{body}"));
    let (code, warning) = rest.split_at(4);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{body}");
    assert_eq!(
        warning,
        ". Don’t share this code with anyone; our employees will never ask for the code"
    );
    let ok = check(&api, &s, va, &[("To", "ann@test.dev"), ("Code", code)]).await;
    assert_eq!(ok.json["status"], "approved", "{}", ok.json);

    let custom = service(
        &api,
        &s,
        &[("FriendlyName", "Custom"), ("CustomCodeEnabled", "true")],
    )
    .await;
    let va = custom["sid"].as_str().expect("sid");
    let path = format!("/v2/Services/{va}/Verifications");
    let form = [
        ("To", TO),
        ("Channel", "whatsapp"),
        ("CustomCode", "867530"),
        ("CustomFriendlyName", "Jenny"),
    ];
    let r = call(&api, &s, Method::POST, &path, &form).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    assert_eq!(
        messages_to(&api, &s, TO).await[0]["body"],
        "Your Jenny verification code is: 867530"
    );
}

/// A session made with `body` (`support::twilio::session` sends its seed
/// name in a shape the control plane refuses).
async fn session_with(api: &Api, body: Value) -> Ses {
    let r = api.control(Method::POST, "/v1/sessions", Some(body)).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.json);
    let c = &r.json["mirrors"]["twilio"]["credentials"];
    let text = |k: &str| c[k].as_str().expect(k).to_string();
    Ses {
        id: r.json["id"].as_str().expect("id").to_string(),
        sid: text("account_sid"),
        token: text("auth_token"),
        key_sid: text("api_key_sid"),
        key_secret: text("api_key_secret"),
    }
}

/// Codes go from the session's first number, else from the magic number.
#[tokio::test]
async fn codes_go_from_the_sessions_first_number_or_the_magic_one() {
    let api = Api::new();
    let own = session_with(
        &api,
        json!({
            "mirrors": ["twilio"],
            "seed_files": {"twilio": {"phone_numbers": [{"phone_number": "+14155550100"}]}},
        }),
    )
    .await;
    let empty = session_with(
        &api,
        json!({"mirrors": ["twilio"], "seeds": {"twilio": "empty"}}),
    )
    .await;
    for (s, from) in [(&own, "+14155550100"), (&empty, "+15005550006")] {
        let va = acme(&api, s).await;
        started(&api, s, &va, TO).await;
        assert_eq!(messages_to(&api, s, TO).await[0]["from"], from);
    }
}

/// Reset drops services, verifications, their codes' messages and timers.
#[tokio::test]
async fn reset_drops_services_verifications_and_their_messages() {
    let api = Api::new();
    let s = session(&api, None).await;
    let va = acme(&api, &s).await;
    started(&api, &s, &va, TO).await;
    let r = api
        .control(Method::POST, &format!("/v1/sessions/{}/reset", s.id), None)
        .await;
    assert!(r.status.is_success(), "{}", r.json);
    api.advance_ms(LIFETIME_MS).await;
    let listed = call(&api, &s, Method::GET, "/v2/Services", &[]).await.json;
    assert_eq!(listed["services"], json!([]));
    assert!(messages_to(&api, &s, TO).await.is_empty());
    refused(&start(&api, &s, &va, TO, "sms").await, 404, 20404);
}
