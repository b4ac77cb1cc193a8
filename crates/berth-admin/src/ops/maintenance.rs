//! `readOnlySet` and `registryMetrics`: the running registry's read-only
//! switch (flipped live through its admin API and kept in config.yml, with
//! no restart) and the live figures the Status page shows.

use berth_registry::metrics::Summary;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::Admin;
use crate::error::AdminError;
use crate::sidecar::State;

/// `readOnlySet`.
#[derive(Debug, Deserialize)]
pub struct ReadOnlySet {
    /// Refuse pushes and deletes.
    pub enabled: bool,
}

/// The answer of `readOnlySet`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOnly {
    /// Read-only now.
    pub enabled: bool,
    /// True when the running registry switched at once (false when it is
    /// stopped: it starts in this mode).
    pub live: bool,
}

#[derive(Deserialize)]
struct Switched {
    enabled: bool,
}

/// Flips the running registry, then saves the setting; a failure to save
/// flips it back, so the app and the registry never disagree.
pub(crate) async fn read_only_set(
    admin: &Admin,
    args: ReadOnlySet,
) -> Result<ReadOnly, AdminError> {
    let _change = admin.changes.lock().await;
    let running = admin.sidecar.snapshot().state == State::Running;
    let api = if running {
        admin.sidecar_api().ok()
    } else {
        None
    };
    let before = admin.current().storage.maintenance.readonly.enabled;
    let mut live = false;
    if let Some(api) = &api {
        let switched: Switched = api
            .send(
                Method::PUT,
                "readonly",
                &serde_json::json!({ "enabled": args.enabled }),
            )
            .await?;
        live = switched.enabled == args.enabled;
    }
    let mut config = admin.current();
    config.storage.maintenance.readonly.enabled = args.enabled;
    if let Err(e) = admin.store.write(&config) {
        if let Some(api) = &api {
            let _ = api
                .send::<_, serde_json::Value>(
                    Method::PUT,
                    "readonly",
                    &serde_json::json!({ "enabled": before }),
                )
                .await;
        }
        return Err(e);
    }
    let saved = admin.store.read().ok().flatten().unwrap_or(config);
    admin.set_current(saved);
    Ok(ReadOnly {
        enabled: args.enabled,
        live,
    })
}

/// `registryMetrics`: the running registry's figures since it started.
pub(crate) async fn registry_metrics(admin: &Admin) -> Result<Summary, AdminError> {
    admin.sidecar_api()?.get("metrics").await
}
