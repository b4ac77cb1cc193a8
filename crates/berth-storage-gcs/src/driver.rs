//! [`StorageDriver`] for [`GcsDriver`]: each operation in terms of JSON API
//! calls, with Distribution's semantics for "directories".

use std::pin::pin;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_storage::path::check;
use berth_storage::{ByteStream, FileInfo, FileWriter, Result, StorageDriver, StorageError};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Response, StatusCode};

use crate::GcsDriver;
use crate::api::{ListPage, UPLOAD_SESSION_TYPE};
use crate::inner::Inner;
use crate::keys::PARTS_PREFIX;
use crate::params::DRIVER;
use crate::signed_url::{self, UrlRequest};
use crate::writer::{Existing, GcsWriter};

/// Deletes run this many requests at once.
const DELETE_CONCURRENCY: usize = 8;

fn is_upload_session(r: &Response) -> bool {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(UPLOAD_SESSION_TYPE))
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn range_total(r: &Response) -> Option<u64> {
    r.headers()
        .get("content-range")?
        .to_str()
        .ok()?
        .rsplit_once('/')?
        .1
        .trim()
        .parse()
        .ok()
}

fn empty_stream() -> ByteStream {
    Box::pin(futures::stream::empty())
}

impl GcsDriver {
    fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Starts a download of `path` from `offset`, checking the offset.
    async fn open_download(&self, path: &str, offset: u64) -> Result<Option<Response>> {
        let inner = self.inner();
        let key = inner.keys.key(path);
        if key.is_empty() {
            return Err(inner.not_found(path));
        }
        let response = match inner.http.download(&key, offset).await {
            Ok(r) => r,
            // GCS refuses a range starting at (or past) the end.
            Err(f) if f.is(416) => {
                let size = self.stat(path).await?.size;
                return if offset == size {
                    Ok(None)
                } else {
                    Err(StorageError::InvalidOffset {
                        driver: DRIVER,
                        path: path.to_string(),
                        offset,
                    })
                };
            }
            Err(f) => return Err(inner.object_failure("read", path, f).await),
        };
        if is_upload_session(&response) {
            return Err(inner.not_found(path));
        }
        let total = match response.status() {
            StatusCode::PARTIAL_CONTENT => range_total(&response),
            _ => response.content_length(),
        };
        if total.is_some_and(|t| offset > t) {
            return Err(StorageError::InvalidOffset {
                driver: DRIVER,
                path: path.to_string(),
                offset,
            });
        }
        Ok(Some(response))
    }

