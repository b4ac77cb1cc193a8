//! Where the driver's credentials come from: a service account's JSON key
//! (`keyfile`, or `credentials` inline), else Application Default
//! Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! `application_default_credentials.json`, the metadata server).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::signer::RsaSigner;

/// Google's OAuth2 token endpoint, when a key file names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The environment variable naming an ADC JSON file.
pub const ADC_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// A service account: who it is and its private key.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    /// `client_email`.
    pub email: String,
    /// `private_key_id` (the JWT's `kid`), when given.
    pub key_id: Option<String>,
    /// The private key.
    pub signer: RsaSigner,
    /// Where to trade a signed JWT for an access token.
    pub token_uri: String,
}

/// How the driver authenticates.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A service account key: JWT bearer flow, and signed URLs.
    ServiceAccount(ServiceAccount),
    /// A user's ADC file from `gcloud auth application-default login`:
    /// refresh-token flow; no signed URLs.
    AuthorizedUser {
        /// `client_id`.
        client_id: String,
        /// `client_secret`.
        client_secret: String,
        /// `refresh_token`.
        refresh_token: String,
        /// Where to trade the refresh token.
        token_uri: String,
    },
    /// The GCE/GKE/Cloud Run metadata server's default service account.
    MetadataServer {
        /// `host[:port]` of the metadata server.
        host: String,
    },
    /// No authentication (an emulator).
    None,
}

impl Credentials {
    /// The service account, when there is one (signed URLs need it).
    pub fn service_account(&self) -> Option<&ServiceAccount> {
        match self {
            Credentials::ServiceAccount(sa) => Some(sa),
            _ => None,
        }
    }
}

/// The fields of a Google credentials JSON file that matter here.
#[derive(Debug, Default, Deserialize)]
struct CredentialsJson {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Reads a service account key from its JSON; `accept_user` also takes a
/// gcloud user's ADC file. Errors say which field is wrong.
pub fn parse(json: serde_json::Value, accept_user: bool) -> Result<Credentials, String> {
    let c: CredentialsJson =
        serde_json::from_value(json).map_err(|e| format!("not a Google credentials JSON ({e})"))?;
    let token_uri = non_empty(c.token_uri).unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
    match c.kind.as_deref() {
        Some("service_account") | None => {
            let email = non_empty(c.client_email)
                .ok_or("client_email is missing: use a service account's JSON key")?;
            let pem = non_empty(c.private_key)
                .ok_or("private_key is missing: use a service account's JSON key")?;
            let signer = RsaSigner::from_pem(&pem)?;
            Ok(Credentials::ServiceAccount(ServiceAccount {
                email,
                key_id: non_empty(c.private_key_id),
                signer,
                token_uri,
            }))
        }
        Some("authorized_user") if accept_user => {
            let field = |v: Option<String>, name: &str| {
                non_empty(v).ok_or(format!("{name} is missing from the authorized_user file"))
            };
            Ok(Credentials::AuthorizedUser {
                client_id: field(c.client_id, "client_id")?,
                client_secret: field(c.client_secret, "client_secret")?,
                refresh_token: field(c.refresh_token, "refresh_token")?,
                token_uri,
            })
        }
        Some(other) => Err(format!(
            "type is {other:?}, expected \"service_account\": create a JSON key for a \
             service account (IAM → Service accounts → Keys)"
        )),
    }
}

/// Reads and parses a credentials file.
pub fn read_file(path: &Path, accept_user: bool) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON ({e})", path.display()))?;
    parse(json, accept_user).map_err(|e| format!("{}: {e}", path.display()))
}

/// Application Default Credentials without a network call: the file named
/// by `adc_env` (`GOOGLE_APPLICATION_CREDENTIALS`), else gcloud's well-known
/// file under `config_dir` when it exists, else the metadata server at
/// `metadata_host`. Errors name the file.
pub fn application_default(
    adc_env: Option<PathBuf>,
    config_dir: Option<PathBuf>,
    metadata_host: String,
) -> Result<Credentials, String> {
    if let Some(path) = adc_env {
        return read_file(&path, true).map_err(|e| format!("{ADC_ENV}: {e}"));
    }
    if let Some(dir) = config_dir {
        let well_known = dir
            .join("gcloud")
            .join("application_default_credentials.json");
        if well_known.is_file() {
            return read_file(&well_known, true);
        }
    }
    Ok(Credentials::MetadataServer {
        host: metadata_host,
    })
}

/// [`application_default`] from this process's environment.
pub fn application_default_from_env() -> Result<Credentials, String> {
    let adc_env = std::env::var_os(ADC_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let config_dir = if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config"))
    };
    let metadata_host = std::env::var("GCE_METADATA_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "169.254.169.254".to_string());
    application_default(adc_env, config_dir, metadata_host)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::signer::tests::TEST_KEY;
    use serde_json::json;

    pub(crate) fn key_json() -> serde_json::Value {
        json!({
            "type": "service_account",
            "project_id": "berth-test",
            "private_key_id": "0123abcd",
            "private_key": TEST_KEY,
            "client_email": "berth@berth-test.iam.gserviceaccount.com",
            "client_id": "1234",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
    }

    #[test]
    fn service_account_key() {
        let c = parse(key_json(), false).unwrap();
        let sa = c.service_account().unwrap();
        assert_eq!(sa.email, "berth@berth-test.iam.gserviceaccount.com");
        assert_eq!(sa.key_id.as_deref(), Some("0123abcd"));
        assert_eq!(sa.token_uri, DEFAULT_TOKEN_URI);
    }

    #[test]
    fn errors_name_the_field() {
        let mut j = key_json();
        j["client_email"] = json!("");
        assert!(parse(j, false).unwrap_err().contains("client_email"));
        let e = parse(json!({"type": "external_account"}), false).unwrap_err();
        assert!(e.contains("external_account"), "{e}");
        let user = json!({"type": "authorized_user", "client_id": "i",
                          "client_secret": "s", "refresh_token": "r"});
        assert!(parse(user.clone(), false).is_err());
        assert!(matches!(
            parse(user, true).unwrap(),
            Credentials::AuthorizedUser { .. }
        ));
    }

    #[test]
    fn adc_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.json");
        std::fs::write(&file, key_json().to_string()).unwrap();
        let c = application_default(Some(file), None, "m".into()).unwrap();
        assert!(c.service_account().is_some());
        let e = application_default(Some(dir.path().join("nope")), None, "m".into()).unwrap_err();
        assert!(e.starts_with(ADC_ENV), "{e}");
        let c = application_default(None, Some(dir.path().into()), "m:80".into()).unwrap();
        assert!(matches!(c, Credentials::MetadataServer { host } if host == "m:80"));
        std::fs::create_dir(dir.path().join("gcloud")).unwrap();
        std::fs::write(
            dir.path()
                .join("gcloud/application_default_credentials.json"),
            key_json().to_string(),
        )
        .unwrap();
        let c = application_default(None, Some(dir.path().into()), "m".into()).unwrap();
        assert!(c.service_account().is_some());
    }
}
