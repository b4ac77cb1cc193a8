//! `berthd gc` against a store pushed through a real `berthd serve`:
//! tagged images, an untagged manifest, an index whose children are
//! untagged, a referrer (signature) of a tagged image and an orphan blob.
//! Checks Distribution's mark-and-sweep semantics, `--delete-untagged`,
//! the grace period, and that the collected store still serves every tag,
//! through berthd and through CNCF Distribution.

use std::path::Path;
use std::process::Command;

use berth_e2e::api::media_type::{
    OCI_CONFIG as CONFIG, OCI_INDEX as INDEX, OCI_LAYER_GZIP as LAYER, OCI_MANIFEST as MANIFEST,
};
use berth_e2e::api::{Api, Descriptor, oci_index, oci_manifest, sha256_digest, text};
use berth_e2e::image::random_bytes;
use berth_e2e::registry::{Options, Registry};
use serde_json::{Value, json};

struct Pushed {
    digest: String,
    body: Vec<u8>,
    blobs: Vec<String>,
}

fn push_image(
    api: &Api,
    repo: &str,
    reference: Option<&str>,
    seed: u64,
    layers: &[&[u8]],
) -> Pushed {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#);
    let config_d = Descriptor::of(CONFIG, config.as_bytes());
    api.push_blob(repo, config.as_bytes());
    let layer_ds: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor::new(LAYER, &api.push_blob(repo, l), l.len() as u64))
        .collect();
    let body = serde_json::to_vec(&oci_manifest(&config_d, &layer_ds)).unwrap();
    let digest = sha256_digest(&body);
    let resp = api.put_manifest(repo, reference.unwrap_or(&digest), MANIFEST, &body);
    assert_eq!(resp.status(), 201, "{}", text(resp));
    let mut blobs = vec![config_d.digest];
    blobs.extend(layer_ds.into_iter().map(|d| d.digest));
    Pushed {
        digest,
        body,
        blobs,
    }
}

fn gc(config: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["gc", "--json", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "berthd gc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn blob_file(root: &Path, digest: &str) -> std::path::PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    root.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

/// Pulls `repo:reference` and every blob it names (children of an index
/// too) from `api`, checking every digest.
fn assert_pullable(api: &Api, repo: &str, reference: &str, want: &str) {
    let resp = api.get_manifest(repo, reference);
    assert_eq!(resp.status(), 200, "{repo}:{reference}");
    let body = resp.bytes().unwrap().to_vec();
    assert_eq!(sha256_digest(&body), want, "{repo}:{reference}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    if let Some(children) = json["manifests"].as_array() {
        for c in children {
            let d = c["digest"].as_str().unwrap();
            assert_pullable(api, repo, d, d);
        }
        return;
    }
    let mut blobs = vec![json["config"]["digest"].as_str().unwrap().to_string()];
    for l in json["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_string());
    }
    for d in blobs {
        let resp = api.get_blob(repo, &d);
        assert_eq!(resp.status(), 200, "blob {d} of {repo}:{reference}");
        assert_eq!(sha256_digest(&resp.bytes().unwrap()), d);
    }
}

#[test]
fn gc_marks_sweeps_and_deletes_untagged_like_distribution() {
    let registry = Registry::berthd(Options::default());
    let api = Api::new(registry.url());
    let root = registry.root().to_path_buf();
    let config = registry.config_path().to_path_buf();
    let base = random_bytes(1, 30_000);
    let v1 = push_image(
        &api,
        "app",
        Some("v1"),
        1,
        &[&base, &random_bytes(2, 5_000)],
    );
    let untagged = push_image(&api, "app", None, 3, &[&base, &random_bytes(4, 7_000)]);
    let child1 = push_image(&api, "app", None, 5, &[&base, &random_bytes(6, 2_000)]);
    let child2 = push_image(&api, "app", None, 7, &[&random_bytes(8, 3_000)]);
    let index = serde_json::to_vec(&oci_index(&[
        Descriptor::of(MANIFEST, &child1.body),
        Descriptor::of(MANIFEST, &child2.body),
    ]))
    .unwrap();
    let index_digest = sha256_digest(&index);
    assert_eq!(
        api.put_manifest("app", "multi", INDEX, &index).status(),
        201
    );
    // A signature: an artifact whose subject is v1, pushed by digest only.
    let signature = random_bytes(9, 600);
    let sig_layer = api.push_blob("app", &signature);
    let empty = Descriptor::of("application/vnd.oci.empty.v1+json", b"{}");
    api.push_blob("app", b"{}");
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "config": empty.to_json(),
        "layers": [Descriptor::new("application/octet-stream", &sig_layer, 600).to_json()],
        "subject": Descriptor::of(MANIFEST, &v1.body).to_json(),
    }))
    .unwrap();
    let referrer_digest = sha256_digest(&referrer);
    assert_eq!(
        api.put_manifest("app", &referrer_digest, MANIFEST, &referrer)
            .status(),
        201
    );
    let orphan = random_bytes(10, 40_000);
    let orphan_digest = api.push_blob("app", &orphan);

    // Dry run: only the orphan is unreferenced; nothing is deleted.
    let r = gc(&config, &["--dry-run", "--grace-period", "0s"]);
    assert_eq!(r["blobsSwept"], 1, "{r:#}");
    assert_eq!(r["bytesSwept"], 40_000);
    assert_eq!(r["manifestsDeleted"], json!([]));
    assert!(blob_file(&root, &orphan_digest).exists());

    // Dry run with --delete-untagged: the untagged image goes with its own
    // layer and config; index children and the referrer stay.
    let r = gc(
        &config,
        &["--dry-run", "--delete-untagged", "--grace-period", "0s"],
    );
    assert_eq!(
        r["manifestsDeleted"],
        json!([{ "repository": "app", "digest": untagged.digest }]),
        "{r:#}"
    );
    assert_eq!(
        r["blobsSwept"], 4,
        "orphan + untagged manifest, config, own layer: {r:#}"
    );
    assert!(blob_file(&root, &untagged.digest).exists());

    // The default grace period (1h) keeps the fresh orphan.
    let r = gc(&config, &[]);
    assert_eq!(r["blobsSwept"], 0, "{r:#}");
    assert_eq!(r["blobsKeptYoung"], 1);
    assert!(blob_file(&root, &orphan_digest).exists());

    // Without --delete-untagged, only the orphan goes.
    let r = gc(&config, &["--grace-period", "0s"]);
    assert_eq!(r["blobsSwept"], 1, "{r:#}");
    assert!(!blob_file(&root, &orphan_digest).exists());
    assert_eq!(api.get_manifest("app", &untagged.digest).status(), 200);
    assert_eq!(api.head_blob("app", &orphan_digest).status(), 404);

    // With it, the untagged image goes; everything tagged stays servable.
    let r = gc(&config, &["--delete-untagged", "--grace-period", "0s"]);
    assert_eq!(r["manifestsDeleted"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["blobsSwept"], 3, "{r:#}");
    assert_eq!(api.get_manifest("app", &untagged.digest).status(), 404);
    assert!(
        !blob_file(&root, &untagged.blobs[2]).exists(),
        "its own layer is swept"
    );
    assert!(
        blob_file(&root, &untagged.blobs[1]).exists(),
        "the shared base layer stays"
    );
    assert_pullable(&api, "app", "v1", &v1.digest);
    assert_pullable(&api, "app", "multi", &index_digest);
    assert_pullable(&api, "app", &referrer_digest, &referrer_digest);
    let referrers = api.get(&format!("/v2/app/referrers/{}", v1.digest));
    let referrers: Value = serde_json::from_slice(&referrers.bytes().unwrap()).unwrap();
    assert_eq!(
        referrers["manifests"][0]["digest"],
        referrer_digest.as_str()
    );

    // A second collection finds nothing more to do.
    let r = gc(&config, &["--delete-untagged", "--grace-period", "0s"]);
    assert_eq!(
        (r["blobsSwept"].clone(), r["manifestsDeleted"].clone()),
        (json!(0), json!([]))
    );

    // CNCF Distribution serves the collected store as it is.
    drop(api);
    let mut registry = registry;
    registry.stop();
    let Some(distribution) = Registry::distribution(Options {
        root: Some(root.clone()),
        ..Options::default()
    }) else {
        eprintln!(
            "skipping the Distribution half: install docker-registry (apt-get install docker-registry)"
        );
        return;
    };
    let api = Api::new(distribution.url());
    assert_pullable(&api, "app", "v1", &v1.digest);
    assert_pullable(&api, "app", "multi", &index_digest);
    assert_pullable(&api, "app", &referrer_digest, &referrer_digest);
}

