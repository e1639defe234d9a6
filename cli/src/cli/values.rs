//! The value parsers behind the command line's flags (`--seed`,
//! `--seed-file`, `--timeout`) and the types they produce: pure, so a bad
//! value fails before anything happens, with clap's exit code 2.

use std::path::PathBuf;

use shared::session::MAX_TIMEOUT_SECS;

/// `--seed stripe:default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSpec {
    pub mirror: String,
    pub seed: String,
}

/// `--seed-file stripe=fixtures.json`; the file is read when the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFileSpec {
    pub mirror: String,
    pub path: PathBuf,
}

/// Mirror names are short lowercase identifiers; checking here catches a swapped
/// `default:stripe` or a stray space before the server sees it.
pub(super) fn check_mirror(m: &str) -> Result<(), String> {
    if m.is_empty() {
        return Err("the mirror name is empty".into());
    }
    if !m
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{m:?} is not a mirror name (lowercase letters, digits, - and _)"
        ));
    }
    Ok(())
}

pub fn parse_seed(s: &str) -> Result<SeedSpec, String> {
    let Some((mirror, seed)) = s.split_once(':') else {
        return Err(format!(
            "expected MIRROR:SEED, e.g. stripe:default; got {s:?}"
        ));
    };
    check_mirror(mirror)?;
    if seed.is_empty() || seed.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err(format!(
            "expected MIRROR:SEED, e.g. stripe:default; {seed:?} is not a seed name"
        ));
    }
    Ok(SeedSpec {
        mirror: mirror.to_string(),
        seed: seed.to_string(),
    })
}

pub fn parse_seed_file(s: &str) -> Result<SeedFileSpec, String> {
    let Some((mirror, path)) = s.split_once('=') else {
        return Err(format!(
            "expected MIRROR=PATH, e.g. stripe=seed.json; got {s:?}"
        ));
    };
    check_mirror(mirror)?;
    if path.is_empty() {
        return Err("expected MIRROR=PATH, e.g. stripe=seed.json; the path is empty".into());
    }
    Ok(SeedFileSpec {
        mirror: mirror.to_string(),
        path: PathBuf::from(path),
    })
}

/// The longest timeout the server accepts, in the units `--timeout` takes.
pub(super) fn max_timeout() -> String {
    fmt_duration(MAX_TIMEOUT_SECS)
}

pub(super) fn timeout_help() -> String {
    format!(
        "How long an ephemeral session lives: 90s, 60m, 2h, 1d, 1h30m or plain seconds; \
         at most {} [server default: 60m]",
        max_timeout()
    )
}

/// `604800` → `7d`, `5400` → `1h30m`: the form `--timeout` reads.
pub fn fmt_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// A duration in seconds: `90s`, `60m`, `2h`, `1d`, combinations such as `1h30m`,
/// or a plain number of seconds, up to [`MAX_TIMEOUT_SECS`] (what the server
/// accepts, so a longer one is refused before any request). Zero is refused: a
/// session that is born expired is never what was meant.
pub fn parse_timeout(s: &str) -> Result<u64, String> {
    let secs = parse_duration(s)?;
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!(
            "{s:?} is longer than the server allows: at most {} ({MAX_TIMEOUT_SECS} s); \
             a session that must outlive that should be --persistent",
            max_timeout()
        ));
    }
    Ok(secs)
}

pub(super) fn parse_duration(s: &str) -> Result<u64, String> {
    const HINT: &str = "use e.g. 90s, 60m, 2h, 1d, 1h30m or plain seconds";
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        return match parse_duration(rest) {
            Ok(_) => Err(format!("{s:?}: a timeout cannot be negative; {HINT}")),
            Err(_) => Err(format!("{s:?} is not a duration; {HINT}")),
        };
    }
    if t.is_empty() {
        return Err(format!("empty duration; {HINT}"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = t.parse().map_err(|_| format!("{t:?} is too large"))?;
        return if n == 0 {
            Err("the timeout must be longer than 0 seconds".into())
        } else {
            Ok(n)
        };
    }
    let unit_secs = |c: char| match c {
        's' => Some(1u64),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86400),
        _ => None,
    };
    let not_a_unit =
        |c: char| format!("{s:?} is not a duration ({c:?} is not a unit: s, m, h or d); {HINT}");
    // Report a stray character before a misplaced unit: "soon" is about the `o`s.
    if let Some(c) = t
        .chars()
        .find(|&c| !c.is_ascii_digit() && unit_secs(c).is_none())
    {
        return Err(not_a_unit(c));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = unit_secs(c).ok_or_else(|| not_a_unit(c))?;
        if digits.is_empty() {
            return Err(format!(
                "{s:?} is not a duration (a number must come before {c:?}); {HINT}"
            ));
        }
        let n: u64 = digits.parse().map_err(|_| format!("{s:?} is too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{s:?} is too large"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "{s:?} is not a duration (the trailing {digits} has no unit); {HINT}"
        ));
    }
    if total == 0 {
        return Err("the timeout must be longer than 0 seconds".into());
    }
    Ok(total)
}
