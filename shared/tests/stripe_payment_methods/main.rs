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
    let objects: Value = serde_json::from_str(include_str!(
        "../../src/mirrors/stripe/generated/objects.json"
    ))
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

mod attach;
mod create;
mod customers;
mod events;
mod lists;
mod retrieve;
mod update;
