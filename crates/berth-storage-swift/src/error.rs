//! What talking to Swift can go wrong with, in words an admin can act on.
//! The HTTP side of each message comes from [`berth_storage::http_error`];
//! what to check (Swift's settings, roles and ACLs) is said here.

use berth_storage::http_error::{self, Hints, TransportFailure, TransportKind};
use berth_storage::{OpenError, StorageError};
use reqwest::StatusCode;

use crate::NAME;

/// What to check after a 401 or a 403 from Swift or its identity service.
pub const HINTS: Hints<'static> = Hints {
    backend: "Swift",
    credentials: "storage.swift.username and storage.swift.password (with Keystone also \
                  tenant/tenantid and domain)",
    permission: "the user's roles (the account's owner may do everything: TempAuth's \
                 .admin group, Keystone's operator role) or the container's ACLs \
                 (X-Container-Read to read, X-Container-Write to write)",
};

/// A failed Swift request.
#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    /// The object (or container) is not there.
    #[error("not found")]
    NotFound,
    /// A range beyond the end of the object.
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable,
    /// Any other HTTP error answer (401, 403, 5xx, …), explained.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// What happened and what to check.
        message: String,
    },
    /// No HTTP answer (connection refused, TLS, timeout), explained.
    #[error("{message}")]
    Transport {
        /// Why there was no answer.
        kind: TransportKind,
        /// What happened and what to check.
        message: String,
    },
    /// Anything else, already phrased.
    #[error("{0}")]
    Other(String),
}

impl SwiftError {
    /// An HTTP error answer `status` to `what`, with the server's `body`.
    pub fn status(status: StatusCode, what: &str, body: &str) -> SwiftError {
        let said = http_error::body_excerpt(body);
        SwiftError::Status {
            status,
            message: http_error::status_message(status, what, said.as_deref(), &HINTS),
        }
    }

    /// A transport error from reqwest for a request to `url`, classified.
    pub fn transport(url: &str, e: &reqwest::Error) -> SwiftError {
        let failure = TransportFailure::of(e);
        let hint = match failure.kind {
            TransportKind::Tls => {
                "if the server uses a self-signed or private certificate, trust its CA or set \
                 storage.swift.insecureskipverify: true (and use http:// if it does not speak \
                 TLS at all)"
            }
            TransportKind::Timeout => "check the network and that Swift is not overloaded",
            TransportKind::Connect => "check storage.swift.authurl and that Swift is running",
            _ => "",
        };
        let url = redact_query(url);
        SwiftError::Transport {
            kind: failure.kind,
            message: failure.message(&url, "request", hint),
        }
    }

    /// True for failures worth another try: no connection, no answer in time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SwiftError::Transport {
                kind: TransportKind::Connect | TransportKind::Timeout,
                ..
            }
        )
    }

    /// The HTTP status of an error answer.
    pub fn http_status(&self) -> Option<StatusCode> {
        match self {
            SwiftError::Status { status, .. } => Some(*status),
            SwiftError::NotFound => Some(StatusCode::NOT_FOUND),
            SwiftError::RangeNotSatisfiable => Some(StatusCode::RANGE_NOT_SATISFIABLE),
            _ => None,
        }
    }

    /// The same error with `hint` appended to its message.
    pub fn hint(self, hint: &str) -> SwiftError {
        match self {
            SwiftError::Status { status, message } => SwiftError::Status {
                status,
                message: format!("{message}; {hint}"),
            },
            SwiftError::Transport { kind, message } => SwiftError::Transport {
                kind,
                message: format!("{message}; {hint}"),
            },
            other => other,
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
            SwiftError::Status { status, .. }
                if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
            {
                std::io::ErrorKind::PermissionDenied
            }
            SwiftError::Transport { kind, .. } => match kind {
                TransportKind::Connect => std::io::ErrorKind::ConnectionRefused,
                TransportKind::Timeout => std::io::ErrorKind::TimedOut,
                _ => std::io::ErrorKind::Other,
            },
            _ => std::io::ErrorKind::Other,
        };
        OpenError::Io {
            driver: NAME.to_string(),
            location: location.to_string(),
            source: std::io::Error::new(kind, self.to_string()),
        }
    }
}

/// A URL without its query (TempURL signatures, markers).
fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_write_names_roles_and_acls() {
        let e = SwiftError::status(
            StatusCode::FORBIDDEN,
            "PUT object",
            "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>",
        );
        let text = e.to_string();
        assert!(
            text.starts_with("Swift refused PUT object (403 Forbidden"),
            "{text}"
        );
        assert!(
            text.contains("Access was denied to this resource."),
            "{text}"
        );
        assert!(
            text.contains(".admin") && text.contains("X-Container-Write"),
            "{text}"
        );
        let open = e.open("http://h/auth/v1.0");
        let OpenError::Io { source, .. } = &open else {
            panic!("{open}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn queries_are_not_repeated_in_messages() {
        assert_eq!(
            redact_query("http://h/v1/AUTH_t/c/o?temp_url_sig=secret&temp_url_expires=1"),
            "http://h/v1/AUTH_t/c/o"
        );
    }
}
