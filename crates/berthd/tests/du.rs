//! `berthd du` and `GET /berth/v1/usage` against stores pushed through a
//! real `berthd serve`, with known sizes, a layer shared by two
//! repositories and an orphan blob.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::api::media_type::{
    OCI_CONFIG as CONFIG, OCI_LAYER_GZIP as LAYER, OCI_MANIFEST as MANIFEST,
};
use berth_e2e::api::{Api, Descriptor, oci_manifest, text};
use berth_e2e::image::random_bytes;
use berth_e2e::registry::{Options, Registry, client, free_port};
use serde_json::Value;

/// Pushes an image; returns its manifest's digest and size.
fn push_image(
    api: &Api,
    repo: &str,
    reference: &str,
    config: &[u8],
    layers: &[&[u8]],
) -> (String, u64) {
    let config_d = Descriptor::new(CONFIG, &api.push_blob(repo, config), config.len() as u64);
    let layer_ds: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor::new(LAYER, &api.push_blob(repo, l), l.len() as u64))
        .collect();
    let body = serde_json::to_vec(&oci_manifest(&config_d, &layer_ds)).unwrap();
    let resp = api.put_manifest(repo, reference, MANIFEST, &body);
    assert_eq!(
        resp.status(),
        201,
        "PUT manifest {repo}:{reference}: {}",
        text(resp)
    );
    (berth_e2e::api::sha256_digest(&body), body.len() as u64)
}

fn du_json(config: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["du", "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn repo<'a>(usage: &'a Value, name: &str) -> &'a Value {
    usage["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no repository {name} in {usage:#}"))
}

/// Every file below `dir` (count, bytes), skipping the filesystem driver's `_tmp`.
fn files(dir: &Path) -> (u64, u64) {
    let (mut n, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            let (a, b) = files(&entry.path());
            n += a;
            bytes += b;
        } else {
            n += 1;
            bytes += meta.len();
        }
    }
    (n, bytes)
}

#[test]
fn du_counts_shared_layers_once_and_orphans_as_reclaimable() {
    let registry = Registry::berthd(Options::default());
    let api = Api::new(registry.url());
    let shared = random_bytes(1, 10_000);
    let a_only = random_bytes(2, 20_000);
    let b_only = random_bytes(3, 30_000);
    let orphan = random_bytes(4, 40_000);
    let config_a = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"a"}"#;
    let config_b = br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"b"}"#;
    let (ma, ma_len) = push_image(&api, "team/a", "1.0", config_a, &[&shared, &a_only]);
    let (mb, mb_len) = push_image(&api, "team/b", "latest", config_b, &[&shared, &b_only]);
    api.push_blob("scratch", &orphan);

    let u = du_json(registry.config_path());
    let ca = config_a.len() as u64;
    let cb = config_b.len() as u64;
    assert_eq!(u["blobs"], 8, "{u:#}");
    let all = ca + cb + ma_len + mb_len + 10_000 + 20_000 + 30_000 + 40_000;
    assert_eq!(u["blobBytes"], all);
    assert_eq!(u["reclaimableBlobs"], 1);
    assert_eq!(u["reclaimableBytes"], 40_000);
    assert_eq!(u["driver"], "filesystem");
    let a = repo(&u, "team/a");
    assert_eq!(a["uniqueBytes"], 20_000 + ca + ma_len, "{a:#}");
    assert_eq!(a["sharedBytes"], 10_000);
    assert_eq!(a["totalBytes"], 30_000 + ca + ma_len);
    assert_eq!(a["manifests"], 1);
    assert_eq!(a["tags"][0]["tag"], "1.0");
    assert_eq!(a["tags"][0]["digest"], ma.as_str());
    assert_eq!(a["tags"][0]["bytes"], 30_000 + ca + ma_len);
    let b = repo(&u, "team/b");
    assert_eq!(b["uniqueBytes"], 30_000 + cb + mb_len);
    assert_eq!(b["sharedBytes"], 10_000);
    assert_eq!(b["tags"][0]["digest"], mb.as_str());
    let scratch = repo(&u, "scratch");
    assert_eq!(scratch["totalBytes"], 0);
    // Largest first.
    assert_eq!(u["repositories"][0]["name"], "team/b");
    // Every object of the store, links included, as on disk.
    let (objects, bytes) = files(&registry.root().join("docker"));
    assert_eq!(u["objects"], objects, "{u:#}");
    assert_eq!(u["totalBytes"], bytes);

    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["du", "--config"])
        .arg(registry.config_path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("REPOSITORY"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("reclaimable")
            && l.contains("39.1 KiB")
            && l.contains("1 blobs")),
        "{table}"
    );
    let line_a = table
        .lines()
        .find(|l| l.starts_with("team/a "))
        .expect(&table);
    assert!(
        line_a.contains("9.8 KiB"),
        "shared layer of team/a: {line_a}"
    );
}

