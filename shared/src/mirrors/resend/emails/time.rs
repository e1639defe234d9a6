//! Time as Resend writes and reads it: `created_at` as `2023-04-03
//! 22:13:42.674981+00` (the form of its OpenAPI examples), and `scheduled_at` in
//! ISO 8601 (`2026-08-05T11:52:01Z`, `…+02:00`, a date and time without an
//! offset read as UTC) or in words (`in 1 min`, `in 2 hours`, `tomorrow at
//! 9am`, `today at 17:30`, in UTC).

use std::time::{Duration, UNIX_EPOCH};

use crate::mirrors::toolkit::time::{iso8601_ms, num};

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
#[error("`scheduled_at` must be an ISO 8601 date (2026-08-05T11:52:01Z) or a phrase such as `in 1 min` or `tomorrow at 9am`, not {0:?}")]
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
    if let Some(at) = day_phrase(t, now_ms) {
        return Ok(at);
    }
    iso8601_ms(t).ok_or_else(bad)
}

/// `today at 5pm`, `tomorrow at 9am`, `tomorrow at 09:30`, or `tomorrow` (this
/// time of day, a day later), in UTC.
fn day_phrase(t: &str, now_ms: i64) -> Option<i64> {
    let lower = t.to_ascii_lowercase();
    let (day, rest) = match lower.split_once(' ') {
        Some((d, r)) => (d, r.trim()),
        None => (lower.as_str(), ""),
    };
    let offset_days = match day {
        "today" => 0,
        "tomorrow" => 1,
        _ => return None,
    };
    if rest.is_empty() {
        return (offset_days == 1).then_some(now_ms + 86_400_000);
    }
    let clock = rest.strip_prefix("at ")?.trim().replace(' ', "");
    let (clock, pm) = if let Some(c) = clock.strip_suffix("pm") {
        (c.to_string(), Some(true))
    } else if let Some(c) = clock.strip_suffix("am") {
        (c.to_string(), Some(false))
    } else {
        (clock, None)
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) => (num(h)?, num(m)?),
        None => (num(&clock)?, 0),
    };
    let h = match pm {
        Some(true) if (1..=11).contains(&h) => h + 12,
        Some(false) if h == 12 => 0,
        Some(_) if !(1..=12).contains(&h) => return None,
        _ => h,
    };
    if h > 23 || m > 59 {
        return None;
    }
    let midnight = now_ms.div_euclid(86_400_000) * 86_400_000;
    Some(midnight + offset_days * 86_400_000 + (h * 60 + m) * 60_000)
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

    /// Day phrases name a time of day today or tomorrow, in UTC.
    #[test]
    fn today_and_tomorrow_name_a_time_of_day_in_utc() {
        let now = NOW + 3_600_000; // 01:00
        let p = |s| parse_scheduled(s, now);
        assert_eq!(p("tomorrow at 9am"), Ok(NOW + 86_400_000 + 9 * 3_600_000));
        assert_eq!(
            p("Tomorrow at 9:30 pm"),
            Ok(NOW + 86_400_000 + 21 * 3_600_000 + 1_800_000)
        );
        assert_eq!(p("today at 17:00"), Ok(NOW + 17 * 3_600_000));
        assert_eq!(p("today at 12am"), Ok(NOW));
        assert_eq!(p("tomorrow"), Ok(now + 86_400_000));
        for bad in [
            "tomorrow at 13pm",
            "today at 25:00",
            "today",
            "yesterday at 9am",
            "tomorrow 9am",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
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
