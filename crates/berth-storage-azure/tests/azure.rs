//! The azure driver against a real Azurite (`scripts/storage-servers.sh`
//! starts one and exports `BERTH_TEST_AZURE_{ENDPOINT,ACCOUNT,KEY}`).
//!
//! Run: `source /tmp/storage-servers.env` (or the script), then
//! `cargo nextest run -p berth-storage-azure`.

use std::time::Duration;

use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::{
    BlobBlockType, BlockId, BlockList, ClientBuilder, ContainerClient,
};
use berth_config::Parameters;
use berth_storage::{StorageDriver, suite};
use berth_storage_azure::AzureDriver;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

/// Azurite's address and account, or `None` (after explaining) when the
/// variables are unset outside CI.
struct Azurite {
    endpoint: String,
    account: String,
    key: String,
}

fn azurite() -> Option<Azurite> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("BERTH_TEST_AZURE_ENDPOINT"),
        var("BERTH_TEST_AZURE_ACCOUNT"),
        var("BERTH_TEST_AZURE_KEY"),
    ) {
        (Some(endpoint), Some(account), Some(key)) => Some(Azurite {
            endpoint,
            account,
            key,
        }),
        _ => {
            let how = "BERTH_TEST_AZURE_ENDPOINT/ACCOUNT/KEY are not set: start Azurite with \
                 `source scripts/storage-servers.sh azurite` (or `source /tmp/storage-servers.env`) \
                 and run `cargo nextest run -p berth-storage-azure`";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{how}");
            }
            eprintln!("skipping: {how}");
            None
        }
    }
}

impl Azurite {
    fn container_client(&self, name: &str) -> ContainerClient {
        ClientBuilder::with_location(
            CloudLocation::Custom {
                account: self.account.clone(),
                uri: self.endpoint.clone(),
            },
            StorageCredentials::access_key(self.account.clone(), self.key.clone()),
        )
        .container_client(name)
    }

