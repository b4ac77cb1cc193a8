//! The Azure SDK clients: HTTP transport with timeouts, bounded retries and
//! the configured credentials.

use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::{Secret, TokenCredential};
use azure_core::{ExponentialRetryOptions, HttpClient, RetryOptions, TransportOptions};
use azure_identity::{ClientSecretCredential, DefaultAzureCredential, TokenCredentialOptions};
use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::{BlobServiceClient, ClientBuilder, ContainerClient};
use berth_storage::OpenError;

use crate::config::{Credentials, DRIVER, Settings};

/// How long to wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may stay silent.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK clients for one container.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The blob service (account-level operations).
    pub service: BlobServiceClient,
    /// The container.
    pub container: ContainerClient,
}

impl Clients {
    /// Builds the clients; needs no network.
    pub fn new(settings: &Settings) -> Result<Clients, OpenError> {
        let http = http_client(settings)?;
        let credentials = storage_credentials(settings, http.clone())?;
        let location = CloudLocation::Custom {
            account: settings.account.clone(),
            uri: settings.service_url.clone(),
        };
        let retry = ExponentialRetryOptions::default()
            .initial_delay(Duration::from_millis(200))
            .max_retries(MAX_ATTEMPTS - 1)
            .max_total_elapsed(Duration::from_secs(30))
            .max_delay(Duration::from_secs(2));
        let service = ClientBuilder::with_location(location, credentials)
            .retry(RetryOptions::exponential(retry))
            .transport(TransportOptions::new(http))
            .blob_service_client();
        let container = service.container_client(settings.container.clone());
        Ok(Clients { service, container })
    }
}

fn http_client(settings: &Settings) -> Result<Arc<dyn HttpClient>, OpenError> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        // Emulators and proxies close idle connections after a few seconds;
        // don't reuse one that may be half-closed.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| OpenError::Io {
            driver: DRIVER.into(),
            location: settings.service_url.clone(),
            source: std::io::Error::other(format!("cannot build the HTTP client: {e}")),
        })?;
    Ok(Arc::new(client))
}

fn storage_credentials(
    settings: &Settings,
    http: Arc<dyn HttpClient>,
) -> Result<StorageCredentials, OpenError> {
    match &settings.credentials {
        Credentials::SharedKey { key } => {
            check_key(key)?;
            Ok(StorageCredentials::access_key(
                settings.account.clone(),
                Secret::new(key.clone()),
            ))
        }
        Credentials::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => {
            let authority = authority_host(&settings.realm);
            let authority = url::Url::parse(authority).map_err(|e| {
                OpenError::parameter(DRIVER, "realm", format!("no Entra ID authority: {e}"))
            })?;
            let credential: Arc<dyn TokenCredential> = Arc::new(ClientSecretCredential::new(
                http,
                authority,
                tenant_id.clone(),
                client_id.clone(),
                secret.clone(),
            ));
            Ok(StorageCredentials::token_credential(credential))
        }
        Credentials::Default => {
            let mut options = TokenCredentialOptions::default();
            options.set_authority_host(authority_host(&settings.realm).to_string());
            let credential = DefaultAzureCredential::create(options).map_err(|e| {
                OpenError::parameter(
                    DRIVER,
                    "credentials",
                    format!(
                        "no Azure identity is available ({e}): set storage.azure.accountkey, or credentials.type client_secret with tenantid, clientid and secret"
                    ),
                )
            })?;
            Ok(StorageCredentials::token_credential(Arc::new(credential)))
        }
    }
}

/// The Microsoft Entra ID authority for a storage realm.
pub fn authority_host(realm: &str) -> &'static str {
    if realm.ends_with("chinacloudapi.cn") {
        "https://login.chinacloudapi.cn"
    } else if realm.ends_with("usgovcloudapi.net") {
        "https://login.microsoftonline.us"
    } else {
        "https://login.microsoftonline.com"
    }
}

/// Shared keys are base64; say so now rather than on the first request.
fn check_key(key: &str) -> Result<(), OpenError> {
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(key.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(()),
        _ => Err(OpenError::parameter(
            DRIVER,
            "accountkey",
            "is not a base64 access key: copy key1 or key2 from the storage account's Access keys page",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_follow_the_realm() {
        assert_eq!(
            authority_host("core.chinacloudapi.cn"),
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(
            authority_host("core.windows.net"),
            "https://login.microsoftonline.com"
        );
    }

    #[test]
    fn keys_must_be_base64() {
        assert!(check_key("not base64!").is_err());
        assert!(check_key("a2V5").is_ok());
    }
}
