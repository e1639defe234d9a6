//! The command line: clap definitions (their value parsers in `values.rs`). Parsing
//! here is pure (no files read, no network), so a bad value fails before anything
//! happens, with clap's exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::size::{parse_byte_size, ByteSize};

mod accounts;
mod values;
pub use accounts::*;
pub use values::*;

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
/// Client commands talk to the server at --api-url, else MIRRA_API_URL, else
/// http://127.0.0.1:4400 (never a guess: a server on another address needs one
/// of those). They send --token, else MIRRA_TOKEN, else the token `mirra serve`
/// recorded for that URL in the state dir (MIRRA_STATE_DIR, else
/// $XDG_STATE_HOME/mirra, else ~/.local/state/mirra), else the token file in
/// the data dir (MIRRA_DATA_DIR, default .mirra).
///
/// Exit codes: 0 done; 2 refused before any request (bad flag or value, seed
/// file, URL, no session to act on); 1 the server refused or could not be
/// reached, or anything else failed.
#[derive(Debug, Parser)]
#[command(name = "mirra", version, about, long_about, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// The server client commands talk to [env: MIRRA_API_URL] [default: http://127.0.0.1:4400].
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// Workspace token: what client commands send, and what `serve` requires
    /// [default: the server's recorded token, see above; serve: <data-dir>/token,
    /// generated on first start].
    #[arg(
        long,
        global = true,
        env = "MIRRA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
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
    /// List the workspace's sessions (every page).
    Ls(LsArgs),
    /// Put a session's mirrors back to their seeds (or new ones).
    Reset(ResetArgs),
    /// Save a session's state as a snapshot.
    Snapshot(SnapshotArgs),
    /// List a session's snapshots (or all of the workspace's), or delete some.
    Snapshots(SnapshotsArgs),
    /// Put a session back to a snapshot.
    Restore(RestoreArgs),
    /// Print `export` lines that point an app at a session: eval "$(mirra env)".
    Env(EnvArgs),
    /// Show the workspace's session-minutes this month (or --period), its
    /// plan's allowance and the live session count.
    Usage(UsageArgs),
    /// Create, list and change workspaces (hosted use; the operator's token).
    Workspaces(WorkspacesArgs),
    /// Issue, list and revoke this workspace's API tokens (an admin token).
    Tokens(TokensArgs),
    /// Show a session's mirror requests and lifecycle events, oldest first;
    /// --follow keeps printing them as they happen.
    Logs(LogsArgs),
    /// Run the HTTPS proxy that sends api.stripe.com, api.resend.com and
    /// *.twilio.com to the mirrors (for apps that keep the SDKs' default URLs).
    ///
    /// It answers CONNECT for the vendors' API hosts with certificates from a
    /// local CA (created once per user in the state dir, key mode 0600) and
    /// hands each request to the server at --api-url unchanged: the
    /// credential names the session, so one proxy serves every session. Other
    /// hosts are tunnelled untouched (or refused with --refuse-others).
    /// `mirra up --proxy` and `mirra env --proxy` start one in the background
    /// when none runs for the server.
    Proxy(ProxyArgs),
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
    /// The global --token / MIRRA_TOKEN (set by the dispatcher, not parsed here).
    #[arg(skip)]
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
    /// Seconds a client has to send a complete request head (from connecting,
    /// or from the first byte of a later request on the same connection).
    #[arg(long, env = "MIRRA_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..), value_name = "SECONDS")]
    pub header_timeout: u64,
    /// Seconds a client has to send a whole request body once its head is in;
    /// later it gets a 408 and the connection closes.
    #[arg(long, env = "MIRRA_BODY_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..), value_name = "SECONDS")]
    pub body_timeout: u64,
    /// Seconds a kept-alive connection may sit idle between requests.
    #[arg(long, env = "MIRRA_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..), value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Connections served at once [default: half the open-files limit, at most
    /// 4096]. Beyond it new connections wait in the listen backlog, and
    /// connections with no request in flight are closed within a second to make room.
    #[arg(long, env = "MIRRA_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..u64::from(u32::MAX)), value_name = "N")]
    pub max_connections: Option<u64>,
    /// Do not log a line per request (errors and warnings still show).
    #[arg(long, short = 'q', env = "MIRRA_QUIET")]
    pub quiet: bool,
    /// Stop (as on SIGTERM) when standard input closes: a test helper that
    /// starts a server of its own keeps the write end, so the server goes
    /// when the process that started it does, even after a crash or SIGKILL.
    #[arg(long)]
    pub stop_with_stdin: bool,
    /// Memory for working copies (one in-memory database per used session and
    /// mirror): past it the least recently used are frozen (compressed, see
    /// --frozen-bytes) and thawed on their next request. Binary units: 768MiB,
    /// 1G, 512m, or bytes.
    #[arg(long, env = "MIRRA_CACHE_BYTES", value_name = "SIZE", value_parser = parse_byte_size,
          default_value_t = ByteSize(shared::state::DEFAULT_CACHE_BYTES))]
    pub cache_bytes: ByteSize,
    /// Memory for frozen working copies (serialized and compressed): past it
    /// the least recently used are dropped and rebuilt from storage on their
    /// next request. 0 freezes none.
    #[arg(long, env = "MIRRA_FROZEN_BYTES", value_name = "SIZE", value_parser = parse_byte_size,
          default_value_t = ByteSize(shared::state::DEFAULT_FROZEN_BYTES))]
    pub frozen_bytes: ByteSize,
    /// Memory for cached seed images, least recently used out first.
    #[arg(long, env = "MIRRA_IMAGE_CACHE_BYTES", value_name = "SIZE", value_parser = parse_byte_size,
          default_value_t = ByteSize(shared::state::DEFAULT_IMAGE_CACHE_BYTES))]
    pub image_cache_bytes: ByteSize,
}

