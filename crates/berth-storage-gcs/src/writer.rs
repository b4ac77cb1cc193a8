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

/// An open resumable upload.
struct Session {
    uri: String,
    /// Bytes the session holds.
    sent: u64,
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
    session: Option<Session>,
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
        }
    }

    fn fail(&self, f: Failure) -> StorageError {
        self.inner.bucket_failure("write", &self.path, f)
    }

    /// Sends one full chunk from the buffer to the resumable session,
    /// starting it first when needed.
    async fn send_chunk(&mut self) -> Result<()> {
        let http = &self.inner.http;
        if self.session.is_none() {
            let uri = http
                .start_resumable(&self.target)
                .await
                .map_err(|f| self.fail(f))?;
            self.session = Some(Session { uri, sent: 0 });
        }
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let chunk = self.buffer.split_to(self.inner.chunk_size).freeze();
        let outcome = http
            .put_chunk(&session.uri, session.sent, chunk.clone(), None)
            .await;
        match outcome {
            Ok(Chunk::Incomplete { persisted }) => {
                let accepted = persisted
                    .checked_sub(session.sent)
                    .filter(|&a| a <= chunk.len() as u64);
                let Some(accepted) = accepted else {
                    return Err(self.inner.backend(
                        "write",
                        &self.path,
                        format!(
                            "GCS lost bytes of a resumable upload (it holds {persisted}, \
                             {} were sent): retry the upload",
                            session.sent
                        ),
                    ));
                };
                session.sent = persisted;
                // What GCS did not keep goes back in front of the buffer.
                let rest = chunk.slice(accepted as usize..);
                if !rest.is_empty() {
                    let mut again = BytesMut::from(&rest[..]);
                    again.extend_from_slice(&self.buffer);
                    self.buffer = again;
                }
                Ok(())
            }
            Ok(Chunk::Done) => Err(self.inner.backend(
                "write",
                &self.path,
                "GCS finished a resumable upload before its last chunk".to_string(),
            )),
            Err(f) => Err(self.fail(f)),
        }
    }

    /// Uploads whatever is buffered as the end of the new bytes.
    async fn finish_upload(&mut self) -> Result<()> {
        let http = &self.inner.http;
        if self.session.is_none() && !self.buffer.is_empty() {
            let body = self.buffer.split().freeze();
            return http
                .upload_media(&self.target, body)
                .await
                .map_err(|f| self.fail(f));
        }
        // An empty object goes through a (one-request) resumable session
        // too: gcp-storage-emulator fails empty media uploads.
        if self.session.is_none() {
            let uri = http
                .start_resumable(&self.target)
                .await
                .map_err(|f| self.fail(f))?;
            self.session = Some(Session { uri, sent: 0 });
        }
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let total = session.sent + self.buffer.len() as u64;
        // A few rounds at most: GCS may keep less than was sent.
        for _ in 0..4 {
            let rest: Bytes = self.buffer.split().freeze();
            match http
                .put_chunk(&session.uri, session.sent, rest.clone(), Some(total))
                .await
            {
                Ok(Chunk::Done) => return Ok(()),
                Ok(Chunk::Incomplete { persisted })
                    if persisted >= session.sent && persisted < total =>
                {
                    let accepted = (persisted - session.sent) as usize;
                    self.buffer
                        .extend_from_slice(&rest[accepted.min(rest.len())..]);
                    session.sent = persisted;
                }
                Ok(Chunk::Incomplete { persisted }) => {
                    return Err(self.inner.backend(
                        "write",
                        &self.path,
                        format!(
                            "GCS did not finish a resumable upload of {total} bytes (it holds \
                             {persisted}): retry the upload"
                        ),
                    ));
                }
                Err(f) => return Err(self.fail(f)),
            }
        }
        Err(self.inner.backend(
            "write",
            &self.path,
            "GCS kept refusing the end of a resumable upload: retry the upload".to_string(),
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
            self.send_chunk().await?;
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
        if let Some(session) = &self.session {
            http.cancel_resumable(&session.uri).await;
        }
        // As the filesystem driver: the object is gone after a cancel.
        match http.delete_object(&self.key).await {
            Ok(()) => Ok(()),
            Err(f) if f.is(404) => Ok(()),
            Err(f) => Err(self.inner.backend("cancel", &self.path, f.message)),
        }
    }
}
