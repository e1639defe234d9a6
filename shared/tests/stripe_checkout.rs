//! The billing pages a browser opens. Checkout Sessions: made through the
//! API, paid through Mirra's helper and through the hosted page (its form
//! posts, the 3-D Secure round trip, the redirects), in each mode, and
//! expired. The customer portal: its subscriptions canceled, kept and switched.

mod support;

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

#[tokio::test]
async fn a_payment_session_paid_by_the_helper_completes_with_its_payment_intent() {
    let t = T::new().await;
    let price = t.price(2500, false).await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!("mode=payment&success_url={}&line_items[0][price]={price}&line_items[0][quantity]=2&customer_creation=always&metadata[order]=42", urlencode(OK_URL)),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    assert!(id.starts_with("cs_test_"));
    assert_eq!(
        (
            s["status"].as_str(),
            s["payment_status"].as_str(),
            s["amount_total"].as_i64()
        ),
        (Some("open"), Some("unpaid"), Some(5000))
    );
    assert!(
        s.get("line_items").is_none(),
        "line items only when expanded"
    );
    let items = t
        .got(&format!("/v1/checkout/sessions/{id}/line_items"))
        .await;
    assert_eq!(
        (
            items["data"][0]["quantity"].as_i64(),
            items["data"][0]["amount_total"].as_i64()
        ),
        (Some(2), Some(5000))
    );
    let expanded = t
        .got(&format!("/v1/checkout/sessions/{id}?expand[]=line_items"))
        .await;
    assert_eq!(
        expanded["line_items"]["data"][0]["price"]["id"],
        price.as_str()
    );

    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa&email=buyer@example.com",
        )
        .await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    assert_eq!(done["customer_details"]["email"], "buyer@example.com");
    let pi = t
        .got(&format!(
            "/v1/payment_intents/{}",
            done["payment_intent"].as_str().expect("pi")
        ))
        .await;
    assert_eq!(
        (pi["status"].as_str(), pi["amount"].as_i64()),
        (Some("succeeded"), Some(5000))
    );
    assert_eq!(pi["customer"], done["customer"]);
    assert!(t
        .types()
        .await
        .contains(&"checkout.session.completed".to_string()));
    let again =
        t.m.post(
            &t.s,
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(
        again.status.as_u16(),
        400,
        "a complete session cannot be paid again"
    );
}

#[tokio::test]
async fn the_hosted_page_takes_a_card_shows_a_decline_and_sends_the_browser_to_success_url() {
    let t = T::new().await;
    let price = t.price(1999, false).await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "success_url={}&cancel_url=https://app.example/cart&line_items[0][price]={price}",
                urlencode(OK_URL)
            ),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let shown = t.browse(Method::GET, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.html.contains("$19.99")
            && shown.html.contains(">Pay<")
            && shown.html.contains("https://app.example/cart"),
        "{}",
        shown.html
    );

    let declined = t
        .browse(Method::POST, &path, Some("email=a%40example.com&number=4000+0000+0000+0002&exp_month=12&exp_year=2034&cvc=123"))
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        declined.html.contains("Your card was declined."),
        "{}",
        declined.html
    );
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["status"],
        "open"
    );

    let paid = t
        .browse(Method::POST, &path, Some("email=a%40example.com&number=4242+4242+4242+4242&exp_month=12&exp_year=2034&cvc=123"))
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER);
    assert_eq!(paid.location, format!("https://app.example/ok?cs={id}"));
    let done = t.got(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    assert_eq!(
        done["customer"],
        Value::Null,
        "a guest: no customer made by default"
    );
    let back = t.browse(Method::GET, &path, None).await;
    assert_eq!(
        back.location,
        format!("https://app.example/ok?cs={id}"),
        "a complete session's page goes on"
    );
}

#[tokio::test]
async fn three_d_secure_on_the_page_goes_through_the_challenge_and_back() {
    let t = T::new().await;
    let price = t.price(3000, false).await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "success_url={}&line_items[0][price]={price}",
                urlencode(OK_URL)
            ),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let challenged = t
        .browse(
            Method::POST,
            &path,
            Some("number=4000002500003155&exp_month=12&exp_year=2034&cvc=123"),
        )
        .await;
    assert_eq!(
        challenged.status,
        StatusCode::SEE_OTHER,
        "{}",
        challenged.html
    );
    assert!(
        challenged.location.contains("/_mirra/3ds/pi_"),
        "{}",
        challenged.location
    );
    let challenge = &challenged.location[challenged.location.find("/_mirra/").expect("3ds")..];
    let (challenge_path, query) = challenge.split_once('?').expect("query");
    let authenticated = t
        .browse(
            Method::POST,
            challenge_path,
            Some(&format!("{query}&outcome=complete")),
        )
        .await;
    assert_eq!(
        authenticated.status,
        StatusCode::SEE_OTHER,
        "{}",
        authenticated.html
    );
    assert!(
        authenticated
            .location
            .contains(&format!("/_mirra/checkout/{id}/return")),
        "{}",
        authenticated.location
    );
    let returned =
        &authenticated.location[authenticated.location.find("/_mirra/").expect("return")..];
    let landed = t.browse(Method::GET, returned, None).await;
    assert_eq!(landed.location, format!("https://app.example/ok?cs={id}"));
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["payment_status"],
        "paid"
    );
}

