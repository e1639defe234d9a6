//! The command line: clap definitions and the value parsers behind them. Parsing
//! here is pure (no files read, no network), so a bad value fails before anything
//! happens, with clap's exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::size::{parse_byte_size, ByteSize};

const EXAMPLES: &str = "\
Examples:
  mirra serve &                      # the local server on 127.0.0.1:4400
  mirra up --seed stripe:default     # a session; prints URLs, keys and export lines
  eval \"$(mirra env)\"                # point this shell's app at it
  mirra snapshot                     # save state; mirra restore --snapshot snap_… puts it back
  mirra reset                        # back to the seed in milliseconds
  mirra down                         # end it";

/// Each test run gets its own stateful mirror of the APIs it talks to.
///
/// Client commands talk to the server at MIRRA_API_URL (default
/// http://127.0.0.1:4400) with the token in MIRRA_TOKEN, or in the server's
/// data dir (MIRRA_DATA_DIR, default .mirra) when MIRRA_TOKEN is unset.
#[derive(Debug, Parser)]
#[command(name = "mirra", version, about, long_about, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local server: control plane and mirrors in one process.
    Serve(ServeArgs),
    /// Start a session and print its URLs, credentials and `export` lines.
    Up(UpArgs),
    /// End a session (a persistent one keeps a final snapshot).
    Down(SessionArgs),
    /// List the live sessions.
    Ls(JsonArgs),
    /// Put a session's mirrors back to their seeds (or new ones).
    Reset(ResetArgs),
    /// Save a session's state as a snapshot.
    Snapshot(SessionArgs),
    /// List the snapshots of a session.
    Snapshots(SessionArgs),
    /// Put a session back to a snapshot.
    Restore(RestoreArgs),
    /// Print `export` lines that point an app at a session: eval "$(mirra env)".
    Env(SessionArgs),
    /// Show minutes used per mode and the live session count.
    Usage(JsonArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 4400)]
    pub port: u16,
    /// Where sessions, the commit log, images, snapshots and the token live.
    #[arg(long, default_value = ".mirra", env = "MIRRA_DATA_DIR")]
    pub data_dir: PathBuf,
    /// API token clients must send; generated and written to <data-dir>/token when unset.
    #[arg(long, env = "MIRRA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Create the S3 bucket and DynamoDB table when missing (emulators, first runs).
    ///
    /// Only with the AWS backends, chosen by MIRRA_S3_BUCKET and
    /// MIRRA_DYNAMODB_TABLE (AWS_REGION, credentials and AWS_ENDPOINT_URL the
    /// standard AWS way); the embedded backends create themselves.
    #[arg(long, env = "MIRRA_CREATE_RESOURCES")]
    pub create_resources: bool,
    /// Seconds between sweeps that end expired sessions [default: 1 on the
    /// embedded backends, 60 on AWS, where a sweep scans the table]. Expired
    /// sessions answer 410 at once either way, and bill only up to their expiry.
    #[arg(long, env = "MIRRA_REAP_INTERVAL", value_parser = clap::value_parser!(u64).range(1..))]
    pub reap_interval: Option<u64>,
    /// Save each mirror's state as a checkpoint every N commits, so a cold start
    /// replays at most N log entries (0: never).
    #[arg(long, env = "MIRRA_COMPACT_EVERY", default_value_t = shared::state::DEFAULT_COMPACT_EVERY)]
    pub compact_every: u64,
    /// Memory for working copies (one in-memory database per used session and
    /// mirror): past it the least recently used are dropped and rebuilt on their
    /// next request. Binary units: 768MiB, 1G, 512m, or bytes.
    #[arg(long, env = "MIRRA_CACHE_BYTES", value_name = "SIZE", value_parser = parse_byte_size,
          default_value_t = ByteSize(shared::state::DEFAULT_CACHE_BYTES))]
    pub cache_bytes: ByteSize,
    /// Memory for cached seed images, least recently used out first.
    #[arg(long, env = "MIRRA_IMAGE_CACHE_BYTES", value_name = "SIZE", value_parser = parse_byte_size,
          default_value_t = ByteSize(shared::state::DEFAULT_IMAGE_CACHE_BYTES))]
    pub image_cache_bytes: ByteSize,
}

#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response and nothing else.
    #[arg(long)]
    pub json: bool,
}

/// `--session`, shared by every command that acts on one session.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Session id or name [default: the last one `mirra up` started against this server].
    #[arg(long, short = 's', env = "MIRRA_SESSION", value_name = "ID|NAME")]
    pub session: Option<String>,
    #[command(flatten)]
    pub out: JsonArgs,
}

