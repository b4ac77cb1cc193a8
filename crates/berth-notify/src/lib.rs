//! Webhook notifications as CNCF Distribution sends them, delivered at
//! least once.
//!
//! A [`Notifier`] is the registry's [`EventSink`]: for every event it
//! writes one file per interested endpoint into that endpoint's queue
//! directory, flushed to disk, before the registry answers the request
//! ([`journal`]). A worker per endpoint then POSTs the queued events in
//! order, in Distribution's envelope
//! (`application/vnd.docker.distribution.events.v1+json`), retrying with
//! Distribution's `threshold`/`backoff` until the endpoint accepts them
//! ([`delivery`]). A slow or dead endpoint therefore never slows or fails a
//! push, a restart (or a crash) loses nothing, and memory stays flat however
//! long a queue grows: events wait on disk, one is read at a time, and each
//! queue is bounded ([`DEFAULT_QUEUE_LIMIT`] events).
//!
//! Queues live in the storage directory for the filesystem driver
//! (`<rootdirectory>/_berth/notifications/<endpoint>/`, beside
//! Distribution's `docker/` tree, which it never touches), else in a local
//! state directory, or in `$BERTH_STATE_DIR` when set ([`state_dir`]). A
//! queue belongs to one process: replicas sharing a store each set their
//! own `BERTH_STATE_DIR`.
//!
//! ```no_run
//! # async fn run(config: berth_config::Config) -> std::io::Result<()> {
//! let notifier = berth_notify::Notifier::start(
//!     &config.notifications,
//!     &berth_notify::state_dir(&config),
//! )?;
//! println!("{} events waiting", notifier.pending());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod delivery;
pub mod endpoint;
pub mod journal;
pub mod metrics;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use berth_registry::events::{Event, EventSink, Target};

use crate::delivery::Endpoint;
use crate::endpoint::EndpointSettings;
use crate::journal::{AppendError, Journal};
use crate::metrics::{Attempt, Outcome, now};

/// Events one endpoint's queue holds at most; beyond it new events are
/// dropped (and counted) rather than filling the disk.
pub const DEFAULT_QUEUE_LIMIT: u64 = 100_000;

/// The variable naming the local state directory for cloud backends.
pub const STATE_DIR_ENV: &str = "BERTH_STATE_DIR";

/// Where the notification queues of the registry `config` describes live:
/// `$BERTH_STATE_DIR/notifications` when that is set (each of several
/// replicas sharing one store needs a queue of its own), else
/// `<rootdirectory>/_berth/notifications` for the filesystem driver, else
/// the user's data directory (`~/.local/share/berth/state/notifications`).
pub fn state_dir(config: &berth_config::Config) -> PathBuf {
    if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("notifications");
    }
    let driver = &config.storage.driver;
    if driver.name == "filesystem" {
        let root = driver
            .parameters
            .string("rootdirectory")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| berth_storage::open::DEFAULT_ROOT.to_string());
        return Path::new(&root).join("_berth").join("notifications");
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("berth")
        .join("state")
        .join("notifications")
}

/// The registry's event sink: durable queues and their delivery workers.
pub struct Notifier {
    endpoints: Vec<Arc<Endpoint>>,
}

impl Notifier {
    /// Opens a queue under `dir` for every endpoint of `config` that is not
    /// disabled and starts its worker (on the current Tokio runtime); events
    /// left from an earlier run are delivered first.
    pub fn start(
        config: &berth_config::Notifications,
        dir: &Path,
    ) -> std::io::Result<Arc<Notifier>> {
        Notifier::start_with_limit(config, dir, DEFAULT_QUEUE_LIMIT)
    }

