//! The OAuth2 JWT bearer assertion a service account trades for an access
//! token (RFC 7523, as Google documents for server-to-server apps).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::credentials::ServiceAccount;

/// The scope Distribution asks for (`storage.ScopeFullControl`).
pub const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.full_control";

/// How long an assertion is valid (Google's maximum).
const LIFETIME_SECS: u64 = 3600;

/// The signed assertion `header.claims.signature` for `sa`, issued at `now`
/// (seconds since the Unix epoch).
pub fn assertion(sa: &ServiceAccount, scope: &str, now: u64) -> Result<String, String> {
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &sa.key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": sa.email,
        "scope": scope,
        "aud": sa.token_uri,
        "iat": now,
        "exp": now + LIFETIME_SECS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sa.signer.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{Credentials, parse, tests::key_json};
    use crate::signer::tests::verify;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertion_for_a_fixed_key_and_time() {
        let Credentials::ServiceAccount(sa) = parse(key_json(), false).unwrap() else {
            panic!("a service account");
        };
        let jwt = assertion(&sa, SCOPE, 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            json!({"alg": "RS256", "typ": "JWT", "kid": "0123abcd"})
        );
        assert_eq!(
            decode(parts[1]),
            json!({
                "iss": "berth@berth-test.iam.gserviceaccount.com",
                "scope": "https://www.googleapis.com/auth/devstorage.full_control",
                "aud": "https://oauth2.googleapis.com/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
            })
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verify(&sa.signer, signed.as_bytes(), &signature));
        // Deterministic: the same key and time give the same assertion.
        assert_eq!(jwt, assertion(&sa, SCOPE, 1_700_000_000).unwrap());
    }
}
