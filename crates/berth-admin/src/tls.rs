//! TLS by default: the app's own CA in `<data dir>/ca`, the registry's
//! certificate issued from it, `http.tls` in config.yml pointing at it, and
//! the certificate renewed before the registry starts when it needs to be.
//!
//! A registry without `http.tls` gets Berth's certificate only while the
//! app has no CA yet (a first launch, or an app from before TLS was the
//! default). Once the CA exists, a config.yml without `http.tls` is the
//! admin's choice (plain HTTP) and is left so; one with another certificate
//! is theirs too.

use std::path::Path;
use std::time::SystemTime;

use berth_config::{Config, Tls};
use berth_trust::ca::{self, CaDir};
use berth_trust::{CertificateInfo, RegistryAddr};
use serde::Serialize;

/// The app's CA directory (what `berthd ca --dir` defaults to as well).
pub(crate) fn ca_dir(data_dir: &Path) -> CaDir {
    CaDir::new(data_dir.join("ca"))
}

/// True when config.yml serves the certificate Berth issues in `ca_dir`.
pub(crate) fn uses_berth_certificate(config: &Config, ca_dir: &CaDir) -> bool {
    config
        .http
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_deref())
        .is_some_and(|c| c == ca_dir.server_cert_path())
}

/// The names the registry's certificate covers: localhost, 127.0.0.1, ::1,
/// the hostname, the names config.yml gives the registry (a specific
/// `http.addr`, `http.host`) and those the admin added on the Trust page.
pub(crate) fn server_names(config: &Config, ca_dir: &CaDir) -> Vec<String> {
    let mut extra = ca_dir.extra_names().unwrap_or_default();
    if let Some(host) = http_host(config) {
        extra.push(host.host().to_string());
    }
    if let Some(listen) = listen_host(config) {
        extra.push(listen);
    }
    ca::server_names(&ca::hostname(), &extra)
}

/// `http.host` as the registry address clients use, when it is one.
pub(crate) fn http_host(config: &Config) -> Option<RegistryAddr> {
    let host = config.http.host.as_deref().filter(|h| !h.is_empty())?;
    let rest = host.split_once("://").map_or(host, |(_, rest)| rest);
    rest.split('/').next()?.parse().ok()
}

/// The host of a specific (not wildcard) `http.addr`.
fn listen_host(config: &Config) -> Option<String> {
    let addr: RegistryAddr = config.http.addr.parse().ok()?;
    let host = addr.host();
    (!host.is_empty() && host != "0.0.0.0" && host != "::").then(|| host.to_string())
}

/// What happened to TLS before a start, for the registry's log.
pub(crate) enum Prepared {
    /// Nothing to do.
    Unchanged,
    /// TLS was turned on: `http.tls` now names Berth's certificate.
    Enabled(Box<Config>, String),
    /// The certificate was (re)issued.
    Renewed(String),
}

/// Turns TLS on with Berth's CA for a registry that has none and an app
/// that has no CA yet; renews Berth's certificate when config.yml uses it.
pub(crate) fn prepare(
    config: &Config,
    ca_dir: &CaDir,
    first_start: bool,
) -> Result<Prepared, String> {
    let fresh = ca_dir.origin().map_err(|e| e.to_string())?.is_none();
    if config.http.tls.is_none() && first_start && fresh {
        let init = ca_dir.init(&ca::hostname()).map_err(|e| e.to_string())?;
        let issued = ca_dir
            .ensure_server_certificate(&server_names(config, ca_dir), SystemTime::now())
            .map_err(|e| e.to_string())?;
        let mut enabled = config.clone();
        enabled.http.tls = Some(Tls {
            certificate: Some(ca_dir.server_cert_path()),
            key: Some(ca_dir.server_key_path()),
            ..Tls::default()
        });
        let message = format!(
            "TLS is on: created the CA {} (SHA-256 {}) in {} and issued the registry's \
             certificate for {}",
            init.ca.info().subject,
            init.ca.sha256_fingerprint(),
            ca_dir.path().display(),
            issued.certificate.info().names.join(", ")
        );
        return Ok(Prepared::Enabled(Box::new(enabled), message));
    }
    if !uses_berth_certificate(config, ca_dir) {
        return Ok(Prepared::Unchanged);
    }
    if fresh {
        // config.yml names Berth's certificate but the CA is gone: make one.
        ca_dir.init(&ca::hostname()).map_err(|e| e.to_string())?;
    }
    let server = ca_dir
        .ensure_server_certificate(&server_names(config, ca_dir), SystemTime::now())
        .map_err(|e| e.to_string())?;
    Ok(match server.issued {
        Some(reason) => Prepared::Renewed(format!(
            "issued the registry's certificate for {} ({reason}), valid until {}",
            server.certificate.info().names.join(", "),
            server.certificate.info().not_after_rfc3339
        )),
        None => Prepared::Unchanged,
    })
}

