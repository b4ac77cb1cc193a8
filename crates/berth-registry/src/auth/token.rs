//! Docker registry token authentication (Distribution's `auth.token`):
//! clients get a JWT from a token server (the `realm`) and present it as
//! `Authorization: Bearer …`; the registry checks its signature, issuer,
//! audience (`service`), validity window and the `access` claim against
//! what the request needs, and otherwise answers 401 with the challenge
//! telling the client where to get a token and for which scope.
//!
//! Signing keys come from `rootcertbundle` (PEM certificates) and from a
//! `jwks` file. A token names its key as Distribution reads it: an `x5c`
//! chain that must lead to a certificate of the bundle, a `jwk` that is one
//! of the trusted keys, or a `kid` that is a trusted key's ID: a JWKS
//! key's `kid`, or a bundle certificate key's libtrust ID (Docker's token
//! servers) or RFC 7638 JWK thumbprint.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use sha2::Digest as _;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};

use super::Access;
use crate::error::{ErrorCode, RegistryError};

/// Clock skew allowed on `exp` and `nbf`, as Distribution allows.
pub const LEEWAY_SECONDS: u64 = 60;

/// Where unauthenticated clients are sent with `autoredirect` and no
/// `autoredirectpath`, as in Distribution.
pub const DEFAULT_AUTO_REDIRECT_PATH: &str = "/auth/token";

/// The algorithms Distribution accepts when `signingalgorithms` is not set
/// (less ES512, which no Rust JWT library verifies).
const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::EdDSA,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// `auth.token` as config.yml spells it.
#[derive(Clone, Debug, Default)]
pub struct TokenOptions {
    /// The token server's URL, sent in challenges.
    pub realm: String,
    /// The service tokens are issued for (their `aud`).
    pub service: String,
    /// The issuer tokens must name (their `iss`).
    pub issuer: String,
    /// PEM certificates whose keys sign tokens.
    pub root_cert_bundle: Option<PathBuf>,
    /// A JSON Web Key Set file with signing keys.
    pub jwks: Option<PathBuf>,
    /// Send clients to this registry's own `autoredirectpath` for tokens.
    pub auto_redirect: bool,
    /// The path for `autoredirect`; [`DEFAULT_AUTO_REDIRECT_PATH`] when unset.
    pub auto_redirect_path: Option<String>,
    /// Accepted `alg` values; Distribution's list when empty.
    pub signing_algorithms: Vec<String>,
}

/// Why `auth.token` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenConfigError {
    /// A required option is empty.
    #[error("auth.token.{0} is required; set it to what your token server uses")]
    Missing(&'static str),
    /// A key file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// `auth.token.rootcertbundle` or `auth.token.jwks`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file holds something unusable.
    #[error("{what} {path}: {reason}")]
    Invalid {
        /// `auth.token.rootcertbundle` or `auth.token.jwks`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No signing key at all.
    #[error(
        "auth.token needs at least one token signing key: set rootcertbundle to the token \
         server's certificate(s), or jwks to a JSON Web Key Set file"
    )]
    NoKeys,
    /// An unknown name in `signingalgorithms`.
    #[error(
        "auth.token.signingalgorithms: {0:?} is not a supported signing algorithm; use EdDSA, \
         HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, PS256, PS384 or PS512"
    )]
    UnknownAlgorithm(String),
}

/// The token verifier for a registry.
pub struct TokenAuth {
    realm: String,
    service: String,
    issuer: String,
    auto_redirect_path: Option<String>,
    roots: Vec<CertificateDer<'static>>,
    keys: HashMap<String, DecodingKey>,
    algorithms: Vec<Algorithm>,
}

/// Why a token was refused, for the challenge and the message.
#[derive(Debug)]
enum Refusal {
    /// No bearer token at all.
    Required,
    /// The token is malformed, unsigned by a trusted key, expired, or for
    /// someone else.
    Invalid(String),
    /// A valid token that does not grant what the request needs.
    InsufficientScope,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    access: Vec<ResourceActions>,
}

