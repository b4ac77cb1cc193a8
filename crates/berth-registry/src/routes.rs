//! HTTP: parse the request, call the registry's services, shape the answer.
//! Routing is by hand, as in Distribution: repository names contain slashes,
//! so `/v2/<name>/blobs/<digest>` is split at its last keyword.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use crate::catalog::paginate;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::events::{self, Action};
use crate::manifests::{Accept, MAX_MANIFEST_SIZE};
use crate::reference::{Digest, Reference, check_name};
use crate::uploads::{check_upload_id, range_header};
use crate::{BodyStream, Registry, layout};

const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
const FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");

/// Which API endpoint a path names.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
}

fn parse_route(rest: &str) -> Option<Route> {
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_string()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::UploadStart(name.to_string()));
    }
    let split = |keyword: &str| {
        rest.rsplit_once(keyword)
            .filter(|(name, tail)| !name.is_empty() && !tail.is_empty() && !tail.contains('/'))
            .map(|(name, tail)| (name.to_string(), tail.to_string()))
    };
    if let Some((name, id)) = split("/blobs/uploads/") {
        return Some(Route::Upload(name, id));
    }
    if let Some((name, digest)) = split("/blobs/") {
        return Some(Route::Blob(name, digest));
    }
    if let Some((name, reference)) = split("/manifests/") {
        return Some(Route::Manifest(name, reference));
    }
    if let Some((name, digest)) = split("/referrers/") {
        return Some(Route::Referrers(name, digest));
    }
    None
}

/// The one handler behind every path.
pub(crate) async fn handle(State(registry): State<Arc<Registry>>, request: Request) -> Response {
    if let Some(unavailable) = registry.health.as_ref().and_then(|h| h.unavailable()) {
        return unavailable;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = match dispatch(&registry, request).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(%method, %path, error = %e, "request refused");
            e.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    for (name, value) in &registry.headers {
        headers.append(name.clone(), value.clone());
    }
    response
}

/// The route's name in metrics, as Distribution names its handlers.
pub(crate) fn handler_name(registry: &Registry, path: &str) -> &'static str {
    let path = path
        .strip_prefix(registry.settings.prefix.trim_end_matches('/'))
        .unwrap_or(path);
    match path.strip_prefix("/v2").and_then(parse_route) {
        Some(Route::Base) => "base",
        Some(Route::Catalog) => "catalog",
        Some(Route::Tags(_)) => "tags",
        Some(Route::Manifest(..)) => "manifest",
        Some(Route::Blob(..)) => "blob",
        Some(Route::UploadStart(_)) => "blob_upload",
        Some(Route::Upload(..)) => "blob_upload_chunk",
        Some(Route::Referrers(..)) => "referrers",
        None => "other",
    }
}

