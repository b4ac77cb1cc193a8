//! Blocking helpers for the OCI Distribution HTTP API: digests, blob pushes, manifests.
//!
//! Written from the OCI Distribution Specification, not from any one
//! registry: requests carry what a well-behaved client sends (an explicit
//! `Content-Type` on uploads, an `Accept` listing every manifest type), and
//! answers are returned as they came so a test can assert on them.
//!
//! ```no_run
//! use berth_e2e::api::{self, Api, Descriptor, media_type};
//! let api = Api::new("http://127.0.0.1:5000");
//! let config = api.push_blob("demo", b"{}");
//! let layer = api.push_blob("demo", b"layer");
//! let manifest = api::oci_manifest(
//!     &Descriptor::new(media_type::OCI_CONFIG, &config, 2),
//!     &[Descriptor::new(media_type::OCI_LAYER, &layer, 5)],
//! );
//! let body = serde_json::to_vec(&manifest).unwrap();
//! let resp = api.put_manifest("demo", "latest", media_type::OCI_MANIFEST, &body);
//! assert_eq!(resp.status(), 201);
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use reqwest::blocking::{Body, Client, Response};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};

/// Media types of manifests, configs and layers, as registries see them.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI gzip-compressed layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// The OCI empty descriptor (`{}`), the config of artifacts without one.
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// Docker gzip layer.
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// Every manifest media type, in the form of an `Accept` header value.
    pub const ACCEPT_ALL_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
        application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json, \
        application/vnd.docker.distribution.manifest.list.v2+json";
}

/// The error codes the OCI Distribution Specification defines.
pub const SPEC_ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// The HTTP status Distribution always sends with an error code (its
/// `errcode` and `registry/api/v2` tables); clients come to rely on the pair.
/// `None` for codes outside those tables.
pub fn distribution_status(code: &str) -> Option<u16> {
    Some(match code {
        "BLOB_UNKNOWN"
        | "BLOB_UPLOAD_UNKNOWN"
        | "BLOB_UPLOAD_INVALID"
        | "MANIFEST_UNKNOWN"
        | "NAME_UNKNOWN" => 404,
        "DIGEST_INVALID"
        | "SIZE_INVALID"
        | "NAME_INVALID"
        | "TAG_INVALID"
        | "MANIFEST_INVALID"
        | "MANIFEST_UNVERIFIED"
        | "MANIFEST_BLOB_UNKNOWN"
        | "PAGINATION_NUMBER_INVALID" => 400,
        "RANGE_INVALID" => 416,
        "UNAUTHORIZED" => 401,
        "DENIED" => 403,
        "UNSUPPORTED" => 405,
        "TOOMANYREQUESTS" => 429,
        "UNKNOWN" => 500,
        "UNAVAILABLE" => 503,
        _ => return None,
    })
}

/// Checks an error answer: its body has the spec's shape (see
/// [`parse_error_body`]) and its status is the one Distribution pairs with
/// the first error's code (see [`distribution_status`]).
pub fn check_error_answer(status: u16, body: &[u8]) -> Result<ErrorBody, String> {
    let parsed = parse_error_body(body)?;
    let first = parsed.errors[0].code.as_str();
    match distribution_status(first) {
        Some(expected) if expected != status => Err(format!(
            "status {status} with error code {first}, which goes with {expected}: {}",
            String::from_utf8_lossy(body)
        )),
        _ => Ok(parsed),
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha512:<hex>` of `bytes`.
pub fn sha512_digest(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

/// Reads `reader` to its end, hashing as it goes: `(sha256 digest, length)`.
/// Memory stays flat however long the stream is.
pub fn sha256_of_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let len = io::copy(&mut reader, &mut hasher)?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), len))
}

/// A content descriptor: what a manifest says about a blob or a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// Its digest, `algorithm:hex`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Descriptor {
    /// A descriptor from its three parts.
    pub fn new(media_type: &str, digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: digest.to_owned(),
            size,
        }
    }

    /// The descriptor of `bytes` (sha256) with `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, &sha256_digest(bytes), bytes.len() as u64)
    }

    /// The descriptor as JSON: `{"mediaType", "digest", "size"}`.
    pub fn to_json(&self) -> Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

