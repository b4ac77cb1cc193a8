//! Garbage collection: CNCF Distribution's mark and sweep
//! (`registry garbage-collect`), safe to run while the same registry keeps
//! serving pushes.
//!
//! **Mark**: every blob referred to by every manifest revision of every
//! repository (config, layers, index children recursively, and the
//! manifests' own data). With `delete_untagged`, manifests that no tag
//! reaches (directly, as a child of a tagged index, or as a referrer of a
//! reached manifest) are deleted first and mark nothing. **Sweep**: the
//! data of every blob left unmarked is deleted. Uploads abandoned for
//! longer than `maintenance.uploadpurging.age` are purged too.
//!
//! Online safety (see `docs/gc.md`):
//! - blobs younger than the grace period are never swept;
//! - uploads in progress live under `_uploads`, not `blobs/`, until they
//!   are committed, so the sweep never sees them;
//! - while a collection runs, the registry records every digest it is
//!   asked about or writes (blob HEAD/GET, upload commits, mounts, the
//!   references of manifest PUTs), and the sweep spares them and what they
//!   refer to;
//! - a manifest PUT checks its references and writes its links holding a
//!   shared guard, an upload commit checks and links its blob the same way,
//!   and every batch of deletions takes that guard exclusively: a manifest
//!   is never written pointing at a blob being deleted; one whose blob is
//!   already gone gets `MANIFEST_BLOB_UNKNOWN`.
//!
//! An interrupted collection leaves a store that serves every tagged image:
//! it only ever deletes unreachable manifests' links and unmarked blobs.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, RegistryError, Result};
use crate::manifests::Manifest;
use crate::reference::Digest;
use crate::usage::Change;
use crate::usage::scan::{self, RepositoryEntry, Snapshot};
use crate::{Registry, layout};

/// The grace period when none is given: blobs written in the last hour are
/// never swept.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(3600);

/// Distribution's default `maintenance.uploadpurging.age`.
pub const DEFAULT_UPLOAD_PURGE_AGE: Duration = Duration::from_secs(168 * 3600);

/// Blobs deleted per exclusive hold of the push guard.
const SWEEP_BATCH: usize = 64;

/// How to collect.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Delete manifests no tag reaches, then sweep their blobs.
    pub delete_untagged: bool,
    /// Blobs modified more recently than this are kept.
    pub grace_period: Duration,
    /// Purge uploads started longer ago than this; `None` leaves uploads.
    pub purge_uploads_older_than: Option<Duration>,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            dry_run: false,
            delete_untagged: false,
            grace_period: DEFAULT_GRACE_PERIOD,
            purge_uploads_older_than: Some(DEFAULT_UPLOAD_PURGE_AGE),
        }
    }
}

/// What a collection did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Untagged manifests were deleted.
    pub delete_untagged: bool,
    /// The grace period, in seconds.
    pub grace_period_seconds: u64,
    /// Repositories seen.
    pub repositories: u64,
    /// Manifest revisions seen.
    pub manifests: u64,
    /// Blobs in the store when the collection started.
    pub blobs: u64,
    /// Blobs marked as in use, and their bytes.
    pub blobs_marked: u64,
    /// Bytes of the marked blobs.
    pub bytes_marked: u64,
    /// Blobs deleted (would be, in a dry run).
    pub blobs_swept: u64,
    /// Bytes of the deleted blobs.
    pub bytes_swept: u64,
    /// Unmarked blobs kept because they are younger than the grace period.
    pub blobs_kept_young: u64,
    /// Unmarked blobs kept because a client used them during the collection.
    pub blobs_kept_in_use: u64,
    /// Untagged manifests deleted (would be, in a dry run).
    pub manifests_deleted: Vec<DeletedManifest>,
    /// Abandoned uploads purged (would be, in a dry run), as `repository/id`.
    pub uploads_purged: Vec<String>,
    /// When the collection started (RFC 3339).
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// A manifest deleted because no tag reaches it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeletedManifest {
    /// Its repository.
    pub repository: String,
    /// Its digest.
    pub digest: String,
}

