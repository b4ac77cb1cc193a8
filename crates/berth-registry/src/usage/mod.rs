//! Registry usage accounting: bytes and objects in the store, per
//! repository (unique and shared bytes, with layers shared between
//! repositories counted once) and per tag, and the blobs nothing refers to
//! (reclaimable by garbage collection).
//!
//! A scan ([`Registry::scan_usage`]) walks the whole store in parallel and
//! keeps what it found in the registry; pushes and deletes served by the
//! same registry update it from then on ([`Change`]), so
//! [`Registry::usage`] answers from memory without walking again. Changes
//! made behind the registry's back (another replica, a Distribution
//! process on the same store) show after the next scan.
//!
//! The JSON shape ([`Usage`], camelCase) is what the debug listener's
//! `GET /berth/v1/usage` and `berthd du --json` print.

pub(crate) mod scan;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::Registry;
use crate::error::Result;
use crate::reference::Digest;
use scan::{BlobEntry, References, Snapshot};

/// The store's usage, as of the last scan plus the changes since.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The storage driver (`filesystem`, `s3`, …).
    pub driver: String,
    /// Bytes of every object in the store: blobs, uploads in progress and
    /// link files.
    pub total_bytes: u64,
    /// Objects in the store: blobs, upload files and link files.
    pub objects: u64,
    /// Blobs (layers, configs and manifests), each stored once.
    pub blobs: u64,
    /// Bytes of all blobs.
    pub blob_bytes: u64,
    /// Bytes of the blobs no manifest of any repository refers to: what a
    /// garbage collection would free.
    pub reclaimable_bytes: u64,
    /// How many blobs those are.
    pub reclaimable_blobs: u64,
    /// Bytes received by uploads not finished yet.
    pub upload_bytes: u64,
    /// Repositories, largest first.
    pub repositories: Vec<RepositoryUsage>,
    /// When the store was last walked (RFC 3339).
    pub scanned_at: String,
    /// How long that walk took, in milliseconds.
    pub scan_millis: u64,
    /// When these figures last changed (RFC 3339): the scan, or the last
    /// push or delete since.
    pub updated_at: String,
}

/// One repository's share of the store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryUsage {
    /// The repository's name.
    pub name: String,
    /// Bytes referred to by this repository alone: freed (after garbage
    /// collection) if the repository were deleted.
    pub unique_bytes: u64,
    /// Bytes this repository refers to that others refer to as well.
    pub shared_bytes: u64,
    /// `uniqueBytes + sharedBytes`.
    pub total_bytes: u64,
    /// Manifest revisions (tagged or not).
    pub manifests: u64,
    /// Tags, by name.
    pub tags: Vec<TagUsage>,
}

/// What one tag's image takes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TagUsage {
    /// The tag.
    pub tag: String,
    /// The manifest it points at.
    pub digest: String,
    /// Bytes of the manifest and everything it refers to (every platform
    /// of an index), each blob once.
    pub bytes: u64,
}

/// Where a scan stands.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UsageStatus {
    /// `ready` (figures below), `scanning` (a walk is running; figures of
    /// the previous one, if any, below) or `empty` (never scanned).
    pub state: String,
    /// Objects the running walk has seen so far (0 when none runs).
    pub scanned: u64,
    /// The figures, when there are any.
    pub usage: Option<Usage>,
    /// Why the last scan failed, when it did (cleared by the next success).
    pub error: Option<String>,
}

/// A push or delete served by this registry, applied to the figures.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// A blob's data was written.
    BlobStored { digest: Digest, size: u64 },
    /// A blob's data was deleted (garbage collection).
    BlobRemoved(Digest),
    /// A blob was linked into a repository.
    Linked { repository: String, digest: Digest },
    /// A blob was unlinked from a repository.
    Unlinked { repository: String, digest: Digest },
    /// A manifest was stored in a repository, maybe under a tag.
    ManifestStored {
        repository: String,
        digest: Digest,
        references: References,
        tag: Option<String>,
    },
    /// A tag was deleted.
    TagDeleted { repository: String, tag: String },
    /// A manifest revision (and the tags pointing at it) was deleted.
    ManifestDeleted { repository: String, digest: Digest },
}

