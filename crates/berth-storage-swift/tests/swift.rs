//! The swift driver against a real Swift (TempAuth v1.0), as started by
//! `scripts/storage-servers.sh swift`: BERTH_TEST_SWIFT_{AUTHURL,USER,KEY}.
//! Every test works in a container of its own, removed afterwards.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_config::Parameters;
use berth_storage::probe::{StepStatus, probe};
use berth_storage::{StorageDriver, suite};
use berth_storage_swift::SwiftDriver;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

/// The segment size the tests use, so the suite's 24 MiB object and 7 MiB
/// appends span several segments.
const CHUNK: u64 = 5 << 20;

struct Env {
    auth_url: String,
    user: String,
    key: String,
}

/// The server's settings, or `None` (skip) when it is not running; under
/// CI a missing server fails the test.
fn env() -> Option<Env> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("BERTH_TEST_SWIFT_AUTHURL"),
        var("BERTH_TEST_SWIFT_USER"),
        var("BERTH_TEST_SWIFT_KEY"),
    ) {
        (Some(auth_url), Some(user), Some(key)) => Some(Env {
            auth_url,
            user,
            key,
        }),
        _ => unavailable(
            "no Swift test server: start Swift with `source scripts/storage-servers.sh swift` (it exports BERTH_TEST_SWIFT_AUTHURL/USER/KEY), then run `cargo nextest run -p berth-storage-swift`",
        ),
    }
}

/// A test server (or user) that is not there: a failure under CI, else a
/// skip.
fn unavailable<T>(how: &str) -> Option<T> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{how}");
    }
    eprintln!("skipping: {how}");
    None
}

fn unique(name: &str) -> String {
    format!("berth-{name}-{}", uuid::Uuid::new_v4().simple())
}

impl Env {
    fn params(&self, container: &str, extra: &[(&str, serde_json::Value)]) -> Parameters {
        let mut p = Parameters::new();
        p.insert("authurl", json!(self.auth_url));
        p.insert("username", json!(self.user));
        p.insert("password", json!(self.key));
        p.insert("container", json!(container));
        p.insert("chunksize", json!(CHUNK));
        for (k, v) in extra {
            p.insert(*k, v.clone());
        }
        p
    }

    async fn open(&self, container: &str, extra: &[(&str, serde_json::Value)]) -> SwiftDriver {
        SwiftDriver::open(&self.params(container, extra))
            .await
            .unwrap_or_else(|e| panic!("open swift container {container}: {e}"))
    }

    /// Plain HTTP access to the account, to look behind the driver.
    async fn raw(&self) -> Raw {
        let http = reqwest::Client::new();
        let response = http
            .get(&self.auth_url)
            .header("X-Auth-User", &self.user)
            .header("X-Auth-Key", &self.key)
            .send()
            .await
            .expect("TempAuth answers");
        let header = |n: &str| response.headers()[n].to_str().unwrap().to_string();
        Raw {
            storage_url: header("X-Storage-Url"),
            token: header("X-Auth-Token"),
            http,
        }
    }
}

struct Raw {
    http: reqwest::Client,
    storage_url: String,
    token: String,
}