/// The registry's side of online collection: the push guard and the
/// digests used while a collection runs.
pub(crate) struct GcState {
    guard: tokio::sync::RwLock<()>,
    touched: Mutex<Option<HashSet<Digest>>>,
    /// True while a collection records touched digests: requests skip the
    /// lock when none runs.
    recording: AtomicBool,
    running: tokio::sync::Mutex<()>,
    upload_purge_age: Mutex<Duration>,
}

impl Default for GcState {
    fn default() -> Self {
        GcState {
            guard: tokio::sync::RwLock::new(()),
            touched: Mutex::new(None),
            recording: AtomicBool::new(false),
            running: tokio::sync::Mutex::new(()),
            upload_purge_age: Mutex::new(DEFAULT_UPLOAD_PURGE_AGE),
        }
    }
}

impl GcState {
    /// Held (shared) by a push while it checks that blobs exist and writes
    /// what refers to them.
    pub(crate) async fn guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.guard.read().await
    }

    /// Records that a client used `digest`, while a collection runs.
    pub(crate) fn touch(&self, digest: &Digest) {
        if !self.recording.load(Ordering::SeqCst) {
            return;
        }
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = touched.as_mut() {
            t.insert(digest.clone());
        }
    }

    /// Records a manifest and everything it names.
    pub(crate) fn touch_manifest(&self, manifest: &Manifest) {
        if !self.recording.load(Ordering::SeqCst) {
            return;
        }
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = touched.as_mut() {
            t.insert(manifest.digest.clone());
            t.extend(manifest.blobs.iter().cloned());
            t.extend(manifest.children.iter().map(|c| c.digest.clone()));
        }
    }

    /// The digests touched since the last call (recording goes on).
    fn take_touched(&self) -> HashSet<Digest> {
        self.touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// Stops recording when the collection ends, however it ends.
struct Recording<'a>(&'a GcState);

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        self.0.recording.store(false, Ordering::SeqCst);
        *self.0.touched.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn busy() -> RegistryError {
    RegistryError::new(
        ErrorCode::Unsupported,
        "a garbage collection is already running on this registry; wait for it to finish",
    )
    .with_status(StatusCode::CONFLICT)
}

/// Manifests of `repo` that a tag reaches: tagged ones, their index
/// children (recursively) and the referrers of anything reached.
fn reachable(snapshot: &Snapshot, repo: &RepositoryEntry) -> HashSet<Digest> {
    let mut reached: HashSet<Digest> = HashSet::new();
    let mut stack: Vec<Digest> = repo.tags.values().cloned().collect();
    loop {
        while let Some(d) = stack.pop() {
            if !reached.insert(d.clone()) {
                continue;
            }
            if let Some(Some(refs)) = snapshot.manifests.get(&d) {
                stack.extend(refs.children.iter().cloned());
            }
        }
        for revision in &repo.revisions {
            let subject = snapshot
                .manifests
                .get(revision)
                .and_then(|m| m.as_ref()?.subject.as_ref());
            if !reached.contains(revision) && subject.is_some_and(|s| reached.contains(s)) {
                stack.push(revision.clone());
            }
        }
        if stack.is_empty() {
            return reached;
        }
    }
}

impl Registry {
    /// Uploads older than this are purged by [`Registry::collect_garbage`]
    /// through the admin API (`maintenance.uploadpurging.age`; 168 h when
    /// not set).
    pub fn with_upload_purge_age(self, age: Duration) -> Registry {
        *self
            .gc
            .upload_purge_age
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = age;
        self
    }

