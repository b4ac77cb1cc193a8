//! The OCI Distribution Specification v1.1 at the HTTP level: every endpoint
//! and every error a client can meet, checked against `berthd` and, where
//! Distribution 2.8 implements the part in question, against Distribution too.
//!
//! Each check is a plain function; the `on_both!` and `on_berthd!` lines
//! below each function turn it into one `#[test]` per registry
//! (`<check>::berthd`, `<check>::distribution`). A check taking the `&Api`
//! (and `&Registry`) runs against a registry started with default options;
//! one taking the [`Kind`] starts its own.
//! Distribution is the reference: where both run, both must give the same
//! answers. A check that runs on berthd only says which Distribution 2.8 gap
//! keeps it there.
//!
//! Written from the specification (and Distribution's error-code table for
//! the code → status mapping), not from berthd's code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Duration;

use berth_e2e::api::{
    self, Api, Descriptor, assert_error, header, media_type, raw_request, sha256_digest,
    sha512_digest, text, with_query,
};
use berth_e2e::image::RandomReader;
use berth_e2e::memory::assert_peak_rss_below;
use berth_e2e::registry::{Kind, Options, Registry};
use berth_e2e::store::walk;
use berth_e2e::{credentials, on_berthd, on_both};
use rand::RngCore;
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// Starts a registry of `kind`; `None` when Distribution is not installed
/// (outside CI), so the test is skipped.
fn start(kind: Kind, options: Options) -> Option<(Registry, Api)> {
    let registry = Registry::start(kind, options)?;
    let api = Api::new(registry.url());
    Some((registry, api))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A name no other part of the test uses, e.g. `tag-3f9a1c2b`.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// Pushes a config and one layer blob to `repo`; their descriptors carry
/// the OCI or Docker media types.
fn push_image_blobs(api: &Api, repo: &str, docker: bool) -> (Descriptor, Vec<Descriptor>) {
    let (config_type, layer_type) = if docker {
        (media_type::DOCKER_CONFIG, media_type::DOCKER_LAYER)
    } else {
        (media_type::OCI_CONFIG, media_type::OCI_LAYER)
    };
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"nonce":"{}"}}"#,
        unique("c")
    )
    .into_bytes();
    let layer = random_bytes(2048);
    api.push_blob(repo, &config);
    api.push_blob(repo, &layer);
    (
        Descriptor::of(config_type, &config),
        vec![Descriptor::of(layer_type, &layer)],
    )
}

/// Pushes blobs and an OCI image manifest to `repo` under `reference`;
/// returns the manifest's exact bytes and its descriptor.
fn push_oci_image(api: &Api, repo: &str, reference: &str) -> (Vec<u8>, Descriptor) {
    let (config, layers) = push_image_blobs(api, repo, false);
    let body = pretty(&api::oci_manifest(&config, &layers));
    put_manifest_created(api, repo, reference, media_type::OCI_MANIFEST, &body);
    let descriptor = Descriptor::of(media_type::OCI_MANIFEST, &body);
    (body, descriptor)
}

/// Pretty-printed JSON: not the canonical form, so a registry that
/// re-serialises instead of storing the bytes as pushed is caught.
fn pretty(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("serialise JSON")
}

