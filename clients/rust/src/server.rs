//! Finding a Mirra server as the `mirra` CLI does, or starting one.
//!
//! Order: `MIRRA_API_URL` (token from `MIRRA_TOKEN`, else the record `mirra
//! serve` left for that URL in the state dir, else `<MIRRA_DATA_DIR or
//! .mirra>/token`), else `http://127.0.0.1:4400` the same way; else, when
//! `MIRRA_AUTOSTART` is set, a `mirra serve` of this process's own
//! (`MIRRA_BIN`, else `mirra` on `PATH`) on a free port, started once and
//! stopped when the process ends (`--stop-with-stdin`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::Error;

pub const DEFAULT_URL: &str = "http://127.0.0.1:4400";

/// A Mirra server's control plane: its URL and workspace token, over one
/// pooled keep-alive client (a reset is one small request; a new connection
/// each time would cost more than the reset).
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl Server {
    pub fn new(url: &str, token: &str) -> Result<Server, Error> {
        // reqwest is built without a TLS provider of its own; any is fine here.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Below the server's idle timeout, so a kept connection is never
            // found closed.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| unreachable(url, e))?;
        Ok(Server {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    /// The server this environment names (see the module docs), started
    /// when none answers and `MIRRA_AUTOSTART` allows it.
    pub async fn find() -> Result<Server, Error> {
        let url = var("MIRRA_API_URL").unwrap_or_else(|| DEFAULT_URL.to_string());
        let url = url.trim_end_matches('/').to_string();
        let token = token_for(&url);
        if let Some(token) = &token {
            let server = Server::new(&url, token)?;
            if server.request(Method::GET, "/v1/usage", None).await.is_ok() {
                return Ok(server);
            }
        }
        if var("MIRRA_AUTOSTART").is_some_and(|v| truthy(&v)) {
            return start();
        }
        let why = if token.is_none() {
            "no token for it (set MIRRA_TOKEN)"
        } else {
            "nothing answered"
        };
        Err(Error::NoServer(format!(
            "no Mirra server at {url}: {why}. Start one with `mirra serve`, point \
             MIRRA_API_URL/MIRRA_TOKEN at one, or set MIRRA_AUTOSTART=1 to start one per run."
        )))
    }

    /// One request to the control plane; its JSON answer, or the refusal.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| unreachable(&self.url, e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| unreachable(&self.url, e))?;
        let json: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| unreachable(&self.url, e))?
        };
        if status >= 400 {
            let err = &json["error"];
            return Err(Error::Refused {
                status,
                code: err["code"].as_str().map(str::to_string),
                message: err["message"].as_str().unwrap_or(&text).to_string(),
            });
        }
        Ok(json)
    }
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

/// Mirra's per-user state dir, as the CLI has it.
fn state_dir() -> Option<PathBuf> {
    var("MIRRA_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| var("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("mirra")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/state/mirra")))
}

/// The token for `url`: `MIRRA_TOKEN`, the server's record, the data dir's file.
fn token_for(url: &str) -> Option<String> {
    if let Some(t) = var("MIRRA_TOKEN") {
        return Some(t);
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let stem: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let record = state_dir()
        .map(|d| d.join("servers").join(format!("{stem}.json")))
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["token"].as_str().map(str::to_string));
    record.or_else(|| {
        let dir = var("MIRRA_DATA_DIR").unwrap_or_else(|| ".mirra".into());
        std::fs::read_to_string(PathBuf::from(dir).join("token"))
            .ok()
            .map(|t| t.trim().to_string())
    })
}

/// The server this process started, kept (with its stdin's write end) until
/// the process ends; the kernel then closes the pipe and the server stops.
static STARTED: OnceLock<Mutex<Option<(Server, Child)>>> = OnceLock::new();

/// Starts `mirra serve` once per process on a free loopback port, with a
/// random token and a data dir under the temp dir named by this process id
/// (dirs of processes that are gone are removed first).
fn start() -> Result<Server, Error> {
    let mut started = STARTED
        .get_or_init(|| Mutex::new(None))
        .lock()
        .map_err(|_| Error::NoServer("MIRRA_AUTOSTART: a start panicked".into()))?;
    if let Some((server, _)) = started.as_ref() {
        return Ok(server.clone());
    }
    let bin = var("MIRRA_BIN").unwrap_or_else(|| "mirra".into());
    let root = std::env::temp_dir().join("mirra-autostart");
    sweep(&root);
    let data = root.join(std::process::id().to_string());
    let token = format!("auto-{:016x}", random());
    let mut child = Command::new(&bin)
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--quiet"])
        .arg("--stop-with-stdin")
        .arg("--data-dir")
        .arg(data.join("data"))
        .env("MIRRA_TOKEN", &token)
        .env("MIRRA_STATE_DIR", data.join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::NoServer(format!("MIRRA_AUTOSTART: cannot run `{bin}`: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::NoServer("MIRRA_AUTOSTART: no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let Some(url) = first.split_whitespace().find(|w| w.starts_with("http://")) else {
        let _ = child.kill();
        return Err(Error::NoServer(format!(
            "MIRRA_AUTOSTART: `{bin} serve` printed no URL: {first:?}"
        )));
    };
    let server = Server::new(url, &token)?;
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    *started = Some((server.clone(), child));
    Ok(server)
}

/// Removes the data dirs of autostarted servers whose process is gone (on
/// systems with /proc; elsewhere they stay in the temp dir).
fn sweep(root: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let gone = name
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
        if gone {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Enough randomness for a loopback server's throwaway token.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