#[tokio::test]
async fn subscription_mode_subscribes_a_new_customer_with_the_card() {
    let t = T::new().await;
    let price = t.price(1200, true).await;
    t.ok("/v1/coupons", "id=HALF&percent_off=50&duration=once")
        .await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!("mode=subscription&success_url={}&line_items[0][price]={price}&customer_email=sub%40example.com&discounts[0][coupon]=HALF&subscription_data[metadata][plan]=pro", urlencode(OK_URL)),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    assert_eq!(s["amount_total"], 600);
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(
        (done["status"].as_str(), done["payment_status"].as_str()),
        (Some("complete"), Some("paid"))
    );
    let sub = t
        .got(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            done["subscription"].as_str().expect("subscription")
        ))
        .await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["metadata"]["plan"], "pro");
    assert_eq!(
        sub["latest_invoice"]["amount_paid"], 600,
        "the coupon applied"
    );
    assert!(sub["default_payment_method"]
        .as_str()
        .is_some_and(|p| p.starts_with("pm_")));
    let customer = t
        .got(&format!(
            "/v1/customers/{}",
            done["customer"].as_str().expect("customer")
        ))
        .await;
    assert_eq!(customer["email"], "sub@example.com");
    assert_eq!(t.got("/v1/coupons/HALF").await["times_redeemed"], 1);
}

#[tokio::test]
async fn a_declined_card_in_subscription_mode_leaves_no_subscription() {
    let t = T::new().await;
    // The session's seed has customers of its own.
    let seeded = t.got("/v1/customers?limit=100").await["data"]
        .as_array()
        .map_or(0, Vec::len);
    let price = t.price(1200, true).await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "mode=subscription&success_url={}&line_items[0][price]={price}",
                urlencode(OK_URL)
            ),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    let r =
        t.m.post(
            &t.s,
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_chargeDeclined",
        )
        .await;
    assert_eq!(r.status.as_u16(), 402, "{}", r.json);
    let subs = t.got("/v1/subscriptions?status=all").await;
    assert_eq!(subs["data"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{id}")).await["status"],
        "open"
    );
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/checkout/sessions/{id}/complete"),
            "payment_method=pm_card_visa",
        )
        .await;
    let customers = t.got("/v1/customers?limit=100").await;
    assert_eq!(
        customers["data"].as_array().map(Vec::len),
        Some(seeded + 1),
        "the declined try made no second customer"
    );
    assert_eq!(customers["data"][0]["id"], done["customer"]);
    let sub = t
        .got(&format!(
            "/v1/subscriptions/{}",
            done["subscription"].as_str().expect("sub")
        ))
        .await;
    assert_eq!(
        done["invoice"], sub["latest_invoice"],
        "the session names the first invoice"
    );
}

#[tokio::test]
async fn setup_mode_saves_the_card_for_the_customer() {
    let t = T::new().await;
    let c = t.ok("/v1/customers", "email=saver@example.com").await;
    let customer = c["id"].as_str().expect("customer");
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "mode=setup&currency=usd&customer={customer}&success_url={}",
                urlencode(OK_URL)
            ),
        )
        .await;
    assert_eq!(
        (s["payment_status"].as_str(), s["amount_total"].as_i64()),
        (Some("no_payment_required"), None)
    );
    let done = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/checkout/sessions/{}/complete",
                s["id"].as_str().expect("id")
            ),
            "payment_method=pm_card_mastercard",
        )
        .await;
    assert_eq!(done["status"], "complete");
    let si = t
        .got(&format!(
            "/v1/setup_intents/{}",
            done["setup_intent"].as_str().expect("si")
        ))
        .await;
    assert_eq!(si["status"], "succeeded");
    let pms = t
        .got(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    assert_eq!(pms["data"][0]["card"]["brand"], "mastercard");
}

