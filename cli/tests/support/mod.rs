//! What the CLI's end-to-end tests share: a live `mirra serve` on a free
//! port, `mirra` run against it, and a Stripe customer made and counted.
#![allow(dead_code)] // each test file uses its own share of these

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const MIRRA: &str = env!("CARGO_BIN_EXE_mirra");

pub struct Live {
    pub server: Child,
    pub url: String,
    pub first_lines: Vec<String>,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// `mirra serve` on a free port with a generated token in `data`; it records its
/// URL and token in `state` (the state dir clients share).
pub fn serve(data: &Path, state: &Path) -> Live {
    let mut server = Command::new(MIRRA)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data)
        .env("MIRRA_STATE_DIR", state)
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_API_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first_lines: Vec<String> = (0..2)
        .filter_map(|_| lines.next().and_then(Result::ok))
        .collect();
    std::thread::spawn(move || for _ in lines {});
    let url = first_lines[0]
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .to_string();
    Live {
        server,
        url,
        first_lines,
    }
}

pub fn mirra(live: &Live, dir: &Path, args: &[&str]) -> Output {
    Command::new(MIRRA)
        .args(args)
        .env("MIRRA_API_URL", &live.url)
        .env("MIRRA_DATA_DIR", dir.join("data"))
        .env("MIRRA_STATE_DIR", dir.join("state"))
        .env_remove("MIRRA_TOKEN")
        .env_remove("MIRRA_SESSION")
        .output()
        .expect("run mirra")
}

pub fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "--json prints exactly one line: {text}"
    );
    serde_json::from_str(text.trim()).expect("one JSON object")
}

pub fn count_customers(base: &str, key: &str) -> usize {
    let list: Value = {
        shared::tls::install_provider();
        reqwest::blocking::Client::new()
    }
    .get(format!("{base}/v1/customers?limit=100"))
    .bearer_auth(key)
    .send()
    .expect("list")
    .json()
    .expect("json");
    list["data"].as_array().expect("data").len()
}

pub fn create_customer(base: &str, key: &str) {
    let status = {
        shared::tls::install_provider();
        reqwest::blocking::Client::new()
    }
    .post(format!("{base}/v1/customers"))
    .bearer_auth(key)
    .form(&[("email", "cli@example.com")])
    .send()
    .expect("create")
    .status();
    assert!(status.is_success());
}
