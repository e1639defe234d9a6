//! The Stripe mirror's payment methods and test cards, driven through its router
//! with `tower::ServiceExt::oneshot` as the API layer mounts it
//! (`/m/{session}/stripe`). Objects are checked against the fields of the API
//! version the SDKs pin (`generated/objects.json`, and the card hash of the SDKs'
//! types); errors against Stripe's error shape.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::mirrors::stripe::{self, Stripe};
use shared::session::{CreateSession, Door, Sessions, SystemClock};
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use tower::ServiceExt;

// ---------------------------------------------------------------- harness

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
    sessions: Arc<Sessions>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::in_memory().expect("session table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("object store");
    let sessions = Arc::new(Sessions::new(
        Arc::new(table),
        Arc::new(store),
        Arc::new(SystemClock),
        vec![Arc::new(Stripe)],
    ));
    let app = Router::new()
        .nest("/m/{session}/stripe", stripe::router())
        .with_state(Door::new(sessions.clone()))
        .layer(DefaultBodyLimit::max(1 << 20));
    Harness {
        _dir: dir,
        app,
        sessions,
    }
}

struct Ses {
    id: String,
    key: String,
}

struct Resp {
    status: StatusCode,
    json: Value,
}

impl Resp {
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        self.json
    }
}

impl Harness {
    async fn session(&self) -> Ses {
        let s = self
            .sessions
            .create("ws", CreateSession::default())
            .await
            .expect("create session");
        let key = s.mirrors["stripe"].credentials["secret_key"].clone();
        Ses { id: s.id, key }
    }

    async fn send(
        &self,
        s: &Ses,
        method: Method,
        path: &str,
        body: &str,
        idem: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("/m/{}/stripe{path}", s.id))
            .header("authorization", format!("Bearer {}", s.key));
        if method == Method::POST {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        let req = req.body(Body::from(body.to_string())).expect("request");
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        assert!(
            status.is_server_error() || status.is_success() || is_stripe_error(&json),
            "not a Stripe error ({status}): {json}"
        );
        assert!(!status.is_server_error(), "{status}: {json}");
        if status.is_success() {
            check_shape(&json);
        }
        Resp { status, json }
    }

    async fn get(&self, s: &Ses, path: &str) -> Resp {
        self.send(s, Method::GET, path, "", None).await
    }

    async fn post(&self, s: &Ses, path: &str, body: &str) -> Resp {
        self.send(s, Method::POST, path, body, None).await
    }

    async fn customer(&self, s: &Ses) -> String {
        let c = self.post(s, "/v1/customers", "name=Ada").await.ok();
        c["id"].as_str().expect("customer id").to_string()
    }

    /// A stored method made from `card[token]`.
    async fn method(&self, s: &Ses, token: &str) -> Value {
        self.post(
            s,
            "/v1/payment_methods",
            &format!("type=card&card[token]={token}"),
        )
        .await
        .ok()
    }

    async fn attach(&self, s: &Ses, pm: &str, customer: &str) -> Resp {
        self.post(
            s,
            &format!("/v1/payment_methods/{pm}/attach"),
            &format!("customer={customer}"),
        )
        .await
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id)
        .collect()
}

// ---------------------------------------------------------------- shapes

