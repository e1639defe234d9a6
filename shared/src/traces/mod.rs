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
//!
//! Lifecycle records come from the sessions service (`Sessions::observe`),
//! delivery attempts from the dispatcher, requests from the layer: nothing
//! else writes traces. Not yet: the Redis Streams and PostgreSQL sinks, live
//! tail (SSE), `mirra logs`.

pub mod conformance;
pub mod jsonl;
pub mod layer;
pub mod record;
pub mod recorder;
pub mod redact;
pub mod sink;

pub use record::TraceRecord;
pub use recorder::Traces;
pub use sink::{TraceError, TracePage, TraceQuery, TraceSink};
