//! The `storage.azure` parameters, read with Distribution's names, and the
//! service URL they lead to.

use std::time::Duration;

use berth_config::Parameters;
use berth_storage::{DriverParams, OpenError};
use serde_json::Value;

/// The driver's name in `config.yml`.
pub const DRIVER: &str = "azure";

/// Distribution's default realm: the public Azure cloud.
pub const DEFAULT_REALM: &str = "core.windows.net";

/// The credential types `storage.azure.credentials.type` accepts.
pub const CREDENTIAL_TYPES: &str = "shared_key, client_secret, default_credentials";

/// How the driver signs its requests.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The storage account's shared key (`accountkey`).
    SharedKey {
        /// The base64 account key.
        key: String,
    },
    /// A Microsoft Entra ID application (service principal) with a secret.
    ClientSecret {
        /// The directory (tenant) ID.
        tenant_id: String,
        /// The application (client) ID.
        client_id: String,
        /// The client secret.
        secret: String,
    },
    /// The default Azure credential chain: environment variables, workload
    /// identity, managed identity, Azure CLI.
    Default,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str(self.kind())
    }
}

impl Credentials {
    /// The `credentials.type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::SharedKey { .. } => "shared_key",
            Credentials::ClientSecret { .. } => "client_secret",
            Credentials::Default => "default_credentials",
        }
    }
}

/// Everything `storage.azure` says, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The storage account.
    pub account: String,
    /// The container blobs live in.
    pub container: String,
    /// The blob service URL, without a trailing slash
    /// (`https://ACCOUNT.blob.REALM`, or `serviceurl`).
    pub service_url: String,
    /// The realm (cloud suffix), used for the Entra ID authority.
    pub realm: String,
    /// `rootdirectory` as `/a/b`, or `""`.
    pub root: String,
    /// How requests are signed.
    pub credentials: Credentials,
    /// How many times to check a server-side copy before giving up.
    pub copy_poll_max_retry: u32,
    /// The first delay between copy checks (grows linearly).
    pub copy_poll_delay: Duration,
}

impl Settings {
    /// Reads and checks `storage.azure` parameters. Needs no network.
    pub fn parse(params: &Parameters) -> Result<Settings, OpenError> {
        let p = DriverParams::new(DRIVER, params);
        let connection = match p.string("connectionstring") {
            Some(text) => ConnectionString::parse(&text)?,
            None => ConnectionString::default(),
        };
        let account = match p.string("accountname").or(connection.account) {
            Some(a) => a,
            None => p.required(
                "accountname",
                "the storage account's name (the ACCOUNT in https://ACCOUNT.blob.core.windows.net)",
            )?,
        };
        check_account(&account)?;
        let container = p.required("container", "the name of the blob container to store in")?;
        check_container(&container)?;
        let realm = p
            .string("realm")
            .unwrap_or_else(|| DEFAULT_REALM.to_string());
        let service_url = match p.string("serviceurl").or(connection.blob_endpoint) {
            Some(url) => checked_service_url(&url)?,
            None => realm_service_url(&account, &realm)?,
        };
        let key = p.string("accountkey").or(connection.account_key);
        let credentials = credentials(params, key)?;
        let copy_poll_max_retry = p
            .u64("copy_status_poll_max_retry")?
            .filter(|n| *n > 0)
            .unwrap_or(5)
            .min(1000) as u32;
        let copy_poll_delay = match p.string("copy_status_poll_delay") {
            None => Duration::from_millis(100),
            Some(text) => berth_config::parse_go_duration(&text).map_err(|e| {
                OpenError::parameter(
                    DRIVER,
                    "copy_status_poll_delay",
                    format!("{e}: write a duration such as 100ms"),
                )
            })?,
        };
        Ok(Settings {
            account,
            container,
            service_url,
            realm,
            root: p.root_directory("rootdirectory"),
            credentials,
            copy_poll_max_retry,
            copy_poll_delay,
        })
    }

    /// A one-line description for people.
    pub fn describe(&self) -> String {
        let root = if self.root.is_empty() {
            "/"
        } else {
            &self.root
        };
        format!(
            "azure container {} in account {} at {}, root {root}, {} credentials",
            self.container,
            self.account,
            self.service_url,
            self.credentials.kind()
        )
    }
}

/// `https://ACCOUNT.blob.REALM`, as Distribution builds it.
pub fn realm_service_url(account: &str, realm: &str) -> Result<String, OpenError> {
    let realm = realm.trim().trim_matches('.');
    if realm.is_empty() || realm.contains(['/', ':', ' ']) {
        return Err(OpenError::parameter(
            DRIVER,
            "realm",
            format!(
                "{realm:?} is not a domain suffix: write one such as {DEFAULT_REALM} or core.chinacloudapi.cn, or set serviceurl for a full URL"
            ),
        ));
    }
    Ok(format!("https://{account}.blob.{realm}"))
}

