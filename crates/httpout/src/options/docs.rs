//! docs/options.md, generated from the options table.

use std::fmt::Write as _;

/// docs/options.md, generated from the options table itself.
pub(crate) fn markdown() -> String {
    let cmd = super::command();
    let mut out = String::from(
        "# httpout options\n\n\
         Generated from the option groups (`CoreArgs` in `crates/httpout-core/src/options/`, \
         each mode's `args.rs`, composed in `crates/httpout/src/options/mod.rs`) by \
         `UPDATE_DOCS=1 cargo test -p httpout options::docs`; a test fails when this \
         file drifts from the code.\n\n\
         Every option can be given as a long flag (`--port=8080` or `--port 8080`), in a GPAC \
         filter string (`httpout:port=8080`), or as a suffix of an output URL \
         (`-o http://localhost:8080/live.mp3:hold`). A suffix applies to its own output only; \
         the server's options among them (`port`, `maxc`, `cert`, `hdrs`...) to that output's \
         server. An input takes GPAC's properties the same way: \
         `-i 'music.mp3:#ice-Genre=Rock'`. Lists are comma-separated. Sizes take \
         `K`, `M` or `G` suffixes, binary (`50M` = 52 428 800 bytes). A boolean flag alone means \
         true (`--dlist`); `--dlist=false` turns it off.\n",
    );
    let mut heading = None;
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        if arg.get_help_heading() != heading {
            heading = arg.get_help_heading();
            let _ = write!(
                out,
                "\n## {}\n\n| option | value | default | meaning |\n|---|---|---|---|\n",
                heading.unwrap_or("Other")
            );
        }
        let short = arg
            .get_short()
            .map(|c| format!("`-{c}`, "))
            .unwrap_or_default();
        let value = arg
            .get_value_names()
            .map(|v| v.join(" "))
            .unwrap_or_default();
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_owned())
            .collect();
        let value = if possible.is_empty() {
            value
        } else if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            "(none)".to_owned()
        } else {
            format!("{value}: {}", possible.join(" \\| "))
        };
        let default = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {short}`--{long}` | {value} | {} | {} |",
            if default.is_empty() {
                "–".to_owned()
            } else {
                format!("`{default}`")
            },
            help.replace('|', "\\|")
        );
    }
    out.push_str(include_str!("notes.md"));
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// docs/options.md is generated from the options table; this fails
    /// when they drift. Regenerate with
    /// `UPDATE_DOCS=1 cargo test -p httpout options::docs`.
    #[test]
    fn options_md_matches_the_table() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/options.md");
        let generated = super::markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/options.md is out of date: run UPDATE_DOCS=1 cargo test -p httpout options::docs"
        );
    }
    #[test]
    fn every_reference_option_is_in_the_table() {
        // The option names of GPAC's httpout filter (shared/reference/gpac-httpout.md).
        let reference = [
            "dst",
            "port",
            "ifce",
            "rdirs",
            "wdir",
            "cert",
            "pkey",
            "block_size",
            "user_agent",
            "close",
            "maxc",
            "maxp",
            "cache_control",
            "hold",
            "hmode",
            "timeout",
            "ext",
            "mime",
            "quit",
            "post",
            "dlist",
            "sutc",
            "cors",
            "reqlog",
            "ice",
            "max_client_errors",
            "max_cache_segs",
            "reopen",
            "max_async_buf",
            "blockio",
            "ka",
            "hdrs",
            "js",
            "zmax",
            "cte",
            "maxs",
            "norange",
        ];
        let md = super::markdown();
        for name in reference {
            assert!(
                md.contains(&format!("`--{name}`")),
                "--{name} missing from the options table"
            );
        }
    }
}
