//! Payments on the Stripe mirror, driven through its router as the API layer
//! mounts it: PaymentIntents through every state of Stripe's status machine
//! (with the test-card catalogue's declines and 3-D Secure cards), charges and
//! their balance transactions, refunds, SetupIntents, the events each change
//! raises, and Mirra's 3-D Secure page and test helpers.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use support::stripe::{Mirror, Resp, Ses};
use tower::ServiceExt;

/// Card-only PaymentIntents confirm without a `return_url`.
const CARD: &str = "allowed_payment_method_types[]=card";

struct T {
    m: Mirror,
    s: Ses,
}

impl T {
    async fn new() -> Self {
        let m = Mirror::new();
        let s = m.session().await;
        T { m, s }
    }

    async fn post(&self, path: &str, body: &str) -> Resp {
        self.m.post(&self.s, path, body).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.m.get(&self.s, path).await
    }

    async fn ok(&self, path: &str, body: &str) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, StatusCode::OK, "POST {path} {body}: {}", r.json);
        r.json
    }

    async fn got(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.json);
        r.json
    }

    /// A confirmed card payment of `amount` with `pm` (and `extra` parameters).
    async fn pay(&self, amount: i64, pm: &str, extra: &str) -> Resp {
        self.post(
            "/v1/payment_intents",
            &format!("amount={amount}&currency=usd&{CARD}&payment_method={pm}&confirm=true{extra}"),
        )
        .await
    }

    async fn customer(&self) -> String {
        self.ok("/v1/customers", "email=ada@example.com").await["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// Every event's type since `after` events, oldest first.
    async fn events(&self) -> Vec<String> {
        let page = self.got("/v1/events?limit=100").await;
        let mut types: Vec<String> = page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect();
        types.reverse();
        types
    }

    /// The event types raised by `f`.
    async fn raised(&self, before: usize) -> Vec<String> {
        self.events().await.split_off(before)
    }

    /// A request a browser makes (no key): status, `Location`, body text.
    async fn browse(&self, method: Method, path: &str, body: &str) -> (StatusCode, String, String) {
        let req = Request::builder()
            .method(method)
            .uri(format!("/m/{}/stripe{path}", self.s.id))
            .header("host", "127.0.0.1:4400")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .expect("request");
        let res = self.m.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn error(r: &Resp) -> &Value {
    &r.json["error"]
}

// ---------------------------------------------------------------- payments

/// A confirmed card payment succeeds with a captured charge, its card details
/// and checks, and a balance transaction with Stripe's fee, raising Stripe's
/// events in Stripe's order.
#[tokio::test]
async fn a_card_payment_succeeds_with_a_charge_and_a_balance_transaction() {
    let t = T::new().await;
    let r = t
        .pay(
            2000,
            "pm_card_visa",
            "&description=Order%201&metadata[order]=1",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let pi = r.json;
    let pi_id = id(&pi);
    assert!(pi_id.starts_with("pi_"));
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(
        (
            pi["amount_received"].as_i64(),
            pi["amount_capturable"].as_i64()
        ),
        (Some(2000), Some(0))
    );
    assert!(pi["client_secret"]
        .as_str()
        .is_some_and(|c| c.starts_with(&format!("{pi_id}_secret_"))));
    assert_eq!(pi["capture_method"], "automatic_async");
    assert!(
        pi.get("charges").is_none(),
        "the pinned version has latest_charge"
    );
    assert!(pi["payment_method"]
        .as_str()
        .is_some_and(|p| p.starts_with("pm_") && p != "pm_card_visa"));
    let ch = pi["latest_charge"].as_str().expect("latest_charge");
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(charge["status"], "succeeded");
    assert_eq!(
        (charge["paid"].as_bool(), charge["captured"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(charge["amount_captured"], 2000);
    assert_eq!(charge["payment_intent"], pi_id.as_str());
    assert_eq!(charge["description"], "Order 1");
    assert_eq!(charge["metadata"]["order"], "1");
    assert_eq!(charge["outcome"]["type"], "authorized");
    assert_eq!(charge["outcome"]["network_status"], "approved_by_network");
    assert_eq!(charge["outcome"]["risk_level"], "normal");
    let card = &charge["payment_method_details"]["card"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    assert_eq!(card["checks"]["cvc_check"], "pass");
    assert!(charge["receipt_url"]
        .as_str()
        .is_some_and(|u| u.contains("/_mirra/receipts/")));
    let txn = charge["balance_transaction"]
        .as_str()
        .expect("balance transaction");
    let bt = t.got(&format!("/v1/balance_transactions/{txn}")).await;
    assert_eq!(
        (
            bt["amount"].as_i64(),
            bt["fee"].as_i64(),
            bt["net"].as_i64()
        ),
        (Some(2000), Some(88), Some(1912))
    );
    assert_eq!(
        (bt["type"].as_str(), bt["source"].as_str()),
        (Some("charge"), Some(ch))
    );
    assert_eq!(bt["status"], "pending");
    assert_eq!(bt["fee_details"][0]["type"], "stripe_fee");
    assert_eq!(
        t.events().await,
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "charge.updated"
        ]
    );
    // automatic_async: charge.succeeded came before its balance transaction.
    let updated = t.got("/v1/events?type=charge.updated").await;
    assert_eq!(
        updated["data"][0]["data"]["previous_attributes"]["balance_transaction"],
        Value::Null
    );
    let expanded = t
        .got(&format!(
            "/v1/payment_intents/{pi_id}?expand[]=latest_charge.balance_transaction"
        ))
        .await;
    assert_eq!(expanded["latest_charge"]["balance_transaction"]["id"], txn);
}

/// Without `confirm`, an intent walks requires_payment_method →
/// requires_confirmation → succeeded; automatic payment methods (the default)
/// need a `return_url` to confirm, as on Stripe.
#[tokio::test]
async fn an_intent_walks_the_status_machine_and_confirming_needs_a_return_url() {
    let t = T::new().await;
    // A refused confirmation refuses the create: nothing is made, with or
    // without an idempotency key.
    let body = "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true";
    let refused = t.post("/v1/payment_intents", body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    let keyed =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(body),
            &[("idempotency-key", "k")],
        )
        .await;
    assert_eq!(keyed.status, StatusCode::BAD_REQUEST, "{}", keyed.json);
    assert_eq!(
        t.got("/v1/payment_intents").await["data"],
        serde_json::json!([])
    );
    assert!(t.events().await.is_empty());
    let pi = t
        .ok("/v1/payment_intents", "amount=1500&currency=usd")
        .await;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_payment_method");
    assert_eq!(pi["automatic_payment_methods"]["enabled"], true);
    assert_eq!(pi["payment_method_types"], serde_json::json!(["card"]));
    let missing = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&missing)["code"], "payment_intent_unexpected_state");
    assert!(error(&missing)["message"]
        .as_str()
        .is_some_and(|m| m.contains("because it's missing a payment method")));
    let pi = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}"),
            "payment_method=pm_card_mastercard&amount=1800",
        )
        .await;
    assert_eq!(
        (pi["status"].as_str(), pi["amount"].as_i64()),
        (Some("requires_confirmation"), Some(1800))
    );
    let no_return = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(no_return.status, StatusCode::BAD_REQUEST);
    assert!(error(&no_return)["message"]
        .as_str()
        .is_some_and(|m| m.contains("you must provide a `return_url`")));
    let pi = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}/confirm"),
            "return_url=https://shop.example/done",
        )
        .await;
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount_received"], 1800);
    let small = t
        .post("/v1/payment_intents", "amount=20&currency=usd")
        .await;
    assert_eq!(error(&small)["code"], "amount_too_small");
    assert_eq!(
        error(&small)["message"],
        "Amount must be at least $0.50 usd"
    );
}

/// Every decline token answers 402 `card_error` with its code and
/// decline_code and the intent in the error; the intent is back in
/// requires_payment_method with `last_payment_error`, and a failed charge is
/// kept — without an idempotency key too.
#[tokio::test]
async fn every_decline_token_fails_with_its_code_and_keeps_a_failed_charge() {
    let t = T::new().await;
    let cases = [
        (
            "pm_card_chargeDeclined",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_visa_chargeDeclined",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            "lost_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedStolenCard",
            "card_declined",
            "stolen_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            "incorrect_cvc",
            "issuer_declined",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            "processing_error",
            "issuer_declined",
        ),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "card_declined",
            "card_velocity_exceeded",
            "issuer_declined",
        ),
        (
            "pm_card_chargeCustomerFail",
            "card_declined",
            "generic_decline",
            "issuer_declined",
        ),
        (
            "pm_card_radarBlock",
            "card_declined",
            "fraudulent",
            "blocked",
        ),
        (
            "pm_card_riskLevelHighest",
            "card_declined",
            "fraudulent",
            "blocked",
        ),
    ];
    for (token, code, decline_code, outcome) in cases {
        let before = t.events().await.len();
        let r = t.pay(2000, token, "").await;
        assert_eq!(
            r.status,
            StatusCode::PAYMENT_REQUIRED,
            "{token}: {}",
            r.json
        );
        let e = error(&r);
        assert_eq!(e["type"], "card_error", "{token}");
        assert_eq!(
            (e["code"].as_str(), e["decline_code"].as_str()),
            (Some(code), Some(decline_code)),
            "{token}"
        );
        let pi = &e["payment_intent"];
        assert_eq!(pi["status"], "requires_payment_method", "{token}");
        assert_eq!(pi["last_payment_error"]["code"], code, "{token}");
        assert_eq!(
            pi["last_payment_error"]["decline_code"], decline_code,
            "{token}"
        );
        assert_eq!(pi["payment_method"], Value::Null, "{token}");
        let ch = e["charge"].as_str().expect("charge");
        assert_eq!(pi["latest_charge"], ch);
        let stored = t.got(&format!("/v1/payment_intents/{}", id(pi))).await;
        assert_eq!(
            stored["last_payment_error"]["code"], code,
            "{token}: the failure is kept"
        );
        let charge = t.got(&format!("/v1/charges/{ch}")).await;
        assert_eq!(
            (charge["status"].as_str(), charge["paid"].as_bool()),
            (Some("failed"), Some(false))
        );
        assert_eq!(charge["failure_code"], code);
        assert_eq!(charge["outcome"]["type"], outcome, "{token}");
        assert_eq!(charge["balance_transaction"], Value::Null);
        assert_eq!(
            t.raised(before).await,
            [
                "payment_intent.created",
                "charge.failed",
                "payment_intent.payment_failed"
            ],
            "{token}"
        );
    }
    // The same decline replays under its idempotency key.
    let body = format!(
        "amount=900&currency=usd&{CARD}&payment_method=pm_card_chargeDeclined&confirm=true"
    );
    let first =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(&body),
            &[("idempotency-key", "k1")],
        )
        .await;
    let again =
        t.m.call_with(
            &t.s,
            Method::POST,
            "/v1/payment_intents",
            Some(&body),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::PAYMENT_REQUIRED, StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(first.json, again.json);
}

