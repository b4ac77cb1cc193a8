//! A filesystem store in Distribution's layout, read straight off the disk:
//! where blobs, links and uploads live, and checks that nothing in it is
//! partial, missing or misplaced.
//!
//! The layout under `<root>/docker/registry/v2`:
//!
//! ```text
//! blobs/sha256/<first two hex>/<hex>/data                 blob content
//! repositories/<repo>/_layers/sha256/<hex>/link           blob linked into the repository
//! repositories/<repo>/_manifests/revisions/sha256/<hex>/link
//! repositories/<repo>/_manifests/tags/<tag>/current/link
//! repositories/<repo>/_manifests/tags/<tag>/index/sha256/<hex>/link
//! repositories/<repo>/_uploads/<uuid>/data                upload in progress
//! ```
//!
//! ```no_run
//! let store = berth_e2e::store::Store::new("/var/lib/registry");
//! store.assert_blobs_whole();
//! store.assert_manifests_complete();
//! ```

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::image::{Image, digest_hex, sha256_file};

/// Every file and directory below `dir`, recursively; unreadable
/// directories are passed over.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    entries_below(dir)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

/// Every file (anything but a directory) below `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    entries_below(dir)
        .into_iter()
        .filter_map(|(path, is_dir)| (!is_dir).then_some(path))
        .collect()
}

fn entries_below(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                pending.push(path.clone());
            }
            found.push((path, is_dir));
        }
    }
    found
}

/// What changes when a file is written again: inode, size and modification
/// time (seconds, nanoseconds).
pub type FileStamp = (u64, u64, i64, i64);

/// A filesystem store in Distribution's layout, by its root directory (the
/// `rootdirectory` of the registry's config).
#[derive(Clone, Debug)]
pub struct Store {
    v2: PathBuf,
}

impl Store {
    /// The store whose `rootdirectory` is `root`.
    pub fn new(root: impl AsRef<Path>) -> Store {
        Store {
            v2: root.as_ref().join("docker/registry/v2"),
        }
    }

    /// `blobs/`, where every blob's content lives.
    pub fn blobs_dir(&self) -> PathBuf {
        self.v2.join("blobs")
    }

    /// `blobs/sha256/<first two hex>/<hex>/data`: where blob `digest` lives.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest_hex(digest);
        self.blobs_dir()
            .join("sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `repositories/`, one directory per repository (names nest).
    pub fn repositories_dir(&self) -> PathBuf {
        self.v2.join("repositories")
    }

    /// The directory of repository `repo`.
    pub fn repository(&self, repo: &str) -> PathBuf {
        self.repositories_dir().join(repo)
    }

    /// `_uploads/` of `repo`, one directory per upload in progress.
    pub fn uploads(&self, repo: &str) -> PathBuf {
        self.repository(repo).join("_uploads")
    }

    /// The link that makes blob `digest` part of `repo`.
    pub fn layer_link(&self, repo: &str, digest: &str) -> PathBuf {
        digest_link(&self.repository(repo).join("_layers"), digest)
    }

    /// The link that makes manifest `digest` a revision of `repo`.
    pub fn revision_link(&self, repo: &str, digest: &str) -> PathBuf {
        digest_link(&self.repository(repo).join("_manifests/revisions"), digest)
    }

    fn tag_dir(&self, repo: &str, tag: &str) -> PathBuf {
        self.repository(repo).join("_manifests/tags").join(tag)
    }

    /// Bytes of upload data on disk under `repo`'s `_uploads`.
    pub fn upload_bytes(&self, repo: &str) -> u64 {
        let Ok(entries) = std::fs::read_dir(self.uploads(repo)) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::metadata(e.path().join("data")).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Every file under `blobs/` with its [`FileStamp`], to tell whether a
    /// later push wrote any of them again.
    pub fn blob_files(&self) -> BTreeMap<PathBuf, FileStamp> {
        files(&self.blobs_dir())
            .into_iter()
            .map(|path| {
                let meta = std::fs::symlink_metadata(&path)
                    .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
                let stamp = (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec());
                (path, stamp)
            })
            .collect()
    }

    /// Nothing partial is visible among the blobs: every file under
    /// `blobs/` is a `sha256/<xx>/<hex>/data` whose content hashes to `<hex>`.
    pub fn assert_blobs_whole(&self) {
        let blobs = self.blobs_dir();
        for file in files(&blobs) {
            let relative = file.strip_prefix(&blobs).unwrap();
            let parts: Vec<&str> = relative.iter().map(|p| p.to_str().unwrap()).collect();
            let [algorithm, prefix, hex, "data"] = parts[..] else {
                panic!("stray file among the blobs: {}", file.display());
            };
            assert!(
                algorithm == "sha256"
                    && hex.len() == 64
                    && hex.starts_with(prefix)
                    && prefix.len() == 2,
                "blob file at a malformed path: {}",
                file.display()
            );
            assert_eq!(
                sha256_file(&file).unwrap(),
                format!("sha256:{hex}"),
                "{} holds content other than its digest (a partial write became visible)",
                file.display()
            );
        }
    }

    /// Never a manifest whose blobs are missing: every manifest revision and
    /// every tag in every repository leads to blobs that are all stored and
    /// linked into that repository.
    pub fn assert_manifests_complete(&self) {
        let repositories = self.repositories_dir();
        for file in files(&repositories) {
            let relative = file.strip_prefix(&repositories).unwrap().to_str().unwrap();
            let Some((repo, rest)) = relative.split_once("/_manifests/") else {
                continue;
            };
            let is_revision = rest.starts_with("revisions/") && rest.ends_with("/link");
            let is_current_tag = rest.starts_with("tags/") && rest.ends_with("/current/link");
            if !is_revision && !is_current_tag {
                continue;
            }
            let manifest = std::fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("unreadable link {}", file.display()));
            if is_current_tag {
                assert!(
                    self.revision_link(repo, &manifest).is_file(),
                    "tag link {} names {manifest}, which has no revision in {repo}",
                    file.display()
                );
            }
            let bytes = std::fs::read(self.blob_data(&manifest)).unwrap_or_else(|e| {
                panic!(
                    "{} names manifest {manifest}, whose data is missing: {e}",
                    file.display()
                )
            });
            let parsed: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("manifest {manifest} is not JSON: {e}"));
            let children = parsed["manifests"].as_array().cloned().unwrap_or_default();
            for child in children {
                let digest = child["digest"].as_str().unwrap();
                assert!(
                    self.revision_link(repo, digest).is_file(),
                    "index {manifest} in {repo} names manifest {digest}, which has no revision there"
                );
            }
            let blobs = std::iter::once(&parsed["config"])
                .chain(parsed["layers"].as_array().into_iter().flatten())
                .filter_map(|d| d["digest"].as_str());
            for digest in blobs {
                assert!(
                    self.blob_data(digest).is_file(),
                    "manifest {manifest} in {repo} names blob {digest}, whose data is missing"
                );
                assert!(
                    self.layer_link(repo, digest).is_file(),
                    "manifest {manifest} in {repo} names blob {digest}, which is not linked there"
                );
            }
        }
    }

