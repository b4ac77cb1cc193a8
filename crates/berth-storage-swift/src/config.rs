//! The driver's `storage.swift` parameters, with Distribution's names,
//! defaults and limits.

use std::fmt;

use berth_config::Parameters;
use berth_storage::{DriverParams, OpenError};

use crate::NAME;

/// Distribution's default segment size.
pub const DEFAULT_CHUNK_SIZE: u64 = 20 << 20;
/// Distribution's smallest accepted segment size.
pub const MIN_CHUNK_SIZE: u64 = 1 << 20;

/// Which identity service protocol `authurl` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthVersion {
    /// TempAuth / Swauth / IBM COS Swift: `GET authurl` with `X-Auth-User`/`X-Auth-Key`.
    V1,
    /// Keystone v2.0: `POST authurl/tokens`.
    V2,
    /// Keystone v3: `POST authurl/auth/tokens`.
    V3,
}

impl AuthVersion {
    /// The version number as written in `authversion`.
    pub fn number(self) -> u8 {
        match self {
            AuthVersion::V1 => 1,
            AuthVersion::V2 => 2,
            AuthVersion::V3 => 3,
        }
    }

    /// The version an auth URL names, as ncw/swift (Distribution's client)
    /// guesses it: `v3` anywhere in the URL, else `v2`, else `v1`.
    pub fn detect(auth_url: &str) -> Option<AuthVersion> {
        if auth_url.contains("v3") {
            Some(AuthVersion::V3)
        } else if auth_url.contains("v2") {
            Some(AuthVersion::V2)
        } else if auth_url.contains("v1") {
            Some(AuthVersion::V1)
        } else {
            None
        }
    }
}

/// Which of the catalog's endpoints to use (`endpointtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointType {
    /// `public` (the default).
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl EndpointType {
    /// The Keystone v3 interface name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Public => "public",
            EndpointType::Internal => "internal",
            EndpointType::Admin => "admin",
        }
    }
}

/// Everything `storage.swift` configures.
#[derive(Clone)]
pub struct SwiftConfig {
    /// `authurl`.
    pub auth_url: String,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `container`.
    pub container: String,
    /// `tenant` (Keystone project name).
    pub tenant: Option<String>,
    /// `tenantid`.
    pub tenant_id: Option<String>,
    /// `domain` (the user's domain name, v3).
    pub domain: Option<String>,
    /// `domainid`.
    pub domain_id: Option<String>,
    /// `tenantdomain` (the project's domain name, v3).
    pub tenant_domain: Option<String>,
    /// `tenantdomainid`.
    pub tenant_domain_id: Option<String>,
    /// `trustid` (v3 trust scope).
    pub trust_id: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `authversion`, or the one detected from `authurl`.
    pub auth_version: AuthVersion,
    /// `endpointtype`.
    pub endpoint_type: EndpointType,
    /// `insecureskipverify`.
    pub insecure_skip_verify: bool,
    /// `chunksize`: the size of a segment.
    pub chunk_size: usize,
    /// `prefix`, without leading or trailing slashes.
    pub prefix: String,
    /// `secretkey`: the Temp-URL-Key redirects are signed with.
    pub secret_key: Option<String>,
    /// `accesskey`: HP Cloud style `tenant:accesskey:signature` TempURLs.
    pub access_key: Option<String>,
    /// `tempurlcontainerkey`: the key lives on the container, not the
    /// account (used when the cluster's `/info` cannot tell).
    pub temp_url_container_key: bool,
    /// `tempurlmethods`: methods TempURLs allow (used when the cluster's
    /// `/info` cannot tell).
    pub temp_url_methods: Vec<String>,
}