impl Raw {
    async fn send(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.storage_url))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .expect("Swift answers")
    }

    /// Every object name in `container`.
    async fn names(&self, container: &str) -> Vec<String> {
        let r = self
            .send(reqwest::Method::GET, &format!("/{container}?format=json"))
            .await;
        if r.status().as_u16() == 204 {
            return Vec::new();
        }
        let entries: Vec<serde_json::Value> = r.json().await.unwrap();
        entries
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Creates `container` with metadata `headers` (Temp-URL keys, ACLs).
    async fn create(&self, container: &str, headers: &[(&str, &str)]) {
        let mut request = self
            .http
            .put(format!("{}/{container}", self.storage_url))
            .header("X-Auth-Token", &self.token)
            .header("Content-Length", "0");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let status = request.send().await.expect("Swift answers").status();
        assert!(status.is_success(), "PUT {container} {headers:?}: {status}");
    }

    /// The container's Temp-URL keys (`…-Key` and `…-Key-2`).
    async fn temp_url_keys(&self, container: &str) -> [Option<String>; 2] {
        let r = self
            .send(reqwest::Method::HEAD, &format!("/{container}"))
            .await;
        [
            "X-Container-Meta-Temp-Url-Key",
            "X-Container-Meta-Temp-Url-Key-2",
        ]
        .map(|name| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
    }

    async fn status(&self, method: reqwest::Method, path: &str) -> u16 {
        self.send(method, path).await.status().as_u16()
    }

    /// Removes `container` and everything in it.
    async fn destroy(&self, container: &str) {
        for name in self.names(container).await {
            let path = format!("/{container}/{}", name.replace(' ', "%20"));
            self.send(reqwest::Method::DELETE, &path).await;
        }
        self.send(reqwest::Method::DELETE, &format!("/{container}"))
            .await;
    }
}

async fn read(d: &SwiftDriver, path: &str) -> Vec<u8> {
    let mut stream = d.reader(path, 0).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn generic_suite_in_a_fresh_container() {
    let Some(env) = env() else { return };
    let container = unique("suite");
    let driver = env.open(&container, &[]).await;
    let prefix = format!("/suite-{}", uuid::Uuid::new_v4().simple());
    suite::run_all(&driver, &prefix).await;
    let raw = env.raw().await;
    let left = raw.names(&container).await;
    assert!(
        left.is_empty(),
        "the suite's cleanup leaves nothing, segments included: {left:?}"
    );
    raw.destroy(&container).await;
}

#[tokio::test]
async fn generic_suite_below_a_prefix_with_redirects() {
    let Some(env) = env() else { return };
    let container = unique("suite-prefix");
    let raw = env.raw().await;
    let secret = format!("key-{}", uuid::Uuid::new_v4().simple());
    let driver = env
        .open(
            &container,
            &[("prefix", json!("/reg/a/")), ("secretkey", json!(secret))],
        )
        .await;
    suite::run_all(&driver, "/suite").await;
    raw.destroy(&container).await;
}

#[tokio::test]
async fn the_container_is_created_and_keys_follow_distribution() {
    let Some(env) = env() else { return };
    let container = unique("layout");
    let raw = env.raw().await;
    assert_eq!(
        raw.status(reqwest::Method::HEAD, &format!("/{container}"))
            .await,
        404
    );
    let d = env.open(&container, &[("prefix", json!("reg"))]).await;
    assert!(
        raw.status(reqwest::Method::HEAD, &format!("/{container}"))
            .await
            < 300,
        "open creates the container"
    );

    d.put_content("/docker/small", "tiny".into()).await.unwrap();
    let big = suite::pattern(5, (2 * CHUNK + 100) as usize);
    let mut w = d.writer("/docker/big", false).await.unwrap();
    w.write(big.clone()).await.unwrap();
    w.commit().await.unwrap();

    let names = raw.names(&container).await;
    assert!(
        names.contains(&"reg/files/docker/small".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"reg/files/docker/big".to_string()),
        "{names:?}"
    );
    let segments: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("reg/segments/"))
        .collect();
    assert_eq!(
        segments.len(),
        3,
        "two full segments and the tail: {names:?}"
    );
    assert!(segments[0].ends_with("/0000000000000001"), "{segments:?}");
    let head = raw
        .send(
            reqwest::Method::HEAD,
            &format!("/{container}/reg/files/docker/big"),
        )
        .await;
    let manifest = head.headers()["X-Object-Manifest"].to_str().unwrap();
    assert!(
        manifest.starts_with(&format!("{container}/reg/segments/")),
        "{manifest}"
    );
    assert_eq!(read(&d, "/docker/big").await, big);

    // Moving a manifest moves the manifest, not the data.
    d.move_object("/docker/big", "/docker/moved").await.unwrap();
    let after = raw.names(&container).await;
    assert_eq!(after.iter().filter(|n| n.contains("/segments/")).count(), 3);
    assert_eq!(
        d.stat("/docker/moved").await.unwrap().size,
        big.len() as u64
    );
    assert_eq!(read(&d, "/docker/moved").await, big);

    // Deleting a tree takes the segments of its manifests along.
    d.delete("/docker").await.unwrap();
    assert!(raw.names(&container).await.is_empty());
    assert!(d.delete("/docker").await.unwrap_err().is_not_found());
    raw.destroy(&container).await;
}

#[tokio::test]
async fn an_append_is_resumed_by_another_driver_instance() {
    let Some(env) = env() else { return };
    let container = unique("resume");
    let first = env.open(&container, &[]).await;
    let path = "/docker/registry/v2/repositories/r/_uploads/u/data";
    let a = suite::pattern(1, (CHUNK + 3) as usize);
    let mut w = first.writer(path, false).await.unwrap();
    w.write(a.clone()).await.unwrap();
    w.commit().await.unwrap();
    drop(first);

    // A restarted registry: a new driver appends to what the first wrote.
    let second = env.open(&container, &[]).await;
    let b = suite::pattern(2, 1000);
    let mut w = second.writer(path, true).await.unwrap();
    assert_eq!(w.size(), a.len() as u64);
    w.write(b.clone()).await.unwrap();
    w.commit().await.unwrap();
    let mut expected = a.to_vec();
    expected.extend_from_slice(&b);
    assert_eq!(read(&second, path).await, expected);
    let end = expected.len() as u64;
    let mut tail = second.reader(path, end - 10).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = tail.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, expected[expected.len() - 10..]);
    assert!(
        second
            .reader(path, end)
            .await
            .unwrap()
            .next()
            .await
            .is_none()
    );
    assert!(matches!(
        second.reader(path, end + 1).await.map(drop),
        Err(berth_storage::StorageError::InvalidOffset { .. })
    ));

    // A cancelled append leaves the object as it was.
    let mut w = second.writer(path, true).await.unwrap();
    w.write(suite::pattern(3, (CHUNK + 10) as usize))
        .await
        .unwrap();
    w.cancel().await.unwrap();
    assert_eq!(second.stat(path).await.unwrap().size, expected.len() as u64);
    assert_eq!(read(&second, path).await, expected);

    // An append to a plain object turns it into segments, server-side.
    let plain = "/plain";
    second.put_content(plain, "abc".into()).await.unwrap();
    let mut w = second.writer(plain, true).await.unwrap();
    w.write(Bytes::from_static(b"def")).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(second.get_content(plain).await.unwrap(), "abcdef");
    env.raw().await.destroy(&container).await;
}