/// A minimal OCI image manifest for `config` and `layers`.
pub fn oci_manifest(config: &Descriptor, layers: &[Descriptor]) -> Value {
    image_manifest(media_type::OCI_MANIFEST, config, layers)
}

/// A minimal Docker schema 2 manifest for `config` and `layers`.
pub fn docker_manifest(config: &Descriptor, layers: &[Descriptor]) -> Value {
    image_manifest(media_type::DOCKER_MANIFEST, config, layers)
}

fn image_manifest(media_type: &str, config: &Descriptor, layers: &[Descriptor]) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.to_json(),
        "layers": layers.iter().map(Descriptor::to_json).collect::<Vec<_>>(),
    })
}

/// A minimal OCI image index over `manifests`, each for linux/amd64.
pub fn oci_index(manifests: &[Descriptor]) -> Value {
    manifest_index(media_type::OCI_INDEX, manifests)
}

/// A minimal Docker manifest list over `manifests`, each for linux/amd64.
pub fn docker_manifest_list(manifests: &[Descriptor]) -> Value {
    manifest_index(media_type::DOCKER_MANIFEST_LIST, manifests)
}

fn manifest_index(media_type: &str, manifests: &[Descriptor]) -> Value {
    let entries: Vec<Value> = manifests
        .iter()
        .map(|d| {
            let mut entry = d.to_json();
            entry["platform"] = json!({ "architecture": "amd64", "os": "linux" });
            entry
        })
        .collect();
    json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": entries })
}

/// The error body the specification defines: `{"errors": [...]}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// One or more errors.
    pub errors: Vec<ErrorEntry>,
}

/// One entry of an [`ErrorBody`].
#[derive(Debug, Deserialize)]
pub struct ErrorEntry {
    /// The error identifier, such as `BLOB_UNKNOWN`.
    pub code: String,
    /// A human-readable message (optional in the specification).
    #[serde(default)]
    pub message: Option<String>,
    /// Unstructured detail (optional).
    #[serde(default)]
    pub detail: Option<Value>,
}

impl ErrorBody {
    /// The codes of all entries.
    pub fn codes(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.code.as_str()).collect()
    }
}

/// Parses an error body and checks it has the specification's shape: a
/// non-empty `errors` array whose codes are upper-case letters and
/// underscores, with `message` a string when present.
pub fn parse_error_body(body: &[u8]) -> Result<ErrorBody, String> {
    let text = String::from_utf8_lossy(body);
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("error body is not JSON ({e}): {text}"))?;
    if let Some(entries) = value.get("errors").and_then(Value::as_array) {
        for entry in entries {
            if entry.get("message").is_some_and(|m| !m.is_string()) {
                return Err(format!("error `message` is not a string: {text}"));
            }
        }
    }
    let parsed: ErrorBody = serde_json::from_value(value)
        .map_err(|e| format!("error body lacks the spec's shape ({e}): {text}"))?;
    if parsed.errors.is_empty() {
        return Err(format!("error body has an empty `errors` array: {text}"));
    }
    for code in parsed.codes() {
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            return Err(format!(
                "error code {code:?} is not upper-case letters and underscores: {text}"
            ));
        }
    }
    Ok(parsed)
}

/// Asserts `resp` has `status` and a spec error body containing `code`;
/// returns the parsed body.
pub fn assert_error(resp: Response, status: u16, code: &str) -> ErrorBody {
    let url = resp.url().to_string();
    let got = resp.status().as_u16();
    let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        got, status,
        "{url}: expected {status} {code}, got {got} with body {text}"
    );
    let parsed = check_error_answer(got, &body).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(
        parsed.codes().contains(&code),
        "{url}: expected error code {code}, got {:?} ({text})",
        parsed.codes()
    );
    parsed
}

/// The value of header `name`, when present and valid UTF-8.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `url` with `key=value` appended to its query, percent-encoded.
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("parse URL {url}: {e}"));
    url.query_pairs_mut().append_pair(key, value);
    url.to_string()
}

/// A registry's API at one base URL, through one client.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
}

