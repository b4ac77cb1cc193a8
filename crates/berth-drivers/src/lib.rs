//! Every storage driver this build has, opened from the `storage` section of
//! a `config.yml`: Distribution's driver factory.
//!
//! `berth-storage` defines the [`StorageDriver`] trait and the local drivers;
//! each cloud driver lives in its own crate (`berth-storage-s3`, `-azure`,
//! `-swift`, `-gcs`); this crate picks the one a config names.

use std::path::PathBuf;
use std::sync::Arc;

use berth_config::DriverConfig;
use berth_storage::filesystem::FilesystemDriver;
use berth_storage::inmemory::InMemoryDriver;
use berth_storage::open::DEFAULT_ROOT;
use berth_storage::{OpenError, StorageDriver};

pub use berth_storage::probe::{ProbeReport, ProbeStep, StepStatus, probe};
/// The minimal IAM policy for a bucket (`berthd iam-policy`).
pub use berth_storage_s3::iam;

/// Drivers this build can serve from.
pub const AVAILABLE: [&str; 6] = ["filesystem", "inmemory", "s3", "azure", "swift", "gcs"];

/// Opens the driver `config` names with its parameters.
pub async fn open(config: &DriverConfig) -> Result<Arc<dyn StorageDriver>, OpenError> {
    let params = &config.parameters;
    match config.name.as_str() {
        "filesystem" => {
            let root = params
                .string("rootdirectory")
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| DEFAULT_ROOT.to_string());
            let root = PathBuf::from(root);
            let driver = FilesystemDriver::new(&root).map_err(|source| OpenError::Io {
                driver: config.name.clone(),
                location: root.display().to_string(),
                source,
            })?;
            Ok(Arc::new(driver))
        }
        "inmemory" => Ok(Arc::new(InMemoryDriver::new())),
        "s3" => Ok(Arc::new(berth_storage_s3::S3Driver::open(params).await?)),
        "azure" => Ok(Arc::new(
            berth_storage_azure::AzureDriver::open(params).await?,
        )),
        "swift" => Ok(Arc::new(
            berth_storage_swift::SwiftDriver::open(params).await?,
        )),
        "gcs" => Ok(Arc::new(berth_storage_gcs::GcsDriver::open(params).await?)),
        other => Err(unavailable(other)),
    }
}

fn unavailable(name: &str) -> OpenError {
    let hint = match name {
        "oss" | "rados" => {
            "this driver was removed from CNCF Distribution too; move the data to a supported backend"
        }
        _ => "third-party drivers cannot be loaded; choose a built-in driver",
    };
    OpenError::Unavailable {
        name: name.to_string(),
        available: AVAILABLE.join(", "),
        hint,
    }
}

/// Where the store is, for people: the root directory, or the driver's name.
pub fn describe(config: &DriverConfig) -> String {
    match config.name.as_str() {
        "filesystem" => format!(
            "filesystem storage at {}",
            config
                .parameters
                .string("rootdirectory")
                .unwrap_or_else(|| DEFAULT_ROOT.to_string())
        ),
        "inmemory" => "in-memory storage (lost when berthd stops)".to_string(),
        "s3" => berth_storage_s3::describe(&config.parameters),
        "azure" => berth_storage_azure::describe(&config.parameters),
        "swift" => berth_storage_swift::describe(&config.parameters),
        "gcs" => berth_storage_gcs::describe(&config.parameters),
        other => format!("{other} storage"),
    }
}

/// Checks that this build has the driver `name`, without opening it.
pub fn check_available(name: &str) -> Result<(), OpenError> {
    if AVAILABLE.contains(&name) {
        Ok(())
    } else {
        Err(unavailable(name))
    }
}
