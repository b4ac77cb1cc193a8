//! The s3 driver against a real S3 server: Ceph RGW, started by
//! `scripts/storage-servers.sh ceph`, which exports BERTH_TEST_S3_* (the
//! bucket exists). Without them the tests say how to run them and pass,
//! except under `CI=true`, where they fail.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use berth_config::Parameters;
use berth_storage::{StorageDriver, StorageError, suite};
use berth_storage_s3::S3Driver;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

struct Server {
    endpoint: String,
    region: String,
    access: String,
    secret: String,
    bucket: String,
}

fn server() -> Option<Server> {
    let var = |name: &str| std::env::var(format!("BERTH_TEST_S3_{name}")).ok();
    let found = (|| {
        Some(Server {
            endpoint: var("ENDPOINT")?,
            region: var("REGION")?,
            access: var("ACCESS_KEY")?,
            secret: var("SECRET_KEY")?,
            bucket: var("BUCKET")?,
        })
    })();
    if found.is_none() {
        let how = "BERTH_TEST_S3_{ENDPOINT,REGION,ACCESS_KEY,SECRET_KEY,BUCKET} are not set: \
                   run `source scripts/storage-servers.sh ceph` first (it starts Ceph RGW)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{how}");
        }
        eprintln!("skipping the s3 driver test: {how}");
    }
    found
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl Server {
    fn params(&self, extra: &[(&str, Value)]) -> Parameters {
        let mut p: Parameters = [
            ("regionendpoint", json!(self.endpoint)),
            ("region", json!(self.region)),
            ("accesskey", json!(self.access)),
            ("secretkey", json!(self.secret)),
            ("bucket", json!(self.bucket)),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            p.insert(*k, v.clone());
        }
        p
    }

    async fn driver(&self, extra: &[(&str, Value)]) -> S3Driver {
        S3Driver::open(&self.params(extra))
            .await
            .expect("open the s3 driver")
    }

    /// A plain SDK client, to look at the bucket without the driver.
    fn raw(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                &self.access,
                &self.secret,
                None,
                None,
                "test",
            ))
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// The error's whole message, sources included.
fn message(e: &StorageError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[tokio::test]
async fn generic_suite() {
    let Some(server) = server() else { return };
    let driver = server.driver(&[]).await;
    suite::run_all(&driver, &format!("/{}", unique("suite"))).await;
}

#[tokio::test]
async fn root_directory_prefixes_keys() {
    let Some(server) = server() else { return };
    let root = unique("berth-root");
    let driver = server
        .driver(&[("rootdirectory", json!(format!("/{root}/sub/")))])
        .await;
    driver.put_content("/x/y", "hello".into()).await.unwrap();
    let listed = server
        .raw()
        .list_objects_v2()
        .bucket(&server.bucket)
        .prefix(format!("{root}/"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [format!("{root}/sub/x/y")]);
    assert_eq!(driver.list("/").await.unwrap(), ["/x"]);
    assert_eq!(driver.get_content("/x/y").await.unwrap(), "hello");
    driver.delete("/x").await.unwrap();
    assert!(driver.stat("/x/y").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn wrong_secret_key_says_credentials_were_rejected() {
    let Some(server) = server() else { return };
    let driver = server
        .driver(&[("secretkey", json!("not-the-secret"))])
        .await;
    let e = driver.put_content("/x", "x".into()).await.unwrap_err();
    let m = message(&e);
    assert!(m.contains("the server rejected the credentials"), "{m}");
    assert!(m.contains("storage.s3.secretkey"), "{m}");
    let e = driver.list("/").await.unwrap_err();
    assert!(message(&e).contains("rejected the credentials"), "{e}");
}

#[tokio::test]
async fn missing_bucket_is_named() {
    let Some(server) = server() else { return };
    let bucket = unique("berth-missing");
    let driver = server.driver(&[("bucket", json!(bucket))]).await;
    for e in [
        driver.put_content("/x", "x".into()).await.unwrap_err(),
        driver.stat("/x").await.unwrap_err(),
        driver.list("/").await.unwrap_err(),
    ] {
        let m = message(&e);
        assert!(
            m.contains(&format!("bucket {bucket} does not exist"))
                && m.contains("storage.s3.bucket"),
            "{m}"
        );
    }
}

#[tokio::test]
async fn closed_port_fails_quickly_and_clearly() {
    let Some(server) = server() else { return };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let driver = server.driver(&[("regionendpoint", json!(endpoint))]).await;
    let e = tokio::time::timeout(
        Duration::from_secs(60),
        driver.put_content("/x", "x".into()),
    )
    .await
    .expect("a closed port must fail, not hang")
    .unwrap_err();
    let m = message(&e);
    assert!(
        m.contains(&format!("cannot connect to {endpoint}: connection refused")),
        "{m}"
    );
    assert!(m.contains("storage.s3.regionendpoint"), "{m}");
}

#[tokio::test]
async fn open_names_missing_and_unsupported_settings() {
    let Some(server) = server() else { return };
    let mut p = server.params(&[]);
    p.remove("bucket");
    let e = S3Driver::open(&p).await.unwrap_err().to_string();
    assert!(e.starts_with("storage.s3.bucket: missing"), "{e}");
    let e = S3Driver::open(&server.params(&[("v4auth", json!(false))]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("storage.s3.v4auth") && e.contains("signature version 4"),
        "{e}"
    );
    let e = S3Driver::open(&server.params(&[("rootcacert", json!("/nonexistent/ca.pem"))]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("storage.s3.rootcacert") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
}

/// A bucket whose policy denies object writes and reads to everyone, the
/// owner included, gives real AccessDenied answers.
#[tokio::test]
async fn access_denied_names_the_missing_permission() {
    let Some(server) = server() else { return };
    let raw = server.raw();
    let bucket = unique("berth-denied");
    raw.create_bucket().bucket(&bucket).send().await.unwrap();
    raw.put_object()
        .bucket(&bucket)
        .key("docker/x")
        .body(Bytes::from_static(b"x").into())
        .send()
        .await
        .unwrap();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]
        }]
    });
    raw.put_bucket_policy()
        .bucket(&bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let driver = server.driver(&[("bucket", json!(bucket))]).await;
    let put = driver
        .put_content("/docker/x", "x".into())
        .await
        .unwrap_err();
    let list = driver.list("/docker").await.unwrap_err();
    let get = driver.get_content("/docker/x").await.unwrap_err();
    raw.delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    raw.delete_object()
        .bucket(&bucket)
        .key("docker/x")
        .send()
        .await
        .unwrap();
    raw.delete_bucket().bucket(&bucket).send().await.unwrap();
    let cases = [
        (
            put,
            format!("s3:PutObject on arn:aws:s3:::{bucket}/docker/x"),
        ),
        (list, format!("s3:ListBucket on arn:aws:s3:::{bucket}")),
        (
            get,
            format!("s3:GetObject on arn:aws:s3:::{bucket}/docker/x"),
        ),
    ];
    for (e, permission) in cases {
        let m = message(&e);
        assert!(
            m.contains("access denied") && m.contains(&permission),
            "{m}"
        );
        assert!(m.contains("berthd iam-policy"), "{m}");
    }
}

/// A chunked upload continued by another driver instance, as after a
/// restart of berthd: the second one finds only what is in the bucket.
#[tokio::test]
async fn upload_resumes_in_a_new_driver_instance() {
    let Some(server) = server() else { return };
    let path = format!("/{}/_uploads/data", unique("resume"));
    let first = suite::pattern(1, 7 * 1024 * 1024 + 5);
    let second = suite::pattern(2, 6 * 1024 * 1024);
    let third = suite::pattern(3, 100);

    let before = server
        .driver(&[("chunksize", json!(5 * 1024 * 1024))])
        .await;
    let mut w = before.writer(&path, true).await.unwrap();
    w.write(first.clone()).await.unwrap();
    w.commit().await.unwrap();
    drop(before);

    let after = server
        .driver(&[("chunksize", json!(5 * 1024 * 1024))])
        .await;
    let mut w = after.writer(&path, true).await.unwrap();
    assert_eq!(w.size(), first.len() as u64);
    w.write(second.clone()).await.unwrap();
    w.commit().await.unwrap();

    // A cancelled append leaves the committed object as it was.
    let mut w = after.writer(&path, true).await.unwrap();
    w.write(Bytes::from_static(b"discarded")).await.unwrap();
    w.cancel().await.unwrap();

    let mut w = after.writer(&path, true).await.unwrap();
    w.write(third.clone()).await.unwrap();
    w.commit().await.unwrap();

    let expected = [first, second, third].concat();
    assert_eq!(after.stat(&path).await.unwrap().size, expected.len() as u64);
    let mut stream = after.reader(&path, 0).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(
        got == expected,
        "the resumed upload differs from what was written"
    );
    after
        .delete(path.rsplit_once("/_uploads").unwrap().0)
        .await
        .unwrap();
}

/// A chunked upload as the registry sends it, PATCH by PATCH, each writer
/// closed and a new one opened (in a new driver instance, as after a
/// restart): the PATCHes become parts of one multipart upload, never an
/// object until the commit. An object appearing early would mean a PATCH
/// left a part too short to be followed, and the next one had to complete
/// the upload and copy it server-side: the quadratic cost this avoids.
#[tokio::test]
async fn patches_become_parts_of_one_upload() {
    let Some(server) = server() else { return };
    let path = format!("/{}/_uploads/data", unique("patches"));
    let chunk = [("chunksize", json!(5 * 1024 * 1024))];
    let mut expected = Vec::new();
    // Not multiples of the part size: each leaves a remainder.
    for (i, size) in [13 * 1024 * 1024 + 7, 9 * 1024 * 1024, 6 * 1024 * 1024 + 1]
        .into_iter()
        .enumerate()
    {
        let driver = server.driver(&chunk).await;
        let mut w = driver.writer(&path, true).await.unwrap();
        assert_eq!(
            w.size(),
            expected.len() as u64,
            "PATCH {i} starts at the end"
        );
        let data = suite::pattern(i as u8 + 20, size);
        w.write(data.clone()).await.unwrap();
        expected.extend_from_slice(&data);
        w.close().await.unwrap();
        let early = driver.stat(&path).await;
        assert!(
            early.as_ref().is_err_and(StorageError::is_not_found),
            "after PATCH {i} the upload was completed into an object early: {early:?}"
        );
    }
    let driver = server.driver(&chunk).await;
    let w = driver.writer(&path, true).await.unwrap();
    assert_eq!(w.size(), expected.len() as u64);
    w.commit().await.unwrap();
    let mut stream = driver.reader(&path, 0).await.unwrap();
    let mut got = Vec::new();
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert!(
        got == expected,
        "the committed object differs from the PATCHes"
    );
    driver.delete(&path).await.unwrap();
}

#[tokio::test]
async fn presigned_url_serves_the_object_and_expires() {
    let Some(server) = server() else { return };
    let driver = server.driver(&[]).await;
    let path = format!("/{}/blob", unique("presign"));
    let data = suite::pattern(5, 70_000);
    driver.put_content(&path, data.clone()).await.unwrap();
    let url = driver
        .redirect_url(&path)
        .await
        .unwrap()
        .expect("a presigned URL");
    assert!(url.contains("X-Amz-Expires=1200"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert!(response.bytes().await.unwrap() == data);
    // A tampered signature is refused: the URL is really signed.
    let tampered = url.replace("X-Amz-Expires=1200", "X-Amz-Expires=9999");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    driver.delete(&path).await.unwrap();
}

/// Virtual-hosted style (`BUCKET.localhost:PORT`): RGW runs with
/// `rgw dns name = localhost`, and the driver resolves `*.localhost` to the
/// loopback address itself.
#[tokio::test]
async fn virtual_hosted_style_requests() {
    let Some(server) = server() else { return };
    let endpoint = server.endpoint.replace("127.0.0.1", "localhost");
    let driver = server
        .driver(&[
            ("regionendpoint", json!(endpoint)),
            ("forcepathstyle", json!(false)),
        ])
        .await;
    let path = format!("/{}/vhost", unique("vhost"));
    driver.put_content(&path, "virtual".into()).await.unwrap();
    assert_eq!(driver.get_content(&path).await.unwrap(), "virtual");
    let url = driver.redirect_url(&path).await.unwrap().unwrap();
    let host = format!("http://{}.localhost:", server.bucket);
    assert!(url.starts_with(&host), "{url} should be virtual-hosted");
    driver.delete(&path).await.unwrap();
}

/// A TLS-terminating proxy in front of the S3 server whose certificate (for
/// 127.0.0.1) comes from a fresh private CA: its port and the CA's PEM.
async fn tls_proxy(upstream: &str) -> (u16, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Berth test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = upstream.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                tokio::io::copy_bidirectional(&mut tls, &mut plain)
                    .await
                    .ok();
            });
        }
    });
    (port, ca.pem())
}