impl fmt::Debug for SwiftConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwiftConfig")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("container", &self.container)
            .field("tenant", &self.tenant)
            .field("tenant_id", &self.tenant_id)
            .field("region", &self.region)
            .field("auth_version", &self.auth_version)
            .field("endpoint_type", &self.endpoint_type)
            .field("chunk_size", &self.chunk_size)
            .field("prefix", &self.prefix)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl SwiftConfig {
    /// Reads and validates the parameters; needs no network.
    pub fn parse(params: &Parameters) -> Result<SwiftConfig, OpenError> {
        let p = DriverParams::new(NAME, params);
        let auth_url = p.required(
            "authurl",
            "the identity endpoint, e.g. https://keystone.example.com/v3 or http://swift:8080/auth/v1.0",
        )?;
        match reqwest::Url::parse(&auth_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(OpenError::parameter(
                    NAME,
                    "authurl",
                    format!("{auth_url:?} is not an http:// or https:// URL"),
                ));
            }
        }
        let username = p.required(
            "username",
            "the Swift or Keystone user (TempAuth: account:user)",
        )?;
        let password = p.required("password", "the user's password or API key")?;
        let container = p.required("container", "the Swift container to store in")?;
        if container.contains('/') {
            return Err(OpenError::parameter(
                NAME,
                "container",
                format!("{container:?} contains a slash: a container name cannot"),
            ));
        }
        let auth_version = match p.u64("authversion")? {
            None | Some(0) => AuthVersion::detect(&auth_url).ok_or_else(|| {
                OpenError::parameter(
                    NAME,
                    "authversion",
                    format!(
                        "cannot tell the auth version from authurl {auth_url:?}: set it to 1 (TempAuth), 2 or 3 (Keystone)"
                    ),
                )
            })?,
            Some(1) => AuthVersion::V1,
            Some(2) => AuthVersion::V2,
            Some(3) => AuthVersion::V3,
            Some(v) => {
                return Err(OpenError::parameter(
                    NAME,
                    "authversion",
                    format!("{v} is not supported: use 1 (TempAuth), 2 or 3 (Keystone)"),
                ));
            }
        };
        let endpoint_type = match p.string("endpointtype").as_deref() {
            None | Some("public") => EndpointType::Public,
            Some("internal") => EndpointType::Internal,
            Some("admin") => EndpointType::Admin,
            Some(other) => {
                return Err(OpenError::parameter(
                    NAME,
                    "endpointtype",
                    format!("{other:?} is not an endpoint type: use public, internal or admin"),
                ));
            }
        };
        let chunk_size = p.u64_at_least("chunksize", MIN_CHUNK_SIZE, DEFAULT_CHUNK_SIZE)?;
        let chunk_size = usize::try_from(chunk_size).map_err(|_| {
            OpenError::parameter(NAME, "chunksize", format!("{chunk_size} is too large"))
        })?;
        Ok(SwiftConfig {
            auth_url,
            username,
            password,
            container,
            tenant: p.string("tenant"),
            tenant_id: p.string("tenantid"),
            domain: p.string("domain"),
            domain_id: p.string("domainid"),
            tenant_domain: p.string("tenantdomain"),
            tenant_domain_id: p.string("tenantdomainid"),
            trust_id: p.string("trustid"),
            region: p.string("region"),
            auth_version,
            endpoint_type,
            insecure_skip_verify: p.bool_or("insecureskipverify", false)?,
            chunk_size,
            prefix: p
                .string("prefix")
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            secret_key: p.string("secretkey"),
            access_key: p.string("accesskey"),
            temp_url_container_key: p.bool_or("tempurlcontainerkey", false)?,
            temp_url_methods: methods(params),
        })
    }
}

/// `tempurlmethods` as a YAML list or a comma/space separated string.
fn methods(params: &Parameters) -> Vec<String> {
    let words: Vec<String> = match params.get("tempurlmethods") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    words.into_iter().map(|w| w.to_ascii_uppercase()).collect()
}

