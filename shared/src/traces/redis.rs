//! Redis Streams: live fan-out of traces across instances. Each batch is one
//! atomic pipeline of `XADD`s into two streams, each trimmed with
//! `MAXLEN ~`:
//!
//! * `{prefix}:s:{session}` — the session's recent records, which
//!   `traces/stream` (SSE) and `mirra logs --follow` read with `XREAD BLOCK`
//!   whichever instance served the request;
//! * `{prefix}:all` — every record, which the mover's consumer group
//!   (`mover.rs`) carries into PostgreSQL.
//!
//! Entries hold the trace id (`id`) and the record as JSON (`r`). Redis is a
//! window, not history: `list` and `get` read the session stream (deduplicated
//! by trace id, so an at-least-once retry lists once); durable history is
//! PostgreSQL's.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::AsyncConnectionConfig;

use super::record::TraceRecord;
use super::sink::{TraceError, TracePage, TraceQuery, TraceSink};

/// The key prefix `mirra serve` uses.
pub const PREFIX: &str = "mirra:traces";
/// Entries kept per session stream, about (`MAXLEN ~`).
pub const SESSION_MAXLEN: usize = 10_000;
/// Entries kept in the stream the mover reads, about: room for minutes of
/// full load if PostgreSQL is away.
pub const ALL_MAXLEN: usize = 1_000_000;

pub struct RedisSink {
    client: redis::Client,
    prefix: String,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl From<redis::RedisError> for TraceError {
    fn from(e: redis::RedisError) -> Self {
        TraceError::Unavailable(format!("redis: {e}"))
    }
}

impl RedisSink {
    /// A sink on `url` (`redis://127.0.0.1:6379`) under `prefix`; connects on
    /// first use, so a Redis that is down does not stop the server starting.
    pub fn new(url: &str, prefix: &str) -> Result<Self, TraceError> {
        Ok(RedisSink {
            client: redis::Client::open(url)?,
            prefix: prefix.to_string(),
            conn: Mutex::new(None),
        })
    }

    pub fn session_key(&self, session: &str) -> String {
        format!("{}:s:{session}", self.prefix)
    }

    pub fn all_key(&self) -> String {
        format!("{}:all", self.prefix)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A shared connection, made again after a failure.
    pub async fn conn(&self) -> Result<MultiplexedConnection, TraceError> {
        if let Some(c) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(c);
        }
        let c = connect(&self.client, Duration::from_secs(2)).await?;
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(c.clone());
        Ok(c)
    }

    fn forget(&self) {
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn session_records(&self, session: &str) -> Result<Vec<TraceRecord>, TraceError> {
        let mut conn = self.conn().await?;
        let reply: Result<StreamRangeReply, _> = redis::cmd("XRANGE")
            .arg(self.session_key(session))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await;
        let reply = reply.inspect_err(|_| self.forget())?;
        let mut seen = HashSet::new();
        let mut out: Vec<TraceRecord> = reply
            .ids
            .iter()
            .filter_map(entry_record)
            .filter(|r| r.session == session && seen.insert(r.id.clone()))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Deletes every stream under this sink's prefix (tests and benchmarks
    /// clean up with it); answers how many.
    pub async fn delete_all(&self) -> Result<usize, TraceError> {
        let mut conn = self.conn().await?;
        let (mut cursor, mut deleted) = (0u64, 0usize);
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let n: usize = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Records of `session` added after the stream entry `from` (`$` for
    /// "from now on"), waiting up to `block` for one: what a live tail reads.
    /// Answers the records and the last entry id read.
    pub async fn follow(
        &self,
        conn: &mut MultiplexedConnection,
        session: &str,
        from: &str,
        block: Duration,
    ) -> Result<(Vec<TraceRecord>, String), TraceError> {
        let reply: StreamReadReply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(512)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(self.session_key(session))
            .arg(from)
            .query_async(conn)
            .await?;
        let mut last = from.to_string();
        let mut out = Vec::new();
        for key in reply.keys {
            for entry in key.ids {
                last.clone_from(&entry.id);
                out.extend(entry_record(&entry));
            }
        }
        Ok((out, last))
    }

    /// The id of the session stream's newest entry (`0` when empty): a live
    /// tail that starts here misses nothing appended after it.
    pub async fn last_entry(
        &self,
        conn: &mut MultiplexedConnection,
        session: &str,
    ) -> Result<String, TraceError> {
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.session_key(session))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(conn)
            .await?;
        Ok(reply
            .ids
            .first()
            .map_or_else(|| "0".to_string(), |e| e.id.clone()))
    }
}

/// A connection for a caller of its own (a live tail's blocking reads must
/// not hold up the shared one): its reads may wait up to `response`.
pub async fn connect(
    client: &redis::Client,
    response: Duration,
) -> Result<MultiplexedConnection, TraceError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(response));
    Ok(client
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

/// The record an entry holds (`r`), if it reads.
pub fn entry_record(entry: &StreamId) -> Option<TraceRecord> {
    let json: String = entry.get("r")?;
    serde_json::from_str(&json).ok()
}

#[async_trait]
impl TraceSink for RedisSink {
    async fn append(&self, records: &[TraceRecord]) -> Result<(), TraceError> {
        if records.is_empty() {
            return Ok(());
        }
        let all = self.all_key();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for r in records {
            let json = serde_json::to_string(r)?;
            for (key, maxlen) in [
                (self.session_key(&r.session), SESSION_MAXLEN),
                (all.clone(), ALL_MAXLEN),
            ] {
                pipe.cmd("XADD")
                    .arg(key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(maxlen)
                    .arg("*")
                    .arg("id")
                    .arg(&r.id)
                    .arg("r")
                    .arg(&json)
                    .ignore();
            }
        }
        let mut conn = self.conn().await?;
        pipe.query_async::<()>(&mut conn)
            .await
            .inspect_err(|_| self.forget())?;
        Ok(())
    }

    async fn list(&self, q: &TraceQuery) -> Result<TracePage, TraceError> {
        Ok(TracePage::of(self.session_records(&q.session).await?, q))
    }

    async fn get(&self, session: &str, id: &str) -> Result<Option<TraceRecord>, TraceError> {
        Ok(self
            .session_records(session)
            .await?
            .into_iter()
            .find(|r| r.id == id))
    }
}
