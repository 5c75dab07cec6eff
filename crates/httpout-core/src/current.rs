//! A value replaced whole by a reload while readers keep the one they
//! took: each request, connection and accept reads the settings of the
//! moment it starts, and what is in flight is never changed under it.

use std::sync::{Arc, PoisonError, RwLock};

/// The current `T`, swapped whole.
pub(crate) struct Current<T: ?Sized>(RwLock<Arc<T>>);

impl<T: ?Sized> Current<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        Self(RwLock::new(value))
    }

    /// The value now; a later [`Current::store`] does not change it.
    pub(crate) fn load(&self) -> Arc<T> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the value for every later [`Current::load`].
    pub(crate) fn store(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_what_they_took() {
        let current = Current::new(Arc::new(1));
        let before = current.load();
        current.store(Arc::new(2));
        assert_eq!((*before, *current.load()), (1, 2));
    }
}
