//! Per-minute metering by calendar month: a session is billed every started
//! minute of its uptime, counted in the UTC month each minute falls in, so a
//! persistent session running across a month boundary bills both months.

use std::fmt;

use serde::{Serialize, Serializer};
use time::{Date, Month, OffsetDateTime};

use crate::storage::UsageCharge;

/// One calendar month (UTC), written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: Month,
}

impl Period {
    /// The month holding the Unix time `ms`.
    pub fn of_ms(ms: i64) -> Self {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Period {
            year: t.year(),
            month: t.month(),
        }
    }

    /// Parses `YYYY-MM` (years 1970–9999).
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
        (year >= 1970).then_some(Period { year, month })
    }

    /// The first millisecond of the month.
    pub fn start_ms(self) -> i64 {
        Date::from_calendar_date(self.year, self.month, 1)
            .map(|d| (d.midnight().assume_utc().unix_timestamp_nanos() / 1_000_000) as i64)
            .unwrap_or(i64::MAX)
    }

    /// The first millisecond after the month.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    pub fn next(self) -> Self {
        match self.month {
            Month::December => Period {
                year: self.year + 1,
                month: Month::January,
            },
            m => Period {
                year: self.year,
                month: m.next(),
            },
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month as u8)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Minutes of uptime `[from_ms, to_ms)` that fall in `period`: every started
/// minute of the overlap. The month the session started in bills at least
/// one minute, so a session ended at once still costs a minute.
pub fn minutes_in(period: Period, from_ms: i64, to_ms: i64) -> u64 {
    let start = from_ms.max(period.start_ms());
    let end = to_ms.min(period.end_ms());
    let overlap = (end - start).max(0) as u64;
    let minutes = overlap.div_ceil(60_000);
    if Period::of_ms(from_ms) == period {
        minutes.max(1)
    } else {
        minutes
    }
}

/// What ending a session that ran `[from_ms, to_ms)` bills, one charge per
/// month it ran in.
pub fn charges(mode: &str, from_ms: i64, to_ms: i64) -> Vec<UsageCharge> {
    let mut out = Vec::new();
    let mut p = Period::of_ms(from_ms);
    let last = Period::of_ms(to_ms.max(from_ms));
    loop {
        let minutes = minutes_in(p, from_ms, to_ms);
        if minutes > 0 {
            out.push(UsageCharge {
                period: p.to_string(),
                mode: mode.to_string(),
                minutes,
            });
        }
        if p >= last {
            return out;
        }
        p = p.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T23:59:00Z.
    const NOV_30_23_59: i64 = 1_796_083_140_000;

    #[test]
    fn periods_parse_print_and_bound_their_month() {
        let p = Period::parse("2026-12").expect("parse");
        assert_eq!(p.to_string(), "2026-12");
        assert_eq!(
            crate::session::fmt_ms(p.start_ms()),
            "2026-12-01T00:00:00.000Z"
        );
        assert_eq!(
            crate::session::fmt_ms(p.end_ms()),
            "2027-01-01T00:00:00.000Z"
        );
        assert_eq!(Period::of_ms(p.end_ms() - 1), p);
        assert_eq!(Period::of_ms(p.end_ms()).to_string(), "2027-01");
        for bad in [
            "2026-13", "2026-00", "26-12", "2026-1", "2026/12", "1969-12", "abcd-ef",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_session_is_billed_every_started_minute_and_at_least_one() {
        let t = Period::parse("2026-12").expect("p").start_ms() + 3_600_000;
        assert_eq!(charges("ephemeral", t, t)[0].minutes, 1);
        assert_eq!(charges("ephemeral", t, t + 60_000)[0].minutes, 1);
        assert_eq!(charges("ephemeral", t, t + 60_001)[0].minutes, 2);
        assert_eq!(charges("ephemeral", t, t + 3_600_000).len(), 1);
    }

    #[test]
    fn uptime_across_a_month_boundary_bills_each_month_its_minutes() {
        assert_eq!(
            crate::session::fmt_ms(NOV_30_23_59),
            "2026-11-30T23:59:00.000Z"
        );
        // 23:59 → 00:10:30: one minute in November, 10.5 (11 started) in December.
        let c = charges(
            "persistent",
            NOV_30_23_59,
            NOV_30_23_59 + 11 * 60_000 + 30_000,
        );
        let got: Vec<(&str, u64)> = c.iter().map(|c| (c.period.as_str(), c.minutes)).collect();
        assert_eq!(got, vec![("2026-11", 1), ("2026-12", 11)]);
        // Ended exactly at midnight: nothing for December.
        let c = charges("persistent", NOV_30_23_59, NOV_30_23_59 + 60_000);
        assert_eq!(c.len(), 1);
        // Three months: October's last minute to February's first.
        let c = charges("persistent", 1_793_491_140_000, 1_801_440_060_000);
        let periods: Vec<&str> = c.iter().map(|c| c.period.as_str()).collect();
        assert_eq!(
            periods,
            ["2026-10", "2026-11", "2026-12", "2027-01", "2027-02"]
        );
        assert_eq!(c[1].minutes, 30 * 24 * 60);
        assert_eq!(c[2].minutes, 31 * 24 * 60);
    }
}
