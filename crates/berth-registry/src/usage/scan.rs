//! One parallel walk of the whole store: every blob with its size and age,
//! every repository's manifest revisions, tags and links, and what each
//! manifest references. Usage accounting and garbage collection both read
//! the store through it.
//!
//! On a local filesystem the blobs are read with plain directory reads and
//! `stat`s on blocking threads, one task per `blobs/<alg>/<xx>` directory;
//! on other drivers through [`StorageDriver::list`] and
//! [`StorageDriver::stat`], with a bounded number of requests in flight.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use berth_storage::StorageDriver;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use crate::error::{ErrorCode, RegistryError, Result};
use crate::reference::Digest;
use crate::{Registry, layout};

/// Requests in flight at once on a remote driver.
const REMOTE_PARALLEL: usize = 32;

/// A blob's data object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlobEntry {
    pub size: u64,
    pub modified: SystemTime,
}

/// What a manifest refers to.
#[derive(Clone, Debug, Default)]
pub(crate) struct References {
    /// Blobs: config, layers (also foreign ones: marking more is safe).
    pub blobs: Vec<Digest>,
    /// Child manifests of an index.
    pub children: Vec<Digest>,
    /// The manifest this one refers to.
    pub subject: Option<Digest>,
}

/// One repository as the store holds it.
#[derive(Clone, Debug, Default)]
pub(crate) struct RepositoryEntry {
    /// Manifest revisions (`_manifests/revisions`).
    pub revisions: HashSet<Digest>,
    /// Tags and the manifest each points at now.
    pub tags: BTreeMap<String, Digest>,
    /// Tag history links (`tags/<tag>/index/...`), per tag.
    pub tag_history: BTreeMap<String, HashSet<Digest>>,
    /// Blobs linked into the repository (`_layers`).
    pub layers: HashSet<Digest>,
    /// Referrer index links (`_referrers`).
    pub referrer_links: u64,
    /// Files of uploads in progress and their bytes.
    pub upload_files: u64,
    /// Bytes of uploads in progress.
    pub upload_bytes: u64,
}

/// Everything one walk found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub blobs: HashMap<Digest, BlobEntry>,
    pub repositories: BTreeMap<String, RepositoryEntry>,
    /// Manifests by digest; `None` when the manifest's data is not in the
    /// store (a revision whose blob is gone).
    pub manifests: HashMap<Digest, Option<References>>,
}