/// PUTs a manifest and asserts the spec's answer: 201, a `Location` that
/// serves the manifest, and `Docker-Content-Digest` equal to its sha256.
fn put_manifest_created(
    api: &Api,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> String {
    let digest = sha256_digest(body);
    let resp = api.put_manifest(repo, reference, media_type, body);
    assert_eq!(
        resp.status(),
        201,
        "PUT manifest {repo}:{reference} ({media_type}): {}",
        text(resp)
    );
    assert_eq!(
        header(&resp, "Docker-Content-Digest").as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest of PUT manifest {repo}:{reference}"
    );
    let location = api.location(&resp);
    let pulled = api
        .client()
        .get(&location)
        .header(ACCEPT, media_type::ACCEPT_ALL_MANIFESTS)
        .send()
        .expect("GET manifest Location");
    assert_eq!(
        pulled.status(),
        200,
        "GET Location {location} of a pushed manifest"
    );
    assert_eq!(
        pulled.bytes().unwrap().as_ref(),
        body,
        "manifest at Location {location} differs from the one pushed"
    );
    digest
}

/// The media type of `Content-Type` without parameters (clients ignore them).
fn content_type(resp: &Response) -> String {
    header(resp, "Content-Type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Asserts GET and HEAD of `repo:reference` serve exactly `body` as `media_type`.
fn assert_manifest_served(api: &Api, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let digest = sha256_digest(body);
    let resp = api.get_manifest(repo, reference);
    assert_eq!(resp.status(), 200, "GET manifest {repo}:{reference}");
    assert_eq!(
        content_type(&resp),
        media_type,
        "Content-Type of GET {repo}:{reference}"
    );
    assert_eq!(
        header(&resp, "Docker-Content-Digest").as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest of GET {repo}:{reference}"
    );
    assert_eq!(
        resp.bytes().unwrap().as_ref(),
        body,
        "GET {repo}:{reference} is not byte-identical to the manifest pushed"
    );

    let resp = api.head_manifest(repo, reference);
    assert_eq!(resp.status(), 200, "HEAD manifest {repo}:{reference}");
    assert_eq!(
        content_type(&resp),
        media_type,
        "Content-Type of HEAD {repo}:{reference}"
    );
    assert_eq!(
        header(&resp, "Docker-Content-Digest").as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest of HEAD {repo}:{reference}"
    );
    assert_eq!(
        header(&resp, "Content-Length").as_deref(),
        Some(body.len().to_string().as_str()),
        "Content-Length of HEAD {repo}:{reference}"
    );
}

/// PUTs a manifest under `tag` (see [`put_manifest_created`]) and asserts
/// it is served, byte for byte, by the tag and by its digest.
fn assert_manifest_round_trips(api: &Api, repo: &str, tag: &str, media_type: &str, body: &[u8]) {
    let digest = put_manifest_created(api, repo, tag, media_type, body);
    assert_manifest_served(api, repo, tag, media_type, body);
    assert_manifest_served(api, repo, &digest, media_type, body);
}

/// Asserts GET `repo:reference` is 404 with `MANIFEST_UNKNOWN`.
fn assert_manifest_absent(api: &Api, repo: &str, reference: &str) {
    assert_error(api.get_manifest(repo, reference), 404, "MANIFEST_UNKNOWN");
}

/// Asserts an error answer has the spec's JSON shape when it is JSON at all
/// (the spec lets a 4xx carry any body, but JSON must be `{"errors":[…]}`),
/// with the status Distribution pairs with its code.
fn assert_error_body_if_json(what: &str, status: u16, content_type: &str, body: &[u8]) {
    let looks_json = content_type.contains("json") || body.first() == Some(&b'{');
    if looks_json {
        api::check_error_answer(status, body).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

/// Asserts no file or directory whose name contains `marker` exists in the
/// registry's scratch directory (storage root included), beside it, in
/// `/tmp` or in `/`: where a `..` in a name would have landed.
fn assert_marker_nowhere(registry: &Registry, marker: &str) {
    let mut places: Vec<PathBuf> = walk(registry.workdir());
    for dir in [
        registry.workdir().parent(),
        Some(Path::new("/tmp")),
        Some(Path::new("/")),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(entries) = std::fs::read_dir(dir) {
            places.extend(entries.flatten().map(|e| e.path()));
        }
    }
    let escaped: Vec<&PathBuf> = places
        .iter()
        .filter(|p| p.to_string_lossy().contains(marker))
        .collect();
    assert!(
        escaped.is_empty(),
        "a request with a bad name created {escaped:?}"
    );
}

/// The target (`/path?query`) of an absolute URL, for raw requests.
fn target_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("absolute URL");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The URL of a `Link: <url>; rel="next"` header, when there is one.
fn next_link(resp: &Response) -> Option<String> {
    let link = header(resp, "Link")?;
    let start = link.find('<')?;
    let end = link.find('>')?;
    let params = link[end + 1..].replace(' ', "");
    assert!(
        params.contains("rel=\"next\"") || params.contains("rel=next"),
        "Link header without rel=\"next\": {link}"
    );
    Some(link[start + 1..end].to_owned())
}

/// The `field` array (`tags`, `repositories`) of a listing answer, in order.
fn listed(resp: Response, field: &str) -> Vec<String> {
    let listing: Value = resp.json().unwrap();
    serde_json::from_value(listing[field].clone()).unwrap_or_else(|e| panic!("{field} array: {e}"))
}

/// The tags of a `tags/list` answer, as a set.
fn tag_set(list: &Value) -> BTreeSet<&str> {
    list["tags"]
        .as_array()
        .expect("tags array")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Pages through the listing at `path` (`…/tags/list` or `/v2/_catalog`)
/// `n` entries at a time by following `Link: <…>; rel="next"`, checking
/// each link keeps the path and `n` and goes on after the page's last
/// entry; returns each page's `field` entries.
fn follow_pages(api: &Api, path: &str, n: usize, field: &str) -> Vec<Vec<String>> {
    let mut url = api.url(&format!("{path}?n={n}"));
    let mut pages = Vec::new();
    loop {
        let resp = api.client().get(&url).send().unwrap();
        assert_eq!(resp.status(), 200, "GET {url}");
        let next = next_link(&resp);
        let page = listed(resp, field);
        pages.push(page.clone());
        let Some(next) = next else {
            return pages;
        };
        let next = api.resolve(&next);
        assert_eq!(target_of(&next).split('?').next(), Some(path), "Link path");
        let query = query_of(&next);
        assert_eq!(query.get("n"), Some(&n.to_string()), "Link n: {next}");
        assert_eq!(query.get("last"), page.last(), "Link last: {next}");
        url = next;
        assert!(pages.len() < 10, "pagination does not end");
    }
}

/// Query parameters of a URL.
fn query_of(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .expect("absolute URL")
        .query_pairs()
        .into_owned()
        .collect()
}

// ---------------------------------------------------------------------------
// Base
// ---------------------------------------------------------------------------

/// `GET /v2/` answers 200 and names the API version.
fn api_version_check(api: &Api) {
    let resp = api.get("/v2/");
    assert_eq!(resp.status(), 200, "GET /v2/");
    assert_eq!(
        header(&resp, "Docker-Distribution-API-Version").as_deref(),
        Some("registry/2.0"),
        "Docker-Distribution-API-Version of GET /v2/"
    );
}
on_both!(api_version_check);

// ---------------------------------------------------------------------------
// Blobs
// ---------------------------------------------------------------------------

/// HEAD and GET of a pushed blob: length, digest, exact content.
fn blob_head_and_get(api: &Api) {
    let repo = "blobs/pull";
    let bytes = random_bytes(10_000);
    let digest = api.push_blob(repo, &bytes);

    let resp = api.head_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "HEAD blob");
    assert_eq!(
        header(&resp, "Content-Length").as_deref(),
        Some("10000"),
        "Content-Length of HEAD blob"
    );
    assert_eq!(
        header(&resp, "Docker-Content-Digest").as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest of HEAD blob"
    );

    let resp = api.get_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "GET blob");
    assert_eq!(
        header(&resp, "Docker-Content-Digest").as_deref(),
        Some(digest.as_str()),
        "Docker-Content-Digest of GET blob"
    );
    assert_eq!(
        header(&resp, "Content-Length").as_deref(),
        Some("10000"),
        "Content-Length of GET blob"
    );
    assert_eq!(resp.bytes().unwrap().as_ref(), bytes, "GET blob content");
}
on_both!(blob_head_and_get);

/// `Range: bytes=a-b` on a blob answers 206 with exactly those bytes.
fn blob_get_range(api: &Api) {
    let repo = "blobs/range";
    let bytes = random_bytes(5000);
    let digest = api.push_blob(repo, &bytes);
    let url = api.url(&format!("/v2/{repo}/blobs/{digest}"));

    for (first, last) in [(0u64, 0u64), (100, 1099), (4000, 4999)] {
        let resp = api
            .client()
            .get(&url)
            .header(RANGE, format!("bytes={first}-{last}"))
            .send()
            .unwrap();
        assert_eq!(
            resp.status(),
            206,
            "GET blob with Range bytes={first}-{last}"
        );
        assert_eq!(
            header(&resp, "Content-Range").as_deref(),
            Some(format!("bytes {first}-{last}/5000").as_str()),
            "Content-Range for bytes={first}-{last}"
        );
        assert_eq!(
            resp.bytes().unwrap().as_ref(),
            &bytes[first as usize..=last as usize],
            "body for Range bytes={first}-{last}"
        );
    }
    let resp = api
        .client()
        .get(&url)
        .header(RANGE, "bytes=4500-")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 206, "GET blob with Range bytes=4500-");
    assert_eq!(
        header(&resp, "Content-Range").as_deref(),
        Some("bytes 4500-4999/5000"),
        "Content-Range for bytes=4500-"
    );
    assert_eq!(
        resp.bytes().unwrap().as_ref(),
        &bytes[4500..],
        "body for bytes=4500-"
    );

    let resp = api
        .client()
        .get(&url)
        .header(RANGE, "bytes=6000-7000")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 416, "GET blob with a Range past its end");
    assert_eq!(
        header(&resp, "Content-Range").as_deref(),
        Some("bytes */5000"),
        "Content-Range of a 416"
    );
}
on_both!(blob_get_range);

/// A blob never pushed is 404 `BLOB_UNKNOWN`, in a known and an unknown repository.
fn blob_unknown(api: &Api) {
    api.push_blob("blobs/known", b"something else");
    let missing = sha256_digest(b"never pushed");
    for repo in ["blobs/known", "blobs/never-created"] {
        assert_error(api.get_blob(repo, &missing), 404, "BLOB_UNKNOWN");
        assert_eq!(
            api.head_blob(repo, &missing).status(),
            404,
            "HEAD missing blob in {repo}"
        );
    }
}
on_both!(blob_unknown);

/// DELETE of a blob answers 202; afterwards it is gone (404 `BLOB_UNKNOWN`).
fn blob_delete(api: &Api) {
    let repo = "blobs/delete";
    let bytes = random_bytes(300);
    let digest = api.push_blob(repo, &bytes);
    let resp = api.delete(&format!("/v2/{repo}/blobs/{digest}"));
    assert_eq!(resp.status(), 202, "DELETE blob: {}", text(resp));
    assert_eq!(
        api.head_blob(repo, &digest).status(),
        404,
        "HEAD deleted blob"
    );
    assert_error(api.get_blob(repo, &digest), 404, "BLOB_UNKNOWN");
    assert_error(
        api.delete(&format!("/v2/{repo}/blobs/{digest}")),
        404,
        "BLOB_UNKNOWN",
    );

    api.push_blob(repo, &bytes);
    let resp = api.get_blob(repo, &digest);
    assert_eq!(
        resp.status(),
        200,
        "GET a blob pushed again after its delete"
    );
    assert_eq!(resp.bytes().unwrap().as_ref(), bytes, "re-pushed blob");
}
on_both!(blob_delete);

/// Blobs and manifests belong to the repositories they were pushed to: the
/// same digest is unknown in another repository, even one sharing the store,
/// and a manifest there cannot reference it.
fn content_scoped_to_repository(api: &Api) {
    let (_, manifest) = push_oci_image(api, "scope/owner", "latest");
    let (config, layers) = push_image_blobs(api, "scope/owner", false);
    api.push_blob("scope/stranger", b"the repository exists");

    assert_error(
        api.get_blob("scope/stranger", &layers[0].digest),
        404,
        "BLOB_UNKNOWN",
    );
    assert_eq!(
        api.head_blob("scope/stranger", &layers[0].digest).status(),
        404,
        "HEAD a blob of another repository"
    );
    assert_manifest_absent(api, "scope/stranger", &manifest.digest);
    let body = pretty(&api::oci_manifest(&config, &layers));
    assert_error(
        api.put_manifest(
            "scope/stranger",
            "borrowed",
            media_type::OCI_MANIFEST,
            &body,
        ),
        400,
        "MANIFEST_BLOB_UNKNOWN",
    );
}
on_both!(content_scoped_to_repository);

/// With `storage.delete.enabled: false`, DELETE of a blob is 405 `UNSUPPORTED`
/// and the blob stays.
fn blob_delete_disabled(kind: Kind) {
    let options = Options {
        delete_enabled: false,
        ..Options::default()
    };
    let Some((_registry, api)) = start(kind, options) else {
        return;
    };
    let repo = "blobs/keep";
    let digest = api.push_blob(repo, b"keep me");
    assert_error(
        api.delete(&format!("/v2/{repo}/blobs/{digest}")),
        405,
        "UNSUPPORTED",
    );
    assert_eq!(
        api.head_blob(repo, &digest).status(),
        200,
        "blob after refused DELETE"
    );
}
on_both!(blob_delete_disabled);

// ---------------------------------------------------------------------------
// Uploads
// ---------------------------------------------------------------------------

/// Asserts a finished upload: 201, `Docker-Content-Digest`, and a
/// `Location` that serves `bytes`.
fn assert_blob_created(api: &Api, resp: Response, digest: &str, bytes: &[u8]) {
    let status = resp.status();
    let got_digest = header(&resp, "Docker-Content-Digest");
    let location = resp.headers().get("Location").map(|_| api.location(&resp));
    assert_eq!(status, 201, "closing upload of {digest}: {}", text(resp));
    assert_eq!(
        got_digest.as_deref(),
        Some(digest),
        "Docker-Content-Digest of the created blob"
    );
    let location = location.expect("201 for a blob carries a Location");
    let pulled = api.client().get(&location).send().unwrap();
    assert_eq!(pulled.status(), 200, "GET blob Location {location}");
    assert_eq!(pulled.bytes().unwrap().as_ref(), bytes, "blob at Location");
}

/// A single `POST ?digest=` with the whole blob creates it (201).
fn upload_single_post(api: &Api) {
    let bytes = random_bytes(4096);
    let digest = sha256_digest(&bytes);
    let resp = api.push_blob_single_post("uploads/single", &digest, &bytes);
    assert_blob_created(api, resp, &digest, &bytes);
}
// Distribution 2.8 has no single-POST upload: it answers 202 and opens an
// upload session, which the spec allows a registry that lacks the feature.
on_berthd!(upload_single_post);

/// POST opens an upload (202, Location with the UUID, Docker-Upload-UUID,
/// Range); PUT ?digest= with the body closes it (201), after which the
/// upload URL is unknown.
fn upload_post_then_put(api: &Api) {
    let repo = "uploads/monolithic";
    let resp = api.start_upload(repo);
    assert_eq!(resp.status(), 202, "POST upload");
    let uuid = header(&resp, "Docker-Upload-UUID").expect("POST upload has Docker-Upload-UUID");
    let location = api.location(&resp);
    assert!(
        location.contains(&uuid),
        "upload Location {location} lacks its UUID {uuid}"
    );
    assert_eq!(
        header(&resp, "Range").as_deref(),
        Some("0-0"),
        "Range of a fresh upload"
    );

    let bytes = random_bytes(70_000);
    let digest = sha256_digest(&bytes);
    let resp = api.finish_upload(&location, &digest, &bytes);
    assert_blob_created(api, resp, &digest, &bytes);
    assert_eq!(
        api.head_blob(repo, &digest).status(),
        200,
        "HEAD pushed blob"
    );

    // A finished upload is spent: its URL no longer takes data.
    assert_error(
        api.client().get(&location).send().unwrap(),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.patch_chunk(&location, 0, b"x"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.finish_upload(&location, &digest, &bytes),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
}
on_both!(upload_post_then_put);

/// PATCH chunks in order: 202 each, Range grows `0-N`, the UUID stays; an
/// empty PUT closes the upload.
fn upload_chunked(api: &Api) {
    let repo = "uploads/chunked";
    let bytes = random_bytes(2500);
    let digest = sha256_digest(&bytes);
    let resp = api.start_upload(repo);
    assert_eq!(resp.status(), 202, "POST upload");
    let uuid = header(&resp, "Docker-Upload-UUID").expect("Docker-Upload-UUID");
    let mut location = api.location(&resp);
    let mut offset = 0u64;
    for chunk in bytes.chunks(1000) {
        let resp = api.patch_chunk(&location, offset, chunk);
        offset += chunk.len() as u64;
        assert_eq!(resp.status(), 202, "PATCH chunk ending at {offset}");
        assert_eq!(
            header(&resp, "Range").as_deref(),
            Some(format!("0-{}", offset - 1).as_str()),
            "Range after a chunk ending at byte {}",
            offset - 1
        );
        assert_eq!(
            header(&resp, "Docker-Upload-UUID").as_deref(),
            Some(uuid.as_str()),
            "Docker-Upload-UUID of PATCH"
        );
        location = api.location(&resp);
    }
    let resp = api.finish_upload(&location, &digest, &[]);
    assert_blob_created(api, resp, &digest, &bytes);
}
on_both!(upload_chunked);

/// The last chunk may travel in the closing PUT, with its Content-Range.
fn upload_chunked_final_chunk_in_put(api: &Api) {
    let bytes = random_bytes(3000);
    let digest = sha256_digest(&bytes);
    let location = api.start_upload_location("uploads/final-in-put");
    let resp = api.patch_chunk(&location, 0, &bytes[..2000]);
    assert_eq!(resp.status(), 202, "PATCH first chunk");
    let location = api.location(&resp);
    let resp = api
        .client()
        .put(with_query(&location, "digest", &digest))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_RANGE, "2000-2999")
        .body(bytes[2000..].to_vec())
        .send()
        .unwrap();
    assert_blob_created(api, resp, &digest, &bytes);
}
on_both!(upload_chunked_final_chunk_in_put);

/// A PATCH without Content-Range streams the body onto the upload (what
/// docker and containerd do); its 202 reports the Range so far.
fn upload_streamed_patch(api: &Api) {
    let bytes = random_bytes(300_000);
    let digest = sha256_digest(&bytes);
    let mut location = api.start_upload_location("uploads/streamed");
    for (i, part) in bytes.chunks(200_000).enumerate() {
        let resp = api
            .client()
            .patch(&location)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(part.to_vec())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 202, "streamed PATCH {i}: {}", text(resp));
        let end = (200_000 * i + part.len() - 1).to_string();
        assert_eq!(
            header(&resp, "Range"),
            Some(format!("0-{end}")),
            "Range after streamed PATCH {i}"
        );
        location = api.location(&resp);
    }
    let resp = api.finish_upload(&location, &digest, &[]);
    assert_blob_created(api, resp, &digest, &bytes);
}
on_both!(upload_streamed_patch);

/// A chunk that does not start where the upload ends (a gap, an overlap, a
/// first chunk not at 0, a gapped final chunk in the closing PUT) is 416,
/// with the upload's current Range; a Content-Range that is malformed or
/// disagrees with the body is refused too; the upload goes on from there.
fn upload_chunk_out_of_order(api: &Api) {
    let bytes = random_bytes(200);
    let digest = sha256_digest(&bytes);
    let location = api.start_upload_location("uploads/out-of-order");

    let resp = api.patch_chunk(&location, 10, &bytes[10..20]);
    assert_eq!(
        resp.status(),
        416,
        "first chunk starting at 10: {}",
        text(resp)
    );

    let resp = api.patch_chunk(&location, 0, &bytes[..100]);
    assert_eq!(resp.status(), 202, "PATCH 0-99");
    let location = api.location(&resp);

    for (start, end) in [(150usize, 200usize), (50, 150), (0, 100)] {
        let resp = api.patch_chunk(&location, start as u64, &bytes[start..end]);
        assert_eq!(resp.status(), 416, "chunk {start}-{} after 0-99", end - 1);
        assert_eq!(
            header(&resp, "Range").as_deref(),
            Some("0-99"),
            "Range on the 416 for chunk {start}-{}",
            end - 1
        );
        let ct = content_type(&resp);
        let body = resp.bytes().unwrap();
        assert_error_body_if_json("416 for a misplaced chunk", 416, &ct, &body);
    }

    let status = api.client().get(&location).send().unwrap();
    assert_eq!(status.status(), 204, "GET upload status after 416s");
    assert_eq!(
        header(&status, "Range").as_deref(),
        Some("0-99"),
        "upload status Range after refused chunks"
    );
    let location = api.location(&status);
    let resp = api.patch_chunk(&location, 100, &bytes[100..150]);
    assert_eq!(resp.status(), 202, "PATCH 100-149 after the refusals");
    assert_eq!(header(&resp, "Range").as_deref(), Some("0-149"), "Range");
    let location = api.location(&resp);

    // A Content-Range that disagrees with the body, or is not `start-end`,
    // is refused and changes nothing.
    let patch = |content_range: &str, chunk: &[u8]| {
        api.client()
            .patch(&location)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_RANGE, content_range)
            .body(chunk.to_vec())
            .send()
            .unwrap()
    };
    for (content_range, chunk) in [("150-199", &bytes[150..180]), ("abc", &bytes[150..])] {
        let status = patch(content_range, chunk).status().as_u16();
        assert!(
            status == 400 || status == 416,
            "PATCH with Content-Range {content_range:?} and {} bytes: got {status}",
            chunk.len()
        );
    }

    // So is a final chunk in the closing PUT that leaves a gap.
    let put = |content_range: &str, chunk: &[u8]| {
        api.client()
            .put(with_query(&location, "digest", &digest))
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_RANGE, content_range)
            .body(chunk.to_vec())
            .send()
            .unwrap()
    };
    let resp = put("160-199", &bytes[160..]);
    assert_eq!(resp.status(), 416, "closing PUT with a gapped chunk");
    assert_eq!(
        api.head_blob("uploads/out-of-order", &digest).status(),
        404,
        "blob after a refused closing PUT"
    );
    let status = api.client().get(&location).send().unwrap();
    assert_eq!(
        header(&status, "Range").as_deref(),
        Some("0-149"),
        "upload status Range after refused requests"
    );
    let resp = put("150-199", &bytes[150..]);
    assert_blob_created(api, resp, &digest, &bytes);
}
// Distribution 2.8 ignores Content-Range on PATCH: it appends a gapped chunk
// and answers 202, where the spec requires 416.
on_berthd!(upload_chunk_out_of_order);

