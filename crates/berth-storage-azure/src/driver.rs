//! The [`StorageDriver`] operations on Azure Blob Storage.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use azure_core::prelude::{Delimiter, MaxResults, Prefix};
use azure_storage_blobs::blob::CopyStatus;
use azure_storage_blobs::prelude::{BlobClient, DeleteSnapshotsMethod};
use berth_storage::{ByteStream, FileInfo, FileWriter, Result, StorageDriver, StorageError, path};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};

use crate::blocks::BLOCK_SIZE;
use crate::client::Clients;
use crate::config::{DRIVER, Settings};
use crate::errors::{self, Where};
use crate::keys::Keys;
use crate::sas::{REDIRECT_LIFETIME, Signer};
use crate::writer::BlockWriter;

/// Deletes run this many at a time.
const DELETE_CONCURRENCY: usize = 8;

/// What every operation shares.
#[derive(Debug)]
pub struct Inner {
    pub(crate) settings: Settings,
    pub(crate) clients: Clients,
    pub(crate) keys: Keys,
    pub(crate) at: Where,
    signer: Signer,
}

impl Inner {
    /// Builds clients and signer; needs no network.
    pub fn new(settings: Settings) -> std::result::Result<Inner, berth_storage::OpenError> {
        Ok(Inner {
            clients: Clients::new(&settings)?,
            keys: Keys::new(&settings.root),
            at: Where::new(&settings),
            signer: Signer::new(&settings),
            settings,
        })
    }

    /// The client of the blob at `path`.
    pub fn blob(&self, path: &str) -> BlobClient {
        self.clients.container.blob_client(self.keys.blob(path))
    }

    /// A read-only SAS URL for `blob`, valid for the redirect lifetime.
    pub async fn signed_url(&self, blob: &BlobClient) -> azure_core::Result<url::Url> {
        self.signer
            .read_url(&self.clients.service, blob, REDIRECT_LIFETIME)
            .await
    }

    /// The size and time of the blob at `path`, or NotFound.
    async fn properties(&self, path: &str) -> Result<(u64, SystemTime)> {
        let props = self
            .blob(path)
            .get_properties()
            .await
            .map_err(|e| self.at.storage("stat", path, e))?
            .blob
            .properties;
        Ok((props.content_length, props.last_modified.into()))
    }

