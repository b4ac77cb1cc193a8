//! The Berth CA and the registry's server certificate, kept in one directory.
//!
//! ```text
//! <dir>/            0700
//!   ca.crt          the CA clients trust (PEM); what `GET /ca` serves
//!   ca.key          its private key (PKCS#8 PEM), 0600; absent with your own certificate
//!   server.crt      the registry's certificate chain (PEM): http.tls.certificate
//!   server.key      its private key, 0600: http.tls.key
//!   origin          berth-ca | own-ca | own-certificate
//!   names           extra names for the server certificate, one per line
//! ```
//!
//! Every file is written through a temporary file and a rename, so a reader
//! (a starting `berthd serve`, a second `berthd ca init`) never sees half of
//! one. The server key is kept across renewals, so `server.crt` and
//! `server.key` always match even while a renewal replaces the certificate.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::cert::{Certificate, CertificateInfo};
use crate::error::{Error, Result};
use crate::files;

/// The CA certificate file in the CA directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// The CA's private key file.
pub const CA_KEY_FILE: &str = "ca.key";
/// The registry's certificate chain (`http.tls.certificate`).
pub const SERVER_CERT_FILE: &str = "server.crt";
/// The registry's private key (`http.tls.key`).
pub const SERVER_KEY_FILE: &str = "server.key";
const ORIGIN_FILE: &str = "origin";
const NAMES_FILE: &str = "names";

/// How long a new Berth CA is valid.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// How long an issued server certificate is valid. Under Apple's 825-day
/// limit for certificates from user-added roots, and renewed long before.
pub const SERVER_VALIDITY_DAYS: i64 = 365;
/// A server certificate closer than this to its end is renewed.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Where the certificates came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Berth created the CA and issues the server certificate.
    BerthCa,
    /// The admin's own CA (certificate and key); Berth issues from it.
    OwnCa,
    /// The admin's own server certificate and key; Berth issues nothing.
    OwnCertificate,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::BerthCa => "berth-ca",
            Origin::OwnCa => "own-ca",
            Origin::OwnCertificate => "own-certificate",
        }
    }
}

/// Why a server certificate was (re)issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum IssueReason {
    /// There was none.
    Missing,
    /// It ends within [`RENEW_BEFORE_DAYS`].
    Expiring {
        /// Its end of validity, seconds since the Unix epoch.
        not_after: i64,
    },
    /// The names asked for differ from the certificate's.
    NamesChanged {
        /// The certificate's names.
        had: Vec<String>,
    },
    /// It was not signed by the current CA (the CA was replaced).
    NotFromCa,
}

impl std::fmt::Display for IssueReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssueReason::Missing => f.write_str("there was no server certificate"),
            IssueReason::Expiring { not_after } => write!(
                f,
                "the certificate ends on {}",
                crate::cert::rfc3339(*not_after)
            ),
            IssueReason::NamesChanged { had } => {
                write!(f, "the names changed (it had {})", had.join(", "))
            }
            IssueReason::NotFromCa => f.write_str("it was not signed by the current CA"),
        }
    }
}

/// The result of [`CaDir::ensure_server_certificate`].
#[derive(Clone, Debug)]
pub struct ServerCertificate {
    /// The certificate now in `server.crt`.
    pub certificate: Certificate,
    /// Why it was issued just now; `None` when the existing one was kept.
    pub issued: Option<IssueReason>,
}

/// What `berthd ca status` and the status page show.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The CA directory.
    pub dir: PathBuf,
    /// Where the certificates came from; `None` before `init`.
    pub origin: Option<Origin>,
    /// The CA clients are asked to trust.
    pub ca: Option<CertificateInfo>,
    /// The registry's certificate.
    pub server: Option<CertificateInfo>,
    /// `http.tls.certificate` for config.yml.
    pub server_cert_path: PathBuf,
    /// `http.tls.key` for config.yml.
    pub server_key_path: PathBuf,
}