fn query(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn unsupported(method: &Method) -> RegistryError {
    RegistryError::new(
        ErrorCode::Unsupported,
        format!("{method} is not supported on this endpoint"),
    )
}

async fn dispatch(registry: &Registry, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let raw = parts.uri.path();
    let path = raw
        .strip_prefix(registry.settings.prefix.trim_end_matches('/'))
        .unwrap_or(raw);
    // The CA comes before authentication: clients fetch it to be able to
    // verify the registry at all.
    if let (Some(downloads), Some(download)) = (&registry.ca, crate::ca::route(path)) {
        return Ok(crate::ca::respond(
            downloads,
            download,
            &parts,
            &registry.settings,
        ));
    }
    let Some(rest) = path.strip_prefix("/v2") else {
        return Ok(page_not_found());
    };
    // Route on the raw path, then decode each part: an encoded slash in a
    // tag is an invalid tag, not another path segment. As in Distribution,
    // a path that is no endpoint is a 404 before any login.
    let Some(route) = parse_route(rest) else {
        return Ok(page_not_found());
    };
    if let Some(auth) = &registry.auth {
        auth.authorize(&parts.headers, &route_access(&route, &parts))?;
    }
    let method = parts.method.clone();
    let writes = !matches!(method, Method::GET | Method::HEAD);
    if writes && registry.is_read_only() {
        return Err(RegistryError::new(
            ErrorCode::Unsupported,
            "the registry is in read-only mode (maintenance.readonly.enabled); pulls still work",
        ));
    }
    let body: BodyStream = Box::pin(body.into_data_stream().map_err(|e| e.into()));
    match route {
        Route::Base => Ok(([(header::CONTENT_TYPE, "application/json")], "{}").into_response()),
        Route::Catalog => catalog(registry, &parts).await,
        Route::Tags(name) => {
            let name = decode(&name);
            check_name(&name)?;
            tags_list(registry, &parts, &name).await
        }
        Route::Manifest(name, reference) => {
            let name = decode(&name);
            check_name(&name)?;
            let reference = Reference::parse(&decode(&reference))?;
            match method {
                Method::GET | Method::HEAD => {
                    get_manifest(registry, &parts, &name, &reference).await
                }
                Method::PUT => put_manifest(registry, &parts, &name, &reference, body).await,
                Method::DELETE => {
                    registry.delete_manifest(&name, &reference).await?;
                    let (digest, tag) = match &reference {
                        Reference::Digest(d) => (Some(d), None),
                        Reference::Tag(t) => (None, Some(t.as_str())),
                    };
                    let target = events::delete_target(&name, digest, tag);
                    registry.notify(&parts, Action::Delete, target).await;
                    Ok(StatusCode::ACCEPTED.into_response())
                }
                _ => Err(unsupported(&method)),
            }
        }
        Route::Blob(name, digest) => {
            let name = decode(&name);
            check_name(&name)?;
            let digest = Digest::parse(&decode(&digest))?;
            match method {
                Method::GET | Method::HEAD => get_blob(registry, &parts, &name, &digest).await,
                Method::DELETE => {
                    registry.delete_blob(&name, &digest).await?;
                    let target = events::delete_target(&name, Some(&digest), None);
                    registry.notify(&parts, Action::Delete, target).await;
                    Ok(StatusCode::ACCEPTED.into_response())
                }
                _ => Err(unsupported(&method)),
            }
        }
        Route::UploadStart(name) => {
            let name = decode(&name);
            check_name(&name)?;
            if method != Method::POST {
                return Err(unsupported(&method));
            }
            start_upload(registry, &parts, &name, body).await
        }
        Route::Upload(name, id) => {
            let name = decode(&name);
            check_name(&name)?;
            check_upload_id(&id)?;
            upload(registry, &parts, &name, &id, body).await
        }
        Route::Referrers(name, digest) => {
            let name = decode(&name);
            check_name(&name)?;
            let digest = Digest::parse(&decode(&digest))?;
            if method != Method::GET {
                return Err(unsupported(&method));
            }
            referrers(registry, &parts, &name, &digest).await
        }
    }
}

/// The access a request on `route` needs (see [`crate::auth::required_access`]).
fn route_access(route: &Route, parts: &Parts) -> Vec<crate::auth::Access> {
    let repository = match route {
        Route::Base | Route::Catalog => None,
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::Blob(n, _)
        | Route::UploadStart(n)
        | Route::Upload(n, _)
        | Route::Referrers(n, _) => Some(decode(n)),
    };
    let q = query(parts);
    let from = match route {
        Route::UploadStart(_) => param(&q, "from"),
        _ => None,
    };
    crate::auth::required_access(
        &parts.method,
        repository.as_deref(),
        *route == Route::Catalog,
        from,
    )
}

/// The absolute URL of `path` (as `Location` headers give it) for events.
fn event_url(registry: &Registry, parts: &Parts, path: &str) -> String {
    location(registry, parts, path)
        .to_str()
        .unwrap_or_default()
        .to_string()
}

fn reference_tag(reference: &Reference) -> Option<&str> {
    match reference {
        Reference::Tag(t) => Some(t.as_str()),
        Reference::Digest(_) => None,
    }
}

/// Records a blob event, when events are on (`size` looked up if unknown).
async fn notify_blob(
    registry: &Registry,
    parts: &Parts,
    action: Action,
    name: &str,
    digest: &Digest,
    size: Option<u64>,
) {
    if !registry.notifying() {
        return;
    }
    let size = match size {
        Some(s) => s,
        None => registry.blob_size(name, digest).await.unwrap_or(0),
    };
    let url = event_url(registry, parts, &format!("/v2/{name}/blobs/{digest}"));
    let target = events::blob_target(url, name, digest, size);
    registry.notify(parts, action, target).await;
}

fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8_lossy()
        .into_owned()
}

