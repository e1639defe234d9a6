//! Local memory of the last session `mirra up` started, so `mirra env`, `reset`,
//! `down`… work without `--session`. One small JSON file maps each API URL to its
//! session, so pointing at another server never picks up a stranger's session.
//!
//! Location: [`state_dir`]; the file is `last-session.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

const FILE: &str = "last-session.json";

/// Mirra's per-user state dir, shared by the session memory and the server
/// records ([`crate::servers`]): `$MIRRA_STATE_DIR`, else `$XDG_STATE_HOME/mirra`,
/// else `~/.local/state/mirra`; `None` when none of those is set.
pub fn state_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("MIRRA_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("mirra")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/mirra")))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The state file, keyed by API URL.
#[derive(Debug)]
pub struct LastSession {
    path: PathBuf,
}

impl LastSession {
    /// The state file chosen by the environment; `None` when neither
    /// `MIRRA_STATE_DIR`, `XDG_STATE_HOME` nor `HOME` is set (nothing is remembered then).
    pub fn from_env() -> Option<Self> {
        state_dir().map(|d| Self::in_dir(&d))
    }

    pub fn in_dir(dir: &Path) -> Self {
        LastSession {
            path: dir.join(FILE),
        }
    }

    /// A missing or unreadable file means "nothing remembered": memory is a
    /// convenience, never a reason for a command to fail.
    fn load(&self) -> BTreeMap<String, Remembered> {
        fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes through a temporary file and a rename, so a crash never leaves half a file.
    fn store(&self, map: &BTreeMap<String, Remembered>) -> Result<(), CliError> {
        let ctx = || format!("saving the session memory in {}", self.path.display());
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|e| CliError::io(ctx(), e))?;
        }
        let tmp = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        let body = serde_json::to_vec_pretty(map).map_err(|e| CliError::io(ctx(), e.into()))?;
        fs::write(&tmp, body).map_err(|e| CliError::io(ctx(), e))?;
        fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            CliError::io(ctx(), e)
        })
    }

    pub fn get(&self, api_url: &str) -> Option<Remembered> {
        self.load().remove(api_url)
    }

    pub fn set(&self, api_url: &str, session: Remembered) -> Result<(), CliError> {
        let mut map = self.load();
        map.insert(api_url.to_string(), session);
        self.store(&map)
    }

    /// Forgets the remembered session for `api_url` if it is `id`; a session
    /// ended by explicit `--session` leaves a different remembered one alone.
    pub fn forget(&self, api_url: &str, id: &str) -> Result<(), CliError> {
        let mut map = self.load();
        if map.get(api_url).is_some_and(|r| r.id == id) {
            map.remove(api_url);
            self.store(&map)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(id: &str) -> Remembered {
        Remembered {
            id: id.into(),
            name: None,
        }
    }

    #[test]
    fn remembers_per_api_url_and_forgets_only_the_matching_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mem = LastSession::in_dir(&dir.path().join("nested"));
        assert_eq!(mem.get("http://a"), None);
        mem.set("http://a", remembered("ses_aaaa")).expect("set a");
        mem.set("http://b", remembered("ses_bbbb")).expect("set b");
        assert_eq!(mem.get("http://a"), Some(remembered("ses_aaaa")));

        mem.forget("http://a", "ses_zzzz").expect("forget other");
        assert_eq!(mem.get("http://a"), Some(remembered("ses_aaaa")));
        mem.forget("http://a", "ses_aaaa").expect("forget");
        assert_eq!(mem.get("http://a"), None);
        assert_eq!(mem.get("http://b"), Some(remembered("ses_bbbb")));
    }

    #[test]
    fn a_corrupt_file_reads_as_empty_and_is_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), b"{not json").expect("write");
        let mem = LastSession::in_dir(dir.path());
        assert_eq!(mem.get("http://a"), None);
        mem.set("http://a", remembered("ses_aaaa")).expect("set");
        assert_eq!(mem.get("http://a"), Some(remembered("ses_aaaa")));
    }
}
