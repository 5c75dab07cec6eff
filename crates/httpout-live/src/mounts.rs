//! Per-mount settings: `--mount=PATH:KEY=VALUE:...` (repeatable; several
//! for one path add up) and the config file's `[mount."/path"]` tables,
//! which give the same keys. What Icecast's `<mount>` sections hold: a
//! fallback, a listener cap, an intro, the mount's own source credentials,
//! burst and lag limit, visibility and the stream's identity.
//!
//! A value may hold `:` (a URL): the text after `PATH:` is cut only before
//! `KEY=` where KEY is one of [`KEYS`].

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::Bytes;
use httpout_core::ConfigError;

use crate::args::{Amount, parse_amount};
use crate::hooks::DumpSpec;

/// The keys a mount takes, in the order the docs list them.
pub const KEYS: &[&str] = &[
    "fallback",
    "fallback_override",
    "max_listeners",
    "intro",
    "password",
    "user",
    "burst",
    "max_async_buf",
    "hidden",
    "public",
    "name",
    "genre",
    "description",
    "url",
    "charset",
    "dump_file",
    "on_connect",
    "on_disconnect",
    "auth_url",
];

/// Longest fallback chain followed (Icecast follows chains too).
pub(crate) const MAX_CHAIN: usize = 8;

/// An intro file larger than this is refused: it is held in memory, once,
/// and sent to every new listener.
pub(crate) const MAX_INTRO: u64 = 8 << 20;

/// How a mount's title updates (`/admin/metadata`) are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// UTF-8 (the default, and what listeners get).
    #[default]
    Utf8,
    /// ISO-8859-1, as many older source clients send it.
    Latin1,
}

impl Charset {
    /// Parses a charset name as Icecast takes them.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" => Some(Self::Latin1),
            _ => None,
        }
    }

    /// Decodes percent-decoded bytes in this charset.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Self::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Self::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        }
    }
}

/// One mount's own settings; `None` takes the server-wide option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountSettings {
    /// Where listeners go while this mount has no source (`fallback`).
    pub fallback: Option<String>,
    /// A source arriving here takes back the listeners its fallback holds
    /// (`fallback_override`).
    pub fallback_override: bool,
    /// Listeners at most (`max_listeners`).
    pub max_listeners: Option<u64>,
    /// The intro file (`intro`) and its bytes, sent to each new listener.
    pub intro: Option<(PathBuf, Bytes)>,
    /// Source credentials of this mount (`user`, default `source`, and
    /// `password`).
    pub user: Option<String>,
    /// See [`MountSettings::user`].
    pub password: Option<String>,
    /// What a new listener gets from before the live point (`burst`).
    pub burst: Option<Amount>,
    /// How far a listener may fall behind (`max_async_buf`).
    pub max_lag: Option<Amount>,
    /// Left out of the public status pages (`hidden`).
    pub hidden: bool,
    /// `icy-pub` for listeners, whatever the source says (`public`).
    pub public: Option<bool>,
    /// `icy-name`, `icy-genre`, `icy-description`, `icy-url`, whatever the
    /// source says (`name`, `genre`, `description`, `url`).
    pub identity: Vec<(&'static str, String)>,
    /// How title updates are encoded (`charset`).
    pub charset: Charset,
    /// Programs run when a source connects and leaves (`on_connect`,
    /// `on_disconnect`), with the mount as their argument.
    pub on_connect: Option<String>,
    /// See [`MountSettings::on_connect`].
    pub on_disconnect: Option<String>,
    /// Where what each source sends is recorded (`dump_file`).
    pub dump: Option<DumpSpec>,
    /// Icecast's URL authentication of listeners and sources (`auth_url`).
    pub auth_url: Option<http::Uri>,
}

impl MountSettings {
    /// Sets the mount's identity (`icy-name`, ..., `icy-pub`) over what
    /// the source said, as Icecast's `<mount>` settings do: the operator's
    /// word wins over an encoder's defaults.
    pub(crate) fn apply_identity(&self, meta: &mut crate::icy::StreamMeta) {
        for (header, value) in &self.identity {
            meta.set(header, value);
        }
        if let Some(public) = self.public {
            meta.set("icy-pub", if public { "1" } else { "0" });
        }
    }
}

