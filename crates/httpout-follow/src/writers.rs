//! Whether any process holds a file open for writing, read from `/proc`.
//!
//! A file found in a directory that was just watched may have been written
//! and closed before the watch existed (a complete file, renamed in), or
//! may still have its writer (whose close will come as an event). Only
//! the second is a growing file; registering the first as growing would
//! hold its readers until the idle timeout.

use std::path::Path;

/// `true` when some process has `path` open for writing, or when that
/// cannot be told (a process whose descriptors this one may not read): a
/// file is treated as complete only when it certainly is.
pub fn has_writer(path: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(path) else {
        return true;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true;
    };
    for proc in procs.flatten() {
        let name = proc.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let fd_dir = proc.path().join("fd");
        let fds = match std::fs::read_dir(&fd_dir) {
            Ok(fds) => fds,
            // Gone meanwhile: nothing open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return true,
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t == target)
                && opened_for_writing(&proc.path(), &fd.file_name())
            {
                return true;
            }
        }
    }
    false
}

/// Whether descriptor `fd` of process `proc` was opened to write
/// (`flags:` in its fdinfo, octal, access mode in the low two bits).
fn opened_for_writing(proc: &Path, fd: &std::ffi::OsStr) -> bool {
    let Ok(info) = std::fs::read_to_string(proc.join("fdinfo").join(fd)) else {
        return true;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_none_or(|flags| flags & 0b11 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_seen_and_a_closed_file_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg.m4s");
        let writer = std::fs::File::create(&path).unwrap();
        assert!(has_writer(&path));
        // A reader alone is no writer.
        let reader = std::fs::File::open(&path).unwrap();
        drop(writer);
        assert!(!has_writer(&path));
        drop(reader);
        assert!(!has_writer(&path));
    }
}
