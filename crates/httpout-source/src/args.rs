//! Source mode's options, a clap group the `httpout` binary flattens beside
//! the others.

use clap::Args;

/// Source mode's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SourceArgs {
    /// Source mode: a shell command run per upload, the body on its stdin (`201` on exit 0, else `502`).
    #[arg(long, value_name = "COMMAND", help_heading = "Source mode")]
    pub exec: Option<String>,
    /// Source mode: commands of `--exec` running at once (0 = the number of cores); later uploads wait, up to 4 per slot, then `503`.
    #[arg(
        long = "exec_max",
        alias = "exec-max",
        value_name = "N",
        default_value_t = 0,
        help_heading = "Source mode"
    )]
    pub exec_max: usize,
}
