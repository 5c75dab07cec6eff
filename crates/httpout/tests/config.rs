//! Settings from a config file (`--config`), `HTTPOUT_<OPTION>` variables
//! and the command line, in that order of precedence; `--print-config`;
//! completions, man page and `--version`. The real binary, bounded waits.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Httpout, binary, curl, output_bounded};

/// Runs `httpout ARGS` with `env` added; (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn httpout");
    let what = format!("httpout {args:?}");
    let (status, out, err) = output_bounded(child, Duration::from_secs(15), &what);
    (status.code(), out, err)
}

/// The line of `--print-config` output for `key`.
fn line<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{printed}"))
}

#[test]
fn the_command_line_wins_over_the_environment_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("media");
    std::fs::create_dir(&root).unwrap();
    let file = dir.path().join("httpout.toml");
    std::fs::write(
        &file,
        format!(
            "# a station\nrdirs = [{:?}]\nmaxc = 50\nmaxp = 3\ncors = \"on\"\ndlist = true\n\
             hdrs = [\"X-Station,One\"]\n\n[[pair]]\ninput = \"radio.mp3\"\n\
             output = \"http://127.0.0.1:8000/live.mp3\"\nhold = true\nice-genre = \"Rock\"\n",
            root.display().to_string()
        ),
    )
    .unwrap();
    let config = format!("--config={}", file.display());
    let env = [("HTTPOUT_MAXC", "60"), ("HTTPOUT_CORS", "off")];
    let (code, printed, err) = run(&[&config, "--cors=auto", "--print-config"], &env);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        line(&printed, "rdirs").ends_with("# config file"),
        "{printed}"
    );
    assert_eq!(line(&printed, "maxc"), "maxc = 60  # environment");
    assert_eq!(line(&printed, "maxp"), "maxp = 3  # config file");
    assert_eq!(line(&printed, "cors"), "cors = \"auto\"  # command line");
    assert_eq!(line(&printed, "dlist"), "dlist = true  # config file");
    assert!(
        printed.contains("# timeout = 30\n"),
        "defaults are comments"
    );
    assert!(printed.contains("[[pair]]\ninput = \"radio.mp3\"\noutput = \"http://127.0.0.1:8000/live.mp3\"\nhold = true\nice-genre = \"Rock\"\n"), "{printed}");

    // What it prints is a config file that gives the same settings back.
    let again = dir.path().join("printed.toml");
    std::fs::write(&again, &printed).unwrap();
    let (code, reprinted, err) = run(
        &[&format!("--config={}", again.display()), "--print-config"],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    let settings = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  #").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(settings(&printed), settings(&reprinted));
}

#[test]
fn a_server_runs_from_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from a file\n").unwrap();
    let file = dir.path().join("httpout.toml");
    std::fs::write(
        &file,
        format!(
            "rdirs = [{:?}]\nifce = \"127.0.0.1\"\nport = 0\nhdrs = [\"X-From,config\"]\n",
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let server = Httpout::start(&[&format!("--config={}", file.display())], 1);
    let out = curl(&["-i", &format!("{}/hello.txt", server.url())]);
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("x-from: config"), "{text}");
    assert!(text.ends_with("hello from a file\n"), "{text}");
}

#[test]
fn a_bad_file_or_variable_is_one_line_naming_it_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    let config = format!("--config={}", file.display());
    let shown = file.display().to_string();
    let cases: [(&str, String); 4] = [
        (
            "rdirs = [\".\"]\n\nmaxc = \"lots\"\n",
            format!("{shown}:3: `maxc`: invalid value 'lots' for --maxc"),
        ),
        (
            "rdirs = [\".\"]\nmaxcc = 3\n",
            format!("{shown}:2: unknown option `maxcc`"),
        ),
        ("rdirs = [\".\"\n", format!("{shown}:")),
        (
            "[mount.\"/live.mp3\"]\nmax_listeners = [3]\n",
            format!("{shown}:2: expected a string, a number or a boolean"),
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(&[&config, "--print-config"], &[]);
        assert_eq!(code, Some(2), "{text:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("httpout: {want}")),
            "{text:?}: {err}"
        );
    }
    let missing = format!("--config={}", dir.path().join("none.toml").display());
    let (code, _, err) = run(&[&missing], &[]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("httpout: --config: cannot read"), "{err}");

    let (code, _, err) = run(
        &["--rdirs=.", "--print-config"],
        &[("HTTPOUT_MAXP", "many")],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("httpout: HTTPOUT_MAXP=many: invalid value 'many' for --maxp"),
        "{err}"
    );
    // An unknown HTTPOUT_ variable is a warning, not an error.
    let (code, printed, err) = run(&["--rdirs=.", "--print-config"], &[("HTTPOUT_MAXPP", "3")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("HTTPOUT_MAXPP is not an option"), "{err}");
    assert!(printed.contains("rdirs = "));
}

#[test]
fn completions_man_page_and_version_come_from_the_table() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell], &[]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            out.contains("max_conn_rate") && out.contains("rdirs"),
            "{shell}"
        );
    }
    let (code, _, err) = run(&["completions", "tcsh"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("httpout: invalid value 'tcsh' for completions"),
        "{err}"
    );
    let (code, man, _) = run(&["man"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        man.starts_with(".ie") || man.contains(".TH httpout"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(
        man.contains("print\\-config"),
        "the man page lists every option"
    );
    let (code, version, _) = run(&["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        version.contains(env!("CARGO_PKG_VERSION")) && version.contains("HTTP/2"),
        "{version}"
    );
}