impl Change {
    fn apply(&self, snapshot: &mut Snapshot) {
        match self {
            Change::BlobStored { digest, size } => {
                snapshot.blobs.entry(digest.clone()).or_insert(BlobEntry {
                    size: *size,
                    modified: SystemTime::now(),
                });
            }
            Change::BlobRemoved(digest) => {
                snapshot.blobs.remove(digest);
            }
            Change::Linked { repository, digest } => {
                let repo = snapshot.repositories.entry(repository.clone()).or_default();
                repo.layers.insert(digest.clone());
            }
            Change::Unlinked { repository, digest } => {
                if let Some(repo) = snapshot.repositories.get_mut(repository) {
                    repo.layers.remove(digest);
                }
            }
            Change::ManifestStored {
                repository,
                digest,
                references,
                tag,
            } => {
                let repo = snapshot.repositories.entry(repository.clone()).or_default();
                // Idempotent: a change made during a walk is applied again
                // to the walk's result, which may have seen it already.
                if repo.revisions.insert(digest.clone()) && references.subject.is_some() {
                    repo.referrer_links += 1;
                }
                if let Some(tag) = tag {
                    repo.tags.insert(tag.clone(), digest.clone());
                    repo.tag_history
                        .entry(tag.clone())
                        .or_default()
                        .insert(digest.clone());
                }
                snapshot
                    .manifests
                    .insert(digest.clone(), Some(references.clone()));
            }
            Change::TagDeleted { repository, tag } => {
                if let Some(repo) = snapshot.repositories.get_mut(repository) {
                    repo.tags.remove(tag);
                    repo.tag_history.remove(tag);
                }
            }
            Change::ManifestDeleted { repository, digest } => {
                if let Some(repo) = snapshot.repositories.get_mut(repository) {
                    let was_revision = repo.revisions.remove(digest);
                    let gone: Vec<String> = repo
                        .tags
                        .iter()
                        .filter(|(_, d)| *d == digest)
                        .map(|(t, _)| t.clone())
                        .collect();
                    for tag in gone {
                        repo.tags.remove(&tag);
                        repo.tag_history.remove(&tag);
                    }
                    for history in repo.tag_history.values_mut() {
                        history.remove(digest);
                    }
                    let subject = snapshot
                        .manifests
                        .get(digest)
                        .and_then(|m| m.as_ref()?.subject.as_ref());
                    if was_revision && subject.is_some() {
                        repo.referrer_links = repo.referrer_links.saturating_sub(1);
                    }
                }
            }
        }
    }
}

/// The figures kept in the registry between requests.
struct Kept {
    snapshot: Snapshot,
    scanned_at: SystemTime,
    scan_millis: u64,
    updated_at: SystemTime,
}

/// Usage state of one registry: the last scan's findings, the changes
/// since, and the progress of a running scan.
#[derive(Default)]
pub(crate) struct UsageState {
    kept: Mutex<Option<Kept>>,
    /// Changes made while a scan runs, applied to its result at the end.
    pending: Mutex<Option<Vec<Change>>>,
    scanning: AtomicBool,
    scanned: AtomicU64,
    /// Serialises scans.
    scan_lock: tokio::sync::Mutex<()>,
    /// Why the last scan failed.
    error: Mutex<Option<String>>,
}

impl UsageState {
    fn failed(&self, message: String) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }

    fn last_error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies a change made by this registry.
    pub(crate) fn record(&self, change: Change) {
        if let Some(pending) = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            pending.push(change.clone());
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = kept.as_mut() {
            change.apply(&mut kept.snapshot);
            kept.updated_at = SystemTime::now();
        }
    }
}

impl Registry {
    /// The usage figures kept from the last scan and updated since; `None`
    /// before the first scan.
    pub fn usage(&self) -> Option<Usage> {
        let kept = self.usage.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref().map(|k| summarize(self.driver.name(), k))
    }