/// GET of an upload answers 204 with its Range, UUID and Location.
fn upload_status(api: &Api) {
    let resp = api.start_upload("uploads/status");
    let uuid = header(&resp, "Docker-Upload-UUID").expect("Docker-Upload-UUID");
    let location = api.location(&resp);
    let resp = api.patch_chunk(&location, 0, &random_bytes(1234));
    assert_eq!(resp.status(), 202, "PATCH");
    let location = api.location(&resp);

    let resp = api.client().get(&location).send().unwrap();
    assert_eq!(resp.status(), 204, "GET upload status");
    assert_eq!(
        header(&resp, "Range").as_deref(),
        Some("0-1233"),
        "status Range"
    );
    assert_eq!(
        header(&resp, "Docker-Upload-UUID").as_deref(),
        Some(uuid.as_str()),
        "status Docker-Upload-UUID"
    );
    assert!(header(&resp, "Location").is_some(), "status has a Location");
}
on_both!(upload_status);

/// DELETE of an upload answers 204; the upload is then unknown.
fn upload_cancel(api: &Api) {
    let location = api.start_upload_location("uploads/cancel");
    let resp = api.patch_chunk(&location, 0, b"some bytes");
    assert_eq!(resp.status(), 202, "PATCH");
    let location = api.location(&resp);

    let resp = api.client().delete(&location).send().unwrap();
    assert_eq!(resp.status(), 204, "DELETE upload: {}", text(resp));
    assert_error(
        api.client().get(&location).send().unwrap(),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.patch_chunk(&location, 10, b"more"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.finish_upload(&location, &sha256_digest(b"some bytes"), &[]),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
}
on_both!(upload_cancel);

/// Closing an upload with a digest that does not match is 400
/// `DIGEST_INVALID`, and no blob becomes visible under either digest.
fn upload_wrong_digest(api: &Api) {
    let repo = "uploads/wrong-digest";
    api.push_blob(repo, b"the repository exists");
    let bytes = random_bytes(1000);
    let claimed = sha256_digest(b"something else entirely");
    let location = api.start_upload_location(repo);
    assert_error(
        api.finish_upload(&location, &claimed, &bytes),
        400,
        "DIGEST_INVALID",
    );
    assert_eq!(
        api.head_blob(repo, &claimed).status(),
        404,
        "claimed digest"
    );
    assert_eq!(
        api.head_blob(repo, &sha256_digest(&bytes)).status(),
        404,
        "actual digest of the refused upload"
    );
}
on_both!(upload_wrong_digest);

/// A PUT whose body is shorter than its Content-Length (the client died
/// mid-upload) fails, and nothing becomes visible — not even under the
/// digest of the bytes that did arrive.
fn upload_truncated_body(registry: &Registry, api: &Api) {
    let repo = "uploads/truncated";
    api.push_blob(repo, b"the repository exists");
    let sent = random_bytes(1000);
    let digest = sha256_digest(&sent);
    let location = api.start_upload_location(repo);
    let target = target_of(&with_query(&location, "digest", &digest));

    let mut stream = TcpStream::connect(registry.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 2000\r\nConnection: close\r\n\r\n",
        registry.addr()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&sent).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    // The server may answer with an error or just close: both are fine,
    // a success is not.
    if let Ok(resp) = api::read_raw_response(&mut stream) {
        assert!(
            !(200..300).contains(&resp.status),
            "truncated PUT answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    drop(stream);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        api.head_blob(repo, &digest).status(),
        404,
        "blob of a truncated upload is visible"
    );
}
on_both!(upload_truncated_body);

/// A blob pushed with a sha512 digest is served under that digest.
fn upload_sha512(api: &Api) {
    let repo = "uploads/sha512";
    let bytes = random_bytes(5000);
    let digest = sha512_digest(&bytes);
    let location = api.start_upload_location(repo);
    let resp = api.finish_upload(&location, &digest, &bytes);
    assert_eq!(
        resp.status(),
        201,
        "PUT with a sha512 digest: {}",
        text(resp)
    );
    let resp = api.head_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "HEAD by sha512 digest");
    assert_eq!(header(&resp, "Content-Length").as_deref(), Some("5000"));
    let resp = api.get_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "GET by sha512 digest");
    assert_eq!(
        resp.bytes().unwrap().as_ref(),
        bytes,
        "content by sha512 digest"
    );
}
on_both!(upload_sha512);

/// A digest that is not `algorithm:hex`, or none at all, is 400
/// `DIGEST_INVALID`, on upload and on fetch.
fn upload_invalid_digest(api: &Api) {
    let repo = "uploads/invalid-digest";
    let short_hex = format!("sha256:{}", &"ab".repeat(32)[..63]);
    for bad in ["sha256:xyz", "nonsense", short_hex.as_str(), "sha256:"] {
        let location = api.start_upload_location(repo);
        assert_error(
            api.finish_upload(&location, bad, b"data"),
            400,
            "DIGEST_INVALID",
        );
    }
    let location = api.start_upload_location(repo);
    let resp = api
        .client()
        .put(&location)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(b"data".to_vec())
        .send()
        .unwrap();
    assert_error(resp, 400, "DIGEST_INVALID");
    assert_error(api.get_blob(repo, "sha256:xyz"), 400, "DIGEST_INVALID");
}
on_both!(upload_invalid_digest);

/// An upload UUID the registry never handed out is 404 `BLOB_UPLOAD_UNKNOWN`
/// for GET, PATCH, PUT and DELETE.
fn upload_unknown_uuid(api: &Api) {
    let repo = "uploads/unknown";
    api.push_blob(repo, b"the repository exists");
    let url = api.url(&format!(
        "/v2/{repo}/blobs/uploads/3f1b6a52-9f1c-4a0e-8d2b-6c7e5a4b3c2d"
    ));
    assert_error(
        api.client().get(&url).send().unwrap(),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.patch_chunk(&url, 0, b"data"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.finish_upload(&url, &sha256_digest(b"data"), b"data"),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
    assert_error(
        api.client().delete(&url).send().unwrap(),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    );
}
// Distribution 2.8 checks its HMAC `_state` query token before looking the
// upload up, so an invented upload URL gets BLOB_UPLOAD_INVALID instead.
on_berthd!(upload_unknown_uuid);

/// `POST ?mount=<digest>&from=<repo>` of a blob the source has: 201, with a
/// Location in the target repository.
fn mount_from_other_repo(api: &Api) {
    let bytes = random_bytes(4000);
    let digest = api.push_blob("mount/source", &bytes);
    let resp = api.mount_blob("mount/target", &digest, "mount/source");
    assert_eq!(resp.status(), 201, "mount: {}", text(resp));
    let resp = api.mount_blob("mount/target2", &digest, "mount/source");
    let location = api.location(&resp);
    assert_eq!(
        target_of(&location),
        format!("/v2/mount/target2/blobs/{digest}"),
        "Location of a mounted blob"
    );
    assert_blob_created(api, resp, &digest, &bytes);
    assert_eq!(
        api.head_blob("mount/target", &digest).status(),
        200,
        "mounted blob"
    );
}
on_both!(mount_from_other_repo);

/// A mount the registry cannot do (the source lacks the blob, or does not
/// exist) falls back to an upload session: 202, and the upload works.
fn mount_fallback(api: &Api) {
    api.push_blob("mount/lacking", b"not the one");
    let bytes = random_bytes(100);
    let digest = sha256_digest(&bytes);
    for from in ["mount/lacking", "mount/does-not-exist"] {
        let resp = api.mount_blob("mount/into", &digest, from);
        assert_eq!(resp.status(), 202, "mount from {from} lacking the blob");
        assert!(
            header(&resp, "Docker-Upload-UUID").is_some(),
            "fallback upload has Docker-Upload-UUID"
        );
        let location = api.location(&resp);
        if from == "mount/does-not-exist" {
            let resp = api.finish_upload(&location, &digest, &bytes);
            assert_blob_created(api, resp, &digest, &bytes);
        }
    }
    assert_eq!(
        api.head_blob("mount/into", &digest).status(),
        200,
        "blob after fallback"
    );
    assert_eq!(
        api.head_blob("mount/lacking", &digest).status(),
        404,
        "the mount source did not gain the blob"
    );
}
on_both!(mount_fallback);

/// Upload state lives in the store: an upload survives `kill -9` of the
/// registry and goes on where it stopped (and what was pushed stays).
fn upload_survives_restart(kind: Kind) {
    let Some((mut registry, api)) = start(kind, Options::default()) else {
        return;
    };
    let (manifest, _) = push_oci_image(&api, "uploads/restart", "before");
    let bytes = random_bytes(300_000);
    let digest = sha256_digest(&bytes);
    let location = api.start_upload_location("uploads/restart");
    let resp = api.patch_chunk(&location, 0, &bytes[..100_000]);
    assert_eq!(resp.status(), 202, "PATCH before the restart");
    let location = api.location(&resp);

    registry.restart();

    let resp = api.patch_chunk(&location, 100_000, &bytes[100_000..200_000]);
    assert_eq!(
        resp.status(),
        202,
        "PATCH after the restart: {}",
        text(resp)
    );
    assert_eq!(header(&resp, "Range").as_deref(), Some("0-199999"), "Range");
    let location = api.location(&resp);
    let resp = api.finish_upload(&location, &digest, &bytes[200_000..]);
    assert_blob_created(&api, resp, &digest, &bytes);
    let media_type = media_type::OCI_MANIFEST;
    assert_manifest_served(&api, "uploads/restart", "before", media_type, &manifest);
}
on_both!(upload_survives_restart);

// ---------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------

fn manifest_docker_schema2(api: &Api) {
    let repo = "manifests/docker";
    let (config, layers) = push_image_blobs(api, repo, true);
    let body = pretty(&api::docker_manifest(&config, &layers));
    assert_manifest_round_trips(api, repo, "v1", media_type::DOCKER_MANIFEST, &body);
}
on_both!(manifest_docker_schema2);

fn manifest_docker_list(api: &Api) {
    let repo = "manifests/docker-list";
    let (config, layers) = push_image_blobs(api, repo, true);
    let child = pretty(&api::docker_manifest(&config, &layers));
    let child_digest = sha256_digest(&child);
    put_manifest_created(
        api,
        repo,
        &child_digest,
        media_type::DOCKER_MANIFEST,
        &child,
    );
    let list = pretty(&api::docker_manifest_list(&[Descriptor::of(
        media_type::DOCKER_MANIFEST,
        &child,
    )]));
    assert_manifest_round_trips(api, repo, "multi", media_type::DOCKER_MANIFEST_LIST, &list);
    assert_manifest_served(
        api,
        repo,
        &child_digest,
        media_type::DOCKER_MANIFEST,
        &child,
    );
}
on_both!(manifest_docker_list);

fn manifest_oci_image(api: &Api) {
    let repo = "manifests/oci";
    let (config, layers) = push_image_blobs(api, repo, false);
    let body = pretty(&api::oci_manifest(&config, &layers));
    assert_manifest_round_trips(api, repo, "v1", media_type::OCI_MANIFEST, &body);
}
on_both!(manifest_oci_image);

fn manifest_oci_index(api: &Api) {
    let repo = "manifests/oci-index";
    let (child, child_descriptor) = push_oci_image(api, repo, &unique("child"));
    let index = pretty(&api::oci_index(std::slice::from_ref(&child_descriptor)));
    assert_manifest_round_trips(api, repo, "multi", media_type::OCI_INDEX, &index);
    assert_manifest_served(
        api,
        repo,
        &child_descriptor.digest,
        media_type::OCI_MANIFEST,
        &child,
    );
}
on_both!(manifest_oci_index);

/// An OCI 1.1 artifact: an image manifest with `artifactType`, the empty
/// config, a non-image layer and a `subject`.
fn artifact_manifest(api: &Api, repo: &str, artifact_type: &str, subject: &Descriptor) -> Value {
    let empty = api.push_blob(repo, b"{}");
    let payload = format!("{{\"artifact\":\"{}\"}}", unique("payload")).into_bytes();
    api.push_blob(repo, &payload);
    let mut manifest = api::oci_manifest(
        &Descriptor::new(media_type::OCI_EMPTY, &empty, 2),
        &[Descriptor::of(
            "application/vnd.example.payload.v1+json",
            &payload,
        )],
    );
    manifest["artifactType"] = json!(artifact_type);
    manifest["subject"] = subject.to_json();
    manifest["annotations"] = json!({ "org.example.note": unique("note") });
    manifest
}

/// Pushes an image to `repo` and builds an SBOM artifact referring to it
/// (its blobs pushed, the manifest not); returns the image's descriptor and
/// the SBOM manifest's bytes.
fn sbom_of_new_image(api: &Api, repo: &str) -> (Descriptor, Vec<u8>) {
    let (_, subject) = push_oci_image(api, repo, "image");
    let sbom = artifact_manifest(api, repo, "application/vnd.example.sbom.v1", &subject);
    (subject, pretty(&sbom))
}

fn manifest_oci_artifact(api: &Api) {
    let repo = "manifests/artifact";
    let (_, body) = sbom_of_new_image(api, repo);
    let digest = sha256_digest(&body);
    put_manifest_created(api, repo, &digest, media_type::OCI_MANIFEST, &body);
    assert_manifest_served(api, repo, &digest, media_type::OCI_MANIFEST, &body);
}
on_both!(manifest_oci_artifact);

/// The spec requires accepting a manifest whose `subject` is not (yet) in
/// the repository, so referrers can be pushed before what they refer to.
fn manifest_subject_not_yet_pushed(api: &Api) {
    let repo = "manifests/early-referrer";
    let subject = Descriptor::of(media_type::OCI_MANIFEST, b"{\"not\":\"pushed\"}");
    let body = pretty(&artifact_manifest(
        api,
        repo,
        "application/vnd.example.sig.v1",
        &subject,
    ));
    let digest = sha256_digest(&body);
    put_manifest_created(api, repo, &digest, media_type::OCI_MANIFEST, &body);
}
on_both!(manifest_subject_not_yet_pushed);

/// A PUT of a manifest (or index) with a `subject` answers
/// `OCI-Subject: <digest>`, telling the client the registry tracks
/// referrers itself.
fn manifest_subject_header(api: &Api) {
    let repo = "manifests/subject-header";
    let (subject, sbom) = sbom_of_new_image(api, repo);
    let mut index = api::oci_index(&[]);
    index["subject"] = subject.to_json();
    for (what, media_type, body) in [
        ("manifest", media_type::OCI_MANIFEST, sbom),
        ("index", media_type::OCI_INDEX, pretty(&index)),
    ] {
        let resp = api.put_manifest(repo, &sha256_digest(&body), media_type, &body);
        assert_eq!(resp.status(), 201, "PUT {what} with a subject");
        assert_eq!(
            header(&resp, "OCI-Subject").as_deref(),
            Some(subject.digest.as_str()),
            "OCI-Subject of a PUT {what} with a subject"
        );
    }
}
// Distribution 2.8 predates the referrers API and never sends OCI-Subject.
on_berthd!(manifest_subject_header);

/// A manifest naming a layer or config the repository lacks is 400
/// `MANIFEST_BLOB_UNKNOWN`, and nothing is stored.
fn manifest_missing_blobs(api: &Api) {
    let repo = "manifests/missing";
    let (config, layers) = push_image_blobs(api, repo, false);
    let missing = Descriptor::of(media_type::OCI_LAYER, b"never pushed");
    let missing_config = Descriptor::of(media_type::OCI_CONFIG, b"{\"never\":\"pushed\"}");
    let cases = [
        (
            "missing-layer",
            api::oci_manifest(&config, &[layers[0].clone(), missing]),
        ),
        (
            "missing-config",
            api::oci_manifest(&missing_config, &layers),
        ),
    ];
    for (tag, manifest) in cases {
        let body = pretty(&manifest);
        assert_error(
            api.put_manifest(repo, tag, media_type::OCI_MANIFEST, &body),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        );
        assert_manifest_absent(api, repo, tag);
        assert_manifest_absent(api, repo, &sha256_digest(&body));
    }
}
on_both!(manifest_missing_blobs);

/// An index or manifest list naming a child manifest the repository lacks
/// is 400 `MANIFEST_BLOB_UNKNOWN`.
fn index_missing_child(api: &Api) {
    let repo = "manifests/index-missing";
    push_oci_image(api, repo, "present");
    let missing = Descriptor::of(media_type::OCI_MANIFEST, b"{\"schemaVersion\":2}");
    let cases = [
        (
            media_type::OCI_INDEX,
            api::oci_index(std::slice::from_ref(&missing)),
        ),
        (
            media_type::DOCKER_MANIFEST_LIST,
            api::docker_manifest_list(&[Descriptor::new(
                media_type::DOCKER_MANIFEST,
                &missing.digest,
                missing.size,
            )]),
        ),
    ];
    for (media_type, index) in cases {
        let body = pretty(&index);
        assert_error(
            api.put_manifest(repo, "broken", media_type, &body),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        );
        assert_manifest_absent(api, repo, "broken");
    }
}
on_both!(index_missing_child);

/// A body that is not JSON is 400 `MANIFEST_INVALID`.
fn manifest_malformed(api: &Api) {
    let repo = "manifests/malformed";
    push_oci_image(api, repo, "present");
    for body in [&b"{\"schemaVersion\": 2, nope"[..], b"not json at all"] {
        assert_error(
            api.put_manifest(repo, "bad", media_type::OCI_MANIFEST, body),
            400,
            "MANIFEST_INVALID",
        );
        assert_manifest_absent(api, repo, "bad");
    }
}
on_both!(manifest_malformed);

/// An OCI manifest padded (through an annotation) to exactly `size` bytes.
fn manifest_of_size(config: &Descriptor, layers: &[Descriptor], size: usize) -> Vec<u8> {
    let mut manifest = api::oci_manifest(config, layers);
    manifest["annotations"] = json!({ "org.example.padding": "" });
    let base = serde_json::to_vec(&manifest).unwrap().len();
    manifest["annotations"]["org.example.padding"] = json!("x".repeat(size - base));
    let body = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(body.len(), size);
    body
}

/// A 4 MiB manifest is accepted (the spec's floor); one byte more is
/// refused (413, or 400 `MANIFEST_INVALID` / `SIZE_INVALID`) and not stored.
fn manifest_size_limit(api: &Api) {
    let repo = "manifests/size";
    let (config, layers) = push_image_blobs(api, repo, false);
    let limit = 4 << 20;

    let at_limit = manifest_of_size(&config, &layers, limit);
    put_manifest_created(api, repo, "at-limit", media_type::OCI_MANIFEST, &at_limit);

    let over = manifest_of_size(&config, &layers, limit + 1);
    let resp = api.put_manifest(repo, "over-limit", media_type::OCI_MANIFEST, &over);
    let status = resp.status().as_u16();
    let body = resp.bytes().unwrap_or_default();
    match status {
        413 => {}
        400 => {
            let errors = api::check_error_answer(400, &body)
                .unwrap_or_else(|e| panic!("400 for oversize: {e}"));
            assert!(
                errors
                    .codes()
                    .iter()
                    .any(|c| *c == "MANIFEST_INVALID" || *c == "SIZE_INVALID"),
                "oversize manifest refused with {:?}",
                errors.codes()
            );
        }
        other => panic!(
            "oversize manifest: expected 413 or 400, got {other}: {}",
            String::from_utf8_lossy(&body)
        ),
    }
    assert_manifest_absent(api, repo, "over-limit");
    assert_manifest_absent(api, repo, &sha256_digest(&over));
}
on_both!(manifest_size_limit);

/// PUT by digest with a body of another digest is 400 `DIGEST_INVALID`.
fn manifest_digest_mismatch(api: &Api) {
    let repo = "manifests/mismatch";
    let (config, layers) = push_image_blobs(api, repo, false);
    let body = pretty(&api::oci_manifest(&config, &layers));
    let other = sha256_digest(b"another manifest");
    assert_error(
        api.put_manifest(repo, &other, media_type::OCI_MANIFEST, &body),
        400,
        "DIGEST_INVALID",
    );
    assert_manifest_absent(api, repo, &other);
    assert_manifest_absent(api, repo, &sha256_digest(&body));
}
on_both!(manifest_digest_mismatch);

/// An unknown tag or digest is 404 `MANIFEST_UNKNOWN`; in an unknown
/// repository, 404 with `MANIFEST_UNKNOWN` or `NAME_UNKNOWN`.
fn manifest_unknown(api: &Api) {
    let repo = "manifests/unknown";
    push_oci_image(api, repo, "present");
    let digest = sha256_digest(b"no such manifest");
    for reference in ["absent", digest.as_str()] {
        assert_manifest_absent(api, repo, reference);
        assert_eq!(
            api.head_manifest(repo, reference).status(),
            404,
            "HEAD {reference}"
        );
    }
    let resp = api.get_manifest("manifests/no-such-repo", "latest");
    assert_eq!(resp.status(), 404, "manifest in an unknown repository");
    let errors = api::check_error_answer(404, &resp.bytes().unwrap()).expect("spec error body");
    assert!(
        errors
            .codes()
            .iter()
            .any(|c| *c == "MANIFEST_UNKNOWN" || *c == "NAME_UNKNOWN"),
        "unknown repository answered {:?}",
        errors.codes()
    );
}
on_both!(manifest_unknown);

/// DELETE by digest answers 202; the manifest and its tags are then 404.
fn manifest_delete_by_digest(api: &Api) {
    let repo = "manifests/delete";
    push_oci_image(api, repo, "survivor");
    let (_, descriptor) = push_oci_image(api, repo, "doomed");
    let path = format!("/v2/{repo}/manifests/{}", descriptor.digest);
    let resp = api.delete(&path);
    assert_eq!(
        resp.status(),
        202,
        "DELETE manifest by digest: {}",
        text(resp)
    );
    assert_manifest_absent(api, repo, &descriptor.digest);
    assert_eq!(
        api.get_manifest(repo, "doomed").status(),
        404,
        "tag of a deleted manifest"
    );
    assert_error(api.delete(&path), 404, "MANIFEST_UNKNOWN");
    let tags: Value = api.get(&format!("/v2/{repo}/tags/list")).json().unwrap();
    assert_eq!(tags["tags"], json!(["survivor"]), "tags after the delete");
}
on_both!(manifest_delete_by_digest);

/// DELETE by tag answers 202 and removes only that tag.
fn manifest_delete_by_tag(api: &Api) {
    let repo = "manifests/delete-tag";
    let (body, descriptor) = push_oci_image(api, repo, "one");
    put_manifest_created(api, repo, "two", media_type::OCI_MANIFEST, &body);
    let resp = api.delete(&format!("/v2/{repo}/manifests/one"));
    assert_eq!(resp.status(), 202, "DELETE by tag: {}", text(resp));
    assert_manifest_absent(api, repo, "one");
    assert_manifest_served(api, repo, "two", media_type::OCI_MANIFEST, &body);
    assert_manifest_served(
        api,
        repo,
        &descriptor.digest,
        media_type::OCI_MANIFEST,
        &body,
    );
    let tags: Value = api.get(&format!("/v2/{repo}/tags/list")).json().unwrap();
    assert_eq!(tags["tags"], json!(["two"]), "tags after deleting one");
}
// Distribution 2.8 cannot delete a tag: it parses the reference as a digest
// and answers 400 DIGEST_INVALID (the spec allows 400 when tag deletion is
// unsupported; berthd supports it).
on_berthd!(manifest_delete_by_tag);

/// With deletes disabled, DELETE of a manifest is 405 `UNSUPPORTED`, and of a
/// tag 400 or 405 (the spec allows either); both stay.
fn manifest_delete_disabled(kind: Kind) {
    let options = Options {
        delete_enabled: false,
        ..Options::default()
    };
    let Some((_registry, api)) = start(kind, options) else {
        return;
    };
    let repo = "manifests/keep";
    let (body, descriptor) = push_oci_image(&api, repo, "kept");
    assert_error(
        api.delete(&format!("/v2/{repo}/manifests/{}", descriptor.digest)),
        405,
        "UNSUPPORTED",
    );
    let resp = api.delete(&format!("/v2/{repo}/manifests/kept"));
    let status = resp.status().as_u16();
    assert!(
        status == 400 || status == 405,
        "DELETE by tag with deletes disabled: expected 400 or 405, got {}",
        text(resp)
    );
    assert_manifest_served(&api, repo, "kept", media_type::OCI_MANIFEST, &body);
}
on_both!(manifest_delete_disabled);

/// The manifest is served when `Accept` lists its type among others, with
/// q-values, or across several `Accept` headers.
fn manifest_content_negotiation(api: &Api) {
    let repo = "manifests/negotiation";
    let (body, descriptor) = push_oci_image(api, repo, "v1");
    let url = |reference: &str| api.url(&format!("/v2/{repo}/manifests/{reference}"));
    for reference in ["v1", descriptor.digest.as_str()] {
        let single = api
            .client()
            .get(url(reference))
            .header(
                ACCEPT,
                format!(
                    "{}, {};q=0.9",
                    media_type::DOCKER_MANIFEST,
                    media_type::OCI_MANIFEST
                ),
            )
            .send()
            .unwrap();
        let several = api
            .client()
            .get(url(reference))
            .header(ACCEPT, media_type::DOCKER_MANIFEST_LIST)
            .header(ACCEPT, media_type::OCI_MANIFEST)
            .send()
            .unwrap();
        for (how, resp) in [
            ("one Accept header", single),
            ("two Accept headers", several),
        ] {
            assert_eq!(resp.status(), 200, "GET {reference} with {how}");
            assert_eq!(content_type(&resp), media_type::OCI_MANIFEST, "{how}");
            assert_eq!(resp.bytes().unwrap().as_ref(), body, "{how}");
        }
    }
}
on_both!(manifest_content_negotiation);

/// Parameters on the PUT's `Content-Type` are ignored (the spec says
/// registries SHOULD): the manifest is stored and served as its media type.
fn manifest_content_type_parameters(api: &Api) {
    let repo = "manifests/parameters";
    let (config, layers) = push_image_blobs(api, repo, false);
    let body = pretty(&api::oci_manifest(&config, &layers));
    let with_parameter = format!("{}; charset=utf-8", media_type::OCI_MANIFEST);
    put_manifest_created(api, repo, "v1", &with_parameter, &body);
    assert_manifest_served(api, repo, "v1", media_type::OCI_MANIFEST, &body);
}
on_both!(manifest_content_type_parameters);

/// A tag pushed again points to the new manifest; the old one stays
/// reachable by digest.
fn manifest_tag_repush(api: &Api) {
    let repo = "manifests/repush";
    let (first, first_descriptor) = push_oci_image(api, repo, "moving");
    let (second, second_descriptor) = push_oci_image(api, repo, "moving");
    assert_ne!(first_descriptor.digest, second_descriptor.digest);
    assert_manifest_served(api, repo, "moving", media_type::OCI_MANIFEST, &second);
    assert_manifest_served(
        api,
        repo,
        &first_descriptor.digest,
        media_type::OCI_MANIFEST,
        &first,
    );
    let tags: Value = api.get(&format!("/v2/{repo}/tags/list")).json().unwrap();
    assert_eq!(tags["tags"], json!(["moving"]), "tags after re-push");
}
on_both!(manifest_tag_repush);

// ---------------------------------------------------------------------------
// Referrers (Distribution 2.8 predates the referrers API: berthd only)
// ---------------------------------------------------------------------------

/// The descriptor the referrers API must list for a pushed referrer.
fn referrer_entry(media_type: &str, body: &[u8], manifest: &Value) -> Value {
    let mut entry = Descriptor::of(media_type, body).to_json();
    let artifact_type = manifest
        .get("artifactType")
        .or_else(|| manifest.get("config").and_then(|c| c.get("mediaType")));
    if let Some(artifact_type) = artifact_type {
        entry["artifactType"] = artifact_type.clone();
    }
    if let Some(annotations) = manifest.get("annotations") {
        entry["annotations"] = annotations.clone();
    }
    entry
}

struct Referrers {
    repo: &'static str,
    subject: Descriptor,
    sbom: Value,
    signature: Value,
    untyped_image: Value,
    index: Value,
}

/// Pushes a subject image and four referrers of it (an SBOM artifact, a
/// signature artifact pushed before the subject, an image manifest without
/// `artifactType`, an index), plus manifests that must not be listed.
fn push_referrers(api: &Api) -> Referrers {
    let repo = "referrers/app";
    let (_, other_subject) = push_oci_image(api, repo, "other");
    let (subject_config, subject_layers) = push_image_blobs(api, repo, false);
    let subject_body = pretty(&api::oci_manifest(&subject_config, &subject_layers));
    let subject = Descriptor::of(media_type::OCI_MANIFEST, &subject_body);

    let push = |media_type: &str, manifest: &Value| -> Value {
        let body = pretty(manifest);
        put_manifest_created(api, repo, &sha256_digest(&body), media_type, &body);
        referrer_entry(media_type, &body, manifest)
    };
    let signature = push(
        media_type::OCI_MANIFEST,
        &artifact_manifest(api, repo, "application/vnd.example.signature.v1", &subject),
    );
    put_manifest_created(api, repo, "app", media_type::OCI_MANIFEST, &subject_body);
    let sbom = push(
        media_type::OCI_MANIFEST,
        &artifact_manifest(api, repo, "application/vnd.example.sbom.v1", &subject),
    );

    let config = br#"{"kind":"attestation"}"#;
    let config_digest = api.push_blob(repo, config);
    let mut untyped = api::oci_manifest(
        &Descriptor::new(
            "application/vnd.example.attestation.config.v1+json",
            &config_digest,
            config.len() as u64,
        ),
        &subject_layers,
    );
    untyped["subject"] = subject.to_json();
    let untyped_image = push(media_type::OCI_MANIFEST, &untyped);

    let mut index = api::oci_index(&[]);
    index["subject"] = subject.to_json();
    index["annotations"] = json!({ "org.example.bundle": "yes" });
    let index = push(media_type::OCI_INDEX, &index);

    // Not referrers of `subject`: a referrer of another manifest, and one in
    // another repository.
    push(
        media_type::OCI_MANIFEST,
        &artifact_manifest(api, repo, "application/vnd.example.sbom.v1", &other_subject),
    );
    let elsewhere = pretty(&artifact_manifest(
        api,
        "referrers/elsewhere",
        "application/vnd.example.sbom.v1",
        &subject,
    ));
    put_manifest_created(
        api,
        "referrers/elsewhere",
        &sha256_digest(&elsewhere),
        media_type::OCI_MANIFEST,
        &elsewhere,
    );

    Referrers {
        repo,
        subject,
        sbom,
        signature,
        untyped_image,
        index,
    }
}

/// GETs the referrers of `digest` (with a `query`) and checks the answer is
/// an OCI index; returns the response's `OCI-Filters-Applied` and entries.
fn get_referrers(api: &Api, repo: &str, digest: &str, query: &str) -> (Option<String>, Vec<Value>) {
    let resp = api.get(&format!("/v2/{repo}/referrers/{digest}{query}"));
    assert_eq!(resp.status(), 200, "GET referrers of {digest}{query}");
    assert_eq!(
        content_type(&resp),
        media_type::OCI_INDEX,
        "Content-Type of the referrers answer"
    );
    let filters = header(&resp, "OCI-Filters-Applied");
    let index: Value = resp.json().expect("referrers answer is JSON");
    assert_eq!(index["schemaVersion"], 2, "referrers index: {index}");
    assert_eq!(
        index["mediaType"],
        media_type::OCI_INDEX,
        "referrers index: {index}"
    );
    let entries = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("referrers index without a manifests array: {index}"))
        .clone();
    (filters, entries)
}

/// Compares descriptor lists regardless of order.
fn assert_same_entries(got: &[Value], expected: &[&Value], what: &str) {
    let by_digest = |entries: Vec<&Value>| -> BTreeMap<String, Value> {
        entries
            .into_iter()
            .map(|e| {
                (
                    e["digest"].as_str().unwrap_or_default().to_owned(),
                    e.clone(),
                )
            })
            .collect()
    };
    let got = by_digest(got.iter().collect());
    let expected = by_digest(expected.to_vec());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{what}: listed digests"
    );
    for (digest, entry) in &expected {
        assert_eq!(&got[digest], entry, "{what}: descriptor of {digest}");
    }
}

/// The referrers of a manifest: exactly the manifests in the repository
/// whose `subject` is it, each with mediaType, digest, size, artifactType
/// (the config's media type when the manifest has none; omitted for an
/// index without one) and annotations.
fn referrers_list(api: &Api) {
    let r = push_referrers(api);
    let (_, entries) = get_referrers(api, r.repo, &r.subject.digest, "");
    assert_same_entries(
        &entries,
        &[&r.sbom, &r.signature, &r.untyped_image, &r.index],
        "referrers",
    );
}
on_berthd!(referrers_list);

/// `?artifactType=` keeps matching referrers only and says so in
/// `OCI-Filters-Applied`.
fn referrers_filter(api: &Api) {
    let r = push_referrers(api);
    let query = format!("?artifactType={}", "application/vnd.example.sbom.v1");
    let (filters, entries) = get_referrers(api, r.repo, &r.subject.digest, &query);
    assert_eq!(
        filters.as_deref(),
        Some("artifactType"),
        "OCI-Filters-Applied"
    );
    assert_same_entries(&entries, &[&r.sbom], "referrers filtered by artifactType");

    let (filters, entries) = get_referrers(
        api,
        r.repo,
        &r.subject.digest,
        "?artifactType=application/vnd.example.none",
    );
    assert_eq!(
        filters.as_deref(),
        Some("artifactType"),
        "OCI-Filters-Applied"
    );
    assert!(entries.is_empty(), "filter matching nothing: {entries:?}");
}
on_berthd!(referrers_filter);

/// Referrers of a digest nobody refers to: 200 with an empty index, never
/// 404; a malformed digest is 400.
fn referrers_unknown_digest(api: &Api) {
    let repo = "referrers/empty";
    let (_, image) = push_oci_image(api, repo, "image");
    for digest in [image.digest, sha256_digest(b"nothing")] {
        let (_, entries) = get_referrers(api, repo, &digest, "");
        assert!(entries.is_empty(), "referrers of {digest}: {entries:?}");
    }
    let resp = api.get(&format!("/v2/{repo}/referrers/sha256:xyz"));
    let status = resp.status();
    let ct = content_type(&resp);
    let body = resp.bytes().unwrap();
    assert_eq!(status, 400, "referrers of a malformed digest");
    assert_error_body_if_json("referrers of a malformed digest", 400, &ct, &body);
}
on_berthd!(referrers_unknown_digest);

/// A deleted referrer leaves the list.
fn referrers_forget_deleted(api: &Api) {
    let r = push_referrers(api);
    let sbom = r.sbom["digest"].as_str().unwrap();
    let resp = api.delete(&format!("/v2/{}/manifests/{sbom}", r.repo));
    assert_eq!(resp.status(), 202, "DELETE referrer");
    let (_, entries) = get_referrers(api, r.repo, &r.subject.digest, "");
    assert_same_entries(
        &entries,
        &[&r.signature, &r.untyped_image, &r.index],
        "referrers after deleting one",
    );
}
on_berthd!(referrers_forget_deleted);

// ---------------------------------------------------------------------------
// Tags and catalog
// ---------------------------------------------------------------------------

const TAGS: [&str; 8] = [
    "1.0", "alpha", "beta", "latest", "v1", "v10", "v2", "z_last",
];

fn push_tags(api: &Api, repo: &str) {
    let (body, _) = push_oci_image(api, repo, TAGS[0]);
    for tag in &TAGS[1..] {
        put_manifest_created(api, repo, tag, media_type::OCI_MANIFEST, &body);
    }
}

/// The tag list names the repository and holds every tag.
fn tags_list(api: &Api) {
    let repo = "tags/all";
    push_tags(api, repo);
    let resp = api.get(&format!("/v2/{repo}/tags/list"));
    assert_eq!(resp.status(), 200, "GET tags/list");
    let list: Value = resp.json().unwrap();
    assert_eq!(list["name"], repo, "tags/list name: {list}");
    let got = tag_set(&list);
    assert_eq!(got, TAGS.into_iter().collect(), "tags/list");
}
on_both!(tags_list);

/// Tags come in lexical order; `n` and `last` page through them, with a
/// `Link: <…>; rel="next"` while more remain; `n=0` is empty without Link.
fn tags_list_paginated(api: &Api) {
    let repo = "tags/pages";
    push_tags(api, repo);
    let tags_of = |resp: Response| listed(resp, "tags");

    let all = tags_of(api.get(&format!("/v2/{repo}/tags/list")));
    assert_eq!(all, TAGS, "tags/list order");

    let pages = follow_pages(api, &format!("/v2/{repo}/tags/list"), 3, "tags");
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 2], "page sizes for n=3 over 8 tags");
    assert_eq!(pages.concat(), TAGS, "pages concatenated");

    let resp = api.get(&format!("/v2/{repo}/tags/list?last=latest"));
    assert_eq!(tags_of(resp), ["v1", "v10", "v2", "z_last"], "last=latest");
    let resp = api.get(&format!("/v2/{repo}/tags/list?n=2&last=beta"));
    assert!(next_link(&resp).is_some(), "Link when more tags remain");
    assert_eq!(tags_of(resp), ["latest", "v1"], "n=2&last=beta");
    let resp = api.get(&format!("/v2/{repo}/tags/list?n=0"));
    assert_eq!(header(&resp, "Link"), None, "n=0 has no Link");
    assert!(tags_of(resp).is_empty(), "n=0 is an empty list");
    let resp = api.get(&format!("/v2/{repo}/tags/list?n=100"));
    assert_eq!(header(&resp, "Link"), None, "n beyond the end has no Link");
    assert_eq!(tags_of(resp), TAGS, "n=100");
}
// Distribution 2.8 returns tags unsorted (in directory order) and ignores
// `n` and `last` on tags/list.
on_berthd!(tags_list_paginated);