    /// Every page of the listing below `prefix`, following page tokens.
    fn pages<'a>(
        &'a self,
        operation: &'static str,
        path: &'a str,
        prefix: &'a str,
        delimited: bool,
    ) -> impl Stream<Item = Result<ListPage>> + Send + 'a {
        // The state is the next page's token; `None` once the last page came.
        futures::stream::try_unfold(Some(None::<String>), move |state| async move {
            let Some(token) = state else {
                return Ok(None);
            };
            let inner = self.inner();
            let page = inner
                .http
                .list_page(prefix, delimited, token.as_deref(), None)
                .await
                .map_err(|f| inner.bucket_failure(operation, path, f))?;
            inner.bucket_exists();
            let next = page.next_page_token.clone().filter(|t| !t.is_empty());
            Ok(Some((page, next.map(Some))))
        })
    }

    /// Deletes `keys` concurrently; how many existed.
    async fn delete_keys(&self, path: &str, keys: Vec<String>) -> Result<usize> {
        let inner = self.inner();
        let results: Vec<Result<bool>> = futures::stream::iter(keys)
            .map(|key| async move {
                match inner.http.delete_object(&key).await {
                    Ok(()) => Ok(true),
                    Err(f) if f.is(404) => Ok(false),
                    Err(f) => Err(inner.backend("delete", path, f.message)),
                }
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        let mut deleted = 0;
        for r in results {
            deleted += usize::from(r?);
        }
        Ok(deleted)
    }
}

#[async_trait]
impl StorageDriver for GcsDriver {
    fn name(&self) -> &'static str {
        DRIVER
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        check(path)?;
        let Some(response) = self.open_download(path, 0).await? else {
            return Ok(Bytes::new());
        };
        let inner = self.inner();
        response.bytes().await.map_err(|e| {
            let f = inner.http.transport_failure("read", &e);
            inner.backend("read", path, f.message)
        })
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        check(path)?;
        let mut writer = GcsWriter::new(self.inner.clone(), path, None);
        writer.write(content).await?;
        Box::new(writer).commit().await
    }

    async fn reader(&self, path: &str, offset: u64) -> Result<ByteStream> {
        check(path)?;
        let Some(response) = self.open_download(path, offset).await? else {
            return Ok(empty_stream());
        };
        // A server that ignored the Range header sends everything: skip.
        let mut skip = if response.status() == StatusCode::PARTIAL_CONTENT {
            0
        } else {
            offset
        };
        let what = format!("reading {path} from GCS");
        let stream = response
            .bytes_stream()
            .map_err(move |e| {
                std::io::Error::other(format!("{what}: {}", crate::http::error_chain(&e)))
            })
            .map_ok(move |mut chunk| {
                let n = skip.min(chunk.len() as u64);
                skip -= n;
                chunk.split_off(n as usize)
            })
            .try_filter(|chunk| std::future::ready(!chunk.is_empty()));
        Ok(Box::pin(stream))
    }

    async fn writer(&self, path: &str, append: bool) -> Result<Box<dyn FileWriter>> {
        check(path)?;
        let inner = self.inner();
        let mut base = None;
        if append {
            match inner.http.get_object(&inner.keys.key(path)).await {
                Ok(o) if o.size() > 0 && !o.is_upload_session() => {
                    base = Some(Existing {
                        size: o.size(),
                        generation: o.generation(),
                    });
                }
                Ok(_) => {}
                Err(f) if f.is(404) => {}
                Err(f) => return Err(inner.object_failure("write", path, f).await),
            }
        }
        Ok(Box::new(GcsWriter::new(inner.clone(), path, base)))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        check(path)?;
        let inner = self.inner();
        let key = inner.keys.key(path);
        if !key.is_empty() {
            match inner.http.get_object(&key).await {
                Ok(o) if !o.is_upload_session() => {
                    return Ok(FileInfo {
                        path: path.to_string(),
                        size: o.size(),
                        modified: o.modified(),
                        is_dir: false,
                    });
                }
                Ok(_) => {}
                Err(f) if f.is(404) => {}
                Err(f) => return Err(inner.object_failure("stat", path, f).await),
            }
        }
        let prefix = inner.keys.dir_prefix(path);
        let page = inner
            .http
            .list_page(&prefix, false, None, Some(1))
            .await
            .map_err(|f| inner.bucket_failure("stat", path, f))?;
        inner.bucket_exists();
        match page.items.first() {
            Some(first) => Ok(FileInfo {
                path: path.to_string(),
                size: 0,
                modified: first.modified(),
                is_dir: true,
            }),
            None if !page.prefixes.is_empty() => Ok(FileInfo {
                path: path.to_string(),
                size: 0,
                modified: SystemTime::UNIX_EPOCH,
                is_dir: true,
            }),
            None => Err(inner.not_found(path)),
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        check(path)?;
        let inner = self.inner();
        let prefix = inner.keys.dir_prefix(path);
        let mut children = Vec::new();
        let mut pages = pin!(self.pages("list", path, &prefix, true));
        while let Some(page) = pages.try_next().await? {
            for item in page.items {
                // A "directory placeholder" object named like the prefix.
                if item.name != prefix && !item.is_upload_session() {
                    children.push(inner.keys.path(&item.name));
                }
            }
            for p in page.prefixes {
                if !(prefix.is_empty() && p == PARTS_PREFIX) {
                    children.push(inner.keys.path(&p));
                }
            }
        }
        children.sort();
        children.dedup();
        if children.is_empty() && path != "/" {
            return Err(inner.not_found(path));
        }
        Ok(children)
    }

    async fn move_object(&self, source: &str, dest: &str) -> Result<()> {
        check(source)?;
        check(dest)?;
        let inner = self.inner();
        let (src_key, dst_key) = (inner.keys.key(source), inner.keys.key(dest));
        if src_key.is_empty() || dst_key.is_empty() {
            return Err(inner.not_found(source));
        }
        if let Err(f) = inner.http.rewrite(&src_key, &dst_key).await {
            return Err(inner.object_failure("move", source, f).await);
        }
        match inner.http.delete_object(&src_key).await {
            Ok(()) => Ok(()),
            Err(f) if f.is(404) => Ok(()),
            Err(f) => Err(inner.backend("move", source, f.message)),
        }
    }

    async fn delete(&self, path: &str) -> Result<()> {
        check(path)?;
        let inner = self.inner();
        let prefix = inner.keys.dir_prefix(path);
        let mut deleted = 0;
        // Page by page, so memory stays flat for huge trees.
        let mut pages = pin!(self.pages("delete", path, &prefix, false));
        while let Some(page) = pages.try_next().await? {
            let keys = page.items.into_iter().map(|o| o.name).collect();
            deleted += self.delete_keys(path, keys).await?;
        }
        let key = inner.keys.key(path);
        if !key.is_empty() {
            deleted += self.delete_keys(path, vec![key]).await?;
        }
        if deleted == 0 {
            return Err(inner.not_found(path));
        }
        Ok(())
    }

    async fn redirect_url(&self, path: &str) -> Result<Option<String>> {
        check(path)?;
        let inner = self.inner();
        let Some(sa) = &inner.signer else {
            return Ok(None);
        };
        let key = inner.keys.key(path);
        let request = UrlRequest {
            base: inner.http.endpoint().base(),
            bucket: inner.http.bucket(),
            key: &key,
            now: SystemTime::now(),
            expires: signed_url::LIFETIME,
        };
        signed_url::sign(&request, sa)
            .map(Some)
            .map_err(|e| inner.backend("redirect", path, e))
    }
}
