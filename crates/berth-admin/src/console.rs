//! The web console: the admin API over HTTP (`POST /api/<op>`, JSON in and
//! out, the same operations as the desktop window) and the built UI
//! (`ui/dist`) as static files, for `berthd console`.
//!
//! On a non-loopback address every `/api/*` call needs
//! `Authorization: Bearer TOKEN` ([`needs_token`], [`generate_token`]).
//! Whatever the address, a request sent by another site's page (an
//! `Origin` that is not the console's own) is refused, and without a token
//! only loopback host names are answered, so neither a web page nor DNS
//! rebinding can drive the local console.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get_service, post};
use serde_json::Value;
use tower_http::services::{ServeDir, ServeFile};

use crate::Admin;
use crate::error::{AdminError, ErrorCode};

/// Whether a console listening on `addr` must require a token: any address
/// other than loopback is reachable from other machines.
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().to_canonical().is_loopback()
}

/// A fresh random token (256 bits, hex).
pub fn generate_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[derive(Clone)]
struct Console {
    admin: Arc<Admin>,
    token: Option<Arc<str>>,
}

/// The console's routes: `/api/{op}` and the UI (or a page saying how to build it).
pub fn router(admin: Arc<Admin>, ui_dir: Option<PathBuf>, token: Option<String>) -> Router {
    let state = Console {
        admin,
        token: token.filter(|t| !t.is_empty()).map(Arc::from),
    };
    let api = Router::new()
        .route("/api/{op}", post(api))
        .fallback(api_not_found)
        .with_state(state);
    match ui_dir.filter(|dir| dir.join("index.html").is_file()) {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            api.fallback_service(get_service(ServeDir::new(&dir).fallback(index)))
        }
        None => api.fallback(no_ui),
    }
}

/// Serves the console on `listener` until the process ends.
pub async fn serve(
    admin: Arc<Admin>,
    listener: tokio::net::TcpListener,
    ui_dir: Option<PathBuf>,
    token: Option<String>,
) -> anyhow::Result<()> {
    serve_with_shutdown(admin, listener, ui_dir, token, std::future::pending()).await
}

/// Serves the console on `listener` until `shutdown` completes (then lets
/// requests in flight finish). The registry sidecar is not stopped: call
/// [`Admin::shutdown`] afterwards.
pub async fn serve_with_shutdown(
    admin: Arc<Admin>,
    listener: tokio::net::TcpListener,
    ui_dir: Option<PathBuf>,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(admin, ui_dir, token);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn api(
    State(console): State<Console>,
    UrlPath(op): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = admit(&console, &headers) {
        return error_response(&e);
    }
    let args = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => v,
            Err(e) => {
                return error_response(&AdminError::invalid_input(
                    format!("the request body is not JSON: {e}"),
                    "send the operation's arguments as a JSON object (or nothing)",
                ));
            }
        }
    };
    match console.admin.call(&op, args).await {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(e) => error_response(&e),
    }
}

/// Token, cross-site and host checks.
fn admit(console: &Console, headers: &HeaderMap) -> Result<(), AdminError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host != host {
            return Err(AdminError::new(
                ErrorCode::Unauthorized,
                format!("requests from another site ({origin}) are refused"),
                "open the console's own address in the browser",
            ));
        }
    }
    match &console.token {
        Some(token) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .unwrap_or("");
            if !same(given.trim().as_bytes(), token.as_bytes()) {
                return Err(AdminError::new(
                    ErrorCode::Unauthorized,
                    "this console needs its access token, and the request did not carry the right one",
                    "open the URL with ?token=… that `berthd console` printed \
                     (API clients: send Authorization: Bearer TOKEN)",
                ));
            }
        }
        None if !loopback_host(host) => {
            return Err(AdminError::new(
                ErrorCode::Unauthorized,
                format!("this console answers only on a loopback address, not {host:?}"),
                "open http://127.0.0.1:PORT/ or http://localhost:PORT/, or run `berthd console` \
                 on another address to get a token",
            ));
        }
        None => {}
    }
    Ok(())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

async fn api_not_found() -> Response {
    error_response(&AdminError::new(
        ErrorCode::NotFound,
        "the admin API takes POST /api/<operation>",
        "see docs/admin-api.md for the operations",
    ))
}

async fn no_ui() -> Response {
    let page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Berth console</title></head>\
        <body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">\
        <h1>Berth console</h1>\
        <p>The console's user interface is not built, so there is nothing to show here yet.</p>\
        <p>Build it with <code>make ui</code> in Berth's source folder, then start \
        <code>berthd console</code> again. The admin API answers at <code>POST /api/&lt;operation&gt;</code> meanwhile.</p>\
        </body></html>";
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_response(e: &AdminError) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &e.to_body())
}

/// Whether `dir` holds a built UI (an `index.html`).
pub fn ui_built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_hosts() {
        assert!(!needs_token(&"127.0.0.1:5080".parse().unwrap()));
        assert!(!needs_token(&"[::1]:5080".parse().unwrap()));
        assert!(needs_token(&"0.0.0.0:5080".parse().unwrap()));
        assert!(needs_token(&"192.168.1.4:5080".parse().unwrap()));
        let t = generate_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, generate_token());
        for host in [
            "127.0.0.1:5080",
            "localhost:5080",
            "[::1]:5080",
            "localhost",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in ["evil.example:5080", "192.168.1.4:5080", ""] {
            assert!(!loopback_host(host), "{host}");
        }
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