    /// The upload purge age collections through the admin API use.
    pub fn upload_purge_age(&self) -> Duration {
        *self
            .gc
            .upload_purge_age
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a garbage collection (see the module documentation). One runs
    /// at a time; a second call fails with 409 while one runs. Dropping the
    /// future stops it between deletions, leaving a consistent store.
    pub async fn collect_garbage(&self, options: &GcOptions) -> Result<GcReport> {
        let _one = self.gc.running.try_lock().map_err(|_| busy())?;
        let started = Instant::now();
        let mut report = GcReport {
            dry_run: options.dry_run,
            delete_untagged: options.delete_untagged,
            grace_period_seconds: options.grace_period.as_secs(),
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            ..Default::default()
        };
        // Start recording with no push in its critical section: every push
        // either finished before (and the walk sees it) or is recorded.
        let _recording = {
            let _exclusive = self.gc.guard.write().await;
            *self.gc.touched.lock().unwrap_or_else(|e| e.into_inner()) = Some(HashSet::new());
            self.gc.recording.store(true, Ordering::SeqCst);
            Recording(&self.gc)
        };
        let progress = AtomicU64::new(0);
        let snapshot = scan::scan(self, &progress).await?;
        report.repositories = snapshot.repositories.len() as u64;
        report.blobs = snapshot.blobs.len() as u64;

        let mut marked: HashSet<Digest> = HashSet::new();
        let mut doomed: Vec<(String, Digest)> = Vec::new();
        for (name, repo) in &snapshot.repositories {
            report.manifests += repo.revisions.len() as u64;
            let keep = if options.delete_untagged {
                reachable(&snapshot, repo)
            } else {
                repo.revisions
                    .iter()
                    .chain(repo.tags.values())
                    .cloned()
                    .collect()
            };
            for revision in &repo.revisions {
                if !keep.contains(revision) {
                    doomed.push((name.clone(), revision.clone()));
                }
            }
            for d in &keep {
                crate::usage::closure(&snapshot, d, &mut marked);
            }
        }
        doomed.sort_by_key(|(name, d)| (name.clone(), d.to_string()));
        for (d, blob) in &snapshot.blobs {
            if marked.contains(d) {
                report.blobs_marked += 1;
                report.bytes_marked += blob.size;
            }
        }

        // What clients touched since the walk, and all it refers to: taken
        // in increments, so each check costs only what is new.
        let mut touched: HashSet<Digest> = HashSet::new();
        let mut in_use: HashSet<Digest> = HashSet::new();
        let absorb = |touched: &mut HashSet<Digest>, in_use: &mut HashSet<Digest>| {
            for d in self.gc.take_touched() {
                if touched.insert(d.clone()) {
                    crate::usage::closure(&snapshot, &d, in_use);
                }
            }
        };
        for (name, digest) in doomed {
            if !options.dry_run {
                let _exclusive = self.gc.guard.write().await;
                absorb(&mut touched, &mut in_use);
                if touched.contains(&digest) {
                    // Tagged or referred to since the walk: keep it and
                    // what it refers to.
                    crate::usage::closure(&snapshot, &digest, &mut marked);
                    continue;
                }
                self.delete_revision(&snapshot, &name, &digest).await?;
            }
            report.manifests_deleted.push(DeletedManifest {
                repository: name,
                digest: digest.to_string(),
            });
        }

        let now = SystemTime::now();
        let mut candidates: Vec<(Digest, u64)> = Vec::new();
        for (d, blob) in &snapshot.blobs {
            if marked.contains(d) {
                continue;
            }
            let age = now.duration_since(blob.modified).unwrap_or_default();
            if age < options.grace_period {
                report.blobs_kept_young += 1;
            } else {
                candidates.push((d.clone(), blob.size));
            }
        }
        candidates.sort_by_key(|(d, _)| d.to_string());
        for batch in candidates.chunks(SWEEP_BATCH) {
            let _exclusive = if options.dry_run {
                None
            } else {
                Some(self.gc.guard.write().await)
            };
            absorb(&mut touched, &mut in_use);
            let (spared, sweep): (Vec<_>, Vec<_>) =
                batch.iter().partition(|(d, _)| in_use.contains(d));
            report.blobs_kept_in_use += spared.len() as u64;
            if !options.dry_run {
                let digests: Vec<Digest> = sweep.iter().map(|(d, _)| d.clone()).collect();
                let deleted: Vec<(Digest, Result<()>)> = futures::stream::iter(digests)
                    .map(|d| async move {
                        let r = self.delete_blob_data(&d).await;
                        (d, r)
                    })
                    .buffer_unordered(16)
                    .collect()
                    .await;
                // Count what went before reporting the first failure, so
                // the usage figures never keep a deleted blob.
                let mut failure = None;
                for (d, r) in deleted {
                    match r {
                        Ok(()) => self.record_usage(Change::BlobRemoved(d)),
                        Err(e) => failure = failure.or(Some(e)),
                    }
                }
                if let Some(e) = failure {
                    return Err(e);
                }
            }
            for (_, size) in sweep {
                report.blobs_swept += 1;
                report.bytes_swept += size;
            }
        }

        if let Some(age) = options.purge_uploads_older_than {
            report.uploads_purged = self.purge_uploads(age, options.dry_run).await?.purged;
        }
        report.millis = started.elapsed().as_millis() as u64;
        tracing::info!(
            dry_run = report.dry_run,
            marked = report.blobs_marked,
            swept = report.blobs_swept,
            bytes_swept = report.bytes_swept,
            manifests_deleted = report.manifests_deleted.len(),
            "garbage collection finished"
        );
        Ok(report)
    }

    async fn delete_blob_data(&self, digest: &Digest) -> Result<()> {
        match self.driver.delete(&layout::blob_dir(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an untagged manifest revision: its tag history links and
    /// referrer link first, its revision link last, so that an interruption
    /// leaves at worst a manifest without history.
    async fn delete_revision(
        &self,
        snapshot: &Snapshot,
        name: &str,
        digest: &Digest,
    ) -> Result<()> {
        let ignore_missing = |r: berth_storage::Result<()>| match r {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(RegistryError::from(e)),
        };
        if let Some(repo) = snapshot.repositories.get(name) {
            for (tag, history) in &repo.tag_history {
                if history.contains(digest) {
                    let link = layout::tag_index(name, tag, digest);
                    ignore_missing(self.driver.delete(berth_storage::path::parent(&link)).await)?;
                }
            }
        }
        if let Some(Some(refs)) = snapshot.manifests.get(digest)
            && let Some(subject) = &refs.subject
        {
            let link = layout::referrer_link(name, subject, digest);
            ignore_missing(self.driver.delete(berth_storage::path::parent(&link)).await)?;
        }
        ignore_missing(
            self.driver
                .delete(&layout::revision_dir(name, digest))
                .await,
        )?;
        self.record_usage(Change::ManifestDeleted {
            repository: name.to_string(),
            digest: digest.clone(),
        });
        Ok(())
    }
}

/// The body of `POST /berth/v1/gc`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GcRequest {
    dry_run: bool,
    delete_untagged: bool,
    grace_period_seconds: Option<u64>,
}

/// `POST /berth/v1/gc` for the debug listener's admin API: body
/// `{"dryRun", "deleteUntagged", "gracePeriodSeconds"?}`, answer a
/// [`GcReport`]. The collection runs to its end even if the client goes
/// away; 409 while another one runs.
pub fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/berth/v1/gc", post(run_gc))
}

async fn run_gc(State(registry): State<Arc<Registry>>, body: bytes::Bytes) -> Response {
    // Parsed whatever the content type says: a body that is not understood
    // must never fall back to a real (deleting) collection.
    let request: GcRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GcRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return RegistryError::new(
                    ErrorCode::Unsupported,
                    format!("the garbage collection request is not JSON this registry reads: {e}"),
                )
                .with_status(StatusCode::BAD_REQUEST)
                .into_response();
            }
        }
    };
    let options = GcOptions {
        dry_run: request.dry_run,
        delete_untagged: request.delete_untagged,
        grace_period: request
            .grace_period_seconds
            .map_or(DEFAULT_GRACE_PERIOD, Duration::from_secs),
        purge_uploads_older_than: Some(registry.upload_purge_age()),
    };
    let task = tokio::spawn(async move { registry.collect_garbage(&options).await });
    match task.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => RegistryError::new(
            ErrorCode::Unknown,
            format!("the garbage collection stopped: {e}"),
        )
        .into_response(),
    }
}
