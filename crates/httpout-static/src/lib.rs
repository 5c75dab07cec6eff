//! httpout-static: the static server's read side — files from `--rdirs`
//! with RFC 9110 semantics.
//!
//! GET and HEAD with `Content-Type` (media types right for DASH/HLS),
//! `Content-Length`, `Last-Modified`, a strong `ETag`, `Accept-Ranges`;
//! conditional requests (304/412, `If-Range`); single and multiple byte
//! ranges (`multipart/byteranges`, 416, abuse guards); directories (301 to
//! the slash form, index files, HTML/JSON listings with `dlist`); gzip,
//! deflate, br and zstd on the fly for text up to `zmax` bytes, or from
//! precompressed siblings; OPTIONS with CORS preflight. The request pipeline
//! is written down in the private `read` module and in
//! `docs/modes/static.md`.
//!
//! # Layout
//! - `handler`: method dispatch, OPTIONS;
//! - `read`: the GET/HEAD pipeline — `resolve` decides an `outcome`,
//!   `respond` builds the one response; `conditional`, `range`, `encoding`,
//!   `precompressed` (siblings, cached per directory), `growing`,
//!   `listing`, `body`; media types come from `httpout_core::media_type`;
//! - `hidden`: dotfiles, neither served, listed nor written (`hidden`);
//! - `site`: one root and its options; `error`: store errors → statuses.
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use httpout_core::{Router, Server, ServerConfig};
//! use httpout_static::{StaticConfig, StaticHandler};
//! let config = StaticConfig { dlist: true, ..StaticConfig::default() };
//! let router = Router::new().mount("/", StaticHandler::new("public", config)?);
//! let running = Server::bind(ServerConfig::default()).await?.serve(router);
//! # Ok(()) }
//! ```

mod args;
mod cache;
mod endpoint;
mod error;
mod handler;
mod hidden;
mod read;
mod site;
mod write;

use std::path::Path;
use std::sync::Arc;

use http::HeaderValue;
use http::header::CACHE_CONTROL;
use httpout_core::auth::rules::Rules;
use httpout_core::media_type::MediaTypes;
use httpout_core::options::CoreArgs;
use httpout_core::{Body, ConfigError, Error, Handler, SafePath};
use httpout_store::{DirEntryInfo, DiskRoot, Live, WriteRoot};

pub use args::StaticArgs;
pub use cache::CacheRule;
pub use endpoint::UploadsEndpoint;
use site::Site;
use write::WriteSite;
pub use write::cache::Retention;
pub use write::registry::{UploadOptions, Uploads};

/// Default read size (the `block_size` option's default). The reference
/// uses 10 000 bytes; 64 KiB measured faster (docs/benchmarks.md).
pub const DEFAULT_BLOCK: usize = 64 * 1024;

/// The index files of [`StaticConfig::default`], in order.
pub const DEFAULT_INDEX: [&str; 2] = ["index.html", "index.htm"];

/// Where the uploads endpoint is mounted by default (`uploads_path`).
pub const DEFAULT_UPLOADS_PATH: &str = "/.uploads/";

