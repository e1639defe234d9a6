//! Which sinks a server writes, from its settings: the JSONL observer stream
//! under the data dir (always, in `mirra serve`), Redis Streams with
//! `MIRRA_REDIS_URL`, PostgreSQL with `MIRRA_DATABASE_URL` — either, both or
//! neither. With both, records reach PostgreSQL through Redis (the mover's
//! consumer group); with PostgreSQL alone, from its own buffer. Reads come
//! from PostgreSQL when it is there (durable history), else from the JSONL
//! stream; live tails from Redis when it is there (every instance), else
//! from this process.

use std::path::Path;
use std::sync::Arc;

use super::jsonl::JsonlSink;
use super::mover::Mover;
use super::postgres::{self, PgSink};
use super::recorder::{Setup, BUFFER};
use super::redis::{self as redis_sink, RedisSink};
use super::sink::{TraceError, TraceSink};

pub const ENV_REDIS_URL: &str = "MIRRA_REDIS_URL";
pub const ENV_DATABASE_URL: &str = "MIRRA_DATABASE_URL";
/// `each-request`: every request answers only once its records are written
/// (what the AWS Lambda functions run with).
pub const ENV_TRACE_FLUSH: &str = "MIRRA_TRACE_FLUSH";
/// Records the Redis and PostgreSQL sinks' buffers hold while the sink is
/// slow or down (the JSONL stream, on local disk, keeps [`BUFFER`]).
pub const ENV_TRACE_BUFFER: &str = "MIRRA_TRACE_BUFFER";

/// A server's trace settings.
#[derive(Debug, Clone, Default)]
pub struct TraceSettings {
    pub redis_url: Option<String>,
    pub database_url: Option<String>,
    /// Records per Redis / PostgreSQL buffer ([`BUFFER`] when not set).
    pub buffer: Option<usize>,
    /// Key prefix in Redis and schema in PostgreSQL (tests keep theirs apart).
    pub redis_prefix: Option<String>,
    pub database_schema: Option<String>,
    /// Each request waits for its records ([`Setup::flush_each_request`]).
    pub flush_each_request: bool,
    /// With Redis and PostgreSQL: the mover runs only when asked
    /// ([`Mover::move_now`], the reaper on AWS Lambda), not as a task, and a
    /// flush does not wait for PostgreSQL.
    pub scheduled_mover: bool,
}

impl TraceSettings {
    /// From `MIRRA_REDIS_URL`, `MIRRA_DATABASE_URL` and `MIRRA_TRACE_BUFFER`
    /// (an empty value counts as unset).
    pub fn from_env() -> Result<Self, TraceError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let buffer = match var(ENV_TRACE_BUFFER) {
            Some(v) => Some(
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        TraceError::Unavailable(format!(
                            "{ENV_TRACE_BUFFER}={v:?} is not a positive number"
                        ))
                    })?,
            ),
            None => None,
        };
        let flush_each_request = match var(ENV_TRACE_FLUSH).as_deref().map(str::trim) {
            None | Some("batched") => false,
            Some("each-request") => true,
            Some(other) => {
                return Err(TraceError::Unavailable(format!(
                    "{ENV_TRACE_FLUSH}={other:?}: use each-request or batched"
                )))
            }
        };
        Ok(TraceSettings {
            redis_url: var(ENV_REDIS_URL),
            database_url: var(ENV_DATABASE_URL),
            buffer,
            flush_each_request,
            ..TraceSettings::default()
        })
    }

    /// The sinks, reader, tail source and mover these settings name, with
    /// the JSONL stream under `data_dir` when given. Starts the mover (on the
    /// current Tokio runtime) when both Redis and PostgreSQL are set. Nothing
    /// connects yet: a Redis or PostgreSQL that is down does not stop a
    /// server starting; its records wait in the sink's buffer.
    pub fn setup(&self, data_dir: Option<&Path>) -> Result<(Setup, Vec<String>), TraceError> {
        let mut sinks: Vec<(&'static str, Arc<dyn TraceSink>, usize)> = Vec::new();
        let remote = self.buffer.unwrap_or(BUFFER);
        let mut notes = Vec::new();
        if let Some(dir) = data_dir {
            sinks.push(("jsonl", Arc::new(JsonlSink::new(dir)), BUFFER));
        }
        let redis = match &self.redis_url {
            Some(url) => Some(Arc::new(RedisSink::new(
                url,
                self.redis_prefix.as_deref().unwrap_or(redis_sink::PREFIX),
            )?)),
            None => None,
        };
        let pg = match &self.database_url {
            Some(url) => Some(Arc::new(PgSink::new(
                url,
                self.database_schema.as_deref().unwrap_or(postgres::SCHEMA),
            )?)),
            None => None,
        };
        if let Some(r) = &redis {
            sinks.push(("redis", r.clone(), remote));
        }
        let mut mover = None;
        match (&redis, &pg) {
            (Some(r), Some(p)) => {
                mover = Some(if self.scheduled_mover {
                    Mover::scheduled(r.clone(), p.clone(), super::mover::CLAIM_IDLE)
                } else {
                    Mover::start(r.clone(), p.clone(), super::mover::CLAIM_IDLE)
                });
                notes.push(format!(
                    "traces: Redis Streams ({}) and PostgreSQL (schema {}), moved by consumer group {}",
                    redact_url(self.redis_url.as_deref().unwrap_or_default()),
                    self.database_schema.as_deref().unwrap_or(postgres::SCHEMA),
                    super::mover::GROUP
                ));
            }
            (Some(_), None) => notes.push(format!(
                "traces: Redis Streams ({})",
                redact_url(self.redis_url.as_deref().unwrap_or_default())
            )),
            (None, Some(p)) => {
                sinks.push(("postgres", p.clone(), remote));
                notes.push(format!(
                    "traces: PostgreSQL ({}, schema {})",
                    redact_url(self.database_url.as_deref().unwrap_or_default()),
                    self.database_schema.as_deref().unwrap_or(postgres::SCHEMA)
                ));
            }
            (None, None) => {}
        }
        let reader: Option<Arc<dyn TraceSink>> = match (&pg, data_dir, &redis) {
            (Some(p), _, _) => Some(p.clone()),
            (None, Some(_), _) => None,
            (None, None, Some(r)) => Some(r.clone()),
            (None, None, None) => {
                return Err(TraceError::Unavailable(
                    "no trace sink: give a data dir, Redis or PostgreSQL".into(),
                ))
            }
        };
        Ok((
            Setup {
                sinks,
                reader,
                redis,
                mover,
                flush_each_request: self.flush_each_request,
            },
            notes,
        ))
    }
}

/// `url` without its password, for a log line.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}