    /// What the store holds, as the last scan found it and changes since
    /// kept it; a fresh walk when nothing is kept yet.
    pub(crate) async fn store_snapshot(&self) -> Result<Snapshot> {
        if let Some(kept) = self
            .usage
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(kept.snapshot.clone());
        }
        scan::scan(self, &AtomicU64::new(0)).await
    }

    /// Whether a scan runs and how far it got, with the kept figures.
    pub fn usage_status(&self) -> UsageStatus {
        let usage = self.usage();
        let scanning = self.usage.scanning.load(Ordering::Relaxed);
        UsageStatus {
            state: match (scanning, &usage) {
                (true, _) => "scanning",
                (false, Some(_)) => "ready",
                (false, None) => "empty",
            }
            .to_string(),
            scanned: if scanning {
                self.usage.scanned.load(Ordering::Relaxed)
            } else {
                0
            },
            usage,
            error: self.usage.last_error(),
        }
    }

    /// Walks the whole store, keeps what it found (replacing the previous
    /// figures) and returns the figures. One scan runs at a time: a second
    /// caller waits for the first and then scans again.
    pub async fn scan_usage(&self) -> Result<Usage> {
        let _one = self.usage.scan_lock.lock().await;
        self.usage.scanned.store(0, Ordering::Relaxed);
        self.usage.scanning.store(true, Ordering::Relaxed);
        *self.usage.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
        struct Done<'a>(&'a UsageState);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.scanning.store(false, Ordering::Relaxed);
                *self.0.pending.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        let _done = Done(&self.usage);
        let started = Instant::now();
        let scanned_at = SystemTime::now();
        let mut snapshot = scan::scan(self, &self.usage.scanned).await?;
        let mut kept = self.usage.kept.lock().unwrap_or_else(|e| e.into_inner());
        let pending = self
            .usage
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        for change in &pending {
            change.apply(&mut snapshot);
        }
        *self.usage.error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let k = kept.insert(Kept {
            snapshot,
            scanned_at,
            scan_millis: started.elapsed().as_millis() as u64,
            updated_at: SystemTime::now(),
        });
        Ok(summarize(self.driver.name(), k))
    }

    /// Objects seen by the running scan so far.
    pub fn usage_scanned(&self) -> u64 {
        self.usage.scanned.load(Ordering::Relaxed)
    }

    pub(crate) fn record_usage(&self, change: Change) {
        self.usage.record(change);
    }
}

/// The hooks the push and delete paths call.
impl Registry {
    /// A blob's data was written.
    pub(crate) fn blob_stored(&self, digest: &Digest, size: u64) {
        self.gc.touch(digest);
        self.record_usage(Change::BlobStored {
            digest: digest.clone(),
            size,
        });
    }

    /// A blob was linked into repository `name`.
    pub(crate) fn blob_linked(&self, name: &str, digest: &Digest) {
        self.gc.touch(digest);
        self.record_usage(Change::Linked {
            repository: name.to_string(),
            digest: digest.clone(),
        });
    }

    /// A blob was unlinked from repository `name`.
    pub(crate) fn blob_unlinked(&self, name: &str, digest: &Digest) {
        self.record_usage(Change::Unlinked {
            repository: name.to_string(),
            digest: digest.clone(),
        });
    }

    /// A manifest was stored in repository `name` under `reference`.
    pub(crate) fn manifest_stored(
        &self,
        name: &str,
        manifest: &crate::manifests::Manifest,
        reference: &crate::reference::Reference,
    ) {
        self.record_usage(Change::ManifestStored {
            repository: name.to_string(),
            digest: manifest.digest.clone(),
            references: References {
                blobs: manifest.blobs.clone(),
                children: manifest.children.iter().map(|c| c.digest.clone()).collect(),
                subject: manifest.subject.clone(),
            },
            tag: match reference {
                crate::reference::Reference::Tag(t) => Some(t.clone()),
                crate::reference::Reference::Digest(_) => None,
            },
        });
    }

    /// A tag of repository `name` was deleted.
    pub(crate) fn tag_deleted(&self, name: &str, tag: &str) {
        self.record_usage(Change::TagDeleted {
            repository: name.to_string(),
            tag: tag.to_string(),
        });
    }

    /// A manifest revision of repository `name` was deleted, with its tags.
    pub(crate) fn manifest_deleted(&self, name: &str, digest: &Digest) {
        self.record_usage(Change::ManifestDeleted {
            repository: name.to_string(),
            digest: digest.clone(),
        });
    }
}

/// Every blob a manifest's image takes: the manifest, its blobs, and its
/// children's, recursively.
pub(crate) fn closure(snapshot: &Snapshot, root: &Digest, into: &mut HashSet<Digest>) {
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        if !into.insert(d.clone()) {
            continue;
        }
        if let Some(Some(refs)) = snapshot.manifests.get(&d) {
            into.extend(refs.blobs.iter().cloned());
            stack.extend(refs.children.iter().cloned());
        }
    }
}

