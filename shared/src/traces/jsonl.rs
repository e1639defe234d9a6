//! The JSONL observer stream, always on in `mirra serve`:
//! `<data-dir>/.sessions/<utc-yyyy-mm-dd>/<session_id>.jsonl`, one record per
//! line, the folder chosen by the UTC date of each record (a session crossing
//! midnight writes into two folders), every line carrying its `session`.
//! A batch's lines for one file are written with one `write`, so `append`
//! returning means the records survive the server process; the files are
//! synced to disk at most [`SYNC_EVERY`] later with a later batch, and on
//! every flush (tests, a server stopping), as Redis's `appendfsync everysec` does: a sync per
//! batch, on the disk the mirrors' own commits sync on, slowed every
//! request (PostgreSQL is the durable history). A reader skips a torn last
//! line. Idempotent by id: the stream is append-only, so a record appended
//! twice is listed once. Files stay open between batches (at most
//! [`OPEN_FILES`]).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::record::TraceRecord;
use super::sink::{TraceError, TracePage, TraceQuery, TraceSink};
use crate::session::id::is_session_id;

/// The longest a written record waits to be synced to disk.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);
/// Files kept open between batches, at most.
pub const OPEN_FILES: usize = 256;

pub struct JsonlSink {
    root: PathBuf,
    files: Arc<Mutex<Files>>,
}

/// The open files, which of them hold unsynced lines, and the last sync.
struct Files {
    open: HashMap<PathBuf, File>,
    dirty: HashSet<PathBuf>,
    synced: Instant,
}

impl Files {
    fn sync(&mut self) -> std::io::Result<()> {
        for path in self.dirty.drain() {
            if let Some(f) = self.open.get(&path) {
                f.sync_data()?;
            }
        }
        self.synced = Instant::now();
        Ok(())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

impl JsonlSink {
    /// The stream under `data_dir/.sessions`.
    pub fn new(data_dir: &Path) -> Self {
        JsonlSink {
            root: data_dir.join(".sessions"),
            files: Arc::new(Mutex::new(Files {
                open: HashMap::new(),
                dirty: HashSet::new(),
                synced: Instant::now(),
            })),
        }
    }

    /// Where a record of `session` at `time_ms` goes.
    pub fn file_for(&self, session: &str, time_ms: i64) -> PathBuf {
        let date = &super::record::rfc3339(time_ms)[..10];
        self.root.join(date).join(format!("{session}.jsonl"))
    }

    /// Every record of `session`, in id order, each once (off the async
    /// threads: file reads block).
    async fn read_all(&self, session: &str) -> Result<Vec<TraceRecord>, TraceError> {
        let (root, session) = (self.root.clone(), session.to_string());
        tokio::task::spawn_blocking(move || read_all(&root, &session))
            .await
            .map_err(|e| TraceError::Unavailable(e.to_string()))?
    }
}

fn read_all(root: &Path, session: &str) -> Result<Vec<TraceRecord>, TraceError> {
    if !is_session_id(session) {
        return Ok(Vec::new());
    }
    let mut days: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    days.sort();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for day in days {
        let text = match std::fs::read_to_string(day.join(format!("{session}.jsonl"))) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for line in text.lines() {
            // A torn last line (a crash mid-write) is skipped.
            let Ok(r) = serde_json::from_str::<TraceRecord>(line) else {
                continue;
            };
            if r.session == session && seen.insert(r.id.clone()) {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[async_trait]
impl TraceSink for JsonlSink {
    async fn append(&self, records: &[TraceRecord]) -> Result<(), TraceError> {
        // Each file's lines, in the order given, as one buffer.
        let mut by_file: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for r in records {
            if !is_session_id(&r.session) {
                continue;
            }
            let path = self.file_for(&r.session, r.time_ms);
            let i = match by_file.iter().position(|(p, _)| *p == path) {
                Some(i) => i,
                None => {
                    by_file.push((path, Vec::new()));
                    by_file.len() - 1
                }
            };
            let buf = &mut by_file[i].1;
            serde_json::to_writer(&mut *buf, r)?;
            buf.push(b'\n');
        }
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || -> Result<(), TraceError> {
            let mut files = files.lock().unwrap_or_else(PoisonError::into_inner);
            for (path, lines) in by_file {
                if !files.open.contains_key(&path) {
                    if files.open.len() >= OPEN_FILES {
                        // Closing files drops their handles: sync them first.
                        files.sync()?;
                        files.open.clear();
                    }
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)?;
                    files.open.insert(path.clone(), f);
                }
                if let Some(f) = files.open.get_mut(&path) {
                    if let Err(e) = f.write_all(&lines) {
                        // Opened again on the retry (the file may be gone).
                        files.open.remove(&path);
                        return Err(e.into());
                    }
                }
                files.dirty.insert(path);
            }
            if files.synced.elapsed() >= SYNC_EVERY {
                files.sync()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| TraceError::Unavailable(e.to_string()))?
    }

    /// Syncs every written line to disk now.
    async fn sync(&self) -> Result<(), TraceError> {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || {
            files.lock().unwrap_or_else(PoisonError::into_inner).sync()
        })
        .await
        .map_err(|e| TraceError::Unavailable(e.to_string()))?
        .map_err(TraceError::from)
    }

    async fn list(&self, q: &TraceQuery) -> Result<TracePage, TraceError> {
        Ok(TracePage::of(self.read_all(&q.session).await?, q))
    }

    async fn get(&self, session: &str, id: &str) -> Result<Option<TraceRecord>, TraceError> {
        let all = self.read_all(session).await?;
        Ok(all.into_iter().find(|r| r.id == id))
    }
}
