//! Swift's object and container API, one request per function: the
//! vocabulary the driver is written in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reqwest::Response;
use serde::Deserialize;

use crate::client::Client;
use crate::error::SwiftError;
use crate::keys::{encode, manifest_segments};

const OCTET_STREAM: &str = "application/octet-stream";
/// Entries per listing page (Swift's default and maximum).
const PAGE: usize = 10_000;
/// Parallel DELETEs when the cluster has no bulk delete.
const DELETE_CONCURRENCY: usize = 8;

/// What a HEAD says about an object.
#[derive(Clone, Debug)]
pub struct ObjectMeta {
    /// Content length (for a manifest: the whole large object's).
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
    /// For a Dynamic Large Object manifest, the segments prefix.
    pub segments: Option<String>,
}

/// One container listing entry.
#[derive(Clone, Debug, Deserialize)]
pub struct Entry {
    /// An object's key.
    #[serde(default)]
    pub name: Option<String>,
    /// A pseudo-directory (`…/`) when listing with a delimiter.
    #[serde(default)]
    pub subdir: Option<String>,
    /// The stored size (0 for a manifest).
    #[serde(default)]
    pub bytes: u64,
}

impl Entry {
    /// The entry's key or pseudo-directory.
    pub fn key(&self) -> &str {
        self.name
            .as_deref()
            .or(self.subdir.as_deref())
            .unwrap_or_default()
    }
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

impl Client {
    /// HEAD of an object.
    pub async fn head(&self, key: &str) -> Result<ObjectMeta, SwiftError> {
        let response = self
            .send("HEAD object", |http, s| http.head(self.object_url(s, key)))
            .await?;
        let size = header(&response, "Content-Length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let modified = header(&response, "X-Timestamp")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| UNIX_EPOCH + Duration::from_secs_f64(t))
            .unwrap_or_else(SystemTime::now);
        let segments = header(&response, "X-Object-Manifest").map(manifest_segments);
        Ok(ObjectMeta {
            size,
            modified,
            segments,
        })
    }

    /// GET of an object from `offset` on.
    pub async fn get(&self, key: &str, offset: u64) -> Result<Response, SwiftError> {
        self.send("GET object", |http, s| {
            let request = http.get(self.object_url(s, key));
            if offset > 0 {
                request.header("Range", format!("bytes={offset}-"))
            } else {
                request
            }
        })
        .await
    }

    /// PUT of a whole object; with `manifest`, a DLO manifest whose
    /// `X-Object-Manifest` is that value.
    pub async fn put(
        &self,
        key: &str,
        body: Bytes,
        manifest: Option<&str>,
    ) -> Result<(), SwiftError> {
        self.send("PUT object", |http, s| {
            let request = http
                .put(self.object_url(s, key))
                .header("Content-Type", OCTET_STREAM)
                .header("Content-Length", body.len())
                .body(body.clone());
            match manifest {
                Some(value) => request.header("X-Object-Manifest", value),
                None => request,
            }
        })
        .await
        .map(drop)
    }

    /// Server-side copy of `source`'s bytes to `dest`.
    pub async fn copy(&self, source: &str, dest: &str) -> Result<(), SwiftError> {
        let from = format!("/{}/{}", encode(&self.config().container), encode(source));
        self.send("COPY object", |http, s| {
            http.put(self.object_url(s, dest))
                .header("X-Copy-From", &from)
                .header("Content-Length", "0")
        })
        .await
        .map(drop)
    }

    /// DELETE of one object (a manifest only, not its segments).
    pub async fn delete_object(&self, key: &str) -> Result<(), SwiftError> {
        self.send("DELETE object", |http, s| {
            http.delete(self.object_url(s, key))
        })
        .await
        .map(drop)
    }

    /// The container's entries below `prefix`, every page; with
    /// `delimiter`, one level (pseudo-directories as `subdir`s). `limit`
    /// stops early.
    pub async fn list(
        &self,
        prefix: &str,
        delimiter: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, SwiftError> {
        let mut all: Vec<Entry> = Vec::new();
        let mut marker = String::new();
        loop {
            let page_size = limit.map_or(PAGE, |l| (l - all.len()).min(PAGE));
            let response = self
                .send("GET container listing", |http, s| {
                    let mut query = vec![
                        ("format", "json".to_string()),
                        ("prefix", prefix.to_string()),
                        ("limit", page_size.to_string()),
                    ];
                    if delimiter {
                        query.push(("delimiter", "/".into()));
                    }
                    if !marker.is_empty() {
                        query.push(("marker", marker.clone()));
                    }
                    http.get(self.container_url(s)).query(&query)
                })
                .await
                .map_err(|e| self.container_error(e))?;
            let page: Vec<Entry> = if response.status() == reqwest::StatusCode::NO_CONTENT {
                Vec::new()
            } else {
                response.json().await.map_err(|e| {
                    SwiftError::Other(format!("cannot read the container listing: {e}"))
                })?
            };
            let full = page.len() >= page_size;
            if let Some(last) = page.last() {
                marker = last.key().to_string();
            }
            all.extend(page);
            if !full || limit.is_some_and(|l| all.len() >= l) {
                return Ok(all);
            }
        }
    }

    /// A missing container is not a missing object: say which one.
    fn container_error(&self, e: SwiftError) -> SwiftError {
        match e {
            SwiftError::NotFound => SwiftError::Other(format!(
                "container {:?} does not exist (was it deleted?): create it or fix storage.swift.container",
                self.config().container
            )),
            other => other,
        }
    }

    /// Every object key below `prefix/` (no delimiter).
    pub async fn keys_below(&self, prefix: &str) -> Result<Vec<Entry>, SwiftError> {
        self.list(&format!("{prefix}/"), false, None).await
    }

    /// Deletes `keys`, with the cluster's bulk delete when it has one
    /// (`bulk_max` objects per request), else one by one; missing objects
    /// are fine.
    pub async fn delete_many(
        &self,
        keys: &[String],
        bulk_max: Option<usize>,
    ) -> Result<(), SwiftError> {
        match bulk_max {
            Some(max) if max > 0 && keys.len() > 1 => {
                for chunk in keys.chunks(max) {
                    self.bulk_delete(chunk).await?;
                }
                Ok(())
            }
            _ => futures::stream::iter(keys.iter().cloned())
                .map(|key| async move {
                    match self.delete_object(&key).await {
                        Err(SwiftError::NotFound) => Ok(()),
                        other => other,
                    }
                })
                .buffer_unordered(DELETE_CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await
                .map(drop),
        }
    }

    async fn bulk_delete(&self, keys: &[String]) -> Result<(), SwiftError> {
        let container = encode(&self.config().container);
        let body: String = keys
            .iter()
            .map(|k| format!("/{container}/{}\n", encode(k)))
            .collect();
        let response = self
            .send("bulk delete", |http, s| {
                http.post(format!("{}?bulk-delete", s.storage_url))
                    .header("Content-Type", "text/plain")
                    .header("Accept", "application/json")
                    .body(body.clone())
            })
            .await?;
        #[derive(Deserialize)]
        struct Outcome {
            #[serde(rename = "Response Status", default)]
            status: String,
            #[serde(rename = "Errors", default)]
            errors: Vec<(String, String)>,
        }
        let outcome: Outcome = response
            .json()
            .await
            .map_err(|e| SwiftError::Other(format!("cannot read the bulk delete answer: {e}")))?;
        let failed: Vec<String> = outcome
            .errors
            .into_iter()
            .filter(|(_, status)| !status.starts_with("404"))
            .map(|(name, status)| format!("{name}: {status}"))
            .collect();
        if failed.is_empty() && (outcome.status.starts_with('2') || outcome.status.is_empty()) {
            Ok(())
        } else {
            Err(SwiftError::Other(format!(
                "bulk delete answered {}: {}",
                outcome.status,
                failed.join(", ")
            )))
        }
    }

    /// Makes sure the container exists, creating it when it does not; the
    /// container's headers.
    pub async fn ensure_container(&self) -> Result<reqwest::header::HeaderMap, SwiftError> {
        let container = &self.config().container;
        let forbidden = |e: &SwiftError| e.http_status() == Some(reqwest::StatusCode::FORBIDDEN);
        match self
            .send(&format!("HEAD of container {container:?}"), |http, s| {
                http.head(self.container_url(s))
            })
            .await
        {
            Ok(response) => return Ok(response.headers().clone()),
            Err(SwiftError::NotFound) => {}
            Err(e) if forbidden(&e) => {
                return Err(
                    e.hint("or fix storage.swift.container if it names the wrong container")
                );
            }
            Err(e) => return Err(e),
        }
        tracing::info!(container, "swift: creating the container");
        match self
            .send(&format!("creating container {container:?}"), |http, s| {
                http.put(self.container_url(s))
                    .header("Content-Length", "0")
            })
            .await
        {
            Ok(_) => Ok(reqwest::header::HeaderMap::new()),
            Err(e) if forbidden(&e) => Err(e.hint(
                "the container does not exist and this user may not create it: create it, or fix \
                 storage.swift.container",
            )),
            Err(e) => Err(e),
        }
    }

    /// Sets metadata headers on the account (`container == false`) or the
    /// container.
    pub async fn post_metadata(
        &self,
        container: bool,
        name: &str,
        value: &str,
    ) -> Result<(), SwiftError> {
        self.send("POST metadata", |http, s| {
            let url = if container {
                self.container_url(s)
            } else {
                s.storage_url.clone()
            };
            http.post(url).header(name, value)
        })
        .await
        .map(drop)
    }

    /// The account's headers.
    pub async fn head_account(&self) -> Result<reqwest::header::HeaderMap, SwiftError> {
        self.send("HEAD account", |http, s| http.head(&s.storage_url))
            .await
            .map(|r| r.headers().clone())
    }
}