/// The outcome of [`CaDir::init`].
#[derive(Clone, Debug)]
pub struct Init {
    /// A new CA was created now (false: one was there already).
    pub created: bool,
    /// The CA certificate.
    pub ca: Certificate,
}

/// The directory that holds the CA and the server certificate.
#[derive(Clone, Debug)]
pub struct CaDir {
    dir: PathBuf,
}

impl CaDir {
    /// The CA directory at `dir` (nothing is created until [`CaDir::init`]).
    pub fn new(dir: impl Into<PathBuf>) -> CaDir {
        CaDir { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `ca.crt`.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// `ca.key`.
    pub fn ca_key_path(&self) -> PathBuf {
        self.dir.join(CA_KEY_FILE)
    }

    /// `server.crt`, for `http.tls.certificate`.
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join(SERVER_CERT_FILE)
    }

    /// `server.key`, for `http.tls.key`.
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join(SERVER_KEY_FILE)
    }

    /// Where the certificates came from; `None` before `init`.
    pub fn origin(&self) -> Result<Option<Origin>> {
        let recorded = files::read_optional(&self.dir.join(ORIGIN_FILE))?;
        Ok(match recorded.as_deref().map(str::trim) {
            Some("berth-ca") => Some(Origin::BerthCa),
            Some("own-ca") => Some(Origin::OwnCa),
            Some("own-certificate") => Some(Origin::OwnCertificate),
            // A CA written before its origin file (a crash in between) is ours.
            _ if self.ca_cert_path().exists() && self.ca_key_path().exists() => {
                Some(Origin::BerthCa)
            }
            _ => None,
        })
    }

