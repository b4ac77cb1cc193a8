//! skopeo, a real registry client, against the registry: push, pull, tags,
//! delete, blob reuse, basic auth and TLS.
//!
//! Every test runs against `berthd` (`<test>::berthd`) and, as the reference
//! that proves the test itself right, against CNCF Distribution
//! (`<test>::distribution`): `cargo nextest run -p berth-e2e --test clients ::distribution`.

use berth_e2e::credentials;
use berth_e2e::image::{KIB, LayerSpec, MIB, OciLayout, Platform};
use berth_e2e::on_both;
use berth_e2e::registry::{Kind, Options, Registry};
use berth_e2e::skopeo::{Access, Failure, Skopeo, docker};
use berth_e2e::store::Store;

on_both!(
    multi_layer_image_round_trips,
    multi_arch_index_round_trips,
    tags_are_listed_and_delete_removes_the_manifest,
    delete_is_refused_when_deletes_are_disabled,
    second_push_reuses_every_blob,
    basic_auth_gates_pushes,
    tls_push_verifies_against_the_ca,
);

/// What every scenario starts from: skopeo, the registry, and the `source`
/// layout images are built into, in a scratch directory.
struct Setup {
    skopeo: Skopeo,
    registry: Registry,
    source: OciLayout,
    work: tempfile::TempDir,
}

/// Starts the peers every scenario needs; `None` (outside CI) when one is
/// missing.
fn start(kind: Kind, options: Options) -> Option<Setup> {
    let skopeo = Skopeo::find()?;
    let registry = Registry::start(kind, options)?;
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    Some(Setup {
        skopeo,
        registry,
        source,
        work,
    })
}

impl Setup {
    /// `docker://HOST/name` on the registry.
    fn remote(&self, name: &str) -> String {
        docker(&self.registry.host(), name)
    }

    /// Pulls `tag` of `remote` into a fresh layout in the scratch directory.
    fn pull(&self, remote: &str, tag: &str, access: &Access, all: bool) -> OciLayout {
        let dir = self.work.path().join("pulled");
        self.skopeo.pull(remote, &dir, tag, access, all)
    }
}

fn multi_layer_image_round_trips(kind: Kind) {
    let Some(s) = start(kind, Options::default()) else {
        return;
    };
    let image = s.source.add_image(
        "v1",
        Platform::LINUX_AMD64,
        &[
            LayerSpec::new(11, 700),
            LayerSpec::new(12, 300 * KIB),
            LayerSpec::new(13, 3 * MIB),
            LayerSpec::new(14, 24 * MIB),
        ],
    );
    assert!(image.layers[3].descriptor.size >= 20 * MIB);
    let remote = s.remote("e2e/multilayer:v1");
    let access = Access::insecure();

    s.skopeo.push(&s.source, "v1", &remote, &access);

    assert_eq!(
        s.skopeo.inspect_raw(&remote, &access),
        s.source.read_blob(&image.manifest.digest),
        "the registry serves the manifest bytes it was given"
    );
    let pulled = s.pull(&remote, "v1", &access, false);
    pulled.assert_holds_image("v1", &image);
    let by_digest = s.remote(&format!("e2e/multilayer@{}", image.manifest.digest));
    assert_eq!(s.skopeo.digest(&by_digest, &access), image.manifest.digest);
}

fn multi_arch_index_round_trips(kind: Kind) {
    let Some(s) = start(kind, Options::default()) else {
        return;
    };
    let index = s.source.add_index(
        "multi",
        &[
            Platform::LINUX_AMD64,
            Platform::LINUX_ARM64,
            Platform::LINUX_ARM_V7,
        ],
        LayerSpec::new(21, 2 * MIB),
        22,
        256 * KIB,
    );
    let remote = s.remote("e2e/multiarch:multi");
    let access = Access::insecure();

    s.skopeo.push(&s.source, "multi", &remote, &access);

    assert_eq!(
        s.skopeo.digest(&remote, &access),
        index.descriptor.digest,
        "the tag resolves to the index that was pushed"
    );
    for image in &index.images {
        let by_digest = s.remote(&format!("e2e/multiarch@{}", image.manifest.digest));
        assert_eq!(
            s.skopeo.inspect_raw(&by_digest, &access),
            s.source.read_blob(&image.manifest.digest),
            "the {:?} manifest is served by digest, byte for byte",
            image.platform
        );
    }
    let pulled = s.pull(&remote, "multi", &access, true);
    pulled.assert_holds_index("multi", &index);
}