/// A `serviceurl` checked for a scheme and host, without a trailing slash.
pub fn checked_service_url(raw: &str) -> Result<String, OpenError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|e| {
        OpenError::parameter(
            DRIVER,
            "serviceurl",
            format!(
                "{raw:?} is not a URL ({e}): write one such as https://ACCOUNT.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1"
            ),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(OpenError::parameter(
            DRIVER,
            "serviceurl",
            format!("{raw:?} must be an http:// or https:// URL with a host"),
        ));
    }
    if parsed.query().is_some() {
        return Err(OpenError::parameter(
            DRIVER,
            "serviceurl",
            "must not carry a query (a SAS token): give the account key or credentials instead",
        ));
    }
    Ok(trimmed.to_string())
}

fn check_account(account: &str) -> Result<(), OpenError> {
    if account
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(OpenError::parameter(
            DRIVER,
            "accountname",
            format!("{account:?}: storage account names have only lowercase letters and digits"),
        ))
    }
}

fn check_container(container: &str) -> Result<(), OpenError> {
    let valid_chars = container
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let valid_shape = (3..=63).contains(&container.len())
        && !container.starts_with('-')
        && !container.ends_with('-')
        && !container.contains("--");
    if valid_chars && valid_shape {
        Ok(())
    } else {
        Err(OpenError::parameter(
            DRIVER,
            "container",
            format!(
                "{container:?} is not a valid container name: use 3 to 63 lowercase letters, digits and single hyphens"
            ),
        ))
    }
}

fn credentials(params: &Parameters, key: Option<String>) -> Result<Credentials, OpenError> {
    let map = match params.get("credentials") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            return Err(OpenError::parameter(
                DRIVER,
                "credentials",
                format!(
                    "must be a mapping such as {{type: client_secret, clientid: ..., tenantid: ..., secret: ...}} (types: {CREDENTIAL_TYPES})"
                ),
            ));
        }
    };
    let field = |name: &str| -> Option<String> {
        let map = map?;
        let value = map
            .get(name)
            .or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })?
            .as_str()?
            .trim()
            .to_string();
        (!value.is_empty()).then_some(value)
    };
    let kind = field("type");
    // As Distribution: an account key always means shared key.
    if let Some(key) = key {
        return match kind.as_deref() {
            None | Some("shared_key") => Ok(Credentials::SharedKey { key }),
            Some(other) => Err(OpenError::parameter(
                DRIVER,
                "credentials.type",
                format!(
                    "{other:?} conflicts with accountkey: remove accountkey to use {other}, or set the type to shared_key"
                ),
            )),
        };
    }
    match kind.as_deref() {
        Some("shared_key") => Err(OpenError::parameter(
            DRIVER,
            "accountkey",
            "missing: shared_key credentials need the storage account's access key",
        )),
        Some("client_secret") => {
            let need = |name: &str, what: &str| {
                field(name).ok_or_else(|| {
                    OpenError::parameter(
                        DRIVER,
                        &format!("credentials.{name}"),
                        format!("missing: client_secret credentials need {what}"),
                    )
                })
            };
            Ok(Credentials::ClientSecret {
                tenant_id: need("tenantid", "the directory (tenant) ID")?,
                client_id: need("clientid", "the application (client) ID")?,
                secret: need("secret", "the client secret")?,
            })
        }
        // As Distribution: without a key, anything else is the default chain.
        None | Some("default_credentials") => Ok(Credentials::Default),
        Some(other) => Err(OpenError::parameter(
            DRIVER,
            "credentials.type",
            format!(
                "{other:?} is not a credential type this build supports: use one of {CREDENTIAL_TYPES}"
            ),
        )),
    }
}

/// The parts of an Azure storage connection string the driver uses.
#[derive(Debug, Default)]
struct ConnectionString {
    account: Option<String>,
    account_key: Option<String>,
    blob_endpoint: Option<String>,
}

