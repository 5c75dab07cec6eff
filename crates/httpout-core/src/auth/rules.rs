//! Rules files: which directories are served under which URL, and who may
//! read or write them (GPAC's `gpac -h creds` format, given in `--rdirs`).
//!
//! ```ini
//! ; one section per directory (relative to the rules file, or absolute)
//! [media]
//! name=video          ; URL name: /video/... ; without it the directory is /
//! ru=alice,bob        ; users who may read ($ALL: any signed-in user, $NONE: nobody)
//! rg=viewers          ; groups who may read
//! wu=bob              ; users who may write (PUT, POST, DELETE) into it
//! wg=editors          ; groups who may write
//!
//! [media/private]     ; a sub-directory refines its parent's rules
//! ru=bob
//!
//! [nowhere]           ; a directory that does not exist protects a route
//! name=service_root
//! ru=$ALL
//! ```
//!
//! With neither `ru` nor `rg`, anyone may read; with neither `wu` nor `wg`,
//! nobody may write through the rules. Unlike GPAC's httpout (which only
//! checks the password), a signed-in user must be listed to get in.

use std::path::{Path, PathBuf};

use super::users::Users;
use crate::path::SafePath;

/// Who may do something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Users (`ru`/`wu`); `$ALL` and `$NONE` are kept as given.
    pub users: Option<Vec<String>>,
    /// Groups (`rg`/`wg`).
    pub groups: Option<Vec<String>>,
}

impl Acl {
    /// No restriction given.
    pub fn is_open(&self) -> bool {
        self.users.is_none() && self.groups.is_none()
    }

    /// Whether a signed-in `user` is listed, directly, by `$ALL` or by group.
    pub fn allows(&self, user: &str, users: &Users) -> bool {
        let named = self
            .users
            .iter()
            .flatten()
            .any(|u| u == "$ALL" || u == user);
        let grouped = self
            .groups
            .iter()
            .flatten()
            .any(|g| g == "$ALL" || users.in_group(user, g));
        named || grouped
    }

    /// The users and groups named, for start-up checks.
    fn names(&self) -> impl Iterator<Item = &String> {
        self.users
            .iter()
            .flatten()
            .chain(self.groups.iter().flatten())
    }
}

/// One section of a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The directory on disk (may not exist: then it only protects a route).
    pub dir: PathBuf,
    /// The URL prefix its content is served under.
    pub prefix: Vec<String>,
    /// Whether it refines another section (a sub-directory of it).
    pub refines: bool,
    /// Read rights (`ru`, `rg`).
    pub read: Acl,
    /// Write rights (`wu`, `wg`).
    pub write: Acl,
}

impl Section {
    /// The URL prefix as a path (`/video`).
    pub fn prefix_path(&self) -> String {
        format!("/{}", self.prefix.join("/"))
    }
}

/// The sections of every rules file, longest URL prefix first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    sections: Vec<Section>,
}

impl Rules {
    /// Adds the sections of a rules file; errors name the file and line.
    pub fn load(&mut self, file: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("."));
        let parsed = parse(&text, base).map_err(|e| format!("{}: {e}", file.display()))?;
        self.sections.extend(parsed);
        self.sections
            .sort_by_key(|s| std::cmp::Reverse(s.prefix.len()));
        Ok(())
    }

    /// All sections, longest prefix first.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The section whose prefix is the longest one `path` is under.
    pub fn find(&self, path: &SafePath) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| path.segments().starts_with(&s.prefix))
    }

    /// Every user and group the rules name, to check against the users file.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.sections
            .iter()
            .flat_map(|s| s.read.names().chain(s.write.names()))
    }

    /// Whether any section restricts anything (so a users file is needed).
    pub fn restricts(&self) -> bool {
        self.sections
            .iter()
            .any(|s| !s.read.is_open() || !s.write.is_open())
    }
}

