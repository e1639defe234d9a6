//! Test clocks: `/v1/test_helpers/test_clocks`. A simulated time for the
//! customers created on it (`test_clock=clock_…`) and everything they own.
//! Advancing is asynchronous, as on Stripe: `advance` answers `advancing`
//! and leaves a timer due at once; the dispatcher then runs every piece of
//! billing work due on the clock up to the target time, in time order, each
//! at its own simulated time ([`super::billing::run`]), and the clock turns
//! `ready` (`test_helpers.test_clock.ready`). Deleting a clock deletes its
//! customers. Without a clock, billing follows real time.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::billing;
use super::customers;
use super::error::StripeError;
use super::events;
use super::lists;
use super::pipeline::Call;
use super::Stripe;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::{schedule, timers};
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "test_helpers.test_clock",
    table: "test_clocks",
    prefix: "clock_",
    id_len: 24,
    columns: &[],
};

/// The timer that advances a clock (due at once when `advance` is called).
pub const ADVANCE: &str = "test_clock.advance";

/// Stripe deletes a test clock 30 days after it was created.
const LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// The live clock `id`, else Stripe's 400 on the parameter that named it.
pub fn live(conn: &Connection, id: &str, param: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such_param("test clock", id, param))
}

/// The time on `clock` (`None`: real time, `now`).
pub fn now_on(conn: &Connection, clock: Option<&str>, now: i64) -> Result<i64, StripeError> {
    let Some(id) = clock else { return Ok(now) };
    Ok(KIND
        .load(conn, id)?
        .and_then(|c| c["frozen_time"].as_i64())
        .unwrap_or(now))
}

fn load(conn: &Connection, id: &str) -> Result<Value, StripeError> {
    KIND.load(conn, id)?
        .ok_or_else(|| StripeError::no_such("test clock", id, "test_clock"))
}

/// `POST /v1/test_helpers/test_clocks`.
pub fn create(call: &Call) -> Result<Value, StripeError> {
    let p = call.params;
    if p.get("customer").is_some_and(|v| !v.is_null()) {
        return Err(StripeError::unsupported(
            "customer",
            "moving an existing customer onto a test clock is not emulated; create the customer with `test_clock`",
        ));
    }
    let frozen = p
        .get("frozen_time")
        .and_then(Value::as_i64)
        .unwrap_or(call.now);
    let v = json!({
        "id": Stripe.new_id(&KIND),
        "object": "test_helpers.test_clock",
        "created": call.now,
        "deletes_after": call.now + LIFETIME_SECS,
        "frozen_time": frozen,
        "livemode": false,
        "name": p.get("name").cloned().unwrap_or(Value::Null),
        "status": "ready",
        "status_details": {},
    });
    KIND.insert(call.conn, &v)?;
    events::emit(call, "test_helpers.test_clock.created", &v, None)?;
    Ok(v)
}

/// `GET /v1/test_helpers/test_clocks/{test_clock}`.
pub fn retrieve(call: &Call) -> Result<Value, StripeError> {
    load(call.conn, call.args.get("test_clock"))
}

/// `GET /v1/test_helpers/test_clocks`: newest first.
pub fn list(call: &Call) -> Result<Value, StripeError> {
    let q = lists::query(call.params)?;
    lists::page(call.conn, &KIND, &q, "/v1/test_helpers/test_clocks")
}

/// `POST /v1/test_helpers/test_clocks/{test_clock}/advance`: answers
/// `advancing`; the dispatcher does the work.
pub fn advance(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("test_clock");
    let before = load(call.conn, id)?;
    if before["status"] != "ready" {
        return Err(StripeError::invalid(
            "The test clock is currently advancing. Wait until its status is `ready` before advancing it again.",
            "test_clock",
        ));
    }
    let target = call
        .params
        .get("frozen_time")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let frozen = before["frozen_time"].as_i64().unwrap_or_default();
    if target <= frozen {
        return Err(StripeError::invalid(
            format!(
                "The test clock's frozen_time can only move forward: {target} is not after its current frozen_time {frozen}."
            ),
            "frozen_time",
        ));
    }
    let limit = furthest(call.conn, id, frozen)?;
    if target > limit {
        return Err(StripeError::invalid(
            format!(
                "A test clock can advance at most two intervals of the shortest subscription on it \
                 (two years without one) at a time: to {limit} at most, not {target}."
            ),
            "frozen_time",
        ));
    }
    let mut clock = before.clone();
    clock["status"] = json!("advancing");
    clock["status_details"] = json!({"advancing": {"target_frozen_time": target}});
    KIND.save(call.conn, &clock)?;
    let due = call.ctx.now_ms();
    timers::schedule(call.conn, ADVANCE, id, None, due)?;
    call.owe(due);
    events::emit(
        call,
        "test_helpers.test_clock.advancing",
        &clock,
        Some(&before),
    )?;
    Ok(clock)
}

/// How far one advance of `clock` may go from `frozen`, as Stripe allows:
/// two intervals of the shortest live subscription on it, or two years.
fn furthest(conn: &Connection, clock: &str, frozen: i64) -> Result<i64, StripeError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(data, '$.items.data[0].price.recurring.interval'), \
                json_extract(data, '$.items.data[0].price.recurring.interval_count') \
         FROM subscriptions WHERE deleted = 0 AND json_extract(data, '$.test_clock') = ?1 \
         AND status NOT IN ('canceled', 'incomplete_expired')",
    )?;
    let cycles = stmt
        .query_map([clock], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<i64>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(cycles
        .into_iter()
        .map(|(interval, count)| {
            billing::boundary(
                frozen,
                interval.as_deref().unwrap_or("month"),
                count.unwrap_or(1),
                2,
            )
        })
        .min()
        .unwrap_or_else(|| billing::boundary(frozen, "year", 1, 2)))
}

/// The [`ADVANCE`] timer: runs the clock's due work up to its target, then
/// the clock is `ready` at that time.
pub fn advance_later(call: &Call, id: &str) -> Result<(), StripeError> {
    let Some(before) = KIND.load(call.conn, id)? else {
        return Ok(());
    };
    let Some(target) = before["status_details"]["advancing"]["target_frozen_time"].as_i64() else {
        return Ok(());
    };
    billing::run(call, id, target)?;
    let mut clock = before.clone();
    clock["frozen_time"] = json!(target);
    clock["status"] = json!("ready");
    clock["status_details"] = json!({});
    KIND.save(call.conn, &clock)?;
    events::emit(call, "test_helpers.test_clock.ready", &clock, Some(&before))?;
    Ok(())
}

/// `DELETE /v1/test_helpers/test_clocks/{test_clock}`: its customers go with it.
pub fn delete(call: &Call) -> Result<Value, StripeError> {
    let id = call.args.get("test_clock");
    let clock = load(call.conn, id)?;
    for c in customers::on_clock(call.conn, id)? {
        customers::remove(call, &c)?;
    }
    schedule::clear(call.conn, id)?;
    timers::cancel(call.conn, ADVANCE, id)?;
    KIND.mark_deleted(call.conn, id)?;
    events::emit(call, "test_helpers.test_clock.deleted", &clock, None)?;
    Ok(json!({"id": id, "object": "test_helpers.test_clock", "deleted": true}))
}
