//! Traces: every mirror request and session lifecycle event as a record a
//! user can read back.
//!
//! * [`record`] — the record and its time-sortable id.
//! * [`redact`] — secrets out of bodies before a record exists.
//! * [`sink`] — the `TraceSink` trait and its contract; [`jsonl`] the JSONL
//!   observer stream `mirra serve` always writes; [`conformance`] the suite
//!   every sink runs.
//! * [`recorder`] — the bounded queue and writer task between requests and
//!   the sink (drops counted, never silent).
//! * [`layer`] — the middleware on the mirror plane that makes the records.
//! * [`output`] — one buffer and writer per sink, so a sink that is down
//!   holds up no other; [`redis`] (live fan-out) and [`postgres`] (durable
//!   history) sinks, [`mover`] the consumer group between them, [`setup`]
//!   which of them a server's settings name.
//! * [`tail`] — following a session's records live.
//!
//! Lifecycle records come from the sessions service (`Sessions::observe`),
//! delivery attempts from the dispatcher, requests from the layer: nothing
//! else writes traces.

pub mod conformance;
pub mod jsonl;
pub mod layer;
pub mod mover;
pub mod output;
pub mod postgres;
pub mod record;
pub mod recorder;
pub mod redact;
pub mod redis;
pub mod setup;
pub mod sink;
pub mod tail;

pub use record::TraceRecord;
pub use recorder::{Setup, Traces};
pub use setup::TraceSettings;
pub use sink::{TraceError, TracePage, TraceQuery, TraceSink};
