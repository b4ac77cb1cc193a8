//! `status`: the registry as the app shows it.

use serde::Serialize;

use crate::Admin;
use crate::endpoint::Endpoint;
use crate::sidecar::State;

/// The sidecar's state, address and backend.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// running, starting, stopped or crashed.
    pub state: State,
    /// Where it listens, e.g. `127.0.0.1:5000`.
    pub address: String,
    /// The API's base URL on this machine.
    pub url: String,
    /// The storage driver.
    pub driver: String,
    /// The store, for people.
    pub backend: String,
    /// How long it has been healthy, in seconds.
    pub uptime_seconds: Option<u64>,
    /// Berth's version.
    pub version: &'static str,
    /// The sidecar's process id.
    pub pid: Option<u32>,
    /// Restarts after crashes.
    pub restarts: u64,
    /// Why it last failed.
    pub last_error: Option<String>,
    /// The config.yml it serves.
    pub config_path: String,
    /// The certificate it serves (TLS), or `null` for plain HTTP.
    pub certificate: Option<crate::tls::CertificateView>,
    /// Pushes and deletes refused (`storage.maintenance.readonly.enabled`).
    pub read_only: bool,
}

impl Admin {
    /// The registry's status now.
    pub(crate) fn status(&self) -> Status {
        let config = self.current();
        let endpoint = Endpoint::of(&config);
        let snap = self.sidecar.snapshot();
        Status {
            state: snap.state,
            address: endpoint.listen,
            url: endpoint.url,
            driver: config.storage.driver.name.clone(),
            backend: berth_drivers::describe(&config.storage.driver),
            uptime_seconds: match snap.state {
                State::Running => snap.healthy_since.map(|t| t.elapsed().as_secs()),
                _ => None,
            },
            version: env!("CARGO_PKG_VERSION"),
            pid: snap.pid,
            restarts: snap.restarts,
            last_error: snap.last_error,
            config_path: self.store.path().display().to_string(),
            certificate: crate::tls::served_certificate(&config),
            read_only: config.storage.maintenance.readonly.enabled,
        }
    }
}
