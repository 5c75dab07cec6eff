//! How store failures become HTTP errors.

use httpout_core::Error;
use httpout_store::StoreError;

/// Maps a store failure to its HTTP error: a missing file and a path that
/// leads outside the root are both 404 (an escape attempt learns nothing),
/// a refused one 403, anything else 500.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound | StoreError::Escape => Error::NotFound,
        StoreError::PermissionDenied => Error::Forbidden("permission denied".into()),
        StoreError::Io(io) => Error::Io(io),
        other => Error::Internal(Box::new(other)),
    }
}
