//! Helpers for end-to-end tests: start a real `mirra serve` process on a free
//! port, talk to its control plane, find the SDK virtualenv and the vendor specs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

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
        Server::start_on(&dir.join("data"), 0)
    }

    /// Starts a server on `data_dir`, on `port` (0 = any free port).
    pub fn start_on(data_dir: &Path, port: u16) -> Server {
        let mut child = Command::new(mirra_bin())
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(data_dir)
            .env("MIRRA_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
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
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            url,
            data_dir: data_dir.to_path_buf(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
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
