//! Writers: a chunked upload is one S3 multipart upload from its first
//! PATCH to its last.
//!
//! The writer buffers what it is given and uploads it in `chunksize`
//! parts, keeping 5 MiB behind, so memory stays at one part plus 5 MiB. `close` uploads what is left as
//! a part and leaves the multipart upload open; the next
//! `writer(path, true)` finds it (ListMultipartUploads, ListParts) and
//! continues it, in this process or after a restart of berthd, as
//! Distribution's driver does. `commit` completes the upload: only then is
//! the object at the path whole and readable. Until then readers and `stat`
//! see the object as it was before; the writer's `size` counts the parts.
//! A writer that never fills a part sends one PutObject instead.
//!
//! S3 wants every part but the last to be 5 MiB or more; held back that
//! way, the rest `close` sends is at least 5 MiB unless the writer got
//! less than that in all. When a closed upload ended with a shorter part, the next write first completes it and
//! carries the object into a new upload: read back into the buffer when it
//! is under 5 MiB, copied server-side (UploadPartCopy) when larger. Appending
//! to a complete object does the same. So PATCHes of 5 MiB or more never
//! make the store copy anything; a client sending smaller ones costs a
//! server-side copy per PATCH (so does Distribution).

use std::sync::Arc;

use async_trait::async_trait;
use berth_storage::{FileWriter, Result, StorageError};
use bytes::{Bytes, BytesMut};

use crate::config::MIN_PART;
use crate::copy::{abort_after, copy_parts};
use crate::error::Op;
use crate::store::{GetError, Store, UploadedPart};

/// S3's highest part number.
const MAX_PARTS: usize = 10_000;

/// An S3 multipart upload in progress.
struct Upload {
    id: String,
    parts: Vec<UploadedPart>,
}

impl Upload {
    /// Whether another part may follow the last one.
    fn ends_short(&self) -> bool {
        self.parts.last().is_some_and(|p| p.size < MIN_PART)
    }
}

/// A [`FileWriter`] over S3.
pub(crate) struct S3Writer {
    store: Arc<Store>,
    path: String,
    key: String,
    /// Bytes in the object so far, sent or not.
    size: u64,
    /// Bytes not yet sent as a part.
    buffer: BytesMut,
    /// The complete object this writer continues, of this many bytes, not
    /// carried into an upload yet (0: nothing to carry).
    existing: u64,
    upload: Option<Upload>,
    /// Opened to replace the object: nobody resumes its upload, so it is
    /// aborted when the writer is dropped unfinished.
    replacing: bool,
}

impl S3Writer {
    /// Opens a writer for `path`, continuing what is there when `append`:
    /// the latest incomplete upload of its key, or else the object.
    pub async fn open(store: Arc<Store>, path: &str, append: bool) -> Result<S3Writer> {
        let key = store.keys.key(path);
        let mut writer = S3Writer {
            buffer: BytesMut::new(),
            size: 0,
            existing: 0,
            upload: None,
            replacing: !append,
            path: path.to_string(),
            key,
            store,
        };
        if !append {
            return Ok(writer);
        }
        let mut pending: Vec<_> = writer
            .store
            .list_uploads(path, &writer.key)
            .await?
            .into_iter()
            .filter(|u| u.key == writer.key)
            .collect();
        pending.sort_by_key(|u| u.initiated);
        match pending.pop() {
            Some(latest) => {
                // Older uploads of the same key were left by a writer that
                // was replaced; nobody can finish them any more.
                for stale in pending {
                    if let Err(e) = writer
                        .store
                        .abort_upload(path, &writer.key, &stale.id)
                        .await
                    {
                        tracing::warn!("s3: stale multipart upload of {path} not aborted: {e}");
                    }
                }
                let parts = writer
                    .store
                    .list_parts(path, &writer.key, &latest.id)
                    .await?;
                writer.size = parts.iter().map(|p| p.size).sum();
                writer.upload = Some(Upload {
                    id: latest.id,
                    parts,
                });
            }
            None => {
                let head = writer.store.head_if_exists(path, &writer.key).await?;
                writer.existing = head.map_or(0, |h| h.size);
                writer.size = writer.existing;
            }
        }
        Ok(writer)
    }

