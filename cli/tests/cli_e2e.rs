//! The `mirra` CLI against a live `mirra serve`: the README's tour, end to end,
//! with the generated token found in the data dir and the last session remembered.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{count_customers, create_customer, mirra, ok_json, serve, MIRRA};

#[test]
fn the_readme_tour_works_end_to_end_with_a_generated_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let token = std::fs::read_to_string(dir.path().join("data/token")).expect("token file written");
    assert!(
        live.first_lines[1].contains(token.trim()),
        "the generated token is printed once: {:?}",
        live.first_lines
    );

    let first = ok_json(&mirra(&live, dir.path(), &["up", "--json"]));
    assert_eq!(first["cached"], false);
    let up = mirra(&live, dir.path(), &["up", "--seed", "stripe:default"]);
    assert!(up.status.success());
    let human = String::from_utf8_lossy(&up.stdout);
    assert!(
        human.contains("export STRIPE_API_BASE="),
        "up shows the env lines: {human}"
    );

    let ls = ok_json(&mirra(&live, dir.path(), &["ls", "--json"]));
    assert_eq!(ls["data"].as_array().map(Vec::len), Some(2));
    let table = String::from_utf8_lossy(&mirra(&live, dir.path(), &["ls"]).stdout).to_string();
    assert!(table.contains(first["id"].as_str().expect("id")), "{table}");

    // `mirra env` defaults to the most recent session and prints eval-able exports.
    let env = String::from_utf8_lossy(&mirra(&live, dir.path(), &["env"]).stdout).to_string();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("no {name} in {env}"))
    };
    let (base, key) = (var("STRIPE_API_BASE"), var("STRIPE_SECRET_KEY"));
    assert_ne!(
        base, first["mirrors"]["stripe"]["url"],
        "env follows the latest session"
    );
    let seeded = count_customers(&base, &key);
    assert!(seeded > 0, "stripe:default seeds customers");

    create_customer(&base, &key);
    let snap = ok_json(&mirra(&live, dir.path(), &["snapshot", "--json"]));
    let snap_id = snap["id"].as_str().expect("snap id").to_string();
    create_customer(&base, &key);
    assert_eq!(count_customers(&base, &key), seeded + 2);
    let restored = ok_json(&mirra(
        &live,
        dir.path(),
        &["restore", "--snapshot", &snap_id, "--json"],
    ));
    assert_eq!(restored["snapshot"], snap_id.as_str());
    assert_eq!(count_customers(&base, &key), seeded + 1);
    let reset = ok_json(&mirra(&live, dir.path(), &["reset", "--json"]));
    assert!(
        reset["mirrors"]["stripe"]["ms"].as_f64().is_some(),
        "{reset}"
    );
    assert_eq!(count_customers(&base, &key), seeded);

    assert!(mirra(&live, dir.path(), &["down"]).status.success());
    let after = mirra(&live, dir.path(), &["env"]);
    assert!(!after.status.success(), "the ended session is forgotten");

    let persistent = ok_json(&mirra(
        &live,
        dir.path(),
        &["up", "--persistent", "--name", "staging", "--json"],
    ));
    assert_eq!(persistent["mode"], "persistent");
    let ended = ok_json(&mirra(
        &live,
        dir.path(),
        &["down", "--session", "staging", "--json"],
    ));
    assert!(
        ended["final_snapshot"]
            .as_str()
            .is_some_and(|s| s.starts_with("snap_")),
        "{ended}"
    );

    let usage = ok_json(&mirra(&live, dir.path(), &["usage", "--json"]));
    assert!(
        usage["ephemeral_minutes"].as_u64().is_some_and(|m| m >= 2),
        "{usage}"
    );
}

/// Runs `mirra` in `cwd` with only the shared state dir to go on: no data dir,
/// no token, and the server named by `--api-url` (when given).
fn mirra_elsewhere(cwd: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(MIRRA)
        .args(args)
        .current_dir(cwd)
        .env("MIRRA_STATE_DIR", state)
        .env_remove("MIRRA_API_URL")
        .env_remove("MIRRA_DATA_DIR")
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_SESSION")
        .output()
        .expect("run mirra")
}