#[derive(Debug, Clone, Args)]
pub struct LsArgs {
    /// Only sessions in this state (`expired`: timed out, not torn down yet).
    #[arg(long, value_parser = ["active", "expired"])]
    pub status: Option<String>,
    /// Only ephemeral or only persistent sessions.
    #[arg(long, value_parser = ["ephemeral", "persistent"])]
    pub mode: Option<String>,
    /// Only the session with this name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub target: SessionArgs,
    /// Keep the snapshot after an ephemeral session ends (a persistent
    /// session's snapshots are always kept).
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotsArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotsAction>,
    #[command(flatten)]
    pub target: SessionArgs,
    /// Every snapshot of the workspace, also those of ended sessions.
    #[arg(long, conflicts_with = "session")]
    pub all: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SnapshotsAction {
    /// Delete snapshots by id (sessions restored from them keep their state).
    Rm(SnapshotsRmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotsRmArgs {
    /// Snapshot ids (snap_…).
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response and nothing else.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: SessionArgs,
    /// Keep printing records as they happen (Ctrl-C stops).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only this mirror's requests (stripe, resend, twilio).
    #[arg(long)]
    pub mirror: Option<String>,
    /// Only this status code (402) or class (4xx).
    #[arg(long, value_name = "CODE|CLASS")]
    pub status: Option<String>,
    /// Only this HTTP method.
    #[arg(long)]
    pub method: Option<String>,
    /// Only this kind: request, or an event (state.reset, webhook.delivered, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only requests whose mirror path starts with this (/v1/customers).
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,
    /// Print only the last N records before following (or stopping).
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub target: SessionArgs,
    /// Point apps at the session through `mirra proxy` (started if none runs):
    /// HTTPS_PROXY, the CA for each runtime, and the credentials under the
    /// vendors' usual names — for apps that keep the SDKs' default URLs.
    #[arg(long)]
    pub proxy: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    #[command(subcommand)]
    pub action: Option<ProxyAction>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = crate::proxy::DEFAULT_PORT)]
    pub port: u16,
    /// Answer 403 for every host that is not a mirrored API's, instead of
    /// tunnelling it.
    #[arg(long)]
    pub refuse_others: bool,
    /// Listen on any free port when --port is taken (how `up --proxy` and
    /// `env --proxy` start one).
    #[arg(long, hide = true)]
    pub any_port_if_taken: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ProxyAction {
    /// Print the path of the local CA certificate (creating the CA on first use).
    Ca {
        /// Print the bundle instead: the CA followed by the system's roots.
        #[arg(long)]
        bundle: bool,
    },
    /// Stop the proxy running for the server (one started by `up --proxy`).
    Stop,
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
    #[arg(
        long,
        help = timeout_help(),
        value_parser = parse_timeout,
        conflicts_with = "persistent",
        value_name = "DURATION",
        // `-5m` reaches the parser (and gets "cannot be negative"), not clap's flag matching.
        allow_hyphen_values = true
    )]
    pub timeout: Option<u64>,
    /// Requests per second the session's mirrors accept before answering 429
    /// in the vendor's shape (0: unlimited; default 1000).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<u32>,
    /// Start `mirra proxy` for this server, or reuse the running one, and
    /// print the `export` lines of `mirra env --proxy`.
    #[arg(long)]
    pub proxy: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use shared::session::MAX_TIMEOUT_SECS;

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
    fn timeout_refuses_negative_durations_and_more_than_the_maximum() {
        for neg in ["-5m", "-90", " -1h30m"] {
            assert!(
                parse_timeout(neg)
                    .expect_err(neg)
                    .contains("cannot be negative"),
                "{neg}"
            );
        }
        assert!(!parse_timeout("--json")
            .expect_err("flag")
            .contains("negative"));
        assert_eq!(parse_timeout("7d"), Ok(MAX_TIMEOUT_SECS));
        assert_eq!(
            parse_timeout(&MAX_TIMEOUT_SECS.to_string()),
            Ok(MAX_TIMEOUT_SECS)
        );
        let over = parse_timeout(&(MAX_TIMEOUT_SECS + 1).to_string()).expect_err("over");
        assert!(over.contains("at most 7d"), "{over}");
    }

    #[test]
    fn durations_format_in_the_units_timeout_reads() {
        for (secs, text) in [(604800, "7d"), (5400, "1h30m"), (90, "1m30s"), (3600, "1h")] {
            assert_eq!(fmt_duration(secs), text);
            assert_eq!(parse_timeout(text), Ok(secs));
        }
    }

    #[test]
    fn api_url_and_token_are_global_flags() {
        for argv in [
            &["mirra", "--api-url", "http://h:1", "--token", "t", "ls"][..],
            &["mirra", "ls", "--api-url", "http://h:1", "--token", "t"],
        ] {
            let cli = Cli::try_parse_from(argv).expect("parses");
            assert_eq!(cli.api_url.as_deref(), Some("http://h:1"), "{argv:?}");
            assert_eq!(cli.token.as_deref(), Some("t"), "{argv:?}");
        }
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
