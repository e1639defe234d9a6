//! Customer search through the official SDKs against a live `mirra serve`:
//! stripe-python's `Customer.search(...).auto_paging_iter()` (by base URL) and
//! stripe-node's `customers.search(...)` (by host, port and key alone) page
//! through `next_page` exactly as they do against Stripe.

use mirra_tests::{
    node_script, python_script, run_sdk_script, sdk_node, sdk_python, stripe_of, Server,
};
use serde_json::json;

/// stripe-python searches by every construct, pages with `auto_paging_iter`,
/// counts with `expand=["total_count"]`, and raises InvalidRequestError for
/// refused queries; every answer matches Stripe's OpenAPI schema.
#[test]
fn official_stripe_python_sdk_searches_customers() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (base, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));
    run_sdk_script(
        python_script(&python, "stripe_search.py")
            .env("STRIPE_API_BASE", &base)
            .env("STRIPE_SECRET_KEY", &key),
    );
}

/// stripe-node, configured with host, port and protocol only, searches and
/// auto-paginates (`for await`, `autoPagingToArray`) the session its key names.
#[test]
fn official_stripe_node_sdk_searches_customers() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));
    run_sdk_script(
        node_script(&sdk, "stripe_search.mjs", &server.url).env("STRIPE_SECRET_KEY", &key),
    );
}
