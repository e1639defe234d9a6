//! Billing's time: every piece of work a subscription or an invoice owes later
//! (a trial ending, a renewal, a draft invoice finalized an hour after it was
//! made, a payment retried) is a row on its customer's clock
//! (`toolkit::schedule`: the customer's test clock, or the real clock). [`run`]
//! does a clock's due rows in time order, each as a [`Call`] at its own time,
//! so events and objects carry the simulated time, and work one row schedules
//! (the next renewal) runs in the same pass when it is due too.

use super::error::StripeError;
use super::pipeline::{Call, Later};
use super::test_clocks;
use crate::mirrors::toolkit::schedule::{self, REAL};

/// More steps than any advance needs (12 monthly periods of 1,000
/// subscriptions with retries is under 100,000): a loop guard, not a limit
/// a test meets.
const MAX_STEPS: usize = 1_000_000;

/// The clock a customer's billing runs on: its test clock, or the real one.
pub fn clock_of(customer: &serde_json::Value) -> &str {
    customer["test_clock"].as_str().unwrap_or(REAL)
}

/// The time on the clock of `customer` (a test clock's frozen time, else `now`).
pub fn now_for(call: &Call, customer: &serde_json::Value) -> Result<i64, StripeError> {
    test_clocks::now_on(call.conn, customer["test_clock"].as_str(), call.now)
}

/// Schedules `kind` for `target` at `at` on `clock` (the dispatcher is told
/// when it is on the real clock).
pub fn schedule(
    call: &Call,
    clock: &str,
    at: i64,
    kind: &str,
    target: &str,
) -> Result<(), StripeError> {
    if let Some(due_ms) = schedule::add(call.conn, clock, at, kind, target)? {
        call.owe(due_ms);
    }
    Ok(())
}

/// Does `clock`'s due work up to `until` (seconds on that clock), in order.
pub fn run(call: &Call, clock: &str, until: i64) -> Result<usize, StripeError> {
    let empty = Later::default();
    let mut steps = 0;
    while let Some(due) = schedule::take_next(call.conn, clock, until)? {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(StripeError::Internal(format!(
                "billing on clock {clock:?} did not settle within {MAX_STEPS} steps"
            )));
        }
        let at = Call::later(call.conn, call.ctx, due.at.saturating_mul(1000), &empty);
        step(&at, &due.kind, &due.target)?;
    }
    Ok(steps)
}

/// The real clock's due work ([`schedule::TICK`] fired).
pub fn tick(call: &Call) -> Result<(), StripeError> {
    run(call, REAL, call.now).map(|_| ())
}

/// One row of work.
fn step(call: &Call, kind: &str, target: &str) -> Result<(), StripeError> {
    use super::invoices::collect;
    use super::subscriptions::lifecycle as sub;
    match kind {
        collect::FINALIZE => collect::finalize_later(call, target),
        collect::ATTEMPT => collect::attempt_later(call, target),
        sub::RENEW => sub::renew(call, target),
        sub::TRIAL_END => sub::end_trial(call, target),
        sub::TRIAL_WILL_END => sub::trial_will_end(call, target),
        sub::INCOMPLETE_EXPIRE => sub::expire_incomplete(call, target),
        sub::CANCEL => sub::cancel_at(call, target),
        sub::RESUME_COLLECTION => sub::resume_collection(call, target),
        sub::UPCOMING => sub::upcoming(call, target),
        other => Err(StripeError::Internal(format!(
            "unknown billing work {other:?} for {target}"
        ))),
    }
}

/// The `n`-th period boundary after `anchor` for a price billed every
/// `count` `interval`s: days and weeks are fixed lengths; months and years
/// keep the anchor's day of month and time of day, on the month's last day
/// when it is shorter (an anchor on 31 January renews on 28/29 February, then
/// 31 March), as Stripe bills.
pub fn boundary(anchor: i64, interval: &str, count: i64, n: i64) -> i64 {
    let steps = count.saturating_mul(n);
    match interval {
        "day" => anchor + steps * 86_400,
        "week" => anchor + steps * 7 * 86_400,
        "year" => add_months(anchor, steps * 12),
        _ => add_months(anchor, steps),
    }
}

fn add_months(at: i64, months: i64) -> i64 {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(at) else {
        return at;
    };
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let Ok(year) = i32::try_from(year) else {
        return at;
    };
    let Ok(month) = time::Month::try_from(u8::try_from(month0 + 1).unwrap_or(1)) else {
        return at;
    };
    let last = time::util::days_in_month(month, year);
    let day = t.day().min(last);
    match time::Date::from_calendar_date(year, month, day) {
        Ok(date) => date.with_time(t.time()).assume_utc().unix_timestamp(),
        Err(_) => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-31 12:00:00 UTC.
    const JAN_31: i64 = 1_769_860_800;

    /// Monthly periods keep the anchor's day, clamped to short months.
    #[test]
    fn monthly_boundaries_keep_the_anchor_day_clamped_to_short_months() {
        let day = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .expect("time")
                .date()
                .to_string()
        };
        assert_eq!(day(boundary(JAN_31, "month", 1, 1)), "2026-02-28");
        assert_eq!(day(boundary(JAN_31, "month", 1, 2)), "2026-03-31");
        assert_eq!(day(boundary(JAN_31, "month", 3, 1)), "2026-04-30");
        assert_eq!(day(boundary(JAN_31, "year", 1, 1)), "2027-01-31");
        assert_eq!(boundary(JAN_31, "week", 2, 1) - JAN_31, 14 * 86_400);
        assert_eq!(boundary(JAN_31, "day", 1, 3) - JAN_31, 3 * 86_400);
        assert_eq!(
            (boundary(JAN_31, "month", 1, 1) - JAN_31) % 86_400,
            0,
            "time of day kept"
        );
    }
}
