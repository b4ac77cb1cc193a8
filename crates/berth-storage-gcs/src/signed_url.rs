//! V4 signed URLs (`GOOG4-RSA-SHA256`), as Google documents for signing
//! with a service account's own key: a canonical request, a string to sign,
//! an RSA-SHA256 signature in hex.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::credentials::ServiceAccount;
use crate::keys::{encode, encode_path};

/// How long a redirect URL is valid, as Distribution's gcs driver.
pub const LIFETIME: Duration = Duration::from_secs(20 * 60);

/// What to sign a GET URL for.
pub struct UrlRequest<'a> {
    /// `https://storage.googleapis.com`, or an emulator's base URL.
    pub base: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The object name.
    pub key: &'a str,
    /// The signing time.
    pub now: SystemTime,
    /// Validity (at most 7 days).
    pub expires: Duration,
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(['-', ':'], "")
}

/// The canonical request and string to sign of `req` for `sa`, and the
/// query string before the signature: the parts tests compare with Google's
/// documented format.
pub struct Signing {
    /// The path-style resource path (`/bucket/a/b`).
    pub path: String,
    /// The canonical query string (sorted, encoded), without the signature.
    pub query: String,
    /// The canonical request (only its hash is signed; tests read it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// Builds the canonical parts of a V4 signature.
pub fn canonical(req: &UrlRequest<'_>, email: &str) -> Signing {
    let datetime = timestamp(req.now);
    let date = &datetime[..8];
    let scope = format!("{date}/auto/storage/goog4_request");
    let host = req
        .base
        .split_once("://")
        .map_or(req.base, |(_, rest)| rest)
        .trim_end_matches('/');
    let path = format!("/{}/{}", req.bucket, encode_path(req.key));
    let mut params = [
        ("X-Goog-Algorithm", "GOOG4-RSA-SHA256".to_string()),
        ("X-Goog-Credential", format!("{email}/{scope}")),
        ("X-Goog-Date", datetime.clone()),
        ("X-Goog-Expires", req.expires.as_secs().to_string()),
        ("X-Goog-SignedHeaders", "host".to_string()),
    ];
    params.sort_by(|a, b| a.0.cmp(b.0));
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_request = format!("GET\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
    let string_to_sign = format!(
        "GOOG4-RSA-SHA256\n{datetime}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    Signing {
        path,
        query,
        canonical_request,
        string_to_sign,
    }
}

/// A signed GET URL for `req`.
pub fn sign(req: &UrlRequest<'_>, sa: &ServiceAccount) -> Result<String, String> {
    let s = canonical(req, &sa.email);
    let signature = sa.signer.sign(s.string_to_sign.as_bytes())?;
    Ok(format!(
        "{}{}?{}&X-Goog-Signature={}",
        req.base.trim_end_matches('/'),
        s.path,
        s.query,
        hex::encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{Credentials, parse, tests::key_json};
    use crate::signer::tests::verify;

    fn request(key: &str) -> UrlRequest<'_> {
        UrlRequest {
            base: "https://storage.googleapis.com",
            bucket: "example-bucket",
            key,
            // 2018-10-26T18:13:09Z, the time in Google's own example.
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_540_577_589),
            expires: LIFETIME,
        }
    }

    #[test]
    fn canonical_request_as_google_documents() {
        let s = canonical(
            &request("docker/registry/v2/blobs/cat image+1.jpeg"),
            "example@example-project.iam.gserviceaccount.com",
        );
        let query = "X-Goog-Algorithm=GOOG4-RSA-SHA256\
            &X-Goog-Credential=example%40example-project.iam.gserviceaccount.com%2F20181026%2Fauto%2Fstorage%2Fgoog4_request\
            &X-Goog-Date=20181026T181309Z\
            &X-Goog-Expires=1200\
            &X-Goog-SignedHeaders=host";
        assert_eq!(s.query, query);
        assert_eq!(
            s.canonical_request,
            format!(
                "GET\n/example-bucket/docker/registry/v2/blobs/cat%20image%2B1.jpeg\n{query}\n\
                 host:storage.googleapis.com\n\nhost\nUNSIGNED-PAYLOAD"
            )
        );
        let hash = hex::encode(Sha256::digest(s.canonical_request.as_bytes()));
        assert_eq!(
            s.string_to_sign,
            format!(
                "GOOG4-RSA-SHA256\n20181026T181309Z\n20181026/auto/storage/goog4_request\n{hash}"
            )
        );
    }

    #[test]
    fn signed_url_verifies_with_the_public_key() {
        let Credentials::ServiceAccount(sa) = parse(key_json(), false).unwrap() else {
            panic!("a service account");
        };
        let req = request("a/b");
        let url = sign(&req, &sa).unwrap();
        let (head, signature) = url.split_once("&X-Goog-Signature=").unwrap();
        let s = canonical(&req, &sa.email);
        assert_eq!(
            head,
            format!(
                "https://storage.googleapis.com/example-bucket/a/b?{}",
                s.query
            )
        );
        assert!(url.contains("X-Goog-Expires=1200"));
        let signature = hex::decode(signature).unwrap();
        assert!(verify(&sa.signer, s.string_to_sign.as_bytes(), &signature));
    }

    #[test]
    fn emulator_host_keeps_its_port() {
        let mut req = request("o");
        req.base = "http://127.0.0.1:9023/";
        let s = canonical(&req, "e@x");
        assert!(s.canonical_request.contains("\nhost:127.0.0.1:9023\n"));
    }
}