/// A 3-D Secure card lands in requires_action with a `next_action` the mirror
/// serves; the test helper completes it (the payment succeeds), or fails it
/// (`payment_intent_authentication_failure`, no charge).
#[tokio::test]
async fn three_d_secure_requires_action_then_completes_or_fails() {
    let t = T::new().await;
    let pi = t.pay(2500, "pm_card_threeDSecure2Required", "").await.json;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_action");
    assert_eq!(pi["next_action"]["type"], "use_stripe_sdk");
    let url = pi["next_action"]["use_stripe_sdk"]["stripe_js"]
        .as_str()
        .expect("url");
    assert!(
        url.contains(&format!("/_mirra/3ds/{pi_id}?client_secret=")),
        "{url}"
    );
    assert_eq!(pi["latest_charge"], Value::Null);
    let before = t.events().await.len();
    let done = t
        .ok(
            &format!("/v1/test_helpers/mirra/payment_intents/{pi_id}/authenticate"),
            "outcome=complete",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["next_action"], Value::Null);
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            done["latest_charge"].as_str().expect("charge")
        ))
        .await;
    assert_eq!(
        charge["payment_method_details"]["card"]["three_d_secure"]["result"],
        "authenticated"
    );
    assert_eq!(
        t.raised(before).await,
        [
            "charge.succeeded",
            "payment_intent.succeeded",
            "charge.updated"
        ]
    );
    let again = t
        .post(
            &format!("/v1/test_helpers/mirra/payment_intents/{pi_id}/authenticate"),
            "outcome=complete",
        )
        .await;
    assert_eq!(error(&again)["code"], "payment_intent_unexpected_state");

    let pi = t
        .pay(
            2500,
            "pm_card_authenticationRequired",
            "&return_url=https://shop.example/back",
        )
        .await
        .json;
    assert_eq!(pi["next_action"]["type"], "redirect_to_url");
    assert_eq!(
        pi["next_action"]["redirect_to_url"]["return_url"],
        "https://shop.example/back"
    );
    let failed = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=fail",
        )
        .await;
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    assert_eq!(
        failed["last_payment_error"]["type"],
        "invalid_request_error"
    );
    assert_eq!(failed["latest_charge"], Value::Null);
    let bad = t
        .post(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=maybe",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(error(&bad)["param"], "outcome");

    // Authenticated, then declined by the issuer.
    let pi = t
        .pay(
            2500,
            "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
            "",
        )
        .await
        .json;
    let after = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/payment_intents/{}/authenticate",
                id(&pi)
            ),
            "outcome=complete",
        )
        .await;
    assert_eq!(after["status"], "requires_payment_method");
    assert_eq!(
        after["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
}

/// The page `next_action` points at needs no key: it shows Complete and Fail
/// buttons, refuses a wrong client secret, and its Complete button finishes
/// the payment and returns to the `return_url` with Stripe's parameters.
#[tokio::test]
async fn the_three_d_secure_page_completes_and_redirects_to_the_return_url() {
    let t = T::new().await;
    let pi = t
        .pay(
            3000,
            "pm_card_authenticationRequired",
            "&return_url=https://shop.example/back?x=1",
        )
        .await
        .json;
    let pi_id = id(&pi);
    let secret = pi["client_secret"].as_str().expect("secret");
    let url = pi["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .expect("url");
    let path = url.split("/stripe").nth(1).expect("path below the mirror");
    assert!(url.starts_with("http://127.0.0.1"), "{url}");
    assert!(
        url.contains(&format!(
            "/m/{}/stripe/_mirra/3ds/{pi_id}?client_secret={secret}",
            t.s.id
        )),
        "{url}"
    );
    let (status, _, html) = t.browse(Method::GET, path, "").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Complete") && html.contains("Fail") && html.contains("$30.00"),
        "{html}"
    );
    let (status, _, _) = t
        .browse(
            Method::GET,
            &format!("/_mirra/3ds/{pi_id}?client_secret=nope"),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, body) = t
        .browse(
            Method::POST,
            &format!("/_mirra/3ds/{pi_id}"),
            &format!("client_secret={secret}&outcome=complete"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(
        location.starts_with("https://shop.example/back?x=1&payment_intent="),
        "{location}"
    );
    assert!(location.contains("redirect_status=succeeded"), "{location}");
    let after = t.got(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(after["status"], "succeeded");
    let receipt = after["latest_charge"].as_str().expect("charge");
    let (status, _, html) = t
        .browse(Method::GET, &format!("/_mirra/receipts/{receipt}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("$30.00") && html.contains("3184"), "{html}");
}

/// Off session, a card that needs authentication fails with
/// `authentication_required` unless the catalogue says it was set up.
#[tokio::test]
async fn off_session_payments_needing_authentication_fail_as_on_stripe() {
    let t = T::new().await;
    let cus = t.customer().await;
    let pm = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequired/attach",
            &format!("customer={cus}"),
        )
        .await;
    let r = t
        .pay(2000, &id(&pm), &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.json);
    assert_eq!(error(&r)["code"], "authentication_required");
    assert_eq!(error(&r)["decline_code"], "authentication_required");
    assert_eq!(
        error(&r)["payment_intent"]["status"],
        "requires_payment_method"
    );
    let on = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequiredSetupForOffSession/attach",
            &format!("customer={cus}"),
        )
        .await;
    let r = t
        .pay(2000, &id(&on), &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(r.json["status"], "succeeded", "{}", r.json);
    let other = t.customer().await;
    let wrong = t.pay(2000, &id(&on), &format!("&customer={other}")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(error(&wrong)["message"]
        .as_str()
        .is_some_and(|m| m.contains("belongs to the Customer")));
    let off = t
        .post(
            "/v1/payment_intents",
            "amount=900&currency=usd&off_session=true",
        )
        .await;
    assert_eq!(off.status, StatusCode::BAD_REQUEST);
}

/// Manual capture authorizes (requires_capture, an uncaptured charge), then a
/// partial capture takes part of it and releases the rest; what is captured
/// is what the balance transaction holds.
#[tokio::test]
async fn manual_capture_authorizes_then_captures_part() {
    let t = T::new().await;
    let pi = t
        .pay(2000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let pi_id = id(&pi);
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(
        (
            pi["amount_capturable"].as_i64(),
            pi["amount_received"].as_i64()
        ),
        (Some(2000), Some(0))
    );
    let ch = pi["latest_charge"].as_str().expect("charge").to_string();
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["captured"].as_bool(),
            charge["amount_captured"].as_i64()
        ),
        (Some(false), Some(0))
    );
    assert!(charge["payment_method_details"]["card"]["capture_before"].is_i64());
    assert_eq!(charge["balance_transaction"], Value::Null);
    let over = t
        .post(
            &format!("/v1/payment_intents/{pi_id}/capture"),
            "amount_to_capture=2500",
        )
        .await;
    assert_eq!(error(&over)["code"], "amount_too_large");
    let before = t.events().await.len();
    let done = t
        .ok(
            &format!("/v1/payment_intents/{pi_id}/capture"),
            "amount_to_capture=1500",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        (
            done["amount_received"].as_i64(),
            done["amount_capturable"].as_i64()
        ),
        (Some(1500), Some(0))
    );
    assert_eq!(
        t.raised(before).await,
        ["charge.captured", "payment_intent.succeeded"]
    );
    let charge = t
        .got(&format!("/v1/charges/{ch}?expand[]=balance_transaction"))
        .await;
    assert_eq!(charge["captured"], true);
    assert_eq!(
        (
            charge["amount_captured"].as_i64(),
            charge["amount_refunded"].as_i64()
        ),
        (Some(1500), Some(500))
    );
    assert_eq!(charge["balance_transaction"]["amount"], 1500);
    assert_eq!(charge["balance_transaction"]["fee"], 74);
    let all = t
        .got("/v1/events?type=payment_intent.amount_capturable_updated")
        .await;
    assert_eq!(all["data"][0]["data"]["object"]["id"], pi_id.as_str());
    let twice = t
        .post(&format!("/v1/payment_intents/{pi_id}/capture"), "")
        .await;
    assert_eq!(error(&twice)["code"], "payment_intent_unexpected_state");
    assert_eq!(
        error(&twice)["message"],
        "This PaymentIntent could not be captured because it has a status of succeeded. Only a \
         PaymentIntent with one of the following statuses may be captured: requires_capture."
    );
}

/// What a settled intent refuses, in Stripe's words; cancel works before,
/// releasing an authorization.
#[tokio::test]
async fn invalid_transitions_get_stripes_errors_and_cancel_releases_authorizations() {
    let t = T::new().await;
    let pi = t.pay(2000, "pm_card_visa", "").await.json;
    let pi_id = id(&pi);
    let again = t
        .post(&format!("/v1/payment_intents/{pi_id}/confirm"), "")
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&again)["code"], "payment_intent_unexpected_state");
    assert_eq!(
        error(&again)["message"],
        "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed."
    );
    let cancel = t
        .post(&format!("/v1/payment_intents/{pi_id}/cancel"), "")
        .await;
    assert_eq!(
        error(&cancel)["message"],
        "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a \
         PaymentIntent with one of the following statuses may be canceled: requires_payment_method, \
         requires_capture, requires_confirmation, requires_action, processing."
    );
    let amount = t
        .post(&format!("/v1/payment_intents/{pi_id}"), "amount=5000")
        .await;
    assert_eq!(error(&amount)["code"], "payment_intent_unexpected_state");
    let described = t
        .ok(&format!("/v1/payment_intents/{pi_id}"), "description=later")
        .await;
    assert_eq!(described["description"], "later");

    let open = t.ok("/v1/payment_intents", "amount=700&currency=eur").await;
    let before = t.events().await.len();
    let canceled = t
        .ok(
            &format!("/v1/payment_intents/{}/cancel", id(&open)),
            "cancellation_reason=abandoned",
        )
        .await;
    assert_eq!(
        (
            canceled["status"].as_str(),
            canceled["cancellation_reason"].as_str()
        ),
        (Some("canceled"), Some("abandoned"))
    );
    assert!(canceled["canceled_at"].is_i64());
    assert_eq!(t.raised(before).await, ["payment_intent.canceled"]);
    let confirm = t
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&open)),
            "payment_method=pm_card_visa",
        )
        .await;
    assert!(error(&confirm)["message"]
        .as_str()
        .is_some_and(|m| m.contains("has a status of canceled")));

    let held = t
        .pay(4000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let before = t.events().await.len();
    t.ok(&format!("/v1/payment_intents/{}/cancel", id(&held)), "")
        .await;
    assert_eq!(
        t.raised(before).await,
        ["charge.refunded", "payment_intent.canceled"]
    );
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            held["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(
        (
            charge["refunded"].as_bool(),
            charge["amount_refunded"].as_i64()
        ),
        (Some(true), Some(4000))
    );
    let list = t.got("/v1/payment_intents?limit=2").await;
    assert_eq!(list["data"][0]["id"], id(&held).as_str());
    assert_eq!(list["has_more"], true);
}

// ---------------------------------------------------------------- refunds

/// Partial, then over, then full refunds: `amount_refunded` and `refunded`
/// follow, each refund has its negative balance transaction, and an
/// over-refund gets Stripe's message.
#[tokio::test]
async fn refunds_partial_over_and_full_follow_the_charge() {
    let t = T::new().await;
    let pi = t
        .pay(2000, "pm_card_visa", "&capture_method=automatic")
        .await
        .json;
    let pi_id = id(&pi);
    let ch = pi["latest_charge"].as_str().expect("charge").to_string();
    let before = t.events().await.len();
    let part = t
        .ok(
            "/v1/refunds",
            &format!("charge={ch}&amount=500&reason=requested_by_customer&metadata[k]=v"),
        )
        .await;
    assert!(id(&part).starts_with("re_"));
    assert_eq!(
        (part["status"].as_str(), part["amount"].as_i64()),
        (Some("succeeded"), Some(500))
    );
    assert_eq!(part["payment_intent"], pi_id.as_str());
    assert_eq!(part["metadata"]["k"], "v");
    assert_eq!(
        t.raised(before).await,
        ["refund.created", "charge.refunded"]
    );
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["amount_refunded"].as_i64(),
            charge["refunded"].as_bool()
        ),
        (Some(500), Some(false))
    );
    let bt = t
        .got(&format!(
            "/v1/balance_transactions/{}",
            part["balance_transaction"].as_str().expect("txn")
        ))
        .await;
    assert_eq!(
        (
            bt["amount"].as_i64(),
            bt["fee"].as_i64(),
            bt["type"].as_str()
        ),
        (Some(-500), Some(0), Some("refund"))
    );
    let over = t
        .post(
            "/v1/refunds",
            &format!("payment_intent={pi_id}&amount=2000"),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error(&over)["message"],
        "Refund amount ($20.00) is greater than unrefunded amount on charge ($15.00)"
    );
    assert_eq!(error(&over)["param"], "amount");
    let rest = t
        .ok("/v1/refunds", &format!("payment_intent={pi_id}"))
        .await;
    assert_eq!(rest["amount"], 1500);
    let charge = t.got(&format!("/v1/charges/{ch}")).await;
    assert_eq!(
        (
            charge["amount_refunded"].as_i64(),
            charge["refunded"].as_bool()
        ),
        (Some(2000), Some(true))
    );
    let done = t.post("/v1/refunds", &format!("charge={ch}")).await;
    assert_eq!(error(&done)["code"], "charge_already_refunded");
    assert_eq!(
        error(&done)["message"],
        format!("Charge {ch} has already been refunded.")
    );
    let list = t.got(&format!("/v1/refunds?charge={ch}")).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["data"][0]["id"], id(&rest).as_str());
    let upd = t
        .ok(
            &format!("/v1/refunds/{}", id(&part)),
            "metadata[k]=&metadata[n]=1",
        )
        .await;
    assert_eq!(upd["metadata"], serde_json::json!({"n": "1"}));
    let cancel = t
        .post(&format!("/v1/refunds/{}/cancel", id(&part)), "")
        .await;
    assert_eq!(cancel.status, StatusCode::BAD_REQUEST);
    let txns = t.got("/v1/balance_transactions?type=refund").await;
    assert_eq!(txns["data"].as_array().map(Vec::len), Some(2));
    let neither = t.post("/v1/refunds", "amount=100").await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST);
    let uncaptured = t
        .pay(2000, "pm_card_visa", "&capture_method=manual")
        .await
        .json;
    let r = t
        .post(
            "/v1/refunds",
            &format!("payment_intent={}", id(&uncaptured)),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
}