/// Tags of an unknown repository: 404 `NAME_UNKNOWN`.
fn tags_list_unknown_repository(api: &Api) {
    assert_error(api.get("/v2/tags/nobody/tags/list"), 404, "NAME_UNKNOWN");
}
on_both!(tags_list_unknown_repository);

// ---------------------------------------------------------------------------
// Error answers in general
// ---------------------------------------------------------------------------

/// Whatever a registry answers to odd requests, an error answer in JSON has
/// the spec's shape and the status Distribution pairs with its code (a
/// client that sees `UNSUPPORTED` expects 405, `NAME_INVALID` 400, …).
fn error_codes_carry_their_status(api: &Api) {
    let repo = "errors/app";
    push_oci_image(api, repo, "latest");
    let missing_upload = format!("/v2/{repo}/blobs/uploads/0b0e4d9e-4c55-4a8c-9f7e-2b7c1d3e5f60");
    let md5 = "md5:9dd4e461268c8034f5c8564e155c67a6";
    let client = api.client();
    let requests = [
        client.get(api.url("/v2/_catalog?n=abc")),
        client.get(api.url(&format!("/v2/{repo}/tags/list?n=abc"))),
        client.get(api.url(&format!("/v2/{repo}/tags/list?n=-1"))),
        client.get(api.url(&format!("/v2/{repo}/tags/list/"))),
        client.get(api.url(&format!("/v2/{repo}/no-such-endpoint"))),
        client.get(api.url("/v2/Bad/tags/list")),
        client.get(api.url(&format!("/v2/{repo}/manifests/sha256:zz"))),
        client.get(api.url(&format!("/v2/{repo}/blobs/{md5}"))),
        client.patch(api.url(&format!("/v2/{repo}/blobs/uploads/"))),
        client.delete(api.url(&format!("/v2/{repo}/blobs/uploads/"))),
        client.put(api.url(&format!("/v2/{repo}/manifests/"))),
        client.get(api.url(&missing_upload)),
        client
            .post(api.url(&format!("/v2/{repo}/blobs/uploads/?digest=sha256:zz")))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body("abc"),
        client.post(api.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount=sha256:zz&from={repo}"
        ))),
        client
            .put(api.url(&format!("/v2/{repo}/manifests/latest")))
            .header(CONTENT_TYPE, media_type::OCI_MANIFEST)
            .body("[]"),
    ];
    let mut wrong = Vec::new();
    for request in requests {
        let request = request.build().unwrap();
        let what = format!("{} {}", request.method(), target_of(request.url().as_str()));
        let resp = client.execute(request).unwrap();
        let status = resp.status().as_u16();
        let looks_json = content_type(&resp).contains("json");
        let body = resp.bytes().unwrap();
        if status >= 400
            && (looks_json || body.first() == Some(&b'{'))
            && let Err(e) = api::check_error_answer(status, &body)
        {
            wrong.push(format!("{what}: {e}"));
        }
    }
    assert!(wrong.is_empty(), "error answers:\n{}", wrong.join("\n"));
}
on_both!(error_codes_carry_their_status);

