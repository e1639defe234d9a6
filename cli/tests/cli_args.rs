//! The `mirra` binary without a real server: argument errors, missing files,
//! a closed port, session memory, and the request/response handling against a
//! tiny canned HTTP responder.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::thread::JoinHandle;

struct Env {
    dir: tempfile::TempDir,
    api_url: String,
}

impl Env {
    /// Isolated from the caller's environment: own state dir, own data dir, a
    /// server URL nobody listens on unless a test says otherwise.
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            api_url: format!("http://127.0.0.1:{}", closed_port()),
        }
    }

    fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    fn mirra(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mirra"))
            .args(args)
            .current_dir(self.dir.path())
            .env("MIRRA_API_URL", &self.api_url)
            .env("MIRRA_TOKEN", "tok_test")
            .env("MIRRA_STATE_DIR", self.state_dir())
            .env("MIRRA_DATA_DIR", self.dir.path().join("data"))
            .env_remove("MIRRA_SESSION")
            .env_remove("RUST_LOG")
            .output()
            .expect("mirra runs")
    }
}

/// A port that was free a moment ago and has nothing listening now.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// One request as the canned server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    authorization: Option<String>,
    body: String,
}

/// Serves the given (status, body) answers, one per connection, in order, then stops.
fn canned(answers: Vec<(u16, &'static str)>) -> (String, JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut seen = vec![];
        for (status, body) in answers {
            let (stream, _) = listener.accept().expect("accept");
            seen.push(answer(stream, status, body));
        }
        seen
    });
    (url, handle)
}

fn answer(mut stream: TcpStream, status: u16, body: &str) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').expect("header colon");
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().expect("length"),
            "authorization" => authorization = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let mut buf = vec![0; length];
    reader.read_exact(&mut buf).expect("body");
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).expect("write");
    Seen {
        request_line: request_line.trim_end().to_string(),
        authorization,
        body: String::from_utf8(buf).expect("utf8 body"),
    }
}

fn join(h: JoinHandle<Vec<Seen>>) -> Vec<Seen> {
    h.join().expect("server thread")
}

#[test]
fn help_lists_every_command() {
    let o = Env::new().mirra(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for cmd in [
        "serve",
        "up",
        "down",
        "ls",
        "reset",
        "snapshot",
        "snapshots",
        "restore",
        "env",
        "usage",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "{cmd} missing from:\n{out}"
        );
    }
}

