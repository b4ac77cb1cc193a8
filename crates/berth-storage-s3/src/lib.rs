//! The `s3` storage driver: Amazon S3 and S3-compatible stores (Ceph RGW, MinIO, IBM COS).

use berth_config::Parameters;
use berth_storage::OpenError;

/// The `s3` driver.
#[derive(Debug)]
pub struct S3Driver {}

impl S3Driver {
    /// Opens the driver from its `storage.s3` parameters.
    pub async fn open(_params: &Parameters) -> Result<S3Driver, OpenError> {
        Err(OpenError::Unavailable {
            name: "s3".into(),
            available: "filesystem, inmemory".into(),
            hint: "this driver is being built",
        })
    }
}