    /// Creates a Berth CA on first use (ECDSA P-256, "Berth CA on
    /// <hostname>", valid [`CA_VALIDITY_DAYS`]); loads the existing one
    /// otherwise. Safe against another process initialising at the same
    /// time: exactly one CA results.
    pub fn init(&self, hostname: &str) -> Result<Init> {
        files::create_dir_all(&self.dir, 0o700)?;
        if self.ca_cert_path().exists() {
            return Ok(Init {
                created: false,
                ca: self.ca_certificate()?,
            });
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let key = if files::write_new_atomically(
            &self.ca_key_path(),
            key.serialize_pem().as_bytes(),
            0o600,
        )? {
            key
        } else {
            // Another process wrote the key first: wait for its certificate.
            for _ in 0..100 {
                if self.ca_cert_path().exists() {
                    return Ok(Init {
                        created: false,
                        ca: self.ca_certificate()?,
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // It died between key and certificate; finish with its key.
            self.ca_key()?
        };
        let params = ca_params(hostname, OffsetDateTime::now_utc())?;
        let cert = params.self_signed(&key)?;
        files::write_atomically(&self.ca_cert_path(), cert.pem().as_bytes(), 0o644)?;
        self.write_origin(Origin::BerthCa)?;
        Ok(Init {
            created: true,
            ca: Certificate::from_der(cert.der())?,
        })
    }

    /// The CA certificate (the first of `ca.crt`).
    pub fn ca_certificate(&self) -> Result<Certificate> {
        Certificate::from_pem(&self.ca_pem()?).map_err(|e| {
            Error::cert(
                format!("the CA certificate {}", self.ca_cert_path().display()),
                e,
            )
        })
    }

    /// `ca.crt` as it is: what clients install and `GET /ca` serves (with
    /// your own certificate, the CA chain you gave).
    pub fn ca_pem(&self) -> Result<String> {
        files::read_optional(&self.ca_cert_path())?.ok_or_else(|| Error::NoCa(self.dir.clone()))
    }

    fn ca_key(&self) -> Result<KeyPair> {
        let path = self.ca_key_path();
        let pem = files::read_optional(&path)?.ok_or_else(|| Error::NoCa(self.dir.clone()))?;
        KeyPair::from_pem(&pem).map_err(|e| Error::Key {
            what: format!("the CA key {}", path.display()),
            reason: e.to_string(),
        })
    }

    fn write_origin(&self, origin: Origin) -> Result<()> {
        files::write_atomically(
            &self.dir.join(ORIGIN_FILE),
            format!("{}\n", origin.as_str()).as_bytes(),
            0o644,
        )
    }

    /// The server certificate in `server.crt` (its first certificate).
    pub fn server_certificate(&self) -> Result<Option<Certificate>> {
        match files::read_optional(&self.server_cert_path())? {
            Some(pem) => Ok(Some(Certificate::from_pem(&pem)?)),
            None => Ok(None),
        }
    }

    /// Makes sure `server.crt` is a certificate from the current CA for
    /// exactly `names`, valid for more than [`RENEW_BEFORE_DAYS`] after
    /// `now`; issues a new one otherwise. With your own certificate nothing
    /// is issued and the existing one is returned.
    pub fn ensure_server_certificate(
        &self,
        names: &[String],
        now: SystemTime,
    ) -> Result<ServerCertificate> {
        if self.origin()? == Some(Origin::OwnCertificate) {
            let certificate = self
                .server_certificate()?
                .ok_or_else(|| Error::OwnCertificate(self.dir.clone()))?;
            return Ok(ServerCertificate {
                certificate,
                issued: None,
            });
        }
        let ca = self.ca_certificate()?;
        let names = normalize_names(names);
        let reason = match self.server_certificate() {
            Ok(Some(current)) => renewal_reason(&current, &ca, &names, now),
            Ok(None) | Err(_) => Some(IssueReason::Missing),
        };
        let Some(reason) = reason else {
            return Ok(ServerCertificate {
                certificate: self.server_certificate()?.expect("checked above"),
                issued: None,
            });
        };
        let certificate = self.issue(&ca, &names, OffsetDateTime::from(now))?;
        Ok(ServerCertificate {
            certificate,
            issued: Some(reason),
        })
    }

    fn issue(
        &self,
        ca: &Certificate,
        names: &[String],
        now: OffsetDateTime,
    ) -> Result<Certificate> {
        let issuer = Issuer::from_ca_cert_der(&ca.der().to_vec().into(), self.ca_key()?)?;
        let key = self.server_key()?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(|e| {
            Error::cert(
                "the server certificate",
                format!("{e} (names: {})", names.join(", ")),
            )
        })?;
        let cn = names
            .iter()
            .find(|n| *n != "localhost" && n.parse::<std::net::IpAddr>().is_err())
            .or(names.first())
            .cloned()
            .unwrap_or_else(|| "localhost".into());
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Berth");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(SERVER_VALIDITY_DAYS);
        let cert = params.signed_by(&key, &issuer)?;
        let mut chain = cert.pem();
        // An intermediate CA of yours travels with the certificate, so clients
        // that trust your root can build the path.
        if ca.info().subject != ca.info().issuer {
            chain.push_str(&ca.pem());
        }
        files::write_atomically(&self.server_cert_path(), chain.as_bytes(), 0o644)?;
        Certificate::from_der(cert.der())
    }

    /// The kept server key, or a new one (P-256) when there is none.
    fn server_key(&self) -> Result<KeyPair> {
        let path = self.server_key_path();
        if let Some(pem) = files::read_optional(&path)? {
            return KeyPair::from_pem(&pem).map_err(|e| Error::Key {
                what: format!("the server key {}", path.display()),
                reason: e.to_string(),
            });
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        if files::write_new_atomically(&path, key.serialize_pem().as_bytes(), 0o600)? {
            Ok(key)
        } else {
            self.server_key()
        }
    }

    /// Uses your own CA (certificate and private key, PEM) instead of the
    /// Berth CA; the next [`CaDir::ensure_server_certificate`] issues from
    /// it.
    pub fn import_ca(&self, cert_pem: &str, key_pem: &str) -> Result<Certificate> {
        let ca =
            Certificate::from_pem(cert_pem).map_err(|e| Error::cert("your CA certificate", e))?;
        if !ca.info().is_ca {
            return Err(Error::cert(
                "your CA certificate",
                "it is not a CA (basicConstraints CA:TRUE is missing)",
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| Error::Key {
            what: "your CA key".into(),
            reason: format!("{e} (PKCS#8 PEM expected)"),
        })?;
        check_key_matches(&ca, &key, "your CA key")?;
        files::create_dir_all(&self.dir, 0o700)?;
        files::write_atomically(&self.ca_key_path(), key.serialize_pem().as_bytes(), 0o600)?;
        files::write_atomically(&self.ca_cert_path(), ca.pem().as_bytes(), 0o644)?;
        self.write_origin(Origin::OwnCa)?;
        Ok(ca)
    }

    /// Uses your own server certificate chain and key (PEM). `ca_pem` is
    /// what clients should trust; without it, the last certificate of the
    /// chain. A Berth CA key that was there is kept as `ca.key.replaced`.
    pub fn import_server_certificate(
        &self,
        chain_pem: &str,
        key_pem: &str,
        ca_pem: Option<&str>,
    ) -> Result<Certificate> {
        let chain = Certificate::all_from_pem(chain_pem)
            .map_err(|e| Error::cert("your server certificate", e))?;
        let leaf = chain
            .first()
            .ok_or_else(|| Error::cert("your server certificate", "no CERTIFICATE block in it"))?;
        if leaf.info().is_ca {
            return Err(Error::cert(
                "your server certificate",
                "it is a CA certificate; TLS clients refuse a CA as a server's own certificate",
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| Error::Key {
            what: "your server key".into(),
            reason: format!("{e} (PKCS#8 PEM expected)"),
        })?;
        check_key_matches(leaf, &key, "your server key")?;
        let trusted: Vec<Certificate> = match ca_pem {
            Some(pem) => {
                Certificate::all_from_pem(pem).map_err(|e| Error::cert("your CA bundle", e))?
            }
            None => vec![chain.last().expect("non-empty").clone()],
        };
        if trusted.is_empty() {
            return Err(Error::cert("your CA bundle", "no CERTIFICATE block in it"));
        }
        files::create_dir_all(&self.dir, 0o700)?;
        let old_key = self.ca_key_path();
        if old_key.exists() {
            let kept = self.dir.join("ca.key.replaced");
            std::fs::rename(&old_key, &kept).map_err(|e| Error::io("cannot move", &old_key, e))?;
        }
        files::write_atomically(
            &self.server_key_path(),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        let chain_text: String = chain.iter().map(Certificate::pem).collect();
        files::write_atomically(&self.server_cert_path(), chain_text.as_bytes(), 0o644)?;
        let ca_text: String = trusted.iter().map(Certificate::pem).collect();
        files::write_atomically(&self.ca_cert_path(), ca_text.as_bytes(), 0o644)?;
        self.write_origin(Origin::OwnCertificate)?;
        Ok(leaf.clone())
    }

    /// The names the admin added for the server certificate (besides
    /// localhost, the loopback addresses and the hostname), kept across
    /// renewals.
    pub fn extra_names(&self) -> Result<Vec<String>> {
        let text = files::read_optional(&self.dir.join(NAMES_FILE))?.unwrap_or_default();
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect())
    }

    /// Replaces the extra names; each must be a DNS name or an IP address.
    /// Returns them as kept (lowercase, without duplicates). The certificate
    /// itself is reissued by the next [`CaDir::ensure_server_certificate`].
    pub fn set_extra_names(&self, names: &[String]) -> Result<Vec<String>> {
        let mut kept: Vec<String> = Vec::new();
        for name in names {
            let name = check_name(name)?;
            if !kept.contains(&name) {
                kept.push(name);
            }
        }
        files::create_dir_all(&self.dir, 0o700)?;
        let mut text =
            String::from("# Extra names for the registry's certificate, one per line.\n");
        for name in &kept {
            text.push_str(name);
            text.push('\n');
        }
        files::write_atomically(&self.dir.join(NAMES_FILE), text.as_bytes(), 0o644)?;
        Ok(kept)
    }

    /// Names, fingerprints and validity of the CA and the server
    /// certificate.
    pub fn status(&self) -> Result<Status> {
        let ca = match files::read_optional(&self.ca_cert_path())? {
            Some(pem) => Some(Certificate::from_pem(&pem)?.info().clone()),
            None => None,
        };
        Ok(Status {
            dir: self.dir.clone(),
            origin: self.origin()?,
            ca,
            server: self.server_certificate()?.map(|c| c.info().clone()),
            server_cert_path: self.server_cert_path(),
            server_key_path: self.server_key_path(),
        })
    }
}

/// The CA's parameters: a P-256 CA that can sign server certificates and
/// nothing below them (path length 0).
fn ca_params(hostname: &str, now: OffsetDateTime) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Berth CA on {hostname}"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Berth");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    Ok(params)
}

/// A random positive 128-bit serial: renewed certificates keep their key,
/// and browsers refuse two certificates with one issuer and serial.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn check_key_matches(cert: &Certificate, key: &KeyPair, what: &str) -> Result<()> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.der())
        .map_err(|e| Error::cert("certificate", e))?;
    if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(Error::Key {
            what: what.into(),
            reason: "it does not belong to the certificate".into(),
        });
    }
    Ok(())
}

fn renewal_reason(
    current: &Certificate,
    ca: &Certificate,
    names: &[String],
    now: SystemTime,
) -> Option<IssueReason> {
    let now_secs = OffsetDateTime::from(now).unix_timestamp();
    let not_after = current.info().not_after;
    if not_after - now_secs < RENEW_BEFORE_DAYS * 86_400 {
        return Some(IssueReason::Expiring { not_after });
    }
    if normalize_names(&current.info().names) != names {
        return Some(IssueReason::NamesChanged {
            had: current.info().names.clone(),
        });
    }
    if !signed_by(current, ca) {
        return Some(IssueReason::NotFromCa);
    }
    None
}

fn signed_by(cert: &Certificate, ca: &Certificate) -> bool {
    let (Ok((_, cert)), Ok((_, ca))) = (
        x509_parser::parse_x509_certificate(cert.der()),
        x509_parser::parse_x509_certificate(ca.der()),
    ) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Names as certificates carry them: lowercase, sorted, without duplicates.
fn normalize_names(names: &[String]) -> Vec<String> {
    let mut names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => n,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `name` as a certificate holds it (lowercase; an IP address in its
/// canonical form), or why it cannot be one: a DNS name of letters, digits
/// and hyphens between dots (a leading `*.` allowed), or an IP address.
pub fn check_name(name: &str) -> Result<String> {
    let trimmed = name.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let lower = trimmed.to_ascii_lowercase();
    let labels = lower.strip_prefix("*.").unwrap_or(&lower);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if lower.len() > 253 || !labels.split('.').all(label_ok) {
        return Err(Error::Name(name.to_string()));
    }
    Ok(lower)
}

/// The names the registry's certificate covers: `localhost`, `127.0.0.1`,
/// `::1`, the machine's hostname, and `extra` (names or IP addresses the
/// admin adds, e.g. `registry.example.com`).
pub fn server_names(hostname: &str, extra: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    names.push(hostname.to_ascii_lowercase());
    names.extend(extra.iter().map(|n| n.to_ascii_lowercase()));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.clone()));
    names
}

/// This machine's hostname, lowercase (`localhost` when it has none).
pub fn hostname() -> String {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use super::*;

    fn names(extra: &[&str]) -> Vec<String> {
        server_names(
            "build-01",
            &extra.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn extra_names_are_checked_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path().join("ca"));
        assert!(dir.extra_names().unwrap().is_empty());
        let kept = dir
            .set_extra_names(&[
                "Registry.Example.com".into(),
                "10.0.0.5".into(),
                "[fd00::0001]".into(),
                "*.lab.example".into(),
                "registry.example.com".into(),
            ])
            .unwrap();
        assert_eq!(
            kept,
            [
                "registry.example.com",
                "10.0.0.5",
                "fd00::1",
                "*.lab.example"
            ]
        );
        assert_eq!(dir.extra_names().unwrap(), kept);
        for bad in [
            "",
            "bad name",
            "-lead.example",
            "a..b",
            "x_y.example",
            "https://r.example",
        ] {
            let e = dir.set_extra_names(&[bad.to_string()]).unwrap_err();
            assert!(e.to_string().contains("DNS name"), "{bad}: {e}");
        }
        assert_eq!(
            dir.extra_names().unwrap(),
            kept,
            "a refused list changes nothing"
        );
    }

    #[test]
    fn init_creates_a_p256_ca_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path().join("ca"));
        assert_eq!(dir.origin().unwrap(), None);
        let first = dir.init("build-01").unwrap();
        assert!(first.created);
        let info = first.ca.info();
        assert!(info.is_ca);
        assert_eq!(info.subject, "CN=Berth CA on build-01, O=Berth");
        let years = (info.not_after - info.not_before) as f64 / (365.25 * 86_400.0);
        assert!((9.9..10.1).contains(&years), "validity {years} years");
        let again = dir.init("build-01").unwrap();
        assert!(!again.created);
        assert_eq!(again.ca, first.ca);
        assert_eq!(dir.origin().unwrap(), Some(Origin::BerthCa));

        let key = std::fs::read_to_string(dir.ca_key_path()).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let (_, x509) = x509_parser::parse_x509_certificate(first.ca.der()).unwrap();
        assert_eq!(
            x509.public_key()
                .algorithm
                .parameters
                .as_ref()
                .map(|p| p.as_oid().unwrap().to_id_string()),
            Some("1.2.840.10045.3.1.7".to_string()),
            "P-256"
        );
        #[cfg(unix)]
        {
            assert_eq!(files::mode_of(&dir.ca_key_path()), Some(0o600));
            assert_eq!(files::mode_of(dir.path()), Some(0o700));
        }
    }

    #[test]
    fn concurrent_inits_agree_on_one_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ca");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || CaDir::new(path).init("h").unwrap().ca)
            })
            .collect();
        let cas: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(cas.windows(2).all(|w| w[0] == w[1]));
        let dir = CaDir::new(&path);
        let key = dir.ca_key().unwrap();
        check_key_matches(&dir.ca_certificate().unwrap(), &key, "k").unwrap();
    }

    #[test]
    fn issues_for_the_names_and_renews_when_due() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path());
        dir.init("build-01").unwrap();
        let t0 = SystemTime::now();
        let names = names(&["registry.example.com"]);
        let first = dir.ensure_server_certificate(&names, t0).unwrap();
        assert_eq!(first.issued, Some(IssueReason::Missing));
        let got = &first.certificate.info().names;
        for n in [
            "localhost",
            "127.0.0.1",
            "::1",
            "build-01",
            "registry.example.com",
        ] {
            assert!(got.iter().any(|g| g == n), "{n} missing from {got:?}");
        }
        assert!(!first.certificate.info().is_ca);
        assert_eq!(
            first.certificate.info().issuer,
            "CN=Berth CA on build-01, O=Berth"
        );
        #[cfg(unix)]
        assert_eq!(files::mode_of(&dir.server_key_path()), Some(0o600));
        let key_before = std::fs::read(dir.server_key_path()).unwrap();

        let kept = dir.ensure_server_certificate(&names, t0).unwrap();
        assert_eq!(kept.issued, None);
        assert_eq!(kept.certificate, first.certificate);

        let later = t0 + StdDuration::from_secs(340 * 86_400);
        let renewed = dir.ensure_server_certificate(&names, later).unwrap();
        assert!(matches!(renewed.issued, Some(IssueReason::Expiring { .. })));
        assert_ne!(
            renewed.certificate.serial_hex(),
            first.certificate.serial_hex()
        );
        assert_eq!(
            std::fs::read(dir.server_key_path()).unwrap(),
            key_before,
            "the key is kept across renewals"
        );

        let more = self::names(&["registry.example.com", "10.0.0.5"]);
        let changed = dir.ensure_server_certificate(&more, later).unwrap();
        assert!(matches!(
            changed.issued,
            Some(IssueReason::NamesChanged { .. })
        ));
        assert!(
            changed
                .certificate
                .info()
                .names
                .contains(&"10.0.0.5".to_string())
        );
    }