/// What Distribution answers for a path that is no API endpoint.
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Where Location headers point: relative, `http.host`, or this request's
/// own scheme and host.
fn base_url(registry: &Registry, parts: &Parts) -> String {
    let s = &registry.settings;
    if s.relative_urls {
        return String::new();
    }
    if let Some(host) = &s.host {
        return host.trim_end_matches('/').to_string();
    }
    let h = &parts.headers;
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    let scheme = get("x-forwarded-proto").unwrap_or(if s.tls { "https" } else { "http" });
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

fn location(registry: &Registry, parts: &Parts, path: &str) -> HeaderValue {
    header_value(&format!(
        "{}{}{path}",
        base_url(registry, parts),
        registry.settings.prefix.trim_end_matches('/')
    ))
}

fn page_params(parts: &Parts) -> Result<(Option<String>, Option<usize>)> {
    let q = query(parts);
    let n = match param(&q, "n") {
        None | Some("") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            RegistryError::new(
                ErrorCode::PaginationNumberInvalid,
                format!("n={n:?} is not a number of entries; use a whole number such as n=100"),
            )
        })?),
    };
    Ok((param(&q, "last").map(str::to_string), n))
}

fn link_header(path: &str, last: &str, n: usize) -> HeaderValue {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("last", last)
        .append_pair("n", &n.to_string())
        .finish();
    header_value(&format!("<{path}?{q}>; rel=\"next\""))
}

fn json_response(value: serde_json::Value, link: Option<HeaderValue>) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response();
    if let Some(link) = link {
        r.headers_mut().insert(header::LINK, link);
    }
    r
}

/// Distribution's default page size for the catalog.
const CATALOG_PAGE: usize = 100;

async fn catalog(registry: &Registry, parts: &Parts) -> Result<Response> {
    if parts.method != Method::GET {
        return Err(unsupported(&parts.method));
    }
    let (last, n) = page_params(parts)?;
    let n = n.unwrap_or(CATALOG_PAGE);
    let page = registry.catalog_page(last.as_deref(), n).await?;
    let link = page.next.map(|l| link_header("/v2/_catalog", &l, n));
    Ok(json_response(
        serde_json::json!({ "repositories": page.entries }),
        link,
    ))
}

async fn tags_list(registry: &Registry, parts: &Parts, name: &str) -> Result<Response> {
    if parts.method != Method::GET {
        return Err(unsupported(&parts.method));
    }
    let (last, n) = page_params(parts)?;
    let page = paginate(registry.tags(name).await?, last.as_deref(), n);
    let link = page
        .next
        .zip(n)
        .map(|(l, n)| link_header(&format!("/v2/{name}/tags/list"), &l, n));
    Ok(json_response(
        serde_json::json!({ "name": name, "tags": page.entries }),
        link,
    ))
}