/// Every configured mount, by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts(HashMap<String, MountSettings>);

impl Mounts {
    /// The settings `--mount` options give, merged by path; fallback
    /// chains are checked for loops.
    pub fn from_options(values: &[String]) -> Result<Self, ConfigError> {
        let mut mounts = Self::default();
        for value in values {
            // Errors show the value with its password hidden.
            let shown = hide_password(value);
            let (path, pairs) =
                split(value).map_err(|why| ConfigError::invalid("--mount", &shown, why))?;
            let settings = mounts.0.entry(path).or_default();
            for (key, v) in pairs {
                apply(settings, key, &v).map_err(|why| {
                    let why = if key == "password" {
                        "must be non-empty text on one line".to_owned()
                    } else {
                        why
                    };
                    ConfigError::invalid("--mount", &shown, format!("{key}: {why}"))
                })?;
            }
        }
        mounts.check_chains()?;
        Ok(mounts)
    }

    /// Every configured mount and its settings.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MountSettings)> {
        self.0.iter().map(|(p, s)| (p.as_str(), s))
    }

    /// The settings of `path`, if it is configured.
    pub fn get(&self, path: &str) -> Option<&MountSettings> {
        self.0.get(path)
    }

    /// Each mount's fallback, for the hub.
    pub(crate) fn fallbacks(&self) -> HashMap<String, String> {
        self.0
            .iter()
            .filter_map(|(p, s)| s.fallback.clone().map(|f| (p.clone(), f)))
            .collect()
    }

    fn check_chains(&self) -> Result<(), ConfigError> {
        for start in self.0.keys() {
            let mut seen = vec![start.as_str()];
            let mut at = start.as_str();
            while let Some(next) = self.get(at).and_then(|s| s.fallback.as_deref()) {
                if seen.contains(&next) {
                    seen.push(next);
                    return Err(ConfigError::invalid(
                        "--mount",
                        format!(
                            "{start}:fallback={}",
                            self.0[start].fallback.as_deref().unwrap_or("")
                        ),
                        format!(
                            "the fallbacks loop ({}); a chain must end",
                            seen.join(" -> ")
                        ),
                    ));
                }
                seen.push(next);
                if seen.len() > MAX_CHAIN {
                    return Err(ConfigError::invalid(
                        "--mount",
                        format!("{start}:fallback=..."),
                        format!("a fallback chain is at most {MAX_CHAIN} mounts long"),
                    ));
                }
                at = next;
            }
        }
        Ok(())
    }
}

/// A `--mount` value with what follows `password=` (up to the next key)
/// shown as `***`.
fn hide_password(value: &str) -> String {
    let Some(at) = value.find(":password=") else {
        return value.to_owned();
    };
    let start = at + ":password=".len();
    let end = KEYS
        .iter()
        .filter_map(|k| value[start..].find(&format!(":{k}=")))
        .min()
        .map_or(value.len(), |i| start + i);
    format!("{}***{}", &value[..start], &value[end..])
}

