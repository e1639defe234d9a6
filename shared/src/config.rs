//! Server configuration: which backends run and the workspace token. With no
//! cloud settings the embedded default runs from one data directory:
//! `<data-dir>/sessions.db` (session table + commit log), `<data-dir>/objects/`
//! (images, snapshots) and `<data-dir>/token`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::mirrors::{self, Mirror};
use crate::session::{id::random_token, Clock, Sessions, SystemClock};
use crate::storage::fs::FsObjectStore;
use crate::storage::sqlite::SqliteSessionTable;
use crate::storage::{ObjectStore, SessionTable, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token file {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token file {0} is empty")]
    EmptyToken(PathBuf),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The storage a server runs on.
pub struct Backends {
    pub store: Arc<dyn ObjectStore>,
    pub table: Arc<dyn SessionTable>,
}

impl Backends {
    /// The embedded default: filesystem objects and a SQLite session table under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Result<Self, ConfigError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ConfigError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let store = FsObjectStore::open(data_dir.join("objects"))?;
        let table = SqliteSessionTable::open(&data_dir.join("sessions.db"))?;
        Ok(Backends {
            store: Arc::new(store),
            table: Arc::new(table),
        })
    }

    /// The session service over these backends, serving every mirror of this build.
    pub fn sessions(self, clock: Arc<dyn Clock>) -> (Arc<Sessions>, Vec<Mirror>) {
        let mirrors = mirrors::all();
        let defs = mirrors.iter().map(|m| m.def.clone()).collect();
        (
            Arc::new(Sessions::new(self.table, self.store, clock, defs)),
            mirrors,
        )
    }

    /// [`Backends::sessions`] on the wall clock.
    pub fn into_sessions(self) -> (Arc<Sessions>, Vec<Mirror>) {
        self.sessions(Arc::new(SystemClock))
    }
}

/// Where the workspace token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` / `MIRRA_TOKEN`.
    Given,
    /// Read from `<data-dir>/token`, written by an earlier run.
    File,
    /// Generated now and written to `<data-dir>/token`; print it once.
    Generated,
}

/// The workspace token: the given one, else the data dir's, else a new one
/// (written with mode 0600 so only this user can read it).
pub fn workspace_token(
    data_dir: &Path,
    given: Option<&str>,
) -> Result<(String, TokenSource), ConfigError> {
    if let Some(t) = given.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok((t.to_string(), TokenSource::Given));
    }
    let path = data_dir.join("token");
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().is_empty() => Err(ConfigError::EmptyToken(path)),
        Ok(t) => Ok((t.trim().to_string(), TokenSource::File)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = format!("mirra_{}", random_token(32));
            write_private(&path, &token).map_err(|source| ConfigError::Token { path, source })?;
            Ok((token, TokenSource::Generated))
        }
        Err(source) => Err(ConfigError::Token { path, source }),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_generated_once_then_read_back_and_overridden_when_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t1, s1) = workspace_token(dir.path(), None).expect("generate");
        assert_eq!(s1, TokenSource::Generated);
        let (t2, s2) = workspace_token(dir.path(), None).expect("read");
        assert_eq!((t2.as_str(), s2), (t1.as_str(), TokenSource::File));
        let (t3, s3) = workspace_token(dir.path(), Some("given")).expect("given");
        assert_eq!((t3.as_str(), s3), ("given", TokenSource::Given));
    }
}
