//! Writers: a chunked upload becomes an S3 multipart upload.
//!
//! The writer buffers up to `chunksize` bytes and uploads each full buffer
//! as a part; `commit` uploads the rest and completes the upload, so the
//! object is whole and readable after every commit. A writer that never
//! fills a part sends one PutObject instead. Appending to an existing
//! object starts a new upload whose first parts are server-side copies of
//! that object (UploadPartCopy), or, below S3's 5 MiB part minimum, reads
//! the small object back into the buffer. Nothing lives in the process
//! between commits, so an upload continues after a restart of berthd.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::types::CompletedPart;
use berth_storage::{FileWriter, Result};
use bytes::{Bytes, BytesMut};

use crate::config::MIN_PART;
use crate::copy::{abort_after, copy_parts};
use crate::error::Op;
use crate::store::{GetError, Store};

/// S3's highest part number.
const MAX_PARTS: usize = 10_000;

/// An S3 multipart upload in progress.
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

/// A [`FileWriter`] over S3.
pub(crate) struct S3Writer {
    store: Arc<Store>,
    path: String,
    key: String,
    /// Bytes in the object so far, committed or not.
    size: u64,
    /// Bytes not yet sent as a part.
    buffer: BytesMut,
    upload: Option<Upload>,
}

impl S3Writer {
    /// Opens a writer for `path`, continuing the object there when `append`.
    pub async fn open(store: Arc<Store>, path: &str, append: bool) -> Result<S3Writer> {
        let key = store.keys.key(path);
        let mut writer = S3Writer {
            buffer: BytesMut::new(),
            size: 0,
            upload: None,
            path: path.to_string(),
            key,
            store,
        };
        if append {
            let existing = writer.store.head_if_exists(path, &writer.key).await?;
            match existing.map_or(0, |h| h.size) {
                0 => {}
                size if size < MIN_PART => writer.read_back().await?,
                size => writer.copy_existing(size).await?,
            }
        }
        Ok(writer)
    }

    /// Loads the existing small object into the buffer.
    async fn read_back(&mut self) -> Result<()> {
        let mut body = match self.store.get(&self.path, &self.key, 0).await {
            Ok(body) => body,
            Err(GetError::Failed(e)) => return Err(e),
            Err(GetError::BeyondEnd) => return Ok(()),
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                self.store.target.backend(
                    Op::Read,
                    &self.path,
                    format!("reading the object back to append to it failed: {e}"),
                )
            })?;
            self.buffer.extend_from_slice(&chunk);
        }
        self.size = self.buffer.len() as u64;
        Ok(())
    }

    /// Starts an upload whose first parts copy the existing object.
    async fn copy_existing(&mut self, size: u64) -> Result<()> {
        let id = self.store.start_upload(&self.path, &self.key).await?;
        match copy_parts(&self.store, &self.path, &self.key, &self.key, &id, size).await {
            Ok(parts) => {
                self.upload = Some(Upload { id, parts });
                self.size = size;
                Ok(())
            }
            Err(e) => Err(abort_after(&self.store, &self.path, &self.key, &id, e).await),
        }
    }

    /// Sends the buffer as the next part, starting the upload if needed.
    async fn send_part(&mut self) -> Result<()> {
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => {
                let id = self.store.start_upload(&self.path, &self.key).await?;
                self.upload.insert(Upload {
                    id,
                    parts: Vec::new(),
                })
            }
        };
        if upload.parts.len() >= MAX_PARTS {
            return Err(self.store.target.backend(
                Op::UploadPart,
                &self.path,
                format!(
                    "the object needs more than S3's {MAX_PARTS} parts: raise storage.s3.chunksize \
                     (now {} bytes)",
                    self.store.config.chunk_size
                ),
            ));
        }
        let number = i32::try_from(upload.parts.len() + 1).unwrap_or(i32::MAX);
        let data = self.buffer.split().freeze();
        let part = self
            .store
            .upload_part(&self.path, &self.key, &upload.id, number, data)
            .await?;
        upload.parts.push(part);
        Ok(())
    }
}

#[async_trait]
impl FileWriter for S3Writer {
    async fn write(&mut self, mut data: Bytes) -> Result<()> {
        let chunk = usize::try_from(self.store.config.chunk_size).unwrap_or(usize::MAX);
        self.size += data.len() as u64;
        // Fill the buffer a part at a time: memory stays at one part.
        while !data.is_empty() {
            let take = data.len().min(chunk.saturating_sub(self.buffer.len()));
            self.buffer.extend_from_slice(&data.split_to(take));
            if self.buffer.len() >= chunk {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if self.upload.is_none() {
            let content = self.buffer.split().freeze();
            return self.store.put(&self.path, &self.key, content).await;
        }
        if !self.buffer.is_empty()
            && let Err(e) = self.send_part().await
        {
            return Err(self.abort_with(e).await);
        }
        let Some(upload) = self.upload.take() else {
            return Ok(());
        };
        let done = self
            .store
            .complete_upload(&self.path, &self.key, &upload.id, upload.parts)
            .await;
        match done {
            Ok(()) => Ok(()),
            Err(e) => Err(abort_after(&self.store, &self.path, &self.key, &upload.id, e).await),
        }
    }

    async fn cancel(mut self: Box<Self>) -> Result<()> {
        match self.upload.take() {
            Some(upload) => {
                self.store
                    .abort_upload(&self.path, &self.key, &upload.id)
                    .await
            }
            None => Ok(()),
        }
    }
}

impl S3Writer {
    async fn abort_with(
        &mut self,
        error: berth_storage::StorageError,
    ) -> berth_storage::StorageError {
        match self.upload.take() {
            Some(upload) => {
                abort_after(&self.store, &self.path, &self.key, &upload.id, error).await
            }
            None => error,
        }
    }
}

impl Drop for S3Writer {
    /// A writer dropped without commit or cancel (its request failed or was
    /// interrupted) aborts its upload in the background, so that no
    /// incomplete upload keeps its parts' storage.
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, path, key) = (self.store.clone(), self.path.clone(), self.key.clone());
        runtime.spawn(async move {
            if let Err(e) = store.abort_upload(&path, &key, &upload.id).await {
                tracing::warn!("s3: abandoned multipart upload of {path} not aborted: {e}");
            }
        });
    }
}
