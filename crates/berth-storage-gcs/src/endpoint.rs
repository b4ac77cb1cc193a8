//! Where the driver sends its requests: Google's JSON API, or an emulator
//! named by `STORAGE_EMULATOR_HOST` as Google's own client libraries do.

use std::fmt;

/// The environment variable Google's client libraries read to talk to an
/// emulator instead of Google (`host:port` or a URL).
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";

/// Google's JSON API base URL.
const GOOGLE: &str = "https://storage.googleapis.com";

/// The base URL of the JSON API and whether it is an emulator (an emulator
/// needs no authentication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
    emulator: bool,
}

impl Endpoint {
    /// Google Cloud Storage itself.
    pub fn google() -> Endpoint {
        Endpoint {
            base: GOOGLE.to_string(),
            emulator: false,
        }
    }

    /// An emulator at `host` (`127.0.0.1:9023` or `http://127.0.0.1:9023`),
    /// reached without authentication.
    pub fn emulator(host: &str) -> Endpoint {
        let host = host.trim().trim_end_matches('/');
        let base = if host.contains("://") {
            host.to_string()
        } else {
            format!("http://{host}")
        };
        Endpoint {
            base,
            emulator: true,
        }
    }

    /// Another authenticated endpoint speaking the JSON API at `base` (a
    /// private endpoint, or a test server that checks bearer tokens).
    pub fn custom(base: &str) -> Endpoint {
        Endpoint {
            base: base.trim().trim_end_matches('/').to_string(),
            emulator: false,
        }
    }

    /// The emulator named by `STORAGE_EMULATOR_HOST` when it is set and not
    /// empty, else Google.
    pub fn from_env() -> Endpoint {
        match std::env::var(EMULATOR_ENV) {
            Ok(host) if !host.trim().is_empty() => Endpoint::emulator(&host),
            _ => Endpoint::google(),
        }
    }

    /// The base URL, without a trailing slash (`https://storage.googleapis.com`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// True for an emulator.
    pub fn is_emulator(&self) -> bool {
        self.emulator
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.emulator {
            write!(f, "the emulator at {}", self.base)
        } else {
            f.write_str(&self.base)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_hosts_get_a_scheme() {
        assert_eq!(
            Endpoint::emulator("127.0.0.1:9023").base(),
            "http://127.0.0.1:9023"
        );
        assert_eq!(
            Endpoint::emulator("https://gcs.local:443/").base(),
            "https://gcs.local:443"
        );
        assert!(Endpoint::emulator("x:1").is_emulator());
        assert!(!Endpoint::google().is_emulator());
        assert_eq!(
            Endpoint::emulator("x:1").to_string(),
            "the emulator at http://x:1"
        );
    }
}