/// Tags outside `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` are refused (400 or 404)
/// and never listed; the longest valid tag and upper case work.
fn tags_invalid(api: &Api) {
    let repo = "tags/invalid";
    let (body, _) = push_oci_image(api, repo, "ok");
    let too_long = "a".repeat(129);
    for tag in ["-bad", ".bad", too_long.as_str(), "a%2Fb", "a%20b"] {
        let resp = api.put_manifest(repo, tag, media_type::OCI_MANIFEST, &body);
        let status = resp.status().as_u16();
        let ct = content_type(&resp);
        let bytes = resp.bytes().unwrap();
        let what = format!("PUT manifest with tag {tag:?}");
        assert!(
            status == 400 || status == 404,
            "{what}: expected 400 or 404, got {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if status == 400 {
            api::check_error_answer(400, &bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        } else {
            assert_error_body_if_json(&what, status, &ct, &bytes);
        }
    }
    let longest = "b".repeat(128);
    for tag in [longest.as_str(), "UPPER_case.1-x"] {
        put_manifest_created(api, repo, tag, media_type::OCI_MANIFEST, &body);
    }
    let list: Value = api.get(&format!("/v2/{repo}/tags/list")).json().unwrap();
    let got = tag_set(&list);
    let expected: BTreeSet<&str> = ["ok", longest.as_str(), "UPPER_case.1-x"].into();
    assert_eq!(got, expected, "tags after refused ones");
}
on_both!(tags_invalid);

/// `_catalog` lists every repository, nested names included, sorted, and
/// pages with `n`, `last` and `Link`.
fn catalog_paginated(api: &Api) {
    let repos = ["alpha", "beta/one", "beta/two/three", "gamma", "zeta"];
    for repo in repos {
        push_oci_image(api, repo, "latest");
    }
    let repositories = |resp: Response| listed(resp, "repositories");
    let resp = api.get("/v2/_catalog");
    assert_eq!(resp.status(), 200, "GET /v2/_catalog");
    assert_eq!(repositories(resp), repos, "_catalog");

    let pages = follow_pages(api, "/v2/_catalog", 2, "repositories");
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1], "page sizes for n=2 over 5 repositories");
    assert_eq!(pages.concat(), repos, "pages concatenated");
    let resp = api.get("/v2/_catalog?n=2&last=beta/two/three");
    assert_eq!(
        repositories(resp),
        ["gamma", "zeta"],
        "n=2&last=beta/two/three"
    );
}
on_both!(catalog_paginated);

