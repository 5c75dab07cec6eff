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
//! is written down in [`read`](crate::read) (private) and in
//! `docs/modes/static.md`.
//!
//! # Layout
//! - `handler`: method dispatch, OPTIONS;
//! - `read`: the GET/HEAD pipeline — `conditional`, `range`, `encoding`,
//!   `listing`, `body`;
//! - `mime`: media types and what is compressible;
//! - `site`: one root and its options; `error`: store errors → statuses.
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use httpout_core::{Options, Router, Server, ServerConfig};
//! let opts = Options::try_parse_args(["httpout", "--rdirs=public", "--dlist"])?;
//! let mut router = Router::new();
//! for (prefix, handler) in httpout_static::mounts(&opts)? {
//!     router = router.mount(&prefix, handler);
//! }
//! let running = Server::bind(ServerConfig::from_options(&opts)?).await?.serve(router);
//! # Ok(()) }
//! ```

mod error;
mod handler;
mod mime;
mod read;
mod site;

use std::path::Path;
use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::{HeaderValue, Method, Request};
use httpout_core::{Body, Cors, Ctx, Error, Handler, HandlerFuture, Options};
use httpout_store::{DirEntryInfo, DiskRoot};

use site::Site;

/// Default read size (the `block_size` option's default). The reference
/// uses 10 000 bytes; 64 KiB measured faster (docs/benchmarks.md).
pub const DEFAULT_BLOCK: usize = 64 * 1024;

/// The static server's options.
#[derive(Debug, Clone)]
pub struct StaticConfig {
    /// HTML/JSON listings for directories (`dlist`). Default false.
    pub dlist: bool,
    /// Ignore `Range` (`norange`). Default false.
    pub norange: bool,
    /// Largest file compressed on the fly (`zmax`), 0 disables. Default 50 000.
    pub zmax: u64,
    /// Read size in bytes (`block_size`); small files up to this size are
    /// read in one go. Default [`DEFAULT_BLOCK`].
    pub block_size: usize,
    /// `Cache-Control` for files (`cache_control`); `None` sends none.
    pub cache_control: Option<HeaderValue>,
    /// Send `ETag` (false with `cache_control=none`, as the reference says).
    pub etags: bool,
    /// CORS policy, for preflight answers.
    pub cors: Cors,
}

impl Default for StaticConfig {
    fn default() -> Self {
        Self {
            dlist: false,
            norange: false,
            zmax: 50_000,
            block_size: DEFAULT_BLOCK,
            cache_control: None,
            etags: true,
            cors: Cors::Auto,
        }
    }
}

impl StaticConfig {
    /// The static part of a parsed command line; errors name the option.
    pub fn from_options(opts: &Options) -> Result<Self, String> {
        let (cache_control, etags) = match opts.cache_control.as_deref() {
            None => (None, true),
            Some("none") => (None, false),
            Some(v) => (
                Some(HeaderValue::from_str(v).map_err(|_| {
                    format!("invalid value '{v}' for --cache_control: expected a header value (visible ASCII)")
                })?),
                true,
            ),
        };
        let block_size = usize::try_from(opts.block_size)
            .ok()
            .filter(|b| (512..=16 << 20).contains(b))
            .ok_or_else(|| {
                format!(
                    "invalid value '{}' for --block_size: expected a size from 512 bytes to 16M",
                    opts.block_size
                )
            })?;
        Ok(Self {
            dlist: opts.dlist,
            norange: opts.norange,
            zmax: opts.zmax,
            block_size,
            cache_control,
            etags,
            cors: opts.cors,
        })
    }
}

/// Serves one read directory.
#[derive(Debug, Clone)]
pub struct StaticHandler {
    site: Arc<Site>,
}

impl StaticHandler {
    /// A handler for the directory `dir`.
    pub fn new(dir: impl AsRef<Path>, config: StaticConfig) -> std::io::Result<Self> {
        Ok(Self {
            site: Arc::new(Site {
                root: DiskRoot::new(dir)?,
                config: Arc::new(config),
            }),
        })
    }
}

