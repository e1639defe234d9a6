//! Sessions: ids and names ([`id`]), the stored record, expiry against a
//! [`Clock`], the service that runs the lifecycle ([`Sessions`]) and
//! [`SessionContext`], the only way a mirror handler reaches state.

mod clock;
mod context;
mod door;
mod error;
pub mod id;
pub mod metering;
mod mirror;
mod rate;
mod record;
mod service;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::SessionContext;
pub use door::Door;
pub use error::{fmt_ms, SessionError, SessionResult};
pub use mirror::{Firing, MirrorDef, UnknownCredential};
pub use rate::{Budget, RateLimited, RateLimits, DEFAULT_RATE_LIMIT};
pub use record::{MirrorState, Mode, Session};
pub use service::{
    page_limit, CreateSession, EndReason, Ended, ListSessions, ListSnapshots, MirrorTiming, Page,
    ResetReport, ResetSession, RestoreReport, Sessions, Snapshot, SnapshotDeleted, SnapshotMirror,
    TakeSnapshot, Usage, DEFAULT_PAGE_LIMIT, DEFAULT_TIMEOUT_SECS, MAX_PAGE_LIMIT,
    MAX_TIMEOUT_SECS, TOMBSTONE_RETENTION_MS,
};