/// The static server's options.
#[derive(Debug, Clone)]
pub struct StaticConfig {
    /// HTML/JSON listings for directories (`dlist`). Default false.
    pub dlist: bool,
    /// Index files served for a directory URL, the first found (`index`).
    /// Default `index.html`, `index.htm`.
    pub index: Vec<String>,
    /// Media types by file name (`mime_types`: a `mime.types` file over
    /// the built-in table). Default: the built-in table.
    pub media_types: Arc<MediaTypes>,
    /// Ignore `Range` (`norange`). Default false.
    pub norange: bool,
    /// Largest file compressed on the fly (`zmax`), 0 disables. Default 50 000.
    pub zmax: u64,
    /// Read size in bytes (`block_size`); small files up to this size are
    /// read in one go. Default [`DEFAULT_BLOCK`].
    pub block_size: usize,
    /// `Cache-Control` for every file (`cache_control`), over the default
    /// of its kind (see the `cache` module docs); `None`: the defaults.
    pub cache_control: Option<HeaderValue>,
    /// `Cache-Control` by pattern (`cache_rule`), over `cache_control`: the
    /// first that matches decides.
    pub cache_rules: Vec<CacheRule>,
    /// Send the default `Cache-Control` of each kind of file when neither
    /// a rule nor `cache_control` gives one (false with
    /// `cache_control=none`). Default true.
    pub cache_defaults: bool,
    /// Send `ETag` (false with `cache_control=none`, as the reference says).
    pub etags: bool,
    /// How long a GET for a missing file waits for an upload of it to start
    /// (`wait_new`). Default zero: 404 at once.
    pub wait_new: std::time::Duration,
    /// Files being written, shared by every mount built from this
    /// configuration so that readers find the uploads of any of them.
    pub live: Arc<Live>,
    /// Segments kept per stream after each upload (`max_cache_segs`, see
    /// [`Retention`]). Default: all.
    pub retention: Retention,
    /// Serve, list and accept uploads of dotfiles (`hidden`). Default
    /// false: a path with a segment starting with `.` (but `.well-known`
    /// first) is 404 to reads and 403 to writes, and listings leave such
    /// names out.
    pub hidden: bool,
    /// Sync uploads to disk before answering (`fsync`): see
    /// [`WriteRoot::with_fsync`]. Default false.
    pub fsync: bool,
    /// An upload that sends nothing for this long is aborted (`timeout`;
    /// `None`: never). Default 30 s.
    pub upload_timeout: Option<std::time::Duration>,
    /// Log each file written, at its start and end (`reqlog=REC`), through
    /// the [`Live`] registry every writer registers in. Default false.
    pub log_writes: bool,
    /// Largest upload in bytes (`maxs`). Default 50 MiB.
    pub maxs: u64,
    /// Most directory levels below the write directory that a write may
    /// name (`max_depth`); deeper is 414. Default 32.
    pub max_depth: usize,
    /// The write directories are opened again by a reload: their temporary
    /// files are uploads in progress, kept ([`WriteRoot::open`]). Default
    /// false: those an earlier run left are removed ([`WriteRoot::new`]).
    pub reopen: bool,
    /// Every upload by id, with the options of expected uploads and
    /// progress files ([`UploadOptions`]); shared by every mount built
    /// from this configuration.
    pub uploads: Arc<Uploads>,
    /// Where the uploads endpoint is mounted (`uploads_path`), with a final
    /// `/`. Default `/.uploads/`.
    pub uploads_path: String,
    /// Resumable uploads (tus, IETF) and the uploads endpoint
    /// (`uploads_path`, `resume_ttl`, `resume_budget`: set them with
    /// [`StaticConfig::with_resumable`]), shared by the write directories
    /// built from this configuration.
    pub resumable: Resumables,
}

/// The resumable uploads of a server and their options (opaque; see
/// [`StaticConfig::with_resumable`]). Default: at `/.uploads/`, kept 1 h
/// when idle, 4 GiB in all.
#[derive(Debug, Clone)]
pub struct Resumables(pub(crate) Arc<write::resumable::Resumable>);

impl Default for Resumables {
    fn default() -> Self {
        Self(
            write::resumable::Resumable::new(
                DEFAULT_UPLOADS_PATH,
                std::time::Duration::from_secs(3600),
                4 << 30,
            )
            .expect("the default uploads path is valid"),
        )
    }
}

impl StaticConfig {
    /// Sets the resumable uploads' options: the endpoint's URL path (starts
    /// and ends with `/`), how long an idle incomplete upload is kept, and
    /// the bytes incomplete uploads may hold together. Errors name the
    /// option.
    pub fn with_resumable(
        mut self,
        uploads_path: &str,
        ttl: std::time::Duration,
        budget: u64,
    ) -> Result<Self, ConfigError> {
        self.uploads_path = uploads_path.to_owned();
        self.resumable = Resumables(
            write::resumable::Resumable::new(uploads_path, ttl, budget)
                .map_err(|why| ConfigError::invalid("--uploads_path", uploads_path, why))?,
        );
        Ok(self)
    }

