//! `mirra reset`: put a session's mirrors back to a seed, with per-mirror timings.

use serde_json::{json, Value};

use super::{seed_maps, yes_no, Ctx, Output, Seeds};
use crate::cli::ResetArgs;
use crate::error::CliError;
use crate::output::{field, fmt_ms, table};

pub fn run(ctx: &Ctx, args: &ResetArgs) -> Result<Output, CliError> {
    let body = request_body(args)?;
    let target = ctx.target(&args.target)?;
    let report = ctx.on_session(&target, |c, s| {
        c.post(&["v1", "sessions", s, "reset"], &body)
    })?;
    Ok(Output {
        human: human(&report),
        body: report,
    })
}

/// Only what was asked for: an empty body resets every mirror to its current seed.
fn request_body(args: &ResetArgs) -> Result<Value, CliError> {
    let Seeds { seeds, seed_files } = seed_maps(&args.seed)?;
    let mut body = json!({});
    if let Some(m) = &args.mirrors {
        body["mirrors"] = json!(m);
    }
    if !seeds.is_empty() {
        body["seeds"] = Value::Object(seeds);
    }
    if !seed_files.is_empty() {
        body["seed_files"] = Value::Object(seed_files);
    }
    Ok(body)
}

fn human(r: &Value) -> String {
    let mut out = format!(
        "reset {} in {}\n",
        field(r, "session"),
        fmt_ms(r.get("total_ms").and_then(Value::as_f64))
    );
    if let Some(mirrors) = r.get("mirrors").and_then(Value::as_object) {
        let mut rows = vec![["MIRROR", "SEED", "CACHED", "TIME"]
            .map(String::from)
            .to_vec()];
        for (name, m) in mirrors {
            rows.push(vec![
                name.clone(),
                field(m, "seed"),
                yes_no(m.get("cached")).to_string(),
                fmt_ms(m.get("ms").and_then(Value::as_f64)),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn reset(argv: &[&str]) -> ResetArgs {
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Reset(a) => a,
            other => panic!("not reset: {other:?}"),
        }
    }

    #[test]
    fn body_holds_only_what_was_asked() {
        assert_eq!(
            request_body(&reset(&["mirra", "reset"])).expect("body"),
            json!({})
        );
        let a = reset(&[
            "mirra",
            "reset",
            "--session",
            "ci",
            "--mirrors",
            "stripe",
            "--seed",
            "stripe:dunning-active",
        ]);
        assert_eq!(a.target.session.as_deref(), Some("ci"));
        assert_eq!(
            request_body(&a).expect("body"),
            json!({"mirrors": ["stripe"], "seeds": {"stripe": "dunning-active"}})
        );
    }

    #[test]
    fn human_output_shows_per_mirror_timings() {
        let r = json!({"session":"ses_ab12","total_ms":1.234,
            "mirrors":{"stripe":{"seed":"default","config_hash":"h","cached":true,"ms":0.41}}});
        assert_eq!(
            human(&r),
            "reset ses_ab12 in 1.23 ms\nMIRROR  SEED     CACHED  TIME\nstripe  default  yes     0.41 ms\n"
        );
    }
}
