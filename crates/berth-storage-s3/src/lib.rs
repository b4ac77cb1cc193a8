//! The `s3` storage driver: Amazon S3 and S3-compatible stores (Ceph RGW,
//! MinIO, IBM COS), compatible with CNCF Distribution's `s3` driver: same
//! parameters, same object keys (`rootdirectory: /a/b` + `/x/y` → key
//! `a/b/x/y`), so a bucket Distribution wrote is served as it is.
//!
//! # Approach
//! The official AWS SDK (`aws-sdk-s3`, with `aws-config` for the default
//! credential chain): it is maintained by AWS, signs with SigV4, knows every
//! region's endpoints and the addressing rules (virtual-hosted style, path
//! style for IP endpoints), and presigns URLs. Its HTTP goes through our
//! own hyper + rustls (ring) client (the `http` module) because the SDK's
//! client cannot skip certificate checks (`skipverify`); it also resolves
//! `*.localhost` to the loopback address, so virtual-hosted-style requests
//! reach a local store at `http://localhost:PORT`. Checksums are sent only
//! where S3 requires them, for older S3-compatible stores. Requests
//! are retried at most 3 times (standard backoff); connecting may take 10 s
//! and an attempt a minute plus a second per MiB of `chunksize`.
//!
//! Blob uploads are S3 multipart uploads: the writer buffers one `chunksize`
//! part at a time (memory stays flat), `close` leaves the upload open for
//! the next PATCH (found again with ListMultipartUploads, also after a
//! restart), and `commit` completes it so the object is whole (see the
//! `writer` module). Deleting a path also aborts the incomplete uploads
//! below it. Moves
//! are server-side copies (multipart above `multipartcopythresholdsize`)
//! followed by a delete.
//!
//! # Parameters (`storage.s3`)
//! `bucket` (required), `region` (required for Amazon S3; `us-east-1` by
//! default with `regionendpoint`), `accesskey` + `secretkey` (both or
//! neither; without them the AWS default chain: environment, profile,
//! web identity, ECS/EC2 roles), `regionendpoint` (`https://host:port`, or
//! `host:port` with `secure` choosing the scheme), `forcepathstyle` (default
//! false; IP-address endpoints always use path style), `secure` (default
//! true), `skipverify`, `rootcacert` (Berth's own: a PEM file of CA
//! certificates to trust besides the system's), `v4auth` (only `true`:
//! SigV2 is not supported), `rootdirectory`, `chunksize` (default 10 MiB,
//! 5 MiB to 5 GiB), `multipartcopychunksize` (32 MiB),
//! `multipartcopymaxconcurrency` (100), `multipartcopythresholdsize`
//! (32 MiB), `storageclass` (STANDARD; NONE sends none), `encrypt`, `keyid`
//! (SSE-KMS with `encrypt`), `objectacl` (private), `usedualstack`,
//! `accelerate`, `usefipsendpoint`.
//!
//! # Limits
//! - A PATCH shorter than 5 MiB (S3's smallest part) makes the next one
//!   complete the upload and copy the object server-side into a new one,
//!   so a client sending many small chunks costs copy time on the store
//!   (not bandwidth). Docker, containerd and skopeo send a blob in one
//!   PATCH.
//! - An upload abandoned by its client stays an incomplete multipart upload
//!   until the registry purges it (`maintenance.uploadpurging`, which
//!   deletes and so aborts it); a bucket lifecycle rule that aborts
//!   incomplete uploads after a week catches the rest.
//! - Objects are limited to 10,000 parts of `chunksize` (100 GB by default).
//! - `useragent`, `loglevel` and `sessiontoken` are not used; SSO profiles
//!   are not part of the default credential chain in this build.

mod client;
mod config;
mod copy;
mod error;
mod http;
pub mod iam;
mod keys;
mod store;
mod writer;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use berth_config::Parameters;
use berth_storage::{ByteStream, FileInfo, FileWriter, OpenError, Result, StorageDriver, path};
use bytes::Bytes;

pub use error::S3Error;

use crate::config::S3Config;
use crate::error::{Op, Target};
use crate::keys::KeyMap;
use crate::store::{GetError, Store};
use crate::writer::S3Writer;

/// The driver's name in `config.yml`.
pub(crate) const DRIVER: &str = "s3";

/// How long presigned URLs stay valid (Distribution's 20 minutes).
pub const REDIRECT_EXPIRY: Duration = Duration::from_secs(20 * 60);

