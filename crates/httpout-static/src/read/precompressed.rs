//! Precompressed siblings (`file.br`, `file.zst`, `file.gz`, not older than
//! the file) and the choice of a representation.
//!
//! Probing for siblings costs an `openat2` per coding the client accepts,
//! so a tree without any would pay up to three failed opens on every
//! compressible GET. [`Siblings`] remembers, per directory, whether it holds
//! any file named `*.br`, `*.zst` or `*.gz`: one `stat` of the directory
//! answers while its modification time is the one seen at the last scan,
//! and a directory that changes is scanned again (names only). Only a scan
//! of a directory that has not changed for [`SETTLE`] is trusted, since a
//! file added in the same tick of the file system's clock would leave the
//! time unchanged; until then, siblings are probed as before. The cache
//! only decides whether to probe: siblings are always opened beneath the
//! root.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::request::Parts;
use httpout_core::Error;
use httpout_store::OpenFile;

use super::encoding::{self, Coding};
use crate::error::store_error;
use crate::site::Site;

/// Directories remembered per root, at most; past that the map starts over.
const MAX_DIRS: usize = 1024;

/// How long a directory must have been unchanged for a scan of it to be
/// trusted: longer than the coarsest modification-time granularity we
/// expect (2 s, FAT).
const SETTLE: Duration = Duration::from_secs(2);

/// Which directories of a root hold precompressed siblings.
#[derive(Debug, Default)]
pub(crate) struct Siblings {
    /// Directory (relative to the root) → its last trusted scan.
    dirs: Mutex<HashMap<PathBuf, Scan>>,
    /// Sibling probes made (`openat2` of `file.gz`...), for tests.
    #[cfg(test)]
    probes: std::sync::atomic::AtomicUsize,
}

/// One scan of a directory.
#[derive(Debug, Clone, Copy)]
struct Scan {
    /// The directory's modification time when it was scanned.
    modified: SystemTime,
    /// Whether any name in it ends in a sibling suffix.
    any: bool,
}

impl Siblings {
    /// Whether the directory `dir` (relative to `root`) may hold a sibling:
    /// false only when a trusted scan of it, as it is now, found none.
    fn may_have(&self, root: &Path, dir: &Path) -> bool {
        let path = root.join(dir);
        let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
            return true;
        };
        let dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(scan) = dirs.get(dir).filter(|s| s.modified == modified) {
            return scan.any;
        }
        drop(dirs);
        let settled = SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age >= SETTLE);
        if !settled {
            return true;
        }
        let any = scan(&path);
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        if dirs.len() >= MAX_DIRS && !dirs.contains_key(dir) {
            dirs.clear();
        }
        dirs.insert(dir.to_path_buf(), Scan { modified, any });
        any
    }
}

/// Whether a directory holds a name ending in a sibling suffix (true when
/// it cannot be read: then probe).
fn scan(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return true;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        Coding::ALL
            .iter()
            .filter_map(|c| c.sibling_suffix())
            .any(|s| name.as_bytes().ends_with(s.as_bytes()))
    })
}

/// Which bytes answer a request for a compressible file.
#[derive(Debug)]
pub(crate) enum Choice {
    /// The file as it is on disk.
    Identity,
    /// A precompressed sibling (`file.gz`...).
    Sibling(Coding, Box<OpenFile>),
    /// The file compressed while it is sent.
    OnTheFly(Coding),
}

/// Picks a precompressed sibling or an on-the-fly coding the client
/// accepts (best first), else identity.
pub(crate) fn choose(
    site: &Site,
    req: &Parts,
    file: &OpenFile,
    name: &str,
) -> Result<Choice, Error> {
    let accepted = encoding::accepted(&req.headers);
    let dir = file.rel.parent().unwrap_or(Path::new(""));
    let wants_sibling = accepted.iter().any(|c| c.sibling_suffix().is_some());
    if wants_sibling && site.siblings.may_have(site.root.path(), dir) {
        let modified = file.meta.modified().ok();
        for coding in &accepted {
            let Some(suffix) = coding.sibling_suffix() else {
                continue;
            };
            #[cfg(test)]
            site.siblings
                .probes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sibling = site
                .root
                .find_file_in(dir, &format!("{name}{suffix}"), site.small_file())
                .map_err(store_error)?;
            if let Some(sib) = sibling {
                if sib.meta.modified().ok() >= modified {
                    return Ok(Choice::Sibling(*coding, Box::new(sib)));
                }
            }
        }
    }
    let zmax = site.config.zmax;
    match accepted.first() {
        Some(coding) if zmax > 0 && file.meta.len() <= zmax => Ok(Choice::OnTheFly(*coding)),
        _ => Ok(Choice::Identity),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use httpout_store::{DiskRoot, Found};

    use super::*;
    use crate::StaticConfig;

    /// Sets a directory's modification time `secs` seconds back.
    fn age(dir: &Path, secs: u64) {
        let then = SystemTime::now() - Duration::from_secs(secs);
        std::fs::File::open(dir)
            .unwrap()
            .set_modified(then)
            .unwrap();
    }

    fn choice(site: &Site, name: &str) -> Choice {
        let Found::File(file) = site.root.find(&[name.to_owned()], 1 << 20).unwrap() else {
            panic!("{name} is not a file");
        };
        let (req, ()) = http::Request::get("/")
            .header("accept-encoding", "br, zstd, gzip")
            .body(())
            .unwrap()
            .into_parts();
        choose(site, &req, &file, name).unwrap()
    }

    #[test]
    fn a_tree_without_siblings_is_not_probed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.css"), "body{}\n").unwrap();
        std::fs::write(dir.path().join("b.css"), "p{}\n").unwrap();
        age(dir.path(), 60);
        let site = Site::new(
            DiskRoot::new(dir.path()).unwrap(),
            Arc::new(StaticConfig::default()),
        );
        let probes = || site.siblings.probes.load(Ordering::Relaxed);
        for name in ["a.css", "b.css", "a.css"] {
            assert!(matches!(choice(&site, name), Choice::OnTheFly(Coding::Br)));
        }
        assert_eq!(probes(), 0, "no openat2 for siblings that cannot exist");

        // A sibling appears: the directory changed, so it is probed again
        // (and found) while the change is recent...
        std::fs::write(dir.path().join("a.css.gz"), "gz").unwrap();
        assert!(matches!(
            choice(&site, "a.css"),
            Choice::Sibling(Coding::Gzip, _)
        ));
        assert_eq!(probes(), 3, "br, zstd, then gzip found");
        // ... and once it has settled, after a scan that found it.
        age(dir.path(), 60);
        assert!(matches!(
            choice(&site, "a.css"),
            Choice::Sibling(Coding::Gzip, _)
        ));
        assert!(matches!(
            choice(&site, "b.css"),
            Choice::OnTheFly(Coding::Br)
        ));
        assert_eq!(probes(), 3 + 3 + 3);
    }

    #[test]
    fn a_recently_changed_directory_is_probed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.css"), "body{}\n").unwrap();
        let site = Site::new(
            DiskRoot::new(dir.path()).unwrap(),
            Arc::new(StaticConfig::default()),
        );
        assert!(matches!(
            choice(&site, "a.css"),
            Choice::OnTheFly(Coding::Br)
        ));
        assert_eq!(site.siblings.probes.load(Ordering::Relaxed), 3);
    }
}
