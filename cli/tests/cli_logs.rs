//! `mirra logs` against a live `mirra serve`: a session's traces listed,
//! filtered and followed.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{create_customer, mirra, ok_json, serve, MIRRA};

/// `mirra logs` prints the remembered session's records one per line
/// (filters by status class and mirror path; `--json` gives the records),
/// and `--follow` prints a request as it is answered.
#[test]
fn mirra_logs_lists_and_follows_a_sessions_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let up = ok_json(&mirra(&live, dir.path(), &["up", "--json"]));
    let base = up["mirrors"]["stripe"]["env"]["STRIPE_API_BASE"]
        .as_str()
        .expect("base")
        .to_string();
    let key = up["mirrors"]["stripe"]["env"]["STRIPE_SECRET_KEY"]
        .as_str()
        .expect("key")
        .to_string();
    create_customer(&base, &key);
    let refused = reqwest::blocking::Client::new()
        .get(format!("{base}/v1/customers?limit=100"))
        .bearer_auth("sk_test_wrong")
        .send()
        .expect("list");
    assert_eq!(refused.status(), 401);

    // The server writes records just after it answers: wait for the third.
    let mut records: Vec<Value> = Vec::new();
    for _ in 0..40 {
        let all = mirra(&live, dir.path(), &["logs", "--json"]);
        assert!(
            all.status.success(),
            "{}",
            String::from_utf8_lossy(&all.stderr)
        );
        records = String::from_utf8_lossy(&all.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one record per line"))
            .collect();
        if records.len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(kinds, ["session.created", "request", "request"]);

    let failed = mirra(&live, dir.path(), &["logs", "--status", "4xx"]);
    let text = String::from_utf8_lossy(&failed.stdout).to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("[401]  GET /v1/customers?limit=100  stripe"),
        "{text}"
    );
    let by_path = mirra(
        &live,
        dir.path(),
        &["logs", "--path", "/v1/customers", "--method", "post"],
    );
    let text = String::from_utf8_lossy(&by_path.stdout).to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("[200]  POST /v1/customers  stripe"), "{text}");

    let mut follow = Command::new(MIRRA)
        .args(["logs", "--follow", "--tail", "0", "--kind", "request"])
        .env("MIRRA_API_URL", &live.url)
        .env("MIRRA_DATA_DIR", dir.path().join("data"))
        .env("MIRRA_STATE_DIR", dir.path().join("state"))
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_SESSION")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn logs --follow");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Until the tail is connected, requests land in history it skips (--tail 0);
    // keep making them until one is printed live.
    let mut line = None;
    for _ in 0..50 {
        create_customer(&base, &key);
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            line = Some(l);
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let line = line.expect("a followed request is printed");
    assert!(line.contains("[200]  POST /v1/customers  stripe"), "{line}");
}