#[derive(Deserialize)]
struct ResourceActions {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

/// Accepts any extended key usage, as Distribution does (`ExtKeyUsageAny`):
/// token signing certificates are not TLS certificates.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

impl TokenAuth {
    /// Loads the signing keys named by `options`.
    pub fn new(options: &TokenOptions) -> Result<TokenAuth, TokenConfigError> {
        for (name, value) in [
            ("realm", &options.realm),
            ("issuer", &options.issuer),
            ("service", &options.service),
        ] {
            if value.trim().is_empty() {
                return Err(TokenConfigError::Missing(name));
            }
        }
        let mut roots = Vec::new();
        let mut keys = HashMap::new();
        if let Some(path) = &options.root_cert_bundle {
            const WHAT: &str = "auth.token.rootcertbundle";
            let text = std::fs::read(path).map_err(|source| TokenConfigError::Read {
                what: WHAT,
                path: path.clone(),
                source,
            })?;
            let invalid = |reason: String| TokenConfigError::Invalid {
                what: WHAT,
                path: path.clone(),
                reason,
            };
            for cert in CertificateDer::pem_slice_iter(&text) {
                let cert = cert.map_err(|e| invalid(format!("not a PEM certificate: {e}")))?;
                let key = CertificateKey::parse(&cert).map_err(&invalid)?;
                keys.insert(key.libtrust_id(), key.decoding.clone());
                keys.insert(key.thumbprint(), key.decoding.clone());
                roots.push(cert);
            }
        }
        let mut jwks_keys = 0;
        if let Some(path) = &options.jwks {
            const WHAT: &str = "auth.token.jwks";
            let text = std::fs::read(path).map_err(|source| TokenConfigError::Read {
                what: WHAT,
                path: path.clone(),
                source,
            })?;
            let set: JwkSet =
                serde_json::from_slice(&text).map_err(|e| TokenConfigError::Invalid {
                    what: WHAT,
                    path: path.clone(),
                    reason: format!("not a JSON Web Key Set: {e}"),
                })?;
            for jwk in &set.keys {
                let decoding =
                    DecodingKey::from_jwk(jwk).map_err(|e| TokenConfigError::Invalid {
                        what: WHAT,
                        path: path.clone(),
                        reason: format!(
                            "key {:?} is not usable: {e}",
                            jwk.common.key_id.as_deref().unwrap_or("(no kid)")
                        ),
                    })?;
                if let Some(kid) = &jwk.common.key_id {
                    keys.insert(kid.clone(), decoding.clone());
                }
                keys.insert(jwk_thumbprint(jwk), decoding);
                jwks_keys += 1;
            }
        }
        if roots.is_empty() && jwks_keys == 0 {
            return Err(TokenConfigError::NoKeys);
        }
        let algorithms = if options.signing_algorithms.is_empty() {
            DEFAULT_ALGORITHMS.to_vec()
        } else {
            options
                .signing_algorithms
                .iter()
                .map(|name| {
                    name.parse::<Algorithm>()
                        .map_err(|_| TokenConfigError::UnknownAlgorithm(name.clone()))
                })
                .collect::<Result<_, _>>()?
        };
        Ok(TokenAuth {
            realm: options.realm.clone(),
            service: options.service.clone(),
            issuer: options.issuer.clone(),
            auto_redirect_path: options.auto_redirect.then(|| {
                options
                    .auto_redirect_path
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| DEFAULT_AUTO_REDIRECT_PATH.to_string())
            }),
            roots,
            keys,
            algorithms,
        })
    }

    /// Number of trusted key IDs (each bundle certificate counts twice:
    /// its libtrust ID and its thumbprint).
    pub fn key_ids(&self) -> usize {
        self.keys.len()
    }

