//! `--hmode=push`: the push client's settings from the options.

use httpout_core::ConfigError;

use super::flag_name;
use crate::options::{Group, Options, config_error, group_of};

/// The push client's settings: one `-i` input, a destination (`--dst`
/// or one `-o URL`), nothing of the server's modes.
pub(crate) fn push_config(
    opts: &Options,
) -> Result<(String, httpout_push::PushConfig), ConfigError> {
    // The push client is one output: its suffixes are the process's.
    let all: Vec<String> = opts
        .input_flags
        .iter()
        .chain(&opts.output_flags)
        .flatten()
        .cloned()
        .collect();
    let opts = &opts.scoped(&all).map_err(|e| config_error(&e))?;
    let [input] = opts.inputs.as_slice() else {
        return Err(ConfigError::option(
            "--hmode=push",
            format!(
                "pushes one input: give one -i SOURCE (got {})",
                opts.inputs.len()
            ),
        ));
    };
    let destinations = match (&opts.push.dst, opts.outputs.as_slice()) {
        // `--dst=URL1,URL2`: each destination on its own (redundant ingest).
        (Some(d), []) => httpout_push::destinations::parse(d)
            .map_err(|e| ConfigError::invalid("--dst", d, e.to_string()))?,
        (None, [o]) => vec![one_url(o)?],
        _ => {
            return Err(ConfigError::option(
                "--hmode=push",
                "needs one destination: --dst=URL[,URL...] or one -o URL",
            ));
        }
    };
    for id in &opts.given {
        if matches!(
            group_of(id),
            Group::Static | Group::FileSink | Group::Live | Group::Source
        ) {
            return Err(ConfigError::option(
                flag_name(id),
                "does not apply to the push client (--hmode=push runs no server)",
            ));
        }
    }
    let headers = opts.core.headers()?;
    Ok((
        input.clone(),
        httpout_push::PushConfig {
            destinations,
            post: opts.push.post,
            cte: opts.push.cte,
            ka: opts.push.ka,
            user_agent: opts.push.user_agent.clone(),
            headers,
            cafile: opts.push.cafile.clone(),
            watch: opts.push.watch,
            delete: opts.push.delete,
            jobs: opts.push.jobs.max(1) as usize,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            timeout: httpout_core::timeout::from_secs(opts.core.timeout),
            // Served by `--metrics` (main.rs), or read by an embedder.
            metrics: std::sync::Arc::default(),
        },
    ))
}

/// The destination of `-o URL`: one absolute http(s) URL.
fn one_url(value: &str) -> Result<http::Uri, ConfigError> {
    value
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
        })
        .ok_or_else(|| ConfigError::invalid("--dst", value, "expected http(s)://HOST[:PORT]/PATH"))
}
