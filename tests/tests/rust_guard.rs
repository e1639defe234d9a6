//! The Rust guard (`clients/rust`, `mirra-client`) against a live `mirra
//! serve`: a session per guard, reset to its seed, ended on drop, and guards
//! running at once never see each other's state.

use std::collections::BTreeMap;

use mirra_client::{MirraSession, Server as Control};
use mirra_tests::{workspace_root, Server, TOKEN};
use reqwest::Method;
use serde_json::Value;

/// The emails of the Stripe customers the session `mirra` holds.
async fn emails(mirra: &MirraSession) -> Vec<String> {
    let key = mirra.credentials("stripe")["secret_key"]
        .as_str()
        .expect("key");
    let base = mirra.url("stripe").expect("stripe url");
    let list: Value = reqwest::Client::new()
        .get(format!("{base}/v1/customers?limit=100"))
        .bearer_auth(key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["email"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn create(mirra: &MirraSession, email: &str) {
    let key = mirra.credentials("stripe")["secret_key"]
        .as_str()
        .expect("key");
    let base = mirra.url("stripe").expect("stripe url");
    let status = reqwest::Client::new()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(key)
        .form(&[("email", email)])
        .send()
        .await
        .expect("create")
        .status();
    assert!(status.is_success(), "{status}");
}

/// The live server's answer status for session `id`.
fn session_status(server: &Server, id: &str) -> u16 {
    server
        .api(Method::GET, &format!("/v1/sessions/{id}"), None)
        .0
}

/// The harness's server holds a blocking client, which must not be dropped
/// inside a runtime: tests start it outside and run their async part here.
fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn a_guard_starts_a_session_resets_and_reseeds_it_and_ends_it_on_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let id = run(async move {
        let control = Control::new(&url, TOKEN).expect("control");
        let mirra = MirraSession::builder()
            .server(control)
            .mirrors(["stripe", "resend"])
            .up()
            .await
            .expect("up");
        let id = mirra.id().to_string();
        let env = mirra.env();
        assert_eq!(env["MIRRA_SESSION"], id);
        assert!(env["STRIPE_SECRET_KEY"].starts_with("sk_test_"));
        assert!(env["RESEND_API_KEY"].starts_with("re_"));

        let seeded = emails(&mirra).await.len();
        create(&mirra, "made@example.com").await;
        assert_eq!(emails(&mirra).await.len(), seeded + 1);
        let snap = mirra.snapshot().await.expect("snapshot");
        mirra.reset().await.expect("reset");
        assert_eq!(emails(&mirra).await.len(), seeded);
        mirra.restore(&snap).await.expect("restore");
        assert!(emails(&mirra)
            .await
            .contains(&"made@example.com".to_string()));

        // Another seed for one test, then the starting one back.
        let report = mirra
            .reset_to(BTreeMap::from([("resend".into(), "over-quota".into())]))
            .await
            .expect("reset to over-quota");
        assert_eq!(report["mirrors"]["resend"]["seed"], "over-quota");
        let report = mirra.reset().await.expect("reset");
        assert_eq!(report["mirrors"]["resend"]["seed"], "default");
        assert_eq!(report["mirrors"]["stripe"]["seed"], "default");
        id
    });
    // The guard dropped at the end of the block: the session ended.
    assert_eq!(session_status(&server, &id), 410, "ended on drop");
}

#[test]
fn guards_at_once_never_see_each_others_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let one = |name: &'static str| {
        let url = url.clone();
        async move {
            let control = Control::new(&url, TOKEN).expect("control");
            let mirra = MirraSession::builder()
                .server(control)
                .up()
                .await
                .expect("up");
            let mine = format!("{name}@parallel.test");
            create(&mirra, &mine).await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let theirs: Vec<String> = emails(&mirra)
                .await
                .into_iter()
                .filter(|e| e.ends_with("@parallel.test"))
                .collect();
            assert_eq!(theirs, [mine]);
            mirra.id().to_string()
        }
    };
    let (a, b) = run(async { tokio::join!(tokio::spawn(one("a")), tokio::spawn(one("b"))) });
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_ne!(a, b);
    for id in [a, b] {
        assert_eq!(session_status(&server, &id), 410, "{id} ended on drop");
    }
}

#[test]
fn a_persistent_guard_is_found_by_name_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let id = run(async move {
        let up = || async {
            MirraSession::builder()
                .server(Control::new(&url, TOKEN).expect("control"))
                .persistent("staging")
                .up()
                .await
                .expect("up")
        };
        let first = up().await;
        let id = first.id().to_string();
        create(&first, "kept@example.com").await;
        drop(first);
        let again = up().await;
        assert_eq!(again.id(), id, "found by name");
        assert!(emails(&again)
            .await
            .contains(&"kept@example.com".to_string()));
        id
    });
    assert_eq!(
        session_status(&server, &id),
        200,
        "kept after its guard dropped"
    );
}

/// The README's Rust example is `clients/rust/tests/readme.rs`, word for word
/// (the test command runs it with MIRRA_AUTOSTART=1).
#[test]
fn the_readme_rust_example_is_the_file_ci_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let example =
        std::fs::read_to_string(root.join("clients/rust/tests/readme.rs")).expect("example");
    let marker = "<!-- the example is clients/rust/tests/readme.rs, which CI runs -->\n```rust\n";
    let start = readme.find(marker).expect("README marks its Rust example") + marker.len();
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("end of the example")];
    assert_eq!(block, example);
}
