//! The repository browser against a real sidecar: images and a
//! multi-platform index pushed with skopeo, a signature-like referrer
//! pushed over the API, then browsing, the delete preview, and deleting
//! tags and manifests (and the refusal when deletes are off).

mod common;

use std::path::Path;

use berth_e2e::api::Descriptor;
use berth_e2e::api::media_type::{OCI_EMPTY, OCI_MANIFEST};
use berth_e2e::image::{Image, Index, LayerSpec, OciLayout, Platform};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use common::{Fixture, config_yaml, free_port, options, tuning};
use serde_json::{Value, json};

/// skopeo, trusting the app's CA (only its certificate, in a directory of
/// its own) for the registry.
fn access(fx: &Fixture) -> Access {
    let dir = fx.dir.path().join("skopeo-certs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fx.data_dir().join("ca/ca.crt"), dir.join("ca.crt")).unwrap();
    Access::verified(dir)
}

fn host(fx: &Fixture) -> String {
    format!("127.0.0.1:{}", fx.port)
}

/// Pushes `tag` of `layout` to `repo:tag` with skopeo, off the runtime's threads.
async fn push(skopeo: &Skopeo, fx: &Fixture, layout: &OciLayout, tag: &str, repo: &str) {
    let (skopeo, layout, access) = (skopeo.clone(), layout.clone(), access(fx));
    let dest = docker(&host(fx), &format!("{repo}:{tag}"));
    let tag = tag.to_string();
    tokio::task::spawn_blocking(move || skopeo.push(&layout, &tag, &dest, &access))
        .await
        .unwrap();
}

/// A signature-like artifact whose subject is `subject`, put by digest.
async fn push_referrer(fx: &Fixture, repo: &str, subject: &Descriptor) -> String {
    let client = fx.client();
    let base = fx.url();
    let empty = b"{}";
    let empty_digest = common::push_blob(&client, &base, repo, empty).await;
    let signature = b"-----BEGIN SIGNATURE----- berth test";
    let sig_digest = common::push_blob(&client, &base, repo, signature).await;
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": { "mediaType": OCI_EMPTY, "digest": empty_digest, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": sig_digest, "size": signature.len() }],
        "subject": subject.to_json(),
        "annotations": { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    }))
    .unwrap();
    let digest = berth_e2e::api::sha256_digest(&body);
    let response = client
        .put(format!("{base}{repo}/manifests/{digest}"))
        .header("content-type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    digest
}

fn image_bytes(image: &Image) -> u64 {
    image.manifest.size + image.blobs().iter().map(|b| b.size).sum::<u64>()
}

