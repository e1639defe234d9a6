//! `mirra env`: `export` lines for `eval "$(mirra env)"`.

use super::{Ctx, Output};
use crate::cli::SessionArgs;
use crate::error::CliError;
use crate::output::export_lines;

pub fn run(ctx: &Ctx, args: &SessionArgs) -> Result<Output, CliError> {
    let target = ctx.target(args)?;
    let session = ctx.on_session(&target, |c, s| c.get(&["v1", "sessions", s]))?;
    Ok(Output {
        human: export_lines(&session),
        body: session,
    })
}
