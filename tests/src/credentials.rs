//! What a registry is started with to guard itself: htpasswd files and TLS
//! certificates, made by the real tools (`htpasswd`, `openssl`) as an admin
//! would make them.
//!
//! ```no_run
//! let dir = tempfile::tempdir().unwrap();
//! let Some(file) = berth_e2e::credentials::htpasswd(dir.path(), "user", "pass") else {
//!     return;
//! };
//! let options = berth_e2e::registry::Options {
//!     htpasswd: Some(file),
//!     ..Default::default()
//! };
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peer;

/// Writes `<dir>/htpasswd` with one bcrypt entry for `user`; `None`
/// (outside CI) when `htpasswd` is not installed.
pub fn htpasswd(dir: &Path, user: &str, password: &str) -> Option<PathBuf> {
    let program = peer::require("htpasswd", "apache2-utils")?;
    let entry = run(&program, &["-Bbn", user, password]);
    let file = dir.join("htpasswd");
    std::fs::write(&file, entry).unwrap();
    Some(file)
}

/// A server certificate for 127.0.0.1 and its key.
#[derive(Clone, Debug)]
pub struct ServerCertificate {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// A directory holding the CA that signed it as `ca.crt`, the form
    /// skopeo's `--cert-dir` takes; for a self-signed certificate, the
    /// certificate itself.
    pub ca_dir: PathBuf,
}

/// The key options of every certificate here: a fresh P-256 key, unencrypted.
const P256: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A self-signed certificate for `CN=localhost`, `IP:127.0.0.1`, in `dir`;
/// `None` (outside CI) when `openssl` is not installed. It is a server
/// certificate, not a CA: rustls (webpki) refuses a CA certificate as a
/// server's own (`CaUsedAsEndEntity`).
pub fn self_signed_certificate(dir: &Path) -> Option<ServerCertificate> {
    let openssl = peer::require("openssl", "openssl")?;
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let (cert, key) = (ca_dir.join("ca.crt"), dir.join("key.pem"));
    run(
        &openssl,
        &[
            &["req", "-x509"],
            &P256[..],
            &["-days", "2", "-subj", "/CN=localhost"],
            &["-addext", "subjectAltName=IP:127.0.0.1"],
            &["-addext", "basicConstraints=critical,CA:FALSE"],
            &["-keyout", &utf8(&key), "-out", &utf8(&cert)],
        ]
        .concat(),
    );
    Some(ServerCertificate { cert, key, ca_dir })
}

/// A CA and a server certificate for 127.0.0.1 (SAN `IP:127.0.0.1`) it
/// signed, in `dir`, as an admin would make them for a private registry;
/// `None` (outside CI) when `openssl` is not installed.
pub fn issue_server_certificate(dir: &Path) -> Option<ServerCertificate> {
    let openssl = peer::require("openssl", "openssl")?;
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    let ca_cert = utf8(&ca_dir.join("ca.crt"));
    let ca_key = utf8(&dir.join("ca.key"));
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let csr = utf8(&dir.join("server.csr"));
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        &openssl,
        &[
            &["req", "-x509", "-days", "2", "-subj", "/CN=Berth e2e CA"],
            &P256[..],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            &["-keyout", &ca_key, "-out", &ca_cert],
        ]
        .concat(),
    );
    run(
        &openssl,
        &[
            &["req", "-new", "-subj", "/CN=127.0.0.1"],
            &P256[..],
            &["-keyout", &utf8(&key), "-out", &csr],
        ]
        .concat(),
    );
    run(
        &openssl,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &utf8(&ext),
            "-out",
            &utf8(&cert),
        ],
    );
    Some(ServerCertificate { cert, key, ca_dir })
}

/// Runs `program ARGS…`, panicking with its stderr unless it succeeds;
/// returns what it printed.
fn run(program: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn utf8(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}
