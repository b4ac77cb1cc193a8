//! Where a registry keeps its bytes: the [`StorageDriver`] trait, modelled on
//! CNCF Distribution's storage driver API, and its drivers.
//!
//! A driver knows nothing about registries: it stores opaque objects under
//! slash-separated paths (`/docker/registry/v2/blobs/…`), streams them, lists
//! and moves them. Everything a registry needs for crash safety is in the
//! contract:
//!
//! - [`StorageDriver::put_content`] replaces an object atomically: readers see
//!   the old bytes or the new bytes, never a mix or a truncated file.
//! - [`StorageDriver::move_object`] is atomic on drivers that can do it (the
//!   filesystem renames); registries commit finished uploads with it.
//! - Writers ([`FileWriter`]) append to objects that nobody reads until they
//!   are committed and moved into place.
//!
//! Drivers here: [`filesystem::FilesystemDriver`] and [`inmemory::InMemoryDriver`].
//!
//! ```
//! # tokio_test_shim::block_on(async {
//! use berth_storage::{StorageDriver, inmemory::InMemoryDriver};
//! let driver = InMemoryDriver::new();
//! driver.put_content("/greeting", "hello".into()).await.unwrap();
//! assert_eq!(driver.get_content("/greeting").await.unwrap(), "hello");
//! # });
//! # mod tokio_test_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #   tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) } }
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod filesystem;
pub mod http_error;
pub mod inmemory;
pub mod open;
pub mod path;
pub mod probe;
#[doc(hidden)]
pub mod suite;

use std::fmt::Debug;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use error::{Result, StorageError};
pub use open::{DriverParams, OpenError};

/// A stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What [`StorageDriver::stat`] knows about a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The path asked about.
    pub path: String,
    /// Size in bytes; 0 for directories.
    pub size: u64,
    /// Last modification time.
    pub modified: SystemTime,
    /// True for a directory (a prefix with objects below it).
    pub is_dir: bool,
}

/// A storage backend, as Distribution's `storagedriver.StorageDriver`.
///
/// Paths are absolute, slash-separated and validated by [`path::check`]:
/// no `.`/`..` components, no empty components, no backslashes or NULs.
#[async_trait]
pub trait StorageDriver: Send + Sync + Debug + 'static {
    /// The driver's name as written in `config.yml` (`filesystem`, `s3`, …).
    fn name(&self) -> &'static str;

    /// Reads a whole (small) object.
    async fn get_content(&self, path: &str) -> Result<Bytes>;

    /// Writes a whole object atomically, replacing any previous content.
    async fn put_content(&self, path: &str, content: Bytes) -> Result<()>;

    /// Streams an object from `offset` to its end.
    async fn reader(&self, path: &str, offset: u64) -> Result<ByteStream>;

    /// Opens a writer that appends to `path` (when `append`) or replaces it.
    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>>;

    /// Size, modification time and kind of `path`.
    async fn stat(&self, path: &str) -> Result<FileInfo>;

    /// The direct children of directory `path`, as full paths, unsorted.
    async fn list(&self, path: &str) -> Result<Vec<String>>;

    /// Moves an object from `source` to `dest`, replacing `dest`.
    async fn move_object(&self, source: &str, dest: &str) -> Result<()>;

    /// Deletes `path` and everything below it.
    async fn delete(&self, path: &str) -> Result<()>;

    /// A URL a client may fetch the object from directly (a presigned URL on
    /// cloud backends), or `None` when the registry must serve it.
    async fn redirect_url(&self, _path: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// The names (not paths) of a directory's children, sorted, when
    /// listing is a cheap local operation that may run on the caller's
    /// (blocking) thread; `None` when the driver can only list
    /// asynchronously. Walks over many small directories (the catalog) use
    /// it to avoid a thread hop and a path string per entry.
    fn child_names_now(&self, _path: &str) -> Option<Result<Arc<Vec<String>>>> {
        None
    }

    /// The object's location on a local filesystem, when it has one; lets
    /// the registry serve blobs from the page cache without a detour.
    fn local_path(&self, _path: &str) -> Option<PathBuf> {
        None
    }
}

/// An open object being written; nothing is visible at its path under a
/// committed name until [`FileWriter::commit`] returns.
#[async_trait]
pub trait FileWriter: Send {
    /// Appends `data`.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Bytes in the object so far, including what was there when opened for
    /// appending.
    fn size(&self) -> u64;

    /// Flushes and closes, keeping what was written (for a later append);
    /// the object at the path is whole and readable afterwards.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Flushes and closes, keeping what was written for a later
    /// `writer(path, true)` to continue (Distribution's `Close`), without
    /// necessarily making it readable: a driver may keep the written bytes
    /// apart from the object (an S3 multipart upload) until a `commit`, so
    /// `stat` and readers may still see the object as it was. A later
    /// appending writer's `size` counts them. By default the same as
    /// `commit`.
    async fn close(self: Box<Self>) -> Result<()> {
        self.commit().await
    }

    /// Abandons the object, removing what was written.
    async fn cancel(self: Box<Self>) -> Result<()>;
}

/// Every object (not directory) below `path`, as full paths, in no
/// particular order: Distribution's `Walk`, built on [`StorageDriver::list`]
/// and [`StorageDriver::stat`]. A missing `path` is [`StorageError::NotFound`].
pub async fn walk(driver: &dyn StorageDriver, path: &str) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![path.to_string()];
    while let Some(dir) = pending.pop() {
        for child in driver.list(&dir).await? {
            match driver.stat(&child).await {
                Ok(info) if info.is_dir => pending.push(child),
                Ok(_) => files.push(child),
                // Deleted while walking: not there any more.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(files)
}