#[tokio::test]
async fn temp_urls_are_signed_with_the_secret_key_and_expire() {
    let Some(env) = env() else { return };
    let container = unique("tempurl");
    let raw = env.raw().await;
    let secret = format!("key-{}", uuid::Uuid::new_v4().simple());
    let set = raw
        .http
        .post(&raw.storage_url)
        .header("X-Auth-Token", &raw.token)
        .header("X-Account-Meta-Temp-URL-Key-2", &secret)
        .send()
        .await
        .unwrap();
    assert!(
        set.status().is_success(),
        "set the account key: {}",
        set.status()
    );

    let d = env.open(&container, &[("secretkey", json!(secret))]).await;
    d.put_content("/blob/data", "temp url bytes".into())
        .await
        .unwrap();
    let url = d
        .redirect_url("/blob/data")
        .await
        .unwrap()
        .expect("a TempURL");
    let parsed = reqwest::Url::parse(&url).unwrap();
    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    let expires: u64 = query["temp_url_expires"].parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 19 * 60..=now + 21 * 60).contains(&expires),
        "valid for 20 minutes: expires {expires}, now {now}"
    );
    assert!(query.contains_key("temp_url_sig"));

    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status().as_u16(), 200, "GET {url}");
    assert_eq!(got.text().await.unwrap(), "temp url bytes");

    // A URL whose expiry was changed is refused.
    let forged = url.replace(
        &format!("temp_url_expires={expires}"),
        &format!("temp_url_expires={}", expires + 3600),
    );
    assert_eq!(reqwest::get(&forged).await.unwrap().status().as_u16(), 401);

    // Without secretkey there is no redirect.
    let plain = env.open(&container, &[]).await;
    assert_eq!(plain.redirect_url("/blob/data").await.unwrap(), None);
    raw.destroy(&container).await;
    raw.http
        .post(&raw.storage_url)
        .header("X-Auth-Token", &raw.token)
        .header("X-Remove-Account-Meta-Temp-URL-Key-2", "x")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_token_is_renewed_once() {
    let Some(env) = env() else { return };
    let container = unique("reauth");
    let d = env.open(&container, &[]).await;
    d.put_content("/a", "before".into()).await.unwrap();
    d.expire_token_for_tests();
    assert_eq!(d.get_content("/a").await.unwrap(), "before");
    d.expire_token_for_tests();
    let (x, y) = tokio::join!(d.stat("/a"), d.list("/"));
    assert_eq!(x.unwrap().size, 6);
    assert_eq!(y.unwrap(), ["/a"]);
    env.raw().await.destroy(&container).await;
}

