//! The engine's command-line options (feature `cli`): [`CoreArgs`], the
//! clap group the `httpout` binary flattens beside each mode's own
//! (`StaticArgs`, `LiveArgs`, ... next to their modes), and the value
//! parsers every group uses ([`value`]).
//!
//! Nothing in the engine imports this module: an embedder builds a
//! [`ServerConfig`](crate::ServerConfig) without clap.
//!
//! Boolean flags are declared with `value_name = "BOOL"` and take their
//! shape from [`boolean_flags`]: `--dlist` alone means true, `--dlist=false`
//! turns it off.

mod core_args;
pub mod value;

pub use core_args::CoreArgs;

use clap::{ArgAction, Command};

/// Gives every `BOOL` option of `cmd` the shape of a boolean flag: given
/// alone it means true; it takes `=VALUE` (`true/false`, `yes/no`, `on/off`,
/// `1/0`). Apply it to the command that flattens the groups.
#[must_use]
pub fn boolean_flags(cmd: Command) -> Command {
    cmd.mut_args(|arg| {
        if arg
            .get_value_names()
            .is_some_and(|names| names.iter().any(|n| n == "BOOL"))
        {
            arg.action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(value::parse_bool)
        } else {
            arg
        }
    })
}
