//! What the Resend mirror does later, on its own: the kinds of its timers
//! (`toolkit::timers`) and what firing each does, through the dispatcher: a
//! scheduled email goes out at its `scheduled_at`; a sent one is delivered,
//! bounced or suppressed [`DELIVERED_AFTER_MS`] later (as its first recipient
//! decides, `emails::outcome`), and a complaint follows a delivery to
//! `complained@resend.dev` as long again after; a scheduled broadcast goes
//! out at its time.

use super::pipeline::{Call, Later};
use super::{broadcasts, emails};
use crate::session::Firing;

/// A scheduled email is sent (its target: the email's id).
pub const SEND_SCHEDULED: &str = "email.send";
/// A sent email reaches its end: delivered, bounced or suppressed.
pub const DELIVER: &str = "email.deliver";
/// A scheduled broadcast goes out (its target: the broadcast's id).
pub const SEND_BROADCAST: &str = "broadcast.send";
/// A delivered email to `complained@resend.dev` is marked as spam.
pub const COMPLAIN: &str = "email.complain";

/// How long after it is sent an email is delivered (or bounced …): long
/// enough for a test to read `sent` first, short enough to wait for.
pub const DELIVERED_AFTER_MS: i64 = 5_000;

/// [`MirrorDef::fire`](crate::session::MirrorDef::fire) for Resend.
pub fn fire(f: &Firing<'_>) -> Result<(), String> {
    let empty = Later::default();
    let call = Call::later(f.conn, f.ctx, f.now_ms, &empty);
    match f.kind {
        SEND_SCHEDULED => emails::release(&call, f.target).map_err(|e| e.to_string()),
        DELIVER => emails::deliver(&call, f.target).map_err(|e| e.to_string()),
        COMPLAIN => emails::complain(&call, f.target).map_err(|e| e.to_string()),
        SEND_BROADCAST => broadcasts::fire(&call, f.target).map_err(|e| e.to_string()),
        other => Err(format!("unknown Resend timer kind {other:?}")),
    }
}