fn parse(text: &str, base: &Path) -> Result<Vec<Section>, String> {
    struct Raw {
        dir: PathBuf,
        name: Option<String>,
        read: Acl,
        write: Acl,
    }
    let mut raws: Vec<Raw> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split([';', '#']).next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = |msg: &str| format!("line {}: {msg}", n + 1);
        if let Some(dir) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let dir = dir.trim();
            if dir.is_empty() {
                return Err(at("empty section name"));
            }
            raws.push(Raw {
                dir: base.join(dir),
                name: None,
                read: Acl::default(),
                write: Acl::default(),
            });
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at("expected [directory] or key=value"))?;
        let raw = raws
            .last_mut()
            .ok_or_else(|| at("a key before any [directory] section"))?;
        let list = || {
            Some(
                value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            )
        };
        match key.trim() {
            "name" => {
                let name = value.trim().trim_matches('/');
                let path = SafePath::parse(&format!("/{name}"))
                    .map_err(|_| at("name must be a plain URL path"))?;
                raw.name = Some(path.segments().join("/"));
            }
            "ru" => raw.read.users = list(),
            "rg" => raw.read.groups = list(),
            "wu" => raw.write.users = list(),
            "wg" => raw.write.groups = list(),
            // GPAC: which filters may use the directory; nothing to do here.
            "filters" => {}
            other => {
                return Err(at(&format!(
                    "unknown key {other:?} (expected name, ru, rg, wu, wg)"
                )));
            }
        }
    }
    // A directory that does not exist (it only protects a route) is
    // normalised by its spelling: `[media/../media/x]` is `media/x`, so its
    // URL prefix never holds a `..` that no request path could match.
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| lexical(p));
    let dirs: Vec<PathBuf> = raws.iter().map(|r| real(&r.dir)).collect();
    // Each section's closest enclosing section, by directory.
    let parents: Vec<Option<usize>> = (0..raws.len())
        .map(|i| {
            (0..raws.len())
                .filter(|&j| j != i && dirs[i].starts_with(&dirs[j]) && dirs[i] != dirs[j])
                .max_by_key(|&j| dirs[j].components().count())
        })
        .collect();
    // Parents first (fewer path components), so that a sub-section builds
    // on its parent's resolved prefix and rights.
    let mut order: Vec<usize> = (0..raws.len()).collect();
    order.sort_by_key(|&i| dirs[i].components().count());
    let mut resolved: Vec<Option<Section>> = vec![None; raws.len()];
    for i in order {
        let raw = &raws[i];
        let name = raw.name.as_ref().map(|n| {
            n.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        let parent = parents[i].and_then(|p| resolved[p].clone());
        let (prefix, refines, read, write) = match (name, parent) {
            (Some(prefix), _) => (prefix, false, raw.read.clone(), raw.write.clone()),
            (None, Some(p)) => {
                let mut prefix = p.prefix.clone();
                let rest = dirs[i].strip_prefix(&p.dir).unwrap_or(Path::new(""));
                prefix.extend(rest.iter().map(|c| c.to_string_lossy().into_owned()));
                // A sub-section refines its parent: what it does not set,
                // it inherits (an unset right must not open a subtree).
                let read = if raw.read.is_open() {
                    p.read.clone()
                } else {
                    raw.read.clone()
                };
                let write = if raw.write.is_open() {
                    p.write.clone()
                } else {
                    raw.write.clone()
                };
                (prefix, true, read, write)
            }
            (None, None) => (Vec::new(), false, raw.read.clone(), raw.write.clone()),
        };
        if SafePath::from_segments(prefix.clone()).is_err() {
            return Err(format!(
                "[{}] cannot be served at a URL: a path segment cannot be empty, '.' or '..' or hold a backslash",
                raw.dir.display()
            ));
        }
        let section = Section {
            dir: dirs[i].clone(),
            prefix,
            refines,
            read,
            write,
        };
        if !refines
            && resolved
                .iter()
                .flatten()
                .any(|s| !s.refines && s.prefix == section.prefix)
        {
            return Err(format!(
                "two directories are served at /{}",
                section.prefix.join("/")
            ));
        }
        resolved[i] = Some(section);
    }
    let out: Vec<Section> = resolved.into_iter().flatten().collect();
    Ok(out)
}

/// `p` with `.` dropped and `..` taken off the path before it, by spelling
/// only (for paths that do not exist).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_prefixes_and_rights() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.path().join("media/private/deep")).unwrap();
        let file = base.path().join("rules.ini");
        std::fs::write(
            &file,
            "; rules\n[media]\nname=video\nru=alice,bob\nwg=editors\n\n[media/private]\nru=bob\n\n[media/private/deep]\nwu=bob\n\n[nowhere]\nname=svc/api\nru=$ALL\n",
        )
        .unwrap();
        let mut rules = Rules::default();
        rules.load(&file).unwrap();
        let find = |p: &str| {
            rules
                .find(&SafePath::parse(p).unwrap())
                .map(|s| s.prefix_path())
        };
        assert_eq!(find("/video/a.mp4").as_deref(), Some("/video"));
        assert_eq!(find("/video/private/x").as_deref(), Some("/video/private"));
        assert_eq!(
            find("/video/private/deep/x").as_deref(),
            Some("/video/private/deep")
        );
        let deep = rules
            .find(&SafePath::parse("/video/private/deep/x").unwrap())
            .unwrap();
        assert_eq!(
            deep.read.users.as_deref(),
            Some(&["bob".to_owned()][..]),
            "read inherited from private"
        );
        assert_eq!(find("/svc/api/call").as_deref(), Some("/svc/api"));
        assert_eq!(find("/other"), None);
        // The sub-section sets only `ru`: it inherits its parent's write
        // rights, and a sub-sub-directory builds on its prefix.
        let private = rules
            .find(&SafePath::parse("/video/private/x").unwrap())
            .unwrap();
        assert!(
            !private.write.is_open(),
            "an unset right is inherited, not opened"
        );
        let video = rules.find(&SafePath::parse("/video/x").unwrap()).unwrap();
        let mut users = Users::default();
        users.set_password("carol", "x").unwrap();
        users.add_to_group("editors", &["carol".into()]).unwrap();
        assert!(video.read.allows("bob", &users) && !video.read.allows("carol", &users));
        assert!(video.write.allows("carol", &users) && !video.write.allows("alice", &users));
        assert!(rules.restricts());
        assert!(rules.names().any(|n| n == "editors"));
    }

    #[test]
    fn errors_name_the_line() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("r.ini");
        std::fs::write(&file, "[a]\nbogus=1\n").unwrap();
        let err = Rules::default().load(&file).unwrap_err();
        assert!(err.contains("line 2") && err.contains("bogus"), "{err}");
        std::fs::write(&file, "ru=x\n").unwrap();
        assert!(Rules::default().load(&file).unwrap_err().contains("line 1"));
        std::fs::write(&file, "[a]\n[b]\n").unwrap();
        assert!(
            Rules::default()
                .load(&file)
                .unwrap_err()
                .contains("two directories")
        );
    }
}

