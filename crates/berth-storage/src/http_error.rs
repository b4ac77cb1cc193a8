//! Messages for failed HTTP requests to a storage backend: what went wrong
//! and what an admin should check.
//!
//! The cloud drivers talk to their backends with `reqwest`. What depends on
//! HTTP alone lives here: which kind of transport failure an error is, what
//! a status code means, how much of an error body to quote. Each driver
//! adds what only it knows: its parameter names, its backend's roles and
//! ACLs, which statuses it handles itself (a 404 is usually "not found").
//!
//! ```
//! use berth_storage::http_error::{Hints, body_excerpt, status_message};
//! use reqwest::StatusCode;
//!
//! let hints = Hints {
//!     backend: "Swift",
//!     credentials: "storage.swift.username and storage.swift.password",
//!     permission: "the user's roles and the container's ACLs",
//! };
//! let said = body_excerpt("<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>");
//! let message = status_message(StatusCode::FORBIDDEN, "PUT object", said.as_deref(), &hints);
//! assert_eq!(
//!     message,
//!     "Swift refused PUT object (403 Forbidden; the server said: Forbidden Access was \
//!      denied to this resource.): the credentials were accepted but lack permission; \
//!      check the user's roles and the container's ACLs"
//! );
//! ```

use std::error::Error;

use reqwest::StatusCode;

/// How many characters of a server's error body a message quotes.
const EXCERPT_CHARS: usize = 300;

/// Words in a transport error that mean the TLS handshake failed.
const TLS_WORDS: [&str; 5] = [
    "certificate",
    "tls",
    "handshake",
    "corrupt message",
    "alert",
];

/// What an admin should check, in one driver's words.
#[derive(Clone, Copy, Debug)]
pub struct Hints<'a> {
    /// The backend's name for people: `Swift`, `GCS`.
    pub backend: &'a str,
    /// After a 401: the settings that hold the credentials.
    pub credentials: &'a str,
    /// After a 403: what grants the permission that is missing.
    pub permission: &'a str,
}

/// The message for an HTTP error answer: `status` to the request `what`,
/// with the server's own words (`said`, see [`body_excerpt`]) when it gave
/// any, and what to do about it.
pub fn status_message(status: StatusCode, what: &str, said: Option<&str>, hints: &Hints) -> String {
    let backend = hints.backend;
    let answer = match said {
        Some(s) => format!("{status}; the server said: {s}"),
        None => status.to_string(),
    };
    match status.as_u16() {
        401 => format!(
            "{backend} rejected the credentials for {what} ({answer}): check {}",
            hints.credentials
        ),
        403 => format!(
            "{backend} refused {what} ({answer}): the credentials were accepted but lack \
             permission; check {}",
            hints.permission
        ),
        404 => format!("{backend} has nothing at the address of {what} ({answer})"),
        408 | 429 | 503 => format!(
            "{backend} did not take {what} ({answer}): it is overloaded or throttling \
             requests; try again later"
        ),
        500..=599 => format!(
            "{backend} failed {what} ({answer}): an error on the server's side; try again \
             later, and check the server's health if it persists"
        ),
        _ => format!("{backend} answered {what} with {answer}"),
    }
}

/// A server's error body, fit for quoting: tags dropped, white space
/// folded, at most 300 characters; `None` when nothing is left.
pub fn body_excerpt(body: &str) -> Option<String> {
    let mut text = String::with_capacity(body.len().min(4 * EXCERPT_CHARS));
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return None;
    }
    Some(folded.chars().take(EXCERPT_CHARS).collect())
}

/// Why a request got no HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The TLS handshake failed (untrusted certificate, not TLS at all, …).
    Tls,
    /// Connecting or reading took too long.
    Timeout,
    /// Nothing accepted the connection (refused, unreachable, no DNS name).
    Connect,
    /// Anything else (a reset connection, a malformed answer, …).
    Other,
}

/// A request that got no HTTP answer, classified, with the error's whole
/// chain of causes in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportFailure {
    /// What kind of failure.
    pub kind: TransportKind,
    /// The error and its sources, joined with `: `.
    pub detail: String,
}

