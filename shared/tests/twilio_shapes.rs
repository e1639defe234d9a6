//! The Twilio mirror's answers checked against Twilio's OpenAPI documents
//! (`twilio_api_v2010.json`, `twilio_verify_v2.json`), and generated bad
//! requests to every emulated operation: each gets Twilio's error shape with
//! a 4xx, never a 5xx.

mod support;

use axum::http::Method;
use shared::mirrors::toolkit::params::Schema;
use shared::mirrors::twilio::params;
use support::openapi::{check, component, document, response};
use support::twilio::{call, send, session, Api};

const API: &str = "twilio_api_v2010.json";
const VERIFY: &str = "twilio_verify_v2.json";
const MESSAGE: &str = "api.v2010.account.message";
const MEDIA: &str = "api.v2010.account.message.media";

/// Messages (created, fetched at each status, listed), media and the account
/// match the document, with no field it does not declare.
#[tokio::test]
async fn message_media_and_account_answers_match_twilios_document() {
    let Some(doc) = document(API) else { return };
    let api = Api::new();
    let s = session(&api, None).await;
    let m = send(
        &api,
        &s,
        "+14155552671",
        &[("MediaUrl", "https://demo.test/a.jpg")],
    )
    .await;
    let messages = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
    check(
        doc,
        "create",
        response(doc, messages, "post", 201),
        &[MESSAGE],
        &m,
    );
    let path = s.account(&format!(
        "/Messages/{}.json",
        m["sid"].as_str().expect("sid")
    ));
    for _ in 0..4 {
        let got = call(&api, &s, Method::GET, &path, &[]).await.json;
        check(doc, "fetch", component(MESSAGE), &[MESSAGE], &got);
        api.advance_ms(1_000).await;
    }
    let list = call(
        &api,
        &s,
        Method::GET,
        &s.account("/Messages.json"),
        &[("PageSize", "1")],
    )
    .await
    .json;
    check(
        doc,
        "list",
        response(doc, messages, "get", 200),
        &[MESSAGE],
        &list,
    );
    let media_uri = m["subresource_uris"]["media"].as_str().expect("media");
    let media = call(&api, &s, Method::GET, media_uri, &[]).await.json;
    let media_list = "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json";
    check(
        doc,
        "media list",
        response(doc, media_list, "get", 200),
        &[MEDIA],
        &media,
    );
    let account = call(
        &api,
        &s,
        Method::GET,
        &format!("/2010-04-01/Accounts/{}.json", s.sid),
        &[],
    )
    .await
    .json;
    check(
        doc,
        "account",
        component("api.v2010.account"),
        &[],
        &account,
    );
}

/// Verify's services, verifications (created, fetched, canceled) and checks
/// match its document, with no field it does not declare.
#[tokio::test]
async fn verify_answers_match_twilios_document() {
    let Some(doc) = document(VERIFY) else { return };
    let (service, verification, checked) = (
        "verify.v2.service",
        "verify.v2.service.verification",
        "verify.v2.service.verification_check",
    );
    let api = Api::new();
    let s = session(&api, None).await;
    let made = call(
        &api,
        &s,
        Method::POST,
        "/v2/Services",
        &[("FriendlyName", "Acme")],
    )
    .await;
    check(
        doc,
        "create service",
        component(service),
        &[service],
        &made.json,
    );
    let va = made.json["sid"].as_str().expect("sid").to_string();
    let services = call(&api, &s, Method::GET, "/v2/Services", &[]).await.json;
    check(
        doc,
        "list services",
        response(doc, "/v2/Services", "get", 200),
        &[service],
        &services,
    );
    let start = |to: &'static str| {
        let path = format!("/v2/Services/{va}/Verifications");
        let (api, s) = (&api, &s);
        async move {
            call(
                api,
                s,
                Method::POST,
                &path,
                &[("To", to), ("Channel", "sms")],
            )
            .await
            .json
        }
    };
    let v = start("+14155552671").await;
    check(
        doc,
        "create verification",
        component(verification),
        &[verification],
        &v,
    );
    let other = start("+14155552672").await;
    let path = format!(
        "/v2/Services/{va}/Verifications/{}",
        other["sid"].as_str().expect("sid")
    );
    let canceled = call(&api, &s, Method::POST, &path, &[("Status", "canceled")])
        .await
        .json;
    check(
        doc,
        "cancel verification",
        component(verification),
        &[verification],
        &canceled,
    );
    let wrong = call(
        &api,
        &s,
        Method::POST,
        &format!("/v2/Services/{va}/VerificationCheck"),
        &[("To", "+14155552671"), ("Code", "000000")],
    )
    .await
    .json;
    check(doc, "check", component(checked), &[checked], &wrong);
}

