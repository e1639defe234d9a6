//! Flags of the hosted-use commands: `mirra workspaces …`, `mirra tokens …`
//! and `mirra usage`.

use clap::{Args, Subcommand, ValueEnum};

use super::JsonArgs;

#[derive(Debug, Clone, Args)]
pub struct UsageArgs {
    /// The month, as YYYY-MM (UTC) [default: this month].
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// Another workspace's usage (the operator's token only).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanArg {
    /// 1 h sessions, no persistent ones, 5 at once, 2,000 minutes a month.
    Free,
    /// 24 h sessions, persistent ones, 50 at once, 100,000 minutes a month.
    Team,
    /// No limits.
    Unlimited,
}

impl PlanArg {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanArg::Free => "free",
            PlanArg::Team => "team",
            PlanArg::Unlimited => "unlimited",
        }
    }
}

/// A limit's new value: a number, or `none` (unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// Changes to a plan's limits; `none` lifts one.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Longest ephemeral timeout in seconds, or `none`.
    #[arg(long, value_name = "SECONDS|none", value_parser = limit)]
    pub max_timeout: Option<Limit>,
    /// Live sessions at once, or `none`.
    #[arg(long, value_name = "N|none", value_parser = limit)]
    pub concurrent_sessions: Option<Limit>,
    /// Session-minutes per month, or `none`.
    #[arg(long, value_name = "N|none", value_parser = limit)]
    pub minutes_per_month: Option<Limit>,
    /// Whether persistent sessions are allowed.
    #[arg(long, value_name = "BOOL")]
    pub persistent_sessions: Option<bool>,
}

fn limit(s: &str) -> Result<Limit, String> {
    if s == "none" {
        return Ok(Limit(None));
    }
    s.parse()
        .map(|n| Limit(Some(n)))
        .map_err(|_| format!("{s:?} is neither a whole number nor `none`"))
}

#[derive(Debug, Clone, Args)]
pub struct WorkspacesArgs {
    #[command(subcommand)]
    pub action: WorkspacesAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspacesAction {
    /// Create a workspace; prints its admin token once (operator's token).
    Create {
        /// 1-40 of a-z, 0-9 and '-'.
        id: String,
        #[arg(long, value_enum, default_value_t = PlanArg::Free)]
        plan: PlanArg,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// List every workspace (operator's token).
    Ls {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Show a workspace's plan and limits.
    Show {
        id: String,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Change a workspace's plan or limits (operator's token).
    Set {
        id: String,
        /// A new plan: its limits replace the current ones.
        #[arg(long, value_enum)]
        plan: Option<PlanArg>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        out: JsonArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Read sessions, snapshots, usage and traces.
    Read,
    /// And create, reset, snapshot, restore and end sessions.
    Write,
    /// And manage the workspace's tokens.
    Admin,
}

impl ScopeArg {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeArg::Read => "read",
            ScopeArg::Write => "write",
            ScopeArg::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub action: TokensAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokensAction {
    /// Issue a token of this workspace; it is printed once (admin token).
    Create {
        /// What the token is for (CI, an agent …).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum, default_value_t = ScopeArg::Write)]
        scope: ScopeArg,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// List this workspace's tokens (never their secrets).
    Ls {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Revoke tokens by id (tok_…); they stop working at once.
    Revoke {
        #[arg(required = true, value_name = "TOKEN_ID")]
        ids: Vec<String>,
        #[command(flatten)]
        out: JsonArgs,
    },
}

impl WorkspacesAction {
    /// `--json` of whichever action.
    pub fn json(&self) -> bool {
        match self {
            WorkspacesAction::Create { out, .. }
            | WorkspacesAction::Ls { out }
            | WorkspacesAction::Show { out, .. }
            | WorkspacesAction::Set { out, .. } => out.json,
        }
    }
}

impl TokensAction {
    /// `--json` of whichever action.
    pub fn json(&self) -> bool {
        match self {
            TokensAction::Create { out, .. }
            | TokensAction::Ls { out }
            | TokensAction::Revoke { out, .. } => out.json,
        }
    }
}