/// The payment method fields of the pinned version (generated from its types).
fn pinned_fields() -> BTreeSet<String> {
    let objects: Value =
        serde_json::from_str(include_str!("../src/mirrors/stripe/generated/objects.json"))
            .expect("objects.json");
    objects["objects"]["payment_method"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

/// `card` of the pinned version's PaymentMethod, without the fields Stripe sends
/// only to card issuers (`description`, `iin`, `issuer`).
const CARD_FIELDS: &[&str] = &[
    "brand",
    "checks",
    "country",
    "display_brand",
    "exp_month",
    "exp_year",
    "fingerprint",
    "funding",
    "generated_from",
    "last4",
    "networks",
    "regulated_status",
    "three_d_secure_usage",
    "wallet",
];

/// Every payment method in a response (itself, a list's items, an expanded
/// customer's default) has exactly the pinned version's fields for a card.
fn check_shape(v: &Value) {
    match v["object"].as_str() {
        Some("list") => v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(check_shape),
        Some("customer") => check_shape(&v["invoice_settings"]["default_payment_method"]),
        Some("payment_method") => check_method(v),
        _ => {}
    }
}

fn check_method(v: &Value) {
    let pinned = pinned_fields();
    let keys: BTreeSet<String> = v.as_object().expect("object").keys().cloned().collect();
    let extra: Vec<_> = keys.difference(&pinned).collect();
    assert!(
        extra.is_empty(),
        "fields not in the pinned version: {extra:?}\n{v:#}"
    );
    for required in [
        "id",
        "object",
        "allow_redisplay",
        "billing_details",
        "card",
        "created",
        "customer",
        "customer_account",
        "livemode",
        "metadata",
        "type",
    ] {
        assert!(keys.contains(required), "missing {required}: {v:#}");
    }
    let card: BTreeSet<&str> = v["card"]
        .as_object()
        .expect("card")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(card, CARD_FIELDS.iter().copied().collect(), "{v:#}");
    let billing: BTreeSet<&str> = v["billing_details"]
        .as_object()
        .expect("billing_details")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        billing,
        ["address", "email", "name", "phone", "tax_id"]
            .into_iter()
            .collect()
    );
    let pm = v["id"].as_str().unwrap_or_default();
    assert!(
        pm.starts_with("pm_")
            && pm.len() == 27
            && pm[3..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{pm}"
    );
}

fn is_stripe_error(v: &Value) -> bool {
    let Some(e) = v["error"].as_object() else {
        return false;
    };
    let allowed = [
        "charge",
        "code",
        "decline_code",
        "doc_url",
        "message",
        "param",
        "payment_intent",
        "payment_method",
        "type",
    ];
    e.keys().all(|k| allowed.contains(&k.as_str()))
        && e["message"].is_string()
        && matches!(
            e["type"].as_str(),
            Some("invalid_request_error" | "card_error" | "idempotency_error" | "api_error")
        )
}

/// A card error expected for a token: (token, code, decline_code, message, param).
type Expected = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

/// Asserts a card error exactly (402, `card_error`, `doc_url` from `code`).
fn assert_card_error(
    r: &Resp,
    code: &str,
    decline_code: Option<&str>,
    message: &str,
    param: Option<&str>,
) {
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.json);
    let mut e = json!({
        "code": code,
        "doc_url": format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-")),
        "message": message,
        "type": "card_error",
    });
    if let Some(d) = decline_code {
        e["decline_code"] = d.into();
    }
    if let Some(p) = param {
        e["param"] = p.into();
    }
    assert_eq!(r.json, json!({ "error": e }));
}

/// Asserts an `invalid_request_error`'s status, message, code and param.
fn assert_invalid(
    r: &Resp,
    status: StatusCode,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) {
    assert_eq!(r.status, status, "{}", r.json);
    let e = &r.json["error"];
    assert_eq!(e["type"], "invalid_request_error", "{}", r.json);
    assert_eq!(e["message"], message, "{}", r.json);
    assert_eq!(e["code"].as_str(), code, "{}", r.json);
    assert_eq!(e["param"].as_str(), param, "{}", r.json);
}

fn this_year() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    shared::mirrors::stripe::cards::year_month(secs).0
}

// ---------------------------------------------------------------- create

