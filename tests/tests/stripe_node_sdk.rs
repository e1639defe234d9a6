//! The official `stripe` Node SDK against a live `mirra serve`. stripe-node can
//! set only host, port and protocol, never a base path, so it reaches its
//! session at the server's root by its secret key (credential routing).

use mirra_tests::{node_script, run_sdk_script, sdk_node, stripe_of, Server};
use serde_json::{json, Value};

/// stripe-node configured with host, port and protocol creates, retrieves,
/// updates, lists and deletes customers of the session its key names, sees
/// nothing of another session, and raises its authentication error for an
/// unknown key.
#[test]
fn official_stripe_node_sdk_reaches_its_session_by_host_port_and_key() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));
    let (_, other_key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_customers.mjs", &server.url)
            .env("STRIPE_SECRET_KEY", &key)
            .env("STRIPE_OTHER_SECRET_KEY", &other_key),
    );
}

/// What `curl -u sk_test_…: http://127.0.0.1:4400/v1/customers` sends (the
/// key as Basic auth's user, no path session) reaches the key's session; an
/// unknown key gets Stripe's 401 and no key the control plane's JSON 404.
#[test]
fn curl_style_basic_auth_at_the_root_routes_by_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);
    let made: Value = server
        .http()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(&key)
        .form(&[("email", "curl@example.com")])
        .send()
        .expect("create by path")
        .json()
        .expect("customer JSON");
    let id = made["id"].as_str().expect("id");

    let get = |auth: Option<&str>| {
        let mut req = server
            .http()
            .get(format!("{}/v1/customers/{id}", server.url));
        if let Some(k) = auth {
            req = req.basic_auth(k, None::<&str>);
        }
        let resp = req.send().expect("GET at the root");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, body) = get(Some(&key));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id);
    let (status, body) = get(Some("sk_test_unknownunknownunknown1234"));
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (status, body) = get(None);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["type"], "not_found");
}

/// stripe-node creates card payment methods from a test token and a number,
/// attaches them (a `pm_card_*` name too), auto-pages a customer's methods,
/// detaches, and raises StripeCardError with Stripe's codes.
#[test]
fn official_stripe_node_sdk_drives_payment_methods() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_payment_methods.mjs", &server.url).env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-node, by host, port and key: card payments and declines, 3-D Secure
/// completed and failed through Mirra's helper (`rawRequest`), partial
/// capture, cancel, refunds, a SetupIntent then an off-session payment, and
/// the events each change raises.
#[test]
fn official_stripe_node_sdk_drives_payments() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_payments.mjs", &server.url).env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-node, by host, port and key: products with a default price, custom
/// ids and search; per unit, decimal, recurring and tiered prices (tiers
/// only when expanded), lookup keys and their transfer; coupons, promotion
/// codes unique among active codes in any case, tax rates; each change's
/// events, an idempotent replay, and Stripe's refusals.
#[test]
fn official_stripe_node_sdk_drives_the_catalogue() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_catalog.mjs", &server.url).env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-node, by host, port and key, bills on test clocks: a trial that
/// ends and renews twice (its events delivered to a loopback webhook endpoint
/// and verified with `webhooks.constructEvent`), dunning until the
/// subscription is canceled, prorations invoiced at once and on the renewal,
/// cancel at period end, `default_incomplete` confirmed, `error_if_incomplete`
/// refused with StripeCardError, an invoice made by hand through its whole
/// life, and subscription items added, changed and removed.
#[test]
fn official_stripe_node_sdk_drives_billing() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_billing.mjs", &server.url).env("STRIPE_SECRET_KEY", &key),
    );
}
