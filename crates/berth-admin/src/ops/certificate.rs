//! `certificateNames`, `certificateImport`: the registry's certificate as
//! the admin shapes it (extra names; their own CA or certificate), and its
//! renewal while the app runs.
//!
//! A change restarts the registry on the new certificate and waits until it
//! is healthy; when it does not come up, the CA directory and config.yml are
//! put back as they were and the registry is started on them again.

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use berth_config::Tls;
use serde::Deserialize;

use super::trust::TrustStatus;
use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::tls;

/// The arguments of `certificateNames`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamesArgs {
    /// The extra DNS names and IP addresses (the whole list).
    names: Vec<String>,
}

/// What `certificateImport` brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    /// A CA (certificate and key) Berth issues the registry's certificate from.
    OwnCa,
    /// The registry's own certificate chain and key; Berth issues nothing.
    OwnCertificate,
}

/// The arguments of `certificateImport`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportArgs {
    kind: ImportKind,
    /// PEM: the CA certificate, or the server certificate chain.
    certificate_pem: String,
    /// PEM (PKCS#8): its private key.
    key_pem: String,
    /// PEM, for `own-certificate`: the CA(s) clients should trust; the last
    /// certificate of the chain without it.
    #[serde(default)]
    ca_bundle_pem: Option<String>,
}

/// The files of the CA directory as they were, to put back.
struct Snapshot {
    files: Vec<(PathBuf, Option<Saved>)>,
}

/// One file's bytes and permission bits.
struct Saved {
    bytes: Vec<u8>,
    mode: u32,
}

impl Snapshot {
    fn take(dir: &std::path::Path) -> Snapshot {
        let mut files = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_file() {
                    continue;
                }
                let mode = mode_of(&path);
                let saved = std::fs::read(&path).ok().map(|bytes| Saved { bytes, mode });
                files.push((path, saved));
            }
        }
        Snapshot { files }
    }

    /// Puts every file back (and removes the ones that were not there).
    fn restore(&self, dir: &std::path::Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() && !self.files.iter().any(|(p, _)| *p == path) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        for (path, content) in &self.files {
            if let Some(saved) = content {
                let _ = crate::store::write_atomically(path, &saved.bytes, Some(saved.mode));
            }
        }
    }
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_: &std::path::Path) -> u32 {
    0o600
}

fn refused(e: berth_trust::Error, field: &str) -> AdminError {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(field.to_string(), e.to_string());
    AdminError::invalid_input(
        e.to_string(),
        "correct it and try again; nothing was changed",
    )
    .with_fields(fields)
}

impl Admin {
    /// `certificateNames`: keeps the extra names and, when the registry
    /// serves Berth's certificate, reissues it and restarts the registry.
    pub(crate) async fn certificate_names(
        &self,
        args: NamesArgs,
    ) -> Result<TrustStatus, AdminError> {
        let _change = self.changes.lock().await;
        let ca_dir = tls::ca_dir(&self.options.data_dir);
        let before = Snapshot::take(ca_dir.path());
        ca_dir
            .set_extra_names(&args.names)
            .map_err(|e| refused(e, "names"))?;
        let config = self.current();
        if tls::uses_berth_certificate(&config, &ca_dir) {
            self.restart_or_restore(&before, None).await?;
        }
        self.trust_status()
    }

    /// `certificateImport`: the admin's own CA or certificate, served from
    /// now on (TLS is turned on with it when it was off).
    pub(crate) async fn certificate_import(
        &self,
        args: ImportArgs,
    ) -> Result<TrustStatus, AdminError> {
        let _change = self.changes.lock().await;
        let ca_dir = tls::ca_dir(&self.options.data_dir);
        let before = Snapshot::take(ca_dir.path());
        match args.kind {
            ImportKind::OwnCa => {
                ca_dir
                    .import_ca(&args.certificate_pem, &args.key_pem)
                    .map_err(|e| refused(e, "certificatePem"))?;
            }
            ImportKind::OwnCertificate => {
                ca_dir
                    .import_server_certificate(
                        &args.certificate_pem,
                        &args.key_pem,
                        args.ca_bundle_pem
                            .as_deref()
                            .filter(|b| !b.trim().is_empty()),
                    )
                    .map_err(|e| refused(e, "certificatePem"))?;
            }
        }
        let previous = self.current();
        let mut config = previous.clone();
        if !tls::uses_berth_certificate(&config, &ca_dir) {
            let tls = config.http.tls.get_or_insert_with(Tls::default);
            tls.certificate = Some(ca_dir.server_cert_path());
            tls.key = Some(ca_dir.server_key_path());
            if let Err(e) = self.store.write(&config) {
                before.restore(ca_dir.path());
                return Err(e);
            }
            self.set_current(config);
        }
        self.restart_or_restore(&before, Some(previous)).await?;
        self.trust_status()
    }

    /// Restarts the registry on the changed certificate; when it does not
    /// come up, puts the CA directory (and config.yml) back and starts it
    /// on them. The caller holds `self.changes`.
    async fn restart_or_restore(
        &self,
        before: &Snapshot,
        previous: Option<berth_config::Config>,
    ) -> Result<(), AdminError> {
        let Err(reason) = self.restart_and_wait().await else {
            return Ok(());
        };
        let ca_dir = tls::ca_dir(&self.options.data_dir);
        before.restore(ca_dir.path());
        if let Some(previous) = previous {
            let _ = self.store.write(&previous);
            self.set_current(previous);
        }
        let back = self.restart_and_wait().await;
        Err(AdminError::new(
            ErrorCode::Sidecar,
            format!("the registry did not start with the new certificate: {reason}"),
            match back {
                Ok(()) => {
                    "the previous certificate is back and the registry runs on it".to_string()
                }
                Err(e) => format!(
                    "the previous certificate is back, but the registry did not start on it either: {e}"
                ),
            },
        ))
    }
}

/// Renews the registry's certificate while the app runs: every
/// `Tuning::renewal_check`, a certificate within 30 days of its end (or no
/// longer matching its names or CA) is reissued in place. The running
/// registry notices the changed files (it looks at most once a second, when
/// a connection comes) and serves the new certificate without a restart.
/// Ends with the admin.
pub(crate) fn spawn_renewal(admin: &Arc<Admin>) {
    let weak: Weak<Admin> = Arc::downgrade(admin);
    let every = admin.tuning.renewal_check;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(admin) = weak.upgrade() else { break };
            let _change = admin.changes.lock().await;
            let ca_dir = tls::ca_dir(&admin.options.data_dir);
            match tls::prepare(&admin.current(), &ca_dir, false) {
                Ok(tls::Prepared::Renewed(message)) => admin.sidecar.logs().push(&format!(
                    "{message}; the registry serves it within a second, without a restart"
                )),
                Ok(_) => {}
                Err(e) => admin.sidecar.logs().push(&format!(
                    "warning: cannot renew the registry's certificate: {e}"
                )),
            }
        }
    });
}
