//! What the Resend mirror does later, on its own: the kinds of its timers
//! (`toolkit::timers`) and what firing each does. A scheduled email goes out
//! at its `scheduled_at`, through the dispatcher.

use super::emails;
use super::pipeline::{Call, Later};
use crate::session::Firing;

/// A scheduled email is sent (its target: the email's id).
pub const SEND_SCHEDULED: &str = "email.send";

/// [`MirrorDef::fire`](crate::session::MirrorDef::fire) for Resend.
pub fn fire(f: &Firing<'_>) -> Result<(), String> {
    let empty = Later::default();
    let call = Call::later(f.conn, f.ctx, f.now_ms, &empty);
    match f.kind {
        SEND_SCHEDULED => emails::release(&call, f.target).map_err(|e| e.to_string()),
        other => Err(format!("unknown Resend timer kind {other:?}")),
    }
}