/// A method made from `card[token]=tok_visa` is a full card method: Visa credit
/// from the US, last4 4242, this month next year, an unchecked CVC, a fingerprint.
#[tokio::test]
async fn create_from_a_token_returns_a_full_card_method() {
    let h = harness();
    let s = h.session().await;
    let pm = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[token]=tok_visa&billing_details[name]=Jenny+Rosen&metadata[order]=6735",
        )
        .await
        .ok();
    let card = &pm["card"];
    assert_eq!(pm["object"], "payment_method");
    assert_eq!(pm["type"], "card");
    assert_eq!(pm["customer"], Value::Null);
    assert_eq!(pm["livemode"], false);
    assert_eq!(pm["allow_redisplay"], "unspecified");
    assert_eq!(pm["metadata"], json!({"order": "6735"}));
    assert_eq!(pm["billing_details"]["name"], "Jenny Rosen");
    assert_eq!(pm["billing_details"]["address"]["city"], Value::Null);
    assert_eq!(
        (
            &card["brand"],
            &card["display_brand"],
            &card["funding"],
            &card["country"],
            &card["last4"]
        ),
        (
            &json!("visa"),
            &json!("visa"),
            &json!("credit"),
            &json!("US"),
            &json!("4242")
        )
    );
    assert_eq!(card["exp_year"], this_year() + 1);
    assert!((1..=12).contains(&card["exp_month"].as_i64().unwrap_or(0)));
    assert_eq!(
        card["checks"],
        json!({"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "unchecked"})
    );
    assert_eq!(
        card["networks"],
        json!({"available": ["visa"], "preferred": null})
    );
    assert_eq!(card["three_d_secure_usage"], json!({"supported": true}));
    assert_eq!(card["wallet"], Value::Null);
    let fp = card["fingerprint"].as_str().expect("fingerprint");
    assert!(
        fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{fp}"
    );
}

/// Card numbers carry the catalogue's brand, funding and issuing country; a
/// number without a CVC has no CVC check; co-branded cards list both networks.
#[tokio::test]
async fn create_from_a_number_reports_brand_funding_and_country() {
    let h = harness();
    let s = h.session().await;
    let y = this_year() + 2;
    let make = |number: &str, extra: &str| {
        format!("type=card&card[number]={number}&card[exp_month]=7&card[exp_year]={y}{extra}")
    };
    let debit = h
        .post(
            &s,
            "/v1/payment_methods",
            &make("4000056655665556", "&card[cvc]=123"),
        )
        .await
        .ok();
    assert_eq!(debit["card"]["funding"], "debit");
    assert_eq!(
        (
            debit["card"]["exp_month"].as_i64(),
            debit["card"]["exp_year"].as_i64()
        ),
        (Some(7), Some(y))
    );
    assert_eq!(debit["card"]["checks"]["cvc_check"], "unchecked");

    let amex = h
        .post(&s, "/v1/payment_methods", &make("378282246310005", ""))
        .await
        .ok();
    assert_eq!(amex["card"]["brand"], "amex");
    assert_eq!(amex["card"]["display_brand"], "american_express");
    assert_eq!(amex["card"]["three_d_secure_usage"]["supported"], false);
    assert_eq!(amex["card"]["checks"]["cvc_check"], Value::Null);
    assert_eq!(amex["card"]["last4"], "0005");

    let jcb = h
        .post(&s, "/v1/payment_methods", &make("3566002020360505", ""))
        .await
        .ok();
    assert_eq!(
        (&jcb["card"]["brand"], &jcb["card"]["country"]),
        (&json!("jcb"), &json!("JP"))
    );

    let fr = h
        .post(&s, "/v1/payment_methods", &make("4000002500003155", ""))
        .await
        .ok();
    assert_eq!(fr["card"]["country"], "FR");

    let cb = h
        .post(
            &s,
            "/v1/payment_methods",
            &make(
                "4000002500001001",
                "&card[networks][preferred]=cartes_bancaires",
            ),
        )
        .await
        .ok();
    assert_eq!(
        cb["card"]["networks"],
        json!({"available": ["cartes_bancaires", "visa"], "preferred": "cartes_bancaires"})
    );
    assert_eq!(cb["card"]["display_brand"], "cartes_bancaires");

    // A valid number outside the catalogue: a generic card of its IIN's brand.
    let mc = h
        .post(
            &s,
            "/v1/payment_methods",
            &make("5454545454545454", "&card[cvc]=321"),
        )
        .await
        .ok();
    assert_eq!(
        (&mc["card"]["brand"], &mc["card"]["last4"]),
        (&json!("mastercard"), &json!("5454"))
    );
    // Two-digit years are read as Stripe reads them.
    let short = h
        .post(
            &s,
            "/v1/payment_methods",
            &format!(
                "type=card&card[number]=4242424242424242&card[exp_month]=1&card[exp_year]={}",
                (y % 100)
            ),
        )
        .await
        .ok();
    assert_eq!(short["card"]["exp_year"], y);
}

/// A fingerprint names a card number within a session: the same for a token and
/// its number, different for another number and in another session.
#[tokio::test]
async fn fingerprints_are_stable_per_number_and_differ_between_sessions() {
    let h = harness();
    let s = h.session().await;
    let other = h.session().await;
    let fp = |v: &Value| v["card"]["fingerprint"].as_str().expect("fp").to_string();
    let y = this_year() + 1;
    let by_number = h
        .post(
            &s,
            "/v1/payment_methods",
            &format!(
                "type=card&card[number]=4242424242424242&card[exp_month]=3&card[exp_year]={y}"
            ),
        )
        .await
        .ok();
    let by_token = h.method(&s, "tok_visa").await;
    let again = h.method(&s, "tok_visa").await;
    let mastercard = h.method(&s, "tok_mastercard").await;
    let elsewhere = h.method(&other, "tok_visa").await;
    assert_ne!(id(&by_token), id(&again));
    assert_eq!(fp(&by_number), fp(&by_token));
    assert_eq!(fp(&by_token), fp(&again));
    assert_ne!(fp(&by_token), fp(&mastercard));
    assert_ne!(fp(&by_token), fp(&elsewhere));
}

/// Wrong numbers, expiries and CVCs are Stripe's 402 card errors; missing and
/// unsupported parameters its 400s. Nothing is stored for any of them.
#[tokio::test]
async fn bad_card_details_get_stripes_card_errors() {
    let h = harness();
    let s = h.session().await;
    let y = this_year() + 1;
    let with = |number: &str, month: &str, year: &str, cvc: &str| {
        let mut b = format!(
            "type=card&card[number]={number}&card[exp_month]={month}&card[exp_year]={year}"
        );
        if !cvc.is_empty() {
            b.push_str(&format!("&card[cvc]={cvc}"));
        }
        b
    };
    let ys = y.to_string();
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424241", "1", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "incorrect_number",
        None,
        "Your card number is incorrect.",
        Some("number"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("42424242abc", "1", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_number",
        None,
        "The card number is not a valid credit card number.",
        Some("number"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "13", &ys, ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_expiry_month",
        None,
        "Your card's expiration month is invalid.",
        Some("exp_month"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "1", "95", ""),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_expiry_year",
        None,
        "Your card's expiration year is invalid.",
        Some("exp_year"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            &with("4242424242424242", "1", &ys, "99"),
        )
        .await;
    assert_card_error(
        &r,
        "invalid_cvc",
        None,
        "Your card's security code is invalid.",
        Some("cvc"),
    );

    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[number]=4242424242424242&card[exp_year]=2040",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: card[exp_month].",
        Some("card[exp_month]"),
    );
    let r = h
        .post(&s, "/v1/payment_methods", "card[token]=tok_visa")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: type.",
        Some("type"),
    );
    let r = h.post(&s, "/v1/payment_methods", "type=card").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: card.",
        Some("card"),
    );
    let r = h
        .post(&s, "/v1/payment_methods", "type=card&card[token]=tok_nope")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such token: 'tok_nope'",
        Some("card[token]"),
    );
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=sepa_debit&sepa_debit[iban]=DE89370400440532013000",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("not supported by this Stripe mirror"));
    let r = h
        .post(
            &s,
            "/v1/payment_methods",
            "type=card&card[token]=tok_visa&bogus=1",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: bogus",
        Some("bogus"),
    );

    let list = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&list), Vec::<String>::new());
}

