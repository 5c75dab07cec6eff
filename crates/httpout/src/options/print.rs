//! `--print-config`: the effective settings, written as a config file
//! (`--config`) that gives them back. Options given by a layer (file,
//! environment, command line) are keys, each with where it came from;
//! defaults are comments, so that reading the output back gives only what
//! was chosen.

use std::fmt::Write as _;

use clap::parser::ValueSource;

use super::layers::Origin;
use super::{Group, Options, command, group_of};

/// Options that are not settings: how the command line is read.
const NOT_SETTINGS: &[&str] = &[
    "config",
    "print_config",
    "inputs",
    "outputs",
    "help",
    "version",
];

/// The settings of `opts` as TOML.
pub(crate) fn render(opts: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# httpout {}: the effective settings, as a config file (httpout --config=FILE).",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(file) = &opts.config {
        let _ = writeln!(out, "# config file: {}", file.display());
    }
    let _ = writeln!(
        out,
        "# Defaults are commented out; after each value, where it came from.\n"
    );
    let cmd = command();
    let Ok(matches) = cmd.clone().try_get_matches_from(&opts.argv) else {
        return out;
    };
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if NOT_SETTINGS.contains(&id) || arg.is_hide_set() {
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let origin = origin(opts, id, matches.value_source(id));
        let line = key(long, &values, Shape::of(arg));
        match origin {
            Origin::Default if values.is_empty() => {
                let _ = writeln!(out, "# {long}: not set");
            }
            Origin::Default => {
                let _ = writeln!(out, "# {line}");
            }
            _ if group_of(id) == Group::GpacOnly && values.iter().all(|v| v == "false") => {}
            _ => {
                let _ = writeln!(out, "{line}  # {}", said(origin));
            }
        }
    }
    for i in 0..opts.outputs.len() {
        let _ = writeln!(out, "\n[[pair]]");
        if let Some(input) = opts.inputs.get(i) {
            let _ = writeln!(out, "input = {}", quote(input));
        }
        let _ = writeln!(out, "output = {}", quote(&opts.outputs[i]));
        let own = opts.input_flags.get(i).into_iter().flatten();
        for flag in own.chain(&opts.output_flags[i]) {
            let flag = flag.trim_start_matches('-');
            let (name, value) = flag.split_once('=').unwrap_or((flag, "true"));
            let (name, value) = match name {
                "ice_hdr" => match value.split_once('=') {
                    Some((n, v)) => (format!("ice-{n}"), v.to_owned()),
                    None => (name.to_owned(), value.to_owned()),
                },
                _ => (name.to_owned(), value.to_owned()),
            };
            let shape = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(name.as_str()))
                .map_or(Shape::default(), Shape::of);
            let _ = writeln!(out, "{}", key(&name, &[value], shape));
        }
    }
    out
}

/// How an option's values are written.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// A boolean flag: `true`/`false` bare.
    boolean: bool,
    /// Given several times: a TOML array.
    list: bool,
    /// Its values are one string split at this character (`hdrs`).
    delimiter: Option<char>,
}

impl Shape {
    fn of(arg: &clap::Arg) -> Self {
        Self {
            boolean: arg
                .get_value_names()
                .is_some_and(|n| n.iter().any(|n| n == "BOOL")),
            list: matches!(arg.get_action(), clap::ArgAction::Append),
            delimiter: arg.get_value_delimiter(),
        }
    }
}

/// Where the value of `id` came from.
fn origin(opts: &Options, id: &str, source: Option<ValueSource>) -> Origin {
    match source {
        Some(ValueSource::CommandLine) if opts.layers.from_file.contains(id) => Origin::File,
        Some(ValueSource::CommandLine) if opts.layers.from_env.contains(id) => Origin::Environment,
        Some(ValueSource::CommandLine) => Origin::CommandLine,
        _ => Origin::Default,
    }
}

fn said(origin: Origin) -> &'static str {
    match origin {
        Origin::Default => "default",
        Origin::File => "config file",
        Origin::Environment => "environment",
        Origin::CommandLine => "command line",
    }
}

/// `name = value` in TOML: booleans and integers bare, lists as arrays
/// (one string for options split at a delimiter, as `hdrs`).
fn key(name: &str, values: &[String], shape: Shape) -> String {
    let one = |v: &String| {
        if (shape.boolean && (v == "true" || v == "false"))
            || (!v.is_empty()
                && v.len() < 19
                && v.bytes().all(|b| b.is_ascii_digit())
                && !v.starts_with('0'))
            || v == "0"
        {
            v.clone()
        } else {
            quote(v)
        }
    };
    let value = if let Some(d) = shape.delimiter {
        quote(&values.join(&d.to_string()))
    } else if shape.list {
        format!(
            "[{}]",
            values.iter().map(one).collect::<Vec<_>>().join(", ")
        )
    } else {
        values.first().map(one).unwrap_or_default()
    };
    format!("{name} = {value}")
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