fn index_bytes(index: &Index) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = index.descriptor.size;
    for image in &index.images {
        total += image.manifest.size;
        for blob in image.blobs() {
            if seen.insert(blob.digest.clone()) {
                total += blob.size;
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_preview_and_delete() {
    let Some(skopeo) = Skopeo::find() else { return };
    let fx = Fixture::start().await;
    let work = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(work.path().join("layout"));
    let base = LayerSpec::new(1, 200_000);
    let v1 = layout.add_image(
        "1.0",
        Platform::LINUX_AMD64,
        &[base, LayerSpec::new(2, 50_000)],
    );
    let v2 = layout.add_image(
        "2.0",
        Platform::LINUX_AMD64,
        &[base, LayerSpec::new(3, 60_000)],
    );
    let multi = layout.add_index(
        "multi",
        &[Platform::LINUX_AMD64, Platform::LINUX_ARM64],
        LayerSpec::new(10, 30_000),
        20,
        10_000,
    );
    push(&skopeo, &fx, &layout, "1.0", "team/app").await;
    push(&skopeo, &fx, &layout, "2.0", "team/app").await;
    push(&skopeo, &fx, &layout, "multi", "tools").await;
    let signature = push_referrer(&fx, "team/app", &v1.manifest).await;

    let list = fx.ok("repositories", json!({})).await;
    let names: Vec<(&str, u64)> = list["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["tags"].as_u64().unwrap()))
        .collect();
    assert_eq!(names, vec![("team/app", 2), ("tools", 1)], "{list:#}");
    assert_eq!(list["deleteEnabled"], true);
    assert_eq!(list["address"], host(&fx));

    let tags = fx.ok("repositoryTags", json!({ "name": "team/app" })).await;
    let t = &tags["tags"];
    assert_eq!(t[0]["tag"], "1.0");
    assert_eq!(t[0]["digest"], v1.manifest.digest.as_str());
    assert_eq!(t[0]["mediaType"], OCI_MANIFEST);
    assert_eq!(t[0]["bytes"], image_bytes(&v1));
    assert_eq!(t[1]["tag"], "2.0");
    assert_eq!(t[1]["bytes"], image_bytes(&v2));

    let tools = fx.ok("repositoryTags", json!({ "name": "tools" })).await;
    assert_eq!(
        tools["tags"][0]["platforms"],
        json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(tools["tags"][0]["bytes"], index_bytes(&multi));

    // The index: its platforms, each with its image's bytes.
    let index = fx
        .ok(
            "manifestGet",
            json!({ "name": "tools", "reference": "multi" }),
        )
        .await;
    assert_eq!(index["digest"], multi.descriptor.digest.as_str());
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms = index["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    assert_eq!(platforms[1]["platform"], "linux/arm64");
    assert_eq!(
        platforms[1]["digest"],
        multi.images[1].manifest.digest.as_str()
    );
    assert_eq!(platforms[1]["bytes"], image_bytes(&multi.images[1]));
    assert_eq!(index["tags"], json!(["multi"]));

    // An image: layers with sizes, the config, and its signature.
    let image = fx
        .ok(
            "manifestGet",
            json!({ "name": "team/app", "reference": "1.0" }),
        )
        .await;
    let layers = image["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (shown, pushed) in layers.iter().zip(&v1.layers) {
        assert_eq!(shown["digest"], pushed.descriptor.digest.as_str());
        assert_eq!(shown["size"], pushed.descriptor.size);
    }
    assert_eq!(image["config"]["digest"], v1.config.digest.as_str());
    assert_eq!(image["config"]["platform"], "linux/amd64");
    assert_eq!(image["totalBytes"], image_bytes(&v1));
    let referrers = image["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1, "{image:#}");
    assert_eq!(referrers[0]["digest"], signature.as_str());
    assert_eq!(
        referrers[0]["artifactType"],
        "application/vnd.dev.cosign.artifact.sig.v1+json"
    );
    // A platform of the index by its digest.
    let arm = fx
        .ok(
            "manifestGet",
            json!({ "name": "tools", "reference": multi.images[1].manifest.digest }),
        )
        .await;
    assert_eq!(arm["config"]["platform"], "linux/arm64");

    // Unknown things say so.
    let e = fx
        .err(
            "manifestGet",
            json!({ "name": "team/app", "reference": "9.9" }),
        )
        .await;
    assert_eq!(e.code, berth_admin::ErrorCode::NotFound, "{e:?}");
    let e = fx
        .err("repositoryTags", json!({ "name": "Bad Name" }))
        .await;
    assert_eq!(e.code, berth_admin::ErrorCode::InvalidInput, "{e:?}");

    // What deleting 2.0 would free: its manifest, config and own layer,
    // not the base layer 1.0 shares.
    let preview = fx
        .ok(
            "deletePreview",
            json!({ "name": "team/app", "digest": v2.manifest.digest }),
        )
        .await;
    let own = v2.manifest.size + v2.config.size + v2.layers[1].descriptor.size;
    assert_eq!(preview["bytes"], own, "{preview:#}");
    assert_eq!(preview["blobs"], 3);

    // Delete the tag 2.0: gone for skopeo too; the manifest stays by digest.
    fx.ok("tagDelete", json!({ "name": "team/app", "tag": "2.0" }))
        .await;
    let repo = docker(&host(&fx), "team/app");
    let (s, a) = (skopeo.clone(), access(&fx));
    let listed = tokio::task::spawn_blocking(move || s.list_tags(&repo, &a))
        .await
        .unwrap();
    assert_eq!(listed, vec!["1.0".to_string()]);
    let by_digest = fx
        .ok(
            "manifestGet",
            json!({ "name": "team/app", "reference": v2.manifest.digest }),
        )
        .await;
    assert_eq!(by_digest["tags"], json!([]));

    // Delete the manifest of 1.0: its tag goes with it.
    fx.ok(
        "manifestDelete",
        json!({ "name": "team/app", "digest": v1.manifest.digest }),
    )
    .await;
    let tags = fx.ok("repositoryTags", json!({ "name": "team/app" })).await;
    assert_eq!(tags["tags"], json!([]), "{tags:#}");
    let e = fx
        .err(
            "manifestGet",
            json!({ "name": "team/app", "reference": v1.manifest.digest }),
        )
        .await;
    assert_eq!(e.code, berth_admin::ErrorCode::NotFound);
    let logs = fx.ok("logs", json!({})).await;
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().contains("deleted team/app:2.0")),
        "{logs:#}"
    );
}

#[tokio::test]
async fn deletes_are_refused_when_off() {
    let dir = tempfile::Builder::new()
        .prefix("berth-admin-")
        .tempdir()
        .unwrap();
    let port = free_port();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let yaml = config_yaml(port, &dir.path().join("root-a"), "")
        .replace("delete:\n    enabled: true", "delete:\n    enabled: false");
    std::fs::write(data.join("config.yml"), yaml).unwrap();
    let admin = berth_admin::Admin::start_with(options(dir.path()), tuning())
        .await
        .unwrap();
    let fx = Fixture { dir, admin, port };
    fx.wait_state("running").await;
    let (digest, _) = push_small_image(&fx, "app", "1").await;

    let list = fx.ok("repositories", json!({})).await;
    assert_eq!(list["deleteEnabled"], false);
    let e = fx
        .err("tagDelete", json!({ "name": "app", "tag": "1" }))
        .await;
    assert!(e.message.contains("deletes are disabled"), "{e:?}");
    assert!(e.hint.contains("storage.delete.enabled"), "{e:?}");
    let e = fx
        .err("manifestDelete", json!({ "name": "app", "digest": digest }))
        .await;
    assert!(e.hint.contains("storage.delete.enabled"), "{e:?}");
    let tags = fx.ok("repositoryTags", json!({ "name": "app" })).await;
    assert_eq!(tags["tags"][0]["tag"], "1", "nothing was deleted");
    assert!(Path::new(&fx.dir.path().join("root-a")).exists());
}

/// A one-layer image put over the API; its digest and the tag list answer.
async fn push_small_image(fx: &Fixture, repo: &str, tag: &str) -> (String, Value) {
    let client = fx.client();
    let base = fx.url();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = common::push_blob(&client, &base, repo, config).await;
    let layer = b"a small layer";
    let layer_digest = common::push_blob(&client, &base, repo, layer).await;
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }],
    }))
    .unwrap();
    let response = client
        .put(format!("{base}{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let digest = response.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();
    (
        digest,
        fx.ok("repositoryTags", json!({ "name": repo })).await,
    )
}
