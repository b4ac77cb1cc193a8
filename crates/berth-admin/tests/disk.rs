//! The Disk page's operations against real things: a tmpfs mounted by the
//! test (its figures checked against `df`), the low-space warning in the
//! registry's log, and usage, garbage collection and history from a real
//! `berthd serve` sidecar.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Fixture, blob_path, config_yaml, free_port, options, push_blob, tuning};
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB at `path`, or says why it cannot (not
    /// root, no mount): a failure under CI=true, a skip otherwise.
    fn mount(path: &Path, mib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m"),
                "berth-test-tmpfs",
            ])
            .arg(path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                path: path.to_path_buf(),
            }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                let message = format!(
                    "cannot mount a tmpfs ({}): the volume test needs root (run `sudo -E cargo nextest run -p berth-admin --test disk`)",
                    why.trim()
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{message}");
                }
                eprintln!("skipping: {message}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// `df -B1`'s size, used and available bytes for `path`.
fn df(path: &Path) -> (u64, u64, u64) {
    let out = Command::new("df")
        .args(["-B1", "--output=size,used,avail"])
        .arg(path)
        .output()
        .expect("run df");
    assert!(out.status.success(), "df failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<u64> = text
        .lines()
        .nth(1)
        .expect("a line of figures")
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// An admin whose registry stores under `root` (with `delete` as given).
async fn fixture_storing_in(dir: tempfile::TempDir, root: &Path) -> Fixture {
    let port = free_port();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("config.yml"), config_yaml(port, root, "")).unwrap();
    let admin = berth_admin::Admin::start_with(options(dir.path()), tuning())
        .await
        .unwrap_or_else(|e| panic!("admin start: {e}: {}", e.hint));
    let fx = Fixture { dir, admin, port };
    fx.wait_state("running").await;
    fx
}

fn registry_volume(view: &Value) -> Value {
    view["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["holdsRegistry"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no volume holds the registry: {view:#}"))
}

async fn log_lines_with(fx: &Fixture, needle: &str) -> Vec<String> {
    let logs = fx.ok("logs", json!({ "limit": 5000 })).await;
    logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["text"].as_str())
        .filter(|t| t.contains(needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn volume_figures_match_df_and_low_space_is_warned() {
    let dir = tempfile::Builder::new()
        .prefix("berth-disk-")
        .tempdir()
        .unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("vol"), 64) else {
        return;
    };
    let root = tmpfs.path.join("registry");
    let fx = fixture_storing_in(dir, &root).await;

    let view = fx.ok("diskVolumes", json!({})).await;
    let vol = registry_volume(&view);
    assert_eq!(
        vol["mountPoint"],
        tmpfs.path.display().to_string(),
        "{view:#}"
    );
    assert_eq!(vol["fsType"], "tmpfs");
    assert_eq!(vol["device"], "berth-test-tmpfs");
    assert_eq!(vol["total"], 64 * MIB);
    let (size, used, avail) = df(&tmpfs.path);
    assert_eq!(vol["total"], size);
    assert_eq!(vol["used"], used);
    assert_eq!(vol["free"], avail);
    assert_eq!(view["registryPath"], root.display().to_string());
    assert_eq!(view["thresholdPercent"], 10);
    assert!(view["warning"].is_null(), "{view:#}");
    // Other tmpfs mounts and pseudo filesystems are left out.
    for v in view["volumes"].as_array().unwrap() {
        assert!(
            !["proc", "sysfs", "devpts", "cgroup", "cgroup2"]
                .contains(&v["fsType"].as_str().unwrap()),
            "{v}"
        );
        if v["fsType"] == "tmpfs" {
            assert_eq!(
                v["holdsRegistry"], true,
                "only the registry's tmpfs is listed: {v}"
            );
        }
    }

    // 40 MiB written: the figures follow, exactly as df sees them.
    let filler = tmpfs.path.join("filler");
    std::fs::write(&filler, vec![1u8; (40 * MIB) as usize]).unwrap();
    let vol = registry_volume(&fx.ok("diskVolumes", json!({})).await);
    let (_, used_now, avail_now) = df(&tmpfs.path);
    assert_eq!(vol["used"], used_now);
    assert_eq!(vol["free"], avail_now);
    assert!(used_now >= used + 40 * MIB);
    let free_percent = 100 - vol["usedPercent"].as_u64().unwrap();
    assert!(free_percent < 50, "{vol}");

    // Under a 50% threshold: the page and the log warn, the log once.
    let bad = fx
        .err("diskSettings", json!({ "thresholdPercent": 0 }))
        .await;
    assert_eq!(bad.code, berth_admin::ErrorCode::InvalidInput);
    let settings = fx
        .ok("diskSettings", json!({ "thresholdPercent": 50 }))
        .await;
    assert_eq!(settings["thresholdPercent"], 50);
    let view = fx.ok("diskVolumes", json!({})).await;
    assert_eq!(
        view["warning"]["mountPoint"],
        tmpfs.path.display().to_string(),
        "{view:#}"
    );
    assert_eq!(view["warning"]["freePercent"], free_percent);
    fx.ok("diskVolumes", json!({})).await;
    let warnings = log_lines_with(&fx, "under the 50% threshold").await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("warning: the volume"),
        "{warnings:?}"
    );
    let logs = fx.ok("logs", json!({ "level": "warn" })).await;
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().contains("50% threshold")),
        "the warning is logged at warn level: {logs:#}"
    );

    // The setting is kept in the data directory.
    let saved: Value =
        serde_json::from_slice(&std::fs::read(fx.data_dir().join("disk.json")).unwrap()).unwrap();
    assert_eq!(saved["thresholdPercent"], 50);

    // Space freed: no warning, and the log says so.
    std::fs::remove_file(&filler).unwrap();
    let view = fx.ok("diskVolumes", json!({})).await;
    assert!(view["warning"].is_null(), "{view:#}");
    assert_eq!(log_lines_with(&fx, "free again").await.len(), 1);

    fx.admin.shutdown().await;
}