    /// Opens a write directory: its leftovers removed, unless
    /// [`StaticConfig::reopen`].
    fn write_root(&self, dir: impl AsRef<Path>) -> std::io::Result<WriteRoot> {
        if self.reopen {
            WriteRoot::open(dir)
        } else {
            WriteRoot::new(dir)
        }
    }
}

impl Default for StaticConfig {
    fn default() -> Self {
        Self {
            dlist: false,
            index: DEFAULT_INDEX.iter().map(|n| (*n).to_owned()).collect(),
            media_types: Arc::default(),
            norange: false,
            zmax: 50_000,
            block_size: DEFAULT_BLOCK,
            cache_control: None,
            cache_rules: Vec::new(),
            cache_defaults: true,
            etags: true,
            wait_new: std::time::Duration::ZERO,
            live: Live::new(),
            retention: Retention::default(),
            hidden: false,
            fsync: false,
            upload_timeout: Some(std::time::Duration::from_secs(30)),
            log_writes: false,
            maxs: 50 << 20,
            max_depth: 32,
            reopen: false,
            uploads: Arc::default(),
            uploads_path: DEFAULT_UPLOADS_PATH.to_owned(),
            resumable: Resumables::default(),
        }
    }
}

impl StaticConfig {
    /// Adds `Cache-Control` (the `cache_control` option) to a response's
    /// headers: the same for complete files, files still being written and
    /// listings of mounts.
    pub(crate) fn set_cache_control(&self, headers: &mut http::HeaderMap) {
        if let Some(cc) = &self.cache_control {
            headers.insert(CACHE_CONTROL, cc.clone());
        }
    }

    /// The static server's part of a parsed command line (with the
    /// engine's `timeout` and `reqlog`); errors name the option.
    pub fn from_args(core: &CoreArgs, args: &StaticArgs) -> Result<Self, ConfigError> {
        let (cache_control, etags) = match args.cache_control.as_deref() {
            None => (None, true),
            Some("none") => (None, false),
            Some(v) => (
                Some(HeaderValue::from_str(v).map_err(|_| {
                    ConfigError::invalid(
                        "--cache_control",
                        v,
                        "expected a header value (visible ASCII)",
                    )
                })?),
                true,
            ),
        };
        let block_size = usize::try_from(args.block_size)
            .ok()
            .filter(|b| (512..=16 << 20).contains(b))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "--block_size",
                    args.block_size,
                    "expected a size from 512 bytes to 16M",
                )
            })?;
        Self {
            dlist: args.dlist,
            index: args.index_files()?,
            media_types: Arc::new(args.media_types()?),
            norange: args.norange,
            zmax: args.zmax,
            block_size,
            cache_control,
            cache_rules: args
                .cache_rule
                .iter()
                .map(|r| CacheRule::parse(r))
                .collect::<Result<_, _>>()?,
            cache_defaults: etags,
            etags,
            wait_new: std::time::Duration::from_millis(args.wait_new),
            live: Live::new(),
            retention: Retention {
                max_cache_segs: args.max_cache_segs,
                in_memory: args.wdir.as_ref().is_some_and(|w| w.as_os_str() == "gmem"),
            },
            hidden: args.hidden,
            fsync: args.fsync,
            upload_timeout: httpout_core::timeout::from_secs(core.timeout),
            log_writes: core.reqlog.as_ref().is_some_and(|r| r.rec),
            maxs: args.maxs,
            max_depth: args.max_depth,
            reopen: false,
            uploads: Arc::new(Uploads::new(args.upload_options()?)),
            // Checked, with the resumable uploads', below.
            uploads_path: args.uploads_path.clone(),
            resumable: Resumables::default(),
        }
        .with_resumable(
            &args.uploads_path,
            std::time::Duration::from_secs(args.resume_ttl),
            args.resume_budget,
        )
    }
}