/// The `s3` driver.
#[derive(Clone, Debug)]
pub struct S3Driver {
    store: Arc<Store>,
}

impl S3Driver {
    /// Opens the driver from its `storage.s3` parameters. Checks them and
    /// reads `rootcacert`, without contacting the store.
    pub async fn open(params: &Parameters) -> Result<S3Driver, OpenError> {
        let config = S3Config::from_params(params)?;
        let client = client::build(&config).await?;
        let target = Target {
            endpoint: config.endpoint_display(),
            bucket: config.bucket.clone(),
        };
        Ok(S3Driver {
            store: Arc::new(Store {
                client,
                keys: KeyMap::new(&config.root),
                config,
                target,
            }),
        })
    }
}

/// Where an `s3` store is, for people: `s3 bucket B at ENDPOINT, root /x`.
pub fn describe(params: &Parameters) -> String {
    match S3Config::from_params(params) {
        Ok(c) => {
            let root = if c.root.is_empty() {
                String::new()
            } else {
                format!(", root /{}", c.root)
            };
            format!("s3 bucket {} at {}{root}", c.bucket, c.endpoint_display())
        }
        Err(_) => match params.string("bucket").filter(|b| !b.is_empty()) {
            Some(bucket) => format!("s3 bucket {bucket} (settings incomplete)"),
            None => "s3 storage (no bucket set)".to_string(),
        },
    }
}

impl S3Driver {
    /// Aborts the incomplete multipart uploads of `key` and of the keys
    /// below it (closed writers' uploads that nobody will finish now);
    /// returns how many. Failures are logged, not returned: the objects
    /// are gone either way, and a lifecycle rule can catch the rest.
    async fn abort_uploads_below(&self, p: &str, key: &str) -> Result<usize> {
        let below = self.store.keys.dir_prefix(p);
        let uploads = match self.store.list_uploads(p, key).await {
            Ok(uploads) => uploads,
            Err(e) => {
                tracing::warn!("s3: incomplete uploads below {p} not aborted: {e}");
                return Ok(0);
            }
        };
        let mut aborted = 0;
        for upload in uploads {
            if upload.key != key && !upload.key.starts_with(&below) {
                continue;
            }
            match self.store.abort_upload(p, &upload.key, &upload.id).await {
                Ok(()) => aborted += 1,
                Err(e) => tracing::warn!("s3: incomplete upload of {p} not aborted: {e}"),
            }
        }
        Ok(aborted)
    }
}

