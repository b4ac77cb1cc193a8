//! The gcs driver against a real GCS emulator (gcp-storage-emulator, started
//! by `scripts/storage-servers.sh gcs`, which exports
//! `BERTH_TEST_GCS_ENDPOINT`, `BERTH_TEST_GCS_BUCKET` and
//! `STORAGE_EMULATOR_HOST`), plus small local HTTP servers for what the
//! emulator cannot show: pagination (it ignores page tokens), rejected
//! credentials and the OAuth2 token flow.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get, post};
use berth_config::Parameters;
use berth_storage::{StorageDriver, StorageError};
use berth_storage_gcs::{Endpoint, GcsDriver, describe};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

const TEST_KEY: &str = include_str!("data/test-key.pem");

/// The emulator's endpoint and bucket, or `None` (skip) when the servers
/// are not running; with `CI=true` a missing emulator fails the test.
fn emulator() -> Option<(String, String)> {
    let endpoint = std::env::var("BERTH_TEST_GCS_ENDPOINT").ok();
    let bucket = std::env::var("BERTH_TEST_GCS_BUCKET").ok();
    match (endpoint, bucket) {
        (Some(e), Some(b)) if !e.is_empty() && !b.is_empty() => Some((e, b)),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "BERTH_TEST_GCS_ENDPOINT/BERTH_TEST_GCS_BUCKET are not set: start the emulator \
             with `source scripts/storage-servers.sh gcs`"
        ),
        _ => {
            eprintln!(
                "skipped: no GCS emulator. Run `source scripts/storage-servers.sh gcs` and \
                 then `cargo nextest run -p berth-storage-gcs`"
            );
            None
        }
    }
}

fn params(pairs: &[(&str, Value)]) -> Parameters {
    let mut p = Parameters::new();
    for (k, v) in pairs {
        p.insert(*k, v.clone());
    }
    p
}

fn key_json(token_uri: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": "berth-test",
        "private_key_id": "test-key-1",
        "private_key": TEST_KEY,
        "client_email": "berth-test@berth-test.iam.gserviceaccount.com",
        "token_uri": token_uri,
    })
}

async fn open(endpoint: &str, pairs: &[(&str, Value)]) -> GcsDriver {
    GcsDriver::open_at(&params(pairs), Endpoint::emulator(endpoint))
        .await
        .expect("open the gcs driver")
}

fn unique(name: &str) -> String {
    format!("/{name}-{}", uuid::Uuid::new_v4())
}

