//! Proof that trust works: a real TLS handshake with the registry for each
//! client, using only the CA files that client reads on the machine's root.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use serde::Serialize;

use crate::address::RegistryAddr;
use crate::plan::{Target, certs_d_dir, system_anchor, target_present};
use crate::platform::{Machine, Platform};
use crate::state::{containerd_ca_files, crt_files};

/// What a handshake with a client's CA files showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyState {
    /// The handshake succeeds: this client trusts the registry.
    Trusted,
    /// The handshake fails on the certificate.
    NotTrusted,
    /// The client is not installed.
    NotPresent,
    /// The registry could not be reached at all.
    Unreachable,
    /// Not checked (the client skips verification, or only its own tool can
    /// tell).
    NotChecked,
}

/// One client's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The client.
    pub target: Target,
    /// Its name in the UI.
    pub label: &'static str,
    /// The outcome.
    pub state: VerifyState,
    /// The TLS error, or what was used.
    pub detail: String,
    /// The CA files (or store) the handshake trusted.
    pub sources: Vec<String>,
}

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// No TCP connection.
    Connect(String),
    /// TLS failed (an unknown issuer, a name mismatch, an expired
    /// certificate, …).
    Tls(String),
    /// There was nothing to trust.
    NoRoots,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Connect(e) => write!(f, "cannot connect: {e}"),
            HandshakeError::Tls(e) => f.write_str(e),
            HandshakeError::NoRoots => f.write_str("no CA certificates to verify with"),
        }
    }
}

/// A TLS handshake with `addr`, verifying the certificate for
/// `server_name` (a DNS name or an IP address) against `roots` only.
pub fn handshake(
    addr: SocketAddr,
    server_name: &str,
    roots: &[CertificateDer<'static>],
    timeout: Duration,
) -> Result<(), HandshakeError> {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(roots.iter().cloned());
    if store.is_empty() {
        return Err(HandshakeError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HandshakeError::Tls(e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| HandshakeError::Tls(format!("{server_name:?}: {e}")))?;
    let mut conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| HandshakeError::Tls(e.to_string()))?;
    let mut sock = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| HandshakeError::Connect(format!("{addr}: {e}")))?;
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => HandshakeError::Tls(tls.to_string()),
                None if e.kind() == io::ErrorKind::InvalidData => {
                    HandshakeError::Tls(e.to_string())
                }
                None => HandshakeError::Connect(e.to_string()),
            }
        })?;
    }
    Ok(())
}

