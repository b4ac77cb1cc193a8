//! Changing the registry's settings as one step that either happens whole or
//! not at all: validate → probe the backend → keep the secrets in the
//! keychain and config.yml on disk → restart the sidecar → wait for health,
//! and put everything back when the restarted registry does not come up.

use std::collections::BTreeMap;

use berth_config::{Config, DriverConfig};
use berth_drivers::ProbeReport;
use serde::Serialize;
use serde_json::json;

use crate::Admin;
use crate::endpoint::Endpoint;
use crate::error::{AdminError, ErrorCode};
use crate::ops::status::Status;
use crate::secrets;
use crate::sidecar::Launch;

/// The backend probe's outcome, as `storageTest` answers it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// Whether every step passed.
    pub passed: bool,
    /// Why the driver could not even be opened (a bad parameter, a missing directory).
    pub open_error: Option<String>,
    /// The steps, when the driver opened.
    pub report: Option<ProbeReport>,
}

/// What `storageSave` and `configSave` answer.
#[derive(Clone, Debug, Serialize)]
pub struct SaveOutcome {
    /// Whether the settings were saved (false: the probe failed, nothing changed).
    pub saved: bool,
    /// The probe.
    pub probe: ProbeResult,
    /// The registry afterwards.
    pub status: Status,
}

/// Opens the driver `driver` describes and probes it. A driver this build
/// lacks is an `unavailable-driver` error rather than a failed probe.
pub async fn probe(driver: &DriverConfig) -> Result<ProbeResult, AdminError> {
    check_available(driver)?;
    Ok(match berth_drivers::open(driver).await {
        Ok(store) => {
            let report = berth_drivers::probe(&*store).await;
            ProbeResult {
                passed: report.passed(),
                open_error: None,
                report: Some(report),
            }
        }
        Err(e) => ProbeResult {
            passed: false,
            open_error: Some(e.to_string()),
            report: None,
        },
    })
}

fn check_available(driver: &DriverConfig) -> Result<(), AdminError> {
    berth_drivers::check_available(&driver.name).map_err(|e| {
        AdminError::new(
            ErrorCode::UnavailableDriver,
            e.to_string(),
            format!(
                "choose a driver this build has ({}); nothing was changed",
                berth_drivers::AVAILABLE.join(", ")
            ),
        )
    })
}

impl Admin {
    /// Starts the sidecar on the saved settings, with their secrets from the keychain.
    pub(crate) async fn launch_current(&self) -> Result<(), AdminError> {
        let disk = self.current();
        match crate::tls::prepare(&disk, &crate::tls::ca_dir(&self.options.data_dir), false) {
            Ok(crate::tls::Prepared::Renewed(message)) => self.sidecar.logs().push(&message),
            Ok(_) => {}
            Err(e) => self.sidecar.logs().push(&format!(
                "warning: cannot renew the registry's certificate: {e}"
            )),
        }
        let names = secrets::placeholders(&disk);
        let stored = match self.keychain.get_many(&names).await {
            Ok(stored) => stored,
            Err(e) => {
                self.sidecar
                    .record_error(format!("the registry was not started: {}", e.message))
                    .await;
                return Err(e);
            }
        };
        for missing in names.iter().filter(|n| !stored.contains_key(*n)) {
            self.sidecar.logs().push(&format!(
                "warning: config.yml expects the secret {missing} but the keychain has none; \
                 set it on the Credentials page"
            ));
        }
        let (api, api_env) = crate::sidecar_api::SidecarApi::plan(&disk, &self.admin_token);
        let mut env = secrets::env_vars(&disk, &stored);
        env.extend(api_env);
        match self.sidecar_api.lock() {
            Ok(mut a) => *a = Some(api),
            Err(poisoned) => *poisoned.into_inner() = Some(api),
        }
        self.sidecar
            .start(Launch {
                berthd: self.options.berthd.clone(),
                config_path: self.store.path().to_path_buf(),
                env,
                health_url: Endpoint::of(&disk).url,
            })
            .await;
        Ok(())
    }

    /// Starts the sidecar on the saved settings and waits until it is healthy.
    pub(crate) async fn restart_and_wait(&self) -> Result<(), String> {
        self.launch_current().await.map_err(|e| e.message)?;
        self.sidecar.wait_healthy(self.tuning.startup_timeout).await
    }

    /// The saved settings with their secrets, read from the keychain (which
    /// is asked only when config.yml has secrets).
    pub(crate) async fn effective(&self) -> Result<Config, AdminError> {
        let disk = self.current();
        self.with_stored_secrets(&disk).await
    }

