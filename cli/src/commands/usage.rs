//! `mirra usage`: metered minutes for the workspace.

use serde_json::Value;

use super::{Ctx, Output};
use crate::error::CliError;
use crate::output::{field, table};

pub fn run(ctx: &Ctx) -> Result<Output, CliError> {
    let usage = ctx.client.get(&["v1", "usage"])?;
    Ok(Output {
        human: human(&usage),
        body: usage,
    })
}

fn human(u: &Value) -> String {
    table(&[
        vec!["workspace".into(), field(u, "workspace")],
        vec!["ephemeral minutes".into(), field(u, "ephemeral_minutes")],
        vec!["persistent minutes".into(), field(u, "persistent_minutes")],
        vec!["live sessions".into(), field(u, "live_sessions")],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_output_lists_minutes() {
        let u = serde_json::json!({"workspace":"local","ephemeral_minutes":12,"persistent_minutes":0,"live_sessions":1});
        assert_eq!(
            human(&u),
            "workspace           local\nephemeral minutes   12\npersistent minutes  0\nlive sessions       1\n"
        );
    }
}