// ---------------------------------------------------------------- retrieve

/// A stored method retrieves as created; a `pm_card_*` name retrieves as a fresh,
/// unstored description of its card; unknown ids are Stripe's 404.
#[tokio::test]
async fn retrieve_returns_stored_methods_and_describes_test_tokens() {
    let h = harness();
    let s = h.session().await;
    let pm = h.method(&s, "tok_mastercard").await;
    let got = h
        .get(&s, &format!("/v1/payment_methods/{}", id(&pm)))
        .await
        .ok();
    assert_eq!(got, pm);

    let token = h
        .get(&s, "/v1/payment_methods/pm_card_visa_debit")
        .await
        .ok();
    assert_eq!(
        (&token["card"]["last4"], &token["card"]["funding"]),
        (&json!("5556"), &json!("debit"))
    );
    assert_ne!(token["id"], "pm_card_visa_debit");
    let again = h
        .get(&s, "/v1/payment_methods/pm_card_visa_debit")
        .await
        .ok();
    assert_ne!(again["id"], token["id"], "a retrieve stores nothing");
    assert_eq!(again["card"]["fingerprint"], token["card"]["fingerprint"]);
    let list = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&list), vec![id(&pm)]);

    for missing in ["pm_doesnotexist", "pm_card_doesnotexist"] {
        let r = h.get(&s, &format!("/v1/payment_methods/{missing}")).await;
        assert_invalid(
            &r,
            StatusCode::NOT_FOUND,
            Some("resource_missing"),
            &format!("No such PaymentMethod: '{missing}'"),
            Some("payment_method"),
        );
    }
}

