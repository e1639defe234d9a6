//! Server configuration: which backends run and the workspace token. With no
//! cloud settings the embedded default runs from one data directory:
//! `<data-dir>/sessions.db` (session table + commit log), `<data-dir>/objects/`
//! (images, snapshots) and `<data-dir>/token`.
//!
//! The cloud backends run when both `MIRRA_S3_BUCKET` (objects) and
//! `MIRRA_DYNAMODB_TABLE` (session table + commit log) are set; one without the
//! other is an error. Everything else about AWS comes the standard AWS way
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / profiles / the
//! instance or Lambda role, `AWS_ENDPOINT_URL` for an emulator). With an endpoint
//! override S3 is addressed path-style and the region defaults to `us-east-1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::mirrors::{self, Mirror};
use crate::session::{id::random_token, Clock, Sessions, SystemClock};
use crate::state::{
    DEFAULT_CACHE_BYTES, DEFAULT_COMPACT_EVERY, DEFAULT_FROZEN_BYTES, DEFAULT_IMAGE_CACHE_BYTES,
};
use crate::storage::dynamodb::DynamoSessionTable;
use crate::storage::fs::FsObjectStore;
use crate::storage::s3::S3ObjectStore;
use crate::storage::sqlite::SqliteSessionTable;
use crate::storage::{ObjectStore, SessionTable, StorageError, WorkspaceTable};

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
    /// The environment names only part of a backend configuration.
    #[error("{0}")]
    Env(String),
    /// The AWS settings are incomplete (no region).
    #[error("AWS configuration: {0}")]
    Aws(String),
}

/// Environment variable naming the S3 bucket for images and snapshots.
pub const ENV_S3_BUCKET: &str = "MIRRA_S3_BUCKET";
/// Environment variable naming the DynamoDB table for sessions and the commit log.
pub const ENV_DYNAMODB_TABLE: &str = "MIRRA_DYNAMODB_TABLE";

/// Which storage the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// Filesystem objects and a SQLite session table under the data directory.
    Embedded,
    /// S3 objects and a DynamoDB session table.
    Aws { bucket: String, table: String },
}

impl BackendChoice {
    /// Reads [`ENV_S3_BUCKET`] and [`ENV_DYNAMODB_TABLE`]: both set chooses AWS,
    /// neither the embedded default, one alone is an error. Empty counts as unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`BackendChoice::from_env`] over any variable lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match (var(ENV_S3_BUCKET), var(ENV_DYNAMODB_TABLE)) {
            (None, None) => Ok(BackendChoice::Embedded),
            (Some(bucket), Some(table)) => Ok(BackendChoice::Aws { bucket, table }),
            (Some(_), None) => Err(half_configured(ENV_S3_BUCKET, ENV_DYNAMODB_TABLE)),
            (None, Some(_)) => Err(half_configured(ENV_DYNAMODB_TABLE, ENV_S3_BUCKET)),
        }
    }

    /// One line for people: where objects and sessions live.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            BackendChoice::Embedded => format!(
                "embedded (objects in {}, sessions in {})",
                data_dir.join("objects").display(),
                data_dir.join("sessions.db").display()
            ),
            BackendChoice::Aws { bucket, table } => {
                let endpoint = std::env::var("AWS_ENDPOINT_URL")
                    .ok()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default();
                format!("AWS{endpoint} (objects in S3 bucket {bucket}, sessions in DynamoDB table {table})")
            }
        }
    }
}

fn half_configured(set: &str, missing: &str) -> ConfigError {
    ConfigError::Env(format!(
        "{set} is set but {missing} is not: the AWS backends need both \
         (S3 for objects, DynamoDB for sessions); unset both for the embedded default"
    ))
}

/// The storage a server runs on.
pub struct Backends {
    pub store: Arc<dyn ObjectStore>,
    pub table: Arc<dyn SessionTable>,
    /// Workspaces and their tokens: the session table's own storage.
    pub workspaces: Arc<dyn WorkspaceTable>,
}

