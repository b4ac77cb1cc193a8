//! The `azure` storage driver: Azure Blob Storage, Azure Stack Hub and the
//! Azurite emulator, with CNCF Distribution's parameters and blob layout.
//!
//! # Parameters (`storage.azure`)
//!
//! | name | meaning |
//! |---|---|
//! | `accountname` | the storage account (required) |
//! | `accountkey` | its access key: shared-key signing (the default when given) |
//! | `container` | the blob container (required; must exist) |
//! | `realm` | the cloud's domain suffix, default `core.windows.net`; the service URL is `https://ACCOUNT.blob.REALM` (e.g. `core.chinacloudapi.cn`) |
//! | `serviceurl` | the full service URL instead (Distribution v3): Azurite `http://127.0.0.1:10000/devstoreaccount1`, Azure Stack |
//! | `rootdirectory` | a prefix for every blob name (`/a/b` + `/x` → blob `a/b/x`) |
//! | `credentials` | Distribution v3's map: `type: shared_key \| client_secret \| default_credentials`, with `clientid`, `tenantid`, `secret` for `client_secret`. Without `accountkey`, any type but `client_secret` means the default Azure credential chain, as in Distribution |
//! | `connectionstring` | an Azure connection string; fills in the account, key and blob endpoint when those are not set |
//! | `copy_status_poll_max_retry`, `copy_status_poll_delay` | how long a move waits for a server-side copy (default 5 checks, from 100ms, doubling) |
//!
//! # How it stores
//!
//! Paths map to blob names exactly as Distribution's azure driver maps them,
//! so a container written by Distribution is served as it is and back.
//! `put_content` is a single Put Blob (atomic). Writers stage 4 MiB blocks
//! (Put Block) and `commit` commits the block list, so nothing is visible
//! before it; appending (a chunked upload resumed, possibly by another
//! process) commits the blob's committed block IDs followed by the new ones.
//! Block IDs have one fixed width; a blob whose blocks have other IDs (or
//! none: a single Put Blob) is first copied into new blocks, server-side
//! with Put Block From URL when the service supports it, else through the
//! driver one block at a time. `move_object` is a server-side Copy Blob
//! (waiting until the copy succeeds) then a delete of the source. Reads
//! stream with ranged Get Blob requests. `redirect_url` is a read-only
//! service SAS valid 20 minutes (a user delegation SAS with Entra ID
//! credentials, as Distribution makes).
//!
//! Requests time out (connect 10 s, silence 60 s) and are tried at most 3
//! times with exponential backoff.
//!
//! # Why this client
//!
//! The driver uses the `azure_storage_blobs` 0.21 SDK (with `azure_core`,
//! `azure_storage`, `azure_identity`, on reqwest with rustls): it signs
//! with shared keys, makes service and user delegation SAS URLs, talks to
//! Azurite, and gets Entra ID tokens. Those crates are the Azure SDK's
//! legacy line and receive no new releases. Microsoft's newer
//! `azure_storage_blob` (1.x) accepts only Entra ID tokens out of the box;
//! moving to it would take a shared-key signing policy of our own (the
//! canonical string-to-sign for requests and SAS) and replacing the calls in
//! `driver.rs`, `writer.rs`, `sas.rs` and `client.rs`; the rest of the crate
//! (parameters, key mapping, error messages, block IDs) stays.
//!
//! # Limits
//!
//! - A blob has at most 50,000 committed blocks: an upload of more than
//!   about 195 GiB in 4 MiB blocks, or one with tens of thousands of tiny
//!   chunks, fails at commit.
//! - Appending to an append or page blob (an upload left half-done by a
//!   Distribution older than 2.8) is refused with a message to restart the
//!   upload; `put_content` replaces such blobs.
//! - `cancel` deletes the object, as Distribution's driver does; blocks it
//!   staged are never visible and Azure discards them.
//! - Client-certificate and other credential types are not supported.

mod blocks;
mod client;
mod config;
mod driver;
mod errors;
mod keys;
mod sas;
mod writer;

use std::sync::Arc;

use berth_config::Parameters;
use berth_storage::OpenError;

pub use config::CREDENTIAL_TYPES;
pub use driver::AzureDriver;

impl AzureDriver {
    /// Opens the driver from its `storage.azure` parameters: checks them,
    /// builds the client and, as Distribution does, creates the container
    /// when it does not exist yet. A failure to create it is not fatal here
    /// (the account may be unreachable right now, or the credentials may
    /// lack the right): the operations then report it.
    pub async fn open(params: &Parameters) -> Result<AzureDriver, OpenError> {
        let settings = config::Settings::parse(params)?;
        let driver = AzureDriver {
            inner: Arc::new(driver::Inner::new(settings)?),
        };
        let create = driver.inner.clients.container.create().into_future();
        match tokio::time::timeout(std::time::Duration::from_secs(15), create).await {
            Ok(Ok(_)) => tracing::info!("created the azure container"),
            Ok(Err(e)) => tracing::debug!("azure container not created: {e}"),
            Err(_) => tracing::debug!("azure container creation timed out"),
        }
        Ok(driver)
    }

    /// The blob service URL the driver talks to.
    pub fn service_url(&self) -> &str {
        self.inner.at.service_url()
    }
}

/// A one-line description of `storage.azure` parameters for people
/// ("azure container C in account A at URL, root /x, shared_key credentials").
pub fn describe(params: &Parameters) -> String {
    match config::Settings::parse(params) {
        Ok(settings) => settings.describe(),
        Err(e) => format!("azure (invalid settings: {e})"),
    }
}