/// Numbers bought, fetched, listed and for sale match the document.
#[tokio::test]
async fn number_answers_match_twilios_document() {
    let Some(doc) = document(API) else { return };
    const NUMBER: &str = "api.v2010.account.incoming_phone_number";
    const LOCAL: &str =
        "api.v2010.account.available_phone_number_country.available_phone_number_local";
    const MOBILE: &str =
        "api.v2010.account.available_phone_number_country.available_phone_number_mobile";
    const TOLL_FREE: &str =
        "api.v2010.account.available_phone_number_country.available_phone_number_toll_free";
    let api = Api::new();
    let s = session(&api, None).await;
    let numbers = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json";
    let bought = call(
        &api,
        &s,
        Method::POST,
        &s.account("/IncomingPhoneNumbers.json"),
        &[("AreaCode", "212"), ("SmsUrl", "https://app.test/sms")],
    )
    .await
    .json;
    check(
        doc,
        "buy",
        response(doc, numbers, "post", 201),
        &[NUMBER],
        &bought,
    );
    let list = call(
        &api,
        &s,
        Method::GET,
        &s.account("/IncomingPhoneNumbers.json"),
        &[],
    )
    .await
    .json;
    check(
        doc,
        "list numbers",
        response(doc, numbers, "get", 200),
        &[NUMBER],
        &list,
    );
    for (kind, component_name, country) in [
        ("Local", LOCAL, "US"),
        ("Mobile", MOBILE, "GB"),
        ("TollFree", TOLL_FREE, "CA"),
    ] {
        let template = format!(
            "/2010-04-01/Accounts/{{AccountSid}}/AvailablePhoneNumbers/{{CountryCode}}/{kind}.json"
        );
        let got = call(
            &api,
            &s,
            Method::GET,
            &s.account(&format!("/AvailablePhoneNumbers/{country}/{kind}.json")),
            &[("PageSize", "2")],
        )
        .await
        .json;
        assert_eq!(
            got["available_phone_numbers"].as_array().map(Vec::len),
            Some(2),
            "{got}"
        );
        check(
            doc,
            kind,
            response(doc, &template, "get", 200),
            &[component_name],
            &got,
        );
    }
}

/// Messaging services and their numbers carry exactly the fields of
/// Twilio's messaging document (the generated `objects.json` keeps them
/// where the document itself is not in `../shared/specs`).
#[tokio::test]
async fn messaging_service_answers_have_the_documents_fields() {
    let objects: serde_json::Value =
        serde_json::from_str(include_str!("../src/mirrors/twilio/generated/objects.json"))
            .expect("objects.json");
    let fields = |name: &str| -> Vec<String> {
        let mut f: Vec<String> =
            serde_json::from_value(objects["objects"][name]["fields"].clone()).expect("fields");
        f.sort();
        f
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    let api = Api::new();
    let s = session(&api, None).await;
    let service = call(
        &api,
        &s,
        Method::POST,
        "/v1/Services",
        &[("FriendlyName", "Acme")],
    )
    .await
    .json;
    assert_eq!(keys(&service), fields("messaging_service"));
    let pn = call(
        &api,
        &s,
        Method::GET,
        &s.account("/IncomingPhoneNumbers.json"),
        &[],
    )
    .await
    .json["incoming_phone_numbers"][0]["sid"]
        .as_str()
        .expect("seeded number")
        .to_string();
    let mg = service["sid"].as_str().expect("sid");
    let added = call(
        &api,
        &s,
        Method::POST,
        &format!("/v1/Services/{mg}/PhoneNumbers"),
        &[("PhoneNumberSid", &pn)],
    )
    .await
    .json;
    assert_eq!(keys(&added), fields("messaging_phone_number"));
    let listed = call(&api, &s, Method::GET, "/v1/Services", &[]).await.json;
    assert_eq!(keys(&listed["services"][0]), fields("messaging_service"));
    assert_eq!(listed["meta"]["key"], "services");
}

/// A value of the wrong kind for a parameter of this schema, if one exists.
fn wrong_value(schema: &Schema) -> Option<&'static str> {
    match schema {
        Schema::Integer => Some("not-a-number"),
        Schema::Number { .. } => Some("lots"),
        Schema::Boolean => Some("maybe"),
        Schema::String(s) if s.values.is_some() => Some("no-such-value"),
        Schema::String(s) if s.max_length.is_some() => None,
        _ => None,
    }
}