fn tags_are_listed_and_delete_removes_the_manifest(kind: Kind) {
    let Some(s) = start(kind, Options::default()) else {
        return;
    };
    let first = s
        .source
        .add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(31, 64 * KIB)]);
    s.source.tag("v2", &first.manifest);
    let doomed = s
        .source
        .add_image("v3", Platform::LINUX_AMD64, &[LayerSpec::new(32, 64 * KIB)]);
    let access = Access::insecure();
    for tag in ["v1", "v2", "v3"] {
        s.skopeo.push(
            &s.source,
            tag,
            &s.remote(&format!("e2e/tags:{tag}")),
            &access,
        );
    }

    assert_eq!(
        s.skopeo.list_tags(&s.remote("e2e/tags"), &access),
        ["v1", "v2", "v3"]
    );

    s.skopeo.delete(&s.remote("e2e/tags:v3"), &access);

    let gone = s
        .skopeo
        .try_inspect_raw(&s.remote("e2e/tags:v3"), &access)
        .expect_err("a deleted tag no longer resolves");
    assert!(
        gone.stderr.contains("manifest unknown"),
        "inspect of a deleted tag fails with `manifest unknown`: {gone}"
    );
    let by_digest = s
        .skopeo
        .try_inspect_raw(
            &s.remote(&format!("e2e/tags@{}", doomed.manifest.digest)),
            &access,
        )
        .expect_err("a deleted manifest is not served by digest");
    assert!(
        by_digest.stderr.contains("manifest unknown"),
        "inspect of a deleted manifest fails with `manifest unknown`: {by_digest}"
    );
    assert_eq!(
        s.skopeo.list_tags(&s.remote("e2e/tags"), &access),
        ["v1", "v2"],
        "the deleted manifest's tag is gone from the list, the others stay"
    );
    assert_eq!(
        s.skopeo.digest(&s.remote("e2e/tags:v2"), &access),
        first.manifest.digest
    );
}

fn delete_is_refused_when_deletes_are_disabled(kind: Kind) {
    let options = Options {
        delete_enabled: false,
        ..Options::default()
    };
    let Some(s) = start(kind, options) else {
        return;
    };
    let image = s
        .source
        .add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(41, 4 * KIB)]);
    let remote = s.remote("e2e/keep:v1");
    let access = Access::insecure();
    s.skopeo.push(&s.source, "v1", &remote, &access);

    let refused = s
        .skopeo
        .try_delete(&remote, &access)
        .expect_err("delete fails while storage.delete.enabled is false");
    // Distribution answers 405 with the UNSUPPORTED error code.
    assert!(
        refused.stderr.contains("unsupported") || refused.stderr.contains("405"),
        "the refusal names the operation as unsupported: {refused}"
    );
    assert_eq!(s.skopeo.digest(&remote, &access), image.manifest.digest);
}

