//! Stripe webhooks end to end against a live `mirra serve`: an endpoint
//! registered through the API receives each event POSTed to its URL on
//! loopback, signed so the official SDKs' `constructEvent` accept it; failures
//! are retried; a delivery owed when the server is killed goes out after restart.

use std::process::Command;
use std::time::{Duration, Instant};

use mirra_tests::receiver::{Received, Receiver};
use mirra_tests::{sdk_node, sdk_python, stripe_of, Server};
use serde_json::{json, Value};

/// Registers an endpoint for `events` at `url`; returns its secret.
fn register(server: &Server, base: &str, key: &str, url: &str, events: &[&str]) -> String {
    let mut form: Vec<(&str, &str)> = vec![("url", url)];
    form.extend(events.iter().map(|e| ("enabled_events[]", *e)));
    let ep: Value = server
        .http()
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(key)
        .form(&form)
        .send()
        .expect("create endpoint")
        .json()
        .expect("endpoint JSON");
    ep["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret: {ep}"))
        .to_string()
}

fn create_customer(server: &Server, base: &str, key: &str, email: &str) -> String {
    let c: Value = server
        .http()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(key)
        .form(&[("email", email)])
        .send()
        .expect("create customer")
        .json()
        .expect("customer JSON");
    c["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {c}"))
        .to_string()
}

fn event_of(r: &Received) -> Value {
    serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("delivery body is not JSON ({e}): {}", r.body))
}

/// The delivery carries the event the API lists, with a `Stripe-Signature`
/// that stripe-python's and stripe-node's `constructEvent` both verify with the
/// endpoint's secret (and reject with another secret).
#[test]
fn deliveries_are_signed_so_both_official_sdks_verify_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (base, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));
    let receiver = Receiver::start(&[]);
    let secret = register(&server, &base, &key, &receiver.url, &["customer.created"]);
    let id = create_customer(&server, &base, &key, "hook@example.com");
    let got = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "one delivery expected");
    let r = &got[0];
    let event = event_of(r);
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["data"]["object"]["id"], id.as_str());
    let sig = r
        .headers
        .get("stripe-signature")
        .cloned()
        .unwrap_or_default();
    assert!(sig.starts_with("t=") && sig.contains(",v1="), "{sig}");
    assert!(r
        .headers
        .get("user-agent")
        .is_some_and(|u| u.starts_with("Stripe/1.0")));

    // Each SDK's constructEvent, run with the endpoint's secret and a wrong one.
    let check = |name: &str, mut cmd: Command| {
        let mut run = |secret: &str| {
            cmd.env("P", &r.body)
                .env("S", &sig)
                .env("K", secret)
                .output()
                .expect("run the SDK")
        };
        let ok = run(&secret);
        assert!(
            ok.status.success(),
            "{name} refused: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&ok.stdout).trim(),
            format!("customer.created {id}")
        );
        assert!(
            !run("whsec_wrong").status.success(),
            "{name}: a wrong secret must fail verification"
        );
    };
    if let Some(python) = sdk_python() {
        let mut cmd = Command::new(&python);
        cmd.args(["-c", "import os, stripe; e = stripe.Webhook.construct_event(os.environ['P'], os.environ['S'], os.environ['K']); print(e['type'], e['data']['object']['id'])"]);
        check("stripe-python", cmd);
    }
    if let Some(sdk) = sdk_node() {
        let mut cmd = Command::new(&sdk.node);
        cmd.args(["-e", "const m = require(process.env.DIR + '/node_modules/stripe'); const Stripe = m.default || m; \
            const s = new Stripe('sk_test_x'); const e = s.webhooks.constructEvent(process.env.P, process.env.S, process.env.K); \
            console.log(e.type, e.data.object.id);"])
            .env("DIR", &sdk.dir);
        check("stripe-node", cmd);
    }
}

/// An endpoint that answers 500 gets the same event again after the first
/// retry delay (1 s), and no more once it answered 2xx.
#[test]
fn a_failing_endpoint_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);
    let receiver = Receiver::start(&[500]);
    register(&server, &base, &key, &receiver.url, &["*"]);
    let started = Instant::now();
    create_customer(&server, &base, &key, "retry@example.com");
    let got = receiver.wait_for(2, Duration::from_secs(15));
    assert_eq!(got.len(), 2, "a retry after the 500");
    assert_eq!(
        event_of(&got[0])["id"],
        event_of(&got[1])["id"],
        "the same event again"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retried after the backoff, not at once"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        receiver.wait_for(3, Duration::from_millis(10)).len(),
        2,
        "nothing after the 2xx"
    );

    // Every attempt is visible through the control plane.
    let sid = session["id"].as_str().expect("session id");
    let (status, list) = server.api(
        reqwest::Method::GET,
        &format!("/v1/sessions/{sid}/deliveries?mirror=stripe"),
        None,
    );
    assert_eq!(status, 200, "{list}");
    let d = &list["data"][0];
    assert_eq!(d["status"], "delivered", "{list}");
    let outcomes: Vec<&str> = d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["retry", "delivered"]);
    assert_eq!(d["attempts"][0]["http_status"], 500);
}

/// A delivery whose receiver is down when the server is SIGKILLed is still
/// owed after a restart on the same data dir, and arrives once the receiver is up.
#[test]
fn a_delivery_owed_when_the_server_is_killed_is_sent_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut server = Server::start_on(&data);
    let session =
        server.create_session(json!({"mirrors": ["stripe"], "persistent": true, "name": "hooks"}));
    let (base, key) = stripe_of(&session);
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    register(&server, &base, &key, &url, &["customer.created"]);
    let id = create_customer(&server, &base, &key, "survivor@example.com");
    server.kill();

    let receiver = Receiver::start_on(port, &[]);
    let restarted = Server::start_on(&data);
    // Up to the claim lease (30 s) if the kill fell between a claim and its record.
    let got = receiver.wait_for(1, Duration::from_secs(45));
    assert_eq!(got.len(), 1, "the owed delivery arrives after the restart");
    assert_eq!(event_of(&got[0])["data"]["object"]["id"], id.as_str());
    drop(restarted);
}