impl Api {
    /// The API at `base` (`http://host:port`) through [`crate::registry::client`].
    pub fn new(base: impl Into<String>) -> Api {
        Api::with_client(crate::registry::client(), base)
    }

    /// The API at `base` through `client` (for credentials or TLS roots).
    pub fn with_client(client: Client, base: impl Into<String>) -> Api {
        let base = base.into().trim_end_matches('/').to_owned();
        Api { client, base }
    }

    /// The HTTP client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An absolute URL for a `Location` header, which may be relative.
    pub fn resolve(&self, location: &str) -> String {
        let base = reqwest::Url::parse(&format!("{}/", self.base)).expect("base URL");
        base.join(location)
            .unwrap_or_else(|e| panic!("resolve Location {location:?}: {e}"))
            .to_string()
    }

    /// The resolved `Location` of `resp`; panics when it has none.
    pub fn location(&self, resp: &Response) -> String {
        let location = resp
            .headers()
            .get(LOCATION)
            .unwrap_or_else(|| panic!("{} answered {} without Location", resp.url(), resp.status()))
            .to_str()
            .expect("Location is ASCII");
        self.resolve(location)
    }

    /// `POST /v2/<repo>/blobs/uploads/` with an empty body: starts an upload.
    pub fn start_upload(&self, repo: &str) -> Response {
        self.send(
            self.client
                .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
                .header(CONTENT_LENGTH, "0"),
        )
    }

    /// Starts an upload and returns its (resolved) location; panics unless 202.
    pub fn start_upload_location(&self, repo: &str) -> String {
        let resp = self.start_upload(repo);
        assert_eq!(resp.status(), 202, "POST upload for {repo}: {}", text(resp));
        self.location(&resp)
    }