/// `mirra serve` records each server's URL and generated token (owner-only), so
/// client commands work from any directory, for each of several servers.
#[test]
fn the_cli_finds_each_servers_generated_token_from_any_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let a = serve(&dir.path().join("a"), &state);
    let b = serve(&dir.path().join("b"), &state);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");

    let up = ok_json(&mirra_elsewhere(
        &elsewhere,
        &state,
        &["up", "--json", "--api-url", &a.url],
    ));
    let on_a = up["id"].as_str().expect("id");
    for (live, expected) in [(&a, 1), (&b, 0)] {
        let ls = ok_json(&mirra_elsewhere(
            &elsewhere,
            &state,
            &["--api-url", &live.url, "ls", "--json"],
        ));
        assert_eq!(
            ls["data"].as_array().map(Vec::len),
            Some(expected),
            "{}: {ls}",
            live.url
        );
    }
    // The session remembered for A is A's, not B's.
    let env = mirra_elsewhere(&elsewhere, &state, &["env", "--api-url", &a.url]);
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    assert!(String::from_utf8_lossy(&env.stdout).contains(on_a));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let token_a = std::fs::read_to_string(dir.path().join("a/token")).expect("token");
        let mut holding_tokens = 0;
        for path in files_under(&state) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains(token_a.trim()) {
                holding_tokens += 1;
                let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{} is owner-only", path.display());
            }
        }
        assert!(
            holding_tokens >= 1,
            "A's token is recorded in {}",
            state.display()
        );
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The `$ mirra …` lines of the README's tour, in order, comments dropped.
fn readme_tour() -> (String, Vec<Vec<String>>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let first_command = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.lines().next())
        .expect("a first sh block")
        .to_string();
    let tour = readme
        .split("## A two-minute tour")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("a tour section");
    let mut commands = vec![];
    let mut in_console = false;
    for line in tour.lines() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ").filter(|_| in_console) {
            let cmd = cmd.split(" #").next().unwrap_or_default().trim();
            let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            if words.first().is_some_and(|w| w == "mirra") {
                commands.push(words);
            }
        }
    }
    (first_command, commands)
}

/// The README's first command installs `mirra` and starts the server; every
/// `mirra` command of the tour then runs, in order, against that server, from
/// another directory, and none of them starts a second server on its port.
#[test]
fn the_readme_tour_follows_from_the_first_command() {
    let (first, tour) = readme_tour();
    assert!(
        first.contains("cargo install --locked --path cli") && first.contains("mirra serve"),
        "the first command installs mirra and starts the server: {first:?}"
    );
    assert!(tour.len() >= 6, "{tour:?}");
    assert!(
        tour.iter().all(|c| c.get(1).is_none_or(|w| w != "serve")),
        "the first command's server holds the port; the tour cannot start another: {tour:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let live = serve(&dir.path().join("data"), &state);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let mut last_snapshot: Option<String> = None;
    for words in &tour {
        let args: Vec<String> = words[1..]
            .iter()
            // The README shows the id its own run printed; use this run's.
            .map(|w| match &last_snapshot {
                Some(id) if w.starts_with("snap_") => id.clone(),
                _ => w.clone(),
            })
            .collect();
        let mut all: Vec<&str> = vec!["--api-url", &live.url];
        all.extend(args.iter().map(String::as_str));
        let out = mirra_elsewhere(&elsewhere, &state, &all);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "`{}` failed: {}{stdout}",
            words.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(id) = stdout
            .split_whitespace()
            .find(|w| w.starts_with("snap_") && w.len() > 5)
        {
            last_snapshot = Some(id.to_string());
        }
    }
}

/// Item 9: a restore naming an unknown snapshot fails, and the remembered
/// session is not forgotten (only a 404/410 *for the session* may do that).
#[test]
fn restoring_an_unknown_snapshot_keeps_the_remembered_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let up = ok_json(&mirra(&live, dir.path(), &["up", "--json"]));
    let id = up["id"].as_str().expect("id");

    let out = mirra(
        &live,
        dir.path(),
        &["restore", "--snapshot", "snap_0000000000zzzz"],
    );
    assert_eq!(out.status.code(), Some(1), "an API error exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no such snapshot"), "{stderr}");
    assert!(!stderr.contains("forgotten"), "{stderr}");

    let env = mirra(&live, dir.path(), &["env"]);
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    assert!(
        String::from_utf8_lossy(&env.stdout).contains(id),
        "the session is still remembered"
    );
}