/// The catalogue's pending-refund card: a pending refund can be canceled (its
/// money comes back) or settled at once (`stripe_later` has the timers).
#[tokio::test]
async fn a_pending_refund_can_be_canceled_or_settled_at_once() {
    let t = T::new().await;
    let pi = t.pay(2000, "pm_card_pendingRefund", "").await.json;
    let refund = t
        .ok(
            "/v1/refunds",
            &format!("payment_intent={}&amount=800", id(&pi)),
        )
        .await;
    assert_eq!(refund["status"], "pending");
    let canceled = t
        .ok(&format!("/v1/refunds/{}/cancel", id(&refund)), "")
        .await;
    assert_eq!(canceled["status"], "canceled");
    let charge = t
        .got(&format!(
            "/v1/charges/{}",
            pi["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(charge["amount_refunded"], 0);
    let second = t
        .ok("/v1/refunds", &format!("payment_intent={}", id(&pi)))
        .await;
    let settled = t
        .ok(
            &format!("/v1/test_helpers/mirra/refunds/{}/settle", id(&second)),
            "outcome=succeeded",
        )
        .await;
    assert_eq!(settled["status"], "succeeded");
}

// ---------------------------------------------------------------- charges

/// Charges list by payment intent and customer, and updates raise
/// `charge.updated` with the previous values.
#[tokio::test]
async fn charges_list_and_update() {
    let t = T::new().await;
    let cus = t.customer().await;
    let a = t
        .pay(1000, "pm_card_visa", &format!("&customer={cus}"))
        .await
        .json;
    t.pay(1100, "pm_card_mastercard", "").await;
    let by_customer = t.got(&format!("/v1/charges?customer={cus}")).await;
    assert_eq!(by_customer["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_customer["data"][0]["payment_intent"], id(&a).as_str());
    let by_pi = t
        .got(&format!("/v1/charges?payment_intent={}", id(&a)))
        .await;
    assert_eq!(by_pi["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        t.got("/v1/charges").await["data"].as_array().map(Vec::len),
        Some(2)
    );
    let ch = a["latest_charge"].as_str().expect("charge");
    let upd = t
        .ok(
            &format!("/v1/charges/{ch}"),
            "description=Gift&metadata[a]=1&receipt_email=ada@example.com",
        )
        .await;
    assert_eq!(
        (upd["description"].as_str(), upd["receipt_email"].as_str()),
        (Some("Gift"), Some("ada@example.com"))
    );
    let ev = t.got("/v1/events?type=charge.updated&limit=1").await;
    assert_eq!(
        ev["data"][0]["data"]["previous_attributes"]["description"],
        Value::Null
    );
    assert_eq!(ev["data"][0]["data"]["object"]["description"], "Gift");
    let missing = t.get("/v1/charges/ch_nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(error(&missing)["message"], "No such charge: 'ch_nope'");
    let intl = t
        .pay(2000, "pm_card_fr", "&capture_method=automatic")
        .await
        .json;
    let charge = t
        .got(&format!(
            "/v1/charges/{}?expand[]=balance_transaction",
            intl["latest_charge"].as_str().expect("ch")
        ))
        .await;
    assert_eq!(
        charge["balance_transaction"]["fee"], 118,
        "2.9 % + 1.5 % + 30"
    );
}

// ---------------------------------------------------------------- setup intents

/// A SetupIntent with a card that asks for authentication on setup goes
/// through 3-D Secure, attaches the card to the customer and marks it set up;
/// then an off-session payment with it succeeds, where without the setup it
/// fails.
#[tokio::test]
async fn a_setup_intent_then_an_off_session_payment_succeeds() {
    let t = T::new().await;
    let cus = t.customer().await;
    let unset = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequiredOnSetup/attach",
            &format!("customer={cus}"),
        )
        .await;
    let refused = t
        .pay(
            2000,
            &id(&unset),
            &format!("&customer={cus}&off_session=true"),
        )
        .await;
    assert_eq!(error(&refused)["code"], "authentication_required");

    let before = t.events().await.len();
    let si = t
        .ok(
            "/v1/setup_intents",
            &format!("customer={cus}&payment_method=pm_card_authenticationRequiredOnSetup&confirm=true&{CARD}&usage=off_session"),
        )
        .await;
    assert!(id(&si).starts_with("seti_"));
    assert_eq!(si["status"], "requires_action");
    assert_eq!(si["usage"], "off_session");
    assert!(si["next_action"]["use_stripe_sdk"]["stripe_js"]
        .as_str()
        .is_some_and(|u| u.contains(&format!("/_mirra/3ds/{}", id(&si)))));
    let done = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/setup_intents/{}/authenticate",
                id(&si)
            ),
            "outcome=complete",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    let pm = done["payment_method"].as_str().expect("pm").to_string();
    assert_eq!(
        t.raised(before).await,
        [
            "setup_intent.created",
            "setup_intent.requires_action",
            "payment_method.attached",
            "setup_intent.succeeded"
        ]
    );
    let method = t.got(&format!("/v1/payment_methods/{pm}")).await;
    assert_eq!(method["customer"], cus.as_str());
    let paid = t
        .pay(2000, &pm, &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(paid.json["status"], "succeeded", "{}", paid.json);
    let list = t.got(&format!("/v1/setup_intents?customer={cus}")).await;
    assert_eq!(list["data"][0]["id"], id(&si).as_str());
    let again = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&si)), "")
        .await;
    assert_eq!(error(&again)["code"], "setup_intent_unexpected_state");
}

/// A declined card fails its setup (402 with the SetupIntent); SetupIntents
/// update, cancel, and refuse to cancel twice.
#[tokio::test]
async fn setup_intents_fail_on_declines_and_cancel() {
    let t = T::new().await;
    let si = t.ok("/v1/setup_intents", CARD).await;
    assert_eq!(si["status"], "requires_payment_method");
    let si = t
        .ok(
            &format!("/v1/setup_intents/{}", id(&si)),
            "payment_method=pm_card_chargeDeclined&metadata[a]=b",
        )
        .await;
    assert_eq!(si["status"], "requires_confirmation");
    let r = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&si)), "")
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.json);
    assert_eq!(error(&r)["code"], "card_declined");
    assert_eq!(
        error(&r)["setup_intent"]["status"],
        "requires_payment_method"
    );
    let stored = t.got(&format!("/v1/setup_intents/{}", id(&si))).await;
    assert_eq!(
        stored["last_setup_error"]["decline_code"],
        "generic_decline"
    );
    let visa = t
        .ok(
            &format!("/v1/setup_intents/{}/confirm", id(&si)),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(visa["status"], "succeeded");
    let no = t
        .post(&format!("/v1/setup_intents/{}/cancel", id(&si)), "")
        .await;
    assert_eq!(error(&no)["code"], "setup_intent_unexpected_state");
    let other = t.ok("/v1/setup_intents", CARD).await;
    let canceled = t
        .ok(
            &format!("/v1/setup_intents/{}/cancel", id(&other)),
            "cancellation_reason=abandoned",
        )
        .await;
    assert_eq!(canceled["status"], "canceled");
    let apm = t
        .ok("/v1/setup_intents", "payment_method=pm_card_visa")
        .await;
    let needs = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&apm)), "")
        .await;
    assert!(error(&needs)["message"]
        .as_str()
        .is_some_and(|m| m.contains("`return_url`")));
}