/// What a mount serves to GET and HEAD.
#[derive(Debug, Clone)]
enum Reads {
    /// Nothing: a write-only server.
    Nothing,
    /// One read directory.
    Dir(Arc<Site>),
    /// The root of a server with several read directories: their names.
    Mounts(Arc<Vec<String>>),
}

/// The static server at one mount: reads from a read directory, writes
/// (PUT, POST, DELETE) into the write directory when there is one.
#[derive(Debug, Clone)]
pub struct StaticHandler {
    reads: Reads,
    write: Option<Arc<WriteSite>>,
    config: Arc<StaticConfig>,
}

impl StaticHandler {
    /// A read-only handler for the directory `dir`.
    pub fn new(dir: impl AsRef<Path>, config: StaticConfig) -> std::io::Result<Self> {
        let config = Arc::new(config);
        Ok(Self {
            reads: Reads::Dir(Arc::new(Site::new(
                DiskRoot::new(dir)?,
                Arc::clone(&config),
            ))),
            write: None,
            config,
        })
    }

    /// Adds a write directory: the full URL path of a PUT, POST or DELETE
    /// names a file inside it. `maxs` bounds an upload body; `timeout`
    /// bounds a pause in one.
    pub fn with_write_dir(
        mut self,
        dir: impl AsRef<Path>,
        maxs: u64,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<Self> {
        let root = self.config.write_root(dir)?;
        self.attach(Arc::new(WriteSite::new(
            root,
            &self.config,
            maxs,
            timeout,
            false,
        )));
        Ok(self)
    }

    fn attach(&mut self, write: Arc<WriteSite>) {
        write.attach_resumable();
        if let Reads::Dir(site) = &mut self.reads {
            let mut with_form = (**site).clone();
            with_form.upload_form = true;
            *site = Arc::new(with_form);
        }
        self.write = Some(write);
    }
}

/// The listing of the mount points, at `/` of a server with several read
/// directories.
fn mount_list(
    config: &StaticConfig,
    req: &http::request::Parts,
    names: &[String],
) -> Result<http::Response<Body>, Error> {
    let entries: Vec<DirEntryInfo> = names
        .iter()
        .map(|n| DirEntryInfo {
            name: n.clone(),
            is_dir: true,
            size: 0,
            modified: None,
        })
        .collect();
    let listing = read::Listing {
        title: "/".to_owned(),
        json: read::listing::wants_json(&req.headers),
        entries,
        parent: false,
        upload_form: false,
        cache_control: true,
    };
    read::respond::respond(config, read::Outcome::Listing(listing))
}

/// A URL prefix and the handler mounted there.
pub type Mount = (SafePath, Arc<dyn Handler>);

/// The mounts for `--rdirs` and `--wdir`: one read directory at `/`, or
/// each at `/NAME` (its directory name); the sections of `rules` (read
/// once from the rules files among `--rdirs`, [`StaticArgs::rules`]) at
/// their URL names (a section with write rights is writable in place); a
/// listing of the mounts at `/` when nothing else is there; the write
/// directory, if any, behind every other mount (or alone at `/`). Errors
/// name the option and the value.
pub fn mounts(
    args: &StaticArgs,
    rules: &Rules,
    config: &StaticConfig,
) -> Result<Vec<Mount>, ConfigError> {
    let config = config.clone();
    if config.log_writes {
        // `--reqlog=REC`: every writer (uploads, `-i` inputs, local writers)
        // registers in the live registry, shared with the file sink, so
        // this logs them all.
        config.live.log_writes();
    }
    let (maxs, timeout) = (config.maxs, config.upload_timeout);
    let write = match &args.wdir {
        Some(dir) => {
            let root = config.write_root(dir).map_err(|e| {
                ConfigError::invalid(
                    "--wdir",
                    dir.display(),
                    format!("expected a directory that can be created ({e})"),
                )
            })?;
            Some(Arc::new(WriteSite::new(
                root, &config, maxs, timeout, false,
            )))
        }
        None => None,
    };
    let bad = |dir: &Path, why: String| ConfigError::invalid("--rdirs", dir.display(), why);
    // (URL prefix, directory, its own write root when a rules section grants writes)
    let mut dirs: Vec<(Vec<String>, std::path::PathBuf, Option<Arc<WriteSite>>)> = Vec::new();
    let plain: Vec<&std::path::PathBuf> = args.rdirs.iter().filter(|p| !p.is_file()).collect();
    let has_rules = args.rdirs.iter().any(|p| p.is_file());
    for dir in &plain {
        if dir.as_os_str() == "gmem" {
            return Err(bad(
                dir,
                "`gmem` is the command line's in-memory directory: give a directory".into(),
            ));
        }
        let real = std::fs::canonicalize(dir)
            .map_err(|e| bad(dir, format!("expected a directory ({e})")))?;
        let prefix =
            if plain.len() == 1 && !has_rules {
                Vec::new()
            } else {
                let name = real.file_name().map(|n| n.to_string_lossy().into_owned());
                vec![name.ok_or_else(|| {
                    bad(dir, "a directory with a name is needed to mount it".into())
                })?]
            };
        dirs.push((prefix, real, None));
    }
    for section in rules
        .sections()
        .iter()
        .filter(|s| !s.refines && s.dir.is_dir())
    {
        let own_write = if section.write.is_open() {
            None
        } else {
            let root = config
                .write_root(&section.dir)
                .map_err(|e| bad(&section.dir, e.to_string()))?;
            Some(Arc::new(WriteSite::new(root, &config, maxs, timeout, true)))
        };
        dirs.push((section.prefix.clone(), section.dir.clone(), own_write));
    }
    let mut out: Vec<Mount> = Vec::new();
    let mut names = Vec::new();
    let out_writes = dirs.iter().any(|(_, _, w)| w.is_some());
    for (segments, dir, own_write) in dirs {
        let prefix = SafePath::from_segments(segments.clone()).map_err(|_| {
            bad(
                &dir,
                "its name cannot be part of a URL (a backslash?)".into(),
            )
        })?;
        if out.iter().any(|(p, _)| *p == prefix) {
            return Err(bad(
                &dir,
                format!("two read directories are served at {prefix}"),
            ));
        }
        let mut handler = StaticHandler::new(&dir, config.clone())
            .map_err(|e| bad(&dir, format!("expected a directory ({e})")))?;
        if let Some(w) = own_write.or_else(|| write.clone()) {
            handler.attach(w);
        }
        if let Some(first) = segments.first() {
            if !names.contains(first) {
                names.push(first.clone());
            }
        }
        out.push((prefix, Arc::new(handler) as Arc<dyn Handler>));
    }
    let wrap = |reads: Reads| StaticHandler {
        reads,
        write: write.clone(),
        config: Arc::new(config.clone()),
    };
    if write.is_some() || out_writes {
        let at = SafePath::parse(&config.uploads_path).map_err(|_| {
            ConfigError::invalid(
                "--uploads_path",
                &config.uploads_path,
                "expected a URL path",
            )
        })?;
        let endpoint = UploadsEndpoint::new(
            Arc::clone(&config.uploads),
            Arc::clone(&config.resumable.0),
            &config.uploads_path,
        );
        out.push((at, Arc::new(endpoint) as Arc<dyn Handler>));
    }
    if !out.iter().any(|(p, _)| p.is_root()) {
        if !names.is_empty() {
            out.push((
                SafePath::root(),
                Arc::new(wrap(Reads::Mounts(Arc::new(names)))),
            ));
        } else if write.is_some() {
            out.push((SafePath::root(), Arc::new(wrap(Reads::Nothing))));
        }
    }
    Ok(out)
}
