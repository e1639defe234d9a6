//! # Layout
//!
//! * [`storage`] — the `ObjectStore` and `SessionTable` traits, their embedded
//!   backends (filesystem, SQLite) and the conformance suites every backend runs.
//! * [`state`] — per-(session, mirror) SQLite working copies made current from
//!   image + commit log; change capture, reset, restore, snapshot bytes.
//! * [`session`] — ids, modes, expiry, credentials, the session service
//!   (create/reset/snapshot/restore/down/reap), per-minute metering by
//!   month, and `SessionContext`, a mirror handler's only door to state.
//! * [`workspace`] — workspaces, their hashed API tokens and scopes, plans
//!   and the limits they set (hosted use; the embedded default has one).
//! * [`mirrors`] — one folder per emulated API, one file per resource.
//! * [`dispatch`] — the dispatcher: sends what mirrors' outboxes owe (signed
//!   webhooks, retries), found through the session table's due-work index.
//! * [`api`] — axum routers: the control plane (`/v1/…`) and the mirror data
//!   plane (path and host routing).
//! * [`server`] — the serving loop: accept loop with a connection cap, header,
//!   body and idle timeouts, bodies read before routing, one log line per request.
//! * `lambda` (feature `lambda`) — what the AWS Lambda functions share: the
//!   app from the environment, the API Gateway stage off the path.
//! * [`proxy`] — `mirra proxy`: an HTTPS proxy with a local CA that sends the
//!   vendors' API hosts to the mirrors and tunnels everything else.
//! * [`config`] — server configuration and backend construction.
//! * [`tls`] — the TLS crypto provider every HTTP client needs installed.
//! * [`traces`] — every mirror request and lifecycle event as a record:
//!   redaction, the `TraceSink` trait and its sinks (the JSONL observer
//!   stream, Redis Streams, PostgreSQL, the consumer group between the last
//!   two), one buffered writer per sink, live tails, the mirror-plane layer.

pub mod api;
pub mod config;
pub mod dispatch;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod mirrors;
pub mod proxy;
pub mod server;
pub mod session;
pub mod state;
pub mod storage;
pub mod tls;
pub mod traces;
pub mod workspace;
