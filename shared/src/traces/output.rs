//! One sink's own buffer and writer task. The recorder offers each batch to
//! every output; an output keeps records until its sink has stored them, so
//! a sink that is down or slow (Redis, PostgreSQL) holds up nothing else:
//! its records wait in a bounded buffer and are retried with backoff until
//! the sink answers. Only a full buffer drops records — counted per output
//! and logged, never silent. A record the buffer accepted is written once
//! the sink comes back (the contract PostgreSQL's restart test checks).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::record::TraceRecord;
use super::sink::TraceSink;

/// Records one append hands to a sink, at most.
const BATCH: usize = 512;
/// The longest wait between two attempts while a sink fails.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct Output {
    name: &'static str,
    sink: Arc<dyn TraceSink>,
    bound: usize,
    buffer: Mutex<VecDeque<TraceRecord>>,
    wake: Notify,
    /// Records offered so far, and records done (stored or dropped): a flush
    /// waits until `done` reaches what was offered before it.
    offered: AtomicU64,
    done: watch::Sender<u64>,
    dropped: AtomicU64,
    failing: AtomicBool,
}

/// What `GET /v1/health` says of an output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputHealth {
    pub sink: &'static str,
    pub buffered: usize,
    pub bound: usize,
    pub dropped: u64,
    /// The sink's last append failed (it is being retried).
    pub failing: bool,
}

impl Output {
    /// An output over `sink` holding at most `bound` records; its writer
    /// runs on the current Tokio runtime.
    pub fn start(name: &'static str, sink: Arc<dyn TraceSink>, bound: usize) -> Arc<Self> {
        let out = Arc::new(Output {
            name,
            sink,
            bound: bound.max(1),
            buffer: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            offered: AtomicU64::new(0),
            done: watch::channel(0).0,
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        });
        tokio::spawn(out.clone().write());
        out
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn sink(&self) -> &Arc<dyn TraceSink> {
        &self.sink
    }

    /// Takes `records` into the buffer, as many as fit; the rest are dropped
    /// and counted.
    pub fn offer(&self, records: &[TraceRecord]) {
        let n = records.len() as u64;
        let kept = {
            let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
            let room = self.bound.saturating_sub(buffer.len());
            let kept = records.len().min(room);
            buffer.extend(records[..kept].iter().cloned());
            kept
        };
        self.offered.fetch_add(n, Ordering::AcqRel);
        let lost = records.len() - kept;
        if lost > 0 {
            let total = self.dropped.fetch_add(lost as u64, Ordering::Relaxed) + lost as u64;
            self.done.send_modify(|d| *d += lost as u64);
            tracing::warn!(
                sink = self.name,
                dropped = total,
                bound = self.bound,
                "trace buffer full: records dropped"
            );
        }
        if kept > 0 {
            self.wake.notify_one();
        }
    }

    /// Waits until every record offered before this call is stored or
    /// dropped. While the sink is down this waits for it to come back.
    pub async fn flush(&self) {
        let target = self.offered.load(Ordering::Acquire);
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|d| *d >= target).await;
        if let Err(e) = self.sink.sync().await {
            tracing::warn!(sink = self.name, error = %e, "trace sink could not sync");
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn health(&self) -> OutputHealth {
        OutputHealth {
            sink: self.name,
            buffered: self
                .buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            bound: self.bound,
            dropped: self.dropped(),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }

    /// The writer: appends the oldest records, removes them once stored,
    /// and retries a failing sink with backoff (records stay buffered).
    async fn write(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let batch: Vec<TraceRecord> = {
                let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
                buffer.iter().take(BATCH).cloned().collect()
            };
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            match self.sink.append(&batch).await {
                Ok(()) => {
                    self.buffer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .drain(..batch.len());
                    self.done.send_modify(|d| *d += batch.len() as u64);
                    if self.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(sink = self.name, "trace sink answers again");
                    }
                    backoff = Duration::from_millis(50);
                }
                Err(e) => {
                    if !self.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(sink = self.name, error = %e, "trace sink failed; records stay buffered and are retried");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
