//! clap's errors as one line naming the option, the value and what was
//! expected.

use std::fmt::Write as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Renders a clap error as one line naming the option, the value and what was
/// expected (no usage block, no trailing hints). `--help`/`--version` output is
/// returned unchanged.
pub(crate) fn error_line(err: &clap::Error) -> String {
    let ctx = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = ctx(ContextKind::InvalidArg)
        .map(|a| a.split([' ', '=', '[']).next().unwrap_or(&a).to_owned());
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => err.to_string(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = arg.unwrap_or_default();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            let expected =
                if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue) {
                    format!("expected one of {}", valid.join(", "))
                } else if let Some(src) = std::error::Error::source(err) {
                    src.to_string()
                } else if value.is_empty() {
                    "a value is required".to_owned()
                } else {
                    "invalid value".to_owned()
                };
            format!("invalid value '{value}' for {arg}: {expected}")
        }
        ErrorKind::UnknownArgument => {
            let mut line = format!("unknown option '{}'", arg.unwrap_or_default());
            if let Some(ContextValue::Strings(s)) = err.get(ContextKind::SuggestedArg) {
                let _ = write!(line, " (did you mean '{}'?)", s.join("', '"));
            }
            line + "; see httpout --help"
        }
        _ => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    }
}

/// A clap error met after start-up parsing (re-reading scoped options), as
/// the one configuration error type.
pub(crate) fn config_error(err: &clap::Error) -> httpout_core::ConfigError {
    httpout_core::ConfigError::general(error_line(err))
}