// ---------------------------------------------------------------- the route table

/// Every route names an operation with a parameter schema: Stripe's, or — for
/// Mirra's own test helpers, named `Mirra…` — `mirra_operations.json`; those
/// are not paths of Stripe's API.
#[test]
fn every_route_has_a_schema_and_mirras_own_are_marked() {
    use shared::mirrors::stripe::{params, routes};
    let mut mirra = 0;
    for r in routes::table().iter() {
        let op = params::operation(r.operation);
        assert_eq!(
            (op.method.as_str(), op.path.as_str()),
            (r.method.as_str(), r.template)
        );
        let concrete = r.template.replace('{', "x").replace('}', "");
        let in_spec = params::spec_operation(r.method.as_str(), &concrete).is_some();
        if r.operation.starts_with("Mirra") {
            mirra += 1;
            assert!(!in_spec, "{} is a path of Stripe's API", r.template);
        } else {
            assert!(in_spec, "{} is not a path of Stripe's API", r.template);
        }
    }
    assert_eq!(mirra, params::mirra_operations().count());
}

// ---------------------------------------------------------------- search

/// PaymentIntents and charges are searchable with Stripe's query language on
/// the fields Stripe lists (status, amount, customer, metadata; a charge's
/// card last4, refunded …).
#[tokio::test]
async fn payment_intents_and_charges_are_searchable() {
    let t = T::new().await;
    let cus = t.customer().await;
    let a = t
        .pay(
            5000,
            "pm_card_visa",
            &format!("&customer={cus}&metadata[order]=A1"),
        )
        .await
        .json;
    t.pay(700, "pm_card_mastercard", "&metadata[order]=B2")
        .await;
    t.pay(900, "pm_card_chargeDeclined", "").await;
    let found = t
        .got("/v1/payment_intents/search?query=status%3A%27succeeded%27%20AND%20amount%3E1000")
        .await;
    assert_eq!(found["object"], "search_result");
    assert_eq!(found["url"], "/v1/payment_intents/search");
    let ids: Vec<&str> = found["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, [id(&a).as_str()]);
    let by_meta = t
        .got("/v1/payment_intents/search?query=metadata%5B%27order%27%5D%3A%27B2%27")
        .await;
    assert_eq!(by_meta["data"].as_array().map(Vec::len), Some(1));
    let by_customer = t
        .got(&format!("/v1/charges/search?query=customer%3A%27{cus}%27"))
        .await;
    assert_eq!(by_customer["data"][0]["payment_intent"], id(&a).as_str());
    let failed = t
        .got("/v1/charges/search?query=status%3A%27failed%27&expand[]=total_count")
        .await;
    assert_eq!(failed["total_count"], 1);
    let last4 = t
        .got("/v1/charges/search?query=payment_method_details.card.last4%3A%274444%27")
        .await;
    assert_eq!(last4["data"][0]["amount"], 700);
    let bad = t.get("/v1/charges/search?query=nickname%3A%27x%27").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&bad)["param"], "query");
}
