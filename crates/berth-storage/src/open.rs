//! Opening the driver a `config.yml` names.

use std::path::PathBuf;
use std::sync::Arc;

use berth_config::DriverConfig;

use crate::StorageDriver;
use crate::filesystem::FilesystemDriver;
use crate::inmemory::InMemoryDriver;

/// Where Distribution's filesystem driver stores when `rootdirectory` is unset.
pub const DEFAULT_ROOT: &str = "/var/lib/registry";

/// Drivers this build can serve from.
pub const AVAILABLE: [&str; 2] = ["filesystem", "inmemory"];

/// Why a driver could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A driver Distribution knows (or a third party's) that this build lacks.
    #[error(
        "storage driver {name:?} is not available in this build of Berth (available: {}); \
         {hint}",
        AVAILABLE.join(", ")
    )]
    Unavailable {
        /// The driver's name.
        name: String,
        /// What the admin can do.
        hint: &'static str,
    },
    /// A parameter has a value the driver cannot use.
    #[error("storage.{driver}.{parameter}: {message}")]
    Parameter {
        /// The driver.
        driver: String,
        /// The parameter.
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The store could not be opened.
    #[error("cannot open {driver} storage at {location}: {source}")]
    Io {
        /// The driver.
        driver: String,
        /// Where.
        location: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Opens the driver `config` names with its parameters.
pub fn open(config: &DriverConfig) -> Result<Arc<dyn StorageDriver>, OpenError> {
    match config.name.as_str() {
        "filesystem" => {
            let root = config
                .parameters
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
        "s3" | "azure" | "gcs" | "swift" => Err(OpenError::Unavailable {
            name: config.name.clone(),
            hint: "cloud drivers are being added; serve from filesystem for now",
        }),
        "oss" | "rados" => Err(OpenError::Unavailable {
            name: config.name.clone(),
            hint: "this driver was removed from CNCF Distribution too; move the data to a supported backend",
        }),
        _ => Err(OpenError::Unavailable {
            name: config.name.clone(),
            hint: "third-party drivers cannot be loaded; choose a built-in driver",
        }),
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
        other => format!("{other} storage"),
    }
}

/// Checks that this build has the driver `name`, without opening it.
pub fn check_available(name: &str) -> Result<(), OpenError> {
    if AVAILABLE.contains(&name) {
        return Ok(());
    }
    open(&DriverConfig::new(name)).map(drop)
}
