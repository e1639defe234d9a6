//! `mirra env`: `export` lines for `eval "$(mirra env)"`; with `--proxy`, those
//! that send an unchanged app's vendor traffic through `mirra proxy`.

use super::{Ctx, Output};
use crate::cli::EnvArgs;
use crate::error::CliError;
use crate::output::export_lines;

pub fn run(ctx: &Ctx, args: &EnvArgs) -> Result<Output, CliError> {
    let target = ctx.target(&args.target)?;
    let session = ctx.on_session(&target, |c, s| c.get(&["v1", "sessions", s]))?;
    let human = if args.proxy {
        let rec = crate::proxy::ensure(ctx.client.api_url())?;
        crate::proxy::exports(&rec, &session)
    } else {
        export_lines(&session)
    };
    Ok(Output {
        human,
        body: session,
    })
}
