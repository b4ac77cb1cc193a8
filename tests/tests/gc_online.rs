//! Online garbage collection on a serving `berthd`: skopeo and the HTTP
//! API push continuously (a bounded number of pushes, retagging as they go
//! so that untagged manifests pile up) while `POST /berth/v1/gc` runs again
//! and again with `deleteUntagged`. The store is seeded first with images
//! whose manifests are then deleted and whose blobs are aged past the grace
//! period: the pushes reuse some of those old, unreferenced blobs (a HEAD
//! finds them, no upload) while the collections sweep the rest — the race
//! the push guard and the record of used digests close. Afterwards every
//! tag is pulled and every digest checked, through the API and with skopeo.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use berth_e2e::api::media_type::{
    OCI_CONFIG as CONFIG, OCI_LAYER_GZIP as LAYER, OCI_MANIFEST as MANIFEST,
};
use berth_e2e::api::{Api, Descriptor, oci_manifest, parse_error_body, sha256_digest, text};
use berth_e2e::image::random_bytes;
use berth_e2e::image::{LayerSpec, OciLayout, Platform};
use berth_e2e::registry::{Options, Registry, client, free_port};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use serde_json::Value;

const TOKEN: &str = "gc-online-test";

fn gc(debug: u16, delete_untagged: bool) -> Value {
    let resp = client()
        .post(format!("http://127.0.0.1:{debug}/berth/v1/gc"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"dryRun":false,"deleteUntagged":{delete_untagged},"gracePeriodSeconds":600}}"#
        ))
        .send()
        .unwrap();
    let status = resp.status();
    let body = resp.text().unwrap();
    assert_eq!(status, 200, "POST /berth/v1/gc: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Pushes an image as a client does: HEAD each blob, upload the missing
/// ones, PUT the manifest. A blob swept between the HEAD and the PUT makes
/// the PUT fail with MANIFEST_BLOB_UNKNOWN; the client then pushes again.
/// Returns the manifest digest and how many PUTs were refused.
fn push(api: &Api, repo: &str, tag: Option<&str>, blobs: &[Vec<u8>]) -> (String, u32) {
    let descriptors: Vec<Descriptor> = blobs.iter().map(|b| Descriptor::of(LAYER, b)).collect();
    let config = Descriptor {
        media_type: CONFIG.into(),
        ..descriptors[0].clone()
    };
    let body = serde_json::to_vec(&oci_manifest(&config, &descriptors[1..])).unwrap();
    let digest = sha256_digest(&body);
    for refused in 0..5 {
        for (blob, d) in blobs.iter().zip(&descriptors) {
            if api.head_blob(repo, &d.digest).status() != 200 {
                api.push_blob(repo, blob);
            }
        }
        let resp = api.put_manifest(repo, tag.unwrap_or(&digest), MANIFEST, &body);
        if resp.status() == 201 {
            return (digest, refused);
        }
        let status = resp.status().as_u16();
        let bytes = resp.bytes().unwrap();
        let error = parse_error_body(&bytes).unwrap();
        assert_eq!(
            (status, error.codes()),
            (400, vec!["MANIFEST_BLOB_UNKNOWN"]),
            "the only refusal a collection may cause"
        );
    }
    panic!("{repo}: manifest refused five times in a row");
}

/// The config and layers of the API pushes' image `i`: a shared base
/// layer and one of its own.
fn api_blobs(i: u64) -> Vec<Vec<u8>> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","i":{i}}}"#).into_bytes();
    vec![
        config,
        random_bytes(1, 64 * 1024),
        random_bytes(1000 + i, 8 * 1024 + i as usize),
    ]
}

