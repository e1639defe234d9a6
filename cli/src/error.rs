//! Every way a `mirra` command can fail, and the exit code each one maps to.
//! The rule (README, "Exit codes"): 2 when the command is refused before any
//! request is sent (a bad flag, value, seed file or URL; no session to act on),
//! as clap does for its own errors; 1 when the server refused the request, could
//! not be reached, or anything else failed after that.

use std::path::PathBuf;

use crate::client::TokenSource;

/// A failed command. `Display` is the one-line message printed after `error: `;
/// [`CliError::hint`] adds a second line where a next step is obvious.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with a 4xx/5xx and (usually) a JSON error body.
    #[error("{message}")]
    Api {
        status: u16,
        /// The API's `error.type`, or `http_<status>` when the body was not an API error.
        kind: String,
        /// The API's `error.code` (`session_not_found`, `snapshot_not_found`, …).
        code: Option<String>,
        message: String,
        /// Set when the session came from local memory rather than `--session`.
        remembered_session: Option<String>,
    },

    /// The server refused the token (401).
    #[error("{message}")]
    Unauthorized {
        message: String,
        url: String,
        token: TokenSource,
    },

    /// Nothing listening, or the connection broke before an answer came.
    #[error("cannot reach the Mirra server at {url}: {reason}")]
    Connect {
        url: String,
        reason: String,
        /// Other servers recorded on this machine, newest first.
        others: Vec<String>,
    },

    /// The server answered, but not with the JSON we expect from it.
    #[error("unexpected answer from {url}: {reason}")]
    Protocol { url: String, reason: String },

    /// No `--session` and nothing remembered from `mirra up` for this server.
    #[error("no session given and none remembered for {api_url}")]
    NoSession { api_url: String },

    /// `--seed-file` points at something we cannot read or parse.
    #[error("seed file {path} for {mirror}: {reason}")]
    SeedFile {
        mirror: String,
        path: PathBuf,
        reason: String,
    },

    /// A flag combination clap cannot express, or bad configuration (`MIRRA_API_URL`).
    #[error("{0}")]
    Usage(String),

    /// Local I/O that is ours to do (state file, stdout) failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// `mirra serve` failed; its own message says why.
    #[error("{0}")]
    Serve(String),

    /// `mirra proxy` could not be set up or started; the message says why.
    #[error("{0}")]
    Proxy(String),
}

impl CliError {
    /// Exit status: 2 for what is refused before any request, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::NoSession { .. } | CliError::SeedFile { .. } | CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A second line that tells the user what to do next, when we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Connect { url, others, .. } => {
                let mut hint = format!(
                    "is `mirra serve` running at {url}? Start it, or point at the server with \
                     --api-url (or MIRRA_API_URL)."
                );
                if !others.is_empty() {
                    hint.push_str(&format!(
                        " Servers recorded on this machine: {}",
                        others.join(", ")
                    ));
                }
                Some(hint)
            }
            CliError::NoSession { .. } => Some(
                "pass --session <ID or NAME> (or set MIRRA_SESSION), or run `mirra up` to start one".to_string(),
            ),
            CliError::Unauthorized { url, token, .. } => Some(match token {
                TokenSource::None => format!(
                    "no token for {url}: pass --token (or set MIRRA_TOKEN). `mirra serve` records \
                     its token for clients when it starts."
                ),
                source => format!(
                    "the token was {source}; pass the token of the server at {url} with --token \
                     (or MIRRA_TOKEN)."
                ),
            }),
            CliError::Api { remembered_session: Some(s), .. } => Some(format!(
                "{s} was the session remembered from `mirra up`; it is gone and now forgotten. \
                 Run `mirra up` or pass --session."
            )),
            _ => None,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_others_exit_1() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            CliError::NoSession {
                api_url: "u".into()
            }
            .exit_code(),
            2
        );
        let api = CliError::Api {
            status: 404,
            kind: "not_found".into(),
            code: None,
            message: "m".into(),
            remembered_session: None,
        };
        assert_eq!(api.exit_code(), 1);
        assert_eq!(api.to_string(), "m");
        assert_eq!(
            CliError::Connect {
                url: "u".into(),
                reason: "r".into(),
                others: vec![],
            }
            .exit_code(),
            1
        );
    }

    #[test]
    fn connect_hint_names_the_url() {
        let e = CliError::Connect {
            url: "http://127.0.0.1:9".into(),
            reason: "connection refused".into(),
            others: vec!["http://127.0.0.1:5000".into()],
        };
        let hint = e.hint().unwrap_or_default();
        assert!(
            hint.contains("is `mirra serve` running at http://127.0.0.1:9?"),
            "{hint}"
        );
        assert!(
            hint.ends_with("Servers recorded on this machine: http://127.0.0.1:5000"),
            "{hint}"
        );
    }
}
