//! `mirra proxy`: runs the library's HTTPS proxy (`shared::proxy`) in the
//! foreground in front of one server, and records itself in the state dir so
//! `mirra up --proxy` and `mirra env --proxy` find it — or start it, detached,
//! when none runs for that server. `mirra proxy ca` prints the CA's path.
//!
//! The CA lives in `<state dir>/ca/` (see [`crate::state::state_dir`]); the
//! records in `<state dir>/proxies/`, one per server URL, like the server
//! records beside them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shared::proxy::{LocalCa, Others, Proxy};
use tokio::net::TcpListener;

use crate::cli::ProxyArgs;
use crate::error::CliError;
use crate::servers::{create_private_dir, url_key, write_private};

/// The port `mirra proxy` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 4480;

/// What a running proxy leaves for the commands that point apps at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRecord {
    /// `http://127.0.0.1:4480`: what `HTTPS_PROXY` is set to.
    pub url: String,
    /// The server it forwards to (normalised API URL).
    pub upstream: String,
    /// The CA certificate (for runtimes that add to their trust store).
    pub ca: PathBuf,
    /// The CA plus the system roots (for runtimes whose setting replaces it).
    pub bundle: PathBuf,
    pub pid: u32,
}

fn state_dir() -> Result<PathBuf, CliError> {
    crate::state::state_dir().ok_or_else(|| {
        CliError::Usage(
            "the proxy keeps its CA in the state dir: set MIRRA_STATE_DIR (or HOME)".into(),
        )
    })
}

/// The user's CA, created on first use.
pub fn local_ca() -> Result<LocalCa, CliError> {
    LocalCa::load_or_create(&state_dir()?.join("ca")).map_err(|e| CliError::Proxy(e.to_string()))
}

/// `<state dir>/proxies/<server>.json`, named as the server records are.
fn record_path(state: &Path, upstream: &str) -> PathBuf {
    state
        .join("proxies")
        .join(crate::servers::record_file_name(upstream))
}