impl TransportFailure {
    /// Classifies a `reqwest` error. TLS comes first: a failed handshake is
    /// also a connect error to `reqwest`, and the TLS words say more.
    pub fn of(e: &reqwest::Error) -> TransportFailure {
        let detail = error_chain(e);
        let lower = detail.to_ascii_lowercase();
        let kind = if TLS_WORDS.iter().any(|w| lower.contains(w)) {
            TransportKind::Tls
        } else if e.is_timeout() {
            TransportKind::Timeout
        } else if e.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        TransportFailure { kind, detail }
    }

    /// True for failures worth another try (timeouts, refused connections).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, TransportKind::Timeout | TransportKind::Connect)
    }

    /// The message for people: what failed for the request `what` (may be
    /// empty) at `target` (a URL or an endpoint's description), then the
    /// driver's `hint` (what to check), if not empty.
    pub fn message(&self, target: &str, what: &str, hint: &str) -> String {
        let detail = &self.detail;
        let during = if what.is_empty() {
            String::new()
        } else {
            format!(" ({what})")
        };
        let mut message = match self.kind {
            TransportKind::Tls => format!("TLS handshake with {target} failed{during}: {detail}"),
            TransportKind::Timeout => {
                format!("{target} did not answer in time{during}: {detail}")
            }
            TransportKind::Connect => format!("cannot connect to {target}{during}: {detail}"),
            TransportKind::Other => format!("request to {target} failed{during}: {detail}"),
        };
        if !hint.is_empty() {
            message.push_str("; ");
            message.push_str(hint);
        }
        message
    }
}

/// An error and its sources, joined with `: ` (a source whose words the
/// text already holds is left out).
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    const HINTS: Hints<'static> = Hints {
        backend: "GCS",
        credentials: "storage.gcs.keyfile",
        permission: "the service account's roles",
    };

    #[test]
    fn each_status_says_what_to_do() {
        let m = |code: u16, said: Option<&str>| {
            status_message(StatusCode::from_u16(code).unwrap(), "upload", said, &HINTS)
        };
        assert_eq!(
            m(401, None),
            "GCS rejected the credentials for upload (401 Unauthorized): check storage.gcs.keyfile"
        );
        assert_eq!(
            m(403, Some("no storage.objects.create")),
            "GCS refused upload (403 Forbidden; the server said: no storage.objects.create): \
             the credentials were accepted but lack permission; check the service account's roles"
        );
        assert!(m(404, None).contains("404 Not Found"));
        assert!(m(429, None).contains("throttling"), "{}", m(429, None));
        assert!(
            m(502, None).contains("on the server's side"),
            "{}",
            m(502, None)
        );
        assert_eq!(m(409, None), "GCS answered upload with 409 Conflict");
    }

    #[test]
    fn excerpts_drop_tags_and_stay_short() {
        assert_eq!(
            body_excerpt(
                "<html><h1>Unauthorized</h1>\n<p>This server could not verify.</p></html>"
            )
            .as_deref(),
            Some("Unauthorized This server could not verify.")
        );
        assert_eq!(body_excerpt(" \n<br/> "), None);
        assert_eq!(body_excerpt(&"x".repeat(1000)).unwrap().len(), 300);
        assert_eq!(body_excerpt("a > b").as_deref(), Some("a > b"));
    }

    #[test]
    fn chains_skip_repeated_causes() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl Error for E {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "request failed: refused",
            Some(Box::new(E(
                "refused",
                Some(Box::new(E("os error 111", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "request failed: refused: os error 111");
    }

    #[test]
    fn transport_messages_name_the_target_and_the_hint() {
        let f = TransportFailure {
            kind: TransportKind::Connect,
            detail: "connection refused".into(),
        };
        assert!(f.is_transient());
        assert_eq!(
            f.message(
                "http://h:1/auth",
                "authenticate",
                "check storage.swift.authurl"
            ),
            "cannot connect to http://h:1/auth (authenticate): connection refused; check storage.swift.authurl"
        );
        let f = TransportFailure {
            kind: TransportKind::Tls,
            detail: "invalid peer certificate".into(),
        };
        assert!(!f.is_transient());
        assert_eq!(
            f.message("https://h", "list", ""),
            "TLS handshake with https://h failed (list): invalid peer certificate"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = reqwest::get(format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        let f = TransportFailure::of(&e);
        assert_eq!(f.kind, TransportKind::Connect, "{}", f.detail);
    }
}
