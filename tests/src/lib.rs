//! Helpers for end-to-end tests: start a real `mirra serve` process on a free
//! port, talk to its control plane, find the SDK virtualenv, the Node SDKs,
//! Chromium and the vendor specs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub mod receiver;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The `mirra` binary cargo built for this test run (`MIRRA_BIN` overrides).
pub fn mirra_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MIRRA_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test exe> → target/<profile>/mirra
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("mirra");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p mirra-cli` (the test command does)",
        bin.display()
    );
    bin
}

/// True when running in CI, where missing tools are failures, not skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The Python with the official SDKs installed (by the test command), or `None`
/// outside CI when it has not been set up.
pub fn sdk_python() -> Option<PathBuf> {
    let p = std::env::var("MIRRA_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target/sdk-venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        !in_ci(),
        "SDK virtualenv {} is missing in CI; the test command creates it",
        p.display()
    );
    eprintln!(
        "skipping: no SDK virtualenv at {} (run the README's test command)",
        p.display()
    );
    None
}

/// A Python SDK script from `tests/sdk/` (`script`), with the specs folder
/// when there is one (its schema checks run then); add the script's
/// environment and hand it to [`run_sdk_script`].
pub fn python_script(python: &Path, script: &str) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(workspace_root().join("tests/sdk").join(script));
    if let Some(specs) = specs_dir() {
        cmd.env("MIRRA_SPECS_DIR", specs);
    }
    cmd
}

/// A Node SDK script from `tests/sdk/node/` (`script`) pointed at the server
/// at `url` (stripe-node reaches its session by host, port and key).
pub fn node_script(sdk: &NodeSdk, script: &str, url: &str) -> Command {
    let mut cmd = Command::new(&sdk.node);
    cmd.arg(workspace_root().join("tests/sdk/node").join(script))
        .env("MIRRA_SDK_NODE_DIR", &sdk.dir)
        .env("MIRRA_URL", url);
    cmd
}

/// Runs `cmd` to the end: whether it succeeded, and its stdout and stderr
/// together (a test runner's report, for the assertion message).
pub fn run_captured(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run the command");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs an SDK script to the end, failing the test with its output unless it
/// succeeds; prints what it printed.
pub fn run_sdk_script(cmd: &mut Command) {
    let out = cmd.output().expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script {:?} failed:\n{stdout}\n{stderr}",
        cmd.get_args().next().unwrap_or_default()
    );
    println!("{stdout}");
}

/// Node and the official Node SDKs `infra/test` installed from
/// `tests/sdk/node` (`MIRRA_SDK_NODE_DIR`, else `<root>/target/sdk-node`).
pub struct NodeSdk {
    /// The `node` executable.
    pub node: PathBuf,
    /// The install's folder: its `package.json` beside `node_modules`.
    pub dir: PathBuf,
}

/// The Node SDKs, or `None` outside CI when node or the install is missing
/// (in CI either is a failure).
pub fn sdk_node() -> Option<NodeSdk> {
    let dir = std::env::var("MIRRA_SDK_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target/sdk-node"));
    let node = PathBuf::from("node");
    let runs = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = dir.join("node_modules/stripe/package.json").exists();
    if runs && installed {
        return Some(NodeSdk { node, dir });
    }
    let why = if runs {
        format!("no Node SDKs installed in {}", dir.display())
    } else {
        "node is not on PATH".to_string()
    };
    assert!(
        !in_ci(),
        "{why} in CI; the test command installs them (and CI needs node and npm)"
    );
    eprintln!("skipping: {why} (run the README's test command)");
    None
}

/// The Chromium the browser tests drive (`MIRRA_CHROMIUM`, which the test
/// command sets once it has made sure Chromium is installed), or `None`
/// outside CI when there is none (in CI that is a failure).
pub fn chromium() -> Option<PathBuf> {
    let found = std::env::var("MIRRA_CHROMIUM")
        .map(PathBuf::from)
        .ok()
        .filter(|p| p.exists());
    if found.is_some() {
        return found;
    }
    assert!(
        !in_ci(),
        "MIRRA_CHROMIUM names no Chromium in CI; the test command installs one"
    );
    eprintln!("skipping: no Chromium (MIRRA_CHROMIUM; run the README's test command)");
    None
}

/// The vendors' OpenAPI documents (`MIRRA_SPECS_DIR`, else `<root>/../shared/specs`).
pub fn specs_dir() -> Option<PathBuf> {
    let p = std::env::var("MIRRA_SPECS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("../shared/specs"));
    if p.join("stripe.spec3.json").exists() {
        return Some(p);
    }
    assert!(
        !in_ci(),
        "vendor specs are missing at {} in CI",
        p.display()
    );
    None
}

pub const TOKEN: &str = "e2e-token";

/// An HTTP client for tests: generous request timeout, and idle connections
/// dropped well before the server's own idle/header timeout closes them, so a
/// slow test never sends on a connection the server already closed.
pub fn http_client() -> reqwest::blocking::Client {
    shared::tls::install_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// A running `mirra serve`, stopped (SIGKILL) on drop unless stopped before.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    http: reqwest::blocking::Client,
}

impl Server {
    /// Starts a server on a fresh data directory inside `dir`.
    pub fn start(dir: &Path) -> Server {
        Server::start_on(&dir.join("data"))
    }

    /// Starts a server on `data_dir` (any free port).
    pub fn start_on(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// Starts a server on `data_dir` (any free port) with extra environment,
    /// e.g. the cloud backends' settings.
    pub fn start_with(data_dir: &Path, env: &[(String, String)]) -> Server {
        let mut child = Command::new(mirra_bin())
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data_dir)
            // Server records stay beside the data dir, never in the user's state dir.
            .env("MIRRA_STATE_DIR", state_dir_beside(data_dir))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("MIRRA_TOKEN", TOKEN)
            .env(
                "RUST_LOG",
                std::env::var("MIRRA_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mirra serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("mirra serve printed no URL: {first:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe; it goes
        // to the test's output, which the runner shows when a test fails.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[mirra serve] {line}");
            }
        });
        Server {
            child: Some(child),
            url,
            data_dir: data_dir.to_path_buf(),
            http: http_client(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL: no shutdown at all, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// This server's copy of a mirror URL another server handed out.
    pub fn rebase(&self, url: &str) -> String {
        match url.find("/m/") {
            Some(i) => format!("{}{}", self.url, &url[i..]),
            None => url.to_string(),
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for a clean exit; returns the exit code.
    pub fn interrupt(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
        child.wait().ok().and_then(|s| s.code())
    }

    /// A control-plane call; returns (status, JSON body).
    pub fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("control plane request");
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    /// Creates a session; panics unless the server answers 201.
    pub fn create_session(&self, body: Value) -> Value {
        let (status, s) = self.api(reqwest::Method::POST, "/v1/sessions", Some(body));
        assert_eq!(status, 201, "create session: {s}");
        s
    }

    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `<data dir>-state`: where a test server records its URL and token.
fn state_dir_beside(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push("-state");
    data_dir.with_file_name(name)
}

/// A session's Stripe base URL and secret key.
pub fn stripe_of(session: &Value) -> (String, String) {
    let m = &session["mirrors"]["stripe"];
    (
        m["url"].as_str().expect("stripe url").to_string(),
        m["credentials"]["secret_key"]
            .as_str()
            .expect("secret key")
            .to_string(),
    )
}

/// A session's Resend base URL and API key.
pub fn resend_of(session: &Value) -> (String, String) {
    let m = &session["mirrors"]["resend"];
    (
        m["url"].as_str().expect("resend url").to_string(),
        m["credentials"]["api_key"]
            .as_str()
            .expect("api key")
            .to_string(),
    )
}

/// A session's Twilio mirror: its base URL and credentials (`account_sid`,
/// `auth_token`, `api_key_sid`, `api_key_secret`).
pub fn twilio_of(session: &Value) -> (String, Value) {
    let m = &session["mirrors"]["twilio"];
    (
        m["url"].as_str().expect("twilio url").to_string(),
        m["credentials"].clone(),
    )
}

/// Every customer of a Stripe mirror, following `has_more` pages of 100.
pub fn all_customers(http: &reqwest::blocking::Client, base: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/customers?limit=100");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(key)
            .send()
            .expect("list customers")
            .json()
            .expect("list JSON");
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|c| c["id"].as_str())
            .map(str::to_string);
        out.extend(data);
        if page["has_more"] != Value::Bool(true) || after.is_none() {
            return out;
        }
    }
}

/// Creates one customer: `Ok(id)` only when the server acknowledged it (200),
/// else what went wrong (transport error, or status and body).
pub fn create_customer(
    http: &reqwest::blocking::Client,
    base: &str,
    key: &str,
    email: &str,
) -> Result<String, String> {
    let resp = http
        .post(format!("{base}/v1/customers"))
        .bearer_auth(key)
        .form(&[("email", email)])
        .send()
        .map_err(|e| format!("POST {base}/v1/customers: {e:?}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .map_err(|e| format!("reading the response: {e:?}"))?;
    if status != 200 {
        return Err(format!("{status}: {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    v["id"].as_str().map(str::to_string).ok_or(text)
}

/// The text of a Lambda event fixture, `functions/<function>/tests/data/<name>`,
/// with its `${NAME}`s filled in from `vars`.
pub fn lambda_fixture(function: &str, name: &str, vars: &[(&str, &str)]) -> String {
    let path = workspace_root()
        .join("functions")
        .join(function)
        .join("tests/data")
        .join(name);
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("${{{k}}}"), v);
    }
    text
}

/// Settings that point `mirra serve` at S3 + DynamoDB on the test emulator, with a
/// bucket and table of its own.
pub struct CloudEnv {
    pub vars: Vec<(String, String)>,
}

impl CloudEnv {
    /// The value of one of the settings (empty when absent).
    pub fn var(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Puts the AWS settings (endpoint, credentials, region) into this
    /// process's environment, where the AWS SDK reads them, as a Lambda
    /// function's SDK does; every test sets the same values. The bucket and
    /// table names stay with the caller.
    pub fn export_aws(&self) {
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
        ] {
            std::env::set_var(k, self.var(k));
        }
    }

    /// The same settings plus creating the bucket and table on start.
    pub fn with_create_resources(&self) -> Vec<(String, String)> {
        let mut v = self.vars.clone();
        v.push(("MIRRA_CREATE_RESOURCES".into(), "true".into()));
        v
    }
}

/// Cloud settings for one test, from the emulator the test command started
/// (`MIRRA_TEST_AWS_ENDPOINT`); `None` (skip) outside CI when there is none.
pub fn cloud_env(test: &str) -> Option<CloudEnv> {
    let Ok(endpoint) = std::env::var("MIRRA_TEST_AWS_ENDPOINT") else {
        assert!(
            !in_ci(),
            "MIRRA_TEST_AWS_ENDPOINT is unset in CI; the test command starts the emulator"
        );
        eprintln!("skipping: no S3/DynamoDB emulator (run the README's test command)");
        return None;
    };
    let name = format!("mirra-{test}-{:08x}", rand_u32());
    let vars = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("MIRRA_S3_BUCKET", name.as_str()),
        ("MIRRA_DYNAMODB_TABLE", name.as_str()),
    ];
    Some(CloudEnv {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}
