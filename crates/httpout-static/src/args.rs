//! The static server's options (`--rdirs`, `--wdir` and what shapes their
//! answers), a clap group the `httpout` binary flattens beside the others.

use std::path::PathBuf;

use clap::Args;
use httpout_core::ConfigError;
use httpout_core::auth::rules::Rules;
use httpout_core::media_type::{MediaTypes, MediaTypesError};
use httpout_core::options::value::{parse_i64, parse_millis, parse_size};

/// The static server's options (see `docs/options.md`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StaticArgs {
    /// Directories (or rules files) to expose for read, comma-separated; `gmem`: a private in-memory directory.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Static server"
    )]
    pub rdirs: Vec<PathBuf>,

    /// Directory to expose for write (PUT, POST, DELETE); `gmem`: the in-memory directory.
    #[arg(long, value_name = "PATH", help_heading = "Static server")]
    pub wdir: Option<PathBuf>,

    /// Enable HTML listing for GET requests on directories.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Static server"
    )]
    pub dlist: bool,

    /// Ignore byte ranges in GET (reply 200 to range requests).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Static server"
    )]
    pub norange: bool,

    /// Largest uncompressed size compressed on the fly for text files; 0 disables compression.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "50000", help_heading = "Static server")]
    pub zmax: u64,

    /// Milliseconds a GET for a missing file waits for an upload of it to start (0: 404 at once).
    #[arg(long = "wait_new", alias = "wait-new", value_name = "MS", value_parser = parse_millis, default_value = "0", help_heading = "Static server")]
    pub wait_new: u64,

    /// Maximum upload size in bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "50M", help_heading = "Static server")]
    pub maxs: u64,

    /// Most directory levels below the write directory that a PUT, POST or form may name (deeper: 414).
    #[arg(
        long = "max_depth",
        alias = "max-depth",
        value_name = "N",
        default_value = "32",
        help_heading = "Static server"
    )]
    pub max_depth: usize,

    /// Serve, list and accept uploads of names starting with `.` (dotfiles); off by default.
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Static server"
    )]
    pub hidden: bool,

    /// Sync each upload's data before its rename and the directory after it (survives a power loss).
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Static server"
    )]
    pub fsync: bool,

    /// Index files served for a directory URL, in order, comma-separated (`--index=` alone: none).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "index.html,index.htm",
        help_heading = "Static server"
    )]
    pub index: Vec<String>,

    /// Apache-style `mime.types` file (`type/subtype ext ...` lines, `#` comments) whose types win over the built-in table.
    #[arg(
        long = "mime_types",
        alias = "mime-types",
        value_name = "PATH",
        help_heading = "Static server"
    )]
    pub mime_types: Option<PathBuf>,

    /// Bytes read from a file per step (512 to 16M); files up to this size are read at once.
    #[arg(long = "block_size", alias = "block-size", value_name = "SIZE", value_parser = parse_size, default_value = "64K", help_heading = "Static server")]
    pub block_size: u64,

    /// `Cache-Control` value for served files; `none` drops Cache-Control and ETag.
    #[arg(
        long = "cache_control",
        alias = "cache-control",
        value_name = "STR",
        help_heading = "Static server"
    )]
    pub cache_control: Option<String>,

    /// `Cache-Control` for files matching GLOB (`*`, `**`, `?`; with a `/` matched against the URL path, else the file name), over `cache_control`; repeatable, the first match wins.
    #[arg(
        long = "cache_rule",
        alias = "cache-rule",
        value_name = "GLOB=VALUE",
        help_heading = "Static server"
    )]
    pub cache_rule: Vec<String>,

    /// Segments kept per stream after each upload: in memory (gmem) at most N (at least 1); on disk -N keeps the last N, N ≥ 0 all.
    #[arg(long = "max_cache_segs", alias = "max-cache-segs", value_name = "N", value_parser = parse_i64, default_value = "5", allow_negative_numbers = true, help_heading = "Static server")]
    pub max_cache_segs: i64,

    /// URL path of the uploads endpoint: create an upload id (POST), read an upload's progress (GET ID).
    #[arg(long = "uploads_path", alias = "uploads-path", value_name = "PATH", default_value = crate::DEFAULT_UPLOADS_PATH, help_heading = "Uploads")]
    pub uploads_path: String,

    /// Take only uploads that name an id made by a POST to the uploads endpoint (`Upload-Id` header or `upload_id` query parameter); others are 403.
    #[arg(
        long = "require_id",
        alias = "require-id",
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Uploads"
    )]
    pub require_id: bool,

    /// Take only uploads whose id is a placeholder: made by an uploads admin's POST, or a file `ID.placeholder` in the write directory (implies require_id).
    #[arg(
        long = "require_placeholder",
        alias = "require-placeholder",
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Uploads"
    )]
    pub require_placeholder: bool,

    /// Seconds an upload id made by a POST, or a placeholder file, waits for its upload.
    #[arg(
        long = "placeholder_ttl",
        alias = "placeholder-ttl",
        value_name = "SECONDS",
        default_value = "3600",
        help_heading = "Uploads"
    )]
    pub placeholder_ttl: u64,

    /// Keep a one-byte progress file (`.httpout-upload-ID.prog`: 0-100 %, 127 complete, negative errors) beside each upload while it arrives.
    #[arg(
        long = "progress_files",
        alias = "progress-files",
        value_name = "BOOL",
        default_value = "false",
        help_heading = "Uploads"
    )]
    pub progress_files: bool,

    /// Users who may make placeholders and read every upload's progress, comma-separated.
    #[arg(
        long = "uploads_admin",
        alias = "uploads-admin",
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Uploads"
    )]
    pub uploads_admin: Vec<String>,

    /// Seconds an incomplete resumable upload may stay idle before its temporary file is removed.
    #[arg(
        long = "resume_ttl",
        alias = "resume-ttl",
        value_name = "SECONDS",
        default_value = "3600",
        help_heading = "Uploads"
    )]
    pub resume_ttl: u64,

    /// Total bytes reserved by incomplete resumable uploads (each its length, or `maxs` when unknown); creating one beyond it is 507.
    #[arg(long = "resume_budget", alias = "resume-budget", value_name = "SIZE", value_parser = parse_size, default_value = "4G", help_heading = "Uploads")]
    pub resume_budget: u64,
}

