//! `berthd` on each cloud backend, against the real servers `make test`
//! starts (Ceph RGW, Azurite, Swift, the GCS emulator): skopeo pushes and
//! pulls an image, blob GETs redirect to the backend (and stop redirecting
//! when `storage.redirect.disable` is set), and a chunked upload survives a
//! restart of berthd between its chunks.

use berth_e2e::api::{Api, header, sha256_digest, text};
use berth_e2e::backends::{Backend, BackendConfig};
use berth_e2e::image::{KIB, LayerSpec, MIB, OciLayout, Platform};
use berth_e2e::registry::{Options, Registry};
use berth_e2e::skopeo::{Access, Skopeo, docker};

macro_rules! on_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                #[test]
                fn s3() { super::$test(Backend::S3) }
                #[test]
                fn azure() { super::$test(Backend::Azure) }
                #[test]
                fn swift() { super::$test(Backend::Swift) }
                #[test]
                fn gcs() { super::$test(Backend::Gcs) }
            }
        )*
    };
}

on_backends!(
    skopeo_round_trip_with_redirects,
    redirect_disabled_serves_blobs_itself,
    chunked_upload_survives_a_restart,
);

fn options(config: &BackendConfig, redirect_disabled: bool) -> Options {
    let mut options = Options {
        driver_yaml: Some(config.driver_yaml.clone()),
        env: config.env.clone(),
        ..Options::default()
    };
    if redirect_disabled {
        options.storage_yaml = "redirect:\n  disable: true\n".into();
    }
    options
}

/// skopeo pushes through berthd and pulls back following the 307s to the
/// backend's signed URLs (presigned, SAS, TempURL, V4 signed URL).
fn skopeo_round_trip_with_redirects(backend: Backend) {
    let (Some(skopeo), Some(config)) = (Skopeo::find(), backend.config()) else {
        return;
    };
    let registry = Registry::berthd(options(&config, false));
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image(
        "v1",
        Platform::LINUX_AMD64,
        &[
            LayerSpec::new(41, 900),
            LayerSpec::new(42, 700 * KIB),
            LayerSpec::new(43, 12 * MIB),
        ],
    );
    let remote = docker(&registry.host(), "cloud/app:v1");
    let access = Access::insecure();
    skopeo.push(&source, "v1", &remote, &access);

    let api = Api::new(registry.url());
    for blob in [&image.config, &image.layers[2].descriptor] {
        let resp = api.get_blob("cloud/app", &blob.digest);
        assert_eq!(
            resp.status(),
            307,
            "{} blob GETs redirect to the backend: {}",
            config.driver,
            text(resp)
        );
        let location = header(&resp, "location").expect("Location");
        assert!(
            !location.contains(&registry.host()),
            "the redirect points at the backend, not the registry: {location}"
        );
        let fetched = api.client().get(&location).send().unwrap();
        assert_eq!(fetched.status(), 200, "GET {location}");
        let bytes = fetched.bytes().unwrap();
        assert_eq!(bytes.len() as u64, blob.size);
        assert_eq!(
            sha256_digest(&bytes),
            blob.digest,
            "the backend serves the blob"
        );
    }

    // skopeo follows the redirects.
    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "v1", &access, false);
    pulled.assert_holds_image("v1", &image);
}

fn redirect_disabled_serves_blobs_itself(backend: Backend) {
    let Some(config) = backend.config() else {
        return;
    };
    let registry = Registry::berthd(options(&config, true));
    let api = Api::new(registry.url());
    let blob: Vec<u8> = (0..3 * MIB).map(|i| (i % 251) as u8).collect();
    let digest = api.push_blob("cloud/direct", &blob);
    let resp = api.get_blob("cloud/direct", &digest);
    assert_eq!(
        resp.status(),
        200,
        "redirect.disable: the registry serves the blob"
    );
    let bytes = resp.bytes().unwrap();
    assert_eq!(sha256_digest(&bytes), digest);
}

fn chunked_upload_survives_a_restart(backend: Backend) {
    let Some(config) = backend.config() else {
        return;
    };
    let mut registry = Registry::berthd(options(&config, true));
    let blob: Vec<u8> = (0..13 * MIB + 5).map(|i| (i * 7 % 253) as u8).collect();
    let digest = sha256_digest(&blob);
    let (first, rest) = blob.split_at(6 * MIB as usize);
    let (second, third) = rest.split_at(6 * MIB as usize);

    let api = Api::new(registry.url());
    let location = api.start_upload_location("cloud/resumed");
    let resp = api.patch_chunk(&location, 0, first);
    assert_eq!(resp.status(), 202, "{}", text(resp));
    registry.restart();
    let api = Api::new(registry.url());
    let resp = api.patch_chunk(&location, first.len() as u64, second);
    assert_eq!(resp.status(), 202, "after the restart: {}", text(resp));
    let resp = api.patch_chunk(&location, (first.len() + second.len()) as u64, third);
    assert_eq!(resp.status(), 202, "{}", text(resp));
    let resp = api.finish_upload(&location, &digest, &[]);
    assert_eq!(resp.status(), 201, "{}", text(resp));
    let resp = api.get_blob("cloud/resumed", &digest);
    assert_eq!(resp.status(), 200);
    assert_eq!(sha256_digest(&resp.bytes().unwrap()), digest);
}

/// The same bucket served by CNCF Distribution and by berthd, in both
/// directions: what one pushed, the other pulls. Distribution 2.8 has no
/// `serviceurl` for Azurite and no emulator support for GCS, so S3 and Swift
/// are the backends both can reach here.
mod interchange {
    use super::*;
    use berth_e2e::registry::Kind;

    fn both_ways(backend: Backend) {
        let (Some(skopeo), Some(config)) = (Skopeo::find(), backend.config()) else {
            return;
        };
        let Some(distribution) = Registry::start(Kind::Distribution, options(&config, false))
        else {
            return;
        };
        let berthd = Registry::berthd(options(&config, false));
        let work = tempfile::tempdir().unwrap();
        let source = OciLayout::create(work.path().join("source"));
        let access = Access::insecure();
        let from_distribution = source.add_image(
            "d1",
            Platform::LINUX_AMD64,
            &[LayerSpec::new(51, 300 * KIB), LayerSpec::new(52, 11 * MIB)],
        );
        let from_berthd = source.add_image(
            "b1",
            Platform::LINUX_ARM64,
            &[LayerSpec::new(53, 200 * KIB), LayerSpec::new(54, 9 * MIB)],
        );
        skopeo.push(
            &source,
            "d1",
            &docker(&distribution.host(), "x/app:d1"),
            &access,
        );
        skopeo.push(&source, "b1", &docker(&berthd.host(), "x/app:b1"), &access);

        let pulled = skopeo.pull(
            &docker(&berthd.host(), "x/app:d1"),
            &work.path().join("by-berthd"),
            "d1",
            &access,
            false,
        );
        pulled.assert_holds_image("d1", &from_distribution);
        let pulled = skopeo.pull(
            &docker(&distribution.host(), "x/app:b1"),
            &work.path().join("by-distribution"),
            "b1",
            &access,
            false,
        );
        pulled.assert_holds_image("b1", &from_berthd);
    }

    #[test]
    fn s3() {
        both_ways(Backend::S3)
    }

    #[test]
    fn swift() {
        both_ways(Backend::Swift)
    }
}
