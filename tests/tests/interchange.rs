//! One filesystem store, two registries: what CNCF Distribution wrote,
//! `berthd` serves, and the other way round, with the on-disk layout checked
//! file by file so a layout regression is named precisely.
//!
//! Tests named `reference_*` run the same scenario with Distribution on both
//! sides, proving the scenario itself right.

use std::collections::BTreeSet;
use std::path::Path;

use berth_e2e::image::{Image, Index, KIB, LayerSpec, MIB, OciLayout, Platform};
use berth_e2e::registry::{Kind, Options, Registry, client};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use berth_e2e::store::Store;
use serde_json::Value;

#[test]
fn distribution_writes_berthd_serves() {
    written_by_then_served_by(Kind::Distribution, Kind::Berthd);
}

#[test]
fn berthd_writes_distribution_serves() {
    written_by_then_served_by(Kind::Berthd, Kind::Distribution);
}

#[test]
fn reference_distribution_writes_distribution_serves() {
    written_by_then_served_by(Kind::Distribution, Kind::Distribution);
}

#[test]
fn berthd_and_distribution_share_a_store() {
    shared_store(Kind::Distribution, Kind::Berthd);
}

#[test]
fn reference_two_distributions_share_a_store() {
    shared_store(Kind::Distribution, Kind::Distribution);
}

/// What a test pushed: an image and a multi-platform index, with the tags
/// they were pushed under.
struct Pushed {
    repo: &'static str,
    image: Image,
    image_tags: Vec<&'static str>,
    index_repo: &'static str,
    index: Index,
    index_tag: &'static str,
}

impl Pushed {
    /// Every digest stored for this set: manifests, the index, configs and
    /// layers.
    fn digests(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.image.blob_digests().into_iter().collect();
        all.insert(self.image.manifest.digest.clone());
        all.insert(self.index.descriptor.digest.clone());
        for image in &self.index.images {
            all.insert(image.manifest.digest.clone());
            all.extend(image.blob_digests());
        }
        all
    }
}

/// Builds an image and an index in `layout`, tagged `image-SEED` and
/// `index-SEED`. The image and the index share the base layer drawn from
/// `base_seed`, so one blob is linked from several repositories; everything
/// else is drawn from `seed`.
fn build(
    layout: &OciLayout,
    seed: u64,
    base_seed: u64,
    repo: &'static str,
    index_repo: &'static str,
) -> Pushed {
    let base = LayerSpec::new(base_seed, 3 * MIB);
    let image = layout.add_image(
        &format!("image-{seed}"),
        Platform::LINUX_AMD64,
        &[
            base,
            LayerSpec::new(seed + 1, 200 * KIB),
            LayerSpec::new(seed + 2, 5 * MIB),
        ],
    );
    let index = layout.add_index(
        &format!("index-{seed}"),
        &[
            Platform::LINUX_AMD64,
            Platform::LINUX_ARM64,
            Platform::LINUX_ARM_V7,
        ],
        base,
        seed + 10,
        128 * KIB,
    );
    Pushed {
        repo,
        image,
        image_tags: vec!["v1", "latest"],
        index_repo,
        index,
        index_tag: "multi",
    }
}

fn push(skopeo: &Skopeo, layout: &OciLayout, registry: &Registry, seed: u64, pushed: &Pushed) {
    let access = Access::insecure();
    for tag in &pushed.image_tags {
        skopeo.push(
            layout,
            &format!("image-{seed}"),
            &docker(&registry.host(), &format!("{}:{tag}", pushed.repo)),
            &access,
        );
    }
    skopeo.push(
        layout,
        &format!("index-{seed}"),
        &docker(
            &registry.host(),
            &format!("{}:{}", pushed.index_repo, pushed.index_tag),
        ),
        &access,
    );
}

