//! `/ca`, `/ca/install.sh` and `/ca/install.ps1` through the real router:
//! served without credentials, for the `host:port` the client asked for,
//! and only when the registry has a CA.

use std::sync::Arc;

use axum::body::Body;
use berth_registry::ca::CaDownloads;
use berth_registry::{Registry, Settings};
use berth_storage::inmemory::InMemoryDriver;
use berth_trust::{CaDir, RegistryAddr, script};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    pem: String,
    downloads: CaDownloads,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = CaDir::new(dir.path().join("ca"));
    ca_dir.init("ca-test-host").unwrap();
    let pem = ca_dir.ca_pem().unwrap();
    let downloads = CaDownloads::from_pem(pem.clone()).unwrap();
    Fixture {
        _dir: dir,
        pem,
        downloads,
    }
}

fn router(settings: Settings, downloads: Option<CaDownloads>, htpasswd: bool) -> axum::Router {
    let mut registry = Registry::new(Arc::new(InMemoryDriver::new()), settings);
    if let Some(d) = downloads {
        registry = registry.with_trust(d);
    }
    if htpasswd {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("htpasswd");
        let hash = bcrypt::hash("secret", 4).unwrap();
        std::fs::write(&file, format!("alice:{hash}\n")).unwrap();
        let h = berth_registry::auth::Htpasswd::load("berth", &file).unwrap();
        registry = registry.with_htpasswd(h);
    }
    Arc::new(registry).router()
}

async fn get(
    router: &axum::Router,
    method: &str,
    uri: &str,
    host: &str,
) -> (StatusCode, http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host)
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_ca_and_scripts_need_no_credentials_and_name_the_asked_host() {
    let f = fixture();
    let r = router(Settings::default(), Some(f.downloads.clone()), true);

    // The API itself asks for credentials; the CA does not.
    let (status, _, _) = get(&r, "GET", "/v2/", "registry.example.com:5000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = get(&r, "GET", "/ca", "registry.example.com:5000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-pem-file");
    assert_eq!(body, f.pem);

    let registry: RegistryAddr = "registry.example.com:5000".parse().unwrap();
    let (status, headers, sh) = get(&r, "GET", "/ca/install.sh", "registry.example.com:5000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/x-shellscript")
    );
    // Byte for byte what the one-liner's hash is computed from.
    assert_eq!(sh, script::install_sh(&registry, f.downloads.ca()).unwrap());
    assert!(sh.contains("/etc/docker/certs.d/registry.example.com:5000"));
    assert!(sh.contains(f.downloads.ca().sha256_fingerprint()));

    let (status, _, ps1) = get(&r, "GET", "/ca/install.ps1", "registry.example.com:5000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ps1,
        script::install_ps1(&registry, f.downloads.ca()).unwrap()
    );

    // Another name for the same registry gets a script for that name.
    let (_, _, other) = get(&r, "GET", "/ca/install.sh", "10.0.0.5:5000").await;
    assert!(
        other.contains("/etc/docker/certs.d/10.0.0.5:5000"),
        "{other}"
    );

    // HEAD answers without a body; other methods are refused.
    let (status, _, body) = get(&r, "HEAD", "/ca", "registry.example.com:5000").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    let (status, headers, _) = get(&r, "POST", "/ca", "registry.example.com:5000").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, HEAD");

    // A Host header that cannot be a registry address gets no script.
    let (status, _, body) = get(&r, "GET", "/ca/install.sh", "evil';rm -rf /").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn http_host_names_the_registry_and_prefix_applies() {
    let f = fixture();
    let settings = Settings {
        host: Some("https://registry.example.com:5443".into()),
        prefix: "/reg".into(),
        ..Settings::default()
    };
    let r = router(settings, Some(f.downloads), false);
    let (status, _, sh) = get(&r, "GET", "/reg/ca/install.sh", "127.0.0.1:5000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(sh.contains("certs.d/registry.example.com:5443"), "{sh}");
    assert!(!sh.contains("127.0.0.1:5000"));
}

#[tokio::test]
async fn without_a_ca_there_is_no_ca_endpoint() {
    let r = router(Settings::default(), None, false);
    for path in ["/ca", "/ca/install.sh", "/ca/install.ps1"] {
        let (status, _, _) = get(&r, "GET", path, "registry.example.com:5000").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