    /// Before the first byte: makes sure the next part may follow what is
    /// there (see the module docs).
    async fn carry_over(&mut self) -> Result<()> {
        if self.upload.as_ref().is_some_and(Upload::ends_short) {
            let upload = self.upload.take().expect("checked");
            let parts = upload.parts.into_iter().map(|p| p.part).collect();
            self.store
                .complete_upload(&self.path, &self.key, &upload.id, parts)
                .await?;
            self.existing = self.size;
        }
        match std::mem::take(&mut self.existing) {
            0 => Ok(()),
            size if size < MIN_PART => self.read_back().await,
            size => self.copy_existing(size).await,
        }
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
                Ok(())
            }
            Err(e) => Err(abort_after(&self.store, &self.path, &self.key, &id, e).await),
        }
    }

    /// Sends the first `len` bytes of the buffer as the next part, starting
    /// the upload if needed.
    async fn send_part(&mut self, len: usize) -> Result<()> {
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
        let data = self.buffer.split_to(len).freeze();
        let size = data.len() as u64;
        let part = self
            .store
            .upload_part(&self.path, &self.key, &upload.id, number, data)
            .await?;
        upload.parts.push(UploadedPart { part, size });
        Ok(())
    }

    /// Aborts the upload after `error`, returning `error`.
    async fn abort_with(&mut self, error: StorageError) -> StorageError {
        match self.upload.take() {
            Some(upload) => {
                abort_after(&self.store, &self.path, &self.key, &upload.id, error).await
            }
            None => error,
        }
    }
}

#[async_trait]
impl FileWriter for S3Writer {
    async fn write(&mut self, mut data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.carry_over().await?;
        let chunk = usize::try_from(self.store.config.chunk_size).unwrap_or(usize::MAX);
        // A part leaves only when 5 MiB more are buffered behind it, so
        // that what `close` sends is a part another may follow, unless this
        // writer got less than 5 MiB in all. Memory stays at one part + 5 MiB.
        let full = chunk.saturating_add(MIN_PART as usize);
        self.size += data.len() as u64;
        while !data.is_empty() {
            let take = data.len().min(full.saturating_sub(self.buffer.len()));
            self.buffer.extend_from_slice(&data.split_to(take));
            if self.buffer.len() >= full {
                self.send_part(chunk).await?;
            }
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if !self.buffer.is_empty() {
            self.send_part(self.buffer.len()).await?;
        }
        // The upload stays open for the next writer; nothing to abort.
        self.upload = None;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if self.existing > 0 {
            // Opened on a complete object and nothing written: it is whole.
            return Ok(());
        }
        if self.upload.is_none() {
            let content = self.buffer.split().freeze();
            return self.store.put(&self.path, &self.key, content).await;
        }
        if !self.buffer.is_empty()
            && let Err(e) = self.send_part(self.buffer.len()).await
        {
            return Err(self.abort_with(e).await);
        }
        let upload = self.upload.take().expect("checked");
        if upload.parts.is_empty() {
            // An upload started and left before its first part: empty.
            self.store
                .abort_upload(&self.path, &self.key, &upload.id)
                .await?;
            return self.store.put(&self.path, &self.key, Bytes::new()).await;
        }
        let parts = upload.parts.into_iter().map(|p| p.part).collect();
        let done = self
            .store
            .complete_upload(&self.path, &self.key, &upload.id, parts)
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

impl Drop for S3Writer {
    /// A replacing writer dropped without commit or cancel (its request
    /// failed or was interrupted) aborts its upload in the background, so
    /// that no incomplete upload keeps its parts' storage. An appending
    /// writer's upload is left for the next writer to continue (a delete of
    /// the path aborts it).
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        if !self.replacing {
            return;
        }
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
