//! Following a session's records as they happen (`traces/stream`, `mirra
//! logs --follow`): from Redis when the server has it, so a tail sees what
//! every instance records, else from this process's writer.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::broadcast;

use super::record::TraceRecord;
use super::redis::{connect, RedisSink};
use super::sink::{TraceError, TraceQuery};
use super::Traces;

/// How long one read waits for a record before the tail says it is alive.
pub const IDLE: Duration = Duration::from_secs(15);

/// What a tail yields next.
#[derive(Debug)]
pub enum Next {
    Record(Box<TraceRecord>),
    /// Nothing for [`IDLE`]: time for a keep-alive.
    Idle,
    /// This tail fell behind the process's writer and skipped `n` batches.
    Lagged(u64),
}

enum Source {
    Local(broadcast::Receiver<Arc<[TraceRecord]>>),
    Redis {
        sink: Arc<RedisSink>,
        conn: MultiplexedConnection,
        from: String,
    },
}

pub struct Tail {
    source: Source,
    q: TraceQuery,
    ready: VecDeque<TraceRecord>,
    /// Records up to this id were sent already (by the catch-up page).
    seen_up_to: Option<String>,
}

impl Tail {
    /// A tail of the records `q` matches (its session, workspace,
    /// incarnation and filters; not its cursor or limit) made from now on.
    pub async fn start(traces: &Traces, q: TraceQuery) -> Result<Self, TraceError> {
        let source = match traces.redis() {
            Some(sink) => {
                let mut conn = connect(sink.client(), IDLE + Duration::from_secs(5)).await?;
                let from = sink.last_entry(&mut conn, &q.session).await?;
                Source::Redis {
                    sink: sink.clone(),
                    conn,
                    from,
                }
            }
            None => Source::Local(traces.subscribe()),
        };
        Ok(Tail {
            source,
            q,
            ready: VecDeque::new(),
            seen_up_to: None,
        })
    }

    /// Skips records up to `id` (a catch-up page already sent them).
    pub fn seen_up_to(&mut self, id: String) {
        self.seen_up_to = Some(id);
    }

    pub async fn next(&mut self) -> Result<Next, TraceError> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Ok(Next::Record(Box::new(r)));
            }
            let batch: Vec<TraceRecord> = match &mut self.source {
                Source::Local(rx) => match tokio::time::timeout(IDLE, rx.recv()).await {
                    Err(_) => return Ok(Next::Idle),
                    Ok(Ok(batch)) => batch.to_vec(),
                    Ok(Err(broadcast::error::RecvError::Lagged(n))) => return Ok(Next::Lagged(n)),
                    Ok(Err(broadcast::error::RecvError::Closed)) => {
                        return Err(TraceError::Unavailable("the trace writer stopped".into()))
                    }
                },
                Source::Redis { sink, conn, from } => {
                    let (records, last) = sink.follow(conn, &self.q.session, from, IDLE).await?;
                    *from = last;
                    if records.is_empty() {
                        return Ok(Next::Idle);
                    }
                    records
                }
            };
            let (q, seen) = (&self.q, &self.seen_up_to);
            self.ready.extend(batch.into_iter().filter(|r| {
                r.session == q.session
                    && q.matches(r)
                    && seen.as_deref().is_none_or(|s| r.id.as_str() > s)
            }));
        }
    }
}