impl Handler for StaticHandler {
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let site = Arc::clone(&self.site);
        let (req, _body) = req.into_parts();
        Box::pin(async move {
            match req.method {
                Method::GET | Method::HEAD if !ctx.path.is_asterisk() => {
                    read::get(&site, &req, &ctx).await
                }
                Method::OPTIONS => Ok(handler::options(
                    &site.config,
                    &req,
                    &ctx,
                    handler::READ_ONLY,
                )),
                _ => Err(handler::not_allowed(&req.method, handler::READ_ONLY)),
            }
        })
    }
}

/// The root of a server with several read directories: lists them.
#[derive(Debug, Clone)]
pub struct MountList {
    names: Arc<Vec<String>>,
    config: Arc<StaticConfig>,
}

impl Handler for MountList {
    fn handle(&self, req: Request<Body>, ctx: Ctx) -> HandlerFuture {
        let this = self.clone();
        let (req, _body) = req.into_parts();
        Box::pin(async move {
            match req.method {
                Method::OPTIONS => Ok(handler::options(
                    &this.config,
                    &req,
                    &ctx,
                    handler::READ_ONLY,
                )),
                Method::GET | Method::HEAD if ctx.path.is_root() => {
                    let entries: Vec<DirEntryInfo> = this
                        .names
                        .iter()
                        .map(|n| DirEntryInfo {
                            name: n.clone(),
                            is_dir: true,
                            size: 0,
                            modified: None,
                        })
                        .collect();
                    let mut res = read::listing_response(&req, "/", &entries, false);
                    if let Some(cc) = &this.config.cache_control {
                        res.headers_mut().insert(CACHE_CONTROL, cc.clone());
                    }
                    Ok(res)
                }
                Method::GET | Method::HEAD => Err(Error::NotFound),
                _ => Err(handler::not_allowed(&req.method, handler::READ_ONLY)),
            }
        })
    }
}

/// A URL prefix and the handler mounted there.
pub type Mount = (String, Arc<dyn Handler>);

/// The mounts for `--rdirs`: one directory at `/`, or each directory at
/// `/NAME` (its directory name) with a [`MountList`] at `/`. Errors name the
/// option and the value.
pub fn mounts(opts: &Options) -> Result<Vec<Mount>, String> {
    let config = StaticConfig::from_options(opts)?;
    let open = |dir: &Path| -> Result<StaticHandler, String> {
        if dir.as_os_str() == "gmem" {
            return Err("invalid value 'gmem' for --rdirs: the memory store belongs to the file sink, which is not built yet in this version".into());
        }
        if dir.is_file() {
            return Err(format!(
                "invalid value '{}' for --rdirs: rules files are not supported yet in this version",
                dir.display()
            ));
        }
        StaticHandler::new(dir, config.clone()).map_err(|e| {
            format!(
                "invalid value '{}' for --rdirs: expected a directory ({e})",
                dir.display()
            )
        })
    };
    match opts.rdirs.as_slice() {
        [] => Ok(Vec::new()),
        [one] => Ok(vec![(
            "/".to_owned(),
            Arc::new(open(one)?) as Arc<dyn Handler>,
        )]),
        many => {
            let mut out: Vec<Mount> = Vec::new();
            let mut names = Vec::new();
            for dir in many {
                let handler = open(dir)?;
                let name = handler
                    .site
                    .root
                    .path()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("invalid value '{}' for --rdirs: a directory with a name is needed to mount it", dir.display()))?;
                if names.contains(&name) {
                    return Err(format!(
                        "invalid value '{}' for --rdirs: two read directories are named '{name}'",
                        dir.display()
                    ));
                }
                out.push((format!("/{name}"), Arc::new(handler)));
                names.push(name);
            }
            let list = MountList {
                names: Arc::new(names),
                config: Arc::new(config),
            };
            out.push(("/".to_owned(), Arc::new(list)));
            Ok(out)
        }
    }
}
