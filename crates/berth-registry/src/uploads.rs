//! Blob uploads: sessions kept in the store under `_uploads/<id>`, so any
//! `berthd` (a restarted one, or another replica) can resume them; chunks
//! appended in order; digests verified before a blob becomes visible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_storage::{FileWriter, StorageError};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, StatusCode};

use crate::error::{ErrorCode, RegistryError, Result};
use crate::hashing::{Hasher, StreamHasher, hash_bytes};
use crate::reference::{Algorithm, Digest};
use crate::{BodyStream, Registry, layout};

/// Bodies up to this size with a known length are received into memory and
/// written with one atomic put, skipping the upload directory.
const SMALL_BODY: u64 = 4 * 1024 * 1024;

/// The running hash of an upload, valid while `offset` equals the data size.
pub(crate) struct UploadHash {
    offset: u64,
    hasher: Hasher,
}

type Slot = Arc<tokio::sync::Mutex<Option<UploadHash>>>;

/// How a request leaves the upload's writer.
#[derive(Clone, Copy)]
enum End {
    /// Between chunks: kept for the next request, maybe not readable yet.
    Close,
    /// The last chunk: whole and readable, to be verified and moved.
    Commit,
}

/// Per-upload locks and hash states of this process. Losing them (a restart)
/// only costs a re-hash of the data already received.
#[derive(Default)]
pub(crate) struct UploadStates {
    slots: Mutex<HashMap<String, Slot>>,
}

impl UploadStates {
    fn slot(&self, id: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(id.to_string()).or_default().clone()
    }

    pub(crate) fn forget(&self, id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(id);
    }
}

/// The `Range` header value for an upload holding `size` bytes
/// (Distribution answers `0-0` for an empty upload).
pub fn range_header(size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1))).expect("ascii")
}

fn upload_unknown(id: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::BlobUploadUnknown,
        format!(
            "blob upload {id} is unknown: it was finished, cancelled or purged; start a new upload"
        ),
    )
}

