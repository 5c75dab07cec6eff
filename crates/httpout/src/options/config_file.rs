//! `--config=FILE`: a TOML file of options, read into long flags.
//!
//! Every key is an option of the table, with its command-line name
//! (`maxc = 200`, `rdirs = ["/srv/a", "/srv/b"]`, `cors = "on"`,
//! `dlist = true`); an array gives the option once per element. `[[pair]]`
//! tables are `-i`/`-o` pairs, each with its own options (what a suffix of
//! the `-o` URL gives on the command line):
//!
//! ```toml
//! port = 8000
//! [[pair]]
//! input = "radio.mp3"
//! output = "http://127.0.0.1:8000/live.mp3"
//! ice-genre = "Rock"
//! ```
//!
//! `[mount."/path"]` tables hold one live mount's settings, each key one
//! `--mount=/path:KEY=VALUE`:
//!
//! ```toml
//! [mount."/live.mp3"]
//! fallback = "/backup.mp3"
//! max_listeners = 500
//! ```
//!
//! A `[cache_control]` table holds `Cache-Control` rules by pattern, each
//! `--cache_rule=GLOB=VALUE`, first match first. (TOML cannot have both
//! `cache_control = "..."` and the table: with the table, a last
//! `"**" = "..."` rule stands for the global value.)
//!
//! ```toml
//! [cache_control]
//! "*.m4s" = "public, max-age=600"
//! "/vod/**" = "public, max-age=86400"
//! ```
//!
//! Errors name the file, the line, the key and what was expected, on one
//! line.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Options whose place is the command line or the environment, not a file.
const NOT_IN_A_FILE: &[&str] = &["config", "print-config"];

/// One `[[pair]]` table: an `-i`/`-o` pair and its own options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FilePair {
    /// `input`: the pair's source, if any.
    pub(crate) input: Option<String>,
    /// `output`: the pair's URL.
    pub(crate) output: String,
    /// The pair's options, as long flags.
    pub(crate) flags: Vec<String>,
}

/// A config file, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ConfigFile {
    /// Per option (its long name) in the file, its long flags
    /// (`--maxc=200`; one per array element).
    pub(crate) options: Vec<(String, Vec<String>)>,
    /// The `[[pair]]` tables, in order.
    pub(crate) pairs: Vec<FilePair>,
}

/// What `check` says of one flag: `Ok`, or what was expected.
pub(crate) type Check<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// Reads `path`. `long_of` gives the long name of an option from a key
/// (a long name or an alias), `None` for an unknown one; `check` parses one
/// long flag alone, so that a bad value is reported at its line.
pub(crate) fn read(
    path: &Path,
    long_of: &dyn Fn(&str) -> Option<String>,
    check: Check<'_>,
) -> Result<ConfigFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--config: cannot read {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string(), long_of, check)
}

/// Parses the text of a config file named `name` (for errors).
pub(crate) fn parse(
    text: &str,
    name: &str,
    long_of: &dyn Fn(&str) -> Option<String>,
    check: Check<'_>,
) -> Result<ConfigFile, String> {
    let at = |offset: usize| format!("{name}:{}", line_of(text, offset));
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or_else(|| name.to_owned(), |s| at(s.start));
        format!("{line}: {}", e.message().trim())
    })?;
    let mut file = ConfigFile::default();
    for (key, value) in table.get_ref() {
        let where_ = at(key.span().start);
        match key.get_ref().as_ref() {
            "pair" => {
                let Some(tables) = value.get_ref().as_array() else {
                    return Err(format!(
                        "{where_}: `pair` is a list of tables: write [[pair]]"
                    ));
                };
                for table in tables.iter() {
                    file.pairs.push(pair(table, &at, long_of, check)?);
                }
            }
            "mount" if value.get_ref().as_table().is_some() => {
                let flags = mount_tables(value, &at)?;
                for (offset, flag) in &flags {
                    check(flag).map_err(|e| format!("{}: {e}", at(*offset)))?;
                }
                let flags = flags.into_iter().map(|(_, f)| f).collect();
                file.options.push(("mount".to_owned(), flags));
            }
            "cache_control" if value.get_ref().as_table().is_some() => {
                let flags = cache_rules(value, &at)?;
                for (offset, flag) in &flags {
                    check(flag).map_err(|e| format!("{}: {e}", at(*offset)))?;
                }
                let flags = flags.into_iter().map(|(_, f)| f).collect();
                file.options.push(("cache_rule".to_owned(), flags));
            }
            key => {
                let long = option(key, &where_, long_of)?;
                let flags = flags(&long, value, &at)?;
                for flag in &flags {
                    check(flag).map_err(|e| format!("{where_}: `{key}`: {e}"))?;
                }
                file.options.push((long, flags));
            }
        }
    }
    Ok(file)
}

