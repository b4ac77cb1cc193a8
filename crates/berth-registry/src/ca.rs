//! `GET /ca`, `/ca/install.sh` and `/ca/install.ps1`: the registry's CA for
//! clients that do not trust it yet, and the scripts that install it for
//! this registry's `host:port`.
//!
//! They are outside `/v2/` and need no credentials: a client fetches them
//! before it can verify the registry, let alone log in. Nothing here is
//! secret, and nothing is trusted because of where it came from: the
//! one-line command the admin copies carries the script's SHA-256 (see
//! `berth_trust::script`), and the script embeds the CA.

use axum::response::{IntoResponse, Response};
use berth_trust::{Certificate, RegistryAddr, script};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};

use crate::Settings;

/// What the registry publishes under `/ca`.
#[derive(Clone, Debug)]
pub struct CaDownloads {
    pem: String,
    ca: Certificate,
}

impl CaDownloads {
    /// From the CA file as it is (`ca.crt` of the CA directory: a Berth CA,
    /// or with the admin's own certificate the chain they configured).
    /// `GET /ca` serves it whole; the scripts install its first certificate.
    pub fn from_pem(pem: impl Into<String>) -> Result<CaDownloads, berth_trust::Error> {
        let pem = pem.into();
        let ca = Certificate::from_pem(&pem)?;
        Ok(CaDownloads { pem, ca })
    }

    /// The CA the scripts install.
    pub fn ca(&self) -> &Certificate {
        &self.ca
    }

    /// The PEM `GET /ca` serves.
    pub fn pem(&self) -> &str {
        &self.pem
    }
}

/// Which download a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Download {
    Pem,
    InstallSh,
    InstallPs1,
}

/// The download at `path` (after `http.prefix`), if it is one.
pub(crate) fn route(path: &str) -> Option<Download> {
    match path.trim_end_matches('/') {
        "/ca" => Some(Download::Pem),
        "/ca/install.sh" => Some(Download::InstallSh),
        "/ca/install.ps1" => Some(Download::InstallPs1),
        _ => None,
    }
}

/// The registry's `host:port` as clients name it: `http.host` when set
/// (the address the admin publishes), else the authority the client asked
/// for (HTTP/2's `:authority` or the `Host` header).
pub fn registry_addr(parts: &Parts, settings: &Settings) -> Option<RegistryAddr> {
    if let Some(host) = settings.host.as_deref().filter(|h| !h.is_empty()) {
        let rest = host.split_once("://").map_or(host, |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        return authority.parse().ok();
    }
    let asked = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(String::from)
        })?;
    asked.parse().ok()
}

/// Answers a download.
pub(crate) fn respond(
    downloads: &CaDownloads,
    download: Download,
    parts: &Parts,
    settings: &Settings,
) -> Response {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            plain(format!("{} is not allowed here; use GET\n", parts.method)),
        )
            .into_response();
    }
    let (content_type, body) = match download {
        Download::Pem => ("application/x-pem-file", Ok(downloads.pem.clone())),
        Download::InstallSh | Download::InstallPs1 => {
            let Some(registry) = registry_addr(parts, settings) else {
                return (
                    StatusCode::BAD_REQUEST,
                    plain(
                        "the Host header is not a registry address (host:port); \
                         ask for the script by the registry's name or address\n"
                            .into(),
                    ),
                )
                    .into_response();
            };
            if download == Download::InstallSh {
                (
                    "text/x-shellscript; charset=utf-8",
                    script::install_sh(&registry, &downloads.ca),
                )
            } else {
                (
                    "text/plain; charset=utf-8",
                    script::install_ps1(&registry, &downloads.ca),
                )
            }
        }
    };
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot render the CA install script");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                plain(format!("cannot render the install script: {e}\n")),
            )
                .into_response()
        }
    }
}

fn plain(text: String) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text)
}