    /// `PATCH <location>` with `chunk` at byte `offset` (`Content-Range: offset-end`).
    pub fn patch_chunk(&self, location: &str, offset: u64, chunk: &[u8]) -> Response {
        let end = offset + chunk.len() as u64 - 1;
        self.send(
            self.client
                .patch(location)
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_RANGE, format!("{offset}-{end}"))
                .body(chunk.to_vec()),
        )
    }

    /// `PUT <location>?digest=<digest>` with `body` (possibly empty): closes an upload.
    pub fn finish_upload(&self, location: &str, digest: &str, body: &[u8]) -> Response {
        self.send(
            self.client
                .put(with_query(location, "digest", digest))
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body.to_vec()),
        )
    }

    /// `PUT <location>?digest=<digest>` streaming `len` bytes from `reader`.
    pub fn finish_upload_streamed(
        &self,
        location: &str,
        digest: &str,
        reader: impl Read + Send + 'static,
        len: u64,
    ) -> Response {
        self.send(
            self.client
                .put(with_query(location, "digest", digest))
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(Body::sized(reader, len)),
        )
    }

    /// Pushes `bytes` by POST then PUT; asserts 201 and returns the digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let location = self.start_upload_location(repo);
        let resp = self.finish_upload(&location, &digest, bytes);
        assert_eq!(
            resp.status(),
            201,
            "PUT blob {digest} to {repo}: {}",
            text(resp)
        );
        digest
    }

    /// `POST /v2/<repo>/blobs/uploads/?digest=<digest>` with the whole blob.
    pub fn push_blob_single_post(&self, repo: &str, digest: &str, bytes: &[u8]) -> Response {
        let url = with_query(
            &self.url(&format!("/v2/{repo}/blobs/uploads/")),
            "digest",
            digest,
        );
        self.send(
            self.client
                .post(url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec()),
        )
    }

    /// Pushes `bytes` in PATCH chunks of `chunk_size`, following each
    /// `Location`, then closes with an empty PUT; asserts every status and
    /// returns the digest.
    pub fn push_blob_chunked(&self, repo: &str, bytes: &[u8], chunk_size: usize) -> String {
        let digest = sha256_digest(bytes);
        let mut location = self.start_upload_location(repo);
        let mut offset = 0u64;
        for chunk in bytes.chunks(chunk_size.max(1)) {
            let resp = self.patch_chunk(&location, offset, chunk);
            assert_eq!(
                resp.status(),
                202,
                "PATCH chunk at {offset}: {}",
                text(resp)
            );
            location = self.location(&resp);
            offset += chunk.len() as u64;
        }
        let resp = self.finish_upload(&location, &digest, &[]);
        assert_eq!(
            resp.status(),
            201,
            "PUT closing chunked {digest}: {}",
            text(resp)
        );
        digest
    }

    /// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from>`.
    pub fn mount_blob(&self, repo: &str, digest: &str, from: &str) -> Response {
        let url = with_query(
            &self.url(&format!("/v2/{repo}/blobs/uploads/")),
            "mount",
            digest,
        );
        self.send(
            self.client
                .post(with_query(&url, "from", from))
                .header(CONTENT_LENGTH, "0"),
        )
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`.
    pub fn head_blob(&self, repo: &str, digest: &str) -> Response {
        self.send(
            self.client
                .head(self.url(&format!("/v2/{repo}/blobs/{digest}"))),
        )
    }

    /// `GET /v2/<repo>/blobs/<digest>`.
    pub fn get_blob(&self, repo: &str, digest: &str) -> Response {
        self.send(
            self.client
                .get(self.url(&format!("/v2/{repo}/blobs/{digest}"))),
        )
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with `Content-Type: media_type`.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.send(
            self.client
                .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
                .header(CONTENT_TYPE, media_type)
                .body(body.to_vec()),
        )
    }

    /// `GET /v2/<repo>/manifests/<reference>` accepting every manifest type.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Response {
        self.send(
            self.client
                .get(self.url(&format!("/v2/{repo}/manifests/{reference}")))
                .header(ACCEPT, media_type::ACCEPT_ALL_MANIFESTS),
        )
    }

    /// `HEAD /v2/<repo>/manifests/<reference>` accepting every manifest type.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Response {
        self.send(
            self.client
                .head(self.url(&format!("/v2/{repo}/manifests/{reference}")))
                .header(ACCEPT, media_type::ACCEPT_ALL_MANIFESTS),
        )
    }

    /// `DELETE` of `path` (`/v2/...`).
    pub fn delete(&self, path: &str) -> Response {
        self.send(self.client.delete(self.url(path)))
    }

    /// `GET` of `path` (`/v2/...`).
    pub fn get(&self, path: &str) -> Response {
        self.send(self.client.get(self.url(path)))
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Response {
        request
            .send()
            .unwrap_or_else(|e| panic!("request to {} failed: {e}", self.base))
    }
}

/// Status and body of `resp` as text, for assertion messages.
pub fn text(resp: Response) -> String {
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
    format!("{status} {body}")
}

/// An HTTP/1.1 answer read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `target` written verbatim on the request line —
/// no normalisation of `..` or percent-escapes, unlike an HTTP client — and
/// reads the answer (the connection is closed after it).
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_raw_response(&mut stream)
}

/// Reads one HTTP/1.1 response from `stream` until the server closes it.
pub fn read_raw_response(stream: &mut impl Read) -> io::Result<RawResponse> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("malformed chunked body"))?;
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(sha512_digest(b"").starts_with("sha512:cf83e1357eefb8bd"));
    }

    #[test]
    fn error_bodies_are_checked_for_the_spec_shape() {
        let ok = parse_error_body(br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}"#);
        assert_eq!(ok.unwrap().codes(), ["BLOB_UNKNOWN"]);
        assert!(parse_error_body(br#"{"errors":[]}"#).is_err());
        assert!(parse_error_body(br#"{"errors":[{"code":"lower"}]}"#).is_err());
        assert!(parse_error_body(b"404 page not found").is_err());
        let unsupported = br#"{"errors":[{"code":"UNSUPPORTED"}]}"#;
        assert!(check_error_answer(405, unsupported).is_ok());
        assert!(check_error_answer(400, unsupported).is_err());
        assert!(check_error_answer(418, br#"{"errors":[{"code":"NEW_CODE"}]}"#).is_ok());
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let resp = read_raw_response(&mut &raw[..]).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"abcde"[..]));
    }
}
