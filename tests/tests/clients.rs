//! skopeo, a real registry client, against the registry: push, pull, tags,
//! delete, blob reuse, basic auth and TLS.
//!
//! Every test runs against `berthd` (module `berthd`) and, as the reference
//! that proves the test itself right, against CNCF Distribution (module
//! `distribution`): `cargo nextest run -p berth-e2e --test clients distribution::`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_e2e::image::{LayerSpec, OciLayout, Platform};
use berth_e2e::peer;
use berth_e2e::registry::{Kind, Options, Registry};
use berth_e2e::skopeo::{Access, Skopeo, docker};

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
    multi_layer_image_round_trips,
    multi_arch_index_round_trips,
    tags_are_listed_and_delete_removes_the_manifest,
    delete_is_refused_when_deletes_are_disabled,
    second_push_reuses_every_blob,
    basic_auth_gates_pushes,
    tls_push_verifies_against_the_ca,
);

/// The peers every scenario needs; `None` (outside CI) when one is missing.
fn start(kind: Kind, options: Options) -> Option<(Skopeo, Registry)> {
    let skopeo = Skopeo::find()?;
    let registry = Registry::start(kind, options)?;
    Some((skopeo, registry))
}

fn multi_layer_image_round_trips(kind: Kind) {
    let Some((skopeo, registry)) = start(kind, Options::default()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image(
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
    let remote = docker(&registry.host(), "e2e/multilayer:v1");
    let access = Access::insecure();

    skopeo.push(&source, "v1", &remote, &access, false);

    assert_eq!(
        skopeo.inspect_raw(&remote, &access),
        source.read_blob(&image.manifest.digest),
        "the registry serves the manifest bytes it was given"
    );
    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "v1", &access, false);
    pulled.assert_holds_image("v1", &image);
    let by_digest = docker(
        &registry.host(),
        &format!("e2e/multilayer@{}", image.manifest.digest),
    );
    assert_eq!(skopeo.digest(&by_digest, &access), image.manifest.digest);
}

fn multi_arch_index_round_trips(kind: Kind) {
    let Some((skopeo, registry)) = start(kind, Options::default()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let index = source.add_index(
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
    let remote = docker(&registry.host(), "e2e/multiarch:multi");
    let access = Access::insecure();

    skopeo.push(&source, "multi", &remote, &access, true);

    assert_eq!(
        skopeo.digest(&remote, &access),
        index.descriptor.digest,
        "the tag resolves to the index that was pushed"
    );
    for image in &index.images {
        let by_digest = docker(
            &registry.host(),
            &format!("e2e/multiarch@{}", image.manifest.digest),
        );
        assert_eq!(
            skopeo.inspect_raw(&by_digest, &access),
            source.read_blob(&image.manifest.digest),
            "the {:?} manifest is served by digest, byte for byte",
            image.platform
        );
    }
    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "multi", &access, true);
    pulled.assert_holds_index("multi", &index);
}

fn tags_are_listed_and_delete_removes_the_manifest(kind: Kind) {
    let Some((skopeo, registry)) = start(kind, Options::default()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let first = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(31, 64 * KIB)]);
    source.tag("v2", &first.manifest);
    let doomed = source.add_image("v3", Platform::LINUX_AMD64, &[LayerSpec::new(32, 64 * KIB)]);
    let host = registry.host();
    let access = Access::insecure();
    for tag in ["v1", "v2", "v3"] {
        skopeo.push(
            &source,
            tag,
            &docker(&host, &format!("e2e/tags:{tag}")),
            &access,
            false,
        );
    }

    assert_eq!(
        skopeo.list_tags(&docker(&host, "e2e/tags"), &access),
        ["v1", "v2", "v3"]
    );

    skopeo.delete(&docker(&host, "e2e/tags:v3"), &access);

    let gone = skopeo
        .try_inspect_raw(&docker(&host, "e2e/tags:v3"), &access)
        .expect_err("a deleted tag no longer resolves");
    assert!(
        gone.stderr.contains("manifest unknown"),
        "inspect of a deleted tag fails with `manifest unknown`: {gone}"
    );
    let by_digest = skopeo
        .try_inspect_raw(
            &docker(&host, &format!("e2e/tags@{}", doomed.manifest.digest)),
            &access,
        )
        .expect_err("a deleted manifest is not served by digest");
    assert!(
        by_digest.stderr.contains("manifest unknown"),
        "inspect of a deleted manifest fails with `manifest unknown`: {by_digest}"
    );
    assert_eq!(
        skopeo.list_tags(&docker(&host, "e2e/tags"), &access),
        ["v1", "v2"],
        "the deleted manifest's tag is gone from the list, the others stay"
    );
    assert_eq!(
        skopeo.digest(&docker(&host, "e2e/tags:v2"), &access),
        first.manifest.digest
    );
}

fn delete_is_refused_when_deletes_are_disabled(kind: Kind) {
    let options = Options {
        delete_enabled: false,
        ..Options::default()
    };
    let Some((skopeo, registry)) = start(kind, options) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(41, 4 * KIB)]);
    let remote = docker(&registry.host(), "e2e/keep:v1");
    let access = Access::insecure();
    skopeo.push(&source, "v1", &remote, &access, false);

    let refused = skopeo
        .try_delete(&remote, &access)
        .expect_err("delete fails while storage.delete.enabled is false");
    // Distribution answers 405 with the UNSUPPORTED error code.
    assert!(
        refused.stderr.contains("unsupported") || refused.stderr.contains("405"),
        "the refusal names the operation as unsupported: {refused}"
    );
    assert_eq!(skopeo.digest(&remote, &access), image.manifest.digest);
}

