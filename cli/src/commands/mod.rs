//! One module per command. Each builds its output as a string (or returns the
//! API's JSON) and [`run`] prints it, so stdout gets one write and `--json`
//! gets exactly the body.

mod accounts;
mod down;
mod env;
mod logs;
mod ls;
mod reset;
mod snapshot;
mod up;
mod usage;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::cli::{Cli, Command, SeedArgs, SessionArgs, SnapshotsAction};
use crate::client::{Client, Config, Globals, Reply};
use crate::error::CliError;
use crate::output;
use crate::state::LastSession;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let globals = Globals {
        api_url: cli.api_url,
        token: cli.token,
    };
    if let Command::Serve(mut args) = cli.command {
        if globals.api_url.is_some() {
            return Err(CliError::Usage(
                "--api-url is for client commands; `mirra serve` listens on --host and --port"
                    .into(),
            ));
        }
        args.token = globals.token;
        // Only the server needs an async runtime; client commands stay blocking.
        let rt = tokio::runtime::Runtime::new()
            .map_err(|e| CliError::io("starting the async runtime", e))?;
        // `to_string` keeps this independent of the error type serve reports.
        return rt
            .block_on(crate::serve::run(args))
            .map_err(|e| CliError::Serve(e.to_string()));
    }
    if let Command::Proxy(args) = &cli.command {
        let config = crate::client::Config::from_env(&globals)?;
        match &args.action {
            Some(crate::cli::ProxyAction::Ca { bundle }) => {
                let ca = crate::proxy::local_ca()?;
                let path = if *bundle {
                    ca.bundle_path()
                } else {
                    ca.cert_path()
                };
                return output::emit(&format!("{}\n", path.display()));
            }
            Some(crate::cli::ProxyAction::Stop) => {
                return output::emit(&crate::proxy::stop(&config.api_url)?);
            }
            None => {}
        }
        let rt = tokio::runtime::Runtime::new()
            .map_err(|e| CliError::io("starting the async runtime", e))?;
        return rt.block_on(crate::proxy::run(args, &config.api_url));
    }
    let ctx = Ctx::from_env(&globals)?;
    if let Command::Logs(a) = &cli.command {
        // Printed as the records come, not as one output.
        return logs::run(&ctx, a);
    }
    let (json, out) = match cli.command {
        Command::Serve(_) | Command::Logs(_) | Command::Proxy(_) => {
            unreachable!("handled above")
        }
        Command::Up(a) => (a.out.json, up::run(&ctx, &a)?),
        Command::Down(a) => (a.out.json, down::run(&ctx, &a)?),
        Command::Ls(a) => (a.out.json, ls::run(&ctx, &a)?),
        Command::Reset(a) => (a.target.out.json, reset::run(&ctx, &a)?),
        Command::Snapshot(a) => (a.target.out.json, snapshot::create(&ctx, &a)?),
        Command::Snapshots(a) => match &a.action {
            Some(SnapshotsAction::Rm(rm)) => (rm.out.json, snapshot::remove(&ctx, rm)?),
            None => (a.target.out.json, snapshot::list(&ctx, &a)?),
        },
        Command::Restore(a) => (a.target.out.json, snapshot::restore(&ctx, &a)?),
        Command::Env(a) => (a.target.out.json, env::run(&ctx, &a)?),
        Command::Usage(a) => (a.out.json, usage::run(&ctx, &a)?),
        Command::Workspaces(a) => (a.action.json(), accounts::workspaces(&ctx, &a.action)?),
        Command::Tokens(a) => (a.action.json(), accounts::tokens(&ctx, &a.action)?),
    };
    output::emit(&if json {
        format!("{}\n", out.body.raw)
    } else {
        out.human
    })
}

/// What a client command produced: the API body for `--json`, text otherwise.
pub struct Output {
    pub body: Reply,
    pub human: String,
}

/// The server connection and the local session memory.
pub struct Ctx {
    pub client: Client,
    pub memory: Option<LastSession>,
}

/// The session a command acts on, and whether it came from memory.
pub struct Target {
    pub session: String,
    pub remembered: bool,
}

impl Ctx {
    fn from_env(globals: &Globals) -> Result<Self, CliError> {
        Ok(Ctx {
            client: Client::new(Config::from_env(globals)?)?,
            memory: LastSession::from_env(),
        })
    }