#[test]
fn gc_help_has_examples_and_bad_durations_are_explained() {
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["gc", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("berthd gc --dry-run"), "{help}");
    assert!(help.contains("grace period"), "{help}");
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["gc", "--grace-period", "an hour"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("such as 1h"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["du", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("berthd du --config config.yml --json"),
        "{help}"
    );
}

/// Writes `n` small unreferenced blobs straight into the store, as old as
/// an orphan left by a crashed push; returns their digests, sorted.
fn write_orphans(root: &Path, n: u64) -> Vec<String> {
    let mut digests = Vec::new();
    for i in 0..n {
        let bytes = format!("orphan {i}").into_bytes();
        let digest = sha256_digest(&bytes);
        let file = blob_file(root, &digest);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
        digests.push(digest);
    }
    digests.sort();
    digests
}

#[test]
fn a_gc_killed_mid_sweep_leaves_every_tag_servable() {
    let registry = Registry::berthd(Options::default());
    let api = Api::new(registry.url());
    let root = registry.root().to_path_buf();
    let base = random_bytes(1, 30_000);
    let images: Vec<(String, Pushed)> = (0..6u64)
        .map(|i| {
            let tag = format!("v{i}");
            let pushed = push_image(
                &api,
                &format!("app/{}", i % 2),
                Some(&tag),
                i,
                &[&base, &random_bytes(100 + i, 4_000)],
            );
            (tag, pushed)
        })
        .collect();
    let orphans = write_orphans(&root, 20_000);
    let (first, last) = (orphans.first().unwrap(), orphans.last().unwrap());

    let mut child = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["gc", "--grace-period", "0s", "--config"])
        .arg(registry.config_path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The sweep goes in digest order: kill as soon as the first orphan is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while blob_file(&root, first).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep did not start in 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "berthd gc ended before sweeping"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        blob_file(&root, last).exists(),
        "the collection finished before it could be interrupted: use more orphans"
    );

    for (i, (tag, pushed)) in images.iter().enumerate() {
        assert_pullable(&api, &format!("app/{}", i % 2), tag, &pushed.digest);
    }
    // Another collection finishes the job.
    let r = gc(registry.config_path(), &["--grace-period", "0s"]);
    assert!(r["blobsSwept"].as_u64().unwrap() > 0, "{r:#}");
    assert!(!blob_file(&root, last).exists());
    assert_eq!(r["blobsMarked"], 1 + 6 * 3, "{r:#}");
    for (i, (tag, pushed)) in images.iter().enumerate() {
        assert_pullable(&api, &format!("app/{}", i % 2), tag, &pushed.digest);
    }
}