async fn read_all(d: &GcsDriver, path: &str) -> Vec<u8> {
    let mut stream = d.reader(path, 0).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// The object names in the emulator's bucket below `prefix`, raw.
async fn raw_names(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let url = format!("{endpoint}/storage/v1/b/{bucket}/o");
    let listing: Value = reqwest::Client::new()
        .get(url)
        .query(&[("prefix", prefix)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listing["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn generic_suite() {
    let Some((endpoint, bucket)) = emulator() else {
        return;
    };
    let d = open(&endpoint, &[("bucket", json!(bucket))]).await;
    berth_storage::suite::run_all(&d, &unique("suite")).await;
}

/// A root directory, 1 MiB chunks (so large objects and appends go through
/// resumable sessions chunk by chunk) and a service account key (so the
/// suite fetches V4 signed URLs, which the emulator serves).
#[tokio::test]
async fn suite_with_root_directory_small_chunks_and_signed_urls() {
    let Some((endpoint, bucket)) = emulator() else {
        return;
    };
    let root = unique("berth-root");
    let d = open(
        &endpoint,
        &[
            ("bucket", json!(bucket)),
            ("rootdirectory", json!(root)),
            ("chunksize", json!(1024 * 1024)),
            (
                "credentials",
                key_json("https://oauth2.googleapis.com/token"),
            ),
        ],
    )
    .await;
    berth_storage::suite::run_all(&d, "/suite").await;

    // Distribution's layout: rootdirectory /R + /a/b → object R/a/b.
    d.put_content("/docker/registry/v2/x", "x".into())
        .await
        .unwrap();
    let names = raw_names(&endpoint, &bucket, &root[1..]).await;
    assert_eq!(names, vec![format!("{}/docker/registry/v2/x", &root[1..])]);
    assert_eq!(d.list("/").await.unwrap(), vec!["/docker".to_string()]);

    let url = d
        .redirect_url("/docker/registry/v2/x")
        .await
        .unwrap()
        .expect("a signed URL with a key configured");
    assert!(url.starts_with(&format!("{endpoint}/{bucket}/")), "{url}");
    assert!(url.contains("X-Goog-Algorithm=GOOG4-RSA-SHA256"), "{url}");
    assert!(url.contains("X-Goog-Expires=1200"), "{url}");
    assert!(url.contains("X-Goog-Date="), "{url}");
    assert!(url.contains("&X-Goog-Signature="), "{url}");
    d.delete("/").await.unwrap();
}

#[tokio::test]
async fn open_reads_storage_emulator_host() {
    let Some((_, bucket)) = emulator() else {
        return;
    };
    if std::env::var("STORAGE_EMULATOR_HOST").is_err() {
        eprintln!("skipped: STORAGE_EMULATOR_HOST is not set");
        return;
    }
    let d = GcsDriver::open(&params(&[("bucket", json!(bucket))]))
        .await
        .unwrap();
    let p = unique("env");
    d.put_content(&p, "via the environment".into())
        .await
        .unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "via the environment");
    assert_eq!(d.redirect_url(&p).await.unwrap(), None, "no key, no URL");
    d.delete(&p).await.unwrap();
    let text = describe(&params(&[("bucket", json!(bucket))]));
    assert!(
        text.starts_with(&format!("gcs bucket {bucket} at the emulator at http")),
        "{text}"
    );
}

#[tokio::test]
async fn append_resumed_by_a_second_driver_instance() {
    let Some((endpoint, bucket)) = emulator() else {
        return;
    };
    let config = [("bucket", json!(bucket)), ("chunksize", json!(256 * 1024))];
    let first = open(&endpoint, &config).await;
    let p = format!("{}/_uploads/data", unique("append"));
    let a = berth_storage::suite::pattern(1, 300_000);
    let b = berth_storage::suite::pattern(2, 700_000);

    let mut w = first.writer(&p, true).await.unwrap();
    assert_eq!(w.size(), 0);
    w.write(a.clone()).await.unwrap();
    w.commit().await.unwrap();

    // Another process: a fresh driver knows nothing but the bucket.
    let second = open(&endpoint, &config).await;
    let mut w = second.writer(&p, true).await.unwrap();
    assert_eq!(w.size(), 300_000);
    w.write(b.clone()).await.unwrap();
    assert_eq!(w.size(), 1_000_000);
    w.commit().await.unwrap();

    let mut expected = a.to_vec();
    expected.extend_from_slice(&b);
    assert_eq!(first.stat(&p).await.unwrap().size, 1_000_000);
    assert!(read_all(&first, &p).await == expected);
    // The temporary part is gone, and never listed.
    assert!(
        !first
            .list("/")
            .await
            .unwrap()
            .contains(&"/_berth-parts".to_string())
    );

    // Reopened with nothing written: unchanged.
    let w = second.writer(&p, true).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(first.stat(&p).await.unwrap().size, 1_000_000);

    // A cancelled append removes the object, as the filesystem driver does.
    let mut w = second.writer(&p, true).await.unwrap();
    w.write(Bytes::from_static(b"more")).await.unwrap();
    w.cancel().await.unwrap();
    assert!(first.stat(&p).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn missing_bucket_says_so() {
    let Some((endpoint, _)) = emulator() else {
        return;
    };
    let bucket = format!("berth-missing-{}", uuid::Uuid::new_v4());
    let d = open(&endpoint, &[("bucket", json!(bucket))]).await;
    let errors = [
        d.put_content("/a", "x".into()).await.unwrap_err(),
        d.get_content("/a").await.unwrap_err(),
        d.list("/a").await.unwrap_err(),
        d.stat("/a").await.unwrap_err(),
    ];
    for e in errors {
        assert!(matches!(e, StorageError::Backend { .. }), "{e}");
        let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(
            text.contains(&format!("bucket {bucket} does not exist")),
            "{text}"
        );
        assert!(text.contains("storage.gcs.bucket"), "{text}");
    }
}

#[tokio::test]
async fn closed_port_fails_quickly_and_clearly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let d = GcsDriver::open_at(
        &params(&[("bucket", json!("b"))]),
        Endpoint::emulator(&format!("127.0.0.1:{port}")),
    )
    .await
    .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(60), d.put_content("/a", "x".into()))
        .await
        .expect("a closed port must not hang")
        .unwrap_err();
    let text = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        text.contains(&format!(
            "cannot connect to the emulator at http://127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(text.contains("STORAGE_EMULATOR_HOST"), "{text}");
}

#[tokio::test]
async fn open_names_missing_and_invalid_parameters() {
    let e = GcsDriver::open_at(&params(&[]), Endpoint::emulator("127.0.0.1:1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("storage.gcs.bucket: missing"), "{e}");
    let e = GcsDriver::open_at(
        &params(&[("bucket", json!("b")), ("chunksize", json!(100_000))]),
        Endpoint::emulator("127.0.0.1:1"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("storage.gcs.chunksize") && e.contains("262144"),
        "{e}"
    );
    let e = GcsDriver::open_at(
        &params(&[
            ("bucket", json!("b")),
            ("keyfile", json!("/no/such/key.json")),
        ]),
        Endpoint::google(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("storage.gcs.keyfile") && e.contains("/no/such/key.json"),
        "{e}"
    );
}

#[test]
fn describe_names_bucket_and_root() {
    let text = describe(&params(&[
        ("bucket", json!("images")),
        ("rootdirectory", json!("reg/")),
    ]));
    assert!(text.starts_with("gcs bucket images at "), "{text}");
    assert!(text.ends_with(", root /reg"), "{text}");
}

// --- Local JSON API servers for what the emulator cannot show. ---

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// The emulator ignores page tokens, so a small server serves a listing in
/// two pages and checks the driver asks for the second with the token.
#[tokio::test]
async fn list_and_delete_follow_page_tokens() {
    let seen: Seen = Arc::default();
    let deleted: Arc<Mutex<Vec<String>>> = Arc::default();
    async fn list(
        State(seen): State<Seen>,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, String) {
        seen.lock().unwrap().push(q.clone());
        let delimited = q.get("delimiter").map(String::as_str) == Some("/");
        let page = match q.get("pageToken").map(String::as_str) {
            None if delimited => json!({
                "kind": "storage#objects",
                "prefixes": ["dir/a/"],
                "items": [{"name": "dir/x", "size": "1"}],
                "nextPageToken": "page 2/=+",
            }),
            Some("page 2/=+") if delimited => json!({
                "kind": "storage#objects",
                "prefixes": ["dir/b/"],
                "items": [{"name": "dir/y", "size": "2"}],
            }),
            None => json!({
                "items": [{"name": "dir/x"}, {"name": "dir/a/1"}],
                "nextPageToken": "next",
            }),
            Some("next") => json!({"items": [{"name": "dir/y"}]}),
            Some(_) => return (StatusCode::BAD_REQUEST, "unknown page token".into()),
        };
        (StatusCode::OK, page.to_string())
    }
    let del = {
        let deleted = deleted.clone();
        move |axum::extract::Path(name): axum::extract::Path<String>| {
            let deleted = deleted.clone();
            async move {
                if name == "dir" {
                    return StatusCode::NOT_FOUND;
                }
                deleted.lock().unwrap().push(name);
                StatusCode::NO_CONTENT
            }
        }
    };
    let app = Router::new()
        .route("/storage/v1/b/pg/o", get(list))
        .route("/storage/v1/b/pg/o/{name}", axum::routing::delete(del))
        .with_state(seen.clone());
    let addr = serve(app).await;
    let d = GcsDriver::open_at(
        &params(&[("bucket", json!("pg"))]),
        Endpoint::emulator(&addr.to_string()),
    )
    .await
    .unwrap();

    let mut listed = d.list("/dir").await.unwrap();
    listed.sort();
    assert_eq!(listed, ["/dir/a", "/dir/b", "/dir/x", "/dir/y"]);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].get("pageToken"), None);
        assert_eq!(
            seen[1].get("pageToken").map(String::as_str),
            Some("page 2/=+")
        );
        for q in seen.iter() {
            assert_eq!(q.get("prefix").map(String::as_str), Some("dir/"));
            assert_eq!(q.get("delimiter").map(String::as_str), Some("/"));
        }
    }

    d.delete("/dir").await.unwrap();
    let mut gone = deleted.lock().unwrap().clone();
    gone.sort();
    assert_eq!(gone, ["dir/a/1", "dir/x", "dir/y"]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3].get("pageToken").map(String::as_str), Some("next"));
}

/// A JSON API that refuses everyone with `status`, as GCS does.
async fn refusing(status: StatusCode, message: &'static str) -> GcsDriver {
    let app = Router::new().fallback(any(move || async move {
        let code = status.as_u16();
        (
            status,
            json!({"error": {"code": code, "message": message}}).to_string(),
        )
    }));
    let addr = serve(app).await;
    GcsDriver::open_at(
        &params(&[("bucket", json!("locked"))]),
        Endpoint::emulator(&addr.to_string()),
    )
    .await
    .unwrap()
}

/// A 403: the error names the bucket, quotes GCS and says which role the
/// key's service account needs.
#[tokio::test]
async fn refused_permission_is_explained() {
    let d = refusing(
        StatusCode::FORBIDDEN,
        "berth@x.iam.gserviceaccount.com does not have storage.objects.create access",
    )
    .await;
    for e in [
        d.put_content("/a", "x".into()).await.unwrap_err(),
        d.get_content("/a").await.unwrap_err(),
    ] {
        let text = std::error::Error::source(&e).unwrap().to_string();
        assert!(text.starts_with("GCS refused "), "{text}");
        assert!(text.contains(" in bucket locked (403 Forbidden"), "{text}");
        assert!(text.contains("storage.gcs.keyfile"), "{text}");
        assert!(text.contains("Storage Object Admin"), "{text}");
        assert!(text.contains("storage.objects.create access"), "{text}");
    }
}

/// A 401: the credentials themselves were rejected.
#[tokio::test]
async fn rejected_credentials_are_explained() {
    let d = refusing(StatusCode::UNAUTHORIZED, "Invalid Credentials").await;
    let e = d.stat("/a").await.unwrap_err();
    let text = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        text.starts_with("GCS rejected the credentials for get object in bucket locked"),
        "{text}"
    );
    assert!(text.contains("Invalid Credentials"), "{text}");
    assert!(text.contains("check storage.gcs.keyfile"), "{text}");
}

#[derive(Default)]
struct TokenServer {
    assertions: Vec<String>,
    authorizations: Vec<String>,
}

/// The OAuth2 JWT bearer flow against a local token endpoint that also
/// serves the JSON API: the assertion carries the key's identity, the token
/// comes back as a bearer token and is fetched once for many requests.
#[tokio::test]
async fn service_account_token_flow() {
    let state: Arc<Mutex<TokenServer>> = Arc::default();
    let token = {
        let state = state.clone();
        move |body: String| {
            let state = state.clone();
            async move {
                let form: HashMap<String, String> = url_form(&body);
                assert_eq!(
                    form.get("grant_type").map(String::as_str),
                    Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                );
                state
                    .lock()
                    .unwrap()
                    .assertions
                    .push(form.get("assertion").cloned().unwrap_or_default());
                json!({"access_token": "token-1", "expires_in": 3600, "token_type": "Bearer"})
                    .to_string()
            }
        }
    };
    let object = {
        let state = state.clone();
        move |headers: HeaderMap| {
            let state = state.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                state.lock().unwrap().authorizations.push(auth);
                json!({"name": "a", "size": "5", "updated": "2024-01-02T03:04:05.678Z"}).to_string()
            }
        }
    };
    let app = Router::new()
        .route("/token", post(token))
        .route("/storage/v1/b/tok/o/{name}", get(object));
    let addr = serve(app).await;
    let token_uri = format!("http://{addr}/token");
    let d = GcsDriver::open_at(
        &params(&[
            ("bucket", json!("tok")),
            ("credentials", key_json(&token_uri)),
        ]),
        Endpoint::custom(&format!("http://{addr}")),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let info = d.stat("/a").await.unwrap();
        assert_eq!((info.size, info.is_dir), (5, false));
    }
    let state = state.lock().unwrap();
    assert_eq!(state.assertions.len(), 1, "the token is cached");
    assert_eq!(state.authorizations, vec!["Bearer token-1"; 3]);
    let claims = state.assertions[0].split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64_url_decode(claims)).unwrap();
    assert_eq!(
        claims["iss"],
        "berth-test@berth-test.iam.gserviceaccount.com"
    );
    assert_eq!(claims["aud"], token_uri);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/devstorage.full_control"
    );
}

/// A token endpoint that refuses the key: the error says the credentials
/// were rejected and which setting to check.
#[tokio::test]
async fn rejected_service_account_key_is_explained() {
    let app = Router::new().route(
        "/token",
        post(|| async {
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                    .to_string(),
            )
        }),
    );
    let addr = serve(app).await;
    let d = GcsDriver::open_at(
        &params(&[
            ("bucket", json!("b")),
            ("credentials", key_json(&format!("http://{addr}/token"))),
        ]),
        Endpoint::custom(&format!("http://{addr}")),
    )
    .await
    .unwrap();
    let e = d.stat("/a").await.unwrap_err();
    let text = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        text.contains("Google rejected the credentials of service account berth-test@"),
        "{text}"
    );
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(text.contains("storage.gcs.keyfile"), "{text}");
}

fn url_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// HTTPS to a server that speaks plain HTTP: the error says TLS failed.
#[tokio::test]
async fn tls_failure_is_explained() {
    let app = Router::new().route(
        "/token",
        post(|| async { json!({"access_token": "t", "expires_in": 3600}).to_string() }),
    );
    let addr = serve(app).await;
    let d = GcsDriver::open_at(
        &params(&[
            ("bucket", json!("b")),
            ("credentials", key_json(&format!("http://{addr}/token"))),
        ]),
        Endpoint::custom(&format!("https://{addr}")),
    )
    .await
    .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(60), d.stat("/a"))
        .await
        .expect("a TLS failure must not hang")
        .unwrap_err();
    let text = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        text.starts_with(&format!("TLS handshake with https://{addr} failed")),
        "{text}"
    );
}