/// Pulls `repo:reference` and every blob it names, checking each digest.
fn assert_pullable(api: &Api, repo: &str, reference: &str, want: &str) {
    let resp = api.get_manifest(repo, reference);
    assert_eq!(resp.status(), 200, "{repo}:{reference}: {}", text(resp));
    let body = resp.bytes().unwrap().to_vec();
    assert_eq!(sha256_digest(&body), want, "{repo}:{reference}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    let mut blobs = vec![json["config"]["digest"].as_str().unwrap().to_string()];
    for l in json["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_string());
    }
    for d in blobs {
        let resp = api.get_blob(repo, &d);
        assert_eq!(resp.status(), 200, "blob {d} of {repo}:{reference}");
        assert_eq!(
            sha256_digest(&resp.bytes().unwrap()),
            d,
            "{repo}:{reference}"
        );
    }
}

#[test]
fn pushes_during_repeated_online_gc_lose_nothing() {
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let debug = free_port();
    let registry = Registry::berthd(Options {
        env: vec![
            (
                "REGISTRY_HTTP_DEBUG_ADDR".into(),
                format!("127.0.0.1:{debug}"),
            ),
            ("BERTH_ADMIN_TOKEN".into(), TOKEN.into()),
        ],
        ..Options::default()
    });
    let host = registry.host();
    let seed_api = Api::new(registry.url());
    let layout_dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(layout_dir.path());
    // Seed: every image the pushers will push, and as many that nobody
    // pushes again, then their manifests deleted and their blobs aged.
    let mut seeded = Vec::new();
    for i in 0..16u64 {
        let tag = format!("seed{i}");
        let image = layout.add_image(
            &tag,
            Platform::LINUX_AMD64,
            &[
                LayerSpec::new(100, 48 * 1024),
                LayerSpec::new(200 + i, 16 * 1024),
            ],
        );
        skopeo.push(
            &layout,
            &tag,
            &docker(&host, &format!("skopeo/app:{tag}")),
            &Access::insecure(),
        );
        seeded.push(("skopeo/app".to_string(), image.manifest.digest.clone()));
    }
    for i in 0..80u64 {
        let (digest, _) = push(&seed_api, &format!("api/r{}", i % 3), None, &api_blobs(i));
        seeded.push((format!("api/r{}", i % 3), digest));
    }
    for (repo, digest) in &seeded {
        let resp = seed_api.delete(&format!("/v2/{repo}/manifests/{digest}"));
        assert_eq!(resp.status(), 202, "{}", text(resp));
    }
    let aged = std::process::Command::new("find")
        .arg(registry.root().join("docker/registry/v2/blobs"))
        .args([
            "-type",
            "f",
            "-exec",
            "touch",
            "-m",
            "-d",
            "2 hours ago",
            "{}",
            "+",
        ])
        .status()
        .unwrap();
    assert!(aged.success());
    let pushing = Arc::new(AtomicBool::new(true));
    let expected: Arc<Mutex<BTreeMap<(String, String), String>>> = Arc::default();

    // skopeo: the first eight seeded images over four tags (each retagged once).
    let skopeo_pusher = {
        let (expected, host, skopeo) = (expected.clone(), host.clone(), skopeo.clone());
        std::thread::spawn(move || {
            for i in 0..8u64 {
                let tag = format!("s{}", i % 4);
                let image = layout.add_image(
                    &tag,
                    Platform::LINUX_AMD64,
                    &[
                        LayerSpec::new(100, 48 * 1024),
                        LayerSpec::new(200 + i, 16 * 1024),
                    ],
                );
                let dest = docker(&host, &format!("skopeo/app:{tag}"));
                let mut tries = 0;
                while let Err(failure) = skopeo.try_push(&layout, &tag, &dest, &Access::insecure())
                {
                    tries += 1;
                    let said = failure.to_string();
                    assert!(
                        tries < 5
                            && (said.contains("MANIFEST_BLOB_UNKNOWN")
                                || said.contains("manifest blob unknown")),
                        "skopeo push {tag} failed: {said}"
                    );
                }
                expected
                    .lock()
                    .unwrap()
                    .insert(("skopeo/app".into(), tag), image.manifest.digest.clone());
            }
        })
    };

    // The API: the first forty seeded images over ten tags, every fourth
    // one untagged.
    let api_pusher = {
        let (expected, url) = (expected.clone(), registry.url());
        std::thread::spawn(move || {
            let api = Api::new(url);
            let mut refused = 0;
            for i in 0..40u64 {
                let blobs = api_blobs(i);
                let repo = format!("api/r{}", i % 3);
                if i % 4 == 3 {
                    push(&api, &repo, None, &blobs);
                    continue;
                }
                let tag = format!("h{}", i % 10);
                let (digest, r) = push(&api, &repo, Some(&tag), &blobs);
                refused += r;
                let mut expected = expected.lock().unwrap();
                // A tag of another repository with the same name is another tag.
                expected.insert((repo, tag), digest);
            }
            refused
        })
    };

    let collector = {
        let pushing = pushing.clone();
        std::thread::spawn(move || {
            let mut reports = Vec::new();
            let mut n = 0;
            while pushing.load(Ordering::Relaxed) {
                reports.push(gc(debug, n % 2 == 0));
                n += 1;
            }
            reports
        })
    };
    if skopeo_pusher.join().is_err() {
        panic!("the skopeo pushes failed; berthd said:\n{}", registry.log());
    }
    let refused = api_pusher.join().unwrap();
    pushing.store(false, Ordering::Relaxed);
    let mut reports = collector.join().unwrap();
    let during = reports.len();
    reports.push(gc(debug, true));
    let swept: u64 = reports
        .iter()
        .map(|r| r["blobsSwept"].as_u64().unwrap())
        .sum();
    let deleted: usize = reports
        .iter()
        .map(|r| r["manifestsDeleted"].as_array().unwrap().len())
        .sum();
    eprintln!(
        "{during} collections ran during the pushes; {swept} blobs swept and {deleted} \
         untagged manifests deleted in all; {refused} manifest PUTs refused and pushed again"
    );
    assert!(during >= 1, "no collection ran while pushing");
    assert!(
        swept > 0 && deleted > 0,
        "the collections found no garbage: {reports:#?}"
    );

    let api = Api::new(registry.url());
    let expected = expected.lock().unwrap().clone();
    // Four skopeo tags; 30 tagged API pushes over (repository, tag) pairs.
    assert!(expected.len() > 4 + 10, "{expected:?}");
    for ((repo, tag), digest) in &expected {
        assert_pullable(&api, repo, tag, digest);
    }
    // skopeo verifies every digest it copies.
    for i in 0..4 {
        let out = tempfile::tempdir().unwrap();
        let tag = format!("s{i}");
        skopeo.pull(
            &docker(&host, &format!("skopeo/app:{tag}")),
            out.path(),
            &tag,
            &Access::insecure(),
            false,
        );
    }
}
