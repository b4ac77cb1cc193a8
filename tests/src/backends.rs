//! The cloud storage servers `make test` starts (scripts/storage-servers.sh),
//! as `storage:` driver sections for a registry under test.
//!
//! Each backend is read from the variables the script exports; a missing
//! server is a skip outside CI and a failure under `CI=true`.

use crate::peer;

/// A cloud storage backend the tests can run a registry on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Ceph RADOS Gateway (S3).
    S3,
    /// Azurite (Azure Blob).
    Azure,
    /// OpenStack Swift with tempauth.
    Swift,
    /// gcp-storage-emulator (Google Cloud Storage).
    Gcs,
}

/// A backend's driver section and the environment the registry needs.
#[derive(Clone, Debug)]
pub struct BackendConfig {
    /// The driver's name (`s3`, …).
    pub driver: &'static str,
    /// The `storage:` driver section, e.g. `s3:\n  bucket: …`.
    pub driver_yaml: String,
    /// Variables the registry process needs (the GCS emulator's address).
    pub env: Vec<(String, String)>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Backend {
    /// The driver's config name.
    pub fn driver(self) -> &'static str {
        match self {
            Backend::S3 => "s3",
            Backend::Azure => "azure",
            Backend::Swift => "swift",
            Backend::Gcs => "gcs",
        }
    }

    /// The backend's driver section with a fresh root directory (so tests
    /// never see each other's repositories), or `None` (outside CI) when its
    /// server is not running.
    pub fn config(self) -> Option<BackendConfig> {
        let root = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        let (key, yaml, env) = match self {
            Backend::S3 => {
                let endpoint = var("BERTH_TEST_S3_ENDPOINT");
                let yaml = endpoint.map(|endpoint| {
                    format!(
                        "s3:\n  regionendpoint: {endpoint}\n  region: {}\n  bucket: {}\n  \
                         accesskey: {}\n  secretkey: {}\n  forcepathstyle: true\n  \
                         secure: false\n  rootdirectory: /{root}\n",
                        var("BERTH_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                        var("BERTH_TEST_S3_BUCKET").unwrap_or_else(|| "berth-test".into()),
                        var("BERTH_TEST_S3_ACCESS_KEY").unwrap_or_default(),
                        var("BERTH_TEST_S3_SECRET_KEY").unwrap_or_default(),
                    )
                });
                ("BERTH_TEST_S3_ENDPOINT", yaml, vec![])
            }
            Backend::Azure => {
                let yaml = var("BERTH_TEST_AZURE_ENDPOINT").map(|endpoint| {
                    format!(
                        "azure:\n  accountname: {}\n  accountkey: {}\n  container: {root}\n  \
                         serviceurl: {endpoint}\n  rootdirectory: /registry\n",
                        var("BERTH_TEST_AZURE_ACCOUNT").unwrap_or_default(),
                        var("BERTH_TEST_AZURE_KEY").unwrap_or_default(),
                    )
                });
                ("BERTH_TEST_AZURE_ENDPOINT", yaml, vec![])
            }
            Backend::Swift => {
                let yaml = var("BERTH_TEST_SWIFT_AUTHURL").map(|authurl| {
                    let user = var("BERTH_TEST_SWIFT_USER").unwrap_or_default();
                    let key = var("BERTH_TEST_SWIFT_KEY").unwrap_or_default();
                    set_swift_tempurl_key(&authurl, &user, &key);
                    format!(
                        "swift:\n  authurl: {authurl}\n  username: {user}\n  password: {key}\n  \
                         container: {root}\n  chunksize: 5242880\n  \
                         secretkey: {SWIFT_TEMPURL_KEY}\n",
                    )
                });
                ("BERTH_TEST_SWIFT_AUTHURL", yaml, vec![])
            }
            Backend::Gcs => {
                let host = var("STORAGE_EMULATOR_HOST");
                let yaml = var("BERTH_TEST_GCS_BUCKET")
                    .filter(|_| host.is_some())
                    .map(|b| {
                        format!(
                            "gcs:\n  bucket: {b}\n  rootdirectory: /{root}\n  \
                             credentials: '{}'\n",
                            gcs_test_key()
                        )
                    });
                let env = host
                    .map(|h| vec![("STORAGE_EMULATOR_HOST".to_string(), h)])
                    .unwrap_or_default();
                ("STORAGE_EMULATOR_HOST", yaml, env)
            }
        };
        match yaml {
            Some(driver_yaml) => Some(BackendConfig {
                driver: self.driver(),
                driver_yaml,
                env,
            }),
            None => {
                let how = format!(
                    "the {} test server is not running ({key} is unset); run \
                     `source scripts/storage-servers.sh` first, or `make test`",
                    self.driver()
                );
                if peer::under_ci() {
                    panic!("{how}");
                }
                eprintln!("SKIPPED: {how}");
                None
            }
        }
    }
}

/// The account's Temp-URL key the Swift tests set, so blob GETs redirect.
pub const SWIFT_TEMPURL_KEY: &str = "berth-e2e-tempurl-key";

/// Sets the account's `X-Account-Meta-Temp-URL-Key` (TempAuth v1.0), as an
/// operator does before pointing a registry with `secretkey` at it.
fn set_swift_tempurl_key(authurl: &str, user: &str, key: &str) {
    let client = crate::registry::client();
    let auth = client
        .get(authurl)
        .header("X-Auth-User", user)
        .header("X-Auth-Key", key)
        .send()
        .unwrap_or_else(|e| panic!("Swift auth at {authurl}: {e}"));
    let header = |name: &str| {
        auth.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("Swift auth answered {} without {name}", auth.status()))
    };
    let (storage, token) = (header("X-Storage-Url"), header("X-Auth-Token"));
    let resp = client
        .post(&storage)
        .header("X-Auth-Token", token)
        .header("X-Account-Meta-Temp-URL-Key", SWIFT_TEMPURL_KEY)
        .send()
        .expect("set the Temp-URL key");
    assert!(
        resp.status().is_success(),
        "set Temp-URL key: {}",
        resp.status()
    );
}

/// A service account key for the GCS emulator, inline as Distribution's
/// `credentials` takes it: the emulator checks no authentication, but with
/// a key the driver signs URLs and blob GETs redirect to the emulator. The
/// key is the GCS driver's throwaway test key; it belongs to no Google
/// account.
fn gcs_test_key() -> String {
    const PEM: &str = include_str!("../../crates/berth-storage-gcs/tests/data/test-key.pem");
    serde_json::json!({
        "type": "service_account",
        "project_id": "berth-e2e",
        "client_email": "berth-e2e@berth-e2e.iam.gserviceaccount.com",
        "private_key": PEM,
    })
    .to_string()
}
