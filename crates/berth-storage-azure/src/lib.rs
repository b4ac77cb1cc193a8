//! The `azure` storage driver: Azure Blob Storage.

use berth_config::Parameters;
use berth_storage::OpenError;

/// The `azure` driver.
#[derive(Debug)]
pub struct AzureDriver {}

impl AzureDriver {
    /// Opens the driver from its `storage.azure` parameters.
    pub async fn open(_params: &Parameters) -> Result<AzureDriver, OpenError> {
        Err(OpenError::Unavailable {
            name: "azure".into(),
            available: "filesystem, inmemory".into(),
            hint: "this driver is being built",
        })
    }
}