#[tokio::test]
async fn sessions_expire_when_asked_and_after_their_time() {
    let t = T::new().await;
    let price = t.price(500, false).await;
    let body = format!(
        "success_url={}&line_items[0][price]={price}",
        urlencode(OK_URL)
    );
    let make = || t.ok("/v1/checkout/sessions", &body);
    let first = make().await;
    let first_id = first["id"].as_str().expect("id");
    let expired = t
        .ok(&format!("/v1/checkout/sessions/{first_id}/expire"), "")
        .await;
    assert_eq!(expired["status"], "expired");
    let again =
        t.m.post(
            &t.s,
            &format!("/v1/checkout/sessions/{first_id}/expire"),
            "",
        )
        .await;
    assert_eq!(again.status.as_u16(), 400);
    let page = t.browse(Method::GET, &T::page_of(&first), None).await;
    assert_eq!(page.status, StatusCode::GONE);

    let second = make().await;
    let second_id = second["id"].as_str().expect("id");
    let dispatcher = Arc::new(Dispatcher::new(t.m.sessions.clone()));
    t.clock.advance_ms(24 * 3600 * 1000 - 1000);
    dispatcher.sweep().await.expect("sweep");
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{second_id}")).await["status"],
        "open"
    );
    t.clock.advance_ms(1000);
    dispatcher.sweep().await.expect("sweep");
    assert_eq!(
        t.got(&format!("/v1/checkout/sessions/{second_id}")).await["status"],
        "expired"
    );
    assert_eq!(
        t.types()
            .await
            .iter()
            .filter(|k| *k == "checkout.session.expired")
            .count(),
        2
    );
    let list = t.got("/v1/checkout/sessions?status=expired").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_customer_portal_cancels_keeps_and_switches_a_subscription() {
    let t = T::new().await;
    let basic = t.price(1000, true).await;
    let pro = t.price(3000, true).await;
    let c = t.ok("/v1/customers", "payment_method=pm_card_visa").await;
    let customer = c["id"].as_str().expect("customer");
    let pm = t
        .got(&format!("/v1/customers/{customer}/payment_methods"))
        .await;
    let pm = pm["data"][0]["id"].as_str().expect("pm");
    let sub = t
        .ok(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={basic}&default_payment_method={pm}"),
        )
        .await;
    let sub_id = sub["id"].as_str().expect("sub");
    let other = t.ok("/v1/customers", "").await;
    let portal = t
        .ok(
            "/v1/billing_portal/sessions",
            &format!("customer={customer}&return_url=https://app.example/account"),
        )
        .await;
    assert!(portal["id"].as_str().is_some_and(|i| i.starts_with("bps_")));
    assert!(portal["configuration"]
        .as_str()
        .is_some_and(|c| c.starts_with("bpc_")));
    let path = T::page_of(&portal);
    let shown = t.browse(Method::GET, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.html.contains("$10.00 / month")
            && shown.html.contains("$30.00 / month")
            && shown.html.contains("https://app.example/account"),
        "{}",
        shown.html
    );

    let canceled = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("subscription={sub_id}&action=cancel")),
        )
        .await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.got(&format!("/v1/subscriptions/{sub_id}")).await["cancel_at_period_end"],
        true
    );
    assert!(t
        .browse(Method::GET, &path, None)
        .await
        .html
        .contains("cancels at the end of the period"));
    t.browse(
        Method::POST,
        &path,
        Some(&format!("subscription={sub_id}&action=renew")),
    )
    .await;
    assert_eq!(
        t.got(&format!("/v1/subscriptions/{sub_id}")).await["cancel_at_period_end"],
        false
    );

    let switched = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("subscription={sub_id}&action=switch&price={pro}")),
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    let after = t.got(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(after["items"]["data"][0]["price"]["id"], pro.as_str());
    let pending = t
        .got(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await;
    assert_eq!(
        pending["data"].as_array().map(Vec::len),
        Some(2),
        "prorated, as the portal's default"
    );
    assert!(
        t.types()
            .await
            .iter()
            .filter(|k| *k == "customer.subscription.updated")
            .count()
            >= 3
    );

    let refused = t
        .browse(
            Method::POST,
            &path,
            Some(&format!(
                "subscription={sub_id}&action=switch&price={basic}x"
            )),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let others = t
        .ok(
            "/v1/billing_portal/sessions",
            &format!("customer={}", other["id"].as_str().expect("other")),
        )
        .await;
    let theirs = T::page_of(&others);
    assert!(t
        .browse(Method::GET, &theirs, None)
        .await
        .html
        .contains("No current subscriptions."));
    let foreign = t
        .browse(
            Method::POST,
            &theirs,
            Some(&format!("subscription={sub_id}&action=cancel")),
        )
        .await;
    assert_eq!(
        foreign.status,
        StatusCode::NOT_FOUND,
        "another customer's subscription"
    );
    let missing =
        t.m.post(&t.s, "/v1/billing_portal/sessions", "customer=cus_nope")
            .await;
    assert_eq!(missing.status.as_u16(), 400);
}

#[tokio::test]
async fn a_promotion_code_typed_on_the_page_discounts_the_payment() {
    let t = T::new().await;
    let price = t.price(4000, false).await;
    t.ok(
        "/v1/coupons",
        "id=TENOFF&amount_off=1000&currency=usd&duration=once",
    )
    .await;
    let promo = t
        .ok(
            "/v1/promotion_codes",
            "promotion[type]=coupon&promotion[coupon]=TENOFF&code=SPRING",
        )
        .await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "success_url={}&line_items[0][price]={price}&allow_promotion_codes=true",
                urlencode(OK_URL)
            ),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    assert!(t
        .browse(Method::GET, &path, None)
        .await
        .html
        .contains("id=\"promotion_code\""));
    let card = "number=4242424242424242&exp_month=12&exp_year=2034&cvc=123";
    let wrong = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("{card}&promotion_code=WINTER")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.html.contains("This code is invalid"),
        "{}",
        wrong.html
    );
    let paid = t
        .browse(
            Method::POST,
            &path,
            Some(&format!("{card}&promotion_code=spring")),
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.html);
    let done = t.got(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(
        (
            done["amount_total"].as_i64(),
            done["total_details"]["amount_discount"].as_i64()
        ),
        (Some(3000), Some(1000))
    );
    assert_eq!(done["discounts"][0]["promotion_code"], promo["id"]);
    let pi = t
        .got(&format!(
            "/v1/payment_intents/{}",
            done["payment_intent"].as_str().expect("pi")
        ))
        .await;
    assert_eq!(pi["amount"], 3000);
    assert_eq!(
        t.got(&format!(
            "/v1/promotion_codes/{}",
            promo["id"].as_str().expect("promo")
        ))
        .await["times_redeemed"],
        1
    );
    let plain = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "success_url={}&line_items[0][price]={price}",
                urlencode(OK_URL)
            ),
        )
        .await;
    let r =
        t.m.post(
            &t.s,
            &format!(
                "/v1/test_helpers/mirra/checkout/sessions/{}/complete",
                plain["id"].as_str().expect("id")
            ),
            "payment_method=pm_card_visa&promotion_code=SPRING",
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        400,
        "a session without allow_promotion_codes takes none"
    );
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

