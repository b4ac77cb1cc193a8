//! The real router driven in-process (`oneshot`) over real drivers: the
//! behaviours that need a look inside the store or a second registry
//! instance on the same store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use berth_registry::{Digest, Registry, Settings};
use berth_storage::StorageDriver;
use berth_storage::filesystem::FilesystemDriver;
use berth_storage::inmemory::InMemoryDriver;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn registry(driver: Arc<dyn StorageDriver>, settings: Settings) -> axum::Router {
    Arc::new(Registry::new(driver, settings)).router()
}

fn settings() -> Settings {
    Settings {
        delete_enabled: true,
        ..Settings::default()
    }
}

async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, http::HeaderMap, bytes::Bytes) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "registry.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn location_path(headers: &http::HeaderMap) -> String {
    let loc = headers["location"].to_str().unwrap();
    loc.strip_prefix("http://registry.test")
        .unwrap_or(loc)
        .to_string()
}

fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_second_registry_on_the_same_store_resumes_a_chunked_upload() {
    let dir = tempfile::tempdir().unwrap();
    let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(dir.path()).unwrap());
    let first = registry(driver.clone(), settings());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256_of(&data);

    let (status, h, _) = send(&first, "POST", "/v2/app/blobs/uploads/", &[], Body::empty()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let upload = location_path(&h);
    let (status, h, _) = send(
        &first,
        "PATCH",
        &upload,
        &[("content-range", "0-999999")],
        data[..1_000_000].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h["range"], "0-999999");

    // A new process knows nothing of the upload but what is in the store.
    let second = registry(driver.clone(), settings());
    let (status, h, _) = send(&second, "GET", &upload, &[], Body::empty()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h["range"], "0-999999");
    let (status, _, _) = send(
        &second,
        "PATCH",
        &upload,
        &[("content-range", "1000000-2999999")],
        data[1_000_000..].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, h, _) = send(
        &second,
        "PUT",
        &format!("{upload}?digest={digest}"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "finishing on the second instance"
    );
    assert_eq!(h["docker-content-digest"], digest.to_string().as_str());
    let (status, _, body) = send(
        &first,
        "GET",
        &format!("/v2/app/blobs/{digest}"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), data.len());
    assert!(body == data);
    let uploads = dir
        .path()
        .join("docker/registry/v2/repositories/app/_uploads");
    assert_eq!(
        std::fs::read_dir(uploads).unwrap().count(),
        0,
        "upload removed"
    );
}

#[tokio::test]
async fn a_wrong_digest_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(dir.path()).unwrap());
    let r = registry(driver, settings());
    let data = vec![7u8; 5 * 1024 * 1024 + 3];
    let claimed = Digest::sha256_of(b"something else");
    let (_, h, _) = send(&r, "POST", "/v2/app/blobs/uploads/", &[], Body::empty()).await;
    let upload = location_path(&h);
    let (status, _, body) = send(&r, "PUT", &format!("{upload}?digest={claimed}"), &[], data).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "DIGEST_INVALID");
    let blobs = dir.path().join("docker/registry/v2/blobs");
    assert!(
        !blobs.exists() || walk_files(&blobs).is_empty(),
        "no blob data stored"
    );
    let (status, _, body) = send(&r, "GET", &upload, &[], Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "BLOB_UPLOAD_UNKNOWN");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn read_only_mode_refuses_writes_and_serves_reads() {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let writable = registry(driver.clone(), settings());
    let digest = Digest::sha256_of(b"hello");
    let (status, _, _) = send(
        &writable,
        "POST",
        &format!("/v2/app/blobs/uploads/?digest={digest}"),
        &[("content-length", "5")],
        "hello",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let read_only = registry(
        driver,
        Settings {
            read_only: true,
            ..settings()
        },
    );
    let (status, _, body) = send(
        &read_only,
        "POST",
        "/v2/app/blobs/uploads/",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "UNSUPPORTED");
    let (status, _, body) = send(
        &read_only,
        "DELETE",
        &format!("/v2/app/blobs/{digest}"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
    let (status, _, body) = send(
        &read_only,
        "GET",
        &format!("/v2/app/blobs/{digest}"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
}

#[tokio::test]
async fn purging_removes_only_abandoned_uploads() {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let registry = Registry::new(driver.clone(), settings());
    let old = registry.start_upload("team/app").await.unwrap();
    let young = registry.start_upload("team/app").await.unwrap();
    // Distribution's own format, back-dated by ten days.
    driver
        .put_content(
            &format!("/docker/registry/v2/repositories/team/app/_uploads/{old}/startedat"),
            "2020-01-01T00:00:00.000000000Z".into(),
        )
        .await
        .unwrap();
    let dry = registry
        .purge_uploads(Duration::from_secs(3600), true)
        .await
        .unwrap();
    assert_eq!(dry.purged, vec![format!("team/app/{old}")]);
    assert!(
        registry.upload_size("team/app", &old).await.is_ok(),
        "dry run keeps it"
    );
    let report = registry
        .purge_uploads(Duration::from_secs(3600), false)
        .await
        .unwrap();
    assert_eq!((report.purged.len(), report.kept), (1, 1));
    assert!(registry.upload_size("team/app", &old).await.is_err());
    assert_eq!(registry.upload_size("team/app", &young).await.unwrap(), 0);
}
