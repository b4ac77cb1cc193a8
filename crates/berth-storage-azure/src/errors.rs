//! Azure's errors turned into [`StorageError`]s whose messages say what is
//! wrong and which setting fixes it.

use azure_core::StatusCode;
use azure_core::error::ErrorKind;
use berth_storage::StorageError;

use crate::config::{Credentials, DRIVER, Settings};

/// What the error messages need to know about the store.
#[derive(Clone, Debug)]
pub struct Where {
    service_url: String,
    account: String,
    container: String,
    credentials: &'static str,
}

impl Where {
    /// From the driver's settings.
    pub fn new(settings: &Settings) -> Where {
        Where {
            service_url: settings.service_url.clone(),
            account: settings.account.clone(),
            container: settings.container.clone(),
            credentials: match settings.credentials {
                Credentials::SharedKey { .. } => "check storage.azure.accountname/accountkey",
                Credentials::ClientSecret { .. } => {
                    "check storage.azure.credentials (tenantid, clientid, secret) and that the application may use this account"
                }
                Credentials::Default => {
                    "check the Azure identity this process runs as (AZURE_* variables, managed identity, az login), or set storage.azure.accountkey"
                }
            },
        }
    }

    /// The service URL, for messages.
    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    /// A [`StorageError`] for a failed `operation` on `path`.
    pub fn storage(
        &self,
        operation: &'static str,
        path: &str,
        err: azure_core::Error,
    ) -> StorageError {
        if is_not_found(&err) {
            return StorageError::NotFound {
                driver: DRIVER,
                path: path.to_string(),
            };
        }
        self.backend(operation, path, self.message(&err))
    }

    /// A [`StorageError::Backend`] with a message of ours.
    pub fn backend(&self, operation: &'static str, path: &str, message: String) -> StorageError {
        StorageError::Backend {
            driver: DRIVER,
            operation,
            path: path.to_string(),
            source: message.into(),
        }
    }

    /// An [`std::io::Error`] for errors met while streaming a read.
    pub fn io(&self, err: azure_core::Error) -> std::io::Error {
        std::io::Error::other(self.message(&err))
    }

    /// The clear message for an Azure error.
    pub fn message(&self, err: &azure_core::Error) -> String {
        let chain = chain(err);
        match err.kind() {
            ErrorKind::HttpResponse { status, error_code } => {
                self.http_message(*status, error_code.as_deref(), &http_detail(err, &chain))
            }
            ErrorKind::Io => self.network_message(err, &chain),
            ErrorKind::Credential => format!(
                "could not get a token to talk to {}: {chain}: {}",
                self.service_url, self.credentials
            ),
            _ => format!("azure storage at {}: {chain}", self.service_url),
        }
    }

    fn http_message(&self, status: StatusCode, code: Option<&str>, detail: &str) -> String {
        let code = code.unwrap_or("");
        match (u16::from(status), code) {
            (_, "ContainerNotFound") => format!(
                "container {} does not exist in account {}: create it or fix storage.azure.container",
                self.container, self.account
            ),
            (_, "AuthenticationFailed") | (401, _) => format!(
                "the storage account rejected the credentials: {} ({detail})",
                self.credentials
            ),
            // Azurite says AuthorizationFailure for a bad signature.
            (403, _) if detail.contains("failed to authenticate") => format!(
                "the storage account rejected the credentials: {} ({detail})",
                self.credentials
            ),
            (403, "AuthorizationPermissionMismatch") => format!(
                "the storage account refused the operation: give the identity the Storage Blob Data Contributor role on container {} ({detail})",
                self.container
            ),
            // Without a body (HEAD requests) a bad signature and a firewall
            // rule look the same.
            (403, _) => format!(
                "the storage account rejected the credentials or the request: {}, and the account's firewall and network rules ({detail})",
                self.credentials
            ),
            (_, "AccountIsDisabled" | "AccountBeingCreated") => format!(
                "storage account {} is not usable right now ({detail})",
                self.account
            ),
            (500..=599, _) => format!(
                "the storage service at {} failed after retries: {detail}; try again later",
                self.service_url
            ),
            _ => format!("azure storage at {}: {detail}", self.service_url),
        }
    }

    fn network_message(&self, err: &azure_core::Error, chain: &str) -> String {
        let url = &self.service_url;
        let lower = chain.to_ascii_lowercase();
        let reqwest = reqwest_error(err);
        if reqwest.is_some_and(|e| e.is_timeout()) || lower.contains("timed out") {
            format!(
                "timed out talking to {url}: the service is slow or unreachable; check storage.azure.serviceurl/realm and the network ({chain})"
            )
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            format!(
                "cannot resolve the host of {url}: check storage.azure.accountname, realm and serviceurl ({chain})"
            )
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            format!(
                "the TLS connection to {url} failed: the server's certificate is not trusted or TLS is not spoken there; for Azure Stack or a TLS proxy install its CA in the system trust store, for a plain-HTTP emulator write http:// in storage.azure.serviceurl ({chain})"
            )
        } else if reqwest.is_some_and(|e| e.is_connect()) || lower.contains("connection refused") {
            format!(
                "cannot connect to {url}: check storage.azure.serviceurl/realm and that the service is running and reachable ({chain})"
            )
        } else {
            format!("network error talking to {url}: {chain}")
        }
    }
}

/// True when Azure said the blob is not there (but not when the container
/// is missing: that is a configuration error).
pub fn is_not_found(err: &azure_core::Error) -> bool {
    match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            *status == StatusCode::NotFound
                && !matches!(error_code.as_deref(), Some("ContainerNotFound"))
        }
        _ => false,
    }
}

/// The Azure error code of an HTTP error response.
pub fn error_code(err: &azure_core::Error) -> Option<&str> {
    match err.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

/// The HTTP status of an error response.
pub fn status(err: &azure_core::Error) -> Option<u16> {
    match err.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

fn reqwest_error(err: &azure_core::Error) -> Option<&reqwest::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            return Some(r);
        }
        current = e.source();
    }
    None
}

/// `STATUS CODE: first line of the service's message` for an HTTP error.
fn http_detail(err: &azure_core::Error, chain: &str) -> String {
    let Some(http) = err.as_http_error() else {
        return chain.to_string();
    };
    let message = http
        .error_message()
        .and_then(|m| m.lines().next())
        .unwrap_or_default();
    format!(
        "{} {}: {message}",
        u16::from(http.status()),
        http.error_code().unwrap_or_default()
    )
}

/// Every message in the error's chain, without repeats, joined with ": ".
fn chain(err: &azure_core::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