impl Backends {
    /// The embedded default: filesystem objects and a SQLite session table under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Result<Self, ConfigError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ConfigError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let store = FsObjectStore::open(data_dir.join("objects"))?;
        let table = Arc::new(SqliteSessionTable::open(&data_dir.join("sessions.db"))?);
        Ok(Backends {
            store: Arc::new(store),
            table: table.clone(),
            workspaces: table,
        })
    }

    /// The backends the environment chooses ([`BackendChoice::from_env`]); the
    /// embedded ones live under `data_dir`.
    pub async fn from_env(data_dir: &Path) -> Result<Self, ConfigError> {
        let (backends, _) = Self::open(&BackendChoice::from_env()?, data_dir, false).await?;
        Ok(backends)
    }

    /// The chosen backends. With `create_resources`, a missing S3 bucket or
    /// DynamoDB table is created first (emulators, first runs; idempotent). Also
    /// returns one line per resource saying what was done.
    pub async fn open(
        choice: &BackendChoice,
        data_dir: &Path,
        create_resources: bool,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        match choice {
            BackendChoice::Embedded => Ok((Self::embedded(data_dir)?, Vec::new())),
            BackendChoice::Aws { bucket, table } => {
                let (store, table) = aws_backends(bucket, table).await?;
                let mut notes = Vec::new();
                if create_resources {
                    let created = store.create_bucket_if_missing().await?;
                    notes.push(format!(
                        "S3 bucket {}: {}",
                        store.bucket(),
                        if created { "created" } else { "exists" }
                    ));
                    let created = table.create_table_if_missing().await?;
                    notes.push(format!(
                        "DynamoDB table {}: {}",
                        table.table_name(),
                        if created {
                            "created (TTL on)"
                        } else {
                            "exists (TTL on)"
                        }
                    ));
                }
                let table = Arc::new(table);
                Ok((
                    Backends {
                        store: Arc::new(store),
                        table: table.clone(),
                        workspaces: table,
                    },
                    notes,
                ))
            }
        }
    }

    /// The session service over these backends, serving every mirror of this
    /// build with the engine `settings`.
    pub fn sessions(
        self,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
    ) -> (Arc<Sessions>, Vec<Mirror>) {
        let mirrors = mirrors::all();
        let defs = mirrors.iter().map(|m| m.def.clone()).collect();
        let mut sessions = Sessions::new(self.table, self.store, clock, defs);
        sessions.set_compact_every(settings.compact_every);
        sessions.set_cache_bytes(settings.cache_bytes);
        sessions.set_frozen_bytes(settings.frozen_bytes);
        sessions.set_image_cache_bytes(settings.image_cache_bytes);
        (Arc::new(sessions), mirrors)
    }

    /// [`Backends::sessions`] on the wall clock with the default settings.
    pub fn into_sessions(self) -> (Arc<Sessions>, Vec<Mirror>) {
        self.sessions(Arc::new(SystemClock), EngineSettings::default())
    }
}

/// How the state engine compacts and how much memory its caches may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Checkpoint every this many commits per mirror (0: never).
    pub compact_every: u64,
    /// Budget for working copies (page count × page size of each).
    pub cache_bytes: u64,
    /// Budget for frozen (compressed) working copies.
    pub frozen_bytes: u64,
    /// Budget for cached seeded images.
    pub image_cache_bytes: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            compact_every: DEFAULT_COMPACT_EVERY,
            cache_bytes: DEFAULT_CACHE_BYTES,
            frozen_bytes: DEFAULT_FROZEN_BYTES,
            image_cache_bytes: DEFAULT_IMAGE_CACHE_BYTES,
        }
    }
}

/// What a process needs besides the engine's caches (code, runtime, clients,
/// requests in flight), kept out of [`EngineSettings::for_memory`]'s split.
pub const MEMORY_RESERVE: u64 = 96 * 1024 * 1024;