/// Item 2: `snapshot --keep`, `snapshots --all` and `snapshots rm`.
#[test]
fn snapshots_can_be_kept_listed_workspace_wide_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    ok_json(&mirra(&live, dir.path(), &["up", "--json"]));
    let plain = ok_json(&mirra(&live, dir.path(), &["snapshot", "--json"]));
    let kept = ok_json(&mirra(&live, dir.path(), &["snapshot", "--keep", "--json"]));
    assert_eq!(
        (&plain["keep"], &kept["keep"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    ok_json(&mirra(&live, dir.path(), &["down", "--json"]));

    let all = ok_json(&mirra(&live, dir.path(), &["snapshots", "--all", "--json"]));
    let ids: Vec<&str> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [kept["id"].as_str().expect("id")],
        "only the kept one outlives its session"
    );

    let kept_id = kept["id"].as_str().expect("id");
    let rm = mirra(&live, dir.path(), &["snapshots", "rm", kept_id]);
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&rm.stdout),
        format!("deleted {kept_id}\n")
    );
    let again = mirra(&live, dir.path(), &["snapshots", "rm", kept_id]);
    assert_eq!(again.status.code(), Some(1));
    let all = ok_json(&mirra(&live, dir.path(), &["snapshots", "--all", "--json"]));
    assert_eq!(all["data"], Value::Array(vec![]));
}

/// `mirra up --mirrors resend` makes a Resend session; `mirra env` prints the
/// variables the Resend SDKs read, and they reach that session.
#[test]
fn mirra_env_points_the_resend_sdks_at_a_resend_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let up = ok_json(&mirra(
        &live,
        dir.path(),
        &["up", "--mirrors", "resend", "--json"],
    ));
    let env = String::from_utf8_lossy(&mirra(&live, dir.path(), &["env"]).stdout).to_string();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("no {name} in {env}"))
    };
    let (key, base) = (var("RESEND_API_KEY"), var("RESEND_BASE_URL"));
    assert_eq!(key, up["mirrors"]["resend"]["credentials"]["api_key"]);
    assert_eq!(var("RESEND_API_URL"), base);
    assert!(
        !env.contains("STRIPE_"),
        "only the session's mirrors: {env}"
    );
    shared::tls::install_provider();
    let sent: Value = reqwest::blocking::Client::new()
        .post(format!("{base}/emails"))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "from": "onboarding@resend.dev", "to": "a@test.dev", "subject": "hi", "text": "hi"
        }))
        .send()
        .expect("send")
        .json()
        .expect("json");
    assert!(
        sent["id"].as_str().is_some_and(|id| id.len() == 36),
        "{sent}"
    );
}

/// `mirra up --mirrors twilio` makes a Twilio session; `mirra env` prints the
/// variables the Twilio SDKs read (`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`)
/// and the base URL, and they send a message in that session.
#[test]
fn mirra_env_points_the_twilio_sdks_at_a_twilio_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let up = ok_json(&mirra(
        &live,
        dir.path(),
        &["up", "--mirrors", "twilio", "--json"],
    ));
    let env = String::from_utf8_lossy(&mirra(&live, dir.path(), &["env"]).stdout).to_string();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("no {name} in {env}"))
    };
    let (sid, token, base) = (
        var("TWILIO_ACCOUNT_SID"),
        var("TWILIO_AUTH_TOKEN"),
        var("TWILIO_BASE_URL"),
    );
    assert_eq!(sid, up["mirrors"]["twilio"]["credentials"]["account_sid"]);
    assert!(var("TWILIO_API_KEY").starts_with("SK"));
    assert!(!var("TWILIO_API_SECRET").is_empty());
    assert!(
        !env.contains("RESEND_"),
        "only the session's mirrors: {env}"
    );
    shared::tls::install_provider();
    let res = reqwest::blocking::Client::new()
        .post(format!("{base}/2010-04-01/Accounts/{sid}/Messages.json"))
        .basic_auth(&sid, Some(&token))
        .form(&[
            ("To", "+14155552671"),
            ("From", "+15005550006"),
            ("Body", "hi"),
        ])
        .send()
        .expect("send");
    assert_eq!(res.status().as_u16(), 201);
    let sent: Value = res.json().expect("json");
    assert!(
        sent["sid"].as_str().is_some_and(|s| s.starts_with("SM")),
        "{sent}"
    );
}

