//! Mirra's pytest plugin (`clients/python`, installed into the SDK virtualenv
//! by the test command) run by pytest itself, under pytest-xdist, against a
//! live `mirra serve`: each worker on a session of its own, state made in one
//! test gone in the next, the sessions ended when the run ends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use mirra_tests::{mirra_bin, run_captured, sdk_python, workspace_root, Server, TOKEN};
use reqwest::Method;

/// pytest on the plugin's own suite (`clients/python/tests`) with `args`.
fn pytest(python: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "-q"])
        .arg(workspace_root().join("clients/python/tests"))
        .args(args)
        .env_remove("MIRRA_API_URL")
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_AUTOSTART");
    cmd
}

#[test]
fn four_xdist_workers_each_get_their_own_session_reset_before_every_test() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let out = dir.path().join("workers");
    std::fs::create_dir_all(&out).expect("out dir");

    let (ok, text) = run_captured(
        pytest(&python, &["-n", "4", "--dist", "loadscope"])
            .env("MIRRA_API_URL", &server.url)
            .env("MIRRA_TOKEN", TOKEN)
            .env("MIRRA_PLUGIN_TEST_OUT", &out),
    );
    assert!(ok, "pytest failed:\n{text}");
    println!("{text}");

    // Which session each worker's tests ran on, from what they recorded.
    let mut sessions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&out).expect("read out dir") {
        let path = entry.expect("entry").path();
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        sessions
            .entry(rec["worker"].as_str().expect("worker").to_string())
            .or_default()
            .insert(rec["session"].as_str().expect("session").to_string());
    }
    assert!(
        sessions.len() >= 2,
        "the isolation tests ran on one worker only: {sessions:?}"
    );
    let mut all = BTreeSet::new();
    for (worker, ids) in &sessions {
        assert_eq!(
            ids.len(),
            1,
            "worker {worker} used several sessions: {ids:?}"
        );
        assert!(
            all.insert(ids.iter().next().cloned()),
            "two workers shared a session: {sessions:?}"
        );
    }
    // Every worker's session ended with the run.
    let (status, live) = server.api(Method::GET, "/v1/sessions?status=active", None);
    assert_eq!(status, 200);
    assert_eq!(live["data"], serde_json::json!([]), "sessions left running");
}

#[test]
fn with_mirra_autostart_the_plugin_starts_a_server_of_its_own() {
    let Some(python) = sdk_python() else { return };
    // Nothing answers at this URL, so the plugin must start `mirra serve`.
    let (ok, text) = run_captured(
        pytest(&python, &["-n", "2", "-k", "gone or TestOne"])
            .env("MIRRA_API_URL", "http://127.0.0.1:9")
            .env("MIRRA_TOKEN", "nobody")
            .env("MIRRA_AUTOSTART", "1")
            .env("MIRRA_BIN", mirra_bin()),
    );
    assert!(ok, "pytest failed:\n{text}");
    assert!(text.contains("5 passed"), "{text}");
}

#[test]
fn without_a_server_the_plugin_says_how_to_get_one() {
    let Some(python) = sdk_python() else { return };
    let (ok, text) = run_captured(
        pytest(&python, &["-k", "gone"])
            .env("MIRRA_API_URL", "http://127.0.0.1:9")
            .env("MIRRA_TOKEN", "nobody"),
    );
    assert!(!ok, "pytest passed without a server:\n{text}");
    assert!(
        text.contains("no Mirra server at http://127.0.0.1:9") && text.contains("MIRRA_AUTOSTART"),
        "{text}"
    );
}

/// The README's pytest example is the file this suite runs, word for word.
#[test]
fn the_readme_pytest_example_is_the_file_ci_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let example =
        std::fs::read_to_string(root.join("clients/python/tests/test_readme.py")).expect("example");
    let marker =
        "<!-- the example is clients/python/tests/test_readme.py, which CI runs -->\n```python\n";
    let start = readme
        .find(marker)
        .expect("README marks its pytest example")
        + marker.len();
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("end of the example")];
    assert_eq!(block, example);
}