#[async_trait]
impl StorageDriver for S3Driver {
    fn name(&self) -> &'static str {
        DRIVER
    }

    async fn get_content(&self, p: &str) -> Result<Bytes> {
        path::check(p)?;
        let key = self.store.keys.key(p);
        let body = match self.store.get(p, &key, 0).await {
            Ok(body) => body,
            Err(GetError::Failed(e)) => return Err(e),
            Err(GetError::BeyondEnd) => return Ok(Bytes::new()),
        };
        let data = body.collect().await.map_err(|e| {
            self.store
                .target
                .backend(Op::Read, p, format!("reading the object failed: {e}"))
        })?;
        Ok(data.into_bytes())
    }

    async fn put_content(&self, p: &str, content: Bytes) -> Result<()> {
        path::check(p)?;
        self.store.put(p, &self.store.keys.key(p), content).await
    }

    async fn reader(&self, p: &str, offset: u64) -> Result<ByteStream> {
        path::check(p)?;
        let key = self.store.keys.key(p);
        let body = match self.store.get(p, &key, offset).await {
            Ok(body) => body,
            Err(GetError::Failed(e)) => return Err(e),
            Err(GetError::BeyondEnd) => {
                let head = self.store.head(p, &key).await?;
                if offset == head.size {
                    return Ok(Box::pin(futures::stream::empty()));
                }
                return Err(berth_storage::StorageError::InvalidOffset {
                    driver: DRIVER,
                    path: p.to_string(),
                    offset,
                });
            }
        };
        let endpoint = self.store.target.endpoint.clone();
        Ok(Box::pin(futures::stream::unfold(body, move |mut body| {
            let endpoint = endpoint.clone();
            async move {
                let next = body.next().await?.map_err(|e| {
                    std::io::Error::other(format!("s3: reading from {endpoint} failed: {e}"))
                });
                Some((next, body))
            }
        })))
    }

    async fn writer(&self, p: &str, append: bool) -> Result<Box<dyn FileWriter>> {
        path::check(p)?;
        Ok(Box::new(
            S3Writer::open(self.store.clone(), p, append).await?,
        ))
    }

    async fn stat(&self, p: &str) -> Result<FileInfo> {
        path::check(p)?;
        let key = self.store.keys.key(p);
        let dir = FileInfo {
            path: p.to_string(),
            size: 0,
            modified: SystemTime::UNIX_EPOCH,
            is_dir: true,
        };
        if key.is_empty() {
            return Ok(dir);
        }
        if let Some(head) = self.store.head_if_exists(p, &key).await? {
            return Ok(FileInfo {
                path: p.to_string(),
                size: head.size,
                modified: head.modified,
                is_dir: false,
            });
        }
        let prefix = self.store.keys.dir_prefix(p);
        let page = self
            .store
            .list_page(p, &prefix, false, Some(1), None)
            .await?;
        if page.keys.is_empty() {
            return Err(self.store.not_found(p));
        }
        Ok(dir)
    }

    async fn list(&self, p: &str) -> Result<Vec<String>> {
        path::check(p)?;
        let prefix = self.store.keys.dir_prefix(p);
        let mut children = Vec::new();
        let mut token = None;
        loop {
            let page = self.store.list_page(p, &prefix, true, None, token).await?;
            let keys = page.keys.iter().map(String::as_str);
            let dirs = page.prefixes.iter().map(|d| d.trim_end_matches('/'));
            children.extend(keys.chain(dirs).filter_map(|k| self.store.keys.path(k)));
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        if children.is_empty() && p != "/" {
            return Err(self.store.not_found(p));
        }
        Ok(children)
    }

    async fn move_object(&self, source: &str, dest: &str) -> Result<()> {
        path::check(source)?;
        path::check(dest)?;
        let (from, to) = (self.store.keys.key(source), self.store.keys.key(dest));
        let head = self.store.head(source, &from).await?;
        if from == to {
            return Ok(());
        }
        copy::copy(&self.store, source, &from, &to, head.size).await?;
        self.store.delete_key(source, &from).await
    }

    async fn delete(&self, p: &str) -> Result<()> {
        path::check(p)?;
        let key = self.store.keys.key(p);
        let mut batch = Vec::new();
        if !key.is_empty() && self.store.head_if_exists(p, &key).await?.is_some() {
            batch.push(key.clone());
        }
        let prefix = self.store.keys.dir_prefix(p);
        let mut deleted = 0;
        let mut token = None;
        loop {
            let page = self.store.list_page(p, &prefix, false, None, token).await?;
            batch.extend(page.keys);
            // Pages hold at most 1000 keys, DeleteObjects takes 1000.
            while !batch.is_empty() {
                let rest = batch.split_off(batch.len().min(1000));
                deleted += batch.len();
                self.store
                    .delete_keys(p, std::mem::replace(&mut batch, rest))
                    .await?;
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let aborted = self.abort_uploads_below(p, &key).await?;
        if deleted == 0 && aborted == 0 {
            return Err(self.store.not_found(p));
        }
        Ok(())
    }

    async fn redirect_url(&self, p: &str) -> Result<Option<String>> {
        path::check(p)?;
        let key = self.store.keys.key(p);
        let presigning = PresigningConfig::expires_in(REDIRECT_EXPIRY)
            .map_err(|e| self.store.target.backend(Op::Presign, p, e.to_string()))?;
        let request = self
            .store
            .client
            .get_object()
            .bucket(&self.store.config.bucket)
            .key(&key)
            .presigned(presigning)
            .await
            .map_err(|e| self.store.target.sdk(Op::Presign, p, &key, e))?;
        Ok(Some(request.uri().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_names_bucket_endpoint_and_root() {
        let params: Parameters = [
            ("bucket", json!("registry")),
            ("regionendpoint", json!("http://127.0.0.1:9000")),
            ("rootdirectory", json!("/x/y")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            describe(&params),
            "s3 bucket registry at http://127.0.0.1:9000, root /x/y"
        );
        let params: Parameters = [("bucket", json!("b")), ("region", json!("eu-west-1"))]
            .into_iter()
            .collect();
        assert_eq!(
            describe(&params),
            "s3 bucket b at https://s3.eu-west-1.amazonaws.com"
        );
        let params: Parameters = [("bucket", json!("b"))].into_iter().collect();
        assert_eq!(describe(&params), "s3 bucket b (settings incomplete)");
    }
}
