//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong while keeping the CA or making clients trust it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file or directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write", "cannot read", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The CA directory has no CA yet (`berthd ca init` creates one).
    #[error("no CA in {0}: run `berthd ca init` first")]
    NoCa(PathBuf),
    /// The CA directory holds the admin's own server certificate: there is
    /// no CA key to issue from.
    #[error("{0} holds your own server certificate; Berth does not issue certificates there")]
    OwnCertificate(PathBuf),
    /// A certificate could not be parsed or is not what it must be.
    #[error("{what}: {reason}")]
    Certificate {
        /// Which certificate ("the CA certificate in ca.crt", …).
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// A private key could not be used.
    #[error("{what}: {reason}")]
    Key {
        /// Which key.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// rcgen could not generate a key or sign a certificate.
    #[error("cannot create the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A name for a server certificate that is neither a DNS name nor an IP address.
    #[error(
        "{0:?} is not a name a certificate can hold: write a DNS name (registry.example.com, *.example.com) or an IP address"
    )]
    Name(String),
    /// A registry address that is not `host[:port]`.
    #[error("{0:?} is not a registry address: write host:port (e.g. registry.example.com:5000)")]
    Address(String),
    /// The platform could not be recognised.
    #[error("cannot tell which platform {root} is: {reason}")]
    UnknownPlatform {
        /// The filesystem root looked at.
        root: PathBuf,
        /// What was missing or unknown.
        reason: String,
    },
    /// An existing client config file that Berth must merge into is not
    /// valid; Berth does not overwrite what it cannot read.
    #[error("{path} is not valid {format}, so Berth leaves it alone: {reason}")]
    ExistingConfig {
        /// The file.
        path: PathBuf,
        /// JSON or TOML.
        format: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// The asked operation does not exist for this platform or client.
    #[error("{0}")]
    NotSupported(String),
    /// A command the plan runs failed.
    #[error("{command} failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and what it printed.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn cert(what: impl Into<String>, reason: impl ToString) -> Self {
        Error::Certificate {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