/// `expand[]=customer` replaces an attached method's customer id by the customer.
#[tokio::test]
async fn a_methods_customer_expands() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = h.method(&s, "tok_visa").await;
    h.attach(&s, &id(&pm), &cus).await.ok();
    let got = h
        .get(
            &s,
            &format!("/v1/payment_methods/{}?expand[]=customer", id(&pm)),
        )
        .await
        .ok();
    assert_eq!(got["customer"]["id"], cus.as_str());
    assert_eq!(got["customer"]["object"], "customer");
}

// ---------------------------------------------------------------- attach / detach

/// Attaching sets the customer and runs the card's checks; attaching again to the
/// same customer changes nothing; another customer, a detached method, an unknown
/// customer or method are refused in Stripe's words.
#[tokio::test]
async fn attach_and_detach_follow_stripes_rules() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let pm = id(&h.method(&s, "tok_visa").await);

    let attached = h.attach(&s, &pm, &a).await.ok();
    assert_eq!(attached["customer"], a.as_str());
    assert_eq!(attached["card"]["checks"]["cvc_check"], "pass");
    assert_eq!(h.attach(&s, &pm, &a).await.ok(), attached);
    let r = h.attach(&s, &pm, &b).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "The payment method you provided has already been attached to a customer.",
        None,
    );

    let detached = h
        .post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    assert_eq!(detached["customer"], Value::Null);
    let r = h
        .post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await;
    assert_invalid(&r, StatusCode::BAD_REQUEST, None, "The payment method you provided is not attached to a customer so detachment is impossible.", None);
    let r = h.attach(&s, &pm, &b).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        None,
    );

    let fresh = id(&h.method(&s, "tok_visa").await);
    let r = h.attach(&s, &fresh, "cus_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h
        .post(&s, &format!("/v1/payment_methods/{fresh}/attach"), "")
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        "Missing required param: customer.",
        Some("customer"),
    );
    let r = h.attach(&s, "pm_nope", &a).await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("payment_method"),
    );
    let r = h.post(&s, "/v1/payment_methods/pm_nope/detach", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
}