/// Pulls everything in `pushed` from `registry` and checks every digest.
fn assert_serves(skopeo: &Skopeo, registry: &Registry, pushed: &Pushed) {
    let access = Access::insecure();
    let who = format!("{:?}", registry.kind());
    let scratch = tempfile::tempdir().unwrap();
    for tag in &pushed.image_tags {
        let remote = docker(&registry.host(), &format!("{}:{tag}", pushed.repo));
        let pulled = skopeo
            .try_pull(&remote, &scratch.path().join(tag), tag, &access, false)
            .unwrap_or_else(|failure| panic!("{who} cannot serve {remote}: {failure}"));
        pulled.assert_holds_image(tag, &pushed.image);
    }
    let remote = docker(
        &registry.host(),
        &format!("{}:{}", pushed.index_repo, pushed.index_tag),
    );
    let pulled = skopeo
        .try_pull(
            &remote,
            &scratch.path().join("index"),
            pushed.index_tag,
            &access,
            true,
        )
        .unwrap_or_else(|failure| panic!("{who} cannot serve {remote}: {failure}"));
    pulled.assert_holds_index(pushed.index_tag, &pushed.index);
}

/// The catalog and every repository's tag list, as `registry` answers them.
fn listing(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let catalog = get_json(&format!("{}/v2/_catalog", registry.url()));
    let repos: Vec<String> = catalog["repositories"]
        .as_array()
        .unwrap_or_else(|| {
            panic!(
                "{:?} catalog has no repositories: {catalog}",
                registry.kind()
            )
        })
        .iter()
        .map(|r| r.as_str().expect("repository name").to_owned())
        .collect();
    repos
        .into_iter()
        .map(|repo| {
            let tags = get_json(&format!("{}/v2/{repo}/tags/list", registry.url()));
            let mut tags: Vec<String> = tags["tags"]
                .as_array()
                .unwrap_or_else(|| panic!("{:?} tags of {repo}: {tags}", registry.kind()))
                .iter()
                .map(|t| t.as_str().expect("tag").to_owned())
                .collect();
            tags.sort();
            (repo, tags)
        })
        .collect()
}

