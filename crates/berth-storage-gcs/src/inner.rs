//! What the driver and its writers share: the HTTP side, the key map, and
//! the mapping of API failures to [`StorageError`]s.

use std::sync::atomic::{AtomicBool, Ordering};

use berth_storage::StorageError;

use crate::credentials::ServiceAccount;
use crate::http::{Failure, Http};
use crate::keys::KeyMap;
use crate::params::DRIVER;

/// Shared state of a driver and its writers.
#[derive(Debug)]
pub struct Inner {
    /// The JSON API.
    pub http: Http,
    /// Paths ↔ object names.
    pub keys: KeyMap,
    /// Bytes per resumable upload request.
    pub chunk_size: usize,
    /// The key signed URLs are made with, when there is one.
    pub signer: Option<ServiceAccount>,
    /// Set once the bucket was seen to exist.
    bucket_seen: AtomicBool,
}

impl Inner {
    /// Shared state.
    pub fn new(
        http: Http,
        keys: KeyMap,
        chunk_size: usize,
        signer: Option<ServiceAccount>,
    ) -> Inner {
        Inner {
            http,
            keys,
            chunk_size,
            signer,
            bucket_seen: AtomicBool::new(false),
        }
    }

    /// `NotFound` for `path`.
    pub fn not_found(&self, path: &str) -> StorageError {
        StorageError::NotFound {
            driver: DRIVER,
            path: path.to_string(),
        }
    }

    /// A `Backend` error with `message`.
    pub fn backend(&self, operation: &'static str, path: &str, message: String) -> StorageError {
        StorageError::Backend {
            driver: DRIVER,
            operation,
            path: path.to_string(),
            source: message.into(),
        }
    }

    /// An object call failed: 404 is `NotFound` (or a missing bucket, which
    /// a 404 on an object cannot tell apart), the rest `Backend`.
    pub async fn object_failure(
        &self,
        operation: &'static str,
        path: &str,
        f: Failure,
    ) -> StorageError {
        if f.is(404) {
            self.after_404(operation, path).await
        } else {
            self.backend(operation, path, f.message)
        }
    }

    /// A bucket-level call (list, upload) failed: 404 means the bucket is
    /// missing.
    pub fn bucket_failure(&self, operation: &'static str, path: &str, f: Failure) -> StorageError {
        if f.is(404) {
            self.backend(operation, path, self.http.missing_bucket())
        } else {
            self.backend(operation, path, f.message)
        }
    }

    /// Notes that the bucket answered a listing.
    pub fn bucket_exists(&self) {
        self.bucket_seen.store(true, Ordering::Relaxed);
    }

    /// `NotFound` for `path`, unless the bucket itself is missing (checked
    /// with a one-object listing until the bucket was seen once).
    async fn after_404(&self, operation: &'static str, path: &str) -> StorageError {
        if !self.bucket_seen.load(Ordering::Relaxed) {
            match self.http.list_page("", false, None, Some(1)).await {
                Ok(_) => self.bucket_exists(),
                Err(f) if f.is(404) => {
                    return self.backend(operation, path, self.http.missing_bucket());
                }
                // Listing may be forbidden where reading is not: the object
                // is what is missing.
                Err(_) => {}
            }
        }
        self.not_found(path)
    }
}