/// A mount's `KEY=VALUE` pairs, the key one of [`KEYS`].
type Pairs = Vec<(&'static str, String)>;

/// `PATH:KEY=VALUE:...` into the path and its pairs.
fn split(value: &str) -> Result<(String, Pairs), String> {
    let expected = "expected PATH:KEY=VALUE[:KEY=VALUE...], e.g. /live.mp3:max_listeners=100";
    let (path, rest) = value.split_once(':').ok_or_else(|| expected.to_owned())?;
    check_path(path)?;
    let mut pairs: Pairs = Vec::new();
    for piece in rest.split(':') {
        let name = piece.split_once('=').map(|(k, _)| k.trim());
        let key = name.and_then(|k| KEYS.iter().find(|known| **known == k));
        // `word=` that is no key is a mistake, not the rest of a value.
        let unknown = key.is_none()
            && name.is_some_and(|k| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
        let unknown_key = || {
            format!(
                "unknown key '{}': expected one of {}",
                name.unwrap_or(piece),
                KEYS.join(", ")
            )
        };
        if unknown {
            return Err(unknown_key());
        }
        match (key, pairs.last_mut()) {
            (Some(key), _) => {
                let v = piece.split_once('=').map_or("", |(_, v)| v);
                pairs.push((key, v.to_owned()));
            }
            // Not a key: the previous value held a `:` (a URL).
            (None, Some(last)) => {
                last.1.push(':');
                last.1.push_str(piece);
            }
            (None, None) => return Err(unknown_key()),
        }
    }
    Ok((path.to_owned(), pairs))
}

/// A mount path: absolute, no `..`, no query.
fn check_path(path: &str) -> Result<(), String> {
    let ok = path.starts_with('/')
        && path.len() > 1
        && !path.contains(['?', '#', ' '])
        && !path.split('/').any(|s| s == "..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{path}' is not a mount path (expected /NAME, e.g. /live.mp3)"
        ))
    }
}

fn flag(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "'{v}' is not a boolean (expected 1, 0, true or false)"
        )),
    }
}

/// Sets one key.
fn apply(s: &mut MountSettings, key: &str, v: &str) -> Result<(), String> {
    let text = |v: &str| -> Result<String, String> {
        if v.is_empty() || http::HeaderValue::from_str(v).is_err() {
            Err(format!("'{v}' must be non-empty text on one line"))
        } else {
            Ok(v.to_owned())
        }
    };
    match key {
        "fallback" => {
            check_path(v)?;
            s.fallback = Some(v.to_owned());
        }
        "fallback_override" => s.fallback_override = flag(v)?,
        "max_listeners" => {
            s.max_listeners = Some(
                v.trim()
                    .parse()
                    .map_err(|_| format!("'{v}' is not a number of listeners"))?,
            );
        }
        "intro" => s.intro = Some(read_intro(v)?),
        "user" => s.user = Some(text(v)?),
        "password" => s.password = Some(text(v)?),
        "burst" => s.burst = Some(parse_amount(v)?),
        "max_async_buf" => s.max_lag = Some(parse_amount(v)?),
        "hidden" => s.hidden = flag(v)?,
        "public" => s.public = Some(flag(v)?),
        "name" | "genre" | "description" | "url" => {
            let header = match key {
                "name" => "icy-name",
                "genre" => "icy-genre",
                "description" => "icy-description",
                _ => "icy-url",
            };
            s.identity.retain(|(h, _)| *h != header);
            s.identity.push((header, text(v)?));
        }
        "auth_url" => {
            s.auth_url = Some(crate::relay::parse_url(v).map_err(|_| {
                format!("'{v}' is not an http:// URL (https:// is not supported yet)")
            })?);
        }
        "on_connect" => s.on_connect = Some(program(v)?),
        "on_disconnect" => s.on_disconnect = Some(program(v)?),
        "dump_file" => {
            let spec = DumpSpec::parse(v)?;
            let dir = std::path::Path::new(&spec.template)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                return Err(format!("'{}' is not a directory", dir.display()));
            }
            s.dump = Some(spec);
        }
        "charset" => {
            s.charset = Charset::parse(v)
                .ok_or_else(|| format!("'{v}' is not a supported charset (UTF-8 or ISO-8859-1)"))?;
        }
        _ => return Err(format!("unknown key: expected one of {}", KEYS.join(", "))),
    }
    Ok(())
}

/// A program to run: an executable file (no shell, no arguments).
fn program(v: &str) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(v).map_err(|e| format!("cannot run '{v}': {e}"))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("'{v}' is not an executable file"));
    }
    Ok(v.to_owned())
}

