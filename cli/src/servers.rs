//! The record `mirra serve` leaves for client commands: its URL and workspace
//! token, so `mirra ls` works from any directory (as `gh` keeps its hosts).
//!
//! One small JSON file per API URL in `<state dir>/servers/` (see
//! [`crate::state::state_dir`]): several servers never write the same file, and
//! the file with a token in it is the owner's alone (mode 0600, directory 0700).
//! A record outlives its server; the next server on the same URL replaces it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// What a client needs to reach one server, plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRecord {
    /// Normalised API URL (see [`url_key`]).
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub pid: u32,
    /// Unix seconds.
    pub started_at: i64,
}

/// The directory of server records.
#[derive(Debug, Clone)]
pub struct Servers {
    dir: PathBuf,
}

impl Servers {
    /// The records in the state dir the environment chooses; `None` when there is none.
    pub fn from_env() -> Option<Self> {
        crate::state::state_dir().map(|d| Servers::in_state_dir(&d))
    }

    pub fn in_state_dir(state: &Path) -> Self {
        Servers {
            dir: state.join("servers"),
        }
    }

    /// The record file for `url` (normalised).
    pub fn path_for(&self, url: &str) -> PathBuf {
        self.dir.join(record_file_name(url))
    }

    /// Writes `rec` owner-only, through a temporary file and a rename, so a
    /// reader never sees half a record. Returns the file's path.
    pub fn record(&self, rec: &ServerRecord) -> std::io::Result<PathBuf> {
        create_private_dir(&self.dir)?;
        let path = self.path_for(&rec.url);
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let body = serde_json::to_vec_pretty(rec)?;
        let written = write_private(&tmp, &body).and_then(|()| fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map(|()| path)
    }

    /// The record for `url` (normalised), if a server on it left one.
    pub fn get(&self, url: &str) -> Option<ServerRecord> {
        let path = self.path_for(url);
        let rec: ServerRecord = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
        (rec.url == url && !rec.token.trim().is_empty()).then_some(rec)
    }

    /// Every recorded server, most recently started first (for hints).
    pub fn all(&self) -> Vec<ServerRecord> {
        let mut out: Vec<ServerRecord> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        out
    }
}

/// Records a server that just bound `url` with `token` in the environment's
/// state dir. `Ok(None)` when there is no state dir to record in.
pub fn record_started(url: &str, token: &str, data_dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let Some(servers) = Servers::from_env() else {
        return Ok(None);
    };
    let url = url_key(url).map_err(std::io::Error::other)?;
    let rec = ServerRecord {
        url,
        token: token.to_string(),
        data_dir: std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
        pid: std::process::id(),
        started_at: crate::output::now_unix(),
    };
    servers.record(&rec).map(Some)
}

/// The file name of a record about the server at `url` (normalised):
/// `127.0.0.1_4400.json`. Server and proxy records share it.
pub fn record_file_name(url: &str) -> String {
    let stem: String = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.json")
}

/// `path` as a user would type it: under `$HOME` as `~/…`.
pub fn shown(path: &Path) -> String {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match home.and_then(|h| path.strip_prefix(h).ok().map(Path::to_path_buf)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// The one spelling of an API URL that records and lookups share: checked,
/// http(s) only, no trailing `/` (`http://h:1/` and `http://h:1` are one server).
pub fn url_key(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("expected an http:// or https:// address".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(unix)]
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// Creates `path` readable and writable by its owner only, from the first byte.
pub(crate) fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(body)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(url: &str, token: &str, started_at: i64) -> ServerRecord {
        ServerRecord {
            url: url.into(),
            token: token.into(),
            data_dir: PathBuf::from("/d"),
            pid: 1,
            started_at,
        }
    }

    /// Several servers: each URL keeps its own token, and a restart replaces it.
    #[test]
    fn each_server_url_keeps_its_own_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let servers = Servers::in_state_dir(dir.path());
        assert_eq!(servers.get("http://127.0.0.1:4400"), None);
        servers
            .record(&rec("http://127.0.0.1:4400", "tok_a", 1))
            .expect("a");
        servers
            .record(&rec("http://127.0.0.1:5000", "tok_b", 2))
            .expect("b");
        let token = |u: &str| servers.get(u).map(|r| r.token);
        assert_eq!(token("http://127.0.0.1:4400").as_deref(), Some("tok_a"));
        assert_eq!(token("http://127.0.0.1:5000").as_deref(), Some("tok_b"));
        assert_eq!(token("http://127.0.0.1:6000"), None);
        servers
            .record(&rec("http://127.0.0.1:4400", "tok_c", 3))
            .expect("restart");
        assert_eq!(token("http://127.0.0.1:4400").as_deref(), Some("tok_c"));
        let urls: Vec<String> = servers.all().into_iter().map(|r| r.url).collect();
        assert_eq!(urls, ["http://127.0.0.1:4400", "http://127.0.0.1:5000"]);
    }

    /// The token file is the owner's alone, and so is its directory.
    #[cfg(unix)]
    #[test]
    fn a_record_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let servers = Servers::in_state_dir(&dir.path().join("state"));
        let path = servers
            .record(&rec("http://127.0.0.1:4400", "tok_a", 1))
            .expect("record");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("state/servers")), 0o700);
    }

    #[test]
    fn url_keys_are_normalised_and_checked() {
        assert_eq!(
            url_key("http://127.0.0.1:4400/").as_deref(),
            Ok("http://127.0.0.1:4400")
        );
        assert_eq!(url_key(" http://h/p/ ").as_deref(), Ok("http://h/p"));
        assert!(url_key("127.0.0.1:4400").is_err());
        assert!(url_key("ftp://h").is_err());
    }
}