impl ConnectionString {
    fn parse(text: &str) -> Result<ConnectionString, OpenError> {
        let mut out = ConnectionString::default();
        let mut protocol = None;
        let mut suffix = None;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(OpenError::parameter(
                    DRIVER,
                    "connectionstring",
                    format!(
                        "{part:?} is not Name=value: copy the connection string from the portal as it is"
                    ),
                ));
            };
            let value = Some(value.to_string());
            match name.to_ascii_lowercase().as_str() {
                "accountname" => out.account = value,
                "accountkey" => out.account_key = value,
                "blobendpoint" => out.blob_endpoint = value,
                "defaultendpointsprotocol" => protocol = value,
                "endpointsuffix" => suffix = value,
                _ => {}
            }
        }
        if let (None, Some(account), Some(suffix)) = (&out.blob_endpoint, &out.account, suffix) {
            let scheme = protocol.unwrap_or_else(|| "https".to_string());
            out.blob_endpoint = Some(format!("{scheme}://{account}.blob.{suffix}"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, Value)]) -> Parameters {
        let mut p = Parameters::new();
        for (k, v) in pairs {
            p.insert(*k, v.clone());
        }
        p
    }

    fn base() -> Vec<(&'static str, Value)> {
        vec![
            ("accountname", json!("acct")),
            ("accountkey", json!("a2V5")),
            ("container", json!("registry")),
        ]
    }

    #[test]
    fn the_default_realm_is_the_public_cloud() {
        let s = Settings::parse(&params(&base())).unwrap();
        assert_eq!(s.service_url, "https://acct.blob.core.windows.net");
        assert_eq!(s.root, "");
        assert_eq!(s.credentials.kind(), "shared_key");
    }

    #[test]
    fn realm_builds_sovereign_cloud_urls() {
        let mut p = base();
        p.push(("realm", json!("core.chinacloudapi.cn")));
        let s = Settings::parse(&params(&p)).unwrap();
        assert_eq!(s.service_url, "https://acct.blob.core.chinacloudapi.cn");
        assert!(realm_service_url("acct", "https://x").is_err());
    }

    #[test]
    fn serviceurl_wins_over_realm() {
        let mut p = base();
        p.push(("realm", json!("core.chinacloudapi.cn")));
        p.push((
            "serviceurl",
            json!("http://127.0.0.1:10000/devstoreaccount1/"),
        ));
        let s = Settings::parse(&params(&p)).unwrap();
        assert_eq!(s.service_url, "http://127.0.0.1:10000/devstoreaccount1");
        let mut p = base();
        p.push(("serviceurl", json!("127.0.0.1:10000")));
        let e = Settings::parse(&params(&p)).unwrap_err().to_string();
        assert!(e.contains("storage.azure.serviceurl"), "{e}");
    }

    #[test]
    fn missing_settings_are_named() {
        let e = Settings::parse(&params(&[("container", json!("abc"))]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("storage.azure.accountname: missing"), "{e}");
        let e = Settings::parse(&params(&[("accountname", json!("acct"))]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("storage.azure.container: missing"), "{e}");
        let mut p = base();
        p[2] = ("container", json!("Bad_Name"));
        let e = Settings::parse(&params(&p)).unwrap_err().to_string();
        assert!(e.contains("not a valid container name"), "{e}");
    }

    #[test]
    fn credentials_follow_distribution() {
        let mut p = base();
        p.remove(1);
        assert_eq!(
            Settings::parse(&params(&p)).unwrap().credentials,
            Credentials::Default
        );
        p.push((
            "credentials",
            json!({"type": "client_secret", "clientid": "c", "tenantid": "t", "secret": "s"}),
        ));
        assert_eq!(
            Settings::parse(&params(&p)).unwrap().credentials,
            Credentials::ClientSecret {
                tenant_id: "t".into(),
                client_id: "c".into(),
                secret: "s".into()
            }
        );
        p.pop();
        p.push((
            "credentials",
            json!({"type": "client_secret", "clientid": "c"}),
        ));
        let e = Settings::parse(&params(&p)).unwrap_err().to_string();
        assert!(e.starts_with("storage.azure.credentials.tenantid"), "{e}");
        p.pop();
        p.push(("credentials", json!({"type": "shared_key"})));
        let e = Settings::parse(&params(&p)).unwrap_err().to_string();
        assert!(e.starts_with("storage.azure.accountkey: missing"), "{e}");
        p.pop();
        p.push(("credentials", json!({"type": "certificate"})));
        let e = Settings::parse(&params(&p)).unwrap_err().to_string();
        assert!(e.contains(CREDENTIAL_TYPES), "{e}");
    }

    #[test]
    fn connection_strings_fill_in_the_account() {
        let p = params(&[
            ("container", json!("registry")),
            (
                "connectionstring",
                json!(
                    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
                ),
            ),
        ]);
        let s = Settings::parse(&p).unwrap();
        assert_eq!(s.account, "devstoreaccount1");
        assert_eq!(s.service_url, "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(s.credentials, Credentials::SharedKey { key: "a2V5".into() });
        let p = params(&[
            ("container", json!("registry")),
            (
                "connectionstring",
                json!("AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.usgovcloudapi.net"),
            ),
        ]);
        assert_eq!(
            Settings::parse(&p).unwrap().service_url,
            "https://acct.blob.core.usgovcloudapi.net"
        );
    }

    #[test]
    fn describe_names_container_account_and_root() {
        let mut p = base();
        p.push(("rootdirectory", json!("/registry/root/")));
        let s = Settings::parse(&params(&p)).unwrap();
        assert_eq!(
            s.describe(),
            "azure container registry in account acct at https://acct.blob.core.windows.net, root /registry/root, shared_key credentials"
        );
    }
}
