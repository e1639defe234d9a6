//! The JSONL observer stream, always on in `mirra serve`:
//! `<data-dir>/.sessions/<utc-yyyy-mm-dd>/<session_id>.jsonl`, one record per
//! line, the folder chosen by the UTC date of each record (a session crossing
//! midnight writes into two folders), every line carrying its `session`.
//! Appends are whole lines written with one `write` each and synced before
//! `append` returns; a reader skips a torn last line. Idempotent by id: the
//! stream is append-only, so a record appended twice is listed once.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::record::TraceRecord;
use super::sink::{TraceError, TracePage, TraceQuery, TraceSink};
use crate::session::id::is_session_id;

pub struct JsonlSink {
    root: PathBuf,
}

impl JsonlSink {
    /// The stream under `data_dir/.sessions`.
    pub fn new(data_dir: &Path) -> Self {
        JsonlSink {
            root: data_dir.join(".sessions"),
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
        let mut lines: Vec<(PathBuf, String)> = Vec::with_capacity(records.len());
        for r in records {
            if !is_session_id(&r.session) {
                continue;
            }
            let mut line = serde_json::to_string(r)?;
            line.push('\n');
            lines.push((self.file_for(&r.session, r.time_ms), line));
        }
        tokio::task::spawn_blocking(move || -> Result<(), TraceError> {
            let mut opened: Vec<(PathBuf, std::fs::File)> = Vec::new();
            for (path, line) in lines {
                let i = match opened.iter().position(|(p, _)| *p == path) {
                    Some(i) => i,
                    None => {
                        if let Some(dir) = path.parent() {
                            std::fs::create_dir_all(dir)?;
                        }
                        let f = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)?;
                        opened.push((path, f));
                        opened.len() - 1
                    }
                };
                opened[i].1.write_all(line.as_bytes())?;
            }
            for (_, f) in &opened {
                f.sync_data()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| TraceError::Unavailable(e.to_string()))?
    }

    async fn list(&self, q: &TraceQuery) -> Result<TracePage, TraceError> {
        Ok(TracePage::of(self.read_all(&q.session).await?, q))
    }

    async fn get(&self, session: &str, id: &str) -> Result<Option<TraceRecord>, TraceError> {
        let all = self.read_all(session).await?;
        Ok(all.into_iter().find(|r| r.id == id))
    }
}