#[test]
fn bad_timeout_exits_2_and_says_why() {
    let env = Env::new();
    for (value, why) in [
        ("5x", "not a unit"),
        ("0", "longer than 0"),
        ("soon", "not a unit"),
        ("1h30", "no unit"),
    ] {
        let o = env.mirra(&["up", "--timeout", value]);
        assert_eq!(code(&o), 2, "{value}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("--timeout") && err.contains(why),
            "{value}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn bad_seed_exits_2_and_shows_the_expected_form() {
    let env = Env::new();
    for value in ["stripe", "stripe:", ":default"] {
        let o = env.mirra(&["up", "--seed", value]);
        assert_eq!(code(&o), 2, "{value}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("MIRROR:SEED"),
            "{value}: {}",
            stderr(&o)
        );
    }
    let o = env.mirra(&["reset", "--seed-file", "stripe"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("MIRROR=PATH"), "{}", stderr(&o));
}

#[test]
fn persistent_needs_a_name_and_no_timeout() {
    let env = Env::new();
    let o = env.mirra(&["up", "--persistent"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--name"), "{}", stderr(&o));
    let o = env.mirra(&["up", "--persistent", "--name", "keep", "--timeout", "5m"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

#[test]
fn missing_seed_file_fails_clearly_before_any_request() {
    let env = Env::new();
    let o = env.mirra(&["up", "--seed-file", "stripe=nope.json"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: seed file nope.json for stripe: cannot read it"),
        "{err}"
    );
    // It never got as far as the (closed) server.
    assert!(!err.contains("mirra serve"), "{err}");
}

#[test]
fn seed_file_that_is_not_json_fails_clearly() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("bad.json"), "customers: []").expect("write");
    let o = env.mirra(&["up", "--seed-file", "stripe=bad.json"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("seed file bad.json for stripe: not valid JSON"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn closed_port_prints_the_serve_hint_and_exits_1() {
    let env = Env::new();
    for args in [&["ls"][..], &["usage", "--json"], &["up"]] {
        let o = env.mirra(args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("is `mirra serve` running at {}?", env.api_url)),
            "{args:?}: {err}"
        );
        assert!(err.contains("connection refused"), "{args:?}: {err}");
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
}

#[test]
fn env_and_down_without_a_session_say_what_to_do() {
    let env = Env::new();
    for cmd in ["env", "down", "reset", "snapshot", "snapshots"] {
        let o = env.mirra(&[cmd]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("no session given"), "{cmd}: {err}");
        assert!(
            err.contains("--session") && err.contains("mirra up"),
            "{cmd}: {err}"
        );
    }
    let o = env.mirra(&["restore", "--snapshot", "snap_x"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_bad_api_url_is_a_usage_error() {
    let mut env = Env::new();
    env.api_url = "127.0.0.1:4400".into();
    let o = env.mirra(&["ls"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("MIRRA_API_URL"), "{}", stderr(&o));
}

const SESSION: &str = r#"{"id":"ses_ab12","name":"ci","workspace":"local","mode":"ephemeral","status":"active","config_hash":"h","cached":true,"created_at":1700000000,"expires_at":1700003600,"mirrors":{"stripe":{"url":"http://127.0.0.1:1/m/ses_ab12/stripe","host_url":"http://stripe-ab12.localhost:1","seed":"default","credentials":{"secret_key":"sk_test_1","publishable_key":"pk_test_1","webhook_secret":"whsec_1"},"env":{"STRIPE_API_BASE":"http://127.0.0.1:1/m/ses_ab12/stripe","STRIPE_SECRET_KEY":"sk_test_1","ODD":"it's"}}}}"#;

#[test]
fn up_remembers_the_session_for_env_and_down_forgets_it() {
    let ended = r#"{"id":"ses_ab12","name":"ci","mode":"ephemeral","status":"ended","billed_minutes":2,"final_snapshot":null}"#;
    let (url, server) = canned(vec![(201, SESSION), (200, SESSION), (200, ended)]);
    let mut env = Env::new();
    env.api_url = url;

    let o = env.mirra(&[
        "up",
        "--json",
        "--seed",
        "stripe:default",
        "--name",
        "ci",
        "--timeout",
        "90s",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let printed: serde_json::Value =
        serde_json::from_str(&stdout(&o)).expect("stdout is one JSON value");
    let expected: serde_json::Value = serde_json::from_str(SESSION).expect("fixture");
    assert_eq!(printed, expected);

    let o = env.mirra(&["env"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "export ODD='it'\\''s'\n\
         export STRIPE_API_BASE=http://127.0.0.1:1/m/ses_ab12/stripe\n\
         export STRIPE_SECRET_KEY=sk_test_1\n"
    );

    let o = env.mirra(&["down"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ended ses_ab12 (ci) (2 billed minutes)\n");

    let seen = join(server);
    assert_eq!(seen[0].request_line, "POST /v1/sessions HTTP/1.1");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok_test"));
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).expect("request JSON");
    assert_eq!(
        body,
        serde_json::json!({"seeds":{"stripe":"default"},"seed_files":{},"persistent":false,"name":"ci","timeout_seconds":90})
    );
    assert_eq!(seen[1].request_line, "GET /v1/sessions/ses_ab12 HTTP/1.1");
    assert_eq!(
        seen[2].request_line,
        "DELETE /v1/sessions/ses_ab12 HTTP/1.1"
    );

    // Forgotten: the next command asks for a session instead of guessing.
    let o = env.mirra(&["env"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn up_prints_facts_then_export_lines() {
    let (url, server) = canned(vec![(201, SESSION)]);
    let mut env = Env::new();
    env.api_url = url;
    let o = env.mirra(&["up"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("id                 ses_ab12\nname               ci\n"),
        "{out}"
    );
    assert!(
        out.contains("\nstripe             http://127.0.0.1:1/m/ses_ab12/stripe\n"),
        "{out}"
    );
    assert!(out.contains("\n  secret_key       sk_test_1\n"), "{out}");
    assert!(
        out.ends_with("export STRIPE_SECRET_KEY=sk_test_1\n"),
        "{out}"
    );
    join(server);
}

#[test]
fn api_errors_print_the_message_and_exit_1() {
    let (url, server) = canned(vec![(
        400,
        r#"{"error":{"type":"invalid_request","message":"unknown seed stripe:nope (known: default)"}}"#,
    )]);
    let mut env = Env::new();
    env.api_url = url;
    let o = env.mirra(&[
        "reset",
        "--session",
        "ci",
        "--seed",
        "stripe:nope",
        "--json",
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "error: unknown seed stripe:nope (known: default)\n"
    );
    assert!(stdout(&o).is_empty());
    let seen = join(server);
    assert_eq!(seen[0].request_line, "POST /v1/sessions/ci/reset HTTP/1.1");
    assert_eq!(seen[0].body, r#"{"seeds":{"stripe":"nope"}}"#);
}

#[test]
fn a_gone_remembered_session_is_forgotten_with_a_hint() {
    let (url, server) = canned(vec![
        (201, SESSION),
        (
            410,
            r#"{"error":{"type":"gone","code":"session_expired","message":"session ses_ab12 has expired"}}"#,
        ),
    ]);
    let mut env = Env::new();
    env.api_url = url;
    assert_eq!(code(&env.mirra(&["up", "--json"])), 0);
    let o = env.mirra(&["snapshot"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "error: session ses_ab12 has expired\nhint: ses_ab12 was the session remembered"
        ),
        "{err}"
    );
    join(server);
    assert_eq!(code(&env.mirra(&["snapshot"])), 2);
}

#[test]
fn memory_is_kept_per_server_url() {
    let env = Env::new();
    let other = format!("http://127.0.0.1:{}", closed_port());
    write_memory(&env.state_dir(), &other, "ses_zz99");
    // Remembered for another server only: still no session here.
    assert_eq!(code(&env.mirra(&["env"])), 2);
    write_memory(&env.state_dir(), &env.api_url, "ses_zz99");
    // Remembered here: the command goes to the (closed) server.
    let o = env.mirra(&["env"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("mirra serve"), "{}", stderr(&o));
}

fn write_memory(dir: &Path, url: &str, id: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let body = serde_json::json!({ url: {"id": id, "name": null} });
    std::fs::write(dir.join("last-session.json"), body.to_string()).expect("write");
}

/// A timeout the server would refuse is refused here first: exit 2, no request.
#[test]
fn a_timeout_above_the_maximum_exits_2_before_any_request() {
    let env = Env::new();
    let max_days = shared::session::MAX_TIMEOUT_SECS / 86400;
    let too_long = format!("{}d", max_days + 1);
    let over_by_a_second = (shared::session::MAX_TIMEOUT_SECS + 1).to_string();
    for value in [too_long.as_str(), over_by_a_second.as_str()] {
        let o = env.mirra(&["up", "--timeout", value]);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{value}: {err}");
        assert!(
            err.contains(&format!("at most {max_days}d")),
            "{value}: names the maximum: {err}"
        );
        // The (closed) server was never asked.
        assert!(!err.contains("mirra serve"), "{value}: {err}");
    }
    let o = env.mirra(&["up", "--timeout", &format!("{max_days}d")]);
    assert_eq!(code(&o), 1, "the maximum itself is allowed: {}", stderr(&o));
}

/// `--timeout -5m` is a negative duration, not an unknown flag `-5`.
#[test]
fn a_negative_timeout_is_refused_as_negative_with_exit_2() {
    let env = Env::new();
    for args in [
        &["up", "--timeout", "-5m"][..],
        &["up", "--timeout=-5m"],
        &["up", "--timeout", "-90"],
    ] {
        let o = env.mirra(args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(
            err.contains("--timeout") && err.contains("cannot be negative"),
            "{args:?}: {err}"
        );
    }
}

/// The maximum timeout is stated where users look for it: `mirra up --help`.
#[test]
fn up_help_states_the_maximum_timeout() {
    let o = Env::new().mirra(&["up", "--help"]);
    assert_eq!(code(&o), 0);
    let max_days = shared::session::MAX_TIMEOUT_SECS / 86400;
    assert!(
        stdout(&o).contains(&format!("at most {max_days}d")),
        "{}",
        stdout(&o)
    );
}

/// `--api-url` and `--token` are global: they work before or after the
/// subcommand and beat MIRRA_API_URL / MIRRA_TOKEN.
#[test]
fn api_url_and_token_flags_work_before_or_after_the_subcommand() {
    let list = r#"{"object":"list","data":[]}"#;
    let (url, server) = canned(vec![(200, list), (200, list), (200, list)]);
    let env = Env::new(); // MIRRA_API_URL: a closed port; MIRRA_TOKEN: tok_test
    for args in [
        &["--api-url", url.as_str(), "--token", "tok_flag", "ls"][..],
        &["ls", "--api-url", url.as_str(), "--token", "tok_flag"],
        &[
            "--token=tok_flag",
            "ls",
            "--json",
            "--api-url",
            url.as_str(),
        ],
    ] {
        let o = env.mirra(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    for seen in join(server) {
        assert_eq!(seen.request_line, "GET /v1/sessions?limit=1000 HTTP/1.1");
        assert_eq!(seen.authorization.as_deref(), Some("Bearer tok_flag"));
    }
    let o = env.mirra(&["serve", "--api-url", "http://127.0.0.1:1"]);
    assert_eq!(
        code(&o),
        2,
        "serve has no server to point at: {}",
        stderr(&o)
    );
}

/// A 401 says which token was sent (flag, env, server record or data dir) and
/// exits 1: the request was made.
#[test]
fn a_refused_token_says_where_it_came_from_and_exits_1() {
    let (url, server) = canned(vec![(
        401,
        r#"{"error":{"type":"unauthorized","message":"invalid workspace token"}}"#,
    )]);
    let mut env = Env::new();
    env.api_url = url.clone();
    let o = env.mirra(&["ls"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "error: invalid workspace token\nhint: the token was from --token / MIRRA_TOKEN; \
             pass the token of the server at {url} with --token (or MIRRA_TOKEN).\n"
        )
    );
    join(server);
}
