//! The process's trace pipeline: the layer hands each record over without
//! waiting (a bounded queue), and one writer task fills in the session's
//! incarnation and workspace, batches, and appends to the sink. Nothing is
//! in the request's way: a full queue drops the record and counts it
//! (`dropped`, also logged), and a sink that fails is retried a few times
//! before the batch is dropped and counted — never silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::record::TraceRecord;
use super::sink::TraceSink;
use crate::session::{Clock, Session, Sessions};

/// Records waiting for the writer, at most.
pub const QUEUE: usize = 8192;
/// Records appended in one batch, at most.
const BATCH: usize = 512;
/// Attempts of one batch before it is dropped.
const ATTEMPTS: u32 = 4;

enum Msg {
    Record(Box<Raw>),
    Flush(oneshot::Sender<()>),
}

/// A record as the request leaves it: its bodies still raw (shared bytes,
/// no copy), redacted and cut by the writer, off the request's path.
pub struct Raw {
    pub record: TraceRecord,
    pub request: bytes::Bytes,
    pub response: bytes::Bytes,
}

pub struct Traces {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
    sink: Arc<dyn TraceSink>,
    clock: Arc<dyn Clock>,
}

impl Traces {
    /// Starts the writer (on the current Tokio runtime) over `sink`;
    /// `sessions` names each record's incarnation and workspace, and sends
    /// its lifecycle events here from now on.
    pub fn start(sink: Arc<dyn TraceSink>, sessions: Arc<Sessions>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let clock = sessions.clock().clone();
        tokio::spawn(writer(rx, sink.clone(), sessions.clone(), dropped.clone()));
        let traces = Arc::new(Traces {
            tx,
            dropped,
            sink,
            clock,
        });
        sessions.set_traces(traces.clone());
        traces
    }

    /// Hands `record` to the writer without waiting; a full queue drops it.
    pub fn record(&self, record: TraceRecord) {
        self.record_raw(Raw {
            record,
            request: bytes::Bytes::new(),
            response: bytes::Bytes::new(),
        });
    }

    /// [`record`](Self::record) with the bodies still to be kept.
    pub fn record_raw(&self, raw: Raw) {
        if self.tx.try_send(Msg::Record(Box::new(raw))).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "trace queue full: records dropped");
            }
        }
    }

    /// A lifecycle event of `session` (the sessions service calls this):
    /// `kind` with what it says beyond that.
    pub fn lifecycle(&self, session: &Session, kind: &str, detail: serde_json::Value) {
        let now = self.now_ms();
        self.record(TraceRecord {
            id: super::record::new_id(now),
            kind: kind.to_string(),
            session: session.id.clone(),
            incarnation: Some(session.incarnation.clone()),
            workspace: Some(session.workspace.clone()),
            mirror: None,
            time_ms: now,
            time: super::record::rfc3339(now),
            method: None,
            path: None,
            query: None,
            status: None,
            latency_us: None,
            request_body: None,
            request_truncated: false,
            response_body: None,
            response_truncated: false,
            request_id: None,
            idempotency_key: None,
            detail: Some(detail),
        });
    }

    /// Something the mirror did on its own for `session` (a webhook or
    /// status-callback attempt by the dispatcher): `kind`, the receiver's
    /// status and time, what was sent and answered (redacted by the writer).
    #[allow(clippy::too_many_arguments)]
    pub fn background(
        &self,
        session: &Session,
        mirror: &str,
        kind: &str,
        status: Option<u16>,
        latency_ms: i64,
        sent: bytes::Bytes,
        answered: bytes::Bytes,
        detail: serde_json::Value,
    ) {
        let now = self.now_ms();
        self.record_raw(Raw {
            record: TraceRecord {
                id: super::record::new_id(now),
                kind: kind.to_string(),
                session: session.id.clone(),
                incarnation: Some(session.incarnation.clone()),
                workspace: Some(session.workspace.clone()),
                mirror: Some(mirror.to_string()),
                time_ms: now,
                time: super::record::rfc3339(now),
                method: Some("POST".into()),
                path: None,
                query: None,
                status,
                latency_us: u64::try_from(latency_ms.saturating_mul(1000)).ok(),
                request_body: None,
                request_truncated: false,
                response_body: None,
                response_truncated: false,
                request_id: None,
                idempotency_key: None,
                detail: Some(detail),
            },
            request: sent,
            response: answered,
        });
    }

    /// Records dropped so far (queue full, or a sink that kept failing).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn sink(&self) -> &Arc<dyn TraceSink> {
        &self.sink
    }

    /// Unix milliseconds by the sessions' clock (tests move it).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Waits until everything handed over before this call is appended (or
    /// dropped): for tests and for a process about to stop.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Msg>,
    sink: Arc<dyn TraceSink>,
    sessions: Arc<Sessions>,
    dropped: Arc<AtomicU64>,
) {
    // Session id → (incarnation, workspace), for the records of live sessions.
    let mut known: HashMap<String, (String, String)> = HashMap::new();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut waiting = Vec::new();
        let mut take = |m: Msg, batch: &mut Vec<TraceRecord>| match m {
            Msg::Record(raw) => batch.push(raw.keep()),
            Msg::Flush(done) => waiting.push(done),
        };
        take(first, &mut batch);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => take(m, &mut batch),
                Err(_) => break,
            }
        }
        if known.len() > 4096 {
            known.clear();
        }
        for r in &mut batch {
            if !known.contains_key(&r.session) {
                if let Some(s) = sessions.find(&r.session).await {
                    known.insert(r.session.clone(), (s.incarnation, s.workspace));
                }
            }
            if let Some((inc, ws)) = known.get(&r.session) {
                r.incarnation.get_or_insert_with(|| inc.clone());
                r.workspace.get_or_insert_with(|| ws.clone());
            }
        }
        if !batch.is_empty() {
            append(&*sink, &batch, &dropped).await;
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

async fn append(sink: &dyn TraceSink, batch: &[TraceRecord], dropped: &AtomicU64) {
    for attempt in 1..=ATTEMPTS {
        match sink.append(batch).await {
            Ok(()) => return,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "trace sink failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            Err(e) => {
                let n =
                    dropped.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64;
                tracing::error!(error = %e, dropped = n, "trace sink failed; batch dropped");
            }
        }
    }
}

impl Raw {
    /// The record with its bodies redacted and cut (`layer::kept`).
    fn keep(self) -> TraceRecord {
        let mut r = self.record;
        if !self.request.is_empty() {
            (r.request_body, r.request_truncated) = super::layer::kept(&self.request);
        }
        if !self.response.is_empty() {
            (r.response_body, r.response_truncated) = super::layer::kept(&self.response);
        }
        r
    }
}
