//! The cluster's capabilities (`/info`) and TempURLs: signed GET URLs the
//! registry redirects blob downloads to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

use crate::keys::encode;

/// How long a TempURL stays valid (Distribution's default).
pub const VALIDITY: Duration = Duration::from_secs(20 * 60);

/// What `/info` says the cluster can do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// Swift's version, e.g. `2.30.1`.
    pub version: Option<String>,
    /// Methods TempURLs may be made for (empty: no tempurl middleware).
    pub tempurl_methods: Vec<String>,
    /// Digests TempURL signatures may use (`sha1`, `sha256`, `sha512`).
    pub tempurl_digests: Vec<String>,
    /// Objects per bulk delete request, when bulk delete is available.
    pub bulk_delete_max: Option<usize>,
}

impl Info {
    /// Reads an `/info` document.
    pub fn parse(doc: &Value) -> Info {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Info {
            version: doc["swift"]["version"].as_str().map(str::to_string),
            tempurl_methods: strings(&doc["tempurl"]["methods"]),
            tempurl_digests: strings(&doc["tempurl"]["allowed_digests"]),
            bulk_delete_max: doc.get("bulk_delete").map(|b| {
                b["max_deletes_per_request"]
                    .as_u64()
                    .map_or(1000, |n| n as usize)
            }),
        }
    }

    /// Whether TempURL keys may be set on containers (Swift 2.3.0 and later).
    pub fn container_keys(&self) -> bool {
        let Some(version) = &self.version else {
            return false;
        };
        let numbers: Vec<u64> = version
            .split(['.', '-'])
            .map_while(|p| p.parse().ok())
            .collect();
        numbers.as_slice() >= [2, 3, 0].as_slice()
    }

    /// The strongest digest both sides know: SHA-256 when the cluster
    /// lists it, else SHA-1 (older clusters list none and take only SHA-1).
    pub fn digest(&self) -> Digest {
        if self.tempurl_digests.iter().any(|d| d == "sha256") {
            Digest::Sha256
        } else {
            Digest::Sha1
        }
    }
}

/// Where a storage URL's cluster answers `/info`: two levels up from
/// `/v1/AUTH_x`.
pub fn info_url(storage_url: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(storage_url).ok()?;
    let path = url.path().trim_end_matches('/').to_string();
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.truncate(parts.len().saturating_sub(2));
    url.set_path(&format!("{}/info", parts.join("/")));
    url.set_query(None);
    Some(url.to_string())
}

/// A TempURL signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// HMAC-SHA1 (every tempurl middleware).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

/// How the driver signs TempURLs.
#[derive(Clone)]
pub struct Signer {
    /// The Temp-URL-Key.
    pub key: String,
    /// The algorithm.
    pub digest: Digest,
    /// HP Cloud style: the signature becomes `tenant:accesskey:signature`.
    pub access_key: Option<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A GET TempURL for `key` in `container`, valid until `expires`.
    pub fn url(
        &self,
        storage_url: &str,
        container: &str,
        key: &str,
        tenant_id: Option<&str>,
        expires: SystemTime,
    ) -> String {
        let expires = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let base = format!("{storage_url}/{}/{}", encode(container), encode(key));
        // The signed path is the decoded one, as the middleware sees it.
        let path = reqwest::Url::parse(&base)
            .map(|u| {
                percent_decode_str(u.path())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let message = format!("GET\n{expires}\n{path}");
        let mut signature = match self.digest {
            Digest::Sha1 => hmac_hex::<Hmac<sha1::Sha1>>(&self.key, &message),
            Digest::Sha256 => hmac_hex::<Hmac<sha2::Sha256>>(&self.key, &message),
        };
        if let Some(access) = &self.access_key {
            signature = format!("{}:{access}:{signature}", tenant_id.unwrap_or_default());
        }
        let signature = utf8_percent_encode(&signature, NON_ALPHANUMERIC);
        format!("{base}?temp_url_sig={signature}&temp_url_expires={expires}")
    }
}

fn hmac_hex<M: Mac + KeyInit>(key: &str, message: &str) -> String {
    let mut mac =
        <M as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn info_is_read() {
        let info = Info::parse(&json!({
            "swift": {"version": "2.30.1"},
            "tempurl": {"methods": ["GET", "HEAD"], "allowed_digests": ["sha1", "sha256", "sha512"]},
            "bulk_delete": {"max_deletes_per_request": 10000}
        }));
        assert_eq!(info.tempurl_methods, ["GET", "HEAD"]);
        assert_eq!(info.bulk_delete_max, Some(10000));
        assert!(info.container_keys());
        assert_eq!(info.digest(), Digest::Sha256);
        let old =
            Info::parse(&json!({"swift": {"version": "2.2.2"}, "tempurl": {"methods": ["GET"]}}));
        assert!(!old.container_keys());
        assert_eq!(old.digest(), Digest::Sha1);
        assert_eq!(old.bulk_delete_max, None);
    }

    #[test]
    fn info_url_is_two_levels_up() {
        assert_eq!(
            info_url("http://h:8080/v1/AUTH_test").as_deref(),
            Some("http://h:8080/info")
        );
        assert_eq!(
            info_url("https://h/swift/v1/AUTH_x/").as_deref(),
            Some("https://h/swift/info")
        );
    }

    #[test]
    fn signature_matches_pythons_hmac() {
        // Computed independently with Python's hmac module.
        let signer = Signer {
            key: "mykey".into(),
            digest: Digest::Sha1,
            access_key: None,
        };
        let expires = UNIX_EPOCH + Duration::from_secs(1323479485);
        let url = signer.url(
            "https://swift-cluster.example.com/v1/AUTH_account",
            "container",
            "object",
            None,
            expires,
        );
        assert_eq!(
            url,
            "https://swift-cluster.example.com/v1/AUTH_account/container/object?temp_url_sig=d9fc2067e52b06598421664cf6610bfc8fc431f6&temp_url_expires=1323479485"
        );
    }

    #[test]
    fn signs_decoded_paths_and_access_keys() {
        let signer = Signer {
            key: "k".into(),
            digest: Digest::Sha256,
            access_key: Some("AK".into()),
        };
        let expires = UNIX_EPOCH + Duration::from_secs(100);
        let url = signer.url("http://h/v1/AUTH_t", "c", "a b", Some("ten"), expires);
        let expected = hmac_hex::<Hmac<sha2::Sha256>>("k", "GET\n100\n/v1/AUTH_t/c/a b");
        assert_eq!(
            url,
            format!(
                "http://h/v1/AUTH_t/c/a%20b?temp_url_sig=ten%3AAK%3A{expected}&temp_url_expires=100"
            )
        );
    }
}
