//! Writers: new bytes are buffered up to `chunksize`; small writes become
//! one media upload on commit, larger ones a resumable upload fed a chunk at
//! a time. An appending writer uploads its new bytes as a temporary part
//! object and, on commit, composes `[existing, part]` onto the object (with
//! a generation precondition), then deletes the part: the object is
//! complete after every commit and nothing half-written is ever visible.

use std::sync::Arc;

use async_trait::async_trait;
use berth_storage::{FileWriter, Result, StorageError};
use bytes::{Bytes, BytesMut};

use crate::api::Chunk;
use crate::http::Failure;
use crate::inner::Inner;
use crate::keys::PARTS_PREFIX;

/// The object an appending writer extends.
#[derive(Debug)]
pub struct Existing {
    /// Its size.
    pub size: u64,
    /// Its generation: the compose only applies to this version.
    pub generation: Option<String>,
}

/// A writer for one object.
pub struct GcsWriter {
    inner: Arc<Inner>,
    path: String,
    key: String,
    /// Appending onto this object (non-empty), when set.
    base: Option<Existing>,
    /// Where the new bytes are uploaded: the key, or a part object.
    target: String,
    buffer: BytesMut,
    /// The resumable upload's session URI, once one is started.
    session: Option<String>,
    /// Bytes the resumable upload holds.
    sent: u64,
    /// Bytes in the object so far, the base included.
    size: u64,
}

impl GcsWriter {
    /// A writer for `path`, appending onto `base` when given.
    pub fn new(inner: Arc<Inner>, path: &str, base: Option<Existing>) -> GcsWriter {
        let key = inner.keys.key(path);
        let target = match base {
            Some(_) => format!("{PARTS_PREFIX}{}", uuid::Uuid::new_v4()),
            None => key.clone(),
        };
        GcsWriter {
            size: base.as_ref().map_or(0, |b| b.size),
            inner,
            path: path.to_string(),
            key,
            base,
            target,
            buffer: BytesMut::new(),
            session: None,
            sent: 0,
        }
    }

    fn fail(&self, f: Failure) -> StorageError {
        self.inner.bucket_failure("write", &self.path, f)
    }

    /// The resumable upload's session URI, starting the upload first when
    /// needed.
    async fn session(&mut self) -> Result<String> {
        if let Some(uri) = &self.session {
            return Ok(uri.clone());
        }
        let uri = self
            .inner
            .http
            .start_resumable(&self.target)
            .await
            .map_err(|f| self.fail(f))?;
        self.session = Some(uri.clone());
        Ok(uri)
    }

    /// Sends `chunk`, the bytes after those the session holds; `total` (the
    /// upload's size) finishes the upload. What GCS did not keep goes back
    /// in front of the buffer. True once the upload is complete.
    async fn send(&mut self, chunk: Bytes, total: Option<u64>) -> Result<bool> {
        let uri = self.session().await?;
        let outcome = self
            .inner
            .http
            .put_chunk(&uri, self.sent, chunk.clone(), total)
            .await;
        match outcome {
            Ok(Chunk::Done) if total.is_some() => Ok(true),
            Ok(Chunk::Done) => Err(self.inner.backend(
                "write",
                &self.path,
                "GCS finished a resumable upload before its last chunk".to_string(),
            )),
            Ok(Chunk::Incomplete { persisted }) => {
                let accepted = persisted
                    .checked_sub(self.sent)
                    .filter(|&a| a <= chunk.len() as u64);
                let Some(accepted) = accepted else {
                    return Err(self.inner.backend(
                        "write",
                        &self.path,
                        format!(
                            "GCS lost bytes of a resumable upload (it holds {persisted}, \
                             {} were sent): retry the upload",
                            self.sent
                        ),
                    ));
                };
                self.sent = persisted;
                let rest = chunk.slice(accepted as usize..);
                if !rest.is_empty() {
                    let mut again = BytesMut::from(&rest[..]);
                    again.extend_from_slice(&self.buffer);
                    self.buffer = again;
                }
                Ok(false)
            }
            Err(f) => Err(self.fail(f)),
        }
    }

    /// Uploads whatever is buffered as the end of the new bytes: one media
    /// upload when it all fits in the buffer, else the resumable upload's
    /// last request.
    async fn finish_upload(&mut self) -> Result<()> {
        if self.session.is_none() && !self.buffer.is_empty() {
            let body = self.buffer.split().freeze();
            return self
                .inner
                .http
                .upload_media(&self.target, body)
                .await
                .map_err(|f| self.fail(f));
        }
        // An empty object goes through a (one-request) resumable upload
        // too: gcp-storage-emulator fails empty media uploads.
        let total = self.sent + self.buffer.len() as u64;
        // A few rounds at most: GCS may keep less than was sent.
        for _ in 0..4 {
            let rest = self.buffer.split().freeze();
            if self.send(rest, Some(total)).await? {
                return Ok(());
            }
        }
        Err(self.inner.backend(
            "write",
            &self.path,
            format!(
                "GCS did not finish a resumable upload of {total} bytes (it holds {}): retry \
                 the upload",
                self.sent
            ),
        ))
    }

    /// Appends the uploaded part onto the object and deletes the part.
    async fn compose_onto_base(&self, base: &Existing) -> Result<()> {
        let http = &self.inner.http;
        let generation = base.generation.as_deref();
        let result = http
            .compose(
                &self.key,
                &[(&self.key, generation), (&self.target, None)],
                generation,
            )
            .await;
        if let Err(e) = http.delete_object(&self.target).await {
            tracing::warn!(
                "gcs: could not delete the temporary part {}: {}",
                self.target,
                e.message
            );
        }
        match result {
            Ok(()) => Ok(()),
            // A retried compose whose first attempt went through: the
            // object already holds the appended bytes.
            Err(f) if f.is(412) && self.current_size().await == Some(self.size) => Ok(()),
            Err(f) if f.is(412) => Err(self.inner.backend(
                "write",
                &self.path,
                "the object changed while this writer was appending to it (another writer?): \
                 retry the upload"
                    .to_string(),
            )),
            Err(f) => Err(self.fail(f)),
        }
    }

    async fn current_size(&self) -> Option<u64> {
        self.inner
            .http
            .get_object(&self.key)
            .await
            .ok()
            .map(|o| o.size())
    }
}

#[async_trait]
impl FileWriter for GcsWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.size += data.len() as u64;
        self.buffer.extend_from_slice(&data);
        while self.buffer.len() >= self.inner.chunk_size {
            let chunk = self.buffer.split_to(self.inner.chunk_size).freeze();
            self.send(chunk, None).await?;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let base_size = self.base.as_ref().map_or(0, |b| b.size);
        if self.base.is_some() && self.size == base_size {
            return Ok(()); // nothing appended: the object is as it was
        }
        self.finish_upload().await?;
        match self.base.take() {
            Some(base) => self.compose_onto_base(&base).await,
            None => Ok(()),
        }
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        let http = &self.inner.http;
        if let Some(uri) = &self.session {
            http.cancel_resumable(uri).await;
        }
        // As the filesystem driver: the object is gone after a cancel.
        match http.delete_object(&self.key).await {
            Ok(()) => Ok(()),
            Err(f) if f.is(404) => Ok(()),
            Err(f) => Err(self.inner.backend("cancel", &self.path, f.message)),
        }
    }
}