#[tokio::test]
async fn a_wrong_password_says_the_credentials_were_rejected() {
    let Some(env) = env() else { return };
    let mut params = env.params(&unique("wrong"), &[]);
    params.insert("password", json!("not-the-password"));
    let e = SwiftDriver::open(&params).await.unwrap_err().to_string();
    assert!(
        e.contains("Swift rejected the credentials for authentication at")
            && e.contains("401 Unauthorized")
            && e.contains("check storage.swift.username and storage.swift.password"),
        "{e}"
    );
}

#[tokio::test]
async fn a_closed_port_fails_quickly_and_says_so() {
    let Some(env) = env() else { return };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut params = env.params("unused", &[]);
    params.insert(
        "authurl",
        json!(format!("http://127.0.0.1:{port}/auth/v1.0")),
    );
    let opened = tokio::time::timeout(Duration::from_secs(60), SwiftDriver::open(&params))
        .await
        .expect("open gives up on its own");
    let e = opened.unwrap_err().to_string();
    assert!(
        e.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
        "{e}"
    );
    assert!(e.contains("storage.swift.authurl"), "{e}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let Some(env) = env() else { return };
    let mut params = env.params("unused", &[]);
    let url = env.auth_url.replacen("http://", "https://", 1);
    params.insert("authurl", json!(url));
    let e = SwiftDriver::open(&params).await.unwrap_err().to_string();
    assert!(
        e.contains("TLS handshake with") && e.contains("storage.swift.insecureskipverify"),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_parameter_is_named_without_network() {
    let mut params = Parameters::new();
    params.insert("authurl", json!("http://127.0.0.1:1/auth/v1.0"));
    params.insert("username", json!("u"));
    params.insert("password", json!("p"));
    let e = SwiftDriver::open(&params).await.unwrap_err().to_string();
    assert!(e.starts_with("storage.swift.container: missing"), "{e}");
}

#[tokio::test]
async fn temp_url_keys_set_by_others_are_never_replaced() {
    let Some(env) = env() else { return };
    let raw = env.raw().await;
    let ours = format!("ours-{}", uuid::Uuid::new_v4().simple());
    let some = |k: &str| Some(k.to_string());

    // The admin keeps a key of their own on the container: the driver
    // stores its key in the empty second slot and leaves the admin's.
    let container = unique("admin-key");
    raw.create(
        &container,
        &[("X-Container-Meta-Temp-URL-Key", "the-admins-key")],
    )
    .await;
    let d = env.open(&container, &[("secretkey", json!(ours))]).await;
    assert_eq!(
        raw.temp_url_keys(&container).await,
        [some("the-admins-key"), some(&ours)]
    );
    d.put_content("/blob", "redirected".into()).await.unwrap();
    let url = d.redirect_url("/blob").await.unwrap().expect("a TempURL");
    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status().as_u16(), 200, "GET {url}");
    assert_eq!(got.text().await.unwrap(), "redirected");
    // Opening again finds the key where it left it and changes nothing.
    let again = env.open(&container, &[("secretkey", json!(ours))]).await;
    assert!(again.redirect_url("/blob").await.unwrap().is_some());
    assert_eq!(
        raw.temp_url_keys(&container).await,
        [some("the-admins-key"), some(&ours)]
    );
    raw.destroy(&container).await;

    // Both slots taken by others: nothing is replaced, and since Swift
    // would refuse the driver's TempURLs (401), it redirects nowhere and
    // the registry serves blobs itself.
    let container = unique("full-keys");
    let theirs = [
        ("X-Container-Meta-Temp-URL-Key", "first-admin-key"),
        ("X-Container-Meta-Temp-URL-Key-2", "second-admin-key"),
    ];
    raw.create(&container, &theirs).await;
    let d = env.open(&container, &[("secretkey", json!(ours))]).await;
    assert_eq!(d.redirect_url("/blob").await.unwrap(), None);
    assert_eq!(
        raw.temp_url_keys(&container).await,
        [some("first-admin-key"), some("second-admin-key")]
    );
    raw.destroy(&container).await;
}

/// The TempAuth user without rights of its own that
/// `scripts/storage-servers.sh swift` adds: BERTH_TEST_SWIFT_READER_{USER,KEY}.
fn reader(env: &Env) -> Option<Env> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("BERTH_TEST_SWIFT_READER_USER"),
        var("BERTH_TEST_SWIFT_READER_KEY"),
    ) {
        (Some(user), Some(key)) => Some(Env {
            auth_url: env.auth_url.clone(),
            user,
            key,
        }),
        _ => unavailable(
            "no Swift reader user: BERTH_TEST_SWIFT_READER_USER/KEY are unset; start Swift with the current `scripts/storage-servers.sh swift`",
        ),
    }
}