/// `--stop-with-stdin`: the server stops cleanly once its standard input
/// closes (the process that started it went), and not before.
#[test]
fn serve_with_stop_with_stdin_stops_when_its_stdin_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Command::new(MIRRA)
        .args([
            "serve",
            "--port",
            "0",
            "--quiet",
            "--stop-with-stdin",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("MIRRA_STATE_DIR", dir.path().join("state"))
        .env("MIRRA_TOKEN", "t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on http://"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        server.try_wait().expect("try_wait").is_none(),
        "stopped with stdin still open"
    );
    drop(server.stdin.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = server.try_wait().expect("try_wait") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after stdin closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "mirra stopped"), "{rest:?}");
}

/// Hosted use from the CLI: the operator creates a workspace on a plan, its
/// admin token issues a narrower one, the plan refuses what it does not
/// include, revoking stops a token at once, and usage reports the month.
#[test]
fn workspaces_tokens_plans_and_usage_work_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = serve(&dir.path().join("data"), &dir.path().join("state"));
    let run = |token: Option<&str>, args: &[&str]| {
        let mut all: Vec<&str> = Vec::new();
        if let Some(t) = token {
            all.extend(["--token", t]);
        }
        all.extend(args);
        mirra(&live, dir.path(), &all)
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    // The operator (the server's own token) creates the workspace.
    let human = run(
        None,
        &[
            "workspaces",
            "create",
            "acme",
            "--plan",
            "free",
            "--concurrent-sessions",
            "1",
        ],
    );
    assert!(human.status.success(), "{}", stderr(&human));
    let text = String::from_utf8_lossy(&human.stdout).to_string();
    assert!(text.contains("concurrent sessions  1"), "{text}");
    let admin = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("mirra_")
                .map(|rest| format!("mirra_{rest}"))
        })
        .unwrap_or_else(|| panic!("no token printed: {text}"));
    let listed = ok_json(&run(None, &["workspaces", "ls", "--json"]));
    assert_eq!(listed["data"][0]["id"], "acme");

    // Its token works within the plan, and the plan says no beyond it.
    let up = ok_json(&run(Some(&admin), &["up", "--json"]));
    assert_eq!(up["workspace"], "acme");
    let second = run(Some(&admin), &["up"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("1 live sessions at once"),
        "{}",
        stderr(&second)
    );
    let persistent = run(Some(&admin), &["up", "--persistent", "--name", "staging"]);
    assert!(
        stderr(&persistent).contains("persistent sessions"),
        "{}",
        stderr(&persistent)
    );

    // A read-only token reads but cannot start sessions; revoked, it is refused.
    let read = ok_json(&run(
        Some(&admin),
        &[
            "tokens",
            "create",
            "--scope",
            "read",
            "--name",
            "dashboards",
            "--json",
        ],
    ));
    let (read_id, read_secret) = (
        read["id"].as_str().expect("id").to_string(),
        read["token"].as_str().expect("secret").to_string(),
    );
    let ls = ok_json(&run(Some(&read_secret), &["ls", "--json"]));
    assert_eq!(ls["data"].as_array().map(Vec::len), Some(1));
    let refused = run(Some(&read_secret), &["up"]);
    assert!(
        stderr(&refused).contains("needs write"),
        "{}",
        stderr(&refused)
    );
    let tokens = String::from_utf8_lossy(&run(Some(&admin), &["tokens", "ls"]).stdout).to_string();
    assert!(
        tokens.contains("dashboards") && tokens.contains(&read_id),
        "{tokens}"
    );
    assert!(!tokens.contains(&read_secret), "lists never show a secret");
    assert!(run(Some(&admin), &["tokens", "revoke", &read_id])
        .status
        .success());
    let after = run(Some(&read_secret), &["ls"]);
    assert_eq!(
        after.status.code(),
        Some(1),
        "a revoked token is refused at once"
    );

    // Usage of the month, and a larger plan lifting the limits.
    let usage = ok_json(&run(Some(&admin), &["usage", "--json"]));
    assert_eq!(
        (usage["workspace"].clone(), usage["plan"].clone()),
        ("acme".into(), "free".into())
    );
    assert_eq!(usage["live_sessions"], 1);
    let bad = run(Some(&admin), &["usage", "--period", "2026-13"]);
    assert!(stderr(&bad).contains("YYYY-MM"), "{}", stderr(&bad));
    assert!(run(None, &["workspaces", "set", "acme", "--plan", "team"])
        .status
        .success());
    assert!(
        run(Some(&admin), &["up"]).status.success(),
        "team allows more"
    );
}
