//! `berthd du` and `berthd gc` on every cloud backend (Ceph RGW for S3,
//! Azurite, Swift, the GCS emulator): the figures come from listing the
//! bucket, and the sweep deletes the orphan and nothing a tag needs.

use std::process::Command;

use berth_e2e::api::{Api, Descriptor, oci_manifest, sha256_digest, text};
use berth_e2e::backends::{Backend, BackendConfig};
use berth_e2e::image::random_bytes;
use berth_e2e::registry::{Options, Registry, berthd_bin};
use serde_json::Value;

macro_rules! on_every_backend {
    ($test:ident) => {
        mod $test {
            use super::Backend;
            #[test]
            fn s3() {
                super::$test(Backend::S3)
            }
            #[test]
            fn azure() {
                super::$test(Backend::Azure)
            }
            #[test]
            fn swift() {
                super::$test(Backend::Swift)
            }
            #[test]
            fn gcs() {
                super::$test(Backend::Gcs)
            }
        }
    };
}

fn berthd(registry: &Registry, config: &BackendConfig, args: &[&str]) -> Value {
    let out = Command::new(berthd_bin())
        .args(args)
        .args(["--json", "--config"])
        .arg(registry.config_path())
        .envs(config.env.iter().cloned())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "berthd {args:?} on {}: {}",
        config.driver,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn du_and_gc_by_listing(backend: Backend) {
    let Some(config) = backend.config() else {
        return;
    };
    let registry = Registry::berthd(Options {
        driver_yaml: Some(config.driver_yaml.clone()),
        env: config.env.clone(),
        ..Options::default()
    });
    let api = Api::new(registry.url());
    let shared = random_bytes(1, 20_000);
    let mut tagged = Vec::new();
    for (repo, seed) in [("team/a", 2), ("team/b", 3)] {
        let own = random_bytes(seed, 10_000);
        let config_blob = format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#);
        let cd = Descriptor::new(
            "application/vnd.oci.image.config.v1+json",
            &api.push_blob(repo, config_blob.as_bytes()),
            config_blob.len() as u64,
        );
        let layers: Vec<Descriptor> = [&shared, &own]
            .iter()
            .map(|l| {
                Descriptor::new(
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                    &api.push_blob(repo, l),
                    l.len() as u64,
                )
            })
            .collect();
        let body = serde_json::to_vec(&oci_manifest(&cd, &layers)).unwrap();
        let resp = api.put_manifest(
            repo,
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            &body,
        );
        assert_eq!(resp.status(), 201, "{}", text(resp));
        tagged.push((repo, sha256_digest(&body), layers));
    }
    let orphan = api.push_blob("team/a", &random_bytes(9, 30_000));

    let u = berthd(&registry, &config, &["du"]);
    assert_eq!(u["driver"], config.driver);
    assert_eq!(u["blobs"], 8, "{u:#}");
    assert_eq!(u["reclaimableBlobs"], 1);
    assert_eq!(u["reclaimableBytes"], 30_000);
    for r in u["repositories"].as_array().unwrap() {
        assert_eq!(r["sharedBytes"], 20_000, "{r:#}");
    }

    let r = berthd(&registry, &config, &["gc", "--grace-period", "0s"]);
    assert_eq!(r["blobsSwept"], 1, "{r:#}");
    assert_eq!(r["blobsMarked"], 7);
    assert_eq!(api.head_blob("team/a", &orphan).status(), 404);
    for (repo, digest, layers) in &tagged {
        let resp = api.get_manifest(repo, "v1");
        assert_eq!(resp.status(), 200);
        assert_eq!(&sha256_digest(&resp.bytes().unwrap()), digest);
        for l in layers {
            assert_eq!(
                api.head_blob(repo, &l.digest).status(),
                200,
                "{repo} {}",
                l.digest
            );
        }
    }
    let u = berthd(&registry, &config, &["du"]);
    assert_eq!(
        (u["blobs"].clone(), u["reclaimableBlobs"].clone()),
        (7.into(), 0.into())
    );
}

on_every_backend!(du_and_gc_by_listing);
