//! The one error type every driver returns.

/// A driver operation's result.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What went wrong in a storage operation. Callers match on the variant
/// (`NotFound` is routine for a registry), and the message names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Nothing is stored at the path.
    #[error("{driver}: path not found: {path}")]
    NotFound {
        /// Driver name.
        driver: &'static str,
        /// The path asked for.
        path: String,
    },
    /// The path is not one a driver accepts.
    #[error("invalid storage path {path:?}: {reason}")]
    InvalidPath {
        /// The rejected path.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A read started beyond the end of the object.
    #[error("{driver}: offset {offset} is beyond the end of {path}")]
    InvalidOffset {
        /// Driver name.
        driver: &'static str,
        /// The object.
        path: String,
        /// The offset asked for.
        offset: u64,
    },
    /// The backend failed; `source` is its own error.
    #[error("{driver}: {operation} {path}: {source}")]
    Backend {
        /// Driver name.
        driver: &'static str,
        /// What was being done (`read`, `write`, `rename`, …).
        operation: &'static str,
        /// The path involved.
        path: String,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    /// True for [`StorageError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }
}