fn get_json(url: &str) -> Value {
    let resp = client()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
    assert!(status.is_success(), "GET {url}: {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// What both scenarios start from: skopeo, an empty store directory the
/// registries are started on, and the layout images are built into.
struct Setup {
    skopeo: Skopeo,
    store: tempfile::TempDir,
    layout: OciLayout,
    _work: tempfile::TempDir,
}

impl Setup {
    /// `None` (outside CI) when skopeo is missing.
    fn new() -> Option<Setup> {
        let skopeo = Skopeo::find()?;
        let work = tempfile::tempdir().unwrap();
        Some(Setup {
            skopeo,
            store: tempfile::tempdir().unwrap(),
            layout: OciLayout::create(work.path().join("source")),
            _work: work,
        })
    }

    /// Starts a registry of `kind` on the store; `None` (outside CI) when
    /// it is not installed.
    fn start(&self, kind: Kind) -> Option<Registry> {
        let options = Options {
            root: Some(self.store.path().to_owned()),
            ..Options::default()
        };
        Registry::start(kind, options)
    }
}

fn written_by_then_served_by(writer: Kind, reader: Kind) {
    let Some(s) = Setup::new() else { return };
    let pushed = build(&s.layout, 100, 100, "e2e/app", "e2e/platforms");

    let Some(mut first) = s.start(writer) else {
        return;
    };
    push(&s.skopeo, &s.layout, &first, 100, &pushed);
    let written = listing(&first);
    first.stop();

    assert_layout(s.store.path(), &pushed);
    assert_distribution_gc_keeps_everything(&first, pushed.digests().len());
    let Some(second) = s.start(reader) else {
        return;
    };
    assert_serves(&s.skopeo, &second, &pushed);
    assert_eq!(
        listing(&second),
        written,
        "{reader:?} lists the catalog and tags {writer:?} wrote"
    );
    assert_eq!(
        written,
        [
            (
                "e2e/app".to_owned(),
                vec!["latest".to_owned(), "v1".to_owned()]
            ),
            ("e2e/platforms".to_owned(), vec!["multi".to_owned()]),
        ]
    );
}

fn shared_store(a: Kind, b: Kind) {
    let Some(s) = Setup::new() else { return };
    // Both write into one repository (different tags) and one each of
    // their own. Their images share a base layer, so the second writer
    // uploads a blob the first one already stored.
    let from_a = build(&s.layout, 200, 200, "e2e/shared", "e2e/only-a");
    let mut from_b = build(&s.layout, 300, 200, "e2e/shared", "e2e/only-b");
    from_b.image_tags = vec!["v2", "stable"];

    let Some(first) = s.start(a) else {
        return;
    };
    let Some(second) = s.start(b) else {
        return;
    };
    push(&s.skopeo, &s.layout, &first, 200, &from_a);
    push(&s.skopeo, &s.layout, &second, 300, &from_b);

    assert_layout(s.store.path(), &from_a);
    assert_layout(s.store.path(), &from_b);
    let mut stored = from_a.digests();
    stored.extend(from_b.digests());
    assert_distribution_gc_keeps_everything(&first, stored.len());
    for registry in [&first, &second] {
        assert_serves(&s.skopeo, registry, &from_a);
        assert_serves(&s.skopeo, registry, &from_b);
    }
    let expected = [
        ("e2e/only-a".to_owned(), vec!["multi".to_owned()]),
        ("e2e/only-b".to_owned(), vec!["multi".to_owned()]),
        (
            "e2e/shared".to_owned(),
            ["latest", "stable", "v1", "v2"].map(str::to_owned).to_vec(),
        ),
    ];
    assert_eq!(listing(&first), expected, "{a:?} lists both writers' tags");
    assert_eq!(listing(&second), expected, "{b:?} lists both writers' tags");

    // A delete through one is seen by the other.
    let access = Access::insecure();
    for (deleter, other, repo) in [
        (&second, &first, from_a.index_repo),
        (&first, &second, from_b.index_repo),
    ] {
        s.skopeo
            .delete(&docker(&deleter.host(), &format!("{repo}:multi")), &access);
        let gone = s
            .skopeo
            .try_inspect_raw(&docker(&other.host(), &format!("{repo}:multi")), &access)
            .expect_err("a manifest deleted through one registry is gone for the other");
        assert!(
            gone.stderr.contains("manifest unknown"),
            "{:?} reports the manifest {:?} deleted as unknown: {gone}",
            other.kind(),
            deleter.kind()
        );
    }
}

/// Distribution's own garbage collector reads the whole store (every
/// repository, revision, tag and blob link) and finds nothing unreferenced:
/// a store it cannot parse, or one whose links it does not follow, fails here.
fn assert_distribution_gc_keeps_everything(registry: &Registry, blobs: usize) {
    let Some(program) = berth_e2e::peer::require("docker-registry", "docker-registry") else {
        return;
    };
    let out = std::process::Command::new(program)
        .args(["garbage-collect", "--dry-run"])
        .arg(registry.config_path())
        .output()
        .expect("run docker-registry garbage-collect");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "Distribution's garbage collector cannot read the store: {printed}"
    );
    let expected = format!("{blobs} blobs marked, 0 blobs and 0 manifests eligible for deletion");
    assert!(
        printed.contains(&expected),
        "Distribution's garbage collector finds every stored blob referenced \
         (expected `{expected}`): {printed}"
    );
}

/// Checks Distribution's layout for everything in `pushed`: blob data by
/// digest, layer links, manifest revisions, tag links and tag index entries.
fn assert_layout(root: &Path, pushed: &Pushed) {
    let store = Store::new(root);
    store.assert_image(pushed.repo, &pushed.image);
    for tag in &pushed.image_tags {
        store.assert_tag(pushed.repo, tag, &pushed.image.manifest.digest);
    }
    store.assert_blob(&pushed.index.descriptor.digest);
    store.assert_revision(pushed.index_repo, &pushed.index.descriptor.digest);
    for image in &pushed.index.images {
        store.assert_image(pushed.index_repo, image);
    }
    store.assert_tag(
        pushed.index_repo,
        pushed.index_tag,
        &pushed.index.descriptor.digest,
    );
    for repo in [pushed.repo, pushed.index_repo] {
        store.assert_no_uploads_left(repo);
    }
}