impl EngineSettings {
    /// Cache budgets that fit a process limited to `total` bytes (an AWS
    /// Lambda function's memory setting): [`MEMORY_RESERVE`] off the top,
    /// then 60 % for working copies, 25 % for frozen copies, 15 % for seeded
    /// images. The defaults (1,088 MiB in all) would not fit a small function;
    /// every cache evicts on the request that goes over, so these are limits,
    /// not allocations.
    pub fn for_memory(total: u64) -> Self {
        let usable = total.saturating_sub(MEMORY_RESERVE).max(total / 4);
        EngineSettings {
            cache_bytes: usable / 100 * 60,
            frozen_bytes: usable / 100 * 25,
            image_cache_bytes: usable / 100 * 15,
            ..EngineSettings::default()
        }
    }
}

/// S3 and DynamoDB clients from the standard AWS settings, built once.
pub async fn aws_backends(
    bucket: &str,
    table: &str,
) -> Result<(S3ObjectStore, DynamoSessionTable), ConfigError> {
    let env_set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if env_set("AWS_ENDPOINT_URL") && !env_set("AWS_REGION") && !env_set("AWS_DEFAULT_REGION") {
        // An emulator: skip the region lookup (it would ask the instance
        // metadata service, which only answers on AWS).
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    let mut sdk = loader.load().await;
    let endpoint_override = sdk.endpoint_url().is_some();
    if sdk.region().is_none() {
        if !endpoint_override {
            return Err(ConfigError::Aws(
                "no region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile region)".into(),
            ));
        }
        // An emulator does not care; the SDK needs one to sign requests.
        sdk = sdk
            .to_builder()
            .region(aws_config::Region::new("us-east-1"))
            .build();
    }
    let s3_override = endpoint_override || env_set("AWS_ENDPOINT_URL_S3");
    Ok((
        S3ObjectStore::from_sdk_config(&sdk, bucket, s3_override),
        DynamoSessionTable::from_sdk_config(&sdk, table),
    ))
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
    fn cache_budgets_fit_the_memory_they_are_sized_for() {
        let mib = 1024 * 1024;
        for total in [128 * mib, 512 * mib, 1769 * mib, 10240 * mib] {
            let e = EngineSettings::for_memory(total);
            let caches = e.cache_bytes + e.frozen_bytes + e.image_cache_bytes;
            // The reserve stays free (a quarter of a tiny function's memory
            // still goes to caches, or nothing would be cached).
            let kept = MEMORY_RESERVE.min(total * 3 / 4);
            assert!(caches + kept <= total, "{total}: {e:?}");
            assert!(e.cache_bytes > e.frozen_bytes && e.frozen_bytes > e.image_cache_bytes);
            assert_eq!(e.compact_every, DEFAULT_COMPACT_EVERY);
        }
        let small = EngineSettings::for_memory(512 * mib);
        assert!(small.cache_bytes + small.frozen_bytes + small.image_cache_bytes <= 416 * mib);
        let d = EngineSettings::default();
        assert!(
            d.cache_bytes + d.frozen_bytes + d.image_cache_bytes > 512 * mib,
            "the defaults would not fit a 512 MB function"
        );
    }

    fn choose(vars: &[(&str, &str)]) -> Result<BackendChoice, ConfigError> {
        BackendChoice::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn backends_are_chosen_by_environment_and_half_configurations_refused() {
        assert_eq!(choose(&[]).expect("none"), BackendChoice::Embedded);
        assert_eq!(
            choose(&[(ENV_S3_BUCKET, " "), (ENV_DYNAMODB_TABLE, "")]).expect("empty"),
            BackendChoice::Embedded
        );
        assert_eq!(
            choose(&[(ENV_S3_BUCKET, "b"), (ENV_DYNAMODB_TABLE, "t")]).expect("both"),
            BackendChoice::Aws {
                bucket: "b".into(),
                table: "t".into()
            }
        );
        let err = choose(&[(ENV_S3_BUCKET, "b")]).expect_err("bucket only");
        assert!(
            err.to_string().contains(ENV_DYNAMODB_TABLE),
            "the error names what is missing: {err}"
        );
        let err = choose(&[(ENV_DYNAMODB_TABLE, "t")]).expect_err("table only");
        assert!(err.to_string().contains(ENV_S3_BUCKET), "{err}");
    }

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