/// A one-line description for people, from whatever parameters are set.
pub fn describe(params: &Parameters) -> String {
    let p = DriverParams::new(NAME, params);
    let container = p.string("container").unwrap_or_else(|| "?".into());
    let url = p.string("authurl").unwrap_or_else(|| "?".into());
    let version = match p.u64("authversion") {
        Ok(Some(v)) if v > 0 => format!("auth v{v}"),
        _ => match AuthVersion::detect(&url) {
            Some(v) => format!("auth v{}", v.number()),
            None => "auth version unknown".into(),
        },
    };
    let mut out = format!("swift container {container} at {url} ({version})");
    if let Some(region) = p.string("region") {
        out.push_str(&format!(", region {region}"));
    }
    let prefix = p.string("prefix").unwrap_or_default();
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() {
        out.push_str(&format!(", prefix /{prefix}"));
    }
    out
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

    fn minimal(extra: &[(&str, serde_json::Value)]) -> Parameters {
        let mut all = vec![
            ("authurl", json!("http://127.0.0.1:8080/auth/v1.0")),
            ("username", json!("test:tester")),
            ("password", json!("testing")),
            ("container", json!("registry")),
        ];
        all.extend_from_slice(extra);
        params(&all)
    }

    #[test]
    fn defaults_follow_distribution() {
        let c = SwiftConfig::parse(&minimal(&[])).unwrap();
        assert_eq!(c.chunk_size as u64, DEFAULT_CHUNK_SIZE);
        assert_eq!(c.auth_version, AuthVersion::V1);
        assert_eq!(c.endpoint_type, EndpointType::Public);
        assert_eq!(c.prefix, "");
        assert!(!c.insecure_skip_verify);
        assert!(c.secret_key.is_none());
        assert!(!format!("{c:?}").contains("testing"), "password redacted");
    }

    #[test]
    fn missing_required_settings_are_named() {
        for key in ["authurl", "username", "password", "container"] {
            let mut p = minimal(&[]);
            p.remove(key);
            let e = SwiftConfig::parse(&p).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("storage.swift.{key}: missing")),
                "{e}"
            );
        }
    }

    #[test]
    fn auth_version_is_detected_or_explicit() {
        let v = |url: &str, version: Option<u64>| {
            let mut extra = vec![("authurl", json!(url))];
            if let Some(n) = version {
                extra.push(("authversion", json!(n)));
            }
            SwiftConfig::parse(&minimal(&extra)).map(|c| c.auth_version)
        };
        assert_eq!(v("https://ks/v3", None).unwrap(), AuthVersion::V3);
        assert_eq!(v("https://ks/v2.0", None).unwrap(), AuthVersion::V2);
        assert_eq!(v("https://cos/auth/v1.0", None).unwrap(), AuthVersion::V1);
        assert_eq!(v("https://ks/identity", Some(3)).unwrap(), AuthVersion::V3);
        assert_eq!(v("https://ks/v3", Some(0)).unwrap(), AuthVersion::V3);
        let e = v("https://ks/identity", None).unwrap_err().to_string();
        assert!(e.contains("storage.swift.authversion"), "{e}");
        let e = v("https://ks/v3", Some(4)).unwrap_err().to_string();
        assert!(e.contains("use 1 (TempAuth), 2 or 3"), "{e}");
    }

    #[test]
    fn typed_settings() {
        let c = SwiftConfig::parse(&minimal(&[
            ("chunksize", json!(5 << 20)),
            ("prefix", json!("/a/b/")),
            ("endpointtype", json!("internal")),
            ("insecureskipverify", json!("true")),
            ("tempurlmethods", json!(["get", "HEAD"])),
            ("secretkey", json!("s3cret")),
        ]))
        .unwrap();
        assert_eq!(c.chunk_size, 5 << 20);
        assert_eq!(c.prefix, "a/b");
        assert_eq!(c.endpoint_type, EndpointType::Internal);
        assert!(c.insecure_skip_verify);
        assert_eq!(c.temp_url_methods, ["GET", "HEAD"]);
        assert_eq!(c.secret_key.as_deref(), Some("s3cret"));

        let e = SwiftConfig::parse(&minimal(&[("chunksize", json!(1000))]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("storage.swift.chunksize") && e.contains("1048576"),
            "{e}"
        );
        let e = SwiftConfig::parse(&minimal(&[("endpointtype", json!("private"))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("public, internal or admin"), "{e}");
        let e = SwiftConfig::parse(&minimal(&[("authurl", json!("ftp://x/v1"))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.swift.authurl"), "{e}");
    }

    #[test]
    fn describe_for_people() {
        let p = minimal(&[("prefix", json!("reg")), ("region", json!("RegionOne"))]);
        assert_eq!(
            describe(&p),
            "swift container registry at http://127.0.0.1:8080/auth/v1.0 (auth v1), region RegionOne, prefix /reg"
        );
    }
}
