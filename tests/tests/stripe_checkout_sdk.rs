//! Checkout, the customer portal and the billing seeds through the official
//! Stripe SDKs (stripe-python and stripe-node) against a live `mirra serve`:
//! sessions paid through Mirra's helper (the SDKs' raw requests), the portal
//! page posted to as a browser's form would, and sessions seeded with
//! `stripe:dunning-active` and `stripe:subscription-lifecycle`.

use mirra_tests::{
    node_script, python_script, run_sdk_script, sdk_node, sdk_python, stripe_of, Server,
};
use serde_json::json;

/// A plain session, one seeded with `stripe:dunning-active` and one with
/// `stripe:subscription-lifecycle`: (base URL, secret key) of each.
fn sessions(server: &Server) -> [(String, String); 3] {
    let seeded = |seed: &str| {
        stripe_of(&server.create_session(json!({"mirrors": ["stripe"], "seeds": {"stripe": seed}})))
    };
    [
        stripe_of(&server.create_session(json!({"mirrors": ["stripe"]}))),
        seeded("dunning-active"),
        seeded("subscription-lifecycle"),
    ]
}

/// stripe-python: Checkout Sessions in payment mode (line items listed and
/// expanded; paid through the helper with `raw_request`: the PaymentIntent,
/// the customer made with the e-mail, `checkout.session.completed`),
/// subscription mode (subscription_data, a coupon on the first invoice, a
/// trial; a declined card raises CardError and leaves no subscription),
/// setup mode (the card saved on the customer), expire, promotion codes
/// typed by the customer; the portal's page cancels, keeps and switches a
/// subscription and refuses another customer's; the dunning seed's
/// subscriptions canceled when its clock moves 15 days; the lifecycle seed's
/// statuses and lookup keys. Every object shaped as the SDK's classes.
#[test]
fn official_stripe_python_sdk_drives_checkout_the_portal_and_billing_seeds() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let [(base, key), (dunning_base, dunning_key), (lifecycle_base, lifecycle_key)] =
        sessions(&server);

    run_sdk_script(
        python_script(&python, "stripe_checkout.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key)
            .env("STRIPE_DUNNING_API_BASE", &dunning_base)
            .env("STRIPE_DUNNING_SECRET_KEY", &dunning_key)
            .env("STRIPE_LIFECYCLE_API_BASE", &lifecycle_base)
            .env("STRIPE_LIFECYCLE_SECRET_KEY", &lifecycle_key),
    );
}

/// stripe-node, each session reached by host, port and key: the same story
/// as the Python script (`listLineItems`, `rawRequest` to the helper,
/// StripeCardError, `billingPortal.sessions`, the portal page through
/// fetch), every object shaped as the SDK's typings.
#[test]
fn official_stripe_node_sdk_drives_checkout_the_portal_and_billing_seeds() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let [(_, key), (_, dunning_key), (_, lifecycle_key)] = sessions(&server);

    run_sdk_script(
        node_script(&sdk, "stripe_checkout.mjs", &server.url)
            .env("STRIPE_SECRET_KEY", &key)
            .env("STRIPE_DUNNING_SECRET_KEY", &dunning_key)
            .env("STRIPE_LIFECYCLE_SECRET_KEY", &lifecycle_key),
    );
}
