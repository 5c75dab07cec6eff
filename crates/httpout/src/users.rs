//! `httpout users`: manage a users file, like `gpac -creds`.
//!
//! ```text
//! httpout users --users=FILE add NAME        # password from the terminal, or stdin
//! echo secret | httpout users --users=FILE add alice
//! httpout users --users=FILE passwd NAME
//! httpout users --users=FILE del NAME
//! httpout users --users=FILE group add GROUP NAME...
//! httpout users --users=FILE group del GROUP [NAME...]
//! httpout users --users=FILE show
//! ```

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::options::error_line;
use clap::{Parser, Subcommand};
use httpout_core::auth::users::Users;

/// Manage an httpout users file (argon2id password hashes, groups).
#[derive(Debug, Parser)]
#[command(name = "httpout users", bin_name = "httpout users")]
struct UsersCli {
    /// The users file; created by the first `add`.
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a user (the password is asked on a terminal, else read from stdin).
    Add {
        /// The user name.
        name: String,
    },
    /// Change a user's password.
    Passwd {
        /// The user name.
        name: String,
    },
    /// Remove a user.
    Del {
        /// The user name.
        name: String,
    },
    /// Manage groups.
    Group {
        #[command(subcommand)]
        op: GroupOp,
    },
    /// List users and their groups (never the hashes).
    Show,
}

#[derive(Debug, Subcommand)]
enum GroupOp {
    /// Add users to a group (created if needed).
    Add {
        /// The group.
        group: String,
        /// Users to add.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove users from a group, or the group itself when no user is named.
    Del {
        /// The group.
        group: String,
        /// Users to remove.
        names: Vec<String>,
    },
}

/// Runs `httpout users ARGS` (`args[0]` is `users`).
pub(crate) fn run(args: &[std::ffi::OsString]) -> ExitCode {
    let cli = match UsersCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("httpout users: {}", error_line(&e));
            return ExitCode::from(2);
        }
    };
    match execute(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("httpout users: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &UsersCli) -> Result<(), String> {
    let mut users = if cli.users.exists() {
        Users::load(&cli.users)?
    } else {
        Users::default()
    };
    match &cli.command {
        Command::Show => {
            for (name, groups) in users.summary() {
                println!(
                    "{name}{}{}",
                    if groups.is_empty() { "" } else { "  groups: " },
                    groups.join(", ")
                );
            }
            return Ok(());
        }
        Command::Add { name } => {
            if users.get(name).is_some() {
                return Err(format!(
                    "user {name:?} exists already; use passwd to change the password"
                ));
            }
            users.set_password(name, &read_password(name)?)?;
        }
        Command::Passwd { name } => {
            if users.get(name).is_none() {
                return Err(format!("no user {name:?}"));
            }
            users.set_password(name, &read_password(name)?)?;
        }
        Command::Del { name } => {
            if !users.remove(name) {
                return Err(format!("no user {name:?}"));
            }
        }
        Command::Group {
            op: GroupOp::Add { group, names },
        } => users.add_to_group(group, names)?,
        Command::Group {
            op: GroupOp::Del { group, names },
        } => {
            if !users.remove_from_group(group, names) {
                return Err(format!("no group {group:?}"));
            }
        }
    }
    save(&users, &cli.users)
}

fn save(users: &Users, path: &Path) -> Result<(), String> {
    users
        .save(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The password: asked twice on a terminal, else the first line of stdin.
fn read_password(name: &str) -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(password)
}