    /// `config` with each of its placeholders replaced by the stored secret.
    pub(crate) async fn with_stored_secrets(&self, config: &Config) -> Result<Config, AdminError> {
        let names = secrets::placeholders(config);
        if names.is_empty() {
            return Ok(config.clone());
        }
        let stored = self.keychain.get_many(&names).await?;
        secrets::with_secrets(config, &stored).map_err(|e| {
            AdminError::internal(
                format!("the saved settings do not take their secrets back: {e}"),
                "replace the secret on the Credentials page",
            )
        })
    }

    /// Saves `candidate` (with its secrets) if its backend passes the probe,
    /// then restarts the registry on it. The caller holds `self.changes`.
    pub(crate) async fn save(&self, candidate: Config) -> Result<SaveOutcome, AdminError> {
        validate(&candidate)?;
        let wanted = secrets::extract(&candidate);
        let names: Vec<String> = wanted.keys().cloned().collect();
        // Before anything else: without a keychain a secret cannot be kept.
        let previous = self.keychain.get_many(&names).await?;
        let probe = probe(&candidate.storage.driver).await?;
        if !probe.passed {
            return Ok(SaveOutcome {
                saved: false,
                probe,
                status: self.status(),
            });
        }
        let old_config = self.current();
        let old_text = std::fs::read_to_string(self.store.path()).ok();
        let changed: Vec<(String, String)> = wanted
            .into_iter()
            .filter(|(name, value)| previous.get(name) != Some(value))
            .collect();
        self.write_secrets(&changed, &previous).await?;
        if let Err(e) = self.store.write(&candidate) {
            self.restore_secrets(&changed, &previous).await;
            return Err(e);
        }
        let saved = match self.store.read() {
            Ok(Some(config)) => config,
            _ => candidate.clone(),
        };
        self.set_current(saved);
        if !self.sidecar.is_supervised().await {
            // Stopped on purpose: it stays stopped and starts on the new settings.
            return Ok(SaveOutcome {
                saved: true,
                probe,
                status: self.status(),
            });
        }
        let Err(reason) = self.restart_and_wait().await else {
            return Ok(SaveOutcome {
                saved: true,
                probe,
                status: self.status(),
            });
        };
        // Roll back: the previous file, the previous secrets, the previous registry.
        if let Some(text) = &old_text {
            let _ = self.store.write_text(text);
        }
        self.restore_secrets(&changed, &previous).await;
        self.set_current(old_config);
        let back = match self.restart_and_wait().await {
            Ok(()) => " and the registry is running on them again".to_string(),
            Err(e) => format!(", but the registry does not come up on them either: {e}"),
        };
        Err(AdminError::new(
            ErrorCode::Sidecar,
            format!(
                "the registry did not come up with the new settings ({reason}); \
                 the previous settings were restored{back}"
            ),
            "see the registry log for the reason, fix the settings and save again",
        )
        .with_details(json!({ "probe": probe })))
    }

    /// Writes `changed` to the keychain; on a failure, puts back what was
    /// written so far and fails.
    async fn write_secrets(
        &self,
        changed: &[(String, String)],
        previous: &BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        for (i, (name, value)) in changed.iter().enumerate() {
            if let Err(e) = self.keychain.set(name, value).await {
                self.restore_secrets(&changed[..i], previous).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Puts back the keychain values `changed` replaced.
    async fn restore_secrets(
        &self,
        changed: &[(String, String)],
        previous: &BTreeMap<String, String>,
    ) {
        for (name, _) in changed {
            let _ = match previous.get(name) {
                Some(old) => self.keychain.set(name, old).await,
                None => self.keychain.delete(name).await,
            };
        }
    }
}

/// Checks what a save is about to write: it must read back as a valid
/// config, its driver must be in this build, and no secret may still be a
/// placeholder with nothing stored behind it.
fn validate(candidate: &Config) -> Result<(), AdminError> {
    if let Err(e) = Config::parse(&candidate.to_yaml(false), "config.yml", []) {
        return Err(AdminError::new(
            ErrorCode::InvalidConfig,
            format!("these settings do not make a valid registry configuration: {e}"),
            "correct the settings named above",
        ));
    }
    check_available(&candidate.storage.driver)?;
    let missing = secrets::placeholders(candidate);
    if !missing.is_empty() {
        let prefix = format!("storage.{}.", candidate.storage.driver.name);
        let fields: BTreeMap<String, String> = missing
            .iter()
            .filter_map(|name| name.strip_prefix(&prefix))
            .map(|key| {
                (
                    key.to_string(),
                    "no value is stored for this secret: enter it".to_string(),
                )
            })
            .collect();
        return Err(AdminError::invalid_input(
            format!(
                "no secret is stored for {}: the settings refer to it as {} but the keychain has no value",
                missing.join(", "),
                berth_config::REDACTED
            ),
            "enter the secret itself (in the form, or in place of the placeholder in config.yml)",
        )
        .with_fields(fields));
    }
    Ok(())
}
