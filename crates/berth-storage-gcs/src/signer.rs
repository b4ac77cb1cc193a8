//! RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`) signatures with a service
//! account's private key, as OAuth2 JWT assertions and V4 signed URLs need.

use std::fmt;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

/// A service account's RSA private key.
#[derive(Clone)]
pub struct RsaSigner {
    key: Arc<RsaKeyPair>,
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaSigner(..)")
    }
}

impl RsaSigner {
    /// Reads a PEM private key (`BEGIN PRIVATE KEY`, as in Google's JSON
    /// keys, or `BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<RsaSigner, String> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("private_key is not a PEM private key ({e})"))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err("private_key is not an RSA key".to_string()),
        }
        .map_err(|e| format!("private_key is not a usable RSA key ({e})"))?;
        Ok(RsaSigner { key: Arc::new(key) })
    }

    /// The RS256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_string())?;
        Ok(signature)
    }

    /// The public key (DER `RSAPublicKey`), to verify signatures in tests.
    #[cfg(test)]
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 2048-bit key made for these tests with `openssl genpkey`.
    pub(crate) const TEST_KEY: &str = include_str!("../tests/data/test-key.pem");

    /// Checks an RS256 signature with the test key's public half.
    pub(crate) fn verify(signer: &RsaSigner, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signer.public_key_der(),
        )
        .verify(message, signature)
        .is_ok()
    }

    #[test]
    fn signs_and_verifies() {
        let signer = RsaSigner::from_pem(TEST_KEY).unwrap();
        let sig = signer.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 256);
        assert!(verify(&signer, b"hello", &sig));
        assert!(!verify(&signer, b"hellO", &sig));
        // PKCS#1 v1.5 is deterministic.
        assert_eq!(sig, signer.sign(b"hello").unwrap());
    }

    #[test]
    fn rejects_garbage() {
        let e = RsaSigner::from_pem("not a key").unwrap_err();
        assert!(e.contains("not a PEM private key"), "{e}");
    }
}
