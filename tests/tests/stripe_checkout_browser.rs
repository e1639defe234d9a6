//! Stripe Checkout paid in a real headless Chromium: the official `stripe`
//! Node SDK makes the sessions (by host, port and key) and playwright-core
//! drives the system's Chromium through the page each session's `url` opens.

use mirra_tests::{chromium, node_script, run_sdk_script, sdk_node, stripe_of, Server};
use serde_json::json;

/// A person in headless Chromium types a declined card and sees Stripe's
/// message on the form (the session stays open), then pays with 4242… and
/// lands on `success_url` with the session's id; stripe-node reads the
/// session complete and paid, its PaymentIntent succeeded and
/// `checkout.session.completed`. A subscription-mode session paid with the
/// 3-D Secure card goes through the challenge page's "Complete" to
/// `success_url`, with an active subscription.
#[test]
fn a_person_pays_a_checkout_session_in_headless_chromium_and_lands_on_success_url() {
    let Some(sdk) = sdk_node() else { return };
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));

    run_sdk_script(
        node_script(&sdk, "stripe_checkout_browser.mjs", &server.url)
            .env("STRIPE_SECRET_KEY", &key)
            .env("MIRRA_CHROMIUM", &browser),
    );
}