/// Checks an upload id from a URL; only UUIDs are ours, which also keeps
/// `..` and slashes out of storage paths.
pub fn check_upload_id(id: &str) -> Result<()> {
    uuid::Uuid::try_parse(id)
        .map(drop)
        .map_err(|_| upload_unknown(id))
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

impl Registry {
    /// Starts an upload session in repository `name`; returns its id.
    pub async fn start_upload(&self, name: &str) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.driver
            .put_content(&layout::upload_started_at(name, &id), rfc3339_now().into())
            .await?;
        self.driver
            .put_content(&layout::upload_data(name, &id), Bytes::new())
            .await?;
        Ok(id)
    }

    /// Bytes received so far by an upload.
    pub async fn upload_size(&self, name: &str, id: &str) -> Result<u64> {
        check_upload_id(id)?;
        let writer = self.open_upload(name, id).await?;
        let size = writer.size();
        writer.close().await?;
        Ok(size)
    }

    /// Opens an appending writer on the upload's data. Its size, not the
    /// data object's, is what the upload holds: a driver may keep closed
    /// chunks apart until the upload is committed (S3 multipart uploads).
    async fn open_upload(&self, name: &str, id: &str) -> Result<Box<dyn FileWriter>> {
        let data_path = layout::upload_data(name, id);
        match self.driver.stat(&data_path).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Err(upload_unknown(id)),
            Err(e) => return Err(e.into()),
        }
        Ok(self.driver.writer(&data_path, true).await?)
    }

    /// Appends a chunk. `start` is the first byte's offset from
    /// `Content-Range`, which must be where the upload stands.
    pub async fn append_chunk(
        &self,
        name: &str,
        id: &str,
        start: Option<u64>,
        body: BodyStream,
    ) -> Result<u64> {
        check_upload_id(id)?;
        let slot = self.uploads.slot(id);
        let mut state = slot.lock().await;
        let writer = self.open_upload(name, id).await?;
        if let Err(e) = check_start(start, writer.size()) {
            writer.close().await?;
            return Err(e);
        }
        self.append_locked(name, id, writer, &mut state, body, End::Close)
            .await
    }

    /// Writes `body` to the upload's `writer` and then closes or commits it
    /// (`end`); returns the upload's size.
    async fn append_locked(
        &self,
        name: &str,
        id: &str,
        mut writer: Box<dyn FileWriter>,
        state: &mut Option<UploadHash>,
        mut body: BodyStream,
        end: End,
    ) -> Result<u64> {
        let data_path = layout::upload_data(name, id);
        let size = writer.size();
        let hasher = match state.take() {
            Some(h) if h.offset == size => h.hasher,
            _ if size == 0 => Hasher::new(Algorithm::Sha256),
            _ => {
                // This process does not know the hash of what was received
                // (a restart, another replica): make it readable and re-hash.
                writer.commit().await?;
                let hasher = self.rehash(&data_path, Algorithm::Sha256).await?;
                writer = self.driver.writer(&data_path, true).await?;
                hasher
            }
        };
        let mut pipeline = StreamHasher::start(hasher);
        let mut received = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) if chunk.is_empty() => {}
                Ok(chunk) => {
                    received += chunk.len() as u64;
                    pipeline.update(chunk.clone()).await;
                    if let Err(e) = writer.write(chunk).await {
                        failure = Some(RegistryError::from(e));
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(RegistryError::new(
                        ErrorCode::BlobUploadInvalid,
                        format!(
                            "the upload body ended early ({e}); {received} bytes of this chunk \
                             were kept: ask for the upload's status and resume from its Range"
                        ),
                    ));
                    break;
                }
            }
        }
        let ended = match end {
            End::Close => writer.close().await,
            End::Commit => writer.commit().await,
        };
        let hasher = pipeline.finish().await;
        let storage_ok =
            ended.is_ok() && !matches!(&failure, Some(f) if f.code() == ErrorCode::Unknown);
        if storage_ok {
            *state = Some(UploadHash {
                offset: size + received,
                hasher,
            });
        }
        ended?;
        match failure {
            Some(f) => Err(f),
            None => Ok(size + received),
        }
    }

    async fn rehash(&self, path: &str, algorithm: Algorithm) -> Result<Hasher> {
        let mut stream = match self.driver.reader(path, 0).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(Hasher::new(algorithm)),
            Err(e) => return Err(e.into()),
        };
        let mut pipeline = StreamHasher::start(Hasher::new(algorithm));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| StorageError::Backend {
                driver: self.driver.name(),
                operation: "read",
                path: path.to_string(),
                source: Box::new(e),
            })?;
            pipeline.update(chunk).await;
        }
        Ok(pipeline.finish().await)
    }

    /// Finishes an upload with its last chunk (possibly empty, starting at
    /// `start` when the client says so) and the digest the client claims;
    /// the blob becomes visible only if the content has that digest.
    pub async fn finish_upload(
        &self,
        name: &str,
        id: &str,
        start: Option<u64>,
        digest: &Digest,
        body: BodyStream,
        content_length: Option<u64>,
    ) -> Result<()> {
        check_upload_id(id)?;
        let slot = self.uploads.slot(id);
        let mut state = slot.lock().await;
        let writer = self.open_upload(name, id).await?;
        let size = writer.size();
        if let Err(e) = check_start(start, size) {
            writer.close().await?;
            return Err(e);
        }
        if size == 0 && content_length.is_some_and(|l| l <= SMALL_BODY) {
            writer.close().await?;
            let data = read_small(body, content_length.unwrap_or(0)).await?;
            let result = self.put_blob_bytes(name, digest, data).await;
            self.discard_upload(name, id).await;
            return result;
        }
        // Commits even when the body is empty: the data becomes whole.
        let size = self
            .append_locked(name, id, writer, &mut state, body, End::Commit)
            .await?;
        let data_path = layout::upload_data(name, id);
        let actual = match (digest.algorithm(), state.as_ref()) {
            (Algorithm::Sha256, Some(h)) if h.offset == size => h.hasher.digest(),
            (algorithm, _) => self.rehash(&data_path, algorithm).await?.digest(),
        };
        if &actual != digest {
            self.discard_upload(name, id).await;
            return Err(digest_mismatch(digest, &actual));
        }
        let _gc = self.gc.guard().await;
        if !self.blob_exists(digest).await? {
            self.driver
                .move_object(&data_path, &layout::blob_data(digest))
                .await?;
            self.blob_stored(digest, size);
        }
        self.link_blob(name, digest).await?;
        self.discard_upload(name, id).await;
        Ok(())
    }

    /// A monolithic upload (`POST ?digest=`): the whole blob in one body.
    pub async fn put_blob(
        &self,
        name: &str,
        digest: &Digest,
        body: BodyStream,
        content_length: Option<u64>,
    ) -> Result<()> {
        if let Some(len) = content_length.filter(|&l| l <= SMALL_BODY) {
            let data = read_small(body, len).await?;
            return self.put_blob_bytes(name, digest, data).await;
        }
        let id = self.start_upload(name).await?;
        let result = self
            .finish_upload(name, &id, None, digest, body, content_length)
            .await;
        if result.is_err() {
            self.discard_upload(name, &id).await;
        }
        result
    }

    async fn put_blob_bytes(&self, name: &str, digest: &Digest, data: Bytes) -> Result<()> {
        let actual = hash_bytes(digest.algorithm(), data.clone()).await;
        if &actual != digest {
            return Err(digest_mismatch(digest, &actual));
        }
        let _gc = self.gc.guard().await;
        if !self.blob_exists(digest).await? {
            self.driver
                .put_content(&layout::blob_data(digest), data.clone())
                .await?;
            self.blob_stored(digest, data.len() as u64);
        }
        self.link_blob(name, digest).await
    }

    /// Cancels an upload, removing what it received.
    pub async fn cancel_upload(&self, name: &str, id: &str) -> Result<()> {
        check_upload_id(id)?;
        let slot = self.uploads.slot(id);
        let _state = slot.lock().await;
        match self.driver.delete(&layout::upload_dir(name, id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => return Err(upload_unknown(id)),
            Err(e) => return Err(e.into()),
        }
        self.uploads.forget(id);
        Ok(())
    }

    async fn discard_upload(&self, name: &str, id: &str) {
        if let Err(e) = self.driver.delete(&layout::upload_dir(name, id)).await
            && !e.is_not_found()
        {
            tracing::warn!(error = %e, upload = id, "could not remove a finished upload");
        }
        self.uploads.forget(id);
    }
}

