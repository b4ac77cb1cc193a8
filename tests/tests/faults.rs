//! The registry under stress a user would notice: a crash in the middle of a
//! push, and a blob far larger than the memory the registry should need.
//!
//! Every scenario runs against `berthd` and, as the reference that proves the
//! scenario right, against CNCF Distribution.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_e2e::image::{LayerSpec, OciLayout, Platform, RandomReader, digest_hex, sha256_file};
use berth_e2e::registry::{Kind, Options, Registry, client};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use serde_json::Value;
use sha2::{Digest, Sha256};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Generates one `#[test]` per registry kind for each scenario function.
macro_rules! against_both {
    ($($scenario:ident),* $(,)?) => {
        mod berthd {
            $(#[test] fn $scenario() { super::$scenario(super::Kind::Berthd) })*
        }
        mod distribution {
            $(#[test] fn $scenario() { super::$scenario(super::Kind::Distribution) })*
        }
    };
}

against_both!(
    crash_mid_upload_loses_nothing_committed,
    crash_as_an_upload_completes_loses_nothing_committed,
    memory_stays_flat_while_a_large_blob_streams,
);

/// When the registry is killed during a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillPoint {
    /// Once the first MiB of the big layer is on disk under `_uploads`.
    MidUpload,
    /// Once the whole big layer has arrived (or was already moved into the
    /// blob store, or the push finished): the commit, the move into
    /// `blobs/` and the manifest PUT are all around this moment.
    UploadComplete,
}

fn crash_mid_upload_loses_nothing_committed(kind: Kind) {
    crash_during_push(kind, KillPoint::MidUpload);
}

fn crash_as_an_upload_completes_loses_nothing_committed(kind: Kind) {
    crash_during_push(kind, KillPoint::UploadComplete);
}

/// Kills the registry with SIGKILL during a push of a large image, restarts
/// it, and checks that what was committed before is intact, the interrupted
/// tag is absent or whole, the store holds nothing partial, and the same
/// push then succeeds.
fn crash_during_push(kind: Kind, when: KillPoint) {
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(mut registry) = Registry::start(kind, Options::default()) else {
        return;
    };
    let root = registry.root().to_owned();
    let host = registry.host();
    let access = Access::insecure();
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let committed = source.add_image(
        "stable",
        Platform::LINUX_AMD64,
        &[
            LayerSpec::new(81, MIB),
            LayerSpec::new(82, 4 * MIB),
            LayerSpec::new(83, 64 * KIB),
        ],
    );
    let committed_index = source.add_index(
        "stable-multi",
        &[Platform::LINUX_AMD64, Platform::LINUX_ARM64],
        LayerSpec::new(81, MIB),
        84,
        256 * KIB,
    );
    // Large enough that the push takes a while on loopback, so the kill
    // lands while the big layer is still arriving.
    let big = source.add_image(
        "big",
        Platform::LINUX_AMD64,
        &[LayerSpec::new(85, 64 * KIB), LayerSpec::new(86, 256 * MIB)],
    );
    skopeo.push(
        &source,
        "stable",
        &docker(&host, "e2e/stable:v1"),
        &access,
        false,
    );
    skopeo.push(
        &source,
        "stable-multi",
        &docker(&host, "e2e/stable:multi"),
        &access,
        true,
    );

    let big_remote = docker(&host, "e2e/crash:big");
    let uploads = root.join("docker/registry/v2/repositories/e2e/crash/_uploads");
    let big_layer = big.layers[1].descriptor.clone();
    let big_blob = root
        .join("docker/registry/v2/blobs/sha256")
        .join(&digest_hex(&big_layer.digest)[..2])
        .join(digest_hex(&big_layer.digest))
        .join("data");
    let interrupted = std::thread::scope(|scope| {
        let push = scope.spawn(|| skopeo.try_push(&source, "big", &big_remote, &access, false));
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let arrived = upload_bytes(&uploads);
            let due = match when {
                KillPoint::MidUpload => arrived >= MIB,
                KillPoint::UploadComplete => {
                    arrived >= big_layer.size || big_blob.exists() || push.is_finished()
                }
            };
            if due {
                eprintln!(
                    "{arrived} bytes of upload data on disk, big layer committed: {}, \
                     push finished: {}: killing {kind:?}",
                    big_blob.exists(),
                    push.is_finished()
                );
                registry.kill();
                break;
            }
            if push.is_finished() {
                let outcome = push.join().unwrap();
                panic!(
                    "the push ended before 1 MiB of upload data appeared under {} \
                     (uploads must stream into the store's _uploads): {outcome:?}",
                    uploads.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the kill point {when:?} was not reached within 300 s; {arrived} bytes \
                 under {}",
                uploads.display()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        push.join().unwrap().is_err()
    });
    eprintln!("push interrupted: {interrupted}");
    assert_blob_store_whole(&root);
    assert_manifests_complete(&root);

    registry.restart();

    let pulled = skopeo.pull(
        &docker(&host, "e2e/stable:v1"),
        &work.path().join("stable"),
        "v1",
        &access,
        false,
    );
    pulled.assert_holds_image("v1", &committed);
    let pulled = skopeo.pull(
        &docker(&host, "e2e/stable:multi"),
        &work.path().join("stable-multi"),
        "multi",
        &access,
        true,
    );
    pulled.assert_holds_index("multi", &committed_index);
    match skopeo.try_inspect_raw(&big_remote, &access) {
        Err(failure) => assert!(
            failure.stderr.contains("manifest unknown"),
            "the interrupted tag is simply unknown after the restart: {failure}"
        ),
        Ok(raw) => {
            // The kill came after the manifest was stored: then it must be
            // whole and all its blobs servable.
            assert_eq!(raw, source.read_blob(&big.manifest.digest));
            let pulled = skopeo.pull(
                &big_remote,
                &work.path().join("early"),
                "big",
                &access,
                false,
            );
            pulled.assert_holds_image("big", &big);
        }
    }

    skopeo
        .try_push(&source, "big", &big_remote, &access, false)
        .unwrap_or_else(|failure| panic!("the same push succeeds after the restart: {failure}"));
    let pulled = skopeo.pull(&big_remote, &work.path().join("big"), "big", &access, false);
    pulled.assert_holds_image("big", &big);
    assert_blob_store_whole(&root);
    assert_manifests_complete(&root);
}

fn memory_stays_flat_while_a_large_blob_streams(kind: Kind) {
    // Streams, never whole blobs in memory (DESIGN.md). 100 MiB is a fifth of
    // the blob: room for a runtime, connection buffers and a hash state,
    // while a registry that held even part of the blob in memory would pass
    // it. Distribution, the reference, peaks well below it.
    const BOUND_KIB: u64 = 100 * 1024;
    const BLOB: u64 = 512 * MIB;
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(registry) = Registry::start(kind, Options::default()) else {
        return;
    };
    let pid = registry.pid().expect("registry is running");
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("large", Platform::LINUX_AMD64, &[LayerSpec::new(91, BLOB)]);
    eprintln!("{kind:?} peak RSS after start: {} KiB", peak_rss_kib(pid));

    // 1. skopeo's push: one PATCH streaming the whole layer.
    let remote = docker(&registry.host(), "e2e/large:v1");
    skopeo.push(&source, "large", &remote, &Access::insecure(), false);
    let after_push = peak_rss_kib(pid);
    eprintln!("{kind:?} peak RSS after a {BLOB}-byte skopeo push: {after_push} KiB");
    assert!(
        after_push < BOUND_KIB,
        "{kind:?} peaked at {after_push} KiB while skopeo pushed a {} MiB layer \
         (bound {BOUND_KIB} KiB): it holds blob data in memory",
        BLOB / MIB
    );

    // 2. A monolithic upload: POST, then one PUT whose body is the blob.
    let http = client();
    let digest = {
        let mut hasher = Sha256::new();
        std::io::copy(&mut RandomReader::new(92, BLOB), &mut hasher).unwrap();
        format!("sha256:{}", hex::encode(hasher.finalize()))
    };
    let start = http
        .post(format!("{}/v2/e2e/large/blobs/uploads/", registry.url()))
        .send()
        .expect("start an upload");
    assert_eq!(start.status().as_u16(), 202, "POST blobs/uploads/");
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with('/') {
        format!("{}{location}", registry.url())
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = http
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(reqwest::blocking::Body::sized(
            RandomReader::new(92, BLOB),
            BLOB,
        ))
        .send()
        .expect("PUT the blob");
    assert_eq!(
        put.status().as_u16(),
        201,
        "monolithic PUT of {BLOB} bytes: {}",
        put.text().unwrap_or_default()
    );
    let after_put = peak_rss_kib(pid);
    eprintln!("{kind:?} peak RSS after a {BLOB}-byte monolithic PUT: {after_put} KiB");
    assert!(
        after_put < BOUND_KIB,
        "{kind:?} peaked at {after_put} KiB during a monolithic PUT of {} MiB \
         (bound {BOUND_KIB} KiB): it holds blob data in memory",
        BLOB / MIB
    );

    // 3. Serving it back, read and hashed as it streams.
    let mut get = http
        .get(format!("{}/v2/e2e/large/blobs/{digest}", registry.url()))
        .send()
        .expect("GET the blob");
    assert_eq!(get.status().as_u16(), 200, "GET the large blob");
    let mut hasher = Sha256::new();
    let served = std::io::copy(&mut get, &mut hasher).expect("read the blob");
    assert_eq!(served, BLOB);
    assert_eq!(format!("sha256:{}", hex::encode(hasher.finalize())), digest);
    let after_get = peak_rss_kib(pid);
    eprintln!("{kind:?} peak RSS after serving {BLOB} bytes: {after_get} KiB");
    assert!(
        after_get < BOUND_KIB,
        "{kind:?} peaked at {after_get} KiB serving a {} MiB blob (bound {BOUND_KIB} KiB)",
        BLOB / MIB
    );
    assert!(source.verify_blob(&image.layers[0].descriptor.digest));
}

/// The peak resident set size of process `pid` so far (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

/// Bytes of upload data on disk under a repository's `_uploads`.
fn upload_bytes(uploads: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(uploads) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::metadata(e.path().join("data")).ok())
        .map(|m| m.len())
        .sum()
}

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

/// Nothing partial is visible among the blobs: every file under
/// `blobs/` is a `sha256/<xx>/<hex>/data` whose content hashes to `<hex>`.
fn assert_blob_store_whole(root: &Path) {
    let blobs = root.join("docker/registry/v2/blobs");
    for file in files_under(&blobs) {
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
fn assert_manifests_complete(root: &Path) {
    let v2 = root.join("docker/registry/v2");
    let repositories = v2.join("repositories");
    let blob_data = |digest: &str| {
        let hex = digest_hex(digest);
        v2.join("blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    };
    let link = |path: &Path| std::fs::read_to_string(path).ok();
    for file in files_under(&repositories) {
        let relative = file.strip_prefix(&repositories).unwrap().to_str().unwrap();
        let Some((repo, rest)) = relative.split_once("/_manifests/") else {
            continue;
        };
        let repo_dir = repositories.join(repo);
        let is_revision = rest.starts_with("revisions/") && rest.ends_with("/link");
        let is_current_tag = rest.starts_with("tags/") && rest.ends_with("/current/link");
        if !is_revision && !is_current_tag {
            continue;
        }
        let manifest = link(&file).unwrap_or_else(|| panic!("unreadable link {}", file.display()));
        if is_current_tag {
            let revision = repo_dir
                .join("_manifests/revisions/sha256")
                .join(digest_hex(&manifest))
                .join("link");
            assert!(
                revision.is_file(),
                "tag link {} names {manifest}, which has no revision in {repo}",
                file.display()
            );
        }
        let bytes = std::fs::read(blob_data(&manifest)).unwrap_or_else(|e| {
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
                repo_dir
                    .join("_manifests/revisions/sha256")
                    .join(digest_hex(digest))
                    .join("link")
                    .is_file(),
                "index {manifest} in {repo} names manifest {digest}, which has no revision there"
            );
        }
        let blobs = std::iter::once(&parsed["config"])
            .chain(parsed["layers"].as_array().into_iter().flatten())
            .filter_map(|d| d["digest"].as_str());
        for digest in blobs {
            assert!(
                blob_data(digest).is_file(),
                "manifest {manifest} in {repo} names blob {digest}, whose data is missing"
            );
            assert!(
                repo_dir
                    .join("_layers/sha256")
                    .join(digest_hex(digest))
                    .join("link")
                    .is_file(),
                "manifest {manifest} in {repo} names blob {digest}, which is not linked there"
            );
        }
    }
}
