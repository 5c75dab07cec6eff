//! The one type of configuration error: which option, which value, what was
//! expected. Every mode's `from_args` returns it; the CLI renders it as one
//! line and exits 2.

use std::fmt;

/// A setting that cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The option, as written on the command line (`--rdirs`, `-i`).
    pub option: String,
    /// The value given, when one is at fault.
    pub value: Option<String>,
    /// What was expected, or why the value cannot work.
    pub expected: String,
}

impl ConfigError {
    /// `value` of `option` is not usable: `expected` says what would be.
    pub fn invalid(
        option: impl Into<String>,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            option: option.into(),
            value: Some(value.to_string()),
            expected: expected.into(),
        }
    }

    /// A setting that is wrong as a whole, naming no single option
    /// (`nothing to serve: ...`).
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            option: String::new(),
            value: None,
            expected: message.into(),
        }
    }

    /// `option` cannot be used as given (with others, or in this mode):
    /// `why` says what to do.
    pub fn option(option: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            option: option.into(),
            value: None,
            expected: why.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// One line: `invalid value 'V' for --O: E`, or `--O E`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "invalid value '{v}' for {}: {}",
                self.option, self.expected
            ),
            None if self.option.is_empty() => f.write_str(&self.expected),
            None => write!(f, "{} {}", self.option, self.expected),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_naming_the_option() {
        let e = ConfigError::invalid("--rdirs", "x", "expected a directory (No such file)");
        assert_eq!(
            e.to_string(),
            "invalid value 'x' for --rdirs: expected a directory (No such file)"
        );
        let e = ConfigError::option("--cert", "and --pkey go together");
        assert_eq!(e.to_string(), "--cert and --pkey go together");
        assert_eq!(
            ConfigError::general("nothing to serve").to_string(),
            "nothing to serve"
        );
    }
}