#[tokio::test]
async fn retries_after_a_decline_or_a_failed_challenge_reuse_the_intent_and_the_subscription() {
    let t = T::new().await;
    let once = t.price(2000, false).await;
    let s = t
        .ok(
            "/v1/checkout/sessions",
            &format!(
                "success_url={}&line_items[0][price]={once}",
                urlencode(OK_URL)
            ),
        )
        .await;
    let id = s["id"].as_str().expect("id");
    let path = T::page_of(&s);
    let card = |n: &str| format!("number={n}&exp_month=12&exp_year=2034&cvc=123");
    let declined = t
        .browse(Method::POST, &path, Some(&card("4000000000000002")))
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    let asked = t
        .browse(Method::POST, &path, Some(&card("4000002500003155")))
        .await;
    let back = challenge(&t, &asked, "fail").await;
    let shown = t.browse(Method::GET, &back, None).await;
    assert!(
        shown.html.contains("authentication failed"),
        "{}",
        shown.html
    );
    // The form on the return page posts to it: paying from there works.
    let paid = t
        .browse(Method::POST, &back, Some(&card("4242424242424242")))
        .await;
    assert_eq!(
        paid.location,
        format!("https://app.example/ok?cs={id}"),
        "{}",
        paid.html
    );
    let pis = t.got("/v1/payment_intents?limit=10").await;
    assert_eq!(
        pis["data"].as_array().map(Vec::len),
        Some(1),
        "one PaymentIntent for the session"
    );
    assert_eq!(pis["data"][0]["status"], "succeeded");

    let monthly = t.price(1500, true).await;
    let s = t
        .ok("/v1/checkout/sessions", &format!("mode=subscription&customer_email=x%40example.com&success_url={}&line_items[0][price]={monthly}", urlencode(OK_URL)))
        .await;
    let path = T::page_of(&s);
    let asked = t
        .browse(Method::POST, &path, Some(&card("4000002500003155")))
        .await;
    let back = challenge(&t, &asked, "fail").await;
    let paid = t
        .browse(Method::POST, &back, Some(&card("4242424242424242")))
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.html);
    let subs = t.got("/v1/subscriptions?status=all").await;
    assert_eq!(
        subs["data"].as_array().map(Vec::len),
        Some(1),
        "one subscription, paid on the retry"
    );
    assert_eq!(subs["data"][0]["status"], "active");
}