/// Runs the proxy until Ctrl-C / SIGTERM.
pub async fn run(args: &ProxyArgs, api_url: &str) -> Result<(), CliError> {
    let state = state_dir()?;
    let upstream = url_key(api_url).map_err(CliError::Usage)?;
    let ca = Arc::new(local_ca()?);
    let others = if args.refuse_others {
        Others::Refuse
    } else {
        Others::Tunnel
    };
    let proxy =
        Proxy::new(&upstream, ca.clone(), others).map_err(|e| CliError::Usage(e.to_string()))?;
    let addr = format!("{}:{}", args.host, args.port);
    let listener = match TcpListener::bind(&addr).await {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && args.any_port_if_taken => {
            TcpListener::bind((args.host.as_str(), 0)).await
        }
        bound => bound,
    }
    .map_err(|e| CliError::io(format!("cannot listen on {addr}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::io("reading the proxy's address", e))?;
    let rec = ProxyRecord {
        url: format!("http://{bound}"),
        upstream: upstream.clone(),
        ca: ca.cert_path(),
        bundle: ca.bundle_path(),
        pid: std::process::id(),
    };
    let path = record_path(&state, &upstream);
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(|e| CliError::io("creating the proxy records", e))?;
    }
    let body = serde_json::to_vec_pretty(&rec).unwrap_or_default();
    write_private(&path, &body).map_err(|e| CliError::io("recording the proxy", e))?;
    println!(
        "mirra proxy listening on {} for {upstream} (intercepting {}; other hosts {})",
        rec.url,
        proxy.intercepted_hosts().join(", "),
        if args.refuse_others {
            "refused"
        } else {
            "tunnelled"
        },
    );
    if !bound.ip().is_loopback() {
        eprintln!(
            "warning: {bound} is not a loopback address: anyone who can reach it can tunnel \
             through this proxy and reach this server's sessions"
        );
    }
    println!("CA certificate: {}", rec.ca.display());
    println!("point an app at it: eval \"$(mirra env --proxy)\"");
    let served = shared::proxy::serve(listener, Arc::new(proxy), crate::serve::shutdown_signal())
        .await
        .map_err(|e| CliError::io("serving the proxy", e));
    // Leave the record only if a newer proxy has not replaced it.
    if read_record(&path).is_some_and(|r| r.pid == rec.pid) {
        let _ = fs::remove_file(&path);
    }
    served
}

fn read_record(path: &Path) -> Option<ProxyRecord> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The running proxy for `upstream`: its record, confirmed by asking it.
pub fn find(upstream: &str) -> Result<Option<ProxyRecord>, CliError> {
    let state = state_dir()?;
    let Some(rec) = read_record(&record_path(&state, upstream)) else {
        return Ok(None);
    };
    Ok(answers(&rec).then_some(rec))
}

/// Whether a Mirra proxy for the record's server answers at its URL.
fn answers(rec: &ProxyRecord) -> bool {
    shared::tls::install_provider();
    let Ok(client) = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    let Ok(resp) = client.get(&rec.url).send() else {
        return false;
    };
    let Ok(about) = resp.json::<serde_json::Value>() else {
        return false;
    };
    about["object"] == "mirra_proxy" && about["upstream"] == rec.upstream.as_str()
}

/// Stops the proxy running for `upstream` (SIGTERM; it removes its record
/// as it goes) and says so.
pub fn stop(upstream: &str) -> Result<String, CliError> {
    let upstream = url_key(upstream).map_err(CliError::Usage)?;
    let Some(rec) = find(&upstream)? else {
        return Ok(format!("no mirra proxy runs for {upstream}\n"));
    };
    #[cfg(unix)]
    {
        let pid = i32::try_from(rec.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| CliError::Proxy(format!("bad pid {} in the record", rec.pid)))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(|e| {
            CliError::io(format!("stopping mirra proxy (pid {})", rec.pid), e.into())
        })?;
    }
    let path = record_path(&state_dir()?, &upstream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_record(&path).is_some_and(|r| r.pid == rec.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(format!(
        "stopped mirra proxy at {} (pid {})\n",
        rec.url, rec.pid
    ))
}

/// The running proxy for `upstream`, else a new one started in the
/// background (port [`DEFAULT_PORT`] when free, else any), which outlives
/// this command; its output goes to `<state dir>/proxies/<server>.log`.
pub fn ensure(upstream: &str) -> Result<ProxyRecord, CliError> {
    let upstream = url_key(upstream).map_err(CliError::Usage)?;
    if let Some(rec) = find(&upstream)? {
        return Ok(rec);
    }
    // Create the CA here, so a failure is reported by this command.
    local_ca()?;
    let state = state_dir()?;
    let path = record_path(&state, &upstream);
    let log_path = path.with_extension("log");
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(|e| CliError::io("creating the proxy records", e))?;
    }
    let log = fs::File::create(&log_path)
        .map_err(|e| CliError::io(format!("creating {}", log_path.display()), e))?;
    let exe = std::env::current_exe().map_err(|e| CliError::io("finding the mirra binary", e))?;
    let mut cmd = Command::new(exe);
    cmd.args(["proxy", "--any-port-if-taken", "--api-url", &upstream])
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| CliError::io("the proxy log", e))?,
        )
        .stderr(log);
    // Its own process group: a Ctrl-C meant for the shell's foreground job
    // does not stop the proxy the apps of this session rely on.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError::io("starting mirra proxy", e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(rec) = read_record(&path).filter(|r| r.pid == child.id()) {
            if answers(&rec) {
                return Ok(rec);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let said = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(CliError::Proxy(format!(
                "mirra proxy exited ({status}): {}",
                said.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(CliError::Proxy(format!(
        "mirra proxy did not answer within 10 s; see {}",
        log_path.display()
    )))
}

/// The `export` lines that send an app's vendor traffic through the proxy:
/// the proxy for HTTPS (not for the Mirra server and other loopback
/// addresses), the CA for each runtime's way of trusting one, and the
/// session's credentials under the vendors' usual names — its base-URL
/// variables left out, since the apps this is for use the default hosts.
pub fn exports(rec: &ProxyRecord, session: &serde_json::Value) -> String {
    let mut no_proxy = vec!["127.0.0.1".to_string(), "localhost".into(), "::1".into()];
    if let Some(host) = reqwest::Url::parse(&rec.upstream)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
    {
        if !no_proxy.contains(&host) {
            no_proxy.push(host);
        }
    }
    let (ca, bundle) = (rec.ca.display(), rec.bundle.display());
    let no_proxy = no_proxy.join(",");
    let mut out = String::new();
    for (name, value) in [
        ("HTTPS_PROXY", rec.url.clone()),
        ("https_proxy", rec.url.clone()),
        // twilio-node reads only this one (for HTTPS too); plain-HTTP
        // requests through the proxy are forwarded.
        ("HTTP_PROXY", rec.url.clone()),
        ("http_proxy", rec.url.clone()),
        ("NO_PROXY", no_proxy.clone()),
        ("no_proxy", no_proxy),
        // Node ≥ 22.21 / 24.5: the global agents and fetch use HTTPS_PROXY.
        ("NODE_USE_ENV_PROXY", "1".into()),
        ("NODE_EXTRA_CA_CERTS", ca.to_string()),
        ("REQUESTS_CA_BUNDLE", bundle.to_string()),
        ("SSL_CERT_FILE", bundle.to_string()),
        ("CURL_CA_BUNDLE", bundle.to_string()),
    ] {
        out.push_str(&crate::output::export_line(name, &value));
    }
    out.push_str(&crate::output::export_lines_without_base_urls(session));
    out
}
