//! One served directory and the static options that apply to it.

use std::sync::Arc;

use crate::StaticConfig;
use crate::read::precompressed::Siblings;
use httpout_store::DiskRoot;

/// A read directory with its configuration.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) root: DiskRoot,
    pub(crate) config: Arc<StaticConfig>,
    /// Whether listings offer an upload form (a write directory is set).
    pub(crate) upload_form: bool,
    /// Which of its directories hold precompressed siblings (shared by the
    /// clones of this site).
    pub(crate) siblings: Arc<Siblings>,
}

impl Site {
    /// A read directory without an upload form.
    pub(crate) fn new(root: DiskRoot, config: Arc<StaticConfig>) -> Self {
        // Playlists written anywhere announce their preload hints.
        crate::read::hls::install(&config.live);
        Self {
            root,
            config,
            upload_form: false,
            siblings: Arc::default(),
        }
    }

    /// Files up to this size are read whole when opened (one trip to the
    /// blocking pool instead of two).
    pub(crate) fn small_file(&self) -> u64 {
        self.config.block_size as u64
    }

    /// The `Cache-Control` of a file at `url_path` named `name` of `kind`
    /// ([`crate::cache`]).
    pub(crate) fn cache_control(
        &self,
        url_path: &str,
        name: &str,
        kind: crate::cache::Kind,
    ) -> Option<http::HeaderValue> {
        let kind = if self.config.cache_defaults {
            kind
        } else {
            crate::cache::Kind::Other
        };
        crate::cache::value(
            &self.config.cache_rules,
            self.config.cache_control.as_ref(),
            url_path,
            name,
            kind,
        )
    }

    /// Whether ETags are sent (`cache_control=none` turns them off).
    pub(crate) fn etags(&self) -> bool {
        self.config.etags
    }
}
