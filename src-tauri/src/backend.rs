//! The admin core as the window sees it: starting in the background, then ready
//! (or failed), then stopped when the app quits.

use std::sync::Arc;
use std::time::Duration;

use berth_admin::{Admin, AdminError, AdminOptions, ErrorCode};
use serde_json::Value;
use tokio::sync::watch;

/// How long quitting waits for a start still in progress.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long quitting waits for the sidecar to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(15);

#[derive(Clone)]
enum Phase {
    Starting,
    Ready(Arc<Admin>),
    /// Why the start failed; every call answers with it.
    Failed(AdminError),
    Stopped,
}

/// Tauri state holding the admin core; calls made while it starts wait for it.
pub struct Backend {
    phase: watch::Sender<Phase>,
}

impl Backend {
    /// A backend that is starting; [`Backend::start`] or [`Backend::fail`] settles it.
    pub fn new() -> Self {
        Self {
            phase: watch::Sender::new(Phase::Starting),
        }
    }

    /// Starts the admin core (and so the sidecar) with `options`, or records why
    /// the app could not set it up.
    pub async fn start(&self, options: Result<AdminOptions, AdminError>) {
        let started = match options {
            Ok(options) => Admin::start(options).await,
            Err(err) => Err(err),
        };
        match started {
            Ok(admin) => {
                if !self.settle(Phase::Ready(admin.clone())) {
                    // The app began quitting while we started: stop what we started.
                    admin.shutdown().await;
                }
            }
            Err(err) => {
                eprintln!(
                    "berth: the registry sidecar did not start: {err} ({})",
                    err.hint
                );
                self.settle(Phase::Failed(err));
            }
        }
    }

    /// Runs one admin operation, waiting for the start if it is still going on.
    pub async fn call(&self, op: &str, args: Value) -> Result<Value, Value> {
        let admin = self.ready().await?;
        admin.call(op, args).await.map_err(|err| err.to_body())
    }

    /// Stops the sidecar (waiting for a start in progress first); later calls fail.
    pub async fn shutdown(&self) {
        let mut phase = self.phase.subscribe();
        let started = phase.wait_for(|phase| !matches!(phase, Phase::Starting));
        if tokio::time::timeout(START_WAIT, started).await.is_err() {
            eprintln!("berth: quitting while the registry sidecar is still starting");
        }
        if let Phase::Ready(admin) = self.phase.send_replace(Phase::Stopped)
            && tokio::time::timeout(SHUTDOWN_WAIT, admin.shutdown())
                .await
                .is_err()
        {
            eprintln!(
                "berth: the registry sidecar did not stop within {}s",
                SHUTDOWN_WAIT.as_secs()
            );
        }
    }

    /// Moves from `Starting` to `phase`; false when the app already quit.
    fn settle(&self, phase: Phase) -> bool {
        self.phase.send_if_modified(|current| {
            if matches!(current, Phase::Starting) {
                *current = phase;
                true
            } else {
                false
            }
        })
    }

    async fn ready(&self) -> Result<Arc<Admin>, Value> {
        let mut phase = self.phase.subscribe();
        let settled = phase
            .wait_for(|phase| !matches!(phase, Phase::Starting))
            .await
            .map(|phase| phase.clone());
        match settled {
            Ok(Phase::Ready(admin)) => Ok(admin),
            Ok(Phase::Failed(err)) => Err(err.to_body()),
            Ok(Phase::Starting | Phase::Stopped) | Err(_) => Err(AdminError::new(
                ErrorCode::Sidecar,
                "Berth is quitting: the registry sidecar has been stopped",
                "start Berth again",
            )
            .to_body()),
        }
    }
}
