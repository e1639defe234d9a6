//! Filesystem [`ObjectStore`]: one file per key under a root directory.
//!
//! A key maps to the path of the same name below the root (`images/ab.db` →
//! `<root>/images/ab.db`). Writes go to a temp file in `<root>/~tmp/` first (same
//! filesystem, so the final step is atomic) and are fsynced before they become
//! visible, which gives `put` its all-or-nothing and crash-survival guarantees and
//! `create` its exactly-one-winner guarantee (`link(2)` refuses an existing name).
//! `~` is not a key character, so no key can ever name a temp file.
//!
//! Limitation of a directory tree: a key cannot be both an object and a path
//! prefix of another key (`a` and `a/b`); writing the second fails with `Backend`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use super::{valid_key, ObjectStore, StorageError, StorageResult};

/// Temp files older than this are leftovers of a crashed writer; `open` removes
/// them. Generous, because another process may share the root and be mid-write.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// How often a write retries when a concurrent `delete` pruned the directory it
/// was about to write into.
const DIR_RACE_RETRIES: usize = 8;

/// Local-disk object store (the embedded default).
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    /// Makes temp names unique within the process; the pid and a random part make
    /// them unique across processes sharing the root.
    counter: AtomicU64,
}

impl FsObjectStore {
    /// Name of the directory under the root that holds in-flight temp files. It is
    /// not a valid key segment, so `list` never shows it and no key can reach it.
    pub const TEMP_DIR: &'static str = "~tmp";

    /// Opens (creating if needed) a store rooted at `root`, and removes temp files
    /// left behind by writers that crashed more than an hour ago.
    pub fn open(root: impl Into<PathBuf>) -> StorageResult<Self> {
        let root = root.into();
        let tmp = root.join(Self::TEMP_DIR);
        fs::create_dir_all(&tmp).map_err(|e| io_err("create store root", &tmp, e))?;
        sweep_stale_temps(&tmp);
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                tmp,
                counter: AtomicU64::new(0),
            }),
        })
    }

    /// The directory this store keeps its objects in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs blocking file I/O off the async worker threads.
    async fn blocking<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> StorageResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StorageError::Backend(format!("filesystem task failed: {e}")))?
    }
}

fn check_key(key: &str) -> StorageResult<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(StorageError::Backend(format!("invalid object key {key:?}")))
    }
}

/// The directory-tree limitation: `a` cannot be an object while `a/…` keys exist.
fn dir_in_the_way(key: &str) -> StorageError {
    StorageError::Backend(format!("object key {key:?} is a directory of other keys"))
}

fn io_err(what: &str, path: &Path, e: io::Error) -> StorageError {
    StorageError::Backend(format!("{what} {}: {e}", path.display()))
}

/// A path component that is not there as the kind we need (a missing file, a
/// directory where a file was asked for, a file where a directory was expected)
/// means "no such object".
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory
    )
}

/// Best effort: a failure to sweep must not stop the store from opening.
fn sweep_stale_temps(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes a directory's entries (a rename, a link, a new subdirectory) durable.
fn sync_dir(dir: &Path) -> StorageResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory", dir, e))
}