/// Pushes an image (config + one layer + manifest) to `repo:tag`; returns
/// the manifest's digest and the bytes of the three blobs.
async fn push_image(fx: &Fixture, repo: &str, tag: &str, layer: &[u8]) -> (String, u64) {
    let client = fx.client();
    let base = fx.url();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","x":"{tag}"}}"#
    );
    let config_digest = push_blob(&client, &base, repo, config.as_bytes()).await;
    let layer_digest = push_blob(&client, &base, repo, layer).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len() }],
    }))
    .unwrap();
    let response = client
        .put(format!("{base}{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let digest = response.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();
    (digest, (config.len() + layer.len() + manifest.len()) as u64)
}

/// `diskUsage` until the registry's figures are ready.
async fn usage_ready(fx: &Fixture, refresh: bool) -> Value {
    let mut answer = fx.ok("diskUsage", json!({ "refresh": refresh })).await;
    for _ in 0..300 {
        if answer["state"] == "ready" {
            return answer["usage"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = fx.ok("diskUsage", json!({})).await;
    }
    panic!("the usage scan never finished: {answer:#}");
}

#[tokio::test]
async fn usage_reclaim_and_history_through_the_sidecar() {
    let fx = Fixture::start().await;
    let root = fx.dir.path().join("root-a");
    let (_, image_bytes) = push_image(&fx, "team/app", "1.0", &[7u8; 300_000]).await;
    let orphan = vec![9u8; 123_456];
    let orphan_digest = push_blob(&fx.client(), &fx.url(), "team/app", &orphan).await;

    let usage = usage_ready(&fx, true).await;
    assert_eq!(usage["driver"], "filesystem");
    assert_eq!(
        usage["blobBytes"],
        image_bytes + orphan.len() as u64,
        "{usage:#}"
    );
    assert_eq!(usage["reclaimableBytes"], orphan.len() as u64, "{usage:#}");
    assert_eq!(usage["reclaimableBlobs"], 1);
    let repo = &usage["repositories"][0];
    assert_eq!(repo["name"], "team/app");
    assert_eq!(repo["uniqueBytes"], image_bytes);
    assert_eq!(repo["tags"][0]["tag"], "1.0");
    assert_eq!(repo["tags"][0]["bytes"], image_bytes);

    // The dry run says what goes and deletes nothing.
    let dry = fx
        .ok("gcRun", json!({ "dryRun": true, "gracePeriodSeconds": 0 }))
        .await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["blobsSwept"], 1, "{dry:#}");
    assert_eq!(dry["bytesSwept"], orphan.len() as u64);
    assert!(blob_path(&root, &orphan_digest).exists());
    // With the default grace period a blob pushed a moment ago stays.
    let young = fx.ok("gcRun", json!({ "dryRun": true })).await;
    assert_eq!(young["blobsSwept"], 0, "{young:#}");

    let history_before = fx.ok("diskHistory", json!({})).await;
    assert!(!history_before["samples"].as_array().unwrap().is_empty());

    let done = fx.ok("gcRun", json!({ "gracePeriodSeconds": 0 })).await;
    assert_eq!(done["blobsSwept"], 1, "{done:#}");
    assert!(
        !blob_path(&root, &orphan_digest).exists(),
        "the orphan is gone"
    );
    let usage = usage_ready(&fx, false).await;
    assert_eq!(usage["reclaimableBytes"], 0, "{usage:#}");
    assert_eq!(
        log_lines_with(
            &fx,
            "Reclaim space freed 120.6 KiB (1 blob, 0 untagged manifests)"
        )
        .await
        .len(),
        1
    );

    // History: a sample after the collection, kept across a restart of the app.
    let history = fx.ok("diskHistory", json!({})).await;
    let samples = history["samples"].as_array().unwrap().clone();
    let last = samples.last().unwrap();
    assert_eq!(last["reclaimableBytes"], 0, "{history:#}");
    assert_eq!(last["blobBytes"], image_bytes);
    assert!(last["volumeFree"].as_u64().unwrap() > 0);
    assert!(
        samples
            .iter()
            .any(|s| s["reclaimableBytes"] == orphan.len() as u64)
    );
    assert_eq!(history["days"].as_array().unwrap().len(), 1);
    fx.admin.shutdown().await;
    let again = berth_admin::Admin::start_with(options(fx.dir.path()), tuning())
        .await
        .unwrap();
    let kept = again.call("diskHistory", json!({})).await.unwrap();
    assert_eq!(kept["samples"].as_array().unwrap(), &samples);
    again.shutdown().await;
}

#[tokio::test]
async fn usage_needs_a_running_registry() {
    let fx = Fixture::start().await;
    fx.ok("stop", json!({})).await;
    let e = fx.err("diskUsage", json!({})).await;
    assert_eq!(e.code, berth_admin::ErrorCode::Sidecar, "{e:?}");
    assert!(e.hint.contains("Status page"), "{}", e.hint);
}