/// Attaching a `pm_card_*` name stores a new method attached to the customer.
#[tokio::test]
async fn a_test_token_becomes_a_stored_method_when_attached() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = h.attach(&s, "pm_card_mastercard", &cus).await.ok();
    assert_ne!(pm["id"], "pm_card_mastercard");
    assert_eq!(
        (&pm["customer"], &pm["card"]["brand"]),
        (&json!(cus), &json!("mastercard"))
    );
    let got = h
        .get(&s, &format!("/v1/payment_methods/{}", id(&pm)))
        .await
        .ok();
    assert_eq!(got, pm);
    let list = h
        .get(&s, &format!("/v1/customers/{cus}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&list), vec![id(&pm)]);
}

/// Cards the issuer declines cannot be attached (Stripe checks them on attach)
/// and nothing is stored; `pm_card_chargeCustomerFail` attaches.
#[tokio::test]
async fn declined_cards_cannot_be_attached_but_charge_customer_fail_can() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let cases: &[Expected] = &[
        (
            "pm_card_chargeDeclined",
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
            None,
        ),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            Some("lost_card"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_chargeDeclinedStolenCard",
            "card_declined",
            Some("stolen_card"),
            "Your card was declined.",
            None,
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            Some("expired_card"),
            "Your card has expired.",
            Some("exp_month"),
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            Some("incorrect_cvc"),
            "Your card's security code is incorrect.",
            Some("cvc"),
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            Some("processing_error"),
            "An error occurred while processing your card. Try again in a little bit.",
            None,
        ),
    ];
    for (token, code, decline, message, param) in cases {
        let r = h.attach(&s, token, &cus).await;
        assert_card_error(&r, code, *decline, message, *param);
    }
    // A stored declined card is refused the same way and stays unattached.
    let stored = id(&h.method(&s, "tok_chargeDeclined").await);
    let r = h.attach(&s, &stored, &cus).await;
    assert_card_error(
        &r,
        "card_declined",
        Some("generic_decline"),
        "Your card was declined.",
        None,
    );
    let got = h
        .get(&s, &format!("/v1/payment_methods/{stored}"))
        .await
        .ok();
    assert_eq!(got["customer"], Value::Null);

    let fails_later = h.attach(&s, "pm_card_chargeCustomerFail", &cus).await.ok();
    assert_eq!(fails_later["card"]["last4"], "0341");
    let list = h
        .get(&s, &format!("/v1/customers/{cus}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&list), vec![id(&fails_later)]);
}

/// A card error is saved under its idempotency key like any other outcome.
#[tokio::test]
async fn a_card_error_replays_under_its_idempotency_key() {
    let h = harness();
    let s = h.session().await;
    let body = "type=card&card[number]=4242424242424241&card[exp_month]=1&card[exp_year]=2040";
    let first = h
        .send(&s, Method::POST, "/v1/payment_methods", body, Some("k-1"))
        .await;
    let again = h
        .send(&s, Method::POST, "/v1/payment_methods", body, Some("k-1"))
        .await;
    assert_eq!(first.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!((again.status, &again.json), (first.status, &first.json));
}

// ---------------------------------------------------------------- update

/// Only attached methods update; billing details, metadata, expiry and
/// `allow_redisplay` change with Stripe's semantics; a bad expiry is a card error.
#[tokio::test]
async fn update_changes_attached_methods_with_stripes_semantics() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let path = format!("/v1/payment_methods/{pm}");
    let r = h.post(&s, &path, "metadata[a]=1").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "You must save this PaymentMethod to a customer before you can update it.",
        None,
    );

    h.attach(&s, &pm, &cus).await.ok();
    let y = this_year() + 3;
    let up = h
        .post(
            &s,
            &path,
            &format!(
                "billing_details[name]=Ada&billing_details[email]=ada%40example.com\
                 &billing_details[address][city]=London&metadata[a]=1&metadata[b]=2\
                 &card[exp_month]=4&card[exp_year]={y}&allow_redisplay=always"
            ),
        )
        .await
        .ok();
    assert_eq!(up["billing_details"]["name"], "Ada");
    assert_eq!(up["billing_details"]["address"]["city"], "London");
    assert_eq!(up["metadata"], json!({"a": "1", "b": "2"}));
    assert_eq!(
        (
            up["card"]["exp_month"].as_i64(),
            up["card"]["exp_year"].as_i64()
        ),
        (Some(4), Some(y))
    );
    assert_eq!(up["allow_redisplay"], "always");

    let up = h
        .post(
            &s,
            &path,
            "billing_details[address][line1]=1+Pier&billing_details[email]=&metadata[a]=",
        )
        .await
        .ok();
    assert_eq!(up["billing_details"]["name"], "Ada", "absent fields stay");
    assert_eq!(
        up["billing_details"]["email"],
        Value::Null,
        "an empty value unsets"
    );
    assert_eq!(
        up["billing_details"]["address"],
        json!({"city": null, "country": null, "line1": "1 Pier", "line2": null, "postal_code": null, "state": null}),
        "the address is replaced as a whole"
    );
    assert_eq!(up["metadata"], json!({"b": "2"}));
    assert_eq!(h.get(&s, &path).await.ok(), up);

    let r = h.post(&s, &path, "card[exp_month]=13").await;
    assert_card_error(
        &r,
        "invalid_expiry_month",
        None,
        "Your card's expiration month is invalid.",
        Some("exp_month"),
    );
    let r = h
        .post(&s, "/v1/payment_methods/pm_nope", "metadata[a]=1")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- lists

/// Lists are newest first, filtered by customer (path or parameter), type and
/// `allow_redisplay`, paged with Stripe's cursors and envelope.
#[tokio::test]
async fn lists_filter_by_customer_and_type_and_page_newest_first() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let mut of_a = Vec::new();
    for token in ["pm_card_visa", "pm_card_mastercard", "pm_card_amex"] {
        of_a.push(id(&h.attach(&s, token, &a).await.ok()));
    }
    let of_b = id(&h.attach(&s, "pm_card_discover", &b).await.ok());
    let loose = id(&h.method(&s, "tok_jcb").await);
    of_a.reverse();

    let url = format!("/v1/customers/{a}/payment_methods");
    let all = h.get(&s, &url).await.ok();
    assert_eq!(ids(&all), of_a);
    assert_eq!(
        (&all["url"], &all["has_more"]),
        (&json!(url), &json!(false))
    );
    let page = h.get(&s, &format!("{url}?limit=2&type=card")).await.ok();
    assert_eq!(
        (ids(&page), &page["has_more"]),
        (of_a[..2].to_vec(), &json!(true))
    );
    let next = h
        .get(&s, &format!("{url}?limit=2&starting_after={}", of_a[1]))
        .await
        .ok();
    assert_eq!(ids(&next), of_a[2..].to_vec());
    let back = h
        .get(&s, &format!("{url}?ending_before={}", of_a[2]))
        .await
        .ok();
    assert_eq!(ids(&back), of_a[..2].to_vec());

    let by_param = h
        .get(&s, &format!("/v1/payment_methods?customer={a}&type=card"))
        .await
        .ok();
    assert_eq!(
        (ids(&by_param), &by_param["url"]),
        (of_a.clone(), &json!("/v1/payment_methods"))
    );
    let everything = h.get(&s, "/v1/payment_methods").await.ok();
    assert_eq!(ids(&everything).len(), 5);
    assert_eq!(ids(&everything)[0], loose);
    let b_list = h
        .get(&s, &format!("/v1/customers/{b}/payment_methods"))
        .await
        .ok();
    assert_eq!(ids(&b_list), vec![of_b]);
    let none = h
        .get(&s, &format!("{url}?allow_redisplay=always"))
        .await
        .ok();
    assert_eq!(ids(&none), Vec::<String>::new());
    let expanded = h
        .get(&s, &format!("{url}?limit=1&expand[]=data.customer"))
        .await
        .ok();
    assert_eq!(expanded["data"][0]["customer"]["id"], a.as_str());

    let r = h.get(&s, "/v1/customers/cus_nope/payment_methods").await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h.get(&s, "/v1/payment_methods?customer=cus_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("customer"),
    );
    let r = h.get(&s, &format!("{url}?starting_after=pm_nope")).await;
    assert_invalid(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("starting_after"),
    );
    let r = h.get(&s, &format!("{url}?type=bogus")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

// ---------------------------------------------------------------- customers

/// `invoice_settings[default_payment_method]` takes a method attached to that
/// customer, expands with `expand[]=invoice_settings.default_payment_method`, and
/// is unset when the method is detached.
#[tokio::test]
async fn a_customers_default_payment_method_must_be_attached_to_it() {
    let h = harness();
    let s = h.session().await;
    let (a, b) = (h.customer(&s).await, h.customer(&s).await);
    let pm = id(&h.method(&s, "tok_visa").await);
    let set = format!("invoice_settings[default_payment_method]={pm}");
    let msg = format!(
        "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
    );
    let r = h.post(&s, &format!("/v1/customers/{a}"), &set).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        &msg,
        Some("invoice_settings[default_payment_method]"),
    );
    let r = h
        .post(
            &s,
            &format!("/v1/customers/{a}"),
            "invoice_settings[default_payment_method]=pm_nope",
        )
        .await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("invoice_settings[default_payment_method]"),
    );

    h.attach(&s, &pm, &a).await.ok();
    let c = h.post(&s, &format!("/v1/customers/{a}"), &set).await.ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], pm.as_str());
    let r = h.post(&s, &format!("/v1/customers/{b}"), &set).await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        &msg,
        Some("invoice_settings[default_payment_method]"),
    );

    let c = h
        .get(
            &s,
            &format!("/v1/customers/{a}?expand[]=invoice_settings.default_payment_method"),
        )
        .await
        .ok();
    assert_eq!(
        c["invoice_settings"]["default_payment_method"]["id"],
        pm.as_str()
    );
    assert_eq!(
        c["invoice_settings"]["default_payment_method"]["card"]["last4"],
        "4242"
    );

    h.post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    let c = h.get(&s, &format!("/v1/customers/{a}")).await.ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], Value::Null);
}