/// A certificate as the UI shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// `CN=…, O=…`.
    pub subject: String,
    /// The issuer's name.
    pub issuer: String,
    /// DNS names and IP addresses.
    pub names: Vec<String>,
    /// `AB:CD:…`, as browsers and `openssl x509 -fingerprint -sha256` print it.
    pub sha256_fingerprint: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// A CA certificate.
    pub is_ca: bool,
}

impl From<&CertificateInfo> for CertificateView {
    fn from(info: &CertificateInfo) -> CertificateView {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        CertificateView {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            names: info.names.clone(),
            sha256_fingerprint: info.sha256_fingerprint.clone(),
            not_after: info.not_after_rfc3339.clone(),
            days_left: (info.not_after - now).div_euclid(86_400),
            is_ca: info.is_ca,
        }
    }
}

/// The certificate config.yml serves (the first of `http.tls.certificate`).
pub(crate) fn served_certificate(config: &Config) -> Option<CertificateView> {
    let path = config.http.tls.as_ref()?.certificate.as_deref()?;
    let pem = std::fs::read_to_string(path).ok()?;
    let cert = berth_trust::Certificate::from_pem(&pem).ok()?;
    Some(CertificateView::from(cert.info()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(http: &str) -> Config {
        let yaml = format!("version: 0.1\nstorage: inmemory\nhttp:\n{http}");
        Config::parse(&yaml, "c", []).unwrap().config
    }

    #[test]
    fn first_start_turns_tls_on_then_the_choice_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = ca_dir(dir.path());
        let plain = config("  addr: 10.1.2.3:5000\n  host: https://registry.example.com:5000\n");
        let Prepared::Enabled(enabled, message) = prepare(&plain, &ca_dir, true).unwrap() else {
            panic!("TLS was not turned on");
        };
        assert!(message.contains("TLS is on"), "{message}");
        assert!(uses_berth_certificate(&enabled, &ca_dir));
        let served = served_certificate(&enabled).unwrap();
        for name in ["localhost", "127.0.0.1", "10.1.2.3", "registry.example.com"] {
            assert!(
                served.names.iter().any(|n| n == name),
                "{name}: {:?}",
                served.names
            );
        }
        assert!(served.days_left > 300, "{}", served.days_left);

        // Started again: nothing to renew.
        assert!(matches!(
            prepare(&enabled, &ca_dir, true).unwrap(),
            Prepared::Unchanged
        ));
        // New names: re-issued.
        let mut renamed = enabled.clone();
        renamed.http.addr = "10.9.9.9:5000".into();
        let Prepared::Renewed(why) = prepare(&renamed, &ca_dir, false).unwrap() else {
            panic!("not renewed");
        };
        assert!(why.contains("10.9.9.9"), "{why}");
        // The admin removed http.tls after the CA existed: plain HTTP stays.
        assert!(matches!(
            prepare(&plain, &ca_dir, true).unwrap(),
            Prepared::Unchanged
        ));
    }

    #[test]
    fn someone_elses_certificate_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let own = config(
            "  addr: :5000\n  tls:\n    certificate: /etc/ssl/mine.crt\n    key: /etc/ssl/mine.key\n",
        );
        let ca_dir = ca_dir(dir.path());
        assert!(matches!(
            prepare(&own, &ca_dir, true).unwrap(),
            Prepared::Unchanged
        ));
        assert!(
            !ca_dir.path().exists(),
            "no CA made for someone else's certificate"
        );
    }
}