/// A link file holding a sha256 digest: `sha256:` and 64 hex digits.
const SHA256_LINK_BYTES: u64 = 71;

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn summarize(driver: &str, kept: &Kept) -> Usage {
    let s = &kept.snapshot;
    let size = |d: &Digest| s.blobs.get(d).map_or(0, |b| b.size);
    // Which repositories refer to each blob.
    let mut per_repo: Vec<(String, HashSet<Digest>)> = Vec::new();
    let mut holders: HashMap<Digest, u32> = HashMap::new();
    for (name, repo) in &s.repositories {
        let mut set = HashSet::new();
        for revision in &repo.revisions {
            closure(s, revision, &mut set);
        }
        for d in &set {
            *holders.entry(d.clone()).or_default() += 1;
        }
        per_repo.push((name.clone(), set));
    }
    let mut repositories: Vec<RepositoryUsage> = per_repo
        .into_iter()
        .map(|(name, set)| {
            let repo = &s.repositories[&name];
            let (mut unique, mut shared) = (0, 0);
            for d in set.iter().filter(|d| s.blobs.contains_key(*d)) {
                if holders.get(d).copied().unwrap_or(0) > 1 {
                    shared += size(d);
                } else {
                    unique += size(d);
                }
            }
            let tags = repo
                .tags
                .iter()
                .map(|(tag, digest)| {
                    let mut image = HashSet::new();
                    closure(s, digest, &mut image);
                    TagUsage {
                        tag: tag.clone(),
                        digest: digest.to_string(),
                        bytes: image.iter().map(size).sum(),
                    }
                })
                .collect();
            RepositoryUsage {
                name,
                unique_bytes: unique,
                shared_bytes: shared,
                total_bytes: unique + shared,
                manifests: repo.revisions.len() as u64,
                tags,
            }
        })
        .collect();
    repositories.sort_by(|a, b| b.total_bytes.cmp(&a.total_bytes).then(a.name.cmp(&b.name)));
    let blob_bytes: u64 = s.blobs.values().map(|b| b.size).sum();
    let (mut reclaimable_blobs, mut reclaimable_bytes) = (0, 0);
    for (d, b) in &s.blobs {
        if !holders.contains_key(d) {
            reclaimable_blobs += 1;
            reclaimable_bytes += b.size;
        }
    }
    // Link files hold a digest's text, as Distribution writes them.
    let (mut links, mut link_bytes, mut upload_files, mut upload_bytes) = (0u64, 0u64, 0, 0);
    for repo in s.repositories.values() {
        let digests = repo
            .revisions
            .iter()
            .chain(repo.layers.iter())
            .chain(repo.tags.values())
            .chain(repo.tag_history.values().flatten());
        for d in digests {
            links += 1;
            link_bytes += d.to_string().len() as u64;
        }
        links += repo.referrer_links;
        link_bytes += repo.referrer_links * SHA256_LINK_BYTES;
        upload_files += repo.upload_files;
        upload_bytes += repo.upload_bytes;
    }
    Usage {
        driver: driver.to_string(),
        total_bytes: blob_bytes + link_bytes + upload_bytes,
        objects: s.blobs.len() as u64 + links + upload_files,
        blobs: s.blobs.len() as u64,
        blob_bytes,
        reclaimable_bytes,
        reclaimable_blobs,
        upload_bytes,
        repositories,
        scanned_at: rfc3339(kept.scanned_at),
        scan_millis: kept.scan_millis,
        updated_at: rfc3339(kept.updated_at),
    }
}

#[derive(Deserialize)]
struct UsageQuery {
    #[serde(default)]
    refresh: bool,
}

/// `GET /berth/v1/usage[?refresh=true]` for the debug listener's admin API:
/// the kept figures; a scan starts in the background when there are none
/// yet or `refresh=true`, and the answer says `scanning` with the objects
/// seen so far until it ends (202 while no figures exist yet).
pub fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/berth/v1/usage", get(get_usage))
}

async fn get_usage(State(registry): State<Arc<Registry>>, Query(q): Query<UsageQuery>) -> Response {
    let mut status = registry.usage_status();
    let start = status.state != "scanning" && (q.refresh || status.usage.is_none());
    if start {
        registry.usage.scanning.store(true, Ordering::Relaxed);
        registry.usage.scanned.store(0, Ordering::Relaxed);
        let r = registry.clone();
        tokio::spawn(async move {
            if let Err(e) = r.scan_usage().await {
                tracing::warn!(error = %e, "the usage scan failed");
                r.usage.failed(e.to_string());
            }
        });
        // The figures just summed stay the answer; only the state moves.
        status.state = "scanning".to_string();
    }
    let code = if status.usage.is_none() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (code, Json(status)).into_response()
}