/// For every emulated operation: each parameter given a value of the wrong
/// kind, each required one left out, and a body of garbage, answer Twilio's
/// error shape with a 4xx — or succeed, where Twilio would — and never a 5xx.
#[tokio::test]
async fn generated_bad_requests_to_every_operation_answer_4xx_never_5xx() {
    let api = Api::new();
    let s = session(&api, None).await;
    let m = send(
        &api,
        &s,
        "+14155552671",
        &[("MediaUrl", "https://demo.test/a.jpg")],
    )
    .await;
    let sid = m["sid"].as_str().expect("sid").to_string();
    let media = call(
        &api,
        &s,
        Method::GET,
        m["subresource_uris"]["media"].as_str().expect("m"),
        &[],
    )
    .await;
    let media_sid = media.json["media_list"][0]["sid"]
        .as_str()
        .expect("media sid")
        .to_string();
    let va = call(
        &api,
        &s,
        Method::POST,
        "/v2/Services",
        &[("FriendlyName", "Acme")],
    )
    .await
    .json["sid"]
        .as_str()
        .expect("service sid")
        .to_string();
    let ve = call(
        &api,
        &s,
        Method::POST,
        &format!("/v2/Services/{va}/Verifications"),
        &[("To", "+14155552671"), ("Channel", "sms")],
    )
    .await
    .json["sid"]
        .as_str()
        .expect("verification sid")
        .to_string();
    let pn = call(
        &api,
        &s,
        Method::POST,
        &s.account("/IncomingPhoneNumbers.json"),
        &[("AreaCode", "415")],
    )
    .await
    .json["sid"]
        .as_str()
        .expect("number sid")
        .to_string();
    let mg = call(
        &api,
        &s,
        Method::POST,
        "/v1/Services",
        &[("FriendlyName", "Acme")],
    )
    .await
    .json["sid"]
        .as_str()
        .expect("messaging service sid")
        .to_string();
    // Each template's placeholders, filled with SIDs that exist.
    let concrete = |op: &str, template: &str| {
        let last = if template.contains("Media/") {
            &media_sid
        } else if op.contains("Verification") {
            &ve
        } else if op.starts_with("verify/") {
            &va
        } else if op.contains("PhoneNumber") {
            &pn
        } else if op.starts_with("messaging/") {
            &mg
        } else {
            &sid
        };
        let service = if op.starts_with("messaging/") {
            &mg
        } else {
            &va
        };
        template
            .replace("{AccountSid}", &s.sid)
            .replace("{MessageSid}", &sid)
            .replace("{ServiceSid}", service)
            .replace("{CountryCode}", "US")
            .replace("{Sid}", last)
    };
    let mut tried = 0;
    let routes = shared::mirrors::twilio::routes::table();
    let twilio_ops: Vec<_> = params::table()
        .operations()
        .filter(|op| routes.iter().any(|r| r.operation == op.id))
        .collect();
    assert!(twilio_ops.len() >= 35, "every emulated operation is tried");
    let ops = twilio_ops.len();
    for op in twilio_ops {
        let method = Method::from_bytes(op.method.as_bytes()).expect("method");
        let path = if op.id == "api/FetchAccount" {
            format!("/2010-04-01/Accounts/{}.json", s.sid)
        } else {
            concrete(&op.id, &op.path)
        };
        let Some(obj) = op.params.object() else {
            continue;
        };
        let mut variants: Vec<Vec<(String, String)>> =
            vec![vec![("garbage%%".into(), "\u{0}".into())]];
        for (name, schema) in &obj.properties {
            if let Some(bad) = wrong_value(schema) {
                variants.push(vec![(name.clone(), bad.to_string())]);
            }
        }
        for name in &obj.required {
            let rest: Vec<(String, String)> = obj
                .required
                .iter()
                .filter(|r| *r != name)
                .map(|r| (r.clone(), "+14155552671".to_string()))
                .collect();
            variants.push(rest);
        }
        for form in variants {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = call(&api, &s, method.clone(), &path, &pairs).await;
            tried += 1;
            let status = r.status.as_u16();
            assert!(
                status < 500,
                "{} {path} {form:?}: {status} {}",
                op.id,
                r.json
            );
            if status >= 400 {
                assert!(
                    r.json["code"].is_u64() && r.json["status"] == status,
                    "{}: {}",
                    op.id,
                    r.json
                );
            }
        }
    }
    assert!(
        tried >= 2 * ops,
        "only {tried} requests for {ops} operations"
    );
}