/// Seed choices, shared by `up` and `reset`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// A built-in seed for a mirror, MIRROR:SEED (repeatable).
    #[arg(long = "seed", value_name = "MIRROR:SEED", value_parser = parse_seed)]
    pub seeds: Vec<SeedSpec>,
    /// A JSON seed file for a mirror, MIRROR=PATH (repeatable).
    #[arg(long = "seed-file", value_name = "MIRROR=PATH", value_parser = parse_seed_file)]
    pub seed_files: Vec<SeedFileSpec>,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Mirrors to start [default: those the seeds name, else stripe].
    #[arg(long, value_delimiter = ',', value_name = "MIRROR,…")]
    pub mirrors: Option<Vec<String>>,
    #[command(flatten)]
    pub seed: SeedArgs,
    /// Keep the session until `mirra down` (needs --name).
    #[arg(long, requires = "name")]
    pub persistent: bool,
    /// A name to address the session by instead of its id.
    #[arg(long)]
    pub name: Option<String>,
    /// How long an ephemeral session lives: 90s, 60m, 2h, 1d, 1h30m or plain seconds [server default: 60m].
    #[arg(long, value_parser = parse_timeout, conflicts_with = "persistent", value_name = "DURATION")]
    pub timeout: Option<u64>,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub target: SessionArgs,
    /// Reset only these mirrors [default: all of the session's].
    #[arg(long, value_delimiter = ',', value_name = "MIRROR,…")]
    pub mirrors: Option<Vec<String>>,
    #[command(flatten)]
    pub seed: SeedArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The snapshot to restore (snap_…).
    #[arg(long, value_name = "SNAPSHOT")]
    pub snapshot: String,
    #[command(flatten)]
    pub target: SessionArgs,
}

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
fn check_mirror(m: &str) -> Result<(), String> {
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

/// A duration in seconds: `90s`, `60m`, `2h`, `1d`, combinations such as `1h30m`,
/// or a plain number of seconds. Zero is refused: a session that is born expired
/// is never what was meant.
pub fn parse_timeout(s: &str) -> Result<u64, String> {
    const HINT: &str = "use e.g. 90s, 60m, 2h, 1d, 1h30m or plain seconds";
    let t = s.trim();
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeout_accepts_units_combinations_and_plain_seconds() {
        assert_eq!(parse_timeout("90s"), Ok(90));
        assert_eq!(parse_timeout("60m"), Ok(3600));
        assert_eq!(parse_timeout("2h"), Ok(7200));
        assert_eq!(parse_timeout("1d"), Ok(86400));
        assert_eq!(parse_timeout("1h30m"), Ok(5400));
        assert_eq!(parse_timeout("3600"), Ok(3600));
        assert_eq!(parse_timeout(" 45 "), Ok(45));
    }

    #[test]
    fn timeout_refuses_nonsense_zero_and_overflow() {
        for bad in [
            "",
            "abc",
            "5x",
            "m",
            "1h30",
            "-5",
            "1.5h",
            "0",
            "0m",
            "99999999999999999999",
            "9999999999999999d",
        ] {
            let err = parse_timeout(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(parse_timeout("5x").expect_err("5x").contains("not a unit"));
    }

    #[test]
    fn seed_spec_splits_mirror_and_seed() {
        assert_eq!(
            parse_seed("stripe:default"),
            Ok(SeedSpec {
                mirror: "stripe".into(),
                seed: "default".into()
            })
        );
        assert_eq!(
            parse_seed("stripe:dunning-active"),
            Ok(SeedSpec {
                mirror: "stripe".into(),
                seed: "dunning-active".into()
            })
        );
        for bad in [
            "stripe",
            "stripe:",
            ":default",
            "Stripe:default",
            "stripe:a b",
            "stripe:a:b",
            "st ripe:x",
        ] {
            assert!(parse_seed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_file_spec_splits_at_the_first_equals() {
        assert_eq!(
            parse_seed_file("stripe=./a=b.json"),
            Ok(SeedFileSpec {
                mirror: "stripe".into(),
                path: PathBuf::from("./a=b.json")
            })
        );
        for bad in ["stripe", "stripe=", "=f.json", "STRIPE=f.json"] {
            assert!(parse_seed_file(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn persistent_needs_a_name_and_refuses_a_timeout() {
        assert!(Cli::try_parse_from(["mirra", "up", "--persistent"]).is_err());
        assert!(Cli::try_parse_from([
            "mirra",
            "up",
            "--persistent",
            "--name",
            "n",
            "--timeout",
            "5m"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["mirra", "up", "--persistent", "--name", "n"]).is_ok());
    }

    #[test]
    fn mirrors_take_a_comma_list() {
        let cli =
            Cli::try_parse_from(["mirra", "up", "--mirrors", "stripe,resend"]).expect("parses");
        let Command::Up(up) = cli.command else {
            panic!("not up")
        };
        assert_eq!(
            up.mirrors,
            Some(vec!["stripe".to_string(), "resend".to_string()])
        );
    }
}