// ---------------------------------------------------------------------------
// Names and digests as attack surface
// ---------------------------------------------------------------------------

/// Names the spec's grammar rejects are 400 `NAME_INVALID` or 404, on every
/// kind of endpoint, and leave nothing in the store.
fn names_invalid(registry: &Registry, api: &Api) {
    let (manifest, _) = push_oci_image(api, "names/valid", "latest");
    let bad_names = ["Upper", "a-", "-a", ".a", "a..b", "a/B", "a_", "a/-b"];
    for name in bad_names {
        let requests = [
            api.client()
                .post(api.url(&format!("/v2/{name}/blobs/uploads/")))
                .header("Content-Length", "0"),
            api.client()
                .put(api.url(&format!("/v2/{name}/manifests/latest")))
                .header(CONTENT_TYPE, media_type::OCI_MANIFEST)
                .body(manifest.clone()),
            api.client().get(api.url(&format!("/v2/{name}/tags/list"))),
            api.client()
                .get(api.url(&format!("/v2/{name}/blobs/{}", sha256_digest(b"x")))),
        ];
        for request in requests {
            let resp = request.send().unwrap();
            let what = format!("{} for name {name:?}", resp.url());
            let status = resp.status().as_u16();
            let ct = content_type(&resp);
            let body = resp.bytes().unwrap();
            match status {
                400 => {
                    let errors = api::check_error_answer(400, &body)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(
                        errors.codes().contains(&"NAME_INVALID"),
                        "{what}: 400 with {:?}",
                        errors.codes()
                    );
                }
                404 => assert_error_body_if_json(&what, 404, &ct, &body),
                other => panic!(
                    "{what}: expected 400 NAME_INVALID or 404, got {other}: {}",
                    String::from_utf8_lossy(&body)
                ),
            }
        }
    }
    let stored: Vec<PathBuf> = walk(registry.root())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            ["Upper", "a-", "-a", ".a", "a..b", "B", "a_", "-b"].contains(&name.as_ref())
        })
        .collect();
    assert!(
        stored.is_empty(),
        "invalid names left {stored:?} in the store"
    );
}
on_both!(names_invalid);

