//! Phone numbers and messaging services through the Twilio mirror: the
//! catalogue of numbers for sale (AvailablePhoneNumbers), buying, updating
//! and releasing IncomingPhoneNumbers with Twilio's test-number answers, and
//! messaging services (messaging.twilio.com `/v1/Services`) with their
//! senders — each then used the way an app uses it: sending from a bought
//! number, through a service, an inbound message to a configured `SmsUrl`.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::mirrors::twilio::messages::status::{DELIVER_AFTER_MS, STEP_MS};
use support::receiver::receiver;
use support::twilio::{call, refused, session, Api, Ses};

async fn buy(api: &Api, s: &Ses, form: &[(&str, &str)]) -> support::resend::Resp {
    call(
        api,
        s,
        Method::POST,
        &s.account("/IncomingPhoneNumbers.json"),
        form,
    )
    .await
}

fn numbers_of(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["phone_number"].as_str().expect("number").to_string())
        .collect()
}

/// The catalogue lists fictional numbers by country, type, area code and
/// pattern; a country or type Twilio sells none of is its 20404, and an area
/// code without stock (533, Twilio's test value) is an empty list.
#[tokio::test]
async fn available_numbers_are_listed_by_country_type_area_and_pattern() {
    let api = Api::new();
    let s = session(&api, Some("empty")).await;
    let search = |country: &str, kind: &str, q: Vec<(&'static str, &'static str)>| {
        let path = s.account(&format!("/AvailablePhoneNumbers/{country}/{kind}.json"));
        let api = &api;
        let s = &s;
        async move { call(api, s, Method::GET, &path, &q).await }
    };
    let r = search("US", "Local", vec![("AreaCode", "415"), ("PageSize", "3")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        numbers_of(&r.json, "available_phone_numbers"),
        ["+14155550100", "+14155550101", "+14155550102"]
    );
    let first = &r.json["available_phone_numbers"][0];
    assert_eq!(first["friendly_name"], "(415) 555-0100");
    assert_eq!(first["locality"], "San Francisco");
    assert_eq!(first["region"], "CA");
    assert_eq!(first["iso_country"], "US");
    assert_eq!(first["capabilities"]["sms"], true);
    assert_eq!(r.json["page_size"], 3);
    assert_eq!(r.json["next_page_uri"], Value::Null);

    let r = search("US", "Local", vec![("Contains", "512*****42")]).await;
    assert_eq!(
        numbers_of(&r.json, "available_phone_numbers"),
        ["+15125550142"]
    );
    let r = search(
        "US",
        "Local",
        vec![("InRegion", "TX"), ("PageSize", "1000")],
    )
    .await;
    assert_eq!(
        r.json["available_phone_numbers"].as_array().map(Vec::len),
        Some(100)
    );

    let r = search("US", "Local", vec![("AreaCode", "533")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["available_phone_numbers"], json!([]));

    let r = search("GB", "Mobile", vec![("PageSize", "1")]).await;
    assert_eq!(
        numbers_of(&r.json, "available_phone_numbers"),
        ["+447700900000"]
    );
    let r = search("GB", "Local", vec![("SmsEnabled", "true")]).await;
    assert_eq!(
        r.json["available_phone_numbers"],
        json!([]),
        "London numbers are voice only"
    );
    let r = search(
        "US",
        "TollFree",
        vec![("AreaCode", "888"), ("PageSize", "1")],
    )
    .await;
    assert_eq!(
        numbers_of(&r.json, "available_phone_numbers"),
        ["+18885550100"]
    );

    refused(&search("US", "Mobile", vec![]).await, 404, 20404);
    refused(&search("FR", "Local", vec![]).await, 404, 20404);
}

/// A number bought from the catalogue is the session's: listed, fetched,
/// no longer offered, and a message can be sent from it.
#[tokio::test]
async fn a_bought_number_is_listed_no_longer_offered_and_sends() {
    let api = Api::new();
    let s = session(&api, Some("empty")).await;
    let r = buy(
        &api,
        &s,
        &[("AreaCode", "415"), ("FriendlyName", "Support")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let n = r.json;
    assert_eq!(n["phone_number"], "+14155550100");
    assert_eq!(n["friendly_name"], "Support");
    assert_eq!(n["account_sid"], s.sid);
    assert_eq!(n["status"], "in-use");
    let sid = n["sid"].as_str().expect("sid");
    assert!(sid.starts_with("PN") && sid.len() == 34, "{sid}");

    let r = buy(&api, &s, &[("PhoneNumber", "+14155550101")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["friendly_name"], "(415) 555-0101");

    let page = call(
        &api,
        &s,
        Method::GET,
        &s.account("/IncomingPhoneNumbers.json"),
        &[],
    )
    .await;
    assert_eq!(
        numbers_of(&page.json, "incoming_phone_numbers"),
        ["+14155550101", "+14155550100"]
    );
    let fetched = call(
        &api,
        &s,
        Method::GET,
        &s.account(&format!("/IncomingPhoneNumbers/{sid}.json")),
        &[],
    )
    .await;
    assert_eq!(fetched.json, n);

    let offered = call(
        &api,
        &s,
        Method::GET,
        &s.account("/AvailablePhoneNumbers/US/Local.json"),
        &[("AreaCode", "415"), ("PageSize", "1")],
    )
    .await;
    assert_eq!(
        numbers_of(&offered.json, "available_phone_numbers"),
        ["+14155550102"]
    );

    let sent = call(
        &api,
        &s,
        Method::POST,
        &s.account("/Messages.json"),
        &[
            ("To", "+14155552671"),
            ("From", "+14155550100"),
            ("Body", "hi"),
        ],
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);

    // Filters: part of a number with `*`, and the friendly name.
    let q = |k: &'static str, v: &'static str| {
        let path = s.account("/IncomingPhoneNumbers.json");
        let (api, s) = (&api, &s);
        async move { call(api, s, Method::GET, &path, &[(k, v)]).await.json }
    };
    assert_eq!(
        numbers_of(&q("PhoneNumber", "55501*1").await, "incoming_phone_numbers"),
        ["+14155550101"]
    );
    assert_eq!(
        numbers_of(
            &q("PhoneNumber", "+14155550100").await,
            "incoming_phone_numbers"
        ),
        ["+14155550100"]
    );
    assert_eq!(
        numbers_of(
            &q("FriendlyName", "Support").await,
            "incoming_phone_numbers"
        ),
        ["+14155550100"]
    );
    assert_eq!(
        numbers_of(&q("PhoneNumber", "abc").await, "incoming_phone_numbers"),
        Vec::<String>::new()
    );
}

/// Buying answers as Twilio does with its test numbers, and refuses what is
/// not for sale.
#[tokio::test]
async fn buying_refuses_as_twilio_does() {
    let api = Api::new();
    let s = session(&api, None).await;
    refused(
        &buy(&api, &s, &[("PhoneNumber", "+15005550000")]).await,
        400,
        21422,
    );
    refused(
        &buy(&api, &s, &[("PhoneNumber", "+15005550001")]).await,
        400,
        21421,
    );
    refused(&buy(&api, &s, &[("PhoneNumber", "555")]).await, 400, 21421);
    // The default seed owns the magic valid number already.
    let m = refused(
        &buy(&api, &s, &[("PhoneNumber", "+15005550006")]).await,
        400,
        21422,
    );
    assert!(m.contains("owns it"), "{m}");
    refused(
        &buy(&api, &s, &[("PhoneNumber", "+33612345678")]).await,
        400,
        21422,
    );
    refused(&buy(&api, &s, &[("AreaCode", "533")]).await, 400, 21452);
    refused(&buy(&api, &s, &[("FriendlyName", "x")]).await, 400, 21451);
    refused(
        &buy(&api, &s, &[("AreaCode", "415"), ("SmsUrl", "ftp://x")]).await,
        400,
        21502,
    );
    let empty = session(&api, Some("empty")).await;
    let r = buy(&api, &empty, &[("PhoneNumber", "+15005550006")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    // A refused purchase bought nothing.
    let page = call(
        &api,
        &s,
        Method::GET,
        &s.account("/IncomingPhoneNumbers.json"),
        &[],
    )
    .await;
    assert_eq!(
        numbers_of(&page.json, "incoming_phone_numbers"),
        ["+15005550006"]
    );
}

/// `SmsUrl` set with an update is where an inbound message goes; a released
/// number is gone: 20404, offered again, and no longer a sender (21606).
#[tokio::test]
async fn an_updated_sms_url_gets_inbound_messages_and_a_released_number_is_gone() {
    let api = Api::new();
    let s = session(&api, Some("empty")).await;
    let n = buy(&api, &s, &[("PhoneNumber", "+12065550100")]).await.json;
    let path = s.account(&format!(
        "/IncomingPhoneNumbers/{}.json",
        n["sid"].as_str().expect("sid")
    ));
    let (url, got) = receiver().await;
    let r = call(
        &api,
        &s,
        Method::POST,
        &path,
        &[("SmsUrl", &url), ("VoiceCallerIdLookup", "true")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["sms_url"], url.as_str());
    assert_eq!(r.json["voice_caller_id_lookup"], true);
    refused(
        &call(&api, &s, Method::POST, &path, &[("SmsUrl", "nope")]).await,
        400,
        21502,
    );

    let inbound = api
        .control(
            Method::POST,
            &format!("/v1/sessions/{}/twilio/inbound", s.id),
            Some(json!({"from": "+14155552671", "to": "+12065550100", "body": "HELP"})),
        )
        .await;
    assert_eq!(inbound.status, StatusCode::OK, "{}", inbound.json);
    let posts = got.lock().expect("lock").clone();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].1.contains("Body=HELP"), "{}", posts[0].1);

    let r = call(&api, &s, Method::DELETE, &path, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    refused(&call(&api, &s, Method::GET, &path, &[]).await, 404, 20404);
    refused(
        &call(&api, &s, Method::DELETE, &path, &[]).await,
        404,
        20404,
    );
    let sent = call(
        &api,
        &s,
        Method::POST,
        &s.account("/Messages.json"),
        &[
            ("To", "+14155552671"),
            ("From", "+12065550100"),
            ("Body", "hi"),
        ],
    )
    .await;
    refused(&sent, 400, 21606);
    let offered = call(
        &api,
        &s,
        Method::GET,
        &s.account("/AvailablePhoneNumbers/US/Local.json"),
        &[("AreaCode", "206"), ("PageSize", "1")],
    )
    .await;
    assert_eq!(
        numbers_of(&offered.json, "available_phone_numbers"),
        ["+12065550100"]
    );
}

/// A messaging service made through the API sends from its number, calls
/// back its own status URL, holds a number once (21710, 21712), and gives
/// its numbers back when it is deleted.
#[tokio::test]
async fn messaging_services_send_from_their_numbers_and_hold_each_once() {
    let api = Api::new();
    let s = session(&api, Some("empty")).await;
    let (hook, got) = receiver().await;
    let r = call(
        &api,
        &s,
        Method::POST,
        "/v1/Services",
        &[("FriendlyName", "Alerts"), ("StatusCallback", &hook)],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let mg = r.json["sid"].as_str().expect("sid").to_string();
    assert!(mg.starts_with("MG"), "{mg}");
    assert_eq!(r.json["friendly_name"], "Alerts");
    assert_eq!(r.json["sticky_sender"], true);
    assert!(r.json["url"]
        .as_str()
        .expect("url")
        .ends_with(&format!("/v1/Services/{mg}")));
    assert!(r.json["links"]["phone_numbers"]
        .as_str()
        .expect("link")
        .ends_with("/PhoneNumbers"));
    refused(
        &call(&api, &s, Method::POST, "/v1/Services", &[]).await,
        400,
        20001,
    );

    // Without a number the service cannot send (21704).
    let via = |service: String| {
        let path = s.account("/Messages.json");
        let (api, s) = (&api, &s);
        async move {
            call(
                api,
                s,
                Method::POST,
                &path,
                &[
                    ("To", "+14155552671"),
                    ("MessagingServiceSid", &service),
                    ("Body", "hi"),
                ],
            )
            .await
        }
    };
    refused(&via(mg.clone()).await, 400, 21704);

    let pn = buy(&api, &s, &[("PhoneNumber", "+13125550100")]).await.json["sid"]
        .as_str()
        .expect("sid")
        .to_string();
    let add = |service: String, pn: String| {
        let (api, s) = (&api, &s);
        async move {
            call(
                api,
                s,
                Method::POST,
                &format!("/v1/Services/{service}/PhoneNumbers"),
                &[("PhoneNumberSid", &pn)],
            )
            .await
        }
    };
    let r = add(mg.clone(), pn.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["sid"], pn.as_str());
    assert_eq!(r.json["phone_number"], "+13125550100");
    assert_eq!(r.json["service_sid"], mg.as_str());
    assert_eq!(r.json["country_code"], "US");
    refused(&add(mg.clone(), pn.clone()).await, 400, 21710);
    let other = call(
        &api,
        &s,
        Method::POST,
        "/v1/Services",
        &[("FriendlyName", "Other")],
    )
    .await
    .json["sid"]
        .as_str()
        .expect("sid")
        .to_string();
    refused(&add(other.clone(), pn.clone()).await, 400, 21712);
    refused(
        &add(mg.clone(), "PN00000000000000000000000000000000".into()).await,
        404,
        20404,
    );

    let m = via(mg.clone()).await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.json);
    assert_eq!(m.json["from"], "+13125550100");
    assert_eq!(m.json["messaging_service_sid"], mg.as_str());
    api.advance_ms(STEP_MS).await;
    api.advance_ms(STEP_MS).await;
    api.advance_ms(DELIVER_AFTER_MS).await;
    assert!(
        got.lock()
            .expect("lock")
            .iter()
            .any(|(_, b)| b.contains("MessageStatus=delivered")),
        "the service's StatusCallback is called"
    );

    let listed = call(
        &api,
        &s,
        Method::GET,
        &format!("/v1/Services/{mg}/PhoneNumbers"),
        &[],
    )
    .await;
    assert_eq!(numbers_of(&listed.json, "phone_numbers"), ["+13125550100"]);
    let services = call(&api, &s, Method::GET, "/v1/Services", &[("PageSize", "1")]).await;
    assert_eq!(services.json["services"][0]["sid"], other.as_str());
    assert!(
        services.json["meta"]["next_page_url"].is_string(),
        "{}",
        services.json
    );

    let r = call(
        &api,
        &s,
        Method::POST,
        &format!("/v1/Services/{mg}"),
        &[("FriendlyName", "Renamed"), ("ValidityPeriod", "600")],
    )
    .await;
    assert_eq!(r.json["friendly_name"], "Renamed");
    assert_eq!(r.json["validity_period"], 600);
    refused(
        &call(
            &api,
            &s,
            Method::POST,
            &format!("/v1/Services/{mg}"),
            &[("ValidityPeriod", "0")],
        )
        .await,
        400,
        20001,
    );

    // Deleting the service frees its number for another.
    let r = call(&api, &s, Method::DELETE, &format!("/v1/Services/{mg}"), &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    refused(
        &call(&api, &s, Method::GET, &format!("/v1/Services/{mg}"), &[]).await,
        404,
        20404,
    );
    let r = add(other.clone(), pn.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let r = call(
        &api,
        &s,
        Method::DELETE,
        &format!("/v1/Services/{other}/PhoneNumbers/{pn}"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    refused(
        &call(
            &api,
            &s,
            Method::GET,
            &format!("/v1/Services/{other}/PhoneNumbers/{pn}"),
            &[],
        )
        .await,
        404,
        20404,
    );
}

/// Reset puts the seed's numbers back: what was bought and the services
/// made are gone.
#[tokio::test]
async fn reset_returns_bought_numbers_and_drops_services() {
    let api = Api::new();
    let s = session(&api, None).await;
    buy(&api, &s, &[("AreaCode", "617")]).await;
    call(
        &api,
        &s,
        Method::POST,
        "/v1/Services",
        &[("FriendlyName", "A")],
    )
    .await;
    let r = api
        .control(Method::POST, &format!("/v1/sessions/{}/reset", s.id), None)
        .await;
    assert!(r.status.is_success(), "{}", r.json);
    let page = call(
        &api,
        &s,
        Method::GET,
        &s.account("/IncomingPhoneNumbers.json"),
        &[],
    )
    .await;
    assert_eq!(
        numbers_of(&page.json, "incoming_phone_numbers"),
        ["+15005550006"]
    );
    let services = call(&api, &s, Method::GET, "/v1/Services", &[]).await;
    assert_eq!(services.json["services"], json!([]));
}