    /// Checks the request's bearer token against `access`; the token's
    /// subject on success, else the 401 with Distribution's challenge.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        access: &[Access],
    ) -> Result<String, RegistryError> {
        self.check(headers, access)
            .map_err(|refusal| self.challenge(headers, access, refusal))
    }

    fn check(&self, headers: &HeaderMap, access: &[Access]) -> Result<String, Refusal> {
        let raw = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .map(|(_, token)| token.trim())
            .ok_or(Refusal::Required)?;
        let head = jsonwebtoken::decode_header(raw)
            .map_err(|e| Refusal::Invalid(format!("the token is malformed ({e})")))?;
        if !self.algorithms.contains(&head.alg) {
            return Err(Refusal::Invalid(format!(
                "tokens signed with {:?} are not accepted (auth.token.signingalgorithms)",
                head.alg
            )));
        }
        let key = self.signing_key(&head)?;
        let mut validation = Validation::new(head.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.service]);
        // jsonwebtoken checks `iss` and `aud` only when a token has them; a
        // token without them was not issued for this registry.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(raw, &key, &validation)
            .map_err(|e| Refusal::Invalid(self.explain(&e)))?
            .claims;
        let granted = |needed: &Access| {
            claims.access.iter().any(|r| {
                r.kind == needed.kind
                    && r.name == needed.name
                    && r.actions.iter().any(|a| a == "*" || *a == needed.action)
            })
        };
        if access.iter().all(granted) {
            Ok(claims.sub)
        } else {
            Err(Refusal::InsufficientScope)
        }
    }

    fn explain(&self, e: &jsonwebtoken::errors::Error) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => "the token has expired; get a new one".into(),
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
            ErrorKind::InvalidIssuer => {
                format!(
                    "the token was not issued by {:?} (auth.token.issuer)",
                    self.issuer
                )
            }
            ErrorKind::InvalidAudience => {
                format!("the token is not meant for service {:?}", self.service)
            }
            ErrorKind::InvalidSignature => {
                "the token's signature does not match its signing key".into()
            }
            ErrorKind::MissingRequiredClaim(c) => format!("the token has no {c:?} claim"),
            _ => format!("the token cannot be verified ({e})"),
        }
    }

    /// The key a token says it is signed with, if this registry trusts it.
    fn signing_key(&self, head: &jsonwebtoken::Header) -> Result<DecodingKey, Refusal> {
        if let Some(x5c) = head.x5c.as_deref().filter(|c| !c.is_empty()) {
            return self.verify_chain(x5c);
        }
        if let Some(jwk) = &head.jwk {
            if let Some(x5c) = jwk.common.x509_chain.as_deref().filter(|c| !c.is_empty()) {
                return self.verify_chain(x5c);
            }
            let kid = jwk
                .common
                .key_id
                .clone()
                .unwrap_or_else(|| jwk_thumbprint(jwk));
            return self.keys.get(&kid).cloned().ok_or_else(|| {
                Refusal::Invalid("the token's jwk is not one of the trusted keys".into())
            });
        }
        if let Some(kid) = &head.kid {
            return self.keys.get(kid).cloned().ok_or_else(|| {
                Refusal::Invalid(format!(
                    "the token is signed by an untrusted key (kid {kid:?})"
                ))
            });
        }
        Err(Refusal::Invalid(
            "the token names no signing key (x5c, jwk or kid)".into(),
        ))
    }

    /// The leaf key of an `x5c` chain that leads to a bundle certificate.
    fn verify_chain(&self, x5c: &[String]) -> Result<DecodingKey, Refusal> {
        let untrusted = |why: String| Refusal::Invalid(format!("the token's x5c chain {why}"));
        let ders = x5c
            .iter()
            .map(|c| base64::engine::general_purpose::STANDARD.decode(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| untrusted(format!("is not base64 ({e})")))?;
        let leaf = CertificateDer::from(ders[0].clone());
        // A self-signed token certificate that is itself in the bundle is
        // trusted as it is (a CA certificate cannot be a webpki end entity).
        if !self.roots.iter().any(|r| r.as_ref() == leaf.as_ref()) {
            let anchors: Vec<_> = self
                .roots
                .iter()
                .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
                .collect();
            let intermediates: Vec<CertificateDer<'_>> = ders[1..]
                .iter()
                .map(|d| CertificateDer::from(d.as_slice()))
                .collect();
            let ee = webpki::EndEntityCert::try_from(&leaf)
                .map_err(|e| untrusted(format!("starts with an unusable certificate ({e})")))?;
            ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                UnixTime::now(),
                AnyUsage,
                None,
                None,
            )
            .map_err(|e| {
                untrusted(format!(
                    "does not lead to a certificate of auth.token.rootcertbundle ({e})"
                ))
            })?;
        }
        CertificateKey::parse(&leaf)
            .map(|k| k.decoding)
            .map_err(untrusted)
    }

    fn challenge(&self, headers: &HeaderMap, access: &[Access], refusal: Refusal) -> RegistryError {
        let realm = match &self.auto_redirect_path {
            None => self.realm.clone(),
            Some(path) => {
                let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
                let scheme = get("x-forwarded-proto").unwrap_or("https");
                let host = get("host").unwrap_or("localhost");
                format!("{scheme}://{host}{path}")
            }
        };
        let mut value = format!(
            "Bearer realm={},service={}",
            quoted(&realm),
            quoted(&self.service)
        );
        let scope = scope_param(access);
        if !scope.is_empty() {
            value.push_str(&format!(",scope={}", quoted(&scope)));
        }
        let message = match &refusal {
            Refusal::Required => format!(
                "authentication required: get a token from {} and send it as `Authorization: Bearer <token>`",
                self.realm
            ),
            Refusal::Invalid(why) => {
                value.push_str(",error=\"invalid_token\"");
                format!("invalid token: {why}")
            }
            Refusal::InsufficientScope => {
                value.push_str(",error=\"insufficient_scope\"");
                format!("the token does not grant {scope}; ask the token server for that scope")
            }
        };
        tracing::info!(reason = %message, "token refused");
        let detail: Vec<_> = access
            .iter()
            .map(|a| {
                serde_json::json!({
                    "Type": a.kind, "Class": "", "Name": a.name, "Action": a.action,
                })
            })
            .collect();
        let mut error = RegistryError::new(ErrorCode::Unauthorized, message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("Bearer")),
        );
        if !detail.is_empty() {
            error = error.with_detail(serde_json::Value::Array(detail));
        }
        error
    }
}