/// Reads the store. `progress` counts the objects seen so far.
pub(crate) async fn scan(registry: &Registry, progress: &AtomicU64) -> Result<Snapshot> {
    let driver = registry.driver().clone();
    let blobs = scan_blobs(&driver, progress).await?;
    let mut names: Vec<String> = Vec::new();
    for marker in ["_layers", "_manifests", "_uploads"] {
        names.extend(registry.repositories_with(marker).await?);
    }
    names.sort();
    names.dedup();
    let repositories: BTreeMap<String, RepositoryEntry> = futures::stream::iter(names)
        .map(|name| {
            let driver = driver.clone();
            async move {
                let entry = scan_repository(&*driver, &name, progress).await?;
                Ok::<_, RegistryError>((name, entry))
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let mut wanted: HashSet<Digest> = repositories
        .values()
        .flat_map(|r| r.revisions.iter().chain(r.tags.values()).cloned())
        .collect();
    let mut manifests: HashMap<Digest, Option<References>> = HashMap::new();
    // Index children need not be revisions of their own: read them too.
    while !wanted.is_empty() {
        let loaded: Vec<(Digest, Option<References>)> = futures::stream::iter(wanted.drain())
            .map(|digest| {
                let driver = driver.clone();
                async move {
                    let refs = read_references(&*driver, &digest).await?;
                    progress.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, RegistryError>((digest, refs))
                }
            })
            .buffer_unordered(REMOTE_PARALLEL)
            .try_collect()
            .await?;
        for (digest, refs) in loaded {
            if let Some(r) = &refs {
                for child in &r.children {
                    if !manifests.contains_key(child) {
                        wanted.insert(child.clone());
                    }
                }
            }
            manifests.insert(digest, refs);
        }
        wanted.retain(|d| !manifests.contains_key(d));
    }
    Ok(Snapshot {
        blobs,
        repositories,
        manifests,
    })
}

/// What a stored manifest refers to; `None` when its data is missing.
/// Bytes that are not a JSON manifest refer to nothing (and are logged).
pub(crate) async fn read_references(
    driver: &dyn StorageDriver,
    digest: &Digest,
) -> Result<Option<References>> {
    match driver.get_content(&layout::blob_data(digest)).await {
        Ok(body) => Ok(Some(references(&body).unwrap_or_else(|| {
            tracing::warn!(%digest, "a manifest revision is not JSON; it refers to no blobs");
            References::default()
        }))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The references of a manifest of any kind: Docker schema 1 and 2, OCI
/// manifests, indexes and artifacts. Lenient by design: whatever names a
/// digest is a reference.
pub(crate) fn references(body: &[u8]) -> Option<References> {
    let json: Value = serde_json::from_slice(body).ok()?;
    if !json.is_object() {
        return None;
    }
    let digest = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .and_then(|s| Digest::parse(s).ok())
    };
    let list = |key: &str, field: &str| -> Vec<Digest> {
        json.get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| digest(i, field)).collect())
            .unwrap_or_default()
    };
    let mut refs = References::default();
    if let Some(config) = json.get("config")
        && let Some(d) = digest(config, "digest")
    {
        refs.blobs.push(d);
    }
    refs.blobs.extend(list("layers", "digest"));
    refs.blobs.extend(list("blobs", "digest"));
    refs.blobs.extend(list("fsLayers", "blobSum"));
    refs.children = list("manifests", "digest");
    refs.subject = json.get("subject").and_then(|s| digest(s, "digest"));
    Some(refs)
}

fn digest_at(dir: &str, hex: &str) -> Option<Digest> {
    let algorithm = dir.rsplit('/').next()?;
    Digest::parse(&format!("{algorithm}:{hex}")).ok()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

async fn list_or_empty(driver: &dyn StorageDriver, path: &str) -> Result<Vec<String>> {
    match driver.list(path).await {
        Ok(children) => Ok(children),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Every blob: `blobs/<alg>/<xx>/<hex>/data`.
async fn scan_blobs(
    driver: &Arc<dyn StorageDriver>,
    progress: &AtomicU64,
) -> Result<HashMap<Digest, BlobEntry>> {
    let root = layout::blobs();
    let mut prefixes = Vec::new();
    for alg in list_or_empty(&**driver, &root).await? {
        for prefix in list_or_empty(&**driver, &alg).await? {
            prefixes.push(prefix);
        }
    }
    let found: Vec<Vec<(Digest, BlobEntry)>> = match driver.local_path(&root) {
        Some(_) => {
            let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
            futures::stream::iter(prefixes)
                .map(|prefix| {
                    let dir = driver.local_path(&prefix).expect("local driver");
                    async move {
                        let count = tokio::task::spawn_blocking(move || local_prefix(dir, &prefix))
                            .await
                            .map_err(|e| {
                                RegistryError::new(
                                    ErrorCode::Unknown,
                                    format!("the blob walk failed: {e}"),
                                )
                            })??;
                        progress.fetch_add(count.len() as u64, Ordering::Relaxed);
                        Ok::<_, RegistryError>(count)
                    }
                })
                .buffer_unordered(parallel)
                .try_collect()
                .await?
        }
        None => {
            futures::stream::iter(prefixes)
                .map(|prefix| remote_prefix(&**driver, prefix, progress))
                .buffer_unordered(4)
                .try_collect()
                .await?
        }
    };
    Ok(found.into_iter().flatten().collect())
}

/// The blobs under one local `blobs/<alg>/<xx>` directory.
fn local_prefix(dir: PathBuf, prefix: &str) -> Result<Vec<(Digest, BlobEntry)>> {
    let io = |e: std::io::Error| {
        RegistryError::new(
            ErrorCode::Unknown,
            format!("cannot read {}: {e}", dir.display()),
        )
    };
    let alg_dir = berth_storage::path::parent(prefix);
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(digest) = name.to_str().and_then(|hex| digest_at(alg_dir, hex)) else {
            continue;
        };
        match std::fs::metadata(entry.path().join("data")) {
            Ok(meta) => found.push((
                digest,
                BlobEntry {
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                },
            )),
            // A directory without data: a blob being deleted, or debris.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(found)
}

/// The blobs under one `blobs/<alg>/<xx>` prefix of a remote store.
async fn remote_prefix(
    driver: &dyn StorageDriver,
    prefix: String,
    progress: &AtomicU64,
) -> Result<Vec<(Digest, BlobEntry)>> {
    let alg_dir = berth_storage::path::parent(&prefix).to_string();
    let dirs = list_or_empty(driver, &prefix).await?;
    let found: Vec<Option<(Digest, BlobEntry)>> = futures::stream::iter(dirs)
        .map(|dir| {
            let alg_dir = alg_dir.clone();
            async move {
                let Some(digest) = digest_at(&alg_dir, basename(&dir)) else {
                    return Ok(None);
                };
                match driver.stat(&format!("{dir}/data")).await {
                    Ok(info) => {
                        progress.fetch_add(1, Ordering::Relaxed);
                        Ok(Some((
                            digest,
                            BlobEntry {
                                size: info.size,
                                modified: info.modified,
                            },
                        )))
                    }
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(RegistryError::from(e)),
                }
            }
        })
        .buffer_unordered(REMOTE_PARALLEL / 4)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Digests named by the `<alg>/<hex>` directories below `dir`.
async fn digests_below(driver: &dyn StorageDriver, dir: &str) -> Result<Vec<Digest>> {
    let mut found = Vec::new();
    for alg in list_or_empty(driver, dir).await? {
        for entry in list_or_empty(driver, &alg).await? {
            if let Some(d) = digest_at(&alg, basename(&entry)) {
                found.push(d);
            }
        }
    }
    Ok(found)
}

async fn scan_repository(
    driver: &dyn StorageDriver,
    name: &str,
    progress: &AtomicU64,
) -> Result<RepositoryEntry> {
    let mut entry = RepositoryEntry {
        revisions: digests_below(
            driver,
            &format!("{}/_manifests/revisions", layout::repository(name)),
        )
        .await?
        .into_iter()
        .collect(),
        layers: digests_below(driver, &format!("{}/_layers", layout::repository(name)))
            .await?
            .into_iter()
            .collect(),
        ..Default::default()
    };
    for tag_dir in list_or_empty(driver, &layout::tags(name)).await? {
        let tag = basename(&tag_dir).to_string();
        match driver.get_content(&layout::tag_current(name, &tag)).await {
            Ok(link) => {
                if let Ok(d) = Digest::parse(String::from_utf8_lossy(&link).trim()) {
                    entry.tags.insert(tag.clone(), d);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let history = digests_below(driver, &format!("{tag_dir}/index")).await?;
        entry.tag_history.insert(tag, history.into_iter().collect());
    }
    let referrers = format!("{}/_referrers", layout::repository(name));
    for subject in digests_below(driver, &referrers).await? {
        let dir = layout::referrers(name, &subject);
        entry.referrer_links += digests_below(driver, &dir).await?.len() as u64;
    }
    let uploads = format!("{}/_uploads", layout::repository(name));
    for upload in list_or_empty(driver, &uploads).await? {
        for file in list_or_empty(driver, &upload).await? {
            match driver.stat(&file).await {
                Ok(info) if !info.is_dir => {
                    entry.upload_files += 1;
                    entry.upload_bytes += info.size;
                }
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let links = entry.revisions.len()
        + entry.layers.len()
        + entry.tags.len()
        + entry.tag_history.values().map(HashSet::len).sum::<usize>();
    progress.fetch_add(links as u64 + entry.referrer_links, Ordering::Relaxed);
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_of_every_kind() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let image = serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": d('a')},
            "layers": [{"digest": d('b')}, {"digest": d('c'), "urls": ["http://x"]}],
            "subject": {"digest": d('d')},
        });
        let refs = references(image.to_string().as_bytes()).unwrap();
        assert_eq!(refs.blobs.len(), 3);
        assert_eq!(refs.subject, Some(Digest::parse(&d('d')).unwrap()));
        let index = serde_json::json!({"manifests": [{"digest": d('e')}]});
        let refs = references(index.to_string().as_bytes()).unwrap();
        assert_eq!(refs.children, vec![Digest::parse(&d('e')).unwrap()]);
        let schema1 = serde_json::json!({"fsLayers": [{"blobSum": d('f')}]});
        assert_eq!(
            references(schema1.to_string().as_bytes())
                .unwrap()
                .blobs
                .len(),
            1
        );
        assert!(references(b"not json").is_none());
    }
}