/// Cases found by `tests/fuzz_rules.rs`.
#[cfg(test)]
mod found_by_fuzzing {
    use super::*;

    /// A sub-section spelled with `..` whose directory does not exist got
    /// the URL prefix `/../media/x`: no request path can match it, so its
    /// rights silently protected nothing.
    #[test]
    fn a_missing_directory_spelled_with_dot_dot_is_normalised() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("media")).unwrap();
        let file = base.path().join("r.ini");
        std::fs::write(&file, "[media]\nname=v\n[media/../media/x]\nru=bob\n").unwrap();
        let mut rules = Rules::default();
        rules.load(&file).unwrap();
        let x = rules
            .find(&SafePath::parse("/v/x/a").unwrap())
            .expect("the sub-section is found");
        assert_eq!(x.prefix, ["v", "x"]);
        assert_eq!(x.read.users.as_deref(), Some(&["bob".to_owned()][..]));
    }

    /// A directory name that cannot be a URL segment is refused at load,
    /// not kept as a section no request can reach.
    #[test]
    fn a_prefix_that_is_no_url_path_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("r.ini");
        std::fs::write(&file, "[media]\nname=v\n[media/a\\b]\nru=bob\n").unwrap();
        let err = Rules::default().load(&file).unwrap_err();
        assert!(err.contains("cannot be served at a URL"), "{err}");
    }
}
