//! The process's trace pipeline: the layer hands each record over without
//! waiting (a bounded queue), and one writer task redacts the bodies, fills
//! in the session's incarnation and workspace, shows the batch to live
//! tails in this process, and offers it to every output (`output.rs`: one
//! buffer and writer per sink, so a slow sink holds up no other). Nothing
//! is in the request's way: a full queue or a full output buffer drops
//! records and counts them (`GET /v1/health`, and a log line) — never
//! silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::mover::Mover;
use super::output::Output;
use super::record::TraceRecord;
use super::redis::RedisSink;
use super::sink::TraceSink;
use crate::session::{Clock, Session, Sessions};

/// Records waiting for the writer, at most.
pub const QUEUE: usize = 8192;
/// Records each sink's buffer holds by default while the sink is slow or
/// down (for Redis and PostgreSQL: `MIRRA_TRACE_BUFFER`).
pub const BUFFER: usize = 100_000;
/// Records taken from the queue per round, at most.
const BATCH: usize = 512;
/// How long the writer waits after a record for more to come with it.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
/// Batches a live tail in this process may fall behind before it skips.
const LIVE: usize = 1024;

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

/// Where the records go and what reads them back.
pub struct Setup {
    /// Each sink is written from its own buffer of so many records.
    pub sinks: Vec<(&'static str, Arc<dyn TraceSink>, usize)>,
    /// Answers `GET …/traces` (the first sink when not set).
    pub reader: Option<Arc<dyn TraceSink>>,
    /// Live tails read Redis (every instance's records) instead of this
    /// process's own.
    pub redis: Option<Arc<RedisSink>>,
    /// The Redis → PostgreSQL mover: a flush waits for it too.
    pub mover: Option<Arc<Mover>>,
    /// Every request waits until its records are in the sinks before it
    /// answers (AWS Lambda: nothing runs after a response returns).
    pub flush_each_request: bool,
}

impl Setup {
    /// One sink that also answers reads.
    pub fn single(name: &'static str, sink: Arc<dyn TraceSink>) -> Self {
        Setup {
            sinks: vec![(name, sink, BUFFER)],
            reader: None,
            redis: None,
            mover: None,
            flush_each_request: false,
        }
    }
}

pub struct Traces {
    tx: mpsc::Sender<Msg>,
    /// Records the full queue dropped.
    dropped: Arc<AtomicU64>,
    outputs: Vec<Arc<Output>>,
    reader: Arc<dyn TraceSink>,
    live: broadcast::Sender<Arc<[TraceRecord]>>,
    redis: Option<Arc<RedisSink>>,
    mover: Option<Arc<Mover>>,
    flush_each_request: bool,
    clock: Arc<dyn Clock>,
}

impl Traces {
    /// Starts the writer (on the current Tokio runtime) over one `sink`
    /// that also answers reads; `sessions` names each record's incarnation
    /// and workspace, and sends its lifecycle events here from now on.
    pub fn start(sink: Arc<dyn TraceSink>, sessions: Arc<Sessions>) -> Arc<Self> {
        Self::start_with(Setup::single("jsonl", sink), sessions)
    }

    /// [`start`](Self::start) with several sinks, Redis tails and a mover.
    /// Panics when `setup` has no sink and no reader.
    pub fn start_with(setup: Setup, sessions: Arc<Sessions>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let clock = sessions.clock().clone();
        let outputs: Vec<Arc<Output>> = setup
            .sinks
            .iter()
            .map(|(name, sink, bound)| Output::start(name, sink.clone(), *bound))
            .collect();
        let reader = setup
            .reader
            .or_else(|| setup.sinks.first().map(|(_, s, _)| s.clone()))
            .expect("a trace setup has a sink");
        let live = broadcast::channel(LIVE).0;
        // Each request waits for its own records in the flush-each-request
        // mode: no lingering there.
        let linger = if setup.flush_each_request {
            std::time::Duration::ZERO
        } else {
            LINGER
        };
        tokio::spawn(writer(
            rx,
            outputs.clone(),
            live.clone(),
            sessions.clone(),
            linger,
        ));
        let traces = Arc::new(Traces {
            tx,
            dropped,
            outputs,
            reader,
            live,
            redis: setup.redis,
            mover: setup.mover,
            flush_each_request: setup.flush_each_request,
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
            incarnation: Some(session.incarnation.clone()),
            workspace: Some(session.workspace.clone()),
            detail: Some(detail),
            ..TraceRecord::new(kind, &session.id, now)
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
                incarnation: Some(session.incarnation.clone()),
                workspace: Some(session.workspace.clone()),
                mirror: Some(mirror.to_string()),
                method: Some("POST".into()),
                status,
                latency_us: u64::try_from(latency_ms.saturating_mul(1000)).ok(),
                detail: Some(detail),
                ..TraceRecord::new(kind, &session.id, now)
            },
            request: sent,
            response: answered,
        });
    }

    /// Records dropped so far (queue full, or an output's buffer full).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.outputs.iter().map(|o| o.dropped()).sum::<u64>()
    }

    /// Whether each request waits for its records to be written
    /// ([`Setup::flush_each_request`]).
    pub fn flushes_each_request(&self) -> bool {
        self.flush_each_request
    }

    /// Records waiting in the queue for the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// What `GET /v1/health` shows: drops, and each sink's buffer.
    pub fn health(&self) -> serde_json::Value {
        serde_json::json!({
            "dropped": self.dropped(),
            "queue": QUEUE,
            "queued": self.queued(),
            "queue_dropped": self.dropped.load(Ordering::Relaxed),
            "sinks": self.outputs.iter().map(|o| o.health()).collect::<Vec<_>>(),
            "mover": self.mover.as_ref().map(|m| m.health()),
        })
    }

    /// The sink that answers reads.
    pub fn sink(&self) -> &Arc<dyn TraceSink> {
        &self.reader
    }

    /// Redis, when live tails read it.
    pub fn redis(&self) -> Option<&Arc<RedisSink>> {
        self.redis.as_ref()
    }

    /// The Redis → PostgreSQL mover, when both are set.
    pub fn mover(&self) -> Option<&Arc<Mover>> {
        self.mover.as_ref()
    }

    /// This process's records as the writer has them, batch by batch.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<[TraceRecord]>> {
        self.live.subscribe()
    }

    /// Unix milliseconds by the sessions' clock (tests move it).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Waits until everything handed over before this call is stored in
    /// every sink (or dropped), PostgreSQL included when the mover carries
    /// it in the background (a scheduled mover's records reach PostgreSQL
    /// on its next run): for tests and for a process about to stop. While a
    /// sink is down this waits for it.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
        for out in &self.outputs {
            out.flush().await;
        }
        if let Some(mover) = self.mover.as_ref().filter(|m| m.in_background()) {
            while let Err(e) = mover.drained().await {
                tracing::warn!(error = %e, "waiting for the trace mover");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Msg>,
    outputs: Vec<Arc<Output>>,
    live: broadcast::Sender<Arc<[TraceRecord]>>,
    sessions: Arc<Sessions>,
    linger: std::time::Duration,
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
        let flushing = matches!(first, Msg::Flush(_));
        take(first, &mut batch);
        if !flushing && !linger.is_zero() {
            // Lingers a moment so that one wake-up carries many records: at
            // a steady trickle of requests, a wake-up (and a write) per
            // record took CPU from the requests themselves on two cores.
            tokio::time::sleep(linger).await;
        }
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
            for out in &outputs {
                out.offer(&batch);
            }
            // No tail listening is no error.
            let _ = live.send(batch.into());
        }
        for done in waiting {
            let _ = done.send(());
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
