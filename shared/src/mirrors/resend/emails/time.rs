//! Time as Resend writes and reads it: `created_at` as `2023-04-03
//! 22:13:42.674981+00` (the form of its OpenAPI examples), and `scheduled_at` in
//! ISO 8601 (`2026-08-05T11:52:01Z`, `…+02:00`, a date and time without an
//! offset read as UTC) or in words (`in 1 min`, `in 2 hours`).

use std::time::{Duration, UNIX_EPOCH};

/// Unix milliseconds as Resend's timestamp string.
pub fn timestamp(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_micros(at)
        .to_string()
        .replacen('T', " ", 1)
        .replace('Z', "+00")
}

/// Why a `scheduled_at` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`scheduled_at` must be an ISO 8601 date (2026-08-05T11:52:01Z) or a phrase such as `in 1 min`, not {0:?}")]
pub struct BadTime(pub String);

/// `scheduled_at` as Unix milliseconds, given the request time `now_ms`.
pub fn parse_scheduled(text: &str, now_ms: i64) -> Result<i64, BadTime> {
    let t = text.trim();
    let bad = || BadTime(text.to_string());
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Some(rest) = t.strip_prefix("in ").or_else(|| t.strip_prefix("In ")) {
        let d = humantime::parse_duration(rest.trim()).map_err(|_| bad())?;
        let ms = i64::try_from(d.as_millis()).map_err(|_| bad())?;
        return now_ms.checked_add(ms).ok_or_else(bad);
    }
    iso(t).ok_or_else(bad)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|±HH[:MM]]`, or a bare date (midnight UTC).
fn iso(t: &str) -> Option<i64> {
    let date = t.get(..10)?;
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(y, m, day);
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(days * 86_400_000);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // The time runs to the offset, if any.
    let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(split);
    let mut c = clock.split(':');
    let (h, min) = (num(c.next()?)?, num(c.next()?)?);
    let (secs, frac_ms) = match c.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            let frac_ms = if frac.is_empty() {
                0
            } else {
                if !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let padded = format!("{frac:0<3}");
                num(&padded[..3])?
            };
            (num(whole)?, frac_ms)
        }
    };
    if c.next().is_some() || h > 23 || min > 59 || secs > 60 {
        return None;
    }
    let offset_min = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = &z[1..];
            let (oh, om) = match z.split_once(':') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if z.len() == 4 => (num(&z[..2])?, num(&z[2..])?),
                None => (num(z)?, 0),
            };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    let secs_of_day = h * 3600 + min * 60 + secs - offset_min * 60;
    Some((days * 86_400 + secs_of_day) * 1000 + frac_ms)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    /// Timestamps read like Resend's, with microseconds and `+00`.
    #[test]
    fn timestamps_read_like_resends() {
        assert_eq!(timestamp(NOW + 1_500), "2026-01-01 00:00:01.500000+00");
    }

    /// ISO 8601 with and without offsets, and bare dates, are the same instants.
    #[test]
    fn iso_times_with_offsets_are_read_as_instants() {
        let p = |s| parse_scheduled(s, 0);
        assert_eq!(p("2026-01-01T00:00:00Z"), Ok(NOW));
        assert_eq!(p("2026-01-01T00:00:00.250Z"), Ok(NOW + 250));
        assert_eq!(p("2026-01-01T02:00:00+02:00"), Ok(NOW));
        assert_eq!(p("2025-12-31T19:00:00-0500"), Ok(NOW));
        assert_eq!(p("2026-01-01 00:00"), Ok(NOW));
        assert_eq!(p("2026-01-01"), Ok(NOW));
        assert!(p("2026-13-01T00:00:00Z").is_err());
        assert!(p("tomorrow-ish").is_err());
        assert!(p("2026-01-01T25:00:00Z").is_err());
    }

    /// Phrases count from the request's time.
    #[test]
    fn phrases_count_from_the_request_time() {
        assert_eq!(parse_scheduled("in 1 min", NOW), Ok(NOW + 60_000));
        assert_eq!(parse_scheduled("in 2 hours", NOW), Ok(NOW + 7_200_000));
        assert_eq!(parse_scheduled("now", NOW), Ok(NOW));
        assert!(parse_scheduled("in a while", NOW).is_err());
    }
}