fn read_intro(v: &str) -> Result<(PathBuf, Bytes), String> {
    let path = PathBuf::from(v);
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read '{v}': {e}"))?;
    if !meta.is_file() {
        return Err(format!("'{v}' is not a file"));
    }
    if meta.len() > MAX_INTRO {
        return Err(format!(
            "'{v}' is {} bytes; an intro is at most {MAX_INTRO} bytes (it is kept in memory)",
            meta.len()
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read '{v}': {e}"))?;
    Ok((path, Bytes::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(values: &[&str]) -> Result<Mounts, String> {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        Mounts::from_options(&values).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_merge_by_path_and_values_may_hold_colons() {
        let m = mounts(&[
            "/live.mp3:max_listeners=5:fallback=/backup.mp3",
            "/live.mp3:url=http://radio.example:8000/about:genre=Jazz:public=1",
        ])
        .unwrap();
        let s = m.get("/live.mp3").unwrap();
        assert_eq!(s.max_listeners, Some(5));
        assert_eq!(s.fallback.as_deref(), Some("/backup.mp3"));
        assert_eq!(s.public, Some(true));
        assert!(
            s.identity
                .contains(&("icy-url", "http://radio.example:8000/about".to_owned()))
        );
        assert!(s.identity.contains(&("icy-genre", "Jazz".to_owned())));
        assert_eq!(m.fallbacks()["/live.mp3"], "/backup.mp3");
    }

    #[test]
    fn bad_values_name_the_option_the_value_and_what_was_expected() {
        let e = mounts(&["live.mp3:max_listeners=5"]).unwrap_err();
        assert!(
            e.contains("--mount") && e.contains("not a mount path"),
            "{e}"
        );
        let e = mounts(&["/a.mp3:colour=red"]).unwrap_err();
        assert!(
            e.contains("unknown key 'colour'") && e.contains("fallback"),
            "{e}"
        );
        let e = mounts(&["/a.mp3:max_listeners=5:colour=red"]).unwrap_err();
        assert!(e.contains("unknown key 'colour'"), "{e}");
        let e = mounts(&["/a.mp3"]).unwrap_err();
        assert!(e.contains("expected PATH:KEY=VALUE"), "{e}");
        let e = mounts(&["/a.mp3:max_listeners=many"]).unwrap_err();
        assert!(e.contains("max_listeners: 'many' is not a number"), "{e}");
        let e = mounts(&["/a.mp3:charset=KOI8-R"]).unwrap_err();
        assert!(e.contains("charset"), "{e}");
        let e = mounts(&["/a.mp3:auth_url=https://x/"]).unwrap_err();
        assert!(e.contains("auth_url") && e.contains("http://"), "{e}");
        let e = mounts(&["/a.mp3:on_connect=/no/such/program"]).unwrap_err();
        assert!(e.contains("on_connect: cannot run"), "{e}");
        let e = mounts(&["/a.mp3:dump_file=/no/such/dir/x.mp3"]).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
        let e = mounts(&["/a.mp3:intro=/no/such/file"]).unwrap_err();
        assert!(e.contains("intro: cannot read"), "{e}");
    }

    #[test]
    fn passwords_are_not_shown_in_errors() {
        let e = mounts(&["/a.mp3:password=topsecret:max_listeners=x"]).unwrap_err();
        assert!(
            !e.contains("topsecret") && e.contains("password=***:max_listeners=x"),
            "{e}"
        );
    }

    #[test]
    fn fallback_loops_are_refused() {
        let e = mounts(&["/a.mp3:fallback=/b.mp3", "/b.mp3:fallback=/a.mp3"]).unwrap_err();
        assert!(e.contains("loop"), "{e}");
        let e = mounts(&["/a.mp3:fallback=/a.mp3"]).unwrap_err();
        assert!(e.contains("loop"), "{e}");
        assert!(mounts(&["/a.mp3:fallback=/b.mp3", "/b.mp3:fallback=/c.mp3"]).is_ok());
    }

    #[test]
    fn latin1_titles_are_decoded() {
        assert_eq!(Charset::Latin1.decode(b"Caf\xe9"), "Café");
        assert_eq!(Charset::Utf8.decode("Café".as_bytes()), "Café");
    }
}
