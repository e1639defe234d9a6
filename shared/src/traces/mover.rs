//! With Redis and PostgreSQL both configured, traces reach PostgreSQL
//! through Redis: the recorder appends to the streams, and this consumer
//! group (`mirra-postgres` on `{prefix}:all`) moves them into PostgreSQL,
//! acknowledging entries only after the insert committed. Delivery is at
//! least once and the insert idempotent by trace id, so nothing is lost or
//! doubled when a mover dies between commit and `XACK`: entries left pending
//! by a consumer that went away are taken over with `XAUTOCLAIM` once idle
//! for [`CLAIM_IDLE`]. Every instance runs one consumer; they share the work.
//! On AWS Lambda, where nothing runs between invocations, no function runs
//! one in the background: the scheduled reaper moves what is there on each
//! run ([`Mover::scheduled`], [`Mover::move_now`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use super::postgres::PgSink;
use super::redis::{connect, entry_record, RedisSink};
use super::sink::{TraceError, TraceSink};

/// The consumer group's name.
pub const GROUP: &str = "mirra-postgres";
/// Pending entries idle this long belong to a consumer that went away.
pub const CLAIM_IDLE: Duration = Duration::from_secs(60);
/// Entries moved per round, at most.
const COUNT: usize = 512;

pub struct Mover {
    redis: Arc<RedisSink>,
    pg: Arc<PgSink>,
    consumer: String,
    claim_idle: Duration,
    moved: AtomicU64,
    failing: AtomicBool,
    /// Runs as its own task; else it moves only when asked ([`Mover::move_now`]).
    background: bool,
}

/// What `GET /v1/health` says of the mover.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoverHealth {
    pub group: &'static str,
    pub moved: u64,
    pub failing: bool,
}

impl Mover {
    /// Starts this instance's consumer on the current Tokio runtime; it
    /// takes over entries other consumers left pending for `claim_idle`
    /// ([`CLAIM_IDLE`] in a server).
    pub fn start(redis: Arc<RedisSink>, pg: Arc<PgSink>, claim_idle: Duration) -> Arc<Self> {
        let mover = Arc::new(Self::build(redis, pg, claim_idle, true));
        tokio::spawn(mover.clone().run());
        mover
    }

    /// A consumer that moves only when [`move_now`](Self::move_now) is
    /// called: where nothing runs between requests (AWS Lambda), a scheduled
    /// function calls it.
    pub fn scheduled(redis: Arc<RedisSink>, pg: Arc<PgSink>, claim_idle: Duration) -> Arc<Self> {
        Arc::new(Self::build(redis, pg, claim_idle, false))
    }

    fn build(
        redis: Arc<RedisSink>,
        pg: Arc<PgSink>,
        claim_idle: Duration,
        background: bool,
    ) -> Self {
        let consumer = format!(
            "{}-{}-{:04x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "mirra".into()),
            std::process::id(),
            rand::random::<u16>()
        );
        Mover {
            redis,
            pg,
            consumer,
            claim_idle,
            moved: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            background,
        }
    }

    /// Whether it runs as its own task (so a flush may wait for it).
    pub fn in_background(&self) -> bool {
        self.background
    }

    /// Moves what is there now: takes over entries other consumers left
    /// pending for the claim time, then reads new entries until none are
    /// left; answers how many records it moved. While PostgreSQL is down it
    /// keeps retrying, so callers bound it with a timeout; what it read and
    /// did not acknowledge is taken over by a later run.
    pub async fn move_now(&self) -> Result<u64, TraceError> {
        let before = self.moved.load(Ordering::Relaxed);
        let mut conn = connect(self.redis.client(), Duration::from_secs(5)).await?;
        self.create_group(&mut conn).await?;
        self.claim(&mut conn).await?;
        loop {
            let entries = self.read_new(&mut conn, None).await?;
            if entries.is_empty() {
                return Ok(self.moved.load(Ordering::Relaxed) - before);
            }
            self.deliver(&mut conn, &entries).await?;
        }
    }