async fn get_manifest(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    reference: &Reference,
) -> Result<Response> {
    let accept = Accept::parse(
        parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let m = registry.get_manifest(name, reference, &accept).await?;
    let digest = m.digest.to_string();
    if events::is_pull(&parts.method) && registry.notifying() {
        let url = event_url(registry, parts, &format!("/v2/{name}/manifests/{digest}"));
        let target = registry.manifest_target(url, name, &m, reference_tag(reference));
        registry.notify(parts, Action::Pull, target).await;
    }
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, header_value(&m.media_type))
        .header(header::CONTENT_LENGTH, m.body.len())
        .header(CONTENT_DIGEST, header_value(&digest))
        .header(header::ETAG, header_value(&format!("\"{digest}\"")));
    if let Some(subject) = &m.subject {
        builder = builder.header(OCI_SUBJECT, header_value(&subject.to_string()));
    }
    let body = if parts.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(m.body.clone())
    };
    Ok(builder.body(body).expect("valid response"))
}

async fn put_manifest(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    reference: &Reference,
    body: BodyStream,
) -> Result<Response> {
    let too_large = || {
        RegistryError::new(
            ErrorCode::SizeInvalid,
            format!(
                "manifests are limited to {MAX_MANIFEST_SIZE} bytes (4 MiB); nothing was stored"
            ),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Far too large: refuse before reading (the connection closes).
    if declared.is_some_and(|l| l > 4 * MAX_MANIFEST_SIZE) {
        return Err(too_large());
    }
    let mut body = body;
    let body =
        match crate::collect_body(&mut body, declared.unwrap_or(4096), MAX_MANIFEST_SIZE).await {
            Ok(body) => body,
            Err(crate::Collect::TooLarge(_)) => {
                crate::drain_body(&mut body, 3 * MAX_MANIFEST_SIZE).await;
                return Err(too_large());
            }
            Err(crate::Collect::Interrupted(e)) => {
                return Err(RegistryError::new(
                    ErrorCode::ManifestInvalid,
                    format!("the manifest body ended early ({e}); nothing was stored"),
                ));
            }
        };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let m = registry
        .put_manifest(name, reference, content_type, body)
        .await?;
    let digest = m.digest.to_string();
    if registry.notifying() {
        let url = event_url(registry, parts, &format!("/v2/{name}/manifests/{digest}"));
        let target = registry.manifest_target(url, name, &m, reference_tag(reference));
        registry.notify(parts, Action::Push, target).await;
    }
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            location(registry, parts, &format!("/v2/{name}/manifests/{digest}")),
        )
        .header(CONTENT_DIGEST, header_value(&digest))
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = &m.subject {
        builder = builder.header(OCI_SUBJECT, header_value(&subject.to_string()));
    }
    Ok(builder.body(Body::empty()).expect("valid response"))
}

/// A single byte range from a `Range` header, resolved against `size`.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let unsatisfiable = || {
        RegistryError::new(
            ErrorCode::RangeInvalid,
            format!("range {value:?} is not satisfiable for a blob of {size} bytes"),
        )
        .with_header(
            header::CONTENT_RANGE,
            header_value(&format!("bytes */{size}")),
        )
    };
    let spec = value.strip_prefix("bytes=").ok_or_else(unsatisfiable)?;
    if spec.contains(',') {
        return Ok(None); // multiple ranges: serve the whole blob, as allowed
    }
    let (a, b) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| unsatisfiable())?;
            if n == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (a, "") => (
            a.parse().map_err(|_| unsatisfiable())?,
            size.saturating_sub(1),
        ),
        (a, b) => (
            a.parse().map_err(|_| unsatisfiable())?,
            b.parse::<u64>()
                .map_err(|_| unsatisfiable())?
                .min(size.saturating_sub(1)),
        ),
    };
    if start >= size || start > end {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

async fn get_blob(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    digest: &Digest,
) -> Result<Response> {
    let size = registry.blob_size(name, digest).await?;
    let data = layout::blob_data(digest);
    let digest_value = header_value(&digest.to_string());
    if parts.method == Method::GET
        && !registry.settings.redirect_disabled
        && let Some(url) = registry.driver.redirect_url(&data).await?
    {
        notify_blob(registry, parts, Action::Pull, name, digest, Some(size)).await;
        return Ok(Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, header_value(&url))
            .header(CONTENT_DIGEST, digest_value)
            .body(Body::empty())
            .expect("valid response"));
    }
    let range = byte_range(&parts.headers, size)?;
    if events::is_pull(&parts.method) {
        notify_blob(registry, parts, Action::Pull, name, digest, Some(size)).await;
    }
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { end - start + 1 };
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(CONTENT_DIGEST, digest_value)
        .header(header::ETAG, header_value(&format!("\"{digest}\"")))
        .header(header::CACHE_CONTROL, "max-age=31536000");
    if range.is_some() {
        builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{end}/{size}")),
        );
    }
    if parts.method == Method::HEAD || length == 0 {
        return Ok(builder.body(Body::empty()).expect("valid response"));
    }
    let stream = registry.driver.reader(&data, start).await?;
    let limited = limit(stream, length);
    Ok(builder
        .body(Body::from_stream(limited))
        .expect("valid response"))
}

