//! `gmem`: the private in-memory directory that stands for `--rdirs=gmem`
//! or `--wdir=gmem`.

use std::path::Path;

use httpout_core::ConfigError;

/// Whether a directory option names the in-memory directory.
pub(super) fn is_gmem(p: &Path) -> bool {
    p.as_os_str() == "gmem"
}

/// The in-memory directory that stands for `gmem`: private to this
/// process (mode 0700, a random name created exclusively, so a leftover
/// never clashes), on the tmpfs of `/dev/shm` (RAM), removed at exit. The
/// name carries the process id, so that the leftovers of a crashed run
/// (whose process is gone) are removed by the next start.
pub(super) fn gmem_dir() -> Result<tempfile::TempDir, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let shm = Path::new("/dev/shm");
    remove_dead_gmem(shm);
    tempfile::Builder::new()
        .prefix(&format!("httpout-gmem-{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(shm)
        .map_err(|e| {
            ConfigError::invalid(
                "--rdirs/--wdir",
                "gmem",
                format!("cannot create a directory in /dev/shm ({e})"),
            )
        })
}

/// Removes `httpout-gmem-PID-*` directories of processes that are gone.
fn remove_dead_gmem(shm: &Path) {
    let Ok(entries) = std::fs::read_dir(shm) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("httpout-gmem-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // The process is gone when /proc has no entry for it.
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
