//! Writers: objects built from segments, as Distribution's driver builds
//! them.
//!
//! Each full `chunksize` buffer is uploaded as a segment under a random
//! `segments/…` prefix; `commit` writes the Dynamic Large Object manifest
//! that makes them one object. An object that fits in one buffer is
//! written as a plain object instead (one PUT, atomic). Appending continues
//! after an existing manifest's segments; a plain object is first copied,
//! server-side, into segment 1 of a new manifest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use berth_storage::{FileWriter, Result};
use bytes::{Bytes, BytesMut};

use crate::driver::Inner;
use crate::error::SwiftError;
use crate::keys::{manifest_value, segment_key};

/// How long `commit` waits for a manifest to show every segment (Swift's
/// container listings are eventually consistent), as Distribution does.
const SEGMENTS_TIMEOUT: Duration = Duration::from_secs(15);

/// What the writer builds on.
#[derive(Debug)]
enum Base {
    /// A new object, or one being replaced: nothing is visible before
    /// `commit`. Segments go under `segments` from number `next`.
    Fresh { segments: String, next: u64 },
    /// A plain (non-segmented) object being appended to; it turns into a
    /// manifest only when there is something to append.
    Plain,
    /// A manifest being appended to.
    Segmented { segments: String, next: u64 },
}

/// A [`FileWriter`] for one object.
pub struct SwiftWriter {
    inner: Arc<Inner>,
    path: String,
    key: String,
    base: Base,
    buffer: BytesMut,
    size: u64,
    /// Segments this writer uploaded (what `cancel` removes).
    written: Vec<String>,
}

impl SwiftWriter {
    /// A writer of `path` (object key `key`), replacing it or appending.
    pub async fn open(inner: Arc<Inner>, path: &str, key: String, append: bool) -> Result<Self> {
        let fail = |e: SwiftError| e.storage("open writer", path);
        let fresh = |inner: &Inner| Base::Fresh {
            segments: inner.keys.new_segments(path),
            next: 1,
        };
        let (base, size) = if !append {
            (fresh(&inner), 0)
        } else {
            match inner.client.head(&key).await {
                Err(SwiftError::NotFound) => (fresh(&inner), 0),
                Err(e) => return Err(fail(e)),
                Ok(meta) => match meta.segments {
                    Some(segments) => {
                        let (size, next) = inner.segments_end(&segments).await.map_err(fail)?;
                        (Base::Segmented { segments, next }, size)
                    }
                    None if meta.size == 0 => (fresh(&inner), 0),
                    None => (Base::Plain, meta.size),
                },
            }
        };
        Ok(SwiftWriter {
            buffer: BytesMut::new(),
            inner,
            path: path.to_string(),
            key,
            base,
            size,
            written: Vec::new(),
        })
    }

    /// Uploads `part` as the next segment, turning a plain object into a
    /// manifest first.
    async fn upload(&mut self, part: Bytes) -> Result<(), SwiftError> {
        if matches!(self.base, Base::Plain) {
            let segments = self.inner.keys.new_segments(&self.path);
            let client = &self.inner.client;
            client.copy(&self.key, &segment_key(&segments, 1)).await?;
            let manifest = manifest_value(&client.config().container, &segments);
            client.put(&self.key, Bytes::new(), Some(&manifest)).await?;
            self.base = Base::Segmented { segments, next: 2 };
        }
        let (Base::Fresh { segments, next } | Base::Segmented { segments, next }) = &mut self.base
        else {
            return Err(SwiftError::Other(
                "internal error: no segments prefix".into(),
            ));
        };
        let key = segment_key(segments, *next);
        self.inner.client.put(&key, part, None).await?;
        self.written.push(key);
        *next += 1;
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), SwiftError> {
        let inner = self.inner.clone();
        let client = &inner.client;
        if let Base::Fresh { next: 1, .. } = self.base {
            // Everything fits in one object: a single, atomic PUT.
            let replaced = self.previous_segments().await?;
            let body = std::mem::take(&mut self.buffer).freeze();
            client.put(&self.key, body, None).await?;
            return inner.delete_segments(replaced.as_deref()).await;
        }
        if matches!(self.base, Base::Plain) && self.buffer.is_empty() {
            return Ok(());
        }
        if !self.buffer.is_empty() {
            let tail = std::mem::take(&mut self.buffer).freeze();
            self.upload(tail).await?;
        }
        if let Base::Fresh { segments, .. } = &self.base {
            let replaced = self.previous_segments().await?;
            let manifest = manifest_value(&client.config().container, segments);
            client.put(&self.key, Bytes::new(), Some(&manifest)).await?;
            self.wait_for_segments().await?;
            return inner
                .delete_segments(replaced.filter(|r| r != segments).as_deref())
                .await;
        }
        self.wait_for_segments().await
    }

    /// The segments of the manifest this writer replaces, if any.
    async fn previous_segments(&self) -> Result<Option<String>, SwiftError> {
        match self.inner.client.head(&self.key).await {
            Ok(meta) => Ok(meta.segments),
            Err(SwiftError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits until the manifest's size covers every segment.
    async fn wait_for_segments(&self) -> Result<(), SwiftError> {
        let deadline = Instant::now() + SEGMENTS_TIMEOUT;
        let mut pause = Duration::from_millis(200);
        loop {
            let seen = self.inner.client.head(&self.key).await?.size;
            if seen == self.size {
                return Ok(());
            }
            if Instant::now() + pause > deadline {
                return Err(SwiftError::Other(format!(
                    "the manifest of {} shows {seen} of {} bytes after {}s: Swift's container listing has not caught up with the segments; retry later",
                    self.path,
                    self.size,
                    SEGMENTS_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
}

#[async_trait]
impl FileWriter for SwiftWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.size += data.len() as u64;
        self.buffer.extend_from_slice(&data);
        let chunk = self.inner.chunk_size;
        while self.buffer.len() >= chunk {
            let part = self.buffer.split_to(chunk).freeze();
            if let Err(e) = self.upload(part).await {
                return Err(e.storage("write", &self.path));
            }
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        match self.finish().await {
            Ok(()) => Ok(()),
            Err(e) => Err(e.storage("commit", &self.path)),
        }
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        self.inner
            .client
            .delete_many(&self.written, self.inner.bulk_delete_max)
            .await
            .map_err(|e| e.storage("cancel", &self.path))
    }
}