    #[test]
    fn a_new_ca_means_a_new_server_certificate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path());
        dir.init("h").unwrap();
        let names = names(&[]);
        dir.ensure_server_certificate(&names, SystemTime::now())
            .unwrap();

        let own_key = KeyPair::generate().unwrap();
        let own = ca_params("elsewhere", OffsetDateTime::now_utc())
            .unwrap()
            .self_signed(&own_key)
            .unwrap();
        dir.import_ca(&own.pem(), &own_key.serialize_pem()).unwrap();
        assert_eq!(dir.origin().unwrap(), Some(Origin::OwnCa));
        let reissued = dir
            .ensure_server_certificate(&names, SystemTime::now())
            .unwrap();
        assert_eq!(reissued.issued, Some(IssueReason::NotFromCa));
        assert_eq!(
            reissued.certificate.info().issuer,
            "CN=Berth CA on elsewhere, O=Berth"
        );
    }

    #[test]
    fn own_ca_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path());
        let key = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let ca = ca_params("x", OffsetDateTime::now_utc())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let err = dir
            .import_ca(&ca.pem(), &other.serialize_pem())
            .unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
        let leaf = CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let err = dir
            .import_ca(&leaf.pem(), &key.serialize_pem())
            .unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
        assert_eq!(dir.origin().unwrap(), None, "nothing written on refusal");
    }

    #[test]
    fn own_server_certificate_is_used_as_is() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path());
        dir.init("h").unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let ca_params = ca_params("corp", OffsetDateTime::now_utc()).unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["registry.corp".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let chain = format!("{}{}", leaf.pem(), ca_cert.pem());
        dir.import_server_certificate(&chain, &leaf_key.serialize_pem(), None)
            .unwrap();
        assert_eq!(dir.origin().unwrap(), Some(Origin::OwnCertificate));
        assert_eq!(
            Certificate::from_pem(&dir.ca_pem().unwrap()).unwrap().der(),
            ca_cert.der().as_ref(),
            "clients trust the chain's root"
        );
        assert!(tmp.path().join("ca.key.replaced").exists());
        let kept = dir
            .ensure_server_certificate(&names(&[]), SystemTime::now())
            .unwrap();
        assert_eq!(kept.issued, None);
        assert_eq!(kept.certificate.info().names, ["registry.corp"]);
        let status = dir.status().unwrap();
        assert_eq!(status.origin, Some(Origin::OwnCertificate));
        assert_eq!(status.server.unwrap().names, ["registry.corp"]);
    }

    #[test]
    fn status_before_and_after_init() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path().join("nothing-yet"));
        let s = dir.status().unwrap();
        assert!(s.origin.is_none() && s.ca.is_none() && s.server.is_none());
        assert!(matches!(dir.ca_pem(), Err(Error::NoCa(_))));
        dir.init("h").unwrap();
        dir.ensure_server_certificate(&names(&[]), SystemTime::now())
            .unwrap();
        let s = dir.status().unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["origin"], "berth-ca");
        assert!(
            json["ca"]["sha256_fingerprint"]
                .as_str()
                .unwrap()
                .contains(':')
        );
        assert!(json["server"]["names"].as_array().unwrap().len() >= 4);
    }

    #[test]
    fn names_include_the_defaults_once() {
        assert_eq!(
            server_names("Build-01", &["LOCALHOST".into(), "r.example".into()]),
            ["localhost", "127.0.0.1", "::1", "build-01", "r.example"]
        );
        assert!(!hostname().is_empty());
    }
}