/// A chunk must start where the upload stands.
fn check_start(start: Option<u64>, size: u64) -> Result<()> {
    match start {
        Some(start) if start != size => Err(RegistryError::new(
            ErrorCode::RangeInvalid,
            format!(
                "chunk starts at byte {start} but the upload holds {size} bytes; \
                 send the chunk that starts at {size}"
            ),
        )
        .with_header(http::header::RANGE, range_header(size))),
        _ => Ok(()),
    }
}

fn digest_mismatch(claimed: &Digest, actual: &Digest) -> RegistryError {
    RegistryError::new(
        ErrorCode::DigestInvalid,
        format!(
            "the uploaded content has digest {actual}, not {claimed}; nothing was stored, \
             upload the blob again"
        ),
    )
    .with_detail(
        serde_json::json!({ "expected": claimed.to_string(), "actual": actual.to_string() }),
    )
}

/// Reads a body of a promised length into memory.
async fn read_small(mut body: BodyStream, len: u64) -> Result<Bytes> {
    let mismatch = |got: usize| {
        RegistryError::new(
            ErrorCode::SizeInvalid,
            format!("Content-Length said {len} bytes but {got} arrived; nothing was stored"),
        )
        .with_status(StatusCode::BAD_REQUEST)
    };
    match crate::collect_body(&mut body, len as usize, len as usize).await {
        Ok(data) if data.len() as u64 == len => Ok(data),
        Ok(data) => Err(mismatch(data.len())),
        Err(crate::Collect::TooLarge(got)) => Err(mismatch(got)),
        Err(crate::Collect::Interrupted(e)) => Err(RegistryError::new(
            ErrorCode::BlobUploadInvalid,
            format!("the upload body ended early ({e}); nothing was stored, upload again"),
        )),
    }
}