/// Every certificate in the PEM files at `paths` (unreadable files are
/// skipped: a client would skip them too).
pub fn load_pem_files(paths: &[PathBuf]) -> Vec<CertificateDer<'static>> {
    paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .flat_map(|bytes| {
            CertificateDer::pem_slice_iter(&bytes)
                .filter_map(Result::ok)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pem_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(pem_files_under(&path));
        } else if path.extension().is_some_and(|x| x == "crt" || x == "pem") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The OS store's roots: on the live machine, the platform's store (through
/// rustls-native-certs); under another root, the bundle the platform's
/// refresh command produces plus the anchors waiting for it (the refresh
/// does not run under a test root).
fn system_roots(
    machine: &Machine,
    registry: &RegistryAddr,
) -> (Vec<CertificateDer<'static>>, Vec<String>) {
    if machine.is_live() {
        let found = rustls_native_certs::load_native_certs();
        return (found.certs, vec!["the system's certificate store".into()]);
    }
    let (bundles, anchor_dirs): (&[&str], &[&str]) = match machine.platform {
        Platform::Debian => (
            &["/etc/ssl/certs/ca-certificates.crt"],
            &["/usr/local/share/ca-certificates"],
        ),
        Platform::Fedora => (
            &["/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"],
            &["/etc/pki/ca-trust/source/anchors"],
        ),
        Platform::Suse => (
            &["/var/lib/ca-certificates/ca-bundle.pem"],
            &["/etc/pki/trust/anchors"],
        ),
        Platform::Arch => (
            &["/etc/ca-certificates/extracted/tls-ca-bundle.pem"],
            &[
                "/etc/ca-certificates/trust-source/anchors",
                "/usr/local/share/berth",
            ],
        ),
        _ => (&[], &[]),
    };
    let mut files: Vec<PathBuf> = bundles.iter().map(|b| machine.path(Path::new(b))).collect();
    for dir in anchor_dirs {
        files.extend(pem_files_under(&machine.path(Path::new(dir))));
    }
    if bundles.is_empty()
        && let Ok(anchor) = system_anchor(machine, registry)
    {
        files.push(machine.path(&anchor));
    }
    let files: Vec<PathBuf> = files.into_iter().filter(|f| f.is_file()).collect();
    let names = files.iter().map(|f| f.display().to_string()).collect();
    (load_pem_files(&files), names)
}

/// The registry's socket address (port 443 when none is given).
pub fn resolve(registry: &RegistryAddr) -> io::Result<SocketAddr> {
    (registry.host(), registry.port().unwrap_or(443))
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Connects to the registry once per client of the platform, trusting only
/// what that client trusts on `machine`: the OS store; Docker and
/// podman/CRI-O the OS store plus their `certs.d/<host:port>/*.crt`;
/// containerd the OS store plus `hosts.toml`'s `ca`. `connect` overrides
/// where to connect (the certificate is still checked for the registry's
/// host).
pub fn verify(
    machine: &Machine,
    registry: &RegistryAddr,
    connect: Option<SocketAddr>,
    timeout: Duration,
) -> Vec<Verdict> {
    let addr = connect.map(Ok).unwrap_or_else(|| resolve(registry));
    let (system, system_sources) = system_roots(machine, registry);
    Target::for_platform(machine.platform)
        .iter()
        .map(|&target| {
            let verdict = |state, detail: String, sources: Vec<String>| Verdict {
                target,
                label: target.label(),
                state,
                detail,
                sources,
            };
            if !target_present(machine, target) {
                return verdict(VerifyState::NotPresent, String::new(), Vec::new());
            }
            let extra: Vec<PathBuf> = match target {
                Target::System => Vec::new(),
                Target::Docker | Target::Containers => certs_d_dir(machine, target, registry)
                    .map(|d| crt_files(&machine.path(&d)))
                    .unwrap_or_default(),
                Target::Containerd => match containerd_ca_files(machine, registry) {
                    Some(files) => files,
                    None => {
                        return verdict(
                            VerifyState::NotChecked,
                            "hosts.toml skips verification".into(),
                            Vec::new(),
                        );
                    }
                },
                Target::Nss => {
                    return verdict(
                        VerifyState::NotChecked,
                        "browsers verify with their own NSS code; see `berthd ca status`".into(),
                        Vec::new(),
                    );
                }
            };
            let mut roots = system.clone();
            roots.extend(load_pem_files(&extra));
            let mut sources = system_sources.clone();
            sources.extend(extra.iter().map(|p| p.display().to_string()));
            let addr = match &addr {
                Ok(a) => *a,
                Err(e) => {
                    return verdict(
                        VerifyState::Unreachable,
                        format!("cannot resolve {registry}: {e}"),
                        sources,
                    );
                }
            };
            match handshake(addr, registry.host(), &roots, timeout) {
                Ok(()) => verdict(
                    VerifyState::Trusted,
                    format!("TLS handshake with {addr} verified"),
                    sources,
                ),
                Err(HandshakeError::Connect(e)) => verdict(VerifyState::Unreachable, e, sources),
                Err(e) => verdict(VerifyState::NotTrusted, e.to_string(), sources),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::ca::{CaDir, server_names};
    use crate::exec::Executor;
    use crate::plan;

    /// A TLS server on 127.0.0.1 that completes handshakes with `dir`'s
    /// server certificate, for as long as the test runs.
    fn serve(dir: &CaDir) -> SocketAddr {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.server_cert_path())
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.server_key_path()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let config = config.clone();
                std::thread::spawn(move || {
                    let mut conn = rustls::ServerConnection::new(config).unwrap();
                    while conn.is_handshaking() {
                        if conn.complete_io(&mut stream).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn handshake_passes_only_with_the_installed_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path().join("ca"));
        let ca = dir.init("test-host").unwrap().ca;
        dir.ensure_server_certificate(&server_names("test-host", &[]), SystemTime::now())
            .unwrap();
        let addr = serve(&dir);
        let registry: RegistryAddr = format!("127.0.0.1:{}", addr.port()).parse().unwrap();

        let root = tmp.path().join("root");
        for d in ["etc/docker", "etc/containers"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("etc/os-release"), "ID=ubuntu\nID_LIKE=debian\n").unwrap();
        let machine = Machine::detect(&root).unwrap();
        let timeout = Duration::from_secs(5);
        let states = |m: &Machine| {
            verify(m, &registry, None, timeout)
                .into_iter()
                .map(|v| (v.target, v.state))
                .collect::<Vec<_>>()
        };
        let before = verify(&machine, &registry, None, timeout);
        assert_eq!(before[1].state, VerifyState::NotTrusted, "{before:?}");

        let targets = plan::present_targets(&machine);
        let exec = Executor::new(machine.clone());
        assert!(
            exec.apply(&plan::trust(&machine, &registry, &ca, &targets).unwrap())
                .succeeded()
        );
        assert_eq!(
            states(&machine),
            [
                (Target::System, VerifyState::Trusted),
                (Target::Docker, VerifyState::Trusted),
                (Target::Containerd, VerifyState::NotPresent),
                (Target::Containers, VerifyState::Trusted),
                (Target::Nss, VerifyState::NotPresent),
            ]
        );
        // The hostname is in the certificate too.
        let by_name: RegistryAddr = format!("test-host:{}", addr.port()).parse().unwrap();
        let roots = load_pem_files(&[dir.ca_cert_path()]);
        assert_eq!(handshake(addr, by_name.host(), &roots, timeout), Ok(()));
        assert!(matches!(
            handshake(addr, "elsewhere.example", &roots, timeout),
            Err(HandshakeError::Tls(e)) if e.contains("certificate")
        ));

        assert!(
            exec.apply(&plan::untrust(&machine, &registry, &ca, &targets).unwrap())
                .succeeded()
        );
        assert!(
            states(&machine)
                .iter()
                .all(|(_, s)| matches!(s, VerifyState::NotTrusted | VerifyState::NotPresent)),
            "{:?}",
            states(&machine)
        );
    }

    #[test]
    fn unreachable_is_not_untrusted() {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let roots = load_pem_files(&[]);
        assert_eq!(
            handshake(free, "localhost", &roots, Duration::from_secs(2)),
            Err(HandshakeError::NoRoots)
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaDir::new(tmp.path());
        dir.init("h").unwrap();
        let roots = load_pem_files(&[dir.ca_cert_path()]);
        assert!(matches!(
            handshake(free, "localhost", &roots, Duration::from_secs(2)),
            Err(HandshakeError::Connect(_))
        ));
    }
}