fn second_push_reuses_every_blob(kind: Kind) {
    let Some((skopeo, registry)) = start(kind, Options::default()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image(
        "v1",
        Platform::LINUX_AMD64,
        &[LayerSpec::new(51, 512 * KIB), LayerSpec::new(52, 4 * MIB)],
    );
    let remote = docker(&registry.host(), "e2e/again:v1");
    let access = Access::insecure();
    skopeo.push(&source, "v1", &remote, &access, false);
    let blobs_before = blob_files(registry.root());
    assert_eq!(
        blobs_before.len(),
        image.layers.len() + 2,
        "layers, config and manifest are stored once each: {blobs_before:#?}"
    );

    // skopeo says which blobs it skipped only in its debug log when it is
    // not writing to a terminal.
    let again = skopeo
        .run([
            "--debug".into(),
            "copy".into(),
            "--dest-tls-verify=false".into(),
            source.reference("v1"),
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
        blob_files(registry.root()),
        blobs_before,
        "a repeated push leaves every stored blob untouched"
    );
    assert_eq!(skopeo.digest(&remote, &access), image.manifest.digest);
}

fn basic_auth_gates_pushes(kind: Kind) {
    let Some(htpasswd) = peer::require("htpasswd", "apache2-utils") else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("htpasswd");
    let entry = Command::new(htpasswd)
        .args(["-Bbn", "berth", "s3cret-pass"])
        .output()
        .expect("run htpasswd");
    assert!(entry.status.success(), "htpasswd failed: {entry:?}");
    std::fs::write(&file, &entry.stdout).unwrap();
    let options = Options {
        htpasswd: Some(file),
        ..Options::default()
    };
    let Some((skopeo, registry)) = start(kind, options) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(61, 32 * KIB)]);
    let remote = docker(&registry.host(), "e2e/private:v1");

    let anonymous = skopeo
        .try_push(&source, "v1", &remote, &Access::insecure(), false)
        .expect_err("a push without credentials is refused");
    assert_auth_error(&anonymous);
    let wrong = skopeo
        .try_push(
            &source,
            "v1",
            &remote,
            &Access::insecure().with_creds("berth", "wrong-pass"),
            false,
        )
        .expect_err("a push with a wrong password is refused");
    assert_auth_error(&wrong);

    let access = Access::insecure().with_creds("berth", "s3cret-pass");
    skopeo.push(&source, "v1", &remote, &access, false);

    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "v1", &access, false);
    pulled.assert_holds_image("v1", &image);
    let denied = skopeo
        .try_inspect_raw(&remote, &Access::insecure())
        .expect_err("reads need credentials too");
    assert_auth_error(&denied);
}