/// `"…"` with the quote and backslash escaped, as Go's `%q` writes them.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The challenge's `scope`: `type:name:action,action` per resource, in
/// the order the request needs them.
fn scope_param(access: &[Access]) -> String {
    let mut scopes: Vec<(String, String, Vec<&str>)> = Vec::new();
    for a in access {
        match scopes
            .iter_mut()
            .find(|(k, n, _)| *k == a.kind && *n == a.name)
        {
            Some((_, _, actions)) => {
                if !actions.contains(&a.action.as_str()) {
                    actions.push(&a.action);
                }
            }
            None => scopes.push((a.kind.clone(), a.name.clone(), vec![&a.action])),
        }
    }
    scopes
        .iter()
        .map(|(k, n, actions)| format!("{k}:{n}:{}", actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of the members that
/// define a key, in lexicographic order.
fn thumbprint(members: &str) -> String {
    b64url(&sha2::Sha256::digest(members.as_bytes()))
}

fn jwk_thumbprint(jwk: &Jwk) -> String {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    match &jwk.algorithm {
        P::RSA(p) => thumbprint(&format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, p.e, p.n)),
        P::EllipticCurve(p) => {
            let crv = serde_json::to_value(&p.curve)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            thumbprint(&format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                p.x, p.y
            ))
        }
        P::OctetKeyPair(p) => {
            let crv = serde_json::to_value(&p.curve)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            thumbprint(&format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{}"}}"#, p.x))
        }
        P::OctetKey(p) => thumbprint(&format!(r#"{{"k":"{}","kty":"oct"}}"#, p.value)),
        _ => thumbprint(&serde_json::to_string(jwk).unwrap_or_default()),
    }
}

/// The public key of a certificate, as a JWT verifier needs it.
struct CertificateKey {
    decoding: DecodingKey,
    /// The DER SubjectPublicKeyInfo.
    spki: Vec<u8>,
    /// The RFC 7638 members of the key.
    members: String,
}

impl CertificateKey {
    fn parse(der: &[u8]) -> Result<CertificateKey, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("a certificate cannot be parsed ({e})"))?;
        let spki = cert.public_key();
        let oid = &spki.algorithm.algorithm;
        let bits = spki.subject_public_key.data.as_ref();
        let (decoding, members) = if *oid == OID_PKCS1_RSAENCRYPTION {
            let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
                return Err("a certificate's RSA key cannot be parsed".into());
            };
            let (n, e) = (strip_zeros(rsa.modulus), strip_zeros(rsa.exponent));
            (
                DecodingKey::from_rsa_raw_components(n, e),
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n)),
            )
        } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            let (crv, size) = match curve {
                Some(c) if c == OID_EC_P256 => ("P-256", 32),
                Some(c) if c == OID_NIST_EC_P384 => ("P-384", 48),
                _ => {
                    return Err(
                        "a certificate's EC key is on a curve other than P-256 or P-384".into(),
                    );
                }
            };
            if bits.len() != 1 + 2 * size || bits[0] != 4 {
                return Err("a certificate's EC key is not an uncompressed point".into());
            }
            let (x, y) = bits[1..].split_at(size);
            (
                DecodingKey::from_ec_der(bits),
                format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url(x),
                    b64url(y)
                ),
            )
        } else if *oid == OID_SIG_ED25519 {
            (
                DecodingKey::from_ed_der(bits),
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64url(bits)),
            )
        } else {
            return Err(format!(
                "a certificate has a key of type {oid}; token keys must be RSA, EC or Ed25519"
            ));
        };
        Ok(CertificateKey {
            decoding,
            spki: spki.raw.to_vec(),
            members,
        })
    }

    /// Docker's libtrust key ID: the SHA-256 of the DER public key, its
    /// first 240 bits in base32, in groups of four joined by colons.
    fn libtrust_id(&self) -> String {
        libtrust_key_id(&self.spki)
    }

    fn thumbprint(&self) -> String {
        thumbprint(&self.members)
    }
}