/// HTTPS to a store whose certificate comes from a private CA: refused with
/// advice, trusted through `rootcacert`, unchecked with `skipverify`.
#[tokio::test]
async fn tls_with_a_private_ca() {
    let Some(server) = server() else { return };
    let (port, ca_pem) = tls_proxy(&server.endpoint).await;
    let endpoint = format!("https://127.0.0.1:{port}");
    let path = format!("/{}/tls", unique("tls"));

    let untrusted = server.driver(&[("regionendpoint", json!(endpoint))]).await;
    let e = untrusted.put_content(&path, "x".into()).await.unwrap_err();
    let m = message(&e);
    assert!(m.contains(&format!("TLS with {endpoint} failed")), "{m}");
    assert!(
        m.contains("storage.s3.rootcacert") && m.contains("skipverify"),
        "{m}"
    );

    let ca_file = std::env::temp_dir().join(format!("{}.pem", unique("berth-s3-ca")));
    std::fs::write(&ca_file, ca_pem).unwrap();
    let trusting = server
        .driver(&[
            ("regionendpoint", json!(endpoint)),
            ("rootcacert", json!(ca_file.to_str().unwrap())),
        ])
        .await;
    let stored = trusting.put_content(&path, "over TLS".into()).await;
    std::fs::remove_file(&ca_file).ok();
    stored.unwrap();
    assert_eq!(trusting.get_content(&path).await.unwrap(), "over TLS");

    let unchecked = server
        .driver(&[
            ("regionendpoint", json!(endpoint)),
            ("skipverify", json!(true)),
        ])
        .await;
    assert_eq!(unchecked.get_content(&path).await.unwrap(), "over TLS");
    unchecked.delete(&path).await.unwrap();
}
