//! Berth's local CA and client trust.
//!
//! A registry with a private CA is only useful once its clients trust that
//! CA. This crate does the whole job, for the desktop app, `berthd ca` and
//! (later) the registry's `/ca` endpoints:
//!
//! - [`ca`]: creates a Berth CA on first use (ECDSA P-256, ten years, the
//!   hostname in its name), issues and renews the registry's server
//!   certificate for `localhost`, `127.0.0.1`, `::1`, the hostname and extra
//!   names, or takes the admin's own CA or certificate; reports names,
//!   fingerprints and expiry.
//! - [`plan`]: computes, without touching anything, the exact files and
//!   commands that make a machine trust the CA: the OS store of
//!   Debian/Ubuntu, Fedora/RHEL, Arch, openSUSE, macOS and Windows, and per
//!   registry Docker, containerd, podman/CRI-O/buildah/skopeo and NSS; and
//!   the untrust plan that removes exactly that. [`insecure`] does the same
//!   for skipping verification (`insecure-registries` and friends).
//! - [`exec`]: applies a plan under a root directory (`/`, or a temporary
//!   directory in tests), asking for administrator rights once (pkexec,
//!   sudo, the macOS prompt, UAC) for the privileged steps; its dry run lists
//!   what would be touched.
//! - [`state`]: whether each client trusts the CA now, or skips
//!   verification; [`verify`]: a real TLS handshake per client with only
//!   the CA files that client reads.
//! - [`script`]: `install.sh` and `install.ps1` for other machines, rendered
//!   from the same plans, and the one-line commands that check a script's
//!   SHA-256 before running it.
//!
//! ```
//! use berth_trust::{CaDir, Machine, Platform, RegistryAddr, Target, exec::Executor, plan};
//!
//! let tmp = tempfile::tempdir()?;
//! let ca_dir = CaDir::new(tmp.path().join("ca"));
//! let ca = ca_dir.init("build-01")?.ca;
//! let names = berth_trust::ca::server_names("build-01", &["registry.example.com".into()]);
//! ca_dir.ensure_server_certificate(&names, std::time::SystemTime::now())?;
//!
//! // Trust it on a Debian filesystem under a temporary root.
//! let machine = Machine::new(Platform::Debian, tmp.path().join("root"), None);
//! let registry: RegistryAddr = "registry.example.com:5000".parse()?;
//! let plan = plan::trust(&machine, &registry, &ca, &[Target::System, Target::Docker])?;
//! let report = Executor::new(machine).apply(&plan);
//! assert!(report.succeeded());
//! assert!(tmp.path().join("root/etc/docker/certs.d/registry.example.com:5000/ca.crt").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod address;
pub mod ca;
pub mod cert;
pub mod error;
pub mod exec;
mod files;
pub mod insecure;
pub mod plan;
pub mod platform;
pub mod script;
mod shell;
pub mod state;
pub mod verify;

pub use address::RegistryAddr;
pub use ca::CaDir;
pub use cert::{Certificate, CertificateInfo};
pub use error::{Error, Result};
pub use plan::{Plan, Target};
pub use platform::{Machine, Platform};
