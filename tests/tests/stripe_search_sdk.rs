//! Customer search through the official SDKs against a live `mirra serve`:
//! stripe-python's `Customer.search(...).auto_paging_iter()` (by base URL) and
//! stripe-node's `customers.search(...)` (by host, port and key alone) page
//! through `next_page` exactly as they do against Stripe.

use std::process::Command;

use mirra_tests::{sdk_node, sdk_python, specs_dir, stripe_of, workspace_root, Server};
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
    let mut cmd = Command::new(python);
    cmd.arg(workspace_root().join("tests/sdk/stripe_search.py"))
        .env("STRIPE_API_BASE", &base)
        .env("STRIPE_SECRET_KEY", &key);
    if let Some(specs) = specs_dir() {
        cmd.env("MIRRA_SPECS_DIR", specs);
    }
    let out = cmd.output().expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}

/// stripe-node, configured with host, port and protocol only, searches and
/// auto-paginates (`for await`, `autoPagingToArray`) the session its key names.
#[test]
fn official_stripe_node_sdk_searches_customers() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let (_, key) = stripe_of(&server.create_session(json!({"mirrors": ["stripe"]})));
    let out = Command::new(&sdk.node)
        .arg(workspace_root().join("tests/sdk/node/stripe_search.mjs"))
        .env("MIRRA_SDK_NODE_DIR", &sdk.dir)
        .env("MIRRA_URL", &server.url)
        .env("STRIPE_SECRET_KEY", &key)
        .output()
        .expect("run the Node SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Node SDK script failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}