    /// [`Notifier::start`] with queues of at most `limit` events.
    pub fn start_with_limit(
        config: &berth_config::Notifications,
        dir: &Path,
        limit: u64,
    ) -> std::io::Result<Arc<Notifier>> {
        let mut endpoints = Vec::new();
        let mut dirs_taken = std::collections::HashSet::new();
        for (i, e) in config.endpoints.iter().enumerate() {
            let settings = EndpointSettings::from_config(i, e);
            let journal = if settings.disabled {
                None
            } else {
                let mut name = settings.dir_name();
                if !dirs_taken.insert(name.clone()) {
                    name = format!("{name}-{i}");
                    dirs_taken.insert(name.clone());
                }
                let path = dir.join(name);
                Some(Journal::open(&path, limit).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot open the notification queue of endpoint {:?} at {}: {e}",
                            settings.name,
                            path.display()
                        ),
                    )
                })?)
            };
            endpoints.push(Arc::new(Endpoint::new(settings, journal)));
        }
        for endpoint in &endpoints {
            if endpoint.journal.is_some() {
                tokio::spawn(delivery::run(endpoint.clone()));
            }
        }
        Ok(Arc::new(Notifier { endpoints }))
    }

    /// Events waiting for delivery, over all endpoints (cheap: a sum of
    /// counters), e.g. for a queue-depth metric.
    pub fn pending(&self) -> u64 {
        self.endpoints.iter().map(|e| e.pending()).sum()
    }

    /// The endpoints, in config order.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Queues `event` durably for every endpoint that wants it (blocking I/O).
    pub fn append(&self, event: &Event) {
        let json = match serde_json::to_vec(event) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an event");
                return;
            }
        };
        for endpoint in &self.endpoints {
            let Some(journal) = &endpoint.journal else {
                continue;
            };
            if !endpoint.settings.wants(event) {
                continue;
            }
            match journal.append(&json) {
                Ok(()) => endpoint.wake.notify_one(),
                Err(e) => {
                    if matches!(e, AppendError::Full(_)) {
                        tracing::warn!(endpoint = %endpoint.settings.name, "{e}: the endpoint is far behind; see GET /berth/v1/notifications");
                    } else {
                        tracing::error!(endpoint = %endpoint.settings.name, error = %e, "an event was not queued");
                    }
                    endpoint.metrics.dropped(e.to_string());
                }
            }
        }
    }

    /// Each endpoint's state, as `GET /berth/v1/notifications` shows it.
    pub fn status_json(&self) -> serde_json::Value {
        let endpoints: Vec<serde_json::Value> = self
            .endpoints
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e.metrics.snapshot()).unwrap_or_default();
                let s = &e.settings;
                let extra = serde_json::json!({
                    "name": s.name,
                    "url": s.url,
                    "disabled": s.disabled,
                    "pending": e.pending(),
                    "timeoutMs": s.timeout.as_millis() as u64,
                    "threshold": s.threshold,
                    "backoffMs": s.backoff.as_millis() as u64,
                    "queue": e.journal.as_ref().map(|j| j.dir().display().to_string()),
                });
                if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
                    v.extend(extra);
                }
                v
            })
            .collect();
        serde_json::json!({ "endpoints": endpoints, "pending": self.pending() })
    }

    /// Sends a test event to the endpoint named `name` now (not queued,
    /// also when disabled) and reports the answer.
    pub async fn send_test(&self, name: &str) -> Result<serde_json::Value, String> {
        let endpoint = self
            .endpoints
            .iter()
            .find(|e| e.settings.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self
                    .endpoints
                    .iter()
                    .map(|e| e.settings.name.as_str())
                    .collect();
                format!(
                    "no notifications endpoint is named {name:?}; the configured ones are {names:?}"
                )
            })?;
        let event = Event::new(
            "test",
            Target {
                repository: "berth/webhook-test".into(),
                ..Target::default()
            },
        );
        let json = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
        let answer = endpoint.post(&json).await;
        endpoint.metrics.attempt(Attempt {
            time: now(),
            event_id: event.id.clone(),
            action: event.action.clone(),
            repository: event.target.repository.clone(),
            status: answer.status,
            error: answer.error.clone(),
            attempt: 1,
            outcome: Outcome::Test,
            duration_ms: answer.elapsed.as_millis() as u64,
        });
        Ok(serde_json::json!({
            "endpoint": endpoint.settings.name,
            "url": endpoint.settings.url,
            "eventId": event.id,
            "ok": answer.error.is_none(),
            "status": answer.status,
            "body": answer.body,
            "error": answer.error,
            "durationMs": answer.elapsed.as_millis() as u64,
        }))
    }
}

impl EventSink for Notifier {
    fn record(&self, event: Event) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // The endpoints' queues are files: write them off the async
            // workers, and answer only once they are on disk.
            let me = self.clone_handles();
            let done = tokio::task::spawn_blocking(move || me.append(&event)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "queuing an event failed");
            }
        })
    }

    fn pending(&self) -> u64 {
        Notifier::pending(self)
    }

    fn status(&self) -> serde_json::Value {
        self.status_json()
    }

    fn test(
        &self,
        endpoint: String,
    ) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send + '_>> {
        Box::pin(async move { self.send_test(&endpoint).await })
    }
}

impl Notifier {
    /// A second handle on the same endpoints, to move into a blocking task.
    fn clone_handles(&self) -> Notifier {
        Notifier {
            endpoints: self.endpoints.clone(),
        }
    }
}