/// `payment_method` on customer create attaches it (and it may be the default);
/// a declined card fails the create and leaves no customer behind.
#[tokio::test]
async fn customer_create_attaches_its_payment_method() {
    let h = harness();
    let s = h.session().await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let c = h
        .post(
            &s,
            "/v1/customers",
            &format!(
                "email=a%40b.co&payment_method={pm}&invoice_settings[default_payment_method]={pm}"
            ),
        )
        .await
        .ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], pm.as_str());
    assert!(c.get("payment_method").is_none(), "{c}");
    let got = h.get(&s, &format!("/v1/payment_methods/{pm}")).await.ok();
    assert_eq!(got["customer"], c["id"]);

    let by_token = h
        .post(
            &s,
            "/v1/customers",
            "email=t%40b.co&payment_method=pm_card_mastercard",
        )
        .await
        .ok();
    let list = h
        .get(
            &s,
            &format!("/v1/customers/{}/payment_methods", id(&by_token)),
        )
        .await
        .ok();
    assert_eq!(list["data"][0]["card"]["brand"], "mastercard");

    let before = h.get(&s, "/v1/customers?limit=100").await.ok();
    let r = h
        .post(
            &s,
            "/v1/customers",
            "email=d%40b.co&payment_method=pm_card_chargeDeclined",
        )
        .await;
    assert_card_error(
        &r,
        "card_declined",
        Some("generic_decline"),
        "Your card was declined.",
        None,
    );
    let r = h.post(&s, "/v1/customers", "payment_method=pm_nope").await;
    assert_invalid(
        &r,
        StatusCode::BAD_REQUEST,
        Some("resource_missing"),
        "No such PaymentMethod: 'pm_nope'",
        Some("payment_method"),
    );
    let after = h.get(&s, "/v1/customers?limit=100").await.ok();
    assert_eq!(ids(&after), ids(&before));
}

