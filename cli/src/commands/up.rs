//! `mirra up`: create a session, remember it, print how to reach it.

use serde_json::{json, Value};

use super::{seed_maps, yes_no, Ctx, Output, Seeds};
use crate::cli::UpArgs;
use crate::error::CliError;
use crate::output::{export_lines, field, fmt_expires, now_unix, table};

pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<Output, CliError> {
    let body = request_body(args)?;
    let session = ctx.client.post(&["v1", "sessions"], &body)?;
    let id = session
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !id.is_empty() {
        ctx.remember(id, session.get("name").and_then(Value::as_str));
    }
    let mut text = human(&session, now_unix());
    if args.proxy {
        let rec = crate::proxy::ensure(ctx.client.api_url())?;
        text.push_str(&format!(
            "\n# or through the proxy at {} (apps at the vendors' default URLs; later: eval \"$(mirra env --proxy)\")\n",
            rec.url
        ));
        text.push_str(&crate::proxy::exports(&rec, &session));
    }
    Ok(Output {
        human: text,
        body: session,
    })
}

/// Unset options are left out, so the server's defaults (mirrors from the
/// seeds, else stripe; 60 minute timeout) stay in one place.
fn request_body(args: &UpArgs) -> Result<Value, CliError> {
    let Seeds { seeds, seed_files } = seed_maps(&args.seed)?;
    let mut body = json!({
        "seeds": seeds,
        "seed_files": seed_files,
        "persistent": args.persistent,
        "name": args.name,
    });
    if let Some(m) = &args.mirrors {
        body["mirrors"] = json!(m);
    }
    if let Some(t) = args.timeout {
        body["timeout_seconds"] = json!(t);
    }
    if let Some(r) = args.rate_limit {
        body["rate_limit"] = json!(r);
    }
    Ok(body)
}

/// Aligned facts about the session, each mirror with its URL and credentials,
/// then the `export` lines `mirra env` would print.
pub fn human(s: &Value, now: i64) -> String {
    let mut rows = vec![
        vec!["id".to_string(), field(s, "id")],
        vec!["name".to_string(), field(s, "name")],
        vec!["mode".to_string(), field(s, "mode")],
        vec![
            "expires".to_string(),
            fmt_expires(s.get("expires_at"), now, true),
        ],
        vec!["cached".to_string(), yes_no(s.get("cached")).to_string()],
    ];
    if let Some(mirrors) = s.get("mirrors").and_then(Value::as_object) {
        for (name, m) in mirrors {
            rows.push(vec![name.clone(), field(m, "url")]);
            if let Some(h) = m.get("host_url").and_then(Value::as_str) {
                rows.push(vec!["  host_url".to_string(), h.to_string()]);
            }
            rows.push(vec!["  seed".to_string(), field(m, "seed")]);
            if let Some(creds) = m.get("credentials").and_then(Value::as_object) {
                for (k, v) in creds {
                    rows.push(vec![
                        format!("  {k}"),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    ]);
                }
            }
        }
    }
    let mut out = table(&rows);
    let exports = export_lines(s);
    if !exports.is_empty() {
        out.push_str("\n# point an app at this session (later: eval \"$(mirra env)\")\n");
        out.push_str(&exports);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn up(argv: &[&str]) -> UpArgs {
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Up(a) => a,
            other => panic!("not up: {other:?}"),
        }
    }

    #[test]
    fn body_leaves_defaults_to_the_server() {
        let b = request_body(&up(&["mirra", "up"])).expect("body");
        assert_eq!(
            b,
            json!({"seeds": {}, "seed_files": {}, "persistent": false, "name": null})
        );
    }

    #[test]
    fn body_carries_every_option() {
        let a = up(&[
            "mirra",
            "up",
            "--mirrors",
            "stripe",
            "--seed",
            "stripe:default",
            "--name",
            "ci",
            "--timeout",
            "2h",
        ]);
        let b = request_body(&a).expect("body");
        assert_eq!(
            b,
            json!({"mirrors": ["stripe"], "seeds": {"stripe": "default"}, "seed_files": {},
                   "persistent": false, "name": "ci", "timeout_seconds": 7200})
        );
        let b =
            request_body(&up(&["mirra", "up", "--persistent", "--name", "keep"])).expect("body");
        assert_eq!(b["persistent"], json!(true));
        assert!(b.get("timeout_seconds").is_none());
    }

    #[test]
    fn human_output_shows_urls_credentials_and_exports() {
        let s = json!({
            "id": "ses_ab12", "name": null, "mode": "ephemeral", "cached": true,
            "created_at": 0, "expires_at": 3600,
            "mirrors": {"stripe": {
                "url": "http://127.0.0.1:4400/m/ses_ab12/stripe",
                "host_url": "http://stripe-ab12.localhost:4400",
                "seed": "default",
                "credentials": {"secret_key": "sk_test_1", "publishable_key": "pk_test_1"},
                "env": {"STRIPE_SECRET_KEY": "sk_test_1"}
            }}
        });
        let out = human(&s, 0);
        assert!(
            out.starts_with(
                "id                 ses_ab12\nname               -\nmode               ephemeral\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("expires            1970-01-01 01:00:00 UTC (in 1h00m)\n"),
            "{out}"
        );
        assert!(out.contains("cached             yes\n"), "{out}");
        assert!(
            out.contains("stripe             http://127.0.0.1:4400/m/ses_ab12/stripe\n"),
            "{out}"
        );
        assert!(out.contains("  publishable_key  pk_test_1\n"), "{out}");
        assert!(
            out.ends_with("export STRIPE_SECRET_KEY=sk_test_1\n"),
            "{out}"
        );
    }
}
