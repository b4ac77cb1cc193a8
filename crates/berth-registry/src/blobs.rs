//! Blobs of a repository: existence, size, links, cross-repository mounts
//! and deletion. A blob is stored once (by digest) and linked into each
//! repository that has it.

use bytes::Bytes;

use crate::error::{ErrorCode, RegistryError, Result};
use crate::reference::{Digest, check_name};
use crate::{Registry, layout};

fn blob_unknown(name: &str, digest: &Digest) -> RegistryError {
    RegistryError::new(
        ErrorCode::BlobUnknown,
        format!("blob {digest} is not in repository {name}"),
    )
    .with_detail(serde_json::json!({ "digest": digest.to_string() }))
}

impl Registry {
    /// True when the blob's data is in the store (in any repository).
    pub async fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        match self.driver.stat(&layout::blob_data(digest)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Links a stored blob into repository `name`.
    pub async fn link_blob(&self, name: &str, digest: &Digest) -> Result<()> {
        self.driver
            .put_content(
                &layout::layer_link(name, digest),
                Bytes::from(digest.to_string()),
            )
            .await?;
        self.blob_linked(name, digest);
        Ok(())
    }

    async fn is_linked(&self, name: &str, digest: &Digest) -> Result<bool> {
        match self.driver.stat(&layout::layer_link(name, digest)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The size of a blob of repository `name`; `BLOB_UNKNOWN` when the
    /// repository does not have it.
    pub async fn blob_size(&self, name: &str, digest: &Digest) -> Result<u64> {
        self.gc.touch(digest);
        if !self.is_linked(name, digest).await? {
            return Err(blob_unknown(name, digest));
        }
        match self.driver.stat(&layout::blob_data(digest)).await {
            Ok(info) => Ok(info.size),
            Err(e) if e.is_not_found() => Err(blob_unknown(name, digest)),
            Err(e) => Err(e.into()),
        }
    }

    /// Mounts a blob of repository `from` into `name` without copying.
    /// Returns false (the caller starts an ordinary upload) when `from`
    /// does not have it.
    pub async fn mount_blob(&self, name: &str, digest: &Digest, from: &str) -> Result<bool> {
        if check_name(from).is_err() || !self.is_linked(from, digest).await? {
            return Ok(false);
        }
        let _gc = self.gc.guard().await;
        if !self.blob_exists(digest).await? {
            return Ok(false);
        }
        self.link_blob(name, digest).await?;
        Ok(true)
    }

    /// Unlinks a blob from repository `name` (its bytes go at the next
    /// garbage collection if nothing else refers to them).
    pub async fn delete_blob(&self, name: &str, digest: &Digest) -> Result<()> {
        self.require_deletes()?;
        let dir = layout::layer_link(name, digest);
        let dir = berth_storage::path::parent(&dir).to_string();
        match self.driver.delete(&dir).await {
            Ok(()) => {
                self.blob_unlinked(name, digest);
                Ok(())
            }
            Err(e) if e.is_not_found() => Err(blob_unknown(name, digest)),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses unless `storage.delete.enabled` is true.
    pub(crate) fn require_deletes(&self) -> Result<()> {
        if self.settings.delete_enabled {
            Ok(())
        } else {
            Err(RegistryError::new(
                ErrorCode::Unsupported,
                "deletes are disabled on this registry; set storage.delete.enabled: true to allow them",
            ))
        }
    }
}
