//! Where options come from, lowest first: the defaults, the config file
//! (`--config=FILE`, [`config_file`]), `HTTPOUT_<OPTION>` environment
//! variables, the command line. A layer replaces what a lower one gave for
//! the same option (a list too: `--rdirs` on the command line replaces the
//! file's `rdirs`); the `[[pair]]` tables of a file are used when neither
//! the environment nor the command line gives `-i`/`-o`.
//!
//! The result is one command line, the layers' long flags first, which
//! clap reads as it reads any other.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;

use super::config_file::{self, ConfigFile};
use super::{Options, command, error_line, gpac};

/// Variables the source mode sets for its `--exec` commands: not options,
/// and no reason to warn when httpout runs below such a command.
const EXEC_VARIABLES: &[&str] = &[
    "METHOD",
    "PATH",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "PEER",
    "USER",
];

/// Where the effective value of an option came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Nothing gave it.
    Default,
    /// The config file.
    File,
    /// An `HTTPOUT_<OPTION>` variable.
    Environment,
    /// The command line.
    CommandLine,
}

/// The layers merged into one command line.
#[derive(Debug)]
pub(crate) struct Merged {
    /// Program name, the file's and the environment's flags, then the
    /// command line's own arguments.
    pub(crate) args: Vec<OsString>,
    /// The config file read, if any.
    pub(crate) file: Option<PathBuf>,
    /// How many of the first `-o` outputs are the file's `[[pair]]`s, and
    /// their own options (long flags).
    pub(crate) pair_flags: Vec<Vec<String>>,
    /// Options (clap ids) the file gave and no higher layer replaced.
    pub(crate) from_file: BTreeSet<String>,
    /// Options (clap ids) the environment gave and the command line did not.
    pub(crate) from_env: BTreeSet<String>,
    /// What is worth a warning (unknown `HTTPOUT_` variables).
    pub(crate) warnings: Vec<String>,
}

/// Merges the command line `args` (program name first) with the config
/// file it names (or `HTTPOUT_CONFIG` names) and the `HTTPOUT_*` variables
/// of `env`. Errors are one line naming the file or variable (`--help` and
/// `--version` are clap's own "errors", passed on).
pub(crate) fn merge(args: Vec<OsString>, env: &[(String, String)]) -> Result<Merged, clap::Error> {
    let line = |e: String| clap::Error::raw(clap::error::ErrorKind::Io, format!("{e}\n"));
    let bin = args
        .first()
        .cloned()
        .unwrap_or_else(|| OsString::from("httpout"));
    let cli = gpac::rewrite(args.clone(), is_option);
    let matches = command()
        .ignore_errors(true)
        .try_get_matches_from(&cli.args)?;
    let on_cli: BTreeSet<String> = matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().to_owned())
        .collect();

    let mut warnings = Vec::new();
    let mut env_flags = Vec::new();
    let mut config = matches.get_one::<PathBuf>("config").cloned();
    for (name, value) in env {
        let Some(option) = name.strip_prefix("HTTPOUT_") else {
            continue;
        };
        if EXEC_VARIABLES.contains(&option) {
            continue;
        }
        let Some(long) = long_of(&option.to_ascii_lowercase()) else {
            warnings.push(format!(
                "{name} is not an option (HTTPOUT_<OPTION>, see httpout --help): ignored"
            ));
            continue;
        };
        let id = id_of(&long);
        if on_cli.contains(&id) {
            continue;
        }
        if long == "config" {
            config.get_or_insert_with(|| PathBuf::from(value));
            continue;
        }
        let flag = format!("--{long}={value}");
        check(&flag).map_err(|e| line(format!("{name}={value}: {e}")))?;
        env_flags.push((id, flag));
    }
    let from_env: BTreeSet<String> = env_flags.iter().map(|(id, _)| id.clone()).collect();

    let file = match &config {
        Some(path) => config_file::read(path, &long_of, &check).map_err(line)?,
        None => ConfigFile::default(),
    };
    let mut merged = vec![bin];
    let mut from_file = BTreeSet::new();
    for (long, flags) in &file.options {
        let id = id_of(long);
        if on_cli.contains(&id) || from_env.contains(&id) {
            continue;
        }
        from_file.insert(id);
        merged.extend(flags.iter().map(OsString::from));
    }
    let pairs_elsewhere = ["inputs", "outputs"]
        .iter()
        .any(|id| on_cli.contains(*id) || from_env.contains(*id));
    let mut pair_flags = Vec::new();
    if !pairs_elsewhere {
        for pair in &file.pairs {
            if let Some(input) = &pair.input {
                merged.push(format!("--input={input}").into());
            }
            merged.push(format!("--output={}", pair.output).into());
            pair_flags.push(pair.flags.clone());
        }
    }
    merged.extend(env_flags.into_iter().map(|(_, flag)| OsString::from(flag)));
    merged.extend(args.into_iter().skip(1));
    Ok(Merged {
        args: merged,
        file: config,
        pair_flags,
        from_file,
        from_env,
        warnings,
    })
}

/// Whether `name` is an option a GPAC string or a URL suffix may give.
pub(crate) fn is_option(name: &str) -> bool {
    name.starts_with("ice-")
        || command()
            .get_arguments()
            .any(|a| a.get_long() == Some(name))
}

/// The long name of the option a file key or variable names: its long
/// name or an alias, `-` and `_` alike; `ice-NAME` keys as they are.
pub(crate) fn long_of(key: &str) -> Option<String> {
    if key.starts_with("ice-") {
        return Some(key.to_owned());
    }
    let same = |name: &str| name == key || name.replace('-', "_") == key.replace('-', "_");
    command()
        .get_arguments()
        .find(|a| {
            a.get_long().is_some_and(same)
                || a.get_all_aliases()
                    .is_some_and(|al| al.into_iter().any(same))
        })
        .and_then(|a| a.get_long().map(str::to_owned))
}

/// The clap id of a long name (`ice-NAME` keys: `ice_hdr`).
fn id_of(long: &str) -> String {
    Options::flag_id(&format!("--{long}")).unwrap_or_else(|| "ice_hdr".to_owned())
}

/// Parses one long flag alone: what was expected, when it is refused.
fn check(flag: &str) -> Result<(), String> {
    let argv = gpac::rewrite(["httpout", flag], is_option).args;
    command()
        .try_get_matches_from(argv)
        .map(drop)
        .map_err(|e| error_line(&e))
}
