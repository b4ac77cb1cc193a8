//! What talking to Swift can go wrong with, in words an admin can act on.

use berth_storage::{OpenError, StorageError};

use crate::NAME;

/// A failed Swift request.
#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    /// The object (or container) is not there.
    #[error("not found")]
    NotFound,
    /// The identity service or Swift refused the credentials.
    #[error(
        "Swift rejected the credentials: check storage.swift.username/password (and tenant/domain for Keystone){detail}"
    )]
    Credentials {
        /// The server's words, if any (starts with "; ").
        detail: String,
    },
    /// The user may not do this.
    #[error(
        "Swift refused {what} (403 Forbidden): the user lacks permission; check its roles or the container's ACLs{detail}"
    )]
    Forbidden {
        /// The request.
        what: String,
        /// The server's words, if any.
        detail: String,
    },
    /// Nothing answers at the URL.
    #[error(
        "cannot connect to {url}: {detail}; check storage.swift.authurl and that Swift is running"
    )]
    Connect {
        /// The URL.
        url: String,
        /// The transport's words.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error(
        "TLS handshake with {url} failed: {detail}; if the server uses a self-signed or private certificate, trust its CA or set storage.swift.insecureskipverify: true (and use http:// if it does not speak TLS at all)"
    )]
    Tls {
        /// The URL.
        url: String,
        /// The TLS library's words.
        detail: String,
    },
    /// The server did not answer in time.
    #[error(
        "request to {url} timed out: {detail}; check the network and that Swift is not overloaded"
    )]
    Timeout {
        /// The URL.
        url: String,
        /// The transport's words.
        detail: String,
    },
    /// A range beyond the end of the object.
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable,
    /// Any other answer.
    #[error("Swift answered {status} to {what}{detail}")]
    Status {
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The request.
        what: String,
        /// The server's words, if any.
        detail: String,
    },
    /// Anything else, already phrased.
    #[error("{0}")]
    Other(String),
}

impl SwiftError {
    /// A transport error from reqwest, classified.
    pub fn transport(url: &str, e: &reqwest::Error) -> SwiftError {
        let detail = chain(e);
        let url = redact_query(url);
        let lower = detail.to_ascii_lowercase();
        if ["certificate", "tls", "handshake", "corrupt message"]
            .iter()
            .any(|w| lower.contains(w))
        {
            SwiftError::Tls { url, detail }
        } else if e.is_timeout() {
            SwiftError::Timeout { url, detail }
        } else if e.is_connect() {
            SwiftError::Connect { url, detail }
        } else {
            SwiftError::Other(format!("request to {url} failed: {detail}"))
        }
    }

    /// This error as a driver error for `operation` on `path`.
    pub fn storage(self, operation: &'static str, path: &str) -> StorageError {
        match self {
            SwiftError::NotFound => StorageError::NotFound {
                driver: NAME,
                path: path.to_string(),
            },
            other => StorageError::Backend {
                driver: NAME,
                operation,
                path: path.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// This error as an error opening the driver.
    pub fn open(self, location: &str) -> OpenError {
        let kind = match &self {
            SwiftError::Credentials { .. } | SwiftError::Forbidden { .. } => {
                std::io::ErrorKind::PermissionDenied
            }
            SwiftError::Connect { .. } => std::io::ErrorKind::ConnectionRefused,
            SwiftError::Timeout { .. } => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::Other,
        };
        OpenError::Io {
            driver: NAME.to_string(),
            location: location.to_string(),
            source: std::io::Error::new(kind, self.to_string()),
        }
    }
}

/// An error and its sources, joined with ": ".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A URL without its query (TempURL signatures, markers).
fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// A server's error body, trimmed for a message ("; body" or "").
pub fn detail(body: &str) -> String {
    let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(300).collect();
    format!("; the server said: {short}")
}
