//! The `swift` storage driver: OpenStack Swift.

use berth_config::Parameters;
use berth_storage::OpenError;

/// The `swift` driver.
#[derive(Debug)]
pub struct SwiftDriver {}

impl SwiftDriver {
    /// Opens the driver from its `storage.swift` parameters.
    pub async fn open(_params: &Parameters) -> Result<SwiftDriver, OpenError> {
        Err(OpenError::Unavailable {
            name: "swift".into(),
            available: "filesystem, inmemory".into(),
            hint: "this driver is being built",
        })
    }
}