impl StaticArgs {
    /// The options of the upload registry; errors name the option.
    pub fn upload_options(&self) -> Result<crate::UploadOptions, ConfigError> {
        if self.placeholder_ttl == 0 {
            return Err(ConfigError::invalid(
                "--placeholder_ttl",
                self.placeholder_ttl,
                "expected at least 1 second",
            ));
        }
        Ok(crate::UploadOptions {
            require_id: self.require_id,
            require_placeholder: self.require_placeholder,
            placeholder_ttl: std::time::Duration::from_secs(self.placeholder_ttl),
            progress_files: self.progress_files,
            admins: self.uploads_admin.clone(),
        })
    }

    /// `--index` as file names; an error names the one that is not a plain
    /// file name.
    pub fn index_files(&self) -> Result<Vec<String>, ConfigError> {
        self.index
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(|name| {
                if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
                    Err(ConfigError::invalid(
                        "--index",
                        name,
                        "expected file names (no `/`, not `.` or `..`), comma-separated",
                    ))
                } else {
                    Ok(name.to_owned())
                }
            })
            .collect()
    }

    /// `--mime_types` read; an error names the file and line.
    pub fn media_types(&self) -> Result<MediaTypes, ConfigError> {
        let Some(path) = &self.mime_types else {
            return Ok(MediaTypes::default());
        };
        MediaTypes::load(path).map_err(|e| match e {
            MediaTypesError::Line { line, reason } => {
                ConfigError::invalid("--mime_types", format!("{}:{line}", path.display()), reason)
            }
            MediaTypesError::Read(e) => ConfigError::invalid(
                "--mime_types",
                path.display(),
                format!("expected a readable mime.types file ({e})"),
            ),
            // A kind of failure added later: its own words.
            other => ConfigError::invalid("--mime_types", path.display(), other.to_string()),
        })
    }

    /// The rules files among `--rdirs`, read once: they decide access (the
    /// engine) and where their sections are mounted ([`crate::mounts`]).
    pub fn rules(&self) -> Result<Rules, ConfigError> {
        let mut rules = Rules::default();
        for file in self.rdirs.iter().filter(|p| p.is_file()) {
            rules
                .load(file)
                .map_err(|e| ConfigError::invalid("--rdirs", file.display(), e))?;
        }
        Ok(rules)
    }
}
