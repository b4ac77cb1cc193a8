//! The registry calls the benchmark makes, over one keep-alive async HTTP client per registry.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LINK, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::blob::BlobSpec;

/// What a client pulling an image by tag asks for (containerd's list).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A registry's API at one base URL.
#[derive(Clone)]
pub struct Api {
    /// Every call but blob GETs: redirects are answers to check, not to follow.
    http: reqwest::Client,
    /// Blob GETs: follows a registry's redirect to the storage (a presigned
    /// S3 URL), as docker and containerd do.
    follow: reqwest::Client,
    base: Url,
}

/// What a blob GET received.
#[derive(Clone, Copy, Debug)]
pub struct Pulled {
    /// Body bytes.
    pub bytes: u64,
    /// Whether the registry redirected the GET elsewhere (to the storage).
    pub redirected: bool,
}

impl Api {
    /// A client for the registry at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Result<Api> {
        let client = |redirect| {
            reqwest::Client::builder()
                .redirect(redirect)
                .pool_max_idle_per_host(256)
                .tcp_nodelay(true)
                .http1_only()
                .timeout(Duration::from_secs(600))
                .build()
        };
        Ok(Api {
            http: client(reqwest::redirect::Policy::none())?,
            follow: client(reqwest::redirect::Policy::limited(5))?,
            base: Url::parse(base)?,
        })
    }

    fn url(&self, path: &str) -> Result<Url> {
        Ok(self.base.join(path)?)
    }

    fn location(&self, resp: &Response) -> Result<Url> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .ok_or_else(|| anyhow!("{} {}: no Location header", resp.status(), resp.url()))?
            .to_str()?;
        Ok(self.base.join(loc)?)
    }

    /// `POST /v2/<repo>/blobs/uploads/`: the upload's URL.
    pub async fn start_upload(&self, repo: &str) -> Result<Url> {
        let resp = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/"))?)
            .header(CONTENT_LENGTH, 0)
            .send()
            .await?;
        let resp = expect(resp, StatusCode::ACCEPTED).await?;
        self.location(&resp)
    }

    /// Monolithic push: POST, then one `PUT ?digest=` whose body is
    /// generated while it is sent.
    pub async fn push_monolithic(&self, repo: &str, blob: &BlobSpec, digest: &str) -> Result<()> {
        let upload = self.start_upload(repo).await?;
        let body = reqwest::Body::wrap_stream(futures::stream::iter(
            blob.chunks(0, blob.len()).map(Ok::<_, std::io::Error>),
        ));
        self.finish_upload(upload, digest, blob.len(), body).await
    }

    /// Chunked push: POST, one `PATCH` per `chunk` bytes (each with
    /// `Content-Range`, each to the `Location` the last answer gave), then
    /// an empty `PUT ?digest=`.
    pub async fn push_chunked(
        &self,
        repo: &str,
        blob: &BlobSpec,
        digest: &str,
        chunk: u64,
    ) -> Result<()> {
        let mut upload = self.start_upload(repo).await?;
        let mut start = 0;
        while start < blob.len() {
            let end = (start + chunk).min(blob.len());
            let body = reqwest::Body::wrap_stream(futures::stream::iter(
                blob.chunks(start, end).map(Ok::<_, std::io::Error>),
            ));
            let resp = self
                .http
                .patch(upload.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_RANGE, format!("{start}-{}", end - 1))
                .header(CONTENT_LENGTH, end - start)
                .body(body)
                .send()
                .await?;
            let resp = expect(resp, StatusCode::ACCEPTED).await?;
            upload = self.location(&resp)?;
            start = end;
        }
        self.finish_upload(upload, digest, 0, reqwest::Body::from(Bytes::new()))
            .await
    }

    /// Push of a blob held in memory: POST, then `PUT ?digest=`.
    pub async fn push_bytes(&self, repo: &str, body: Bytes, digest: &str) -> Result<()> {
        let upload = self.start_upload(repo).await?;
        let len = body.len() as u64;
        self.finish_upload(upload, digest, len, reqwest::Body::from(body))
            .await
    }

    async fn finish_upload(
        &self,
        mut upload: Url,
        digest: &str,
        len: u64,
        body: reqwest::Body,
    ) -> Result<()> {
        upload.query_pairs_mut().append_pair("digest", digest);
        let resp = self
            .http
            .put(upload)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, len)
            .body(body)
            .send()
            .await?;
        expect(resp, StatusCode::CREATED).await?;
        Ok(())
    }

    /// Cross-repository mount of `digest` from `from`, falling back to
    /// uploading `body` when the registry opens an upload instead.
    pub async fn mount_or_push(
        &self,
        repo: &str,
        from: &str,
        digest: &str,
        body: Bytes,
    ) -> Result<()> {
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let resp = self.http.post(url).header(CONTENT_LENGTH, 0).send().await?;
        match resp.status() {
            StatusCode::CREATED => Ok(()),
            StatusCode::ACCEPTED => {
                let upload = self.location(&resp)?;
                let len = body.len() as u64;
                self.finish_upload(upload, digest, len, reqwest::Body::from(body))
                    .await
            }
            _ => expect(resp, StatusCode::CREATED).await.map(drop),
        }
    }

    /// `GET` a blob, following a redirect to the storage, streaming it; with
    /// `verify`, hashes it and checks the digest.
    pub async fn pull_blob(&self, repo: &str, digest: &str, verify: bool) -> Result<Pulled> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let resp = self.follow.get(url.clone()).send().await?;
        let redirected = resp.url() != &url;
        let resp = expect(resp, StatusCode::OK).await?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            received += chunk.len() as u64;
            if verify {
                hasher.update(&chunk);
            }
        }
        if verify {
            let got = format!("sha256:{}", hex::encode(hasher.finalize()));
            if got != digest {
                bail!("GET blob {digest}: content hashes to {got}");
            }
        }
        Ok(Pulled {
            bytes: received,
            redirected,
        })
    }

    /// `PUT /v2/<repo>/manifests/<reference>`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<()> {
        let resp = self
            .http
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}"))?)
            .header(CONTENT_TYPE, media_type)
            .body(body)
            .send()
            .await?;
        expect(resp, StatusCode::CREATED).await?;
        Ok(())
    }

    /// The URL of a manifest, for the request loop.
    pub fn manifest_url(&self, repo: &str, reference: &str) -> Result<Url> {
        self.url(&format!("/v2/{repo}/manifests/{reference}"))
    }

    /// One `GET` or `HEAD` of a manifest, reading the whole answer.
    pub async fn fetch_manifest(&self, method: Method, url: Url) -> Result<()> {
        let resp = self
            .http
            .request(method, url)
            .header(ACCEPT, MANIFEST_ACCEPT)
            .send()
            .await?;
        let resp = expect(resp, StatusCode::OK).await?;
        resp.bytes().await?;
        Ok(())
    }

    /// The first `_catalog` URL: default page size, or `n`.
    pub fn catalog_url(&self, n: Option<usize>) -> Result<Url> {
        let mut url = self.url("/v2/_catalog")?;
        if let Some(n) = n {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        Ok(url)
    }

    /// One `_catalog` page: its repositories and the next page's URL from `Link`.
    pub async fn catalog_page(&self, url: Url) -> Result<(Vec<String>, Option<Url>)> {
        let resp = self.http.get(url).send().await?;
        let resp = expect(resp, StatusCode::OK).await?;
        let next = match resp.headers().get(LINK) {
            Some(link) => {
                let link = link.to_str()?;
                let target = link
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(target, _)| target)
                    .ok_or_else(|| anyhow!("unreadable Link header {link:?}"))?;
                Some(self.base.join(target)?)
            }
            None => None,
        };
        let body: serde_json::Value = resp.json().await.context("_catalog body")?;
        let repos = body["repositories"]
            .as_array()
            .ok_or_else(|| anyhow!("_catalog body has no repositories array"))?
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        Ok((repos, next))
    }
}

/// Passes `resp` through when it has `status`; otherwise an error with the body.
async fn expect(resp: Response, status: StatusCode) -> Result<Response> {
    if resp.status() == status {
        return Ok(resp);
    }
    let got = resp.status();
    let url = resp.url().clone();
    let body = resp.text().await.unwrap_or_default();
    bail!(
        "{url}: expected {status}, got {got}: {}",
        body.chars().take(400).collect::<String>()
    )
}
