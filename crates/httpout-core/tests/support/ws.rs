//! The Python client of the WebSocket tests (`tests/ws/client.py`, on
//! `websockets` from PyPI in the venv `scripts/test.sh` makes).

use std::path::PathBuf;
use std::process::Command;

/// The venv's interpreter with `websockets` (`scripts/test.sh` makes it);
/// `HTTPOUT_PYTHON` overrides it. Fails when it is missing.
pub(crate) fn python() -> PathBuf {
    let python = std::env::var_os("HTTPOUT_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python"),
        PathBuf::from,
    );
    let ok = Command::new(&python)
        .args(["-c", "import websockets.asyncio.client"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with websockets is needed: run scripts/test.sh (it makes target/pyenv) or set HTTPOUT_PYTHON",
        python.display()
    );
    python
}

/// The client script.
pub(crate) fn script() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ws/client.py")
        .display()
        .to_string()
}