    /// `--session`, else the session `mirra up` last started against this server.
    pub fn target(&self, args: &SessionArgs) -> Result<Target, CliError> {
        if let Some(s) = args
            .session
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            return Ok(Target {
                session: s.to_string(),
                remembered: false,
            });
        }
        self.memory
            .as_ref()
            .and_then(|m| m.get(self.client.api_url()))
            .map(|r| Target {
                session: r.id,
                remembered: true,
            })
            .ok_or_else(|| CliError::NoSession {
                api_url: self.client.api_url().to_string(),
            })
    }

    /// Runs a call against a session. When a remembered session turns out to be
    /// gone — the server says so *of the session* (`session_not_found`,
    /// `session_expired`, `session_ended`), not of a snapshot or anything else
    /// the call named — it is forgotten so the next command asks for another.
    pub fn on_session<T>(
        &self,
        target: &Target,
        call: impl FnOnce(&Client, &str) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        match call(&self.client, &target.session) {
            Err(CliError::Api {
                status,
                kind,
                code,
                message,
                ..
            }) if target.remembered && is_session_gone(code.as_deref()) => {
                self.forget(&target.session);
                Err(CliError::Api {
                    status,
                    kind,
                    code,
                    message,
                    remembered_session: Some(target.session.clone()),
                })
            }
            other => other,
        }
    }

    /// Memory is a convenience: failing to update it is reported, never fatal.
    pub fn remember(&self, id: &str, name: Option<&str>) {
        if let Some(m) = &self.memory {
            let r = crate::state::Remembered {
                id: id.to_string(),
                name: name.map(str::to_string),
            };
            if let Err(e) = m.set(self.client.api_url(), r) {
                eprintln!("warning: {e}");
            }
        }
    }

    pub fn forget(&self, id: &str) {
        if let Some(m) = &self.memory {
            if let Err(e) = m.forget(self.client.api_url(), id) {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// The error codes with which the server says a session itself is gone.
fn is_session_gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("session_not_found" | "session_expired" | "session_ended")
    )
}

/// The API's `seeds` and `seed_files` objects.
#[derive(Debug)]
pub struct Seeds {
    pub seeds: Map<String, Value>,
    pub seed_files: Map<String, Value>,
}

/// `--seed` / `--seed-file` as [`Seeds`], with each seed file read and parsed
/// here so a bad one fails before any request.
pub fn seed_maps(args: &SeedArgs) -> Result<Seeds, CliError> {
    let mut seeds = Map::new();
    for s in &args.seeds {
        if seeds
            .insert(s.mirror.clone(), Value::String(s.seed.clone()))
            .is_some()
        {
            return Err(CliError::Usage(format!(
                "--seed is given twice for {}",
                s.mirror
            )));
        }
    }
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    for f in &args.seed_files {
        if seeds.contains_key(&f.mirror) {
            return Err(CliError::Usage(format!(
                "give {} either --seed or --seed-file, not both",
                f.mirror
            )));
        }
        if files.contains_key(&f.mirror) {
            return Err(CliError::Usage(format!(
                "--seed-file is given twice for {}",
                f.mirror
            )));
        }
        let err = |reason: String| CliError::SeedFile {
            mirror: f.mirror.clone(),
            path: f.path.clone(),
            reason,
        };
        let text =
            std::fs::read_to_string(&f.path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        files.insert(f.mirror.clone(), doc);
    }
    Ok(Seeds {
        seeds,
        seed_files: files.into_iter().collect(),
    })
}

/// "yes"/"no" for JSON booleans, "-" when absent.
pub fn yes_no(v: Option<&Value>) -> &'static str {
    match v.and_then(Value::as_bool) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// `ses_ab12 (name)` or just the id.
pub fn session_label(v: &Value, id_key: &str, name_key: &str) -> String {
    let id = output::field(v, id_key);
    match v.get(name_key).and_then(Value::as_str) {
        Some(n) => format!("{id} ({n})"),
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{SeedFileSpec, SeedSpec};

    fn seed(m: &str, s: &str) -> SeedSpec {
        SeedSpec {
            mirror: m.into(),
            seed: s.into(),
        }
    }

    #[test]
    fn seed_maps_read_files_and_refuse_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(&good, br#"{"customers":[{"id":"cus_1"}]}"#).expect("write");
        std::fs::write(&bad, b"{oops").expect("write");

        let args = SeedArgs {
            seeds: vec![seed("resend", "default")],
            seed_files: vec![SeedFileSpec {
                mirror: "stripe".into(),
                path: good,
            }],
        };
        let maps = seed_maps(&args).expect("maps");
        assert_eq!(
            Value::Object(maps.seeds),
            serde_json::json!({"resend": "default"})
        );
        assert_eq!(
            Value::Object(maps.seed_files),
            serde_json::json!({"stripe": {"customers": [{"id": "cus_1"}]}})
        );

        let args = SeedArgs {
            seeds: vec![],
            seed_files: vec![SeedFileSpec {
                mirror: "stripe".into(),
                path: bad,
            }],
        };
        let e = seed_maps(&args).expect_err("bad json");
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert_eq!(e.exit_code(), 2);

        let missing = dir.path().join("missing.json");
        let args = SeedArgs {
            seeds: vec![],
            seed_files: vec![SeedFileSpec {
                mirror: "stripe".into(),
                path: missing,
            }],
        };
        assert!(seed_maps(&args)
            .expect_err("missing")
            .to_string()
            .contains("cannot read it"));

        let args = SeedArgs {
            seeds: vec![seed("stripe", "a"), seed("stripe", "b")],
            seed_files: vec![],
        };
        assert_eq!(seed_maps(&args).expect_err("dup").exit_code(), 2);
    }
}
