//! `mirra down`: end a session and forget it locally.

use serde_json::Value;

use super::{session_label, Ctx, Output};
use crate::cli::SessionArgs;
use crate::error::CliError;

pub fn run(ctx: &Ctx, args: &SessionArgs) -> Result<Output, CliError> {
    let target = ctx.target(args)?;
    let ended = ctx.on_session(&target, |c, s| c.delete(&["v1", "sessions", s]))?;
    // Forget by the id the server reports: `--session NAME` of the remembered
    // session must forget it too.
    match ended.get("id").and_then(Value::as_str) {
        Some(id) => ctx.forget(id),
        None => ctx.forget(&target.session),
    }
    Ok(Output {
        human: human(&ended),
        body: ended,
    })
}

fn human(e: &Value) -> String {
    let minutes = e.get("billed_minutes").and_then(Value::as_u64);
    let mut out = format!("ended {}", session_label(e, "id", "name"));
    if let Some(m) = minutes {
        out.push_str(&format!(
            " ({m} billed minute{})",
            if m == 1 { "" } else { "s" }
        ));
    }
    out.push('\n');
    if let Some(snap) = e.get("final_snapshot").and_then(Value::as_str) {
        out.push_str(&format!("final snapshot {snap}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_output_names_the_session_and_the_final_snapshot() {
        let e = json!({"id":"ses_ab12","name":"keep","mode":"persistent","status":"ended",
                       "billed_minutes":3,"final_snapshot":"snap_x"});
        assert_eq!(
            human(&e),
            "ended ses_ab12 (keep) (3 billed minutes)\nfinal snapshot snap_x\n"
        );
        let e = json!({"id":"ses_ab12","name":null,"billed_minutes":1,"final_snapshot":null});
        assert_eq!(human(&e), "ended ses_ab12 (1 billed minute)\n");
    }
}
