//! Time as vendors write it on the wire, read and written once: ISO 8601
//! instants (Resend's `scheduled_at`, Twilio's `SendAt`), RFC 2822 dates
//! (Twilio's `date_created`), and civil dates (`DateSent=2026-01-01`).

use std::time::{Duration, UNIX_EPOCH};

/// Unix milliseconds as RFC 2822 in UTC, as Twilio's 2010 API writes dates:
/// `Thu, 03 Dec 2026 08:30:37 +0000`.
pub fn rfc2822(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let http = httpdate::fmt_http_date(at);
    match http.strip_suffix(" GMT") {
        Some(d) => format!("{d} +0000"),
        None => http,
    }
}

/// Unix milliseconds as ISO 8601 in UTC, to the second (`2026-12-03T08:30:37Z`),
/// as Twilio's newer APIs write dates.
pub fn iso8601_secs(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|±HH[:MM]]`, or a bare date (midnight UTC).
pub fn iso8601_ms(t: &str) -> Option<i64> {
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

pub fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
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

    /// Dates read as Twilio writes them, in both of its forms.
    #[test]
    fn dates_are_written_as_twilio_writes_them() {
        assert_eq!(rfc2822(NOW + 61_500), "Thu, 01 Jan 2026 00:01:01 +0000");
        assert_eq!(iso8601_secs(NOW + 61_500), "2026-01-01T00:01:01Z");
    }

    /// ISO 8601 with and without offsets, and bare dates, are the same instants.
    #[test]
    fn iso_times_with_offsets_are_read_as_instants() {
        assert_eq!(iso8601_ms("2026-01-01T00:00:00Z"), Some(NOW));
        assert_eq!(iso8601_ms("2026-01-01T02:00:00+02:00"), Some(NOW));
        assert_eq!(iso8601_ms("2026-01-01"), Some(NOW));
        assert_eq!(iso8601_ms("2026-02-30x"), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }
}