    /// True when some blob exists below `path/`.
    async fn has_children(&self, path: &str) -> Result<bool> {
        let mut pages = self
            .clients
            .container
            .list_blobs()
            .prefix(Prefix::from(self.keys.dir_prefix(path)))
            .max_results(MaxResults::new(std::num::NonZeroU32::MIN))
            .into_stream();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.at.storage("stat", path, e))?;
            if page.blobs.blobs().next().is_some() {
                return Ok(true);
            }
            // Azure may answer an empty page with a marker: keep going.
        }
        Ok(false)
    }

    /// Every blob name below `path/`, at any depth.
    async fn blobs_below(&self, path: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .clients
            .container
            .list_blobs()
            .prefix(Prefix::from(self.keys.dir_prefix(path)))
            .into_stream();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.at.storage("list", path, e))?;
            names.extend(page.blobs.blobs().map(|b| b.name.clone()));
        }
        Ok(names)
    }

    async fn delete_blob(&self, name: String, path: &str) -> Result<bool> {
        let result = self
            .clients
            .container
            .blob_client(name)
            .delete()
            .delete_snapshots_method(DeleteSnapshotsMethod::Include)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if errors::is_not_found(&e) => Ok(false),
            Err(e) => Err(self.at.storage("delete", path, e)),
        }
    }

    /// Waits for a server-side copy into `dest` to finish.
    async fn wait_for_copy(&self, dest: &BlobClient, path: &str, first: CopyStatus) -> Result<()> {
        let mut status = first;
        let mut delay = self.settings.copy_poll_delay;
        for _ in 0..self.settings.copy_poll_max_retry {
            match status {
                CopyStatus::Success => return Ok(()),
                CopyStatus::Pending => {}
                other => {
                    return Err(self.at.backend(
                        "move",
                        path,
                        format!("the server-side copy ended as {other:?}"),
                    ));
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            let props = dest
                .get_properties()
                .await
                .map_err(|e| self.at.storage("move", path, e))?
                .blob
                .properties;
            status = props.copy_status.unwrap_or(CopyStatus::Success);
        }
        if status == CopyStatus::Success {
            return Ok(());
        }
        Err(self.at.backend(
            "move",
            path,
            format!(
                "the server-side copy is still {status:?} after {} checks: raise storage.azure.copy_status_poll_max_retry",
                self.settings.copy_poll_max_retry
            ),
        ))
    }
}

/// The `azure` driver: Azure Blob Storage (and Azurite, Azure Stack).
#[derive(Clone, Debug)]
pub struct AzureDriver {
    pub(crate) inner: Arc<Inner>,
}

#[async_trait]
impl StorageDriver for AzureDriver {
    fn name(&self) -> &'static str {
        DRIVER
    }

    async fn get_content(&self, p: &str) -> Result<Bytes> {
        let mut stream = self.reader(p, 0).await?;
        let mut out = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.inner.at.backend("read", p, e.to_string()))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    async fn put_content(&self, p: &str, content: Bytes) -> Result<()> {
        path::check(p)?;
        let blob = self.inner.blob(p);
        let result = blob.put_block_blob(content.clone()).await;
        match result {
            Ok(_) => Ok(()),
            // A legacy append blob (Distribution before 2.8 wrote them) can't
            // be replaced by Put Blob: remove it first, as Distribution does.
            Err(e) if errors::error_code(&e) == Some("InvalidBlobType") => {
                self.inner
                    .delete_blob(blob.blob_name().to_string(), p)
                    .await?;
                blob.put_block_blob(content)
                    .await
                    .map(drop)
                    .map_err(|e| self.inner.at.storage("write", p, e))
            }
            Err(e) => Err(self.inner.at.storage("write", p, e)),
        }
    }

    async fn reader(&self, p: &str, offset: u64) -> Result<ByteStream> {
        path::check(p)?;
        let (size, _) = self.inner.properties(p).await?;
        if offset > size {
            return Err(StorageError::InvalidOffset {
                driver: DRIVER,
                path: p.to_string(),
                offset,
            });
        }
        if offset == size {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let at = self.inner.at.clone();
        let pages = self
            .inner
            .blob(p)
            .get()
            .range(offset..)
            .chunk_size(BLOCK_SIZE as u64)
            .into_stream();
        let stream = pages
            .map_err({
                let at = at.clone();
                move |e| at.io(e)
            })
            .map_ok(move |page| {
                let at = at.clone();
                page.data.map_err(move |e| at.io(e))
            })
            .try_flatten();
        Ok(Box::pin(stream))
    }

    async fn writer(&self, p: &str, append: bool) -> Result<Box<dyn FileWriter>> {
        path::check(p)?;
        Ok(Box::new(
            BlockWriter::open(self.inner.clone(), p, append).await?,
        ))
    }

    async fn stat(&self, p: &str) -> Result<FileInfo> {
        path::check(p)?;
        if !self.inner.keys.blob(p).is_empty() {
            match self.inner.properties(p).await {
                Ok((size, modified)) => {
                    return Ok(FileInfo {
                        path: p.to_string(),
                        size,
                        modified,
                        is_dir: false,
                    });
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        if self.inner.has_children(p).await? {
            return Ok(FileInfo {
                path: p.to_string(),
                size: 0,
                modified: SystemTime::UNIX_EPOCH,
                is_dir: true,
            });
        }
        Err(StorageError::NotFound {
            driver: DRIVER,
            path: p.to_string(),
        })
    }

    async fn list(&self, p: &str) -> Result<Vec<String>> {
        path::check(p)?;
        let inner = &self.inner;
        let mut pages = inner
            .clients
            .container
            .list_blobs()
            .prefix(Prefix::from(inner.keys.dir_prefix(p)))
            .delimiter(Delimiter::new("/"))
            .into_stream();
        let mut children = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| inner.at.storage("list", p, e))?;
            let names = page
                .blobs
                .blobs()
                .map(|b| b.name.as_str())
                .chain(page.blobs.prefixes().map(|prefix| prefix.name.as_str()));
            children.extend(names.filter_map(|name| inner.keys.path(name)));
        }
        if children.is_empty() && p != "/" {
            return Err(StorageError::NotFound {
                driver: DRIVER,
                path: p.to_string(),
            });
        }
        Ok(children)
    }

    async fn move_object(&self, source: &str, dest: &str) -> Result<()> {
        path::check(source)?;
        path::check(dest)?;
        let inner = &self.inner;
        let from = inner.blob(source);
        let to = inner.blob(dest);
        let url = inner
            .signed_url(&from)
            .await
            .map_err(|e| inner.at.storage("move", source, e))?;
        let started = to.copy(url).await.map_err(|e| {
            if errors::is_not_found(&e) {
                StorageError::NotFound {
                    driver: DRIVER,
                    path: source.to_string(),
                }
            } else {
                inner.at.storage("move", dest, e)
            }
        })?;
        inner.wait_for_copy(&to, dest, started.copy_status).await?;
        inner
            .delete_blob(from.blob_name().to_string(), source)
            .await?;
        Ok(())
    }

    async fn delete(&self, p: &str) -> Result<()> {
        path::check(p)?;
        let inner = &self.inner;
        let blob = inner.keys.blob(p);
        let mut found = false;
        if !blob.is_empty() {
            found |= inner.delete_blob(blob, p).await?;
        }
        let below = inner.blobs_below(p).await?;
        let deleted: Vec<bool> = futures::stream::iter(below)
            .map(|name| inner.delete_blob(name, p))
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect()
            .await?;
        found |= deleted.iter().any(|d| *d);
        if found {
            Ok(())
        } else {
            Err(StorageError::NotFound {
                driver: DRIVER,
                path: p.to_string(),
            })
        }
    }

    async fn redirect_url(&self, p: &str) -> Result<Option<String>> {
        path::check(p)?;
        let url = self
            .inner
            .signed_url(&self.inner.blob(p))
            .await
            .map_err(|e| self.inner.at.storage("sign a URL for", p, e))?;
        Ok(Some(url.to_string()))
    }
}