    pub fn health(&self) -> MoverHealth {
        MoverHealth {
            group: GROUP,
            moved: self.moved.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }

    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.session().await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => {
                    if !self.failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "trace mover (Redis → PostgreSQL) failed; retrying");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// One connection's worth of moving: claims what others left, then reads
    /// new entries until something fails.
    async fn session(&self) -> Result<(), TraceError> {
        let mut conn = connect(self.redis.client(), Duration::from_secs(5)).await?;
        self.create_group(&mut conn).await?;
        let mut claimed_at: Option<tokio::time::Instant> = None;
        loop {
            if claimed_at.is_none_or(|at| at.elapsed() >= self.claim_idle / 2) {
                self.claim(&mut conn).await?;
                claimed_at = Some(tokio::time::Instant::now());
            }
            let block = (self.claim_idle / 2).as_millis().clamp(10, 1000);
            let entries = self
                .read_new(&mut conn, Some(u64::try_from(block).unwrap_or(1000)))
                .await?;
            self.deliver(&mut conn, &entries).await?;
        }
    }

    /// Up to [`COUNT`] entries no consumer of the group has read yet,
    /// waiting up to `block_ms` for some when given.
    async fn read_new(
        &self,
        conn: &mut MultiplexedConnection,
        block_ms: Option<u64>,
    ) -> Result<Vec<StreamId>, TraceError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(COUNT);
        if let Some(ms) = block_ms {
            cmd.arg("BLOCK").arg(ms);
        }
        let reply: Option<StreamReadReply> = cmd
            .arg("STREAMS")
            .arg(self.redis.all_key())
            .arg(">")
            .query_async(conn)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect())
    }

    async fn create_group(&self, conn: &mut MultiplexedConnection) -> Result<(), TraceError> {
        let made: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.redis.all_key())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        match made {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Takes over entries another consumer read and never acknowledged.
    async fn claim(&self, conn: &mut MultiplexedConnection) -> Result<(), TraceError> {
        let mut cursor = "0-0".to_string();
        loop {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(self.redis.all_key())
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(u64::try_from(self.claim_idle.as_millis()).unwrap_or(u64::MAX))
                .arg(&cursor)
                .arg("COUNT")
                .arg(COUNT)
                .query_async(conn)
                .await?;
            if !reply.claimed.is_empty() {
                tracing::info!(
                    entries = reply.claimed.len(),
                    "trace mover took over entries another consumer left"
                );
            }
            self.deliver(conn, &reply.claimed).await?;
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Inserts the entries' records (retrying until PostgreSQL takes them),
    /// then acknowledges the entries.
    async fn deliver(
        &self,
        conn: &mut MultiplexedConnection,
        entries: &[StreamId],
    ) -> Result<(), TraceError> {
        if entries.is_empty() {
            return Ok(());
        }
        let records: Vec<_> = entries.iter().filter_map(entry_record).collect();
        if records.len() < entries.len() {
            tracing::warn!(
                unreadable = entries.len() - records.len(),
                "trace mover skips stream entries that hold no record"
            );
        }
        let mut backoff = Duration::from_millis(50);
        while let Err(e) = self.pg.append(&records).await {
            if !self.failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "trace mover cannot reach PostgreSQL; entries stay pending and are retried");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let _: u64 = redis::cmd("XACK")
            .arg(self.redis.all_key())
            .arg(GROUP)
            .arg(&ids)
            .query_async(conn)
            .await?;
        self.moved
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("trace mover moves again");
        }
        Ok(())
    }

    /// Waits until the group has read and acknowledged every entry added
    /// before this call (tests, and a server about to stop).
    pub async fn drained(&self) -> Result<(), TraceError> {
        let mut conn = self.redis.conn().await?;
        let key = self.redis.all_key();
        let last: String = {
            let reply: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await?;
            match reply.ids.first() {
                Some(e) => e.id.clone(),
                None => return Ok(()),
            }
        };
        loop {
            let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            let done = groups.groups.iter().any(|g| {
                g.name == GROUP && g.pending == 0 && !entry_before(&g.last_delivered_id, &last)
            });
            if done {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether stream entry id `a` (`ms-seq`) comes before `b`.
fn entry_before(a: &str, b: &str) -> bool {
    let parse = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    };
    parse(a) < parse(b)
}
