//! docs/options.md is generated from the options table; this test fails when
//! they drift. Regenerate with `UPDATE_DOCS=1 cargo test -p httpout-core --test options_doc`.

use std::path::PathBuf;

#[test]
fn options_md_matches_the_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/options.md");
    let generated = httpout_core::options::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/options.md is out of date: run UPDATE_DOCS=1 cargo test -p httpout-core --test options_doc"
    );
}

#[test]
fn every_reference_option_is_in_the_table() {
    // The option names of GPAC's httpout filter (shared/reference/gpac-httpout.md).
    let reference = [
        "dst",
        "port",
        "ifce",
        "rdirs",
        "wdir",
        "cert",
        "pkey",
        "block_size",
        "user_agent",
        "close",
        "maxc",
        "maxp",
        "cache_control",
        "hold",
        "hmode",
        "timeout",
        "ext",
        "mime",
        "quit",
        "post",
        "dlist",
        "sutc",
        "cors",
        "reqlog",
        "ice",
        "max_client_errors",
        "max_cache_segs",
        "reopen",
        "max_async_buf",
        "blockio",
        "ka",
        "hdrs",
        "js",
        "zmax",
        "cte",
        "maxs",
        "norange",
    ];
    let md = httpout_core::options::markdown();
    for name in reference {
        assert!(
            md.contains(&format!("`--{name}`")),
            "--{name} missing from the options table"
        );
    }
}