fn second_push_reuses_every_blob(kind: Kind) {
    let Some(s) = start(kind, Options::default()) else {
        return;
    };
    let image = s.source.add_image(
        "v1",
        Platform::LINUX_AMD64,
        &[LayerSpec::new(51, 512 * KIB), LayerSpec::new(52, 4 * MIB)],
    );
    let remote = s.remote("e2e/again:v1");
    let access = Access::insecure();
    s.skopeo.push(&s.source, "v1", &remote, &access);
    let store = Store::new(s.registry.root());
    let blobs_before = store.blob_files();
    assert_eq!(
        blobs_before.len(),
        image.layers.len() + 2,
        "layers, config and manifest are stored once each: {blobs_before:#?}"
    );

    // skopeo says which blobs it skipped only in its debug log when it is
    // not writing to a terminal.
    let again = s
        .skopeo
        .run([
            "--debug".into(),
            "copy".into(),
            "--dest-tls-verify=false".into(),
            s.source.reference("v1"),
            remote.clone(),
        ])
        .unwrap_or_else(|failure| panic!("second push failed: {failure}"));
    let printed = again.stderr;
    for layer in &image.layers {
        let digest = &layer.descriptor.digest;
        assert!(
            printed.contains(&format!("Skipping blob {digest} (already present)")),
            "the registry already has layer {digest}, so skopeo skips it; it printed:\n{printed}"
        );
    }
    assert!(
        !printed.contains("/blobs/uploads/"),
        "no upload is started when every blob is already there; skopeo printed:\n{printed}"
    );
    assert_eq!(
        store.blob_files(),
        blobs_before,
        "a repeated push leaves every stored blob untouched"
    );
    assert_eq!(s.skopeo.digest(&remote, &access), image.manifest.digest);
}

fn basic_auth_gates_pushes(kind: Kind) {
    let secrets = tempfile::tempdir().unwrap();
    let Some(file) = credentials::htpasswd(secrets.path(), "berth", "s3cret-pass") else {
        return;
    };
    let options = Options {
        htpasswd: Some(file),
        ..Options::default()
    };
    let Some(s) = start(kind, options) else {
        return;
    };
    let image = s
        .source
        .add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(61, 32 * KIB)]);
    let remote = s.remote("e2e/private:v1");

    let anonymous = s
        .skopeo
        .try_push(&s.source, "v1", &remote, &Access::insecure())
        .expect_err("a push without credentials is refused");
    assert_auth_error(&anonymous);
    let wrong = s
        .skopeo
        .try_push(
            &s.source,
            "v1",
            &remote,
            &Access::insecure().with_creds("berth", "wrong-pass"),
        )
        .expect_err("a push with a wrong password is refused");
    assert_auth_error(&wrong);

    let access = Access::insecure().with_creds("berth", "s3cret-pass");
    s.skopeo.push(&s.source, "v1", &remote, &access);

    let pulled = s.pull(&remote, "v1", &access, false);
    pulled.assert_holds_image("v1", &image);
    let denied = s
        .skopeo
        .try_inspect_raw(&remote, &Access::insecure())
        .expect_err("reads need credentials too");
    assert_auth_error(&denied);
}

fn assert_auth_error(failure: &Failure) {
    let said = failure.stderr.to_lowercase();
    assert!(
        said.contains("authentication required") || said.contains("unauthorized"),
        "skopeo reports an authentication error: {failure}"
    );
}

fn tls_push_verifies_against_the_ca(kind: Kind) {
    let pki = tempfile::tempdir().unwrap();
    let Some(certs) = credentials::issue_server_certificate(pki.path()) else {
        return;
    };
    let options = Options {
        tls: Some((certs.cert.clone(), certs.key.clone())),
        ..Options::default()
    };
    let Some(s) = start(kind, options) else {
        return;
    };
    let image = s
        .source
        .add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(71, 32 * KIB)]);
    let remote = s.remote("e2e/secure:v1");

    let untrusted = Access {
        tls_verify: true,
        ..Access::default()
    };
    let refused = s
        .skopeo
        .try_push(&s.source, "v1", &remote, &untrusted)
        .expect_err("without the CA the registry's certificate is not trusted");
    assert!(
        refused
            .stderr
            .contains("certificate signed by unknown authority"),
        "skopeo names the untrusted certificate: {refused}"
    );

    let trusted = Access::verified(&certs.ca_dir);
    s.skopeo.push(&s.source, "v1", &remote, &trusted);

    let pulled = s.pull(&remote, "v1", &trusted, false);
    pulled.assert_holds_image("v1", &image);
}
