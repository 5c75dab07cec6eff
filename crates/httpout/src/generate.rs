//! `httpout completions SHELL` and `httpout man`: shell completions and a
//! man page generated from the options table, as docs/options.md is. The
//! generated files are kept in `contrib/` (for packagers) and a test fails
//! when they drift: regenerate with
//! `UPDATE_DOCS=1 cargo test -p httpout -- options::docs generate`.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;

use clap_complete::Shell;

use crate::options::command;

/// The shells completions are generated for.
const SHELLS: &str = "bash, zsh, fish, elvish, powershell";

/// Runs `completions SHELL` or `man` (`args[0]` is the subcommand).
pub(crate) fn run(args: &[OsString]) -> ExitCode {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    let done = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["man"] => man(&mut out),
        ["completions", shell] => match Shell::from_str(shell) {
            Ok(shell) => {
                completions(shell, &mut out);
                Ok(())
            }
            Err(_) => Err(format!(
                "invalid value '{shell}' for completions: expected one of {SHELLS}"
            )),
        },
        ["completions"] => Err(format!("completions: give a shell, one of {SHELLS}")),
        _ => Err("usage: httpout completions SHELL | httpout man".to_owned()),
    };
    match done {
        Ok(()) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&out)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("httpout: {e}");
            ExitCode::from(2)
        }
    }
}

/// The completion script of `shell`.
fn completions(shell: Shell, out: &mut Vec<u8>) {
    clap_complete::generate(shell, &mut command(), "httpout", out);
}

/// The man page, in roff.
fn man(out: &mut Vec<u8>) -> Result<(), String> {
    clap_mangen::Man::new(command())
        .render(out)
        .map_err(|e| format!("man: {e}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The files in `contrib/` match what the table generates.
    #[test]
    fn contrib_completions_and_man_page_match_the_table() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contrib");
        let mut files = vec![("man/httpout.1", {
            let mut v = Vec::new();
            man(&mut v).unwrap();
            v
        })];
        for (shell, name) in [
            (Shell::Bash, "completions/httpout.bash"),
            (Shell::Zsh, "completions/_httpout"),
            (Shell::Fish, "completions/httpout.fish"),
        ] {
            let mut v = Vec::new();
            completions(shell, &mut v);
            files.push((name, v));
        }
        for (name, generated) in files {
            let path = root.join(name);
            if std::env::var_os("UPDATE_DOCS").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == generated,
                "contrib/{name} is out of date: run UPDATE_DOCS=1 cargo test -p httpout -- options::docs generate"
            );
        }
    }
}