/// Docker's libtrust key ID of a DER SubjectPublicKeyInfo.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let sum = sha2::Sha256::digest(spki_der);
    let b32 = data_encoding::BASE32_NOPAD.encode(&sum[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(":")
}

/// The RFC 7638 JWK thumbprint of a certificate's public key (how
/// Distribution 3 names the keys of its `rootcertbundle`).
pub fn certificate_thumbprint(cert_der: &[u8]) -> Result<String, String> {
    CertificateKey::parse(cert_der).map(|k| k.thumbprint())
}

/// The libtrust key ID of a certificate's public key (how Docker's token
/// servers fill `kid`).
pub fn certificate_key_id(cert_der: &[u8]) -> Result<String, String> {
    CertificateKey::parse(cert_der).map(|k| k.libtrust_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_group_actions_per_resource() {
        let a = |k: &str, n: &str, act: &str| Access::new(k, n, act);
        assert_eq!(
            scope_param(&[
                a("repository", "team/app", "pull"),
                a("repository", "team/app", "push"),
                a("repository", "base", "pull"),
            ]),
            "repository:team/app:pull,push repository:base:pull"
        );
        assert_eq!(scope_param(&[]), "");
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn libtrust_ids_have_twelve_groups_of_four() {
        let id = libtrust_key_id(b"any key bytes");
        assert_eq!(id.len(), 12 * 4 + 11);
        assert!(id.split(':').all(|g| g.len() == 4));
    }
}