    /// A fresh container with a unique name.
    async fn new_container(&self) -> (String, ContainerClient) {
        let name = format!("berth-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let client = self.container_client(&name);
        client.create().await.unwrap_or_else(|e| {
            panic!(
                "create container {name} in Azurite at {}: {e}",
                self.endpoint
            )
        });
        (name, client)
    }

    fn params(&self, container: &str) -> Parameters {
        let mut p = Parameters::new();
        p.insert("accountname", json!(self.account));
        p.insert("accountkey", json!(self.key));
        p.insert("container", json!(container));
        p.insert("serviceurl", json!(self.endpoint));
        p
    }
}

async fn open(params: &Parameters) -> AzureDriver {
    AzureDriver::open(params)
        .await
        .expect("open the azure driver")
}

async fn read_all(d: &AzureDriver, path: &str) -> Vec<u8> {
    let mut stream = d.reader(path, 0).await.expect("reader");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

async fn raw_names(client: &ContainerClient) -> Vec<String> {
    let mut names = Vec::new();
    let mut pages = client.list_blobs().into_stream();
    while let Some(page) = pages.next().await {
        names.extend(page.unwrap().blobs.blobs().map(|b| b.name.clone()));
    }
    names.sort();
    names
}

#[tokio::test]
async fn the_generic_suite_passes() {
    let Some(az) = azurite() else { return };
    let (container, _) = az.new_container().await;
    let driver = open(&az.params(&container)).await;
    let prefix = format!("/suite-{}", uuid::Uuid::new_v4().simple());
    suite::run_all(&driver, &prefix).await;
}

#[tokio::test]
async fn rootdirectory_prefixes_blob_names() {
    let Some(az) = azurite() else { return };
    let (container, client) = az.new_container().await;
    let mut params = az.params(&container);
    params.insert("rootdirectory", json!("/registry/root/"));
    let driver = open(&params).await;
    driver
        .put_content("/docker/registry/v2/x", "x".into())
        .await
        .unwrap();
    let mut w = driver.writer("/docker/w", false).await.unwrap();
    w.write("w".into()).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(
        raw_names(&client).await,
        [
            "registry/root/docker/registry/v2/x",
            "registry/root/docker/w"
        ]
    );
    let mut top = driver.list("/").await.unwrap();
    top.sort();
    assert_eq!(top, ["/docker"]);
    assert!(driver.stat("/docker/registry").await.unwrap().is_dir);

    // Blobs outside the root are not the driver's.
    client
        .blob_client("elsewhere/y")
        .put_block_blob("y")
        .await
        .unwrap();
    assert_eq!(driver.list("/").await.unwrap(), ["/docker"]);
    driver.delete("/docker").await.unwrap();
    assert_eq!(raw_names(&client).await, ["elsewhere/y"]);
}

#[tokio::test]
async fn a_wrong_account_key_is_reported_as_rejected_credentials() {
    let Some(az) = azurite() else { return };
    let (container, _) = az.new_container().await;
    let mut params = az.params(&container);
    // A well-formed key that is not the account's.
    params.insert(
        "accountkey",
        json!("d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="),
    );
    let driver = open(&params).await;
    let err = driver
        .put_content("/a", "x".into())
        .await
        .expect_err("Azurite must refuse a request signed with another key");
    let message = err.to_string();
    assert!(
        message.contains(
            "the storage account rejected the credentials: check storage.azure.accountname/accountkey"
        ),
        "{message}"
    );
    let err = driver.stat("/a").await.unwrap_err().to_string();
    assert!(err.contains("rejected the credentials"), "{err}");
}

#[tokio::test]
async fn open_creates_a_missing_container_as_distribution_does() {
    let Some(az) = azurite() else { return };
    let name = format!("created-{}", uuid::Uuid::new_v4().simple());
    let driver = open(&az.params(&name)).await;
    driver.put_content("/a", "x".into()).await.unwrap();
    assert_eq!(driver.get_content("/a").await.unwrap(), "x");
    az.container_client(&name).delete().await.unwrap();
}

#[tokio::test]
async fn a_container_that_disappears_is_named() {
    let Some(az) = azurite() else { return };
    let driver = open(&az.params("no-such-container-berth")).await;
    // Removed behind the driver's back after open created it.
    az.container_client("no-such-container-berth")
        .delete()
        .await
        .unwrap();
    for err in [
        driver.put_content("/a", "x".into()).await.unwrap_err(),
        driver.stat("/a").await.unwrap_err(),
        driver.list("/").await.unwrap_err(),
    ] {
        assert!(!err.is_not_found(), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "container no-such-container-berth does not exist in account {}: create it or fix storage.azure.container",
                az.account
            )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_closed_port_fails_quickly_and_clearly() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/devstoreaccount1");
    let mut params = Parameters::new();
    params.insert("accountname", json!("devstoreaccount1"));
    params.insert("accountkey", json!("a2V5"));
    params.insert("container", json!("registry"));
    params.insert("serviceurl", json!(url));
    let driver = open(&params).await;
    let err = tokio::time::timeout(Duration::from_secs(60), driver.stat("/a"))
        .await
        .expect("a closed port must not hang")
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot connect to {url}")),
        "{message}"
    );
}

#[tokio::test]
async fn an_append_resumes_in_another_driver_instance() {
    let Some(az) = azurite() else { return };
    let (container, _) = az.new_container().await;
    let params = az.params(&container);
    let p = "/docker/registry/v2/repositories/r/_uploads/u/data";
    let first = suite::pattern(1, 5 * 1024 * 1024 + 3);
    let second = suite::pattern(2, 1234);
    {
        let driver = open(&params).await;
        let mut w = driver.writer(p, true).await.unwrap();
        w.write(first.clone()).await.unwrap();
        w.commit().await.unwrap();
    }
    // A restarted berthd: a new client, nothing shared but the container.
    let driver = open(&params).await;
    let mut w = driver.writer(p, true).await.unwrap();
    assert_eq!(w.size(), first.len() as u64);
    w.write(second.clone()).await.unwrap();
    w.commit().await.unwrap();
    let expected: Vec<u8> = [first, second].concat();
    assert!(read_all(&driver, p).await == expected);
}

#[tokio::test]
async fn appends_continue_blobs_written_by_other_clients() {
    let Some(az) = azurite() else { return };
    let (container, client) = az.new_container().await;
    let driver = open(&az.params(&container)).await;

    // A single Put Blob: no blocks at all.
    let whole = suite::pattern(3, 9 * 1024 * 1024);
    client
        .blob_client("put-blob")
        .put_block_blob(whole.clone())
        .await
        .unwrap();
    // Blocks with IDs of another length than ours.
    let foreign = client.blob_client("foreign-blocks");
    let parts = [suite::pattern(4, 1000), suite::pattern(5, 2000)];
    for (i, part) in parts.iter().enumerate() {
        foreign
            .put_block(BlockId::new(Bytes::from(format!("b{i}"))), part.clone())
            .await
            .unwrap();
    }
    foreign
        .put_block_list(BlockList {
            blocks: (0..parts.len())
                .map(|i| BlobBlockType::new_uncommitted(Bytes::from(format!("b{i}"))))
                .collect(),
        })
        .await
        .unwrap();

    for (path, before) in [
        ("/put-blob", whole.to_vec()),
        ("/foreign-blocks", parts.concat()),
    ] {
        let tail = suite::pattern(6, 777);
        let mut w = driver.writer(path, true).await.unwrap();
        assert_eq!(w.size(), before.len() as u64, "{path}");
        w.write(tail.clone()).await.unwrap();
        w.commit().await.unwrap();
        let expected = [before, tail.to_vec()].concat();
        assert!(read_all(&driver, path).await == expected, "{path}");
        // And once more, now with our own block IDs.
        let mut w = driver.writer(path, true).await.unwrap();
        w.write("!".into()).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(
            driver.stat(path).await.unwrap().size,
            expected.len() as u64 + 1
        );
    }
}

#[tokio::test]
async fn legacy_append_blobs_are_replaced_and_not_resumed() {
    let Some(az) = azurite() else { return };
    let (container, client) = az.new_container().await;
    let driver = open(&az.params(&container)).await;
    // Distribution before 2.8 wrote append blobs.
    let legacy = client.blob_client("legacy");
    legacy.put_append_blob().await.unwrap();
    legacy.append_block("old").await.unwrap();
    let err = match driver.writer("/legacy", true).await {
        Ok(_) => panic!("appending to an append blob must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("restart the upload"), "{err}");
    driver.put_content("/legacy", "new".into()).await.unwrap();
    assert_eq!(driver.get_content("/legacy").await.unwrap(), "new");
    let mut w = driver.writer("/legacy", true).await.unwrap();
    w.write("er".into()).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(driver.get_content("/legacy").await.unwrap(), "newer");
}

#[tokio::test]
async fn cancelled_new_writers_leave_nothing() {
    let Some(az) = azurite() else { return };
    let (container, client) = az.new_container().await;
    let driver = open(&az.params(&container)).await;
    let mut w = driver.writer("/big", false).await.unwrap();
    w.write(suite::pattern(7, 5 * 1024 * 1024)).await.unwrap();
    w.cancel().await.unwrap();
    assert!(driver.stat("/big").await.unwrap_err().is_not_found());
    assert!(raw_names(&client).await.is_empty());
}

#[tokio::test]
async fn the_redirect_url_is_a_read_only_sas_that_expires() {
    let Some(az) = azurite() else { return };
    let (container, _) = az.new_container().await;
    let driver = open(&az.params(&container)).await;
    let data = suite::pattern(8, 4096);
    driver
        .put_content("/dir/blob name", data.clone())
        .await
        .unwrap();
    let url = driver
        .redirect_url("/dir/blob name")
        .await
        .unwrap()
        .unwrap();
    let http = reqwest::Client::new();
    let response = http.get(&url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    assert_eq!(response.bytes().await.unwrap(), data);

    let parsed = url::Url::parse(&url).unwrap();
    let query: std::collections::HashMap<String, String> =
        parsed.query_pairs().into_owned().collect();
    assert_eq!(query.get("sp").map(String::as_str), Some("r"), "{url}");
    let expiry = time::OffsetDateTime::parse(
        query.get("se").expect("the SAS carries its expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expiry - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(19) && left <= time::Duration::minutes(20),
        "expires in {left}"
    );

    // Read-only: writing with it is refused; a tampered signature too.
    let put = http
        .put(&url)
        .header("x-ms-blob-type", "BlockBlob")
        .body("overwrite")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 403, "a read SAS must not write");
    let tampered = url.replacen("sp=r", "sp=rw", 1);
    let status = http.get(&tampered).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 403, "a tampered SAS must be refused");
}

#[tokio::test]
async fn open_names_missing_settings() {
    let mut params = Parameters::new();
    params.insert("accountname", json!("acct"));
    params.insert("accountkey", json!("a2V5"));
    let err = AzureDriver::open(&params).await.unwrap_err().to_string();
    assert!(err.starts_with("storage.azure.container: missing"), "{err}");
    params.insert("container", json!("registry"));
    params.insert("accountkey", json!("not base64!"));
    let err = AzureDriver::open(&params).await.unwrap_err().to_string();
    assert!(err.starts_with("storage.azure.accountkey"), "{err}");
    params.insert("accountkey", json!("a2V5"));
    params.insert("realm", json!("core.chinacloudapi.cn"));
    let driver = AzureDriver::open(&params).await.unwrap();
    assert_eq!(
        driver.service_url(),
        "https://acct.blob.core.chinacloudapi.cn"
    );
    assert_eq!(
        berth_storage_azure::describe(&params),
        "azure container registry in account acct at https://acct.blob.core.chinacloudapi.cn, root /, shared_key credentials"
    );
}
