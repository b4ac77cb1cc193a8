//! X.509 certificates as Berth shows and installs them: PEM, names,
//! fingerprints, validity.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One parsed certificate, with what plans and the UI need from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    info: CertificateInfo,
    sha1: String,
    serial_hex: String,
}

/// What the status page shows about a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// The subject, e.g. `CN=Berth CA on build-01, O=Berth`.
    pub subject: String,
    /// The issuer's name.
    pub issuer: String,
    /// DNS names and IP addresses (subject alternative names).
    pub names: Vec<String>,
    /// SHA-256 of the DER encoding, `AB:CD:…` as `openssl x509
    /// -fingerprint -sha256` and browsers print it.
    pub sha256_fingerprint: String,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// End of validity as RFC 3339 (`2035-01-31T12:00:00Z`).
    pub not_after_rfc3339: String,
    /// A CA certificate (basicConstraints CA:TRUE).
    pub is_ca: bool,
}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate> {
        let (_, x509) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::cert("certificate", format!("not an X.509 certificate: {e}")))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for name in &san.value.general_names {
                use x509_parser::extensions::GeneralName;
                match name {
                    GeneralName::DNSName(n) => names.push(n.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let validity = x509.validity();
        let not_after = validity.not_after.timestamp();
        let info = CertificateInfo {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            names,
            sha256_fingerprint: colon_hex(&Sha256::digest(der)),
            not_before: validity.not_before.timestamp(),
            not_after,
            not_after_rfc3339: rfc3339(not_after),
            is_ca: x509.is_ca(),
        };
        Ok(Certificate {
            der: der.to_vec(),
            sha1: hex::encode_upper(Sha1::digest(der)),
            serial_hex: hex::encode_upper(x509.raw_serial()),
            info,
        })
    }

    /// Parses the first certificate of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Certificate> {
        Certificate::all_from_pem(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::cert("certificate", "no CERTIFICATE block in the PEM text"))
    }

    /// Parses every certificate of a PEM text (a chain or a bundle).
    pub fn all_from_pem(pem: &str) -> Result<Vec<Certificate>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|der| {
                let der = der.map_err(|e| Error::cert("certificate", format!("bad PEM: {e}")))?;
                Certificate::from_der(&der)
            })
            .collect()
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding, byte for byte the same wherever Berth writes it
    /// (64-column base64, LF line ends), so installed copies compare equal.
    pub fn pem(&self) -> String {
        to_pem(&self.der)
    }

    /// Names, fingerprint and validity.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// SHA-256 of the DER, `AB:CD:…`.
    pub fn sha256_fingerprint(&self) -> &str {
        &self.info.sha256_fingerprint
    }

    /// SHA-256 of the DER, lowercase hex without separators (what
    /// `sha256sum` prints for the DER file).
    pub fn sha256_hex(&self) -> String {
        self.info.sha256_fingerprint.replace(':', "").to_lowercase()
    }

    /// SHA-1 of the DER, uppercase hex: the "thumbprint" macOS
    /// (`security delete-certificate -Z`) and Windows (`Cert:\…\<thumbprint>`)
    /// name certificates by.
    pub fn sha1_thumbprint(&self) -> &str {
        &self.sha1
    }

    /// The serial number, uppercase hex (`certutil -delstore Root <serial>`).
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// The subject's common name, else the whole subject.
    pub fn common_name(&self) -> String {
        x509_parser::parse_x509_certificate(&self.der)
            .ok()
            .and_then(|(_, x)| {
                x.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_string))
            })
            .unwrap_or_else(|| self.info.subject.clone())
    }

    /// The end of validity.
    pub fn not_after(&self) -> SystemTime {
        unix_time(self.info.not_after)
    }
}

/// PEM text for DER bytes.
pub(crate) fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub(crate) fn unix_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

pub(crate) fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (rcgen::Certificate, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2026, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let pem = cert.pem();
        (cert, pem)
    }

    #[test]
    fn names_validity_and_fingerprints() {
        let (cert, pem) = sample();
        let c = Certificate::from_pem(&pem).unwrap();
        assert_eq!(c.der(), cert.der().as_ref());
        assert_eq!(c.info().names, ["localhost", "127.0.0.1"]);
        assert_eq!(c.info().not_after_rfc3339, "2026-01-01T00:00:00Z");
        assert!(!c.info().is_ca);
        let fp = c.sha256_fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert_eq!(c.sha256_hex(), hex::encode(Sha256::digest(cert.der())));
        assert_eq!(c.sha1_thumbprint().len(), 40);
        assert_eq!(c.pem(), pem.replace("\r\n", "\n"));
    }

    #[test]
    fn bundles_and_garbage() {
        let (_, a) = sample();
        let (_, b) = sample();
        assert_eq!(Certificate::all_from_pem(&(a + &b)).unwrap().len(), 2);
        assert!(Certificate::from_pem("hello").is_err());
        assert!(Certificate::from_der(b"nope").is_err());
    }
}