#[tokio::test]
async fn a_user_who_may_only_read_gets_a_clear_403_from_the_probe() {
    let Some(env) = env() else { return };
    let Some(reader) = reader(&env) else { return };
    let raw = env.raw().await;

    // No rights at all on the container: opening says so.
    let closed = unique("closed");
    raw.create(&closed, &[]).await;
    let e = SwiftDriver::open(&reader.params(&closed, &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "Swift refused HEAD of container \"{closed}\" (403 Forbidden"
        )),
        "{e}"
    );
    assert!(e.contains("storage.swift.container"), "{e}");
    raw.destroy(&closed).await;

    // Read access through the container's ACL: the probe lists, then its
    // write fails with Swift's 403 and what to check.
    let container = unique("read-only");
    raw.create(&container, &[("X-Container-Read", reader.user.as_str())])
        .await;
    let d = reader.open(&container, &[]).await;
    let report = probe(&d).await;
    eprintln!("{}", report.render());
    let steps: Vec<_> = report.steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        steps[0],
        ("list", StepStatus::Passed),
        "{}",
        report.render()
    );
    assert_eq!(
        steps[1],
        ("write", StepStatus::Failed),
        "{}",
        report.render()
    );
    let detail = report.failure().unwrap().detail.clone().unwrap_or_default();
    for words in [
        "Swift refused PUT object (403 Forbidden",
        "lack permission",
        ".admin",
        "X-Container-Write",
    ] {
        assert!(detail.contains(words), "{words:?} in {detail}");
    }
    assert!(
        raw.names(&container).await.is_empty(),
        "nothing was written"
    );

    // With a secretkey it may not store (only the account's owner may),
    // Swift would refuse its TempURLs: no redirects, rather than 401s.
    let secret = format!("key-{}", uuid::Uuid::new_v4().simple());
    let d = reader
        .open(&container, &[("secretkey", json!(secret))])
        .await;
    assert_eq!(d.redirect_url("/anything").await.unwrap(), None);
    assert_eq!(raw.temp_url_keys(&container).await, [None, None]);
    raw.destroy(&container).await;
}