/// Odd inputs to every payment-method operation get Stripe-shaped 4xx, never a 500.
#[tokio::test]
async fn odd_inputs_never_cause_a_500() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    let bodies = [
        "",
        "type=",
        "type=card&card=",
        "type=card&card[token]=",
        "type=card&card[token]=pm_card_visa",
        "type=card&card[number]=&card[exp_month]=1&card[exp_year]=2040",
        "type=card&card[number]=4242424242424242&card[exp_month]=-1&card[exp_year]=-1",
        "type=card&card[number]=4242424242424242&card[exp_month]=1&card[exp_year]=999999",
        "type=card&card[token]=tok_visa&card[number]=4242424242424242",
        "type=card&card[token]=tok_visa&card[networks][preferred]=mastercard",
        "type=card&card[token]=tok_visa&billing_details=",
        "type=card&card[token]=tok_visa&customer=cus_x",
        "type=card&card[token]=tok_visa&radar_options[session]=rse_1",
        "customer=",
        "card[exp_month]=abc",
        "billing_details[address]=",
        "metadata=",
    ];
    let paths = [
        "/v1/payment_methods".to_string(),
        format!("/v1/payment_methods/{pm}"),
        format!("/v1/payment_methods/{pm}/attach"),
        format!("/v1/payment_methods/{pm}/detach"),
        "/v1/payment_methods/pm_card_visa/attach".to_string(),
        "/v1/payment_methods/pm_card_visa/detach".to_string(),
        format!("/v1/customers/{cus}"),
    ];
    for path in &paths {
        for body in bodies {
            // `send` asserts no 5xx and a Stripe-shaped error body.
            h.post(&s, path, body).await;
        }
    }
    for q in [
        "?limit=0",
        "?limit=abc",
        "?customer=",
        "?type=",
        "?customer_account=x",
        "?expand[]=data.card",
    ] {
        h.get(&s, &format!("/v1/payment_methods{q}")).await;
        h.get(&s, &format!("/v1/customers/{cus}/payment_methods{q}"))
            .await;
    }
}

// ---------------------------------------------------------------- events

/// Attach, update and detach raise `payment_method.attached`, `.updated` and
/// `.detached` (with `previous_attributes`); detaching a customer's default also
/// raises `customer.updated`. Creating a method raises nothing, as on Stripe.
#[tokio::test]
async fn attach_update_and_detach_raise_payment_method_events() {
    let h = harness();
    let s = h.session().await;
    let cus = h.customer(&s).await;
    let pm = id(&h.method(&s, "tok_visa").await);
    h.attach(&s, &pm, &cus).await.ok();
    h.post(&s, &format!("/v1/payment_methods/{pm}"), "metadata[k]=v")
        .await
        .ok();
    h.post(
        &s,
        &format!("/v1/customers/{cus}"),
        &format!("invoice_settings[default_payment_method]={pm}"),
    )
    .await
    .ok();
    h.post(&s, &format!("/v1/payment_methods/{pm}/detach"), "")
        .await
        .ok();
    let events = h.get(&s, "/v1/events?limit=100").await.ok();
    let types: Vec<&str> = events["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "customer.updated",
            "payment_method.detached",
            "customer.updated",
            "payment_method.updated",
            "payment_method.attached",
            "customer.created"
        ]
    );
    let detached = &events["data"][1]["data"];
    assert_eq!(detached["object"]["id"], pm.as_str());
    assert_eq!(detached["object"]["customer"], Value::Null);
    assert_eq!(detached["previous_attributes"], json!({"customer": cus}));
    let updated = &events["data"][3]["data"];
    assert_eq!(
        updated["previous_attributes"],
        json!({"metadata": {"k": null}})
    );
    assert_eq!(
        events["data"][4]["data"]["object"]["customer"],
        cus.as_str()
    );
}