/// Ends a byte stream after `remaining` bytes.
fn limit(
    stream: berth_storage::ByteStream,
    remaining: u64,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures::stream::unfold((stream, remaining), |(mut stream, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        match stream.next().await? {
            Ok(mut chunk) => {
                if chunk.len() as u64 > remaining {
                    chunk.truncate(remaining as usize);
                }
                let left = remaining - chunk.len() as u64;
                Some((Ok(chunk), (stream, left)))
            }
            Err(e) => Some((Err(e), (stream, 0))),
        }
    })
}

fn content_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn upload_accepted(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    id: &str,
    size: u64,
    status: StatusCode,
) -> Response {
    Response::builder()
        .status(status)
        .header(
            header::LOCATION,
            location(registry, parts, &format!("/v2/{name}/blobs/uploads/{id}")),
        )
        .header(header::RANGE, range_header(size))
        .header(UPLOAD_UUID, header_value(id))
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

fn blob_created(registry: &Registry, parts: &Parts, name: &str, digest: &Digest) -> Response {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            location(registry, parts, &format!("/v2/{name}/blobs/{digest}")),
        )
        .header(CONTENT_DIGEST, header_value(&digest.to_string()))
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

async fn start_upload(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    body: BodyStream,
) -> Result<Response> {
    let q = query(parts);
    if let (Some(mount), Some(from)) = (param(&q, "mount"), param(&q, "from")) {
        let digest = Digest::parse(mount)?;
        if registry.mount_blob(name, &digest, from).await? {
            if registry.notifying() {
                let size = registry.blob_size(name, &digest).await.ok();
                let url = event_url(registry, parts, &format!("/v2/{name}/blobs/{digest}"));
                let mut target = events::blob_target(url, name, &digest, size.unwrap_or(0));
                target.from_repository = from.to_string();
                registry.notify(parts, Action::Mount, target).await;
            }
            return Ok(blob_created(registry, parts, name, &digest));
        }
    }
    if let Some(digest) = param(&q, "digest") {
        let digest = Digest::parse(digest)?;
        registry
            .put_blob(name, &digest, body, content_length(parts))
            .await?;
        notify_blob(registry, parts, Action::Push, name, &digest, None).await;
        return Ok(blob_created(registry, parts, name, &digest));
    }
    let id = registry.start_upload(name).await?;
    Ok(upload_accepted(
        registry,
        parts,
        name,
        &id,
        0,
        StatusCode::ACCEPTED,
    ))
}

/// `Content-Range: a-b` (or `bytes a-b/*`) of a chunk.
fn content_range(parts: &Parts) -> Result<Option<(u64, u64)>> {
    let Some(value) = parts
        .headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let invalid = || {
        RegistryError::new(
            ErrorCode::RangeInvalid,
            format!("Content-Range {value:?} is not of the form start-end"),
        )
    };
    let spec = value.trim().trim_start_matches("bytes").trim();
    let spec = spec.split('/').next().unwrap_or(spec);
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let a: u64 = a.trim().parse().map_err(|_| invalid())?;
    let b: u64 = b.trim().parse().map_err(|_| invalid())?;
    if b < a {
        return Err(invalid());
    }
    Ok(Some((a, b)))
}

async fn upload(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    id: &str,
    body: BodyStream,
) -> Result<Response> {
    match parts.method {
        Method::GET => {
            let size = registry.upload_size(name, id).await?;
            Ok(upload_accepted(
                registry,
                parts,
                name,
                id,
                size,
                StatusCode::NO_CONTENT,
            ))
        }
        Method::PATCH => {
            let range = content_range(parts)?;
            if let (Some((a, b)), Some(len)) = (range, content_length(parts))
                && b - a + 1 != len
            {
                let size = registry.upload_size(name, id).await?;
                return Err(RegistryError::new(
                    ErrorCode::RangeInvalid,
                    format!("Content-Range {a}-{b} does not match Content-Length {len}"),
                )
                .with_header(header::RANGE, range_header(size)));
            }
            let size = registry
                .append_chunk(name, id, range.map(|(a, _)| a), body)
                .await?;
            Ok(upload_accepted(
                registry,
                parts,
                name,
                id,
                size,
                StatusCode::ACCEPTED,
            ))
        }
        Method::PUT => {
            let q = query(parts);
            let digest = param(&q, "digest").ok_or_else(|| {
                RegistryError::new(
                    ErrorCode::DigestInvalid,
                    "finishing an upload needs ?digest=<algorithm:hex> of the whole blob",
                )
            })?;
            let digest = Digest::parse(digest)?;
            let start = content_range(parts)?.map(|(a, _)| a);
            registry
                .finish_upload(name, id, start, &digest, body, content_length(parts))
                .await?;
            notify_blob(registry, parts, Action::Push, name, &digest, None).await;
            Ok(blob_created(registry, parts, name, &digest))
        }
        Method::DELETE => {
            registry.cancel_upload(name, id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ref m => Err(unsupported(m)),
    }
}

async fn referrers(
    registry: &Registry,
    parts: &Parts,
    name: &str,
    subject: &Digest,
) -> Result<Response> {
    let q = query(parts);
    let artifact_type = param(&q, "artifactType").filter(|t| !t.is_empty());
    let manifests = registry.referrers(name, subject, artifact_type).await?;
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::manifests::OCI_INDEX,
        "manifests": manifests,
    });
    let mut r = (
        [(header::CONTENT_TYPE, crate::manifests::OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if artifact_type.is_some() {
        r.headers_mut()
            .insert(FILTERS_APPLIED, HeaderValue::from_static("artifactType"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse_route(""), Some(Route::Base));
        assert_eq!(parse_route("/"), Some(Route::Base));
        assert_eq!(parse_route("/_catalog"), Some(Route::Catalog));
        assert_eq!(
            parse_route("/a/b/tags/list"),
            Some(Route::Tags("a/b".into()))
        );
        assert_eq!(
            parse_route(&format!("/lib/x/blobs/{d}")),
            Some(Route::Blob("lib/x".into(), d.clone()))
        );
        assert_eq!(
            parse_route("/lib/blobs/uploads/"),
            Some(Route::UploadStart("lib".into()))
        );
        assert_eq!(
            parse_route("/lib/blobs/uploads/1234"),
            Some(Route::Upload("lib".into(), "1234".into()))
        );
        assert_eq!(
            parse_route("/a/manifests/latest"),
            Some(Route::Manifest("a".into(), "latest".into()))
        );
        assert_eq!(
            parse_route("/blobs/manifests/v1"),
            Some(Route::Manifest("blobs".into(), "v1".into()))
        );
        assert_eq!(parse_route("/nothing"), None);
    }
}
