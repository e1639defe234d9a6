//! The mirror toolkit: what every vendor's mirror is built from, written once.
//! A resource file holds behaviour only; these hold the mechanisms.
//!
//! * [`objects`] — a resource's instances as JSON documents with indexed columns.
//! * [`list`] — newest-first pages with cursors, `created` ranges and filters.
//! * [`search`] — a query language (Stripe's) compiled to SQL over stored JSON.
//! * [`expand`] — ids replaced by the objects they name, dotted paths.
//! * [`included`] — fields returned only when asked for, kept beside their object.
//! * [`idempotency`] — saved responses under a key, in the request's transaction.
//! * [`route`] — a vendor's route table, matched after its auth.
//! * [`outbox`] — deliveries owed, written with the change that caused them.
//! * [`timers`] — state changes owed later, fired by the dispatcher.
//! * [`schedule`] — work due on a clock, real or simulated (test clocks), run in time order.
//! * [`signing`] — webhook signatures in each vendor's scheme.
//! * [`params`] — parameter schemas from the vendor's OpenAPI, and their validation.
//! * [`time`] — dates as vendors write them (ISO 8601, RFC 2822).
//! * [`effects`] — what a request leaves besides its answer: due work, and
//!   the vendor events it raised (for its trace record).

pub mod effects;
pub mod expand;
pub mod idempotency;
pub mod included;
pub mod list;
pub mod objects;
pub mod outbox;
pub mod params;
pub mod route;
pub mod schedule;
pub mod search;
pub mod signing;
pub mod time;
pub mod timers;
