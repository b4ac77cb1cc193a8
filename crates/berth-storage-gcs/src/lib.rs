//! The `gcs` storage driver: Google Cloud Storage.

use berth_config::Parameters;
use berth_storage::OpenError;

/// The `gcs` driver.
#[derive(Debug)]
pub struct GcsDriver {}

impl GcsDriver {
    /// Opens the driver from its `storage.gcs` parameters.
    pub async fn open(_params: &Parameters) -> Result<GcsDriver, OpenError> {
        Err(OpenError::Unavailable {
            name: "gcs".into(),
            available: "filesystem, inmemory".into(),
            hint: "this driver is being built",
        })
    }
}
