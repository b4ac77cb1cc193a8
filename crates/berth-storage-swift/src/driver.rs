//! The [`StorageDriver`] operations on Swift.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_storage::{ByteStream, FileInfo, FileWriter, Result, StorageDriver, StorageError, path};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::client::Client;
use crate::error::SwiftError;
use crate::keys::{Keys, manifest_value, segment_key, segment_number};
use crate::tempurl::{Signer, VALIDITY};
use crate::writer::SwiftWriter;
use crate::{NAME, SwiftDriver};

/// Parallel HEADs when looking for manifests in a tree being deleted.
const HEAD_CONCURRENCY: usize = 8;

/// The driver's state, shared with its writers.
#[derive(Debug)]
pub struct Inner {
    /// The authenticated account.
    pub client: Client,
    /// Path to key mapping.
    pub keys: Keys,
    /// Segment size.
    pub chunk_size: usize,
    /// Objects per bulk delete request, when the cluster has bulk delete.
    pub bulk_delete_max: Option<usize>,
    /// TempURL signing, when `secretkey` is set and the cluster allows it.
    pub signer: Option<Signer>,
}

impl Inner {
    /// The total size of the segments below `segments` and the number the
    /// next one gets. The container listing may lag behind recent uploads,
    /// so segments after the last listed one are looked up directly.
    pub async fn segments_end(&self, segments: &str) -> Result<(u64, u64), SwiftError> {
        let listed = self.client.keys_below(segments).await?;
        let mut size: u64 = listed.iter().map(|e| e.bytes).sum();
        let mut next = listed
            .iter()
            .filter_map(|e| segment_number(segments, e.key()))
            .max()
            .map_or(1, |n| n + 1);
        loop {
            match self.client.head(&segment_key(segments, next)).await {
                Ok(meta) => {
                    size += meta.size;
                    next += 1;
                }
                Err(SwiftError::NotFound) => return Ok((size, next)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes every segment below `segments`.
    pub async fn delete_segments(&self, segments: Option<&str>) -> Result<(), SwiftError> {
        let Some(segments) = segments else {
            return Ok(());
        };
        let keys: Vec<String> = self
            .client
            .keys_below(segments)
            .await?
            .into_iter()
            .filter_map(|e| e.name)
            .collect();
        self.client.delete_many(&keys, self.bulk_delete_max).await
    }

    /// The segments prefixes of the manifests among `entries` (manifests
    /// are the zero-byte objects whose HEAD names a prefix).
    async fn manifests_among(&self, keys: &[String]) -> Result<Vec<String>, SwiftError> {
        let found: Vec<Option<String>> = futures::stream::iter(keys.iter().cloned())
            .map(|key| async move {
                match self.client.head(&key).await {
                    Ok(meta) => Ok(meta.segments),
                    Err(SwiftError::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// Drops the first `skip` bytes of a stream (for servers that ignore Range).
fn skip_bytes(stream: ByteStream, skip: u64) -> ByteStream {
    let mut remaining = skip;
    Box::pin(stream.filter_map(move |chunk| {
        let out = match chunk {
            Ok(mut bytes) if remaining > 0 => {
                let cut = remaining.min(bytes.len() as u64) as usize;
                remaining -= cut as u64;
                let rest = bytes.split_off(cut);
                (!rest.is_empty()).then_some(Ok(rest))
            }
            other => Some(other),
        };
        futures::future::ready(out)
    }))
}

#[async_trait]
impl StorageDriver for SwiftDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_content(&self, p: &str) -> Result<Bytes> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        let response = self
            .inner
            .client
            .get(&key, 0)
            .await
            .map_err(|e| e.storage("read", p))?;
        let url = response.url().to_string();
        response
            .bytes()
            .await
            .map_err(|e| SwiftError::transport(&url, &e).storage("read", p))
    }

    async fn put_content(&self, p: &str, content: Bytes) -> Result<()> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        self.inner
            .client
            .put(&key, content, None)
            .await
            .map_err(|e| e.storage("write", p))
    }

    async fn reader(&self, p: &str, offset: u64) -> Result<ByteStream> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        let client = &self.inner.client;
        match client.get(&key, offset).await {
            Ok(response) => {
                let ignored_range = response.status() == reqwest::StatusCode::OK && offset > 0;
                let stream: ByteStream = Box::pin(
                    response
                        .bytes_stream()
                        .map(|chunk| chunk.map_err(std::io::Error::other)),
                );
                Ok(if ignored_range {
                    skip_bytes(stream, offset)
                } else {
                    stream
                })
            }
            Err(SwiftError::RangeNotSatisfiable) => {
                let size = client
                    .head(&key)
                    .await
                    .map_err(|e| e.storage("read", p))?
                    .size;
                if offset == size {
                    Ok(Box::pin(futures::stream::empty()))
                } else {
                    Err(StorageError::InvalidOffset {
                        driver: NAME,
                        path: p.to_string(),
                        offset,
                    })
                }
            }
            Err(e) => Err(e.storage("read", p)),
        }
    }

    async fn writer(&self, p: &str, append: bool) -> Result<Box<dyn FileWriter>> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        let writer = SwiftWriter::open(self.inner.clone(), p, key, append).await?;
        Ok(Box::new(writer))
    }

    async fn stat(&self, p: &str) -> Result<FileInfo> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        let client = &self.inner.client;
        match client.head(&key).await {
            Ok(meta) => Ok(FileInfo {
                path: p.to_string(),
                size: meta.size,
                modified: meta.modified,
                is_dir: false,
            }),
            Err(SwiftError::NotFound) => {
                let below = client
                    .list(&format!("{key}/"), true, Some(1))
                    .await
                    .map_err(|e| e.storage("stat", p))?;
                if below.is_empty() {
                    Err(SwiftError::NotFound.storage("stat", p))
                } else {
                    Ok(FileInfo {
                        path: p.to_string(),
                        size: 0,
                        modified: SystemTime::UNIX_EPOCH,
                        is_dir: true,
                    })
                }
            }
            Err(e) => Err(e.storage("stat", p)),
        }
    }

    async fn list(&self, p: &str) -> Result<Vec<String>> {
        path::check(p)?;
        let key = self.inner.keys.object(p);
        let entries = self
            .inner
            .client
            .list(&format!("{key}/"), true, None)
            .await
            .map_err(|e| e.storage("list", p))?;
        let children: Vec<String> = entries
            .iter()
            .map(|e| self.inner.keys.path_of(e.key()))
            .collect();
        if children.is_empty() && p != "/" {
            return Err(SwiftError::NotFound.storage("list", p));
        }
        Ok(children)
    }

    async fn move_object(&self, source: &str, dest: &str) -> Result<()> {
        path::check(source)?;
        path::check(dest)?;
        let inner = &self.inner;
        let client = &inner.client;
        let (from, to) = (inner.keys.object(source), inner.keys.object(dest));
        let fail = |e: SwiftError| e.storage("move", source);
        let meta = client.head(&from).await.map_err(fail)?;
        if from == to {
            return Ok(());
        }
        let replaced = match client.head(&to).await {
            Ok(old) => old.segments,
            Err(SwiftError::NotFound) => None,
            Err(e) => return Err(fail(e)),
        };
        match &meta.segments {
            // A manifest moves as a manifest: the segments stay put.
            Some(segments) => {
                let manifest = manifest_value(&client.config().container, segments);
                client.put(&to, Bytes::new(), Some(&manifest)).await
            }
            None => client.copy(&from, &to).await,
        }
        .map_err(fail)?;
        match client.delete_object(&from).await {
            Ok(()) | Err(SwiftError::NotFound) => {}
            Err(e) => return Err(fail(e)),
        }
        let stale = replaced.filter(|r| Some(r) != meta.segments.as_ref());
        inner.delete_segments(stale.as_deref()).await.map_err(fail)
    }

    async fn delete(&self, p: &str) -> Result<()> {
        path::check(p)?;
        let inner = &self.inner;
        let client = &inner.client;
        let key = inner.keys.object(p);
        let fail = |e: SwiftError| e.storage("delete", p);
        let below = client.keys_below(&key).await.map_err(fail)?;
        let own = match client.head(&key).await {
            Ok(meta) => Some(meta),
            Err(SwiftError::NotFound) => None,
            Err(e) => return Err(fail(e)),
        };
        if below.is_empty() && own.is_none() {
            return Err(SwiftError::NotFound.storage("delete", p));
        }
        let maybe_manifests: Vec<String> = below
            .iter()
            .filter(|e| e.bytes == 0)
            .filter_map(|e| e.name.clone())
            .collect();
        let mut segments = inner
            .manifests_among(&maybe_manifests)
            .await
            .map_err(fail)?;
        let mut objects: Vec<String> = below.into_iter().filter_map(|e| e.name).collect();
        if let Some(meta) = own {
            objects.push(key);
            segments.extend(meta.segments);
        }
        // Objects (and manifests) first, so nothing visible loses its data.
        client
            .delete_many(&objects, inner.bulk_delete_max)
            .await
            .map_err(fail)?;
        for prefix in segments {
            inner.delete_segments(Some(&prefix)).await.map_err(fail)?;
        }
        Ok(())
    }

    async fn redirect_url(&self, p: &str) -> Result<Option<String>> {
        path::check(p)?;
        let Some(signer) = &self.inner.signer else {
            return Ok(None);
        };
        let session = self.inner.client.session();
        let key = self.inner.keys.object(p);
        Ok(Some(signer.url(
            &session.storage_url,
            &self.inner.client.config().container,
            &key,
            session.tenant_id.as_deref(),
            SystemTime::now() + VALIDITY,
        )))
    }
}

impl SwiftDriver {
    pub(crate) fn from_inner(inner: Inner) -> SwiftDriver {
        SwiftDriver {
            inner: Arc::new(inner),
        }
    }
}