/// `GET /berth/v1/usage` with the admin token.
fn usage(api_port: u16, token: &str, refresh: bool) -> (u16, Value) {
    let url = format!(
        "http://127.0.0.1:{api_port}/berth/v1/usage{}",
        if refresh { "?refresh=true" } else { "" }
    );
    let resp = client()
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().unwrap()).unwrap())
}

fn ready_usage(port: u16, token: &str, refresh: bool) -> Value {
    let (_, mut status) = usage(port, token, refresh);
    let deadline = Instant::now() + Duration::from_secs(60);
    while status["state"] != "ready" {
        assert!(
            Instant::now() < deadline,
            "no usage figures after 60 s: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
        status = usage(port, token, false).1;
    }
    status["usage"].clone()
}

fn without_times(mut v: Value) -> Value {
    for k in ["scannedAt", "scanMillis", "updatedAt"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn the_running_registry_keeps_usage_up_to_date_without_rescanning() {
    let debug = free_port();
    let token = "usage-test-token";
    let registry = Registry::berthd(Options {
        env: vec![
            (
                "REGISTRY_HTTP_DEBUG_ADDR".into(),
                format!("127.0.0.1:{debug}"),
            ),
            ("BERTH_ADMIN_TOKEN".into(), token.into()),
        ],
        ..Options::default()
    });
    let api = Api::new(registry.url());
    // Without the token: refused.
    let resp = client()
        .get(format!("http://127.0.0.1:{debug}/berth/v1/usage"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    let first = ready_usage(debug, token, false);
    assert_eq!(first["blobs"], 0, "{first:#}");
    let scanned_at = first["scannedAt"].clone();

    let layer = random_bytes(7, 50_000);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (m, m_len) = push_image(&api, "app", "v1", config, &[&layer]);
    let after_push = ready_usage(debug, token, false);
    assert_eq!(
        after_push["scannedAt"], scanned_at,
        "updated, not rescanned"
    );
    assert_eq!(after_push["blobs"], 3);
    let app = repo(&after_push, "app");
    assert_eq!(app["uniqueBytes"], 50_000 + config.len() as u64 + m_len);
    assert_eq!(app["tags"][0]["tag"], "v1");
    assert_eq!(after_push["reclaimableBytes"], 0);

    // Deleting the manifest makes its blobs reclaimable.
    let resp = api.delete(&format!("/v2/app/manifests/{m}"));
    assert_eq!(resp.status(), 202);
    let after_delete = ready_usage(debug, token, false);
    assert_eq!(after_delete["reclaimableBlobs"], 3, "{after_delete:#}");
    assert_eq!(repo(&after_delete, "app")["tags"], serde_json::json!([]));
    // A rescan finds the same as the running figures.
    let rescanned = ready_usage(debug, token, true);
    assert_ne!(rescanned["scannedAt"], scanned_at);
    assert_eq!(without_times(rescanned), without_times(after_delete));

    // Online GC through the admin API frees them.
    let resp = client()
        .post(format!("http://127.0.0.1:{debug}/berth/v1/gc"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(r#"{"dryRun":false,"deleteUntagged":false,"gracePeriodSeconds":0}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report: Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    assert_eq!(report["blobsSwept"], 3, "{report:#}");
    let after_gc = ready_usage(debug, token, false);
    assert_eq!(after_gc["blobs"], 0, "{after_gc:#}");
    assert_eq!(after_gc["reclaimableBytes"], 0);
    let rescanned = ready_usage(debug, token, true);
    assert_eq!(without_times(rescanned), without_times(after_gc));
}