/// Requests whose names climb out with `..`, `%2e%2e`, encoded slashes or
/// empty components, sent verbatim (an HTTP client would normalise them).
fn dot_segment_requests(marker: &str, manifest: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let up = "../".repeat(12);
    let up_encoded = "%2e%2e/".repeat(12);
    let up_slash_encoded = "..%2F".repeat(12);
    let names = [
        format!("{up}tmp/{marker}"),
        format!("a/{up}tmp/{marker}"),
        format!("{up_encoded}tmp/{marker}"),
        format!("a/%2E%2E/%2E%2E/{marker}"),
        format!("{up_slash_encoded}tmp%2F{marker}"),
        format!("/{marker}"),
        format!("{marker}//x"),
        format!("{marker}/./x"),
    ];
    let mut requests = Vec::new();
    for name in names {
        requests.push((
            "POST".to_owned(),
            format!("/v2/{name}/blobs/uploads/"),
            Vec::new(),
        ));
        requests.push((
            "PUT".to_owned(),
            format!("/v2/{name}/manifests/latest"),
            manifest.to_vec(),
        ));
        requests.push((
            "GET".to_owned(),
            format!("/v2/{name}/tags/list"),
            Vec::new(),
        ));
    }
    requests
}

fn send_dot_segment_requests(registry: &Registry, api: &Api, strict: bool) {
    let (manifest, _) = push_oci_image(api, "names/valid", "latest");
    let marker = unique("berth-escape");
    for (method, target, body) in dot_segment_requests(&marker, &manifest) {
        let content_type = if method == "PUT" {
            media_type::OCI_MANIFEST
        } else {
            "application/octet-stream"
        };
        let resp = match raw_request(
            registry.addr(),
            &method,
            &target,
            &[("Content-Type", content_type)],
            &body,
        ) {
            Ok(resp) => resp,
            // Distribution answers some of these with a redirect before it
            // has read the body and resets the connection: a refusal too.
            // What matters here is checked below: nothing left the store.
            Err(e) if !strict && e.kind() == std::io::ErrorKind::ConnectionReset => continue,
            Err(e) => panic!("{method} {target}: {e}"),
        };
        let what = format!("{method} {target}");
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        assert!(
            !(200..300).contains(&resp.status),
            "{what} succeeded ({}): {text}",
            resp.status
        );
        if strict {
            match resp.status {
                400 => {
                    let errors = api::check_error_answer(400, &resp.body)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(
                        errors.codes().contains(&"NAME_INVALID"),
                        "{what}: 400 with {:?}",
                        errors.codes()
                    );
                }
                404 => assert_error_body_if_json(
                    &what,
                    404,
                    resp.header("content-type").unwrap_or_default(),
                    &resp.body,
                ),
                other => panic!("{what}: expected 400 NAME_INVALID or 404, got {other}: {text}"),
            }
        }
    }
    assert_marker_nowhere(registry, &marker);
}

/// No request with a climbing name succeeds or writes outside the store.
fn names_dot_segments_stay_in_store(registry: &Registry, api: &Api) {
    send_dot_segment_requests(registry, api, false);
}
on_both!(names_dot_segments_stay_in_store);

/// Climbing names are refused outright: 400 `NAME_INVALID` or 404.
fn names_dot_segments_rejected(registry: &Registry, api: &Api) {
    send_dot_segment_requests(registry, api, true);
}
// Distribution 2.8 (gorilla/mux) answers these with a 301 redirect to the
// cleaned path instead of refusing them; it still never escapes the store,
// which `names_dot_segments_stay_in_store` checks on both.
on_berthd!(names_dot_segments_rejected);

/// A name of 256 characters is 400 `NAME_INVALID` (or 404); one of 255 works.
fn name_length_limit(api: &Api) {
    let component = "abcdefghij";
    let long_255 = format!("{}/{}", [component; 22].join("/"), "abcdefghijklm");
    assert_eq!(long_255.len(), 255);
    let long_256 = format!("{long_255}m");
    let single_256 = "a".repeat(256);
    for name in [&long_256, &single_256] {
        let resp = api.start_upload(name);
        let status = resp.status().as_u16();
        let ct = content_type(&resp);
        let body = resp.bytes().unwrap();
        match status {
            400 => {
                let errors = api::check_error_answer(400, &body).expect("spec error body");
                assert!(
                    errors.codes().contains(&"NAME_INVALID"),
                    "{:?}",
                    errors.codes()
                );
            }
            404 => assert_error_body_if_json("256-char name", 404, &ct, &body),
            other => panic!(
                "POST upload for a {}-char name: expected 400 NAME_INVALID or 404, got {other}: {}",
                name.len(),
                String::from_utf8_lossy(&body)
            ),
        }
    }
    let digest = api.push_blob(&long_255, b"fits");
    assert_eq!(
        api.head_blob(&long_255, &digest).status(),
        200,
        "255-char name"
    );
}
// Distribution 2.8 answers a name over 255 characters with 500 UNKNOWN.
on_berthd!(name_length_limit);

/// Digest-shaped path traversal never reads or writes outside the store:
/// in `?digest=` it is 400 `DIGEST_INVALID`; in a path it never succeeds.
fn digest_traversal_never_escapes(registry: &Registry, api: &Api) {
    digest_traversal(registry, api, false);
}
on_both!(digest_traversal_never_escapes);

/// Digest-shaped path traversal in a path is refused outright: 400
/// `DIGEST_INVALID` or 404.
fn digest_traversal_rejected(registry: &Registry, api: &Api) {
    digest_traversal(registry, api, true);
}
// Distribution 2.8 redirects (301) paths with `..` to the cleaned path
// rather than refusing them.
on_berthd!(digest_traversal_rejected);

