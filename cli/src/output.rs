//! Everything a command prints: `--json` bodies, aligned tables, `export` lines
//! safe to `eval`, and times, all built as strings so they can be unit-tested.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::CliError;

/// Writes to stdout in one go. A closed pipe (`mirra ls | head -1`) is not an
/// error worth reporting: the reader already has what it wanted.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::io("writing to stdout", e))
        }
        _ => Ok(()),
    }
}

/// Quotes `s` for POSIX shells: left bare when only harmless characters appear,
/// otherwise single-quoted with each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+,=".contains(&b))
        // `=` and `~` mean something at the start of a word in some shells.
        && !s.starts_with(['=', '~']);
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Environment variable names a shell accepts; anything else in an `env` object
/// would turn `eval "$(mirra env)"` into arbitrary code.
pub fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `export NAME=value` for every mirror's `env` object in a session, mirrors and
/// names in order. Names that are not valid shell names are skipped with a warning.
pub fn export_lines(session: &Value) -> String {
    exports(session, false)
}

/// [`export_lines`] without the entries that carry a mirror's base URL
/// (`STRIPE_API_BASE`, …): for apps that reach the vendors' own hosts
/// through `mirra proxy`.
pub fn export_lines_without_base_urls(session: &Value) -> String {
    exports(session, true)
}

fn exports(session: &Value, skip_base_urls: bool) -> String {
    let mut out = String::new();
    let Some(mirrors) = session.get("mirrors").and_then(Value::as_object) else {
        return out;
    };
    let mut mirrors: Vec<_> = mirrors.iter().collect();
    mirrors.sort_by(|a, b| a.0.cmp(b.0));
    for (mirror, m) in mirrors {
        let Some(env) = m.get("env").and_then(Value::as_object) else {
            continue;
        };
        let base_url = m.get("url").and_then(Value::as_str);
        // By name, whatever order the server sent them in.
        let mut env: Vec<_> = env.iter().collect();
        env.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in env {
            if !is_env_name(name) {
                tracing::warn!(
                    mirror,
                    name,
                    "skipping an env entry whose name is not a shell variable name"
                );
                continue;
            }
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if skip_base_urls && base_url == Some(value.as_str()) {
                continue;
            }
            out.push_str(&export_line(name, &value));
        }
    }
    out
}

/// One `export NAME=value` line, the value quoted for a POSIX shell.
pub fn export_line(name: &str, value: &str) -> String {
    format!("export {name}={}\n", shell_quote(value))
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A string field, or `-` when absent or null.
pub fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_string(),
        Some(other) => other.to_string(),
    }
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-03 14:32:05 UTC`, computed without a date crate (days-from-civil inverse).
pub fn fmt_unix(ts: i64) -> String {
    let days = ts.div_euclid(86400);
    let secs = ts.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A span of seconds as `45s`, `59m`, `1h05m`, `2d03h`: coarse on purpose.
pub fn fmt_span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// An `expires_at` value for people: `never` for persistent sessions, else
/// `in 59m` / `expired`, optionally with the absolute time.
pub fn fmt_expires(expires_at: Option<&Value>, now: i64, absolute: bool) -> String {
    match expires_at.and_then(Value::as_i64) {
        None => "never".to_string(),
        Some(t) if t <= now => {
            if absolute {
                format!("expired ({})", fmt_unix(t))
            } else {
                "expired".to_string()
            }
        }
        Some(t) if absolute => format!("{} (in {})", fmt_unix(t), fmt_span(t - now)),
        Some(t) => format!("in {}", fmt_span(t - now)),
    }
}

/// Milliseconds as the API reports them (floats), shown with sensible precision.
pub fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) if v < 100.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.0} ms"),
    }
}

/// Byte counts as `143,360 B` / `1.4 MB`.
pub fn fmt_bytes(n: u64) -> String {
    match n {
        0..10_000 => format!("{n} B"),
        10_000..10_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shell_quote_leaves_plain_values_bare_and_quotes_the_rest() {
        assert_eq!(shell_quote("sk_test_abc123"), "sk_test_abc123");
        assert_eq!(
            shell_quote("http://127.0.0.1:4400/m/ses_ab12/stripe"),
            "http://127.0.0.1:4400/m/ses_ab12/stripe"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("`x`;y|z&w\n"), "'`x`;y|z&w\n'");
        assert_eq!(shell_quote("~root"), "'~root'");
        assert_eq!(shell_quote("=x"), "'=x'");
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        for v in [
            "plain",
            "a b",
            "it's",
            "$HOME `id` \"q\" \\ ' ''",
            "line1\nline2",
            "~x",
            "*",
        ] {
            let script = format!("printf %s {}", shell_quote(v));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), v, "{script}");
        }
    }

    #[test]
    fn export_lines_skip_bad_names_and_quote_values() {
        let s = json!({"mirrors": {
            "stripe": {"env": {"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_API_BASE": "http://h/m/s/stripe"}},
            "evil": {"env": {"X;rm -rf": "v", "NOTE": "a b"}},
            "bare": {}
        }});
        assert_eq!(
            export_lines(&s),
            "export NOTE='a b'\nexport STRIPE_API_BASE=http://h/m/s/stripe\nexport STRIPE_SECRET_KEY=sk_test_1\n"
        );
        assert!(
            is_env_name("_A1") && !is_env_name("1A") && !is_env_name("") && !is_env_name("A-B")
        );
    }

    #[test]
    fn proxy_exports_leave_out_the_mirrors_base_urls() {
        let s = json!({"mirrors": {"stripe": {
            "url": "http://h/m/s/stripe",
            "env": {"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_API_BASE": "http://h/m/s/stripe"}
        }}});
        assert_eq!(
            export_lines_without_base_urls(&s),
            "export STRIPE_SECRET_KEY=sk_test_1\n"
        );
        assert!(export_lines(&s).contains("STRIPE_API_BASE"));
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["ID".into(), "NAME".into(), "MODE".into()],
            vec!["ses_ab12".into(), "-".into(), "ephemeral".into()],
        ];
        assert_eq!(
            table(&rows),
            "ID        NAME  MODE\nses_ab12  -     ephemeral\n"
        );
    }

    #[test]
    fn times_format() {
        assert_eq!(fmt_unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_unix(1_709_210_096), "2024-02-29 12:34:56 UTC");
        assert_eq!(fmt_span(45), "45s");
        assert_eq!(fmt_span(3599), "59m");
        assert_eq!(fmt_span(3900), "1h05m");
        assert_eq!(fmt_span(2 * 86400 + 3 * 3600), "2d03h");
        assert_eq!(fmt_expires(None, 0, false), "never");
        assert_eq!(fmt_expires(Some(&Value::Null), 0, true), "never");
        assert_eq!(fmt_expires(Some(&json!(3600)), 0, false), "in 1h00m");
        assert_eq!(fmt_expires(Some(&json!(10)), 20, false), "expired");
        assert_eq!(
            fmt_expires(Some(&json!(60)), 0, true),
            "1970-01-01 00:01:00 UTC (in 1m)"
        );
        assert_eq!(fmt_ms(Some(0.4123)), "0.41 ms");
        assert_eq!(fmt_bytes(143_360), "143.4 KB");
    }
}
