//! What opening a driver from its `config.yml` parameters can go wrong with,
//! and typed parameter lookups every driver shares. Choosing the driver a
//! config names is `berth-drivers`' job; each driver crate has an
//! `open(&Parameters)` of its own.

use berth_config::{ParamError, Parameters};

/// Where Distribution's filesystem driver stores when `rootdirectory` is unset.
pub const DEFAULT_ROOT: &str = "/var/lib/registry";

/// Why a driver could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A driver Distribution knows (or a third party's) that this build lacks.
    #[error(
        "storage driver {name:?} is not available in this build of Berth (available: {available}); {hint}"
    )]
    Unavailable {
        /// The driver's name.
        name: String,
        /// The drivers this build has, comma-separated.
        available: String,
        /// What the admin can do.
        hint: &'static str,
    },
    /// A parameter is missing or has a value the driver cannot use.
    #[error("storage.{driver}.{parameter}: {message}")]
    Parameter {
        /// The driver.
        driver: String,
        /// The parameter.
        parameter: String,
        /// What is wrong with it and what to write instead.
        message: String,
    },
    /// The store could not be opened (a local directory, a credentials file,
    /// a client that could not be built).
    #[error("cannot open {driver} storage at {location}: {source}")]
    Io {
        /// The driver.
        driver: String,
        /// Where.
        location: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl OpenError {
    /// A [`OpenError::Parameter`] for `driver`'s `parameter`.
    pub fn parameter(driver: &str, parameter: &str, message: impl Into<String>) -> OpenError {
        OpenError::Parameter {
            driver: driver.to_string(),
            parameter: parameter.to_string(),
            message: message.into(),
        }
    }
}

/// A driver's parameters with errors that name the driver: what every
/// driver's `open` reads its settings through.
#[derive(Clone, Copy, Debug)]
pub struct DriverParams<'a> {
    driver: &'static str,
    params: &'a Parameters,
}

impl<'a> DriverParams<'a> {
    /// `params` of the driver named `driver`.
    pub fn new(driver: &'static str, params: &'a Parameters) -> DriverParams<'a> {
        DriverParams { driver, params }
    }

    /// The raw parameters.
    pub fn raw(&self) -> &'a Parameters {
        self.params
    }

    /// A non-empty string, or `None` when missing, null or empty.
    pub fn string(&self, key: &str) -> Option<String> {
        self.params.string(key).filter(|s| !s.is_empty())
    }

    /// A required non-empty string; the error says what the setting is for.
    pub fn required(&self, key: &str, what: &str) -> Result<String, OpenError> {
        self.string(key).ok_or_else(|| {
            OpenError::parameter(self.driver, key, format!("missing: set it to {what}"))
        })
    }

    /// A boolean, or `default` when unset.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, OpenError> {
        self.params
            .bool(key)
            .map(|v| v.unwrap_or(default))
            .map_err(|e| self.invalid(e))
    }

    /// A whole number, or `None` when unset.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, OpenError> {
        self.params.u64(key).map_err(|e| self.invalid(e))
    }

    /// A whole number of at least `min`, or `default` when unset.
    pub fn u64_at_least(&self, key: &str, min: u64, default: u64) -> Result<u64, OpenError> {
        match self.u64(key)? {
            None => Ok(default),
            Some(v) if v >= min => Ok(v),
            Some(v) => Err(OpenError::parameter(
                self.driver,
                key,
                format!("{v} is too small: use at least {min}"),
            )),
        }
    }

    /// A root directory as a normalized prefix: `""` for the bucket's root,
    /// else `/a/b` with no trailing slash.
    pub fn root_directory(&self, key: &str) -> String {
        let raw = self.string(key).unwrap_or_default();
        let trimmed = raw.trim_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        }
    }

    fn invalid(&self, e: ParamError) -> OpenError {
        OpenError::parameter(self.driver, &e.key, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, serde_json::Value)]) -> Parameters {
        let mut p = Parameters::new();
        for (k, v) in pairs {
            p.insert(*k, v.clone());
        }
        p
    }

    #[test]
    fn required_and_typed_lookups_name_the_driver() {
        let p = params(&[
            ("bucket", json!("")),
            ("secure", json!("maybe")),
            ("chunksize", json!(1024)),
            ("rootdirectory", json!("/a/b/")),
        ]);
        let d = DriverParams::new("s3", &p);
        let e = d.required("bucket", "the bucket's name").unwrap_err();
        assert_eq!(
            e.to_string(),
            "storage.s3.bucket: missing: set it to the bucket's name"
        );
        assert!(
            d.bool_or("secure", true)
                .unwrap_err()
                .to_string()
                .contains("storage.s3.secure")
        );
        assert!(d.bool_or("v4auth", true).unwrap());
        let e = d.u64_at_least("chunksize", 5 << 20, 10 << 20).unwrap_err();
        assert!(e.to_string().contains("use at least 5242880"), "{e}");
        assert_eq!(d.root_directory("rootdirectory"), "/a/b");
        assert_eq!(d.root_directory("missing"), "");
    }
}