/// One `[[pair]]` table.
fn pair(
    table: &Spanned<DeValue<'_>>,
    at: &dyn Fn(usize) -> String,
    long_of: &dyn Fn(&str) -> Option<String>,
    check: Check<'_>,
) -> Result<FilePair, String> {
    let start = at(table.span().start);
    let Some(entries) = table.get_ref().as_table() else {
        return Err(format!(
            "{start}: `pair` is a list of tables: write [[pair]]"
        ));
    };
    let mut out = FilePair::default();
    let mut output = None;
    for (key, value) in entries {
        let where_ = at(key.span().start);
        let text = || {
            value
                .get_ref()
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{where_}: `{}` expects a string", key.get_ref()))
        };
        match key.get_ref().as_ref() {
            "input" => out.input = Some(text()?),
            "output" => output = Some(text()?),
            name => {
                let long = option(name, &where_, long_of)?;
                for flag in flags(&long, value, at)? {
                    check(&flag).map_err(|e| format!("{where_}: `{name}`: {e}"))?;
                    out.flags.push(flag);
                }
            }
        }
    }
    out.output = output.ok_or_else(|| format!("{start}: a [[pair]] needs an `output` URL"))?;
    Ok(out)
}

/// `[mount."/path"]` tables: one `--mount=/path:KEY=VALUE` per key, with
/// the key's place in the file.
fn mount_tables(
    value: &Spanned<DeValue<'_>>,
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    for (path, table) in value.get_ref().as_table().into_iter().flatten() {
        let Some(entries) = table.get_ref().as_table() else {
            return Err(format!(
                "{}: write [mount.\"{}\"] and the mount's settings under it",
                at(path.span().start),
                path.get_ref()
            ));
        };
        for (key, v) in entries {
            let offset = key.span().start;
            out.push((
                offset,
                format!(
                    "--mount={}:{}={}",
                    path.get_ref(),
                    key.get_ref(),
                    scalar(v, at)?
                ),
            ));
        }
    }
    Ok(out)
}

/// A `[cache_control]` table: one `--cache_rule=GLOB=VALUE` per key, in
/// the file's order, with the key's place in the file.
fn cache_rules(
    value: &Spanned<DeValue<'_>>,
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    for (glob, v) in value.get_ref().as_table().into_iter().flatten() {
        let offset = glob.span().start;
        if glob.get_ref().contains('=') || glob.get_ref().is_empty() {
            return Err(format!(
                "{}: [cache_control] \"{}\": a pattern cannot be empty or hold '='",
                at(offset),
                glob.get_ref()
            ));
        }
        let Some(text) = v.get_ref().as_str() else {
            return Err(format!(
                "{}: [cache_control] \"{}\" expects a Cache-Control string",
                at(offset),
                glob.get_ref()
            ));
        };
        out.push((offset, format!("--cache_rule={}={text}", glob.get_ref())));
    }
    out.sort_by_key(|(offset, _)| *offset);
    Ok(out)
}

/// The long name of option `key`, or the error of an unknown one.
fn option(
    key: &str,
    where_: &str,
    long_of: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if NOT_IN_A_FILE.contains(&key) {
        return Err(format!(
            "{where_}: `{key}` belongs on the command line, not in a config file"
        ));
    }
    long_of(key).ok_or_else(|| {
        format!("{where_}: unknown option `{key}`: expected an option of httpout --help")
    })
}

/// The long flags `value` gives option `long`: one per array element.
fn flags(
    long: &str,
    value: &Spanned<DeValue<'_>>,
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<String>, String> {
    match value.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .map(|item| scalar(item, at).map(|v| format!("--{long}={v}")))
            .collect(),
        _ => Ok(vec![format!("--{long}={}", scalar(value, at)?)]),
    }
}