fn digest_traversal(registry: &Registry, api: &Api, strict: bool) {
    let repo = "digests/traversal";
    api.push_blob(repo, b"the repository exists");
    let traversal = "sha256:../../../../../../../../../../etc/passwd";

    let location = api.start_upload_location(repo);
    assert_error(
        api.finish_upload(&location, traversal, b"root:x:0:0"),
        400,
        "DIGEST_INVALID",
    );
    let resp = api.mount_blob(repo, traversal, "digests/traversal");
    assert_ne!(resp.status(), 201, "mount of a traversal digest");

    let encoded = "sha256:..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd";
    let targets = [
        format!("/v2/{repo}/blobs/{traversal}"),
        format!("/v2/{repo}/blobs/{encoded}"),
        format!("/v2/{repo}/manifests/{traversal}"),
        format!("/v2/{repo}/manifests/{encoded}"),
        format!("/v2/{repo}/referrers/{encoded}"),
    ];
    for target in targets {
        let resp = raw_request(registry.addr(), "GET", &target, &[], &[])
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        assert!(!text.contains("root:"), "GET {target} served /etc/passwd");
        assert!(
            !(200..300).contains(&resp.status),
            "GET {target} succeeded ({}): {text}",
            resp.status
        );
        if strict {
            match resp.status {
                400 => {
                    let errors = api::check_error_answer(400, &resp.body)
                        .unwrap_or_else(|e| panic!("GET {target}: {e}"));
                    assert!(
                        errors.codes().contains(&"DIGEST_INVALID"),
                        "GET {target}: 400 with {:?}",
                        errors.codes()
                    );
                }
                404 => {}
                other => {
                    panic!("GET {target}: expected 400 DIGEST_INVALID or 404, got {other}: {text}")
                }
            }
        }
    }
    let outside: Vec<PathBuf> = walk(registry.workdir())
        .into_iter()
        .filter(|p| !p.starts_with(registry.root()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name != "config.yml" && name != "registry.log"
        })
        .collect();
    assert!(outside.is_empty(), "files outside the store: {outside:?}");
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// Eight clients push the same blob at once: all succeed, one blob is stored.
fn concurrent_same_blob(registry: &Registry, api: &Api) {
    let repo = "concurrent/blob";
    let bytes = random_bytes(1 << 20);
    let digest = sha256_digest(&bytes);
    let barrier = Barrier::new(8);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let location = api.start_upload_location(repo);
                    barrier.wait();
                    let resp = api.finish_upload(&location, &digest, &bytes);
                    resp.status().as_u16()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(statuses, [201; 8], "statuses of 8 concurrent pushes");
    let resp = api.get_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "GET the blob");
    assert_eq!(
        resp.bytes().unwrap().as_ref(),
        bytes,
        "content after a race"
    );
    let hex = digest.trim_start_matches("sha256:");
    let copies: Vec<PathBuf> = walk(registry.root())
        .into_iter()
        .filter(|p| {
            p.file_name() == Some("data".as_ref())
                && p.parent().and_then(Path::file_name) == Some(hex.as_ref())
        })
        .collect();
    assert_eq!(copies.len(), 1, "stored copies of the blob: {copies:?}");
}
on_both!(concurrent_same_blob);

/// Eight clients push different manifests to one tag at once: all succeed,
/// and the tag resolves to one of them, consistently.
fn concurrent_manifests_same_tag(api: &Api) {
    let repo = "concurrent/tag";
    let (config, layers) = push_image_blobs(api, repo, false);
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let mut manifest = api::oci_manifest(&config, &layers);
            manifest["annotations"] = json!({ "org.example.writer": i.to_string() });
            pretty(&manifest)
        })
        .collect();
    let barrier = Barrier::new(8);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = bodies
            .iter()
            .map(|body| {
                let (api, barrier) = (api, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let resp = api.put_manifest(repo, "race", media_type::OCI_MANIFEST, body);
                    resp.status().as_u16()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(
        statuses, [201; 8],
        "statuses of 8 concurrent manifest pushes"
    );
    let winner = api.get_manifest(repo, "race").bytes().unwrap().to_vec();
    assert!(
        bodies.contains(&winner),
        "the tag serves a manifest nobody pushed"
    );
    for _ in 0..3 {
        assert_manifest_served(api, repo, "race", media_type::OCI_MANIFEST, &winner);
    }
    for body in &bodies {
        assert_manifest_served(
            api,
            repo,
            &sha256_digest(body),
            media_type::OCI_MANIFEST,
            body,
        );
    }
}
on_both!(concurrent_manifests_same_tag);

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/// What a registry may hold while it moves a 256 MiB blob: half of it.
const STREAMING_BOUND_KIB: u64 = 128 * 1024;

/// Asserts `resp` streams `len` bytes hashing to `digest`, and the registry
/// stayed under [`STREAMING_BOUND_KIB`] while the blob went up and came back.
fn assert_streamed_back(registry: &Registry, resp: Response, digest: &str, len: u64, how: &str) {
    let (pulled, pulled_len) = api::sha256_of_reader(resp).unwrap();
    assert_eq!(
        (pulled.as_str(), pulled_len),
        (digest, len),
        "digest of the pulled blob"
    );
    let pid = registry.pid().expect("the registry is running");
    assert_peak_rss_below(pid, STREAMING_BOUND_KIB, how);
}

/// A 256 MiB blob goes up in one streamed PUT and comes back intact, and
/// the registry's memory does not grow with it.
fn streaming_large_blob(registry: &Registry, api: &Api) {
    let repo = "streaming/big";
    let len = 256u64 << 20;
    let (digest, _) = api::sha256_of_reader(RandomReader::new(42, len)).unwrap();
    let location = api.start_upload_location(repo);
    let resp = api.finish_upload_streamed(&location, &digest, RandomReader::new(42, len), len);
    assert_eq!(
        resp.status(),
        201,
        "streamed PUT of 256 MiB: {}",
        text(resp)
    );

    let resp = api.get_blob(repo, &digest);
    assert_eq!(resp.status(), 200, "GET the 256 MiB blob");
    assert_eq!(
        header(&resp, "Content-Length").as_deref(),
        Some(len.to_string().as_str()),
        "Content-Length of the 256 MiB blob"
    );
    assert_streamed_back(registry, resp, &digest, len, "while moving a 256 MiB blob");
}
on_both!(streaming_large_blob);

/// The same through a chunked upload: a streamed 128 MiB PATCH, then the
/// other 128 MiB in the closing PUT; memory stays flat on that path too.
fn streaming_large_chunked_blob(registry: &Registry, api: &Api) {
    let repo = "streaming/chunked";
    let (len, half) = (256u64 << 20, 128u64 << 20);
    let (digest, _) = api::sha256_of_reader(RandomReader::new(7, len)).unwrap();
    let location = api.start_upload_location(repo);
    let resp = api
        .client()
        .patch(&location)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_RANGE, format!("0-{}", half - 1))
        .body(reqwest::blocking::Body::sized(
            RandomReader::new(7, len).take(half),
            half,
        ))
        .send()
        .unwrap();
    assert_eq!(
        resp.status(),
        202,
        "streamed PATCH of 128 MiB: {}",
        text(resp)
    );
    let location = api.location(&resp);
    let mut rest = RandomReader::new(7, len);
    std::io::copy(&mut (&mut rest).take(half), &mut std::io::sink()).unwrap();
    let resp = api.finish_upload_streamed(&location, &digest, rest, len - half);
    assert_eq!(
        resp.status(),
        201,
        "closing PUT with 128 MiB: {}",
        text(resp)
    );

    assert_streamed_back(
        registry,
        api.get_blob(repo, &digest),
        &digest,
        len,
        "during a 256 MiB chunked upload",
    );
}
on_both!(streaming_large_chunked_blob);

// ---------------------------------------------------------------------------
// Auth and TLS
// ---------------------------------------------------------------------------

/// With htpasswd auth: no credentials or wrong ones are 401 `UNAUTHORIZED`
/// with a Basic challenge; the right ones are let in.
fn basic_auth(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(file) = credentials::htpasswd(dir.path(), "user", "s3cret pass") else {
        return;
    };
    let options = Options {
        htpasswd: Some(file),
        ..Options::default()
    };
    let Some((_registry, api)) = start(kind, options) else {
        return;
    };
    let client = api.client();
    let base = api.url("/v2/");
    let upload = api.url("/v2/auth/repo/blobs/uploads/");

    let resp = client.get(&base).send().unwrap();
    let challenge = header(&resp, "WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.to_ascii_lowercase().starts_with("basic ")
            && challenge.contains("realm=\"berth-e2e\""),
        "WWW-Authenticate without credentials: {challenge:?}"
    );
    assert_error(resp, 401, "UNAUTHORIZED");
    assert_error(client.post(&upload).send().unwrap(), 401, "UNAUTHORIZED");
    for (user, password) in [("user", "wrong"), ("nobody", "s3cret pass"), ("user", "")] {
        let resp = client
            .get(&base)
            .basic_auth(user, Some(password))
            .send()
            .unwrap();
        assert_error(resp, 401, "UNAUTHORIZED");
    }
    let resp = client
        .get(&base)
        .basic_auth("user", Some("s3cret pass"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "GET /v2/ with the right credentials");
    assert_eq!(
        header(&resp, "Docker-Distribution-API-Version").as_deref(),
        Some("registry/2.0")
    );
    let resp = client
        .post(&upload)
        .basic_auth("user", Some("s3cret pass"))
        .header("Content-Length", "0")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202, "POST upload with the right credentials");
}
on_both!(basic_auth);

/// With TLS: HTTPS works with the self-signed certificate as the only
/// root, fails without it, and plain HTTP to the port gets no API answer.
fn tls(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(credentials::ServerCertificate { cert, key, .. }) =
        credentials::self_signed_certificate(dir.path())
    else {
        return;
    };
    let options = Options {
        tls: Some((cert.clone(), key)),
        ..Options::default()
    };
    let Some((registry, _api)) = start(kind, options) else {
        return;
    };
    assert!(registry.url().starts_with("https://"), "{}", registry.url());
    let url = format!("{}/v2/", registry.url());

    let root = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let pinned = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root)
        .build()
        .unwrap();
    let resp = pinned
        .get(&url)
        .send()
        .expect("HTTPS with the registry's certificate as root");
    assert_eq!(resp.status(), 200, "GET /v2/ over HTTPS");
    assert_eq!(
        header(&resp, "Docker-Distribution-API-Version").as_deref(),
        Some("registry/2.0")
    );

    let untrusting = reqwest::blocking::Client::builder().build().unwrap();
    assert!(
        untrusting.get(&url).send().is_err(),
        "HTTPS succeeded without trusting the self-signed certificate"
    );

    let plain = format!("http://{}/v2/", registry.host());
    if let Ok(resp) = reqwest::blocking::get(&plain) {
        assert!(
            !resp.status().is_success(),
            "plain HTTP to the TLS port answered {}",
            resp.status()
        );
    }
}
on_both!(tls);