    /// Blob `digest` is stored where the layout puts it, with content that
    /// hashes to `digest`.
    pub fn assert_blob(&self, digest: &str) {
        let data = self.blob_data(digest);
        match sha256_file(&data) {
            Ok(actual) => assert_eq!(
                actual,
                digest,
                "{} holds other content than its digest",
                data.display()
            ),
            Err(e) => panic!("blob {digest} is not at {}: {e}", data.display()),
        }
    }

    /// Manifest `manifest` is stored and is a revision of `repo`.
    pub fn assert_revision(&self, repo: &str, manifest: &str) {
        self.assert_blob(manifest);
        assert_link(
            &self.revision_link(repo, manifest),
            manifest,
            "manifest revision",
        );
    }

    /// `image`'s manifest is a revision of `repo`, and its config and layers
    /// are stored and linked into `repo`.
    pub fn assert_image(&self, repo: &str, image: &Image) {
        self.assert_revision(repo, &image.manifest.digest);
        for digest in image.blob_digests() {
            self.assert_blob(&digest);
            assert_link(
                &self.layer_link(repo, &digest),
                &digest,
                "blob link in the repository",
            );
        }
    }

    /// `repo:tag` points at `manifest`, and the tag's history holds it.
    pub fn assert_tag(&self, repo: &str, tag: &str, manifest: &str) {
        let tag_dir = self.tag_dir(repo, tag);
        assert_link(&tag_dir.join("current/link"), manifest, "current tag");
        assert_link(
            &digest_link(&tag_dir.join("index"), manifest),
            manifest,
            "tag history index",
        );
    }

    /// Finished uploads leave nothing under `repo`'s `_uploads`.
    pub fn assert_no_uploads_left(&self, repo: &str) {
        let uploads = self.uploads(repo);
        let left: Vec<_> = std::fs::read_dir(&uploads)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "finished uploads are removed from {}: {left:?}",
            uploads.display()
        );
    }
}

/// `<dir>/sha256/<hex>/link`, the form of every link to a digest.
fn digest_link(dir: &Path, digest: &str) -> PathBuf {
    dir.join("sha256").join(digest_hex(digest)).join("link")
}

/// A link file holding exactly `digest`.
fn assert_link(link: &Path, digest: &str, what: &str) {
    match std::fs::read(link) {
        Ok(content) => assert_eq!(
            String::from_utf8_lossy(&content),
            digest,
            "{what}: {} must hold the bare digest",
            link.display()
        ),
        Err(e) => panic!("{what}: missing link {}: {e}", link.display()),
    }
}
