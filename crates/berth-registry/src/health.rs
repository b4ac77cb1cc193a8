//! Health checks, as Distribution's `health` section configures them: the
//! storage driver (`storagedriver`), files that must not exist (`file`),
//! HTTP services that must answer (`http`) and TCP ports that must accept
//! (`tcp`), each run every `interval` and failing after `threshold`
//! failures in a row.
//!
//! `GET /debug/health` on the debug listener answers `{}` while every
//! check passes, else 503 with `{"check": "error"}`; and, as in
//! Distribution, while any check fails the registry API answers every
//! request with 503 `UNAVAILABLE` (a load balancer drains it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_storage::StorageDriver;
use http::{HeaderValue, StatusCode, header};

use crate::Registry;

/// Distribution's interval when a check gives none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// What one check looks at.
#[derive(Clone, Debug)]
pub enum Probe {
    /// A listing of the store's root; "not found" counts as healthy (the
    /// backend answered).
    StorageDriver,
    /// Unhealthy while this file exists (a maintenance switch).
    File(PathBuf),
    /// A GET that must answer `status`.
    Http {
        /// The URL.
        uri: String,
        /// Headers to send.
        headers: Vec<(String, Vec<String>)>,
        /// The expected status.
        status: u16,
        /// How long to wait.
        timeout: Duration,
    },
    /// A TCP connection that must be accepted.
    Tcp {
        /// `host:port`.
        addr: String,
        /// How long to wait.
        timeout: Duration,
    },
}

/// One configured check.
#[derive(Clone, Debug)]
pub struct CheckSpec {
    /// Its name in `/debug/health`: `storagedriver_<driver>`, the file, the
    /// URL or the address, as Distribution names them.
    pub name: String,
    /// What it looks at.
    pub probe: Probe,
    /// Between runs ([`DEFAULT_INTERVAL`] when zero).
    pub interval: Duration,
    /// Failures in a row before it counts (1 when zero).
    pub threshold: u64,
}

#[derive(Default)]
struct Status {
    failures: u64,
    error: Option<String>,
}

/// The checks of one registry and their last results.
pub struct HealthChecks {
    specs: Vec<CheckSpec>,
    status: Mutex<BTreeMap<String, Status>>,
}

impl HealthChecks {
    /// Checks to run; nothing runs before [`HealthChecks::start`].
    pub fn new(specs: Vec<CheckSpec>) -> Arc<HealthChecks> {
        Arc::new(HealthChecks {
            specs,
            status: Mutex::new(BTreeMap::new()),
        })
    }

    /// True when no check is configured.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Runs every check now and then every interval, on the current tokio
    /// runtime, for as long as the runtime lives.
    pub fn start(self: &Arc<Self>, driver: Arc<dyn StorageDriver>) {
        let client = reqwest::Client::new();
        for spec in self.specs.clone() {
            let checks = self.clone();
            let driver = driver.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let interval = if spec.interval.is_zero() {
                    DEFAULT_INTERVAL
                } else {
                    spec.interval
                };
                loop {
                    // A check that hangs is a failure too: a store that does
                    // not answer within an interval is not serving.
                    let result = match tokio::time::timeout(
                        interval.max(Duration::from_secs(1)),
                        run(&spec.probe, &*driver, &client),
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(format!(
                            "no answer within {} ms",
                            interval.max(Duration::from_secs(1)).as_millis()
                        )),
                    };
                    checks.record(&spec, result);
                    tokio::time::sleep(interval).await;
                }
            });
        }
    }

    fn record(&self, spec: &CheckSpec, result: Result<(), String>) {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let s = status.entry(spec.name.clone()).or_default();
        match result {
            Ok(()) => *s = Status::default(),
            Err(e) => {
                s.failures += 1;
                if s.failures >= spec.threshold.max(1) {
                    if s.error.is_none() {
                        tracing::warn!(check = %spec.name, error = %e, "health check failing");
                    }
                    s.error = Some(e);
                }
            }
        }
    }

    /// The failing checks and their errors; empty when healthy.
    pub fn failing(&self) -> BTreeMap<String, String> {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status
            .iter()
            .filter_map(|(name, s)| s.error.clone().map(|e| (name.clone(), e)))
            .collect()
    }

    /// The answer for a registry API request while a check fails.
    pub(crate) fn unavailable(&self) -> Option<Response> {
        let any_failing = self
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|s| s.error.is_some());
        if !any_failing {
            return None;
        }
        let body = serde_json::json!({"errors": [{
            "code": "UNAVAILABLE",
            "message": "service unavailable",
            "detail": "health check failed: please see /debug/health",
        }]});
        Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body.to_string(),
            )
                .into_response(),
        )
    }
}

async fn run(
    probe: &Probe,
    driver: &dyn StorageDriver,
    client: &reqwest::Client,
) -> Result<(), String> {
    match probe {
        // One listing of the root: unlike a stat of "/", which some drivers
        // answer without asking the backend, it always reaches the store.
        Probe::StorageDriver => match driver.list("/").await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.to_string()),
        },
        Probe::File(path) => match tokio::fs::metadata(path).await {
            Ok(_) => Err("file exists".into()),
            Err(_) => Ok(()),
        },
        Probe::Http {
            uri,
            headers,
            status,
            timeout,
        } => {
            let mut request = client.get(uri);
            if !timeout.is_zero() {
                request = request.timeout(*timeout);
            }
            for (name, values) in headers {
                for value in values {
                    request = request.header(name, value);
                }
            }
            match request.send().await {
                Ok(r) if r.status().as_u16() == *status => Ok(()),
                Ok(r) => Err(format!(
                    "downstream service returned unexpected status: {}",
                    r.status().as_u16()
                )),
                Err(e) => Err(format!("error while checking: {uri}: {e}")),
            }
        }
        Probe::Tcp { addr, timeout } => {
            let timeout = if timeout.is_zero() {
                Duration::from_secs(10)
            } else {
                *timeout
            };
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => Ok(()),
                _ => Err(format!("connection to {addr} failed")),
            }
        }
    }
}

/// `GET /debug/health` for the debug listener (no admin token, as in
/// Distribution).
pub(crate) fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/debug/health", get(status))
}

async fn status(State(registry): State<Arc<Registry>>) -> Response {
    let failing = registry
        .health
        .as_ref()
        .map(|h| h.failing())
        .unwrap_or_default();
    let code = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (code, serde_json::to_string(&failing).unwrap_or_default()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
