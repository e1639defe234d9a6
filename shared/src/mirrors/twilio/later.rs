//! What the Twilio mirror does later, on its own: the kinds of its timers
//! (`toolkit::timers`) and what firing each does, through the dispatcher: a
//! message moves to its next status, a scheduled one goes out
//! (`messages::status`).

use super::messages::status;
use super::pipeline::{Call, Later};
use crate::session::Firing;

/// [`MirrorDef::fire`](crate::session::MirrorDef::fire) for Twilio.
pub fn fire(f: &Firing<'_>) -> Result<(), String> {
    let empty = Later::default();
    let call = Call::later(f.conn, f.ctx, f.now_ms, &empty);
    if f.kind == super::verify::verifications::EXPIRE {
        return super::verify::verifications::expire(&call, f.target).map_err(|e| e.to_string());
    }
    let plan = status::plan_of(f.payload).map_err(|e| e.to_string())?;
    match f.kind {
        status::ADVANCE => status::advance(&call, f.target, &plan),
        status::SEND_SCHEDULED => status::release(&call, f.target, &plan),
        other => return Err(format!("unknown Twilio timer kind {other:?}")),
    }
    .map_err(|e| e.to_string())
}
