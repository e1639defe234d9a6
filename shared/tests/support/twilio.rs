//! Sessions of the Twilio mirror over the whole API (`shared::api::router`),
//! through `tower::ServiceExt::oneshot`: the harness of `support::resend`
//! (server, manual clock, dispatcher) with Twilio's Basic credentials and
//! form-encoded bodies.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub use super::resend::{Api, Resp};

/// One session with a Twilio mirror: its id and credentials.
pub struct Ses {
    pub id: String,
    pub sid: String,
    pub token: String,
    pub key_sid: String,
    pub key_secret: String,
}

impl Ses {
    /// `/2010-04-01/Accounts/{sid}` + `rest`.
    pub fn account(&self, rest: &str) -> String {
        format!("/2010-04-01/Accounts/{}{rest}", self.sid)
    }

    pub fn basic(&self) -> String {
        basic(&self.sid, &self.token)
    }
}

pub fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

/// Asserts Twilio's error body: this status and code, its four fields.
pub fn refused(r: &Resp, status: u16, code: u64) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    assert_eq!(r.json["code"], code, "{}", r.json);
    assert_eq!(r.json["status"], status, "{}", r.json);
    assert_eq!(
        r.json["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    let mut keys: Vec<&String> = r.json.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["code", "message", "more_info", "status"],
        "{}",
        r.json
    );
    r.json["message"].as_str().expect("message").to_string()
}

/// A session with the Twilio mirror and `seed` (`default` when `None`).
pub async fn session(api: &Api, seed: Option<&str>) -> Ses {
    let body = match seed {
        None => json!({"mirrors": ["twilio"]}),
        Some(s) => json!({"mirrors": ["twilio"], "seeds": {"twilio": s}}),
    };
    session_with(api, body).await
}

/// A session made with the control plane's `body` (which must include Twilio).
pub async fn session_with(api: &Api, body: Value) -> Ses {
    let r = api.control(Method::POST, "/v1/sessions", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
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

/// Twilio's signature scheme written out independently of the mirror's: the
/// URL, then each form parameter's name and value in name order, HMAC-SHA1
/// keyed with the auth token, base64.
pub fn signature(token: &str, url: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    pairs.sort();
    let mut data = url.to_string();
    for (k, v) in pairs {
        data.push_str(&k);
        data.push_str(&v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A form body's fields.
pub fn form_of(body: &str) -> std::collections::BTreeMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// A request to the session's mirror with its account credentials; `form`
/// is the body of a POST or the query of a GET / DELETE.
pub async fn call(api: &Api, s: &Ses, method: Method, path: &str, form: &[(&str, &str)]) -> Resp {
    let uri = format!("/m/{}/twilio{path}", s.id);
    raw(api, method, &uri, &s.basic(), form).await
}

/// Any request with `auth` as its `Authorization`.
pub async fn raw(api: &Api, method: Method, uri: &str, auth: &str, form: &[(&str, &str)]) -> Resp {
    let mut enc = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        enc.append_pair(k, v);
    }
    let encoded = enc.finish();
    let (uri, body) = if method == Method::POST {
        (uri.to_string(), Body::from(encoded))
    } else if encoded.is_empty() {
        (uri.to_string(), Body::empty())
    } else {
        (format!("{uri}?{encoded}"), Body::empty())
    };
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", auth)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .expect("request");
    let res = api.app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)))
    };
    Resp {
        status,
        headers,
        json,
    }
}

/// `POST Messages.json` from the magic number, asserting a 201; the message.
pub async fn send(api: &Api, s: &Ses, to: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![
        ("To", to),
        ("From", "+15005550006"),
        ("Body", "Your code is 123456"),
    ];
    form.extend_from_slice(extra);
    let r = call(api, s, Method::POST, &s.account("/Messages.json"), &form).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.json
}