/// A scalar as the command line writes it.
fn scalar(value: &Spanned<DeValue<'_>>, at: &dyn Fn(usize) -> String) -> Result<String, String> {
    match value.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            i64::from_str_radix(&digits, i.radix())
                .map(|n| n.to_string())
                .map_err(|e| format!("{}: {e}", at(value.span().start)))
        }
        DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
        DeValue::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "{}: expected a string, a number or a boolean, not {}",
            at(value.span().start),
            other.type_str()
        )),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_of(key: &str) -> Option<String> {
        if key.starts_with("ice-") {
            return Some(key.to_owned());
        }
        let key = key.replace('-', "_");
        ["maxc", "rdirs", "dlist", "cors", "hold", "port"]
            .contains(&key.as_str())
            .then_some(key)
    }

    fn read(text: &str) -> Result<ConfigFile, String> {
        let check = |flag: &str| {
            if flag.starts_with("--maxc=") && flag[7..].parse::<u32>().is_err() {
                Err("expected a number".to_owned())
            } else {
                Ok(())
            }
        };
        parse(text, "test.toml", &long_of, &check)
    }

    #[test]
    fn keys_become_long_flags() {
        let f = read(
            "maxc = 200\nrdirs = [\"/a\", \"/b\"]\ndlist = true\ncors = \"on\"\n\
             [[pair]]\ninput = \"a.mp3\"\noutput = \"http://127.0.0.1:8000/a.mp3\"\nhold = true\nice-genre = \"Rock\"\n",
        )
        .unwrap();
        let get = |name: &str| {
            f.options
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("maxc").unwrap(), ["--maxc=200"]);
        assert_eq!(get("rdirs").unwrap(), ["--rdirs=/a", "--rdirs=/b"]);
        assert_eq!(get("dlist").unwrap(), ["--dlist=true"]);
        assert_eq!(get("cors").unwrap(), ["--cors=on"]);
        assert_eq!(
            f.pairs,
            [FilePair {
                input: Some("a.mp3".into()),
                output: "http://127.0.0.1:8000/a.mp3".into(),
                flags: vec!["--hold=true".into(), "--ice-genre=Rock".into()],
            }]
        );
    }

    #[test]
    fn a_cache_control_table_becomes_cache_rules_in_file_order() {
        let file = parse(
            "cache_control = \"no-cache\"\n",
            "t.toml",
            &|k| Some(k.to_owned()),
            &|_| Ok(()),
        )
        .unwrap();
        assert_eq!(file.options[0].0, "cache_control");
        let text = "[cache_control]\n\"*.m4s\" = \"max-age=60\"\n\"/vod/**\" = \"max-age=9\"\n";
        let file = parse(text, "t.toml", &|k| Some(k.to_owned()), &|_| Ok(())).unwrap();
        let (name, flags) = &file.options[0];
        assert_eq!(name, "cache_rule");
        assert_eq!(
            flags,
            &[
                "--cache_rule=*.m4s=max-age=60",
                "--cache_rule=/vod/**=max-age=9"
            ]
        );
        let e = parse(
            "[cache_control]\n\"*.ts\" = 3\n",
            "t.toml",
            &|k| Some(k.to_owned()),
            &|_| Ok(()),
        )
        .unwrap_err();
        assert!(
            e.contains("t.toml:2") && e.contains("Cache-Control string"),
            "{e}"
        );
    }

    #[test]
    fn mount_tables_become_mount_flags() {
        let f = read(
            "[mount.\"/live.mp3\"]\nmax_listeners = 3\nurl = \"http://a:8000/\"\n\
             [mount.\"/b.mp3\"]\nhidden = true\n",
        )
        .unwrap();
        let (name, flags) = &f.options[0];
        assert_eq!(name, "mount");
        assert_eq!(
            flags,
            &[
                "--mount=/b.mp3:hidden=true",
                "--mount=/live.mp3:max_listeners=3",
                "--mount=/live.mp3:url=http://a:8000/",
            ]
        );
    }

    #[test]
    fn errors_name_the_file_the_line_the_key_and_what_was_expected() {
        let e = read("port = 80\nmaxcc = 3\n").unwrap_err();
        assert_eq!(
            e,
            "test.toml:2: unknown option `maxcc`: expected an option of httpout --help"
        );
        let e = read("\n\nmaxc = \"lots\"\n").unwrap_err();
        assert_eq!(e, "test.toml:3: `maxc`: expected a number");
        let e = read("maxc = 3\nport = [\n").unwrap_err();
        assert!(e.starts_with("test.toml:"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = read("[mount.\"/live.mp3\"]\nmax_listeners = 3\nhidden = []\n").unwrap_err();
        assert!(e.starts_with("test.toml:3: expected a string"), "{e}");
        let e = read("[[pair]]\ninput = \"a.mp3\"\n").unwrap_err();
        assert_eq!(e, "test.toml:1: a [[pair]] needs an `output` URL");
        let e = read("rdirs = [[1]]\n").unwrap_err();
        assert!(e.contains("test.toml:1: expected a string"), "{e}");
    }
}
