//! Mirra's Vitest helper (`clients/node`, installed by the test command) run
//! by Vitest itself on two forked workers against a live `mirra serve`: each
//! worker on a session of its own, state made in one test gone in the next,
//! the sessions ended when the run ends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use mirra_tests::{mirra_bin, run_captured, workspace_root, Server, TOKEN};
use reqwest::Method;

/// The helper package with Vitest installed in it (`MIRRA_VITEST_DIR`, else
/// `clients/node`), or `None` outside CI when it has not been set up.
fn vitest_dir() -> Option<PathBuf> {
    let dir = std::env::var("MIRRA_VITEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("clients/node"));
    if dir.join("node_modules/vitest/package.json").exists() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "Vitest is not installed in {} in CI; the test command installs it",
        dir.display()
    );
    eprintln!(
        "skipping: Vitest is not installed in {} (run the README's test command)",
        dir.display()
    );
    None
}

/// `vitest run` on the helper's own suite, `args` after it.
fn vitest(dir: &PathBuf, args: &[&str]) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(dir)
        .arg("node_modules/vitest/vitest.mjs")
        .args(["run", "--config", "test/vitest.config.js"])
        .args(args)
        .env_remove("MIRRA_API_URL")
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_AUTOSTART")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn two_forked_workers_each_get_their_own_session_reset_before_every_test() {
    let Some(dir) = vitest_dir() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(tmp.path());
    let out = tmp.path().join("records");
    let (ok, text) = run_captured(
        vitest(&dir, &[])
            .env("MIRRA_API_URL", &server.url)
            .env("MIRRA_TOKEN", TOKEN)
            .env("MIRRA_PLUGIN_TEST_OUT", &out),
    );
    assert!(ok, "vitest failed:\n{text}");
    println!("{text}");

    // Which session each worker process's tests ran on, from what they recorded.
    let mut by_pid: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut slots: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&out).expect("records") {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.expect("entry").path()).expect("read"))
                .expect("json");
        let session = rec["session"].as_str().expect("session").to_string();
        by_pid
            .entry(rec["pid"].to_string())
            .or_default()
            .insert(session.clone());
        slots
            .entry(rec["worker"].as_str().expect("worker").to_string())
            .or_default()
            .insert(session);
    }
    assert!(
        slots.len() >= 2,
        "the suite ran on one worker only: {slots:?}"
    );
    let mut seen = BTreeSet::new();
    for (slot, ids) in &slots {
        assert_eq!(
            ids.len(),
            1,
            "worker slot {slot} used several sessions: {ids:?}"
        );
        assert!(
            seen.insert(ids.clone()),
            "two workers shared a session: {slots:?}"
        );
    }
    for (pid, ids) in &by_pid {
        assert_eq!(
            ids.len(),
            1,
            "worker process {pid} used several sessions: {ids:?}"
        );
    }
    // Every worker's session ended with the run.
    let (status, live) = server.api(Method::GET, "/v1/sessions?status=active", None);
    assert_eq!(status, 200);
    assert_eq!(live["data"], serde_json::json!([]), "sessions left running");
}

#[test]
fn with_mirra_autostart_the_helper_starts_a_server_of_its_own() {
    let Some(dir) = vitest_dir() else { return };
    // Nothing answers at this URL, so the helper must start `mirra serve`.
    let (ok, text) = run_captured(
        vitest(&dir, &["test/reset.test.js"])
            .env("MIRRA_API_URL", "http://127.0.0.1:9")
            .env("MIRRA_TOKEN", "nobody")
            .env("MIRRA_AUTOSTART", "1")
            .env("MIRRA_BIN", mirra_bin()),
    );
    assert!(ok, "vitest failed:\n{text}");
    assert!(text.contains("2 passed"), "{text}");
}

#[test]
fn without_a_server_the_helper_says_how_to_get_one() {
    let Some(dir) = vitest_dir() else { return };
    let (ok, text) = run_captured(
        vitest(&dir, &["test/reset.test.js"])
            .env("MIRRA_API_URL", "http://127.0.0.1:9")
            .env("MIRRA_TOKEN", "nobody"),
    );
    assert!(!ok, "vitest passed without a server:\n{text}");
    assert!(
        text.contains("no Mirra server at http://127.0.0.1:9") && text.contains("MIRRA_AUTOSTART"),
        "{text}"
    );
}

/// The README's Vitest example is the test file this suite runs, word for word.
#[test]
fn the_readme_vitest_example_is_the_file_ci_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let example =
        std::fs::read_to_string(root.join("clients/node/test/readme.test.js")).expect("example");
    let marker = "<!-- the example is clients/node/test/readme.test.js, which CI runs -->\n```js\n";
    let start = readme
        .find(marker)
        .expect("README marks its Vitest example")
        + marker.len();
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("end of the example")];
    assert_eq!(block, example);
}