impl Inner {
    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Writes `bytes` to a fresh temp file and fsyncs it, so whatever name it is
    /// later renamed or linked to never shows a partial object.
    fn write_temp(&self, bytes: &[u8]) -> StorageResult<PathBuf> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{n}-{:016x}", std::process::id(), rand::random::<u64>());
        let path = self.tmp.join(name);
        let result = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            });
        match result {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(io_err("write temp file", &path, e))
            }
        }
    }

    /// Creates the key's parent directories, fsyncing the parent of each directory
    /// it creates so the new path survives a crash.
    fn ensure_parent(&self, key: &str) -> StorageResult<PathBuf> {
        let mut dir = self.root.clone();
        let mut segments: Vec<&str> = key.split('/').collect();
        segments.pop();
        for seg in segments {
            let parent = dir.clone();
            dir.push(seg);
            match fs::create_dir(&dir) {
                Ok(()) => sync_dir(&parent)?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(io_err("create directory", &dir, e)),
            }
        }
        Ok(dir)
    }

    fn get(&self, key: &str) -> StorageResult<Bytes> {
        let path = self.path_of(key);
        match fs::read(&path) {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if is_missing(&e) => Err(StorageError::NotFound(key.to_owned())),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> StorageResult<()> {
        let temp = self.write_temp(bytes)?;
        let result = self.publish(key, |final_path| fs::rename(&temp, final_path));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result.map_err(|e| match e {
            // rename(2) replaces files; it only refuses when a directory is in the way.
            StorageError::AlreadyExists(_) => dir_in_the_way(key),
            e => e,
        })
    }

    fn create(&self, key: &str, bytes: &[u8]) -> StorageResult<()> {
        let temp = self.write_temp(bytes)?;
        let result = self.publish(key, |final_path| fs::hard_link(&temp, final_path));
        // Linked or not, the temp name has served its purpose.
        let _ = fs::remove_file(&temp);
        match result {
            Err(StorageError::AlreadyExists(_)) if self.path_of(key).is_dir() => {
                Err(dir_in_the_way(key))
            }
            other => other,
        }
    }

    /// Makes a fully written temp file visible under `key` with `step` (rename or
    /// link), then fsyncs the directory so the new name survives a crash. Retries
    /// when a concurrent `delete` removed the (empty) parent in between.
    fn publish(&self, key: &str, step: impl Fn(&Path) -> io::Result<()>) -> StorageResult<()> {
        let final_path = self.path_of(key);
        let mut attempt = 0;
        loop {
            let dir = self.ensure_parent(key)?;
            match step(&final_path) {
                Ok(()) => return sync_dir(&dir),
                Err(e) if e.kind() == ErrorKind::NotFound && attempt < DIR_RACE_RETRIES => {
                    attempt += 1;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(StorageError::AlreadyExists(key.to_owned()))
                }
                Err(e) => return Err(io_err("publish", &final_path, e)),
            }
        }
    }

    fn delete(&self, key: &str) -> StorageResult<()> {
        let path = self.path_of(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(io_err("delete", &path, e)),
        }
        // Prune directories the delete left empty, so deleted sessions and
        // snapshots leave nothing behind for `list` to walk. `remove_dir` only
        // removes empty directories, so a concurrent writer loses nothing (its
        // `publish` recreates the directory and retries).
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        // Walk only the deepest directory the prefix pins down. Its part before the
        // last `/` is made of whole key segments of any key that matches, so when
        // that part is not itself a valid key (`../`, `/x`), no key can match.
        let (start, base) = match prefix.rfind('/') {
            None => (self.root.clone(), String::new()),
            Some(i) if valid_key(&prefix[..i]) => {
                (self.path_of(&prefix[..i]), format!("{}/", &prefix[..i]))
            }
            Some(_) => return Ok(Vec::new()),
        };
        let mut keys = Vec::new();
        walk(&start, &base, prefix, &mut keys)?;
        // Byte order over whole keys (`a/b` sorts after `a.b` and before `ab`),
        // which directory order alone would not give.
        keys.sort_unstable();
        Ok(keys)
    }
}

/// Collects the keys under `dir` (whose keys start with `base`) that start with
/// `prefix`.
fn walk(dir: &Path, base: &str, prefix: &str, keys: &mut Vec<String>) -> StorageResult<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Missing, or pruned by a concurrent delete: nothing under it.
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(io_err("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list", dir, e))?;
        // Temp dir, stray files with odd names, non-UTF-8 names: not keys.
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !valid_key(&name) {
            continue;
        }
        let key = format!("{base}{name}");
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(io_err("list", &entry.path(), e)),
        };
        if file_type.is_dir() {
            let sub = format!("{key}/");
            // Descend only where a matching key can live.
            if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                walk(&entry.path(), &sub, prefix, keys)?;
            }
        } else if file_type.is_file() && key.starts_with(prefix) {
            keys.push(key);
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn get(&self, key: &str) -> StorageResult<Bytes> {
        check_key(key)?;
        let key = key.to_owned();
        self.blocking(move |s| s.get(&key)).await
    }

    async fn put(&self, key: &str, bytes: Bytes) -> StorageResult<()> {
        check_key(key)?;
        let key = key.to_owned();
        self.blocking(move |s| s.put(&key, &bytes)).await
    }

    async fn create(&self, key: &str, bytes: Bytes) -> StorageResult<()> {
        check_key(key)?;
        let key = key.to_owned();
        self.blocking(move |s| s.create(&key, &bytes)).await
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let prefix = prefix.to_owned();
        self.blocking(move |s| s.list(&prefix)).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        check_key(key)?;
        let key = key.to_owned();
        self.blocking(move |s| s.delete(&key)).await
    }
}
