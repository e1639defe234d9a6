//! What the Stripe mirror does later, on its own: the kinds of its timers
//! (`toolkit::timers`) and what firing each does. Stripe's test mode moves
//! some objects after a while — a refund to `pm_card_pendingRefund` settles,
//! one to `pm_card_refundFail` fails, a coupon stops being valid at its
//! `redeem_by` — and so does the mirror, on a documented delay (or at the
//! time set), through the dispatcher.

use crate::session::Firing;

use super::error::StripeError;
use super::pipeline::{Call, Context, Later};
use super::{billing, checkout, coupons, refunds, test_clocks};
use crate::mirrors::toolkit::schedule;

/// How long after it is created a refund that changes later does so: long
/// enough for a test to see its first status, short enough to wait for
/// (Mirra's test helper settles one at once).
pub const REFUND_SETTLES_AFTER_MS: i64 = 5_000;

/// A pending refund succeeds (`pm_card_pendingRefund`).
pub const REFUND_SUCCEEDS: &str = "refund.succeed";
/// A succeeded refund fails (`pm_card_refundFail`).
pub const REFUND_FAILS: &str = "refund.fail";

/// [`MirrorDef::fire`](crate::session::MirrorDef::fire) for Stripe.
pub fn fire(f: &Firing<'_>) -> Result<(), String> {
    let empty = Later::default();
    let call = Call::later(f.conn, Context::Session(f.ctx), f.now_ms, &empty);
    run(&call, f.kind, f.target).map_err(|e| format!("{e:?}"))
}

/// What timer `kind` does to `target`, as `call`.
pub fn run(call: &Call, kind: &str, target: &str) -> Result<(), StripeError> {
    match kind {
        REFUND_SUCCEEDS => refunds::settle_later(call, target, false),
        REFUND_FAILS => refunds::settle_later(call, target, true),
        coupons::EXPIRES => coupons::expire_later(call, target),
        checkout::EXPIRES => checkout::expire_later(call, target),
        test_clocks::ADVANCE => test_clocks::advance_later(call, target),
        schedule::TICK => billing::tick(call),
        other => Err(StripeError::Internal(format!(
            "unknown Stripe timer kind {other:?}"
        ))),
    }
}
