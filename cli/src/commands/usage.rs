//! `mirra usage`: the workspace's session-minutes in a month.

use serde_json::Value;

use super::{Ctx, Output};
use crate::cli::UsageArgs;
use crate::error::CliError;
use crate::output::{field, table};

pub fn run(ctx: &Ctx, args: &UsageArgs) -> Result<Output, CliError> {
    let mut query = Vec::new();
    if let Some(p) = &args.period {
        query.push(("period", p.as_str()));
    }
    if let Some(w) = &args.workspace {
        query.push(("workspace", w.as_str()));
    }
    let usage = ctx.client.get_query(&["v1", "usage"], &query)?;
    Ok(Output {
        human: human(&usage),
        body: usage,
    })
}

fn human(u: &Value) -> String {
    let allowance = match u.get("minutes_per_month").and_then(Value::as_u64) {
        Some(max) => format!("{} of {max} left", field(u, "minutes_remaining")),
        None => "no monthly limit".to_string(),
    };
    table(&[
        vec!["workspace".into(), field(u, "workspace")],
        vec!["period".into(), field(u, "period")],
        vec!["plan".into(), format!("{} ({allowance})", field(u, "plan"))],
        vec!["ephemeral minutes".into(), field(u, "ephemeral_minutes")],
        vec!["persistent minutes".into(), field(u, "persistent_minutes")],
        vec!["total minutes".into(), field(u, "total_minutes")],
        vec!["live sessions".into(), field(u, "live_sessions")],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_output_lists_minutes_and_what_the_plan_leaves() {
        let u = serde_json::json!({"workspace":"acme","period":"2026-12","plan":"free",
            "minutes_per_month":2000,"minutes_remaining":1988,"ephemeral_minutes":12,
            "persistent_minutes":0,"total_minutes":12,"live_sessions":1});
        assert_eq!(
            human(&u),
            "workspace           acme\nperiod              2026-12\nplan                free (1988 of 2000 left)\n\
             ephemeral minutes   12\npersistent minutes  0\ntotal minutes       12\nlive sessions       1\n"
        );
        let local = serde_json::json!({"plan":"unlimited","minutes_per_month":null});
        assert!(human(&local).contains("unlimited (no monthly limit)"));
    }
}
