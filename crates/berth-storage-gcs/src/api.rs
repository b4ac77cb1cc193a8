//! The JSON API calls the driver makes: objects get (metadata and media),
//! list, insert (media and resumable uploads), compose, rewrite, delete.

use std::time::SystemTime;

use bytes::Bytes;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::http::{Failure, Http};
use crate::keys::encode;

/// Distribution's content type for its in-progress upload sessions: such
/// objects hold a fragment of an upload and count as absent.
pub const UPLOAD_SESSION_TYPE: &str = "application/x-docker-upload-session";

/// The content type of what the driver stores.
pub const BLOB_TYPE: &str = "application/octet-stream";

/// A number the API may send as a JSON string (int64 fields) or a number
/// (some emulators).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Int64 {
    Text(String),
    Number(u64),
}

impl Int64 {
    fn text(&self) -> String {
        match self {
            Int64::Text(s) => s.clone(),
            Int64::Number(n) => n.to_string(),
        }
    }
}

/// An object's metadata (the fields the driver uses).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// The object name.
    pub name: String,
    #[serde(default)]
    size: Option<Int64>,
    #[serde(default)]
    updated: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    generation: Option<Int64>,
}

impl Object {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
            .as_ref()
            .and_then(|s| s.text().parse().ok())
            .unwrap_or(0)
    }

    /// Last modification time (the epoch when unknown).
    pub fn modified(&self) -> SystemTime {
        self.updated
            .as_deref()
            .and_then(|u| humantime::parse_rfc3339_weak(u).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The generation, for preconditions.
    pub fn generation(&self) -> Option<String> {
        self.generation.as_ref().map(Int64::text)
    }

    /// True for a Distribution upload session fragment.
    pub fn is_upload_session(&self) -> bool {
        self.content_type.as_deref() == Some(UPLOAD_SESSION_TYPE)
    }
}

/// One page of a listing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    /// Objects.
    #[serde(default)]
    pub items: Vec<Object>,
    /// "Directories" (with a delimiter), ending in `/`.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// What a resumable upload's chunk did.
pub enum Chunk {
    /// Accepted; the session holds this many bytes in all.
    Incomplete {
        /// Bytes persisted so far.
        persisted: u64,
    },
    /// The upload is complete and the object exists.
    Done,
}

async fn parse_json<T: for<'de> Deserialize<'de>>(
    response: Response,
    what: &str,
) -> Result<T, Failure> {
    response.json().await.map_err(|e| Failure {
        status: None,
        message: format!("unreadable answer to {what}: {e}"),
    })
}

impl Http {
    /// The object's metadata.
    pub async fn get_object(&self, key: &str) -> Result<Object, Failure> {
        let url = self.object_url(key);
        let r = self.send("get object", |c| c.get(&url)).await?;
        parse_json(r, "get object").await
    }

    /// Starts a media download from `offset` (a `Range` request when
    /// `offset > 0`).
    pub async fn download(&self, key: &str, offset: u64) -> Result<Response, Failure> {
        let url = format!("{}?alt=media", self.object_url(key));
        self.send("download", |c| {
            let r = c.get(&url);
            if offset > 0 {
                r.header("range", format!("bytes={offset}-"))
            } else {
                r
            }
        })
        .await
    }

    /// One page of the objects whose names start with `prefix`; with
    /// `delimited`, names below the next `/` are rolled up into `prefixes`.
    pub async fn list_page(
        &self,
        prefix: &str,
        delimited: bool,
        page_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<ListPage, Failure> {
        let mut url = format!("{}?prefix={}", self.objects_url(), encode(prefix));
        if delimited {
            url.push_str("&delimiter=%2F");
        }
        if let Some(token) = page_token {
            url.push_str("&pageToken=");
            url.push_str(&encode(token));
        }
        if let Some(max) = max_results {
            url.push_str(&format!("&maxResults={max}"));
        }
        let r = self.send("list", |c| c.get(&url)).await?;
        parse_json(r, "list").await
    }

    /// Uploads a whole object in one request (atomic).
    pub async fn upload_media(&self, key: &str, body: Bytes) -> Result<(), Failure> {
        let url = format!(
            "{}?uploadType=media&name={}",
            self.upload_url(),
            encode(key)
        );
        self.send("upload", |c| {
            c.post(&url)
                .header("content-type", BLOB_TYPE)
                .body(body.clone())
        })
        .await
        .map(drop)
    }

    /// Starts a resumable upload to `key`; the session URI.
    pub async fn start_resumable(&self, key: &str) -> Result<String, Failure> {
        let url = format!(
            "{}?uploadType=resumable&name={}",
            self.upload_url(),
            encode(key)
        );
        let r = self
            .send("start a resumable upload", |c| {
                c.post(&url)
                    .header("x-upload-content-type", BLOB_TYPE)
                    .header("content-length", "0")
            })
            .await?;
        r.headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| Failure {
                status: None,
                message: format!(
                    "{} started a resumable upload without a session URI (no Location header)",
                    self.endpoint()
                ),
            })
    }

    /// Sends `chunk`, which starts at byte `offset` of the upload; `total`
    /// (the whole upload's size) finishes it.
    pub async fn put_chunk(
        &self,
        session: &str,
        offset: u64,
        chunk: Bytes,
        total: Option<u64>,
    ) -> Result<Chunk, Failure> {
        let total_text = total.map_or("*".to_string(), |t| t.to_string());
        let range = if chunk.is_empty() {
            format!("bytes */{total_text}")
        } else {
            let end = offset + chunk.len() as u64 - 1;
            format!("bytes {offset}-{end}/{total_text}")
        };
        let r = self
            .send("upload a chunk", |c| {
                c.put(session)
                    .header("content-type", BLOB_TYPE)
                    .header("content-range", &range)
                    .body(chunk.clone())
            })
            .await?;
        if r.status() != StatusCode::PERMANENT_REDIRECT {
            return Ok(Chunk::Done);
        }
        // `Range: bytes=0-N` says N+1 bytes are persisted; none without it.
        let persisted = r
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once('-'))
            .and_then(|(_, end)| end.trim().parse::<u64>().ok())
            .map_or(0, |end| end + 1);
        Ok(Chunk::Incomplete { persisted })
    }

    /// Abandons a resumable upload (best effort: sessions also expire).
    pub async fn cancel_resumable(&self, session: &str) {
        if let Err(e) = self.send("cancel an upload", |c| c.delete(session)).await {
            // GCS answers 499 to a successful cancel.
            if !e.is(499) {
                tracing::debug!("gcs: cancelling an upload session: {}", e.message);
            }
        }
    }

    /// Replaces `dest` by the concatenation of `sources` (name, generation),
    /// if `dest` still has generation `if_generation`.
    pub async fn compose(
        &self,
        dest: &str,
        sources: &[(&str, Option<&str>)],
        if_generation: Option<&str>,
    ) -> Result<(), Failure> {
        let mut url = format!("{}/compose", self.object_url(dest));
        if let Some(g) = if_generation {
            url.push_str(&format!("?ifGenerationMatch={}", encode(g)));
        }
        let sources: Vec<_> = sources
            .iter()
            .map(|(name, generation)| match generation {
                Some(g) => json!({"name": name, "generation": g}),
                None => json!({"name": name}),
            })
            .collect();
        let body = Bytes::from(
            json!({"sourceObjects": sources, "destination": {"contentType": BLOB_TYPE}})
                .to_string(),
        );
        self.send("compose", |c| {
            c.post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
        })
        .await
        .map(drop)
    }

    /// Copies `source` to `dest` within the bucket (server side, as many
    /// rewrite calls as GCS needs).
    pub async fn rewrite(&self, source: &str, dest: &str) -> Result<(), Failure> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Progress {
            #[serde(default)]
            done: bool,
            #[serde(default)]
            rewrite_token: Option<String>,
        }
        let base = format!(
            "{}/rewriteTo/b/{}/o/{}",
            self.object_url(source),
            encode(self.bucket()),
            encode(dest)
        );
        let mut token: Option<String> = None;
        loop {
            let url = match &token {
                Some(t) => format!("{base}?rewriteToken={}", encode(t)),
                None => base.clone(),
            };
            let r = self
                .send("copy", |c| {
                    c.post(&url)
                        .header("content-type", "application/json")
                        .body("{}")
                })
                .await?;
            let progress: Progress = parse_json(r, "copy").await?;
            if progress.done {
                return Ok(());
            }
            token = match progress.rewrite_token {
                Some(t) => Some(t),
                None => {
                    return Err(Failure {
                        status: None,
                        message: "a copy (rewrite) neither finished nor gave a token to go on"
                            .to_string(),
                    });
                }
            };
        }
    }

    /// Deletes one object.
    pub async fn delete_object(&self, key: &str) -> Result<(), Failure> {
        let url = self.object_url(key);
        self.send("delete", |c| c.delete(&url)).await.map(drop)
    }
}
