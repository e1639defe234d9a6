//! The official `stripe` Python SDK against a live `mirra serve`: the mirror is
//! right when the vendor's own client works against it unchanged.

use mirra_tests::{python_script, run_sdk_script, sdk_python, stripe_of, Server};
use serde_json::json;

#[test]
fn official_stripe_python_sdk_drives_customers_against_a_live_server() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let other = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);
    let (other_base, other_key) = stripe_of(&other);

    run_sdk_script(
        python_script(&python, "stripe_customers.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key)
            .env("STRIPE_OTHER_SECRET_KEY", &other_key)
            .env("STRIPE_OTHER_API_BASE", &other_base),
    );
}

/// stripe-python creates card payment methods from a test token and a number,
/// attaches them (a `pm_card_*` name too), lists a customer's methods, sets and
/// expands the default, detaches, and raises `CardError` with Stripe's codes.
#[test]
fn official_stripe_python_sdk_drives_payment_methods_against_a_live_server() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);

    run_sdk_script(
        python_script(&python, "stripe_payment_methods.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-python pays with cards (every decline token with its code),
/// authenticates 3-D Secure through Mirra's helper and page, captures part of
/// an authorization, cancels, refunds fully, partly and too much, sets a card
/// up and pays off session with it, and sees each change's events in order.
#[test]
fn official_stripe_python_sdk_drives_payments_against_a_live_server() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);

    run_sdk_script(
        python_script(&python, "stripe_payments.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-python builds a catalogue: products with a default price, custom
/// ids and search; per unit, decimal, recurring and tiered prices (tiers and
/// currency options only when expanded), lookup keys and their transfer;
/// coupons, promotion codes unique among active codes in any case, tax
/// rates; each change's events, an idempotent replay, and Stripe's refusals.
#[test]
fn official_stripe_python_sdk_drives_the_catalogue_against_a_live_server() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);

    run_sdk_script(
        python_script(&python, "stripe_catalog.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-python bills on test clocks (the live server runs on real time):
/// a trial that ends and renews twice, its events delivered to a webhook
/// endpoint on loopback and verified with `Webhook.construct_event`; a failed
/// renewal retried on the dunning schedule until the subscription is
/// canceled; an upgrade invoiced at once and a downgrade prorated onto the
/// renewal; cancel at period end; `default_incomplete` confirmed through the
/// invoice's confirmation secret; `error_if_incomplete` refused with
/// `CardError`; an invoice made by hand from taxed items, finalized, paid,
/// sent, marked uncollectible, voided and deleted; subscription items added,
/// changed and removed; every object shaped as the SDK's classes.
#[test]
fn official_stripe_python_sdk_drives_billing_against_a_live_server() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe"]}));
    let (base, key) = stripe_of(&session);

    run_sdk_script(
        python_script(&python, "stripe_billing.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key),
    );
}
