//! Unmodified apps through `mirra proxy`: the official SDKs (Python and Node)
//! and curl, each left at the vendor's default URL, get only the environment
//! `mirra env --proxy` printed — which started the proxy in the background —
//! and what they create lands in the session their credentials name.

use std::path::{Path, PathBuf};
use std::process::Command;

use mirra_tests::{
    all_customers, mirra_bin, node_script, python_script, run_sdk_script, sdk_node, sdk_python,
    stripe_of, Server, TOKEN,
};
use serde_json::{json, Value};

/// A server, a session on it, the `export` lines `mirra env --proxy` printed
/// for it, and the proxy that command started (stopped on drop).
struct Setup {
    server: Server,
    session: Value,
    state: PathBuf,
    exports: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for rec in proxy_records(&self.state) {
            let _ = Command::new("kill").arg(rec["pid"].to_string()).status();
        }
    }
}

fn proxy_records(state: &Path) -> Vec<Value> {
    std::fs::read_dir(state.join("proxies"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// `mirra <args>` against the server, with the test's own state dir.
fn mirra(server: &Server, state: &Path, args: &[&str]) -> String {
    let out = Command::new(mirra_bin())
        .args(["--api-url", &server.url, "--token", TOKEN])
        .args(args)
        .env("MIRRA_STATE_DIR", state)
        .output()
        .expect("run mirra");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "mirra {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `export NAME=value` lines (values as `shell_quote` writes them) as pairs.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map_or_else(|| v.to_string(), |v| v.replace("'\\''", "'"));
            (k.to_string(), v)
        })
        .collect()
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["stripe", "resend", "twilio"]}));
    let id = session["id"].as_str().expect("id").to_string();
    let printed = mirra(&server, &state, &["env", "--proxy", "--session", &id]);
    let exports = parse_exports(&printed);
    Setup {
        server,
        session,
        state,
        exports,
        _dir: dir,
    }
}

impl Setup {
    fn var(&self, name: &str) -> &str {
        self.exports
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("mirra env --proxy printed no {name}: {:?}", self.exports))
    }

    /// `cmd` with the printed environment, and none of Mirra's base URLs or
    /// proxy settings the test runner's own environment may carry.
    fn apply(&self, cmd: &mut Command) {
        for name in [
            "STRIPE_API_BASE",
            "RESEND_BASE_URL",
            "RESEND_API_URL",
            "TWILIO_BASE_URL",
            "MIRRA_URL",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(name);
        }
        cmd.envs(self.exports.iter().map(|(k, v)| (k, v)));
    }

    /// The emails of the session's Stripe customers, read at its own path.
    fn customer_emails(&self) -> Vec<String> {
        let (base, key) = stripe_of(&self.session);
        all_customers(self.server.http(), &base, &key)
            .iter()
            .filter_map(|c| c["email"].as_str().map(str::to_string))
            .collect()
    }
}

/// `mirra env --proxy` prints the proxy, each runtime's CA setting and the
/// session's credentials under the vendors' names (no base URLs); the proxy
/// it started is reused by `mirra up --proxy` and ended by `mirra proxy
/// stop`; `mirra proxy ca` names the CA.
#[test]
fn mirra_env_proxy_starts_one_proxy_and_prints_what_each_runtime_needs() {
    let s = setup();
    let proxy = s.var("HTTPS_PROXY").to_string();
    assert!(proxy.starts_with("http://127.0.0.1:"), "{proxy}");
    assert_eq!(s.var("HTTP_PROXY"), proxy);
    assert!(s.var("NO_PROXY").contains("127.0.0.1"));
    let ca = mirra(&s.server, &s.state, &["proxy", "ca"]);
    assert_eq!(s.var("NODE_EXTRA_CA_CERTS"), ca.trim());
    assert!(ca.trim().starts_with(s.state.to_str().expect("utf-8")));
    for name in ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"] {
        let bundle = std::fs::read_to_string(s.var(name)).expect("bundle");
        assert!(bundle.starts_with(&std::fs::read_to_string(ca.trim()).expect("ca")));
    }
    let (_, key) = stripe_of(&s.session);
    assert_eq!(s.var("STRIPE_SECRET_KEY"), key);
    for name in ["RESEND_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"] {
        assert!(!s.var(name).is_empty());
    }
    assert!(!s.exports.iter().any(|(k, _)| k == "STRIPE_API_BASE"));

    let up = mirra(
        &s.server,
        &s.state,
        &["up", "--proxy", "--mirrors", "stripe"],
    );
    assert!(
        up.contains(&format!("export HTTPS_PROXY={proxy}\n")),
        "{up}"
    );
    assert_eq!(proxy_records(&s.state).len(), 1, "one proxy, reused");

    let stopped = mirra(&s.server, &s.state, &["proxy", "stop"]);
    assert!(
        stopped.starts_with(&format!("stopped mirra proxy at {proxy}")),
        "{stopped}"
    );
    assert!(
        proxy_records(&s.state).is_empty(),
        "the stopped proxy took its record"
    );
    assert!(std::net::TcpStream::connect(proxy.trim_start_matches("http://")).is_err());
}

/// stripe-python, resend-python and twilio-python at their default URLs
/// through HTTPS_PROXY and the CA bundle (stripe-python with its one line).
#[test]
fn official_python_sdks_at_their_default_urls_reach_the_session_through_the_proxy() {
    let Some(python) = sdk_python() else { return };
    let s = setup();
    let mut cmd = python_script(&python, "proxy_defaults.py");
    s.apply(&mut cmd);
    run_sdk_script(&mut cmd);
    assert!(s
        .customer_emails()
        .contains(&"proxy-python@example.com".to_string()));
}

/// stripe-node (with the agent the README gives it), twilio-node (nothing)
/// and resend-node (the global dispatcher line) at their default URLs.
#[test]
fn official_node_sdks_at_their_default_urls_reach_the_session_through_the_proxy() {
    let Some(sdk) = sdk_node() else { return };
    let s = setup();
    let mut cmd = node_script(&sdk, "proxy_defaults.mjs", "unused");
    s.apply(&mut cmd);
    run_sdk_script(&mut cmd);
    assert!(s
        .customer_emails()
        .contains(&"proxy-node@example.com".to_string()));
}

/// `curl https://api.stripe.com/v1/customers -u sk_test_…:` with the printed
/// environment creates in the session; an unknown key gets Stripe's 401.
#[test]
fn curl_to_api_stripe_com_reaches_the_session_through_the_proxy() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipping: no curl");
        return;
    }
    let s = setup();
    let curl = |key: &str, email: &str| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-w",
            "\n%{http_code}",
            "https://api.stripe.com/v1/customers",
        ])
        .args(["-u", &format!("{key}:"), "-d", &format!("email={email}")]);
        s.apply(&mut cmd);
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "curl: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (body, status) = text.rsplit_once('\n').expect("status line");
        (
            status.to_string(),
            serde_json::from_str::<Value>(body).unwrap_or(Value::Null),
        )
    };
    let (_, key) = stripe_of(&s.session);
    let (status, body) = curl(&key, "curl@example.com");
    assert_eq!(status, "200", "{body}");
    assert!(s
        .customer_emails()
        .contains(&"curl@example.com".to_string()));
    let (status, body) = curl("sk_test_nosuchsession", "x@example.com");
    assert_eq!(status, "401", "{body}");
    assert_eq!(body["error"]["type"], json!("invalid_request_error"));
}
