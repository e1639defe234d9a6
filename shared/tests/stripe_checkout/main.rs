//! The billing pages a browser opens. Checkout Sessions: made through the
//! API, paid through Mirra's helper and through the hosted page (its form
//! posts, the 3-D Secure round trip, the redirects), in each mode, and
//! expired. The customer portal: its subscriptions canceled, kept and switched.

#[path = "../support/mod.rs"]
mod support;

mod modes;
mod payment;
mod portal;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::dispatch::Dispatcher;
use shared::session::{CreateSession, ManualClock};
use support::stripe::{Mirror, Ses};
use tower::ServiceExt;

struct T {
    m: Mirror,
    s: Ses,
    clock: Arc<ManualClock>,
}

/// What the page answered: status, `Location`, HTML.
struct Page {
    status: StatusCode,
    location: String,
    html: String,
}

impl T {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(1_767_225_600_000));
        let m = Mirror::with_clock(clock.clone());
        // Persistent: the manual clock moves a day, past any timeout.
        let s = m
            .session_with(CreateSession {
                persistent: true,
                name: Some("checkout".into()),
                ..CreateSession::default()
            })
            .await;
        T { m, s, clock }
    }

    async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.m.post(&self.s, path, body).await;
        assert_eq!(r.status.as_u16(), 200, "POST {path} {body}: {}", r.json);
        r.json
    }

    async fn got(&self, path: &str) -> Value {
        let r = self.m.get(&self.s, path).await;
        assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.json);
        r.json
    }

    /// A price of `amount` (`recurring`: monthly) for a product "Widget".
    async fn price(&self, amount: i64, recurring: bool) -> String {
        let product = self.ok("/v1/products", "name=Widget").await;
        let every = if recurring {
            "&recurring[interval]=month"
        } else {
            ""
        };
        let price = self
            .ok(
                "/v1/prices",
                &format!(
                    "product={}&currency=usd&unit_amount={amount}{every}",
                    product["id"].as_str().expect("product")
                ),
            )
            .await;
        price["id"].as_str().expect("price").to_string()
    }

    /// A Checkout Session with `params`, sending the browser to [`OK_URL`].
    async fn checkout(&self, params: &str) -> Value {
        let body = format!("success_url={}&{params}", urlencode(OK_URL));
        self.ok("/v1/checkout/sessions", &body).await
    }

    /// A browser's request to the session's page (`path` below it).
    async fn browse(&self, method: Method, path: &str, form: Option<&str>) -> Page {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/m/{}/stripe{path}", self.s.id));
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req
            .body(
                form.map(|f| Body::from(f.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        let res = self.m.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Page {
            status,
            location,
            html: String::from_utf8_lossy(&bytes).to_string(),
        }
    }

    /// The page path of a session (its `url` without the mirror's base).
    fn page_of(session: &Value) -> String {
        let url = session["url"].as_str().expect("url");
        url[url.find("/_mirra/").expect("page path")..].to_string()
    }

    async fn types(&self) -> Vec<String> {
        let page = self.got("/v1/events?limit=100").await;
        page["data"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

const OK_URL: &str = "https://app.example/ok?cs={CHECKOUT_SESSION_ID}";

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The 3-D Secure challenge's outcome `outcome`, taken from the page's
/// redirect; answers where the browser goes next (below the mirror).
async fn challenge(t: &T, to: &Page, outcome: &str) -> String {
    let at = &to.location[to.location.find("/_mirra/").expect("3ds")..];
    let (path, query) = at.split_once('?').expect("query");
    let done = t
        .browse(
            Method::POST,
            path,
            Some(&format!("{query}&outcome={outcome}")),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    done.location[done.location.find("/_mirra/").expect("back")..].to_string()
}
