//! The running registry's admin API (`/berth/v1/` on its debug listener),
//! through which the app asks its sidecar for what only the serving process
//! knows: usage figures, garbage collection, notification state, read-only.
//!
//! Each sidecar gets a fresh random token (`BERTH_ADMIN_TOKEN`). Its debug
//! listener is the one `http.debug.addr` names when the admin set one;
//! otherwise the app gives it a free loopback port
//! (`REGISTRY_HTTP_DEBUG_ADDR`), so the saved config.yml stays as written.

use std::time::Duration;

use berth_config::Config;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AdminError, ErrorCode};

/// How long one admin API call may take: the pages poll, and a registry
/// that stopped answering must not pile their calls up.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a garbage collection may take (a large cloud store takes a while).
pub(crate) const GC_TIMEOUT: Duration = Duration::from_secs(600);

/// Where and how to reach one sidecar's admin API.
#[derive(Clone, Debug)]
pub(crate) struct SidecarApi {
    /// `http://127.0.0.1:PORT`.
    base: String,
    token: String,
    client: reqwest::Client,
}

impl SidecarApi {
    /// The API of a sidecar about to start on `config`, and the environment
    /// it needs for it.
    pub(crate) fn plan(config: &Config, token: &str) -> (SidecarApi, Vec<(String, String)>) {
        let mut env = vec![(
            berth_registry::debug::ADMIN_TOKEN_ENV.to_string(),
            token.to_string(),
        )];
        let configured = config
            .http
            .debug
            .as_ref()
            .map(|d| d.addr.clone())
            .filter(|a| !a.is_empty());
        let connect = match configured {
            Some(addr) => {
                let listen = match addr.strip_prefix(':') {
                    Some(port) => format!("0.0.0.0:{port}"),
                    None => addr,
                };
                crate::endpoint::connect_addr(&listen).unwrap_or(listen)
            }
            None => {
                let addr = format!("127.0.0.1:{}", free_loopback_port());
                env.push(("REGISTRY_HTTP_DEBUG_ADDR".to_string(), addr.clone()));
                addr
            }
        };
        let api = SidecarApi {
            base: format!("http://{connect}"),
            token: token.to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client without TLS settings builds"),
        };
        (api, env)
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    #[cfg(test)]
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET /berth/v1/{path}`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AdminError> {
        self.call::<(), T>(Method::GET, path, None, CALL_TIMEOUT)
            .await
    }

    /// `method /berth/v1/{path}` with a JSON body.
    pub(crate) async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, AdminError> {
        self.call(method, path, Some(body), CALL_TIMEOUT).await
    }

    /// [`SidecarApi::send`] allowed to take up to `timeout`.
    pub(crate) async fn send_slow<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<T, AdminError> {
        self.call(method, path, Some(body), timeout).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, AdminError> {
        let url = format!(
            "{}{}/{}",
            self.base,
            berth_registry::debug::ADMIN_PREFIX,
            path.trim_start_matches('/')
        );
        let mut request = self
            .client
            .request(method, &url)
            .timeout(timeout)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            AdminError::new(
                ErrorCode::Sidecar,
                format!("the registry did not answer its admin API at {url}: {e}"),
                "start the registry on the Status page, or look at its log there",
            )
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            AdminError::new(
                ErrorCode::Sidecar,
                format!("the registry's answer from {url} broke off: {e}"),
                "try again; if it keeps failing, restart the registry on the Status page",
            )
        })?;
        if !status.is_success() {
            return Err(refusal(status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AdminError::internal(
                format!("the registry's answer from {url} is not what this app expects: {e}"),
                "the app and its berthd may be of different versions; reinstall Berth",
            )
        })
    }
}

/// The registry's error JSON as an [`AdminError`].
fn refusal(status: u16, body: &[u8]) -> AdminError {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        message: String,
        #[serde(default)]
        detail: serde_json::Value,
    }
    let (message, hint) = match serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.errors.into_iter().next())
    {
        Some(e) => {
            let hint = match e.detail {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (e.message, hint)
        }
        None => (
            format!(
                "the registry answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
            String::new(),
        ),
    };
    let code = match status {
        400 | 422 => ErrorCode::InvalidInput,
        404 => ErrorCode::NotFound,
        401 | 403 => ErrorCode::Unauthorized,
        _ => ErrorCode::Sidecar,
    };
    let hint = if hint.is_empty() {
        "look at the registry's log on the Status page".to_string()
    } else {
        hint
    };
    AdminError::new(code, message, hint)
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_debug_address_is_used_as_is() {
        let mut config = Config::embedded_default(std::path::Path::new("/tmp/x"));
        config.http.debug = Some(berth_config::Debug {
            addr: ":5001".into(),
            ..Default::default()
        });
        let (api, env) = SidecarApi::plan(&config, "t");
        assert_eq!(api.base(), "http://127.0.0.1:5001");
        assert!(env.iter().all(|(k, _)| k != "REGISTRY_HTTP_DEBUG_ADDR"));
        assert!(env.contains(&("BERTH_ADMIN_TOKEN".into(), "t".into())));
    }

    #[test]
    fn without_one_the_sidecar_gets_a_loopback_port() {
        let config = Config::embedded_default(std::path::Path::new("/tmp/x"));
        let (api, env) = SidecarApi::plan(&config, "t");
        let (_, addr) = env
            .iter()
            .find(|(k, _)| k == "REGISTRY_HTTP_DEBUG_ADDR")
            .expect("a debug address");
        assert!(addr.starts_with("127.0.0.1:"));
        assert_eq!(api.base(), format!("http://{addr}"));
    }

    #[test]
    fn refusals_keep_the_registrys_words() {
        let e = refusal(
            404,
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":"push it first"}]}"#,
        );
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.message, "repository name not known to registry");
        assert_eq!(e.hint, "push it first");
        let e = refusal(500, b"boom");
        assert!(e.message.contains("500"), "{}", e.message);
    }
}