fn assert_auth_error(failure: &berth_e2e::skopeo::Failure) {
    let said = failure.stderr.to_lowercase();
    assert!(
        said.contains("authentication required") || said.contains("unauthorized"),
        "skopeo reports an authentication error: {failure}"
    );
}

fn tls_push_verifies_against_the_ca(kind: Kind) {
    let Some(openssl) = peer::require("openssl", "openssl") else {
        return;
    };
    let pki = tempfile::tempdir().unwrap();
    let certs = issue_server_certificate(&openssl, pki.path());
    let options = Options {
        tls: Some((certs.server_cert.clone(), certs.server_key.clone())),
        ..Options::default()
    };
    let Some((skopeo, registry)) = start(kind, options) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(71, 32 * KIB)]);
    let remote = docker(&registry.host(), "e2e/secure:v1");

    let untrusted = Access {
        tls_verify: true,
        ..Access::default()
    };
    let refused = skopeo
        .try_push(&source, "v1", &remote, &untrusted, false)
        .expect_err("without the CA the registry's certificate is not trusted");
    assert!(
        refused
            .stderr
            .contains("certificate signed by unknown authority"),
        "skopeo names the untrusted certificate: {refused}"
    );

    let trusted = Access::verified(&certs.ca_dir);
    skopeo.push(&source, "v1", &remote, &trusted, false);

    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "v1", &trusted, false);
    pulled.assert_holds_image("v1", &image);
}

/// A CA in a skopeo cert dir (`ca.crt`) and a server certificate it signed.
struct ServerCertificate {
    ca_dir: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

/// Makes a CA and a server certificate for 127.0.0.1 (SAN IP:127.0.0.1)
/// with openssl, as an admin would for a private registry.
fn issue_server_certificate(openssl: &Path, dir: &Path) -> ServerCertificate {
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let ca_cert = ca_dir.join("ca.crt");
    let ca_key = dir.join("ca.key");
    let server_cert = dir.join("server.crt");
    let server_key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let path = |p: &Path| p.to_str().expect("temporary paths are UTF-8").to_owned();
    let run = |args: &[&str]| {
        let out = Command::new(openssl)
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (ca_cert_s, ca_key_s) = (path(&ca_cert), path(&ca_key));
    let (server_cert_s, server_key_s) = (path(&server_cert), path(&server_key));
    let (csr_s, ext_s) = (path(&csr), path(&ext));
    run(&[
        &["req", "-x509", "-days", "2", "-subj", "/CN=Berth e2e CA"],
        &p256[..],
        &["-addext", "basicConstraints=critical,CA:TRUE"],
        &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        &["-keyout", &ca_key_s, "-out", &ca_cert_s],
    ]
    .concat());
    run(&[
        &["req", "-new", "-subj", "/CN=127.0.0.1"],
        &p256[..],
        &["-keyout", &server_key_s, "-out", &csr_s],
    ]
    .concat());
    run(&[
        "x509",
        "-req",
        "-in",
        &csr_s,
        "-CA",
        &ca_cert_s,
        "-CAkey",
        &ca_key_s,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &ext_s,
        "-out",
        &server_cert_s,
    ]);
    ServerCertificate {
        ca_dir,
        server_cert,
        server_key,
    }
}

/// Every blob `data` file in a filesystem store, with what would change if
/// it were written again: inode, size and modification time.
fn blob_files(root: &Path) -> BTreeMap<PathBuf, (u64, u64, i64, i64)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.join("docker/registry/v2/blobs")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.map(Result::unwrap) {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                files.insert(
                    entry.path(),
                    (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec()),
                );
            }
        }
    }
    files
}
