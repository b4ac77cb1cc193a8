//! The Disk page's operations: the machine's volumes (with a low-space
//! warning under the admin's threshold, on the page and in the registry's
//! log), the registry's usage figures (from the running registry), their
//! history, and garbage collection ("Reclaim space").
//!
//! `diskVolumes`, `diskUsage`, `diskHistory`, `diskSettings`, `gcRun`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use berth_registry::gc::GcReport;
use berth_registry::usage::{Usage, UsageStatus};
use serde::{Deserialize, Serialize};

use crate::Admin;
use crate::error::AdminError;
use crate::history::{self, History, Sample};
use crate::volumes::{self, Volume};

/// The Disk page's settings file in the data directory.
pub const SETTINGS_FILE: &str = "disk.json";

/// The low-space threshold when the admin has set none: warn under 10% free.
pub const DEFAULT_THRESHOLD_PERCENT: u8 = 10;

/// How often the app samples usage and checks free space while it runs.
pub const WATCH_EVERY: Duration = Duration::from_secs(600);

/// A store at rest gets one history sample per this.
const QUIET_SAMPLE: Duration = Duration::from_secs(3600);

/// A busy store gets at most one history sample per this from page reads
/// (the Disk page asks every 5 s); deletes and collections always sample.
const BUSY_SAMPLE: Duration = Duration::from_secs(300);

/// The Disk page's settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiskSettings {
    /// Warn when the registry's volume has less free space than this, in
    /// percent of its size.
    pub threshold_percent: u8,
}

impl Default for DiskSettings {
    fn default() -> Self {
        DiskSettings {
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
        }
    }
}

/// The app's disk state: the usage history and whether the low-space
/// warning has been logged.
pub(crate) struct DiskState {
    history: History,
    settings_path: PathBuf,
    /// The mount point last warned about, so the log says it once per
    /// crossing, not on every check.
    warned: Mutex<Option<String>>,
}

impl DiskState {
    /// The state kept in `data_dir`.
    pub(crate) fn new(data_dir: &Path) -> DiskState {
        DiskState {
            history: History::new(data_dir),
            settings_path: data_dir.join(SETTINGS_FILE),
            warned: Mutex::new(None),
        }
    }

    fn settings(&self) -> DiskSettings {
        std::fs::read(&self.settings_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save_settings(&self, settings: &DiskSettings) -> Result<(), AdminError> {
        let bytes = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other);
        bytes
            .and_then(|b| crate::store::write_atomically(&self.settings_path, &b, Some(0o644)))
            .map_err(|e| {
                AdminError::internal(
                    format!("cannot save {}: {e}", self.settings_path.display()),
                    "make the app's data directory writable, then save again",
                )
            })
    }
}

/// The answer of `diskVolumes`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumesView {
    /// The machine's volumes, the registry's first.
    pub volumes: Vec<Volume>,
    /// The registry's storage directory (filesystem driver only).
    pub registry_path: Option<String>,
    /// The storage driver.
    pub driver: String,
    /// The warning threshold, in percent free.
    pub threshold_percent: u8,
    /// Set when the registry's volume is under the threshold.
    pub warning: Option<LowSpace>,
}

/// The registry's volume is running out of space.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LowSpace {
    /// The volume's mount point.
    pub mount_point: String,
    /// Its free space, in percent.
    pub free_percent: u8,
    /// Its free bytes.
    pub free_bytes: u64,
    /// What is wrong and what to do, for people.
    pub message: String,
}

/// The answer of `diskHistory`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// Every sample, oldest first.
    pub samples: Vec<Sample>,
    /// The last sample of each day and the change from the day before.
    pub days: Vec<history::Day>,
    /// Average growth per day over the whole history (null under an hour).
    pub growth_per_day: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UsageArgs {
    #[serde(default)]
    refresh: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SettingsArgs {
    threshold_percent: Option<u8>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GcArgs {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    delete_untagged: bool,
    /// Blobs younger than this are kept (the registry's default, one hour,
    /// when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grace_period_seconds: Option<u64>,
}

/// "1 blob", "3 blobs".
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A byte count for people, in binary units as `df -h` counts.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Admin {
    /// The registry's storage directory, when its driver is `filesystem`.
    fn registry_dir(&self) -> Option<PathBuf> {
        let config = self.current();
        (config.storage.driver.name == "filesystem")
            .then(|| config.storage.driver.parameters.string("rootdirectory"))
            .flatten()
            .map(PathBuf::from)
    }

    /// `diskVolumes`: the machine's volumes, the registry's marked, and the
    /// low-space warning (also written to the registry's log once per
    /// crossing of the threshold).
    pub(crate) async fn disk_volumes(&self) -> Result<VolumesView, AdminError> {
        let registry_dir = self.registry_dir();
        let dir = registry_dir.clone();
        let volumes = tokio::task::spawn_blocking(move || volumes::list(dir.as_deref()))
            .await
            .map_err(|e| {
                AdminError::internal(format!("the volume check stopped: {e}"), "try again")
            })?
            .map_err(|e| {
                AdminError::internal(
                    format!("cannot read this machine's mounts (/proc/self/mountinfo): {e}"),
                    "the Disk page needs Linux's /proc; check that it is mounted",
                )
            })?;
        let settings = self.disk.settings();
        let warning = volumes
            .iter()
            .find(|v| v.holds_registry)
            .filter(|v| v.free_percent() < settings.threshold_percent)
            .map(|v| LowSpace {
                mount_point: v.mount_point.clone(),
                free_percent: v.free_percent(),
                free_bytes: v.free,
                message: format!(
                    "the volume {} ({}) holding the registry's storage has {}% free ({}), \
                     under the {}% threshold: pushes will fail when it fills up; \
                     reclaim space on the Disk page, delete images, or move the storage",
                    v.mount_point,
                    v.device,
                    v.free_percent(),
                    human_bytes(v.free),
                    settings.threshold_percent
                ),
            });
        self.log_low_space(&volumes, warning.as_ref(), settings.threshold_percent);
        Ok(VolumesView {
            volumes,
            registry_path: registry_dir.map(|p| p.display().to_string()),
            driver: self.current().storage.driver.name.clone(),
            threshold_percent: settings.threshold_percent,
            warning,
        })
    }

    /// Writes the warning to the registry's log when the volume crosses the
    /// threshold, and a note when it is back above it.
    fn log_low_space(&self, volumes: &[Volume], warning: Option<&LowSpace>, threshold: u8) {
        let mut warned = self.disk.warned.lock().unwrap_or_else(|e| e.into_inner());
        match (warning, warned.as_deref()) {
            (Some(w), last) if last != Some(w.mount_point.as_str()) => {
                self.sidecar.logs().push(&format!("warning: {}", w.message));
                *warned = Some(w.mount_point.clone());
            }
            (None, Some(mount)) => {
                if let Some(v) = volumes.iter().find(|v| v.mount_point == mount) {
                    self.sidecar.logs().push(&format!(
                        "note: the volume {} holding the registry's storage has {}% free again \
                         (threshold {threshold}%)",
                        v.mount_point,
                        v.free_percent()
                    ));
                }
                *warned = None;
            }
            _ => {}
        }
    }

    /// `diskUsage`: the running registry's usage figures; `refresh` walks
    /// the store again (the answer says `scanning` until it is done).
    pub(crate) async fn disk_usage(&self, args: UsageArgs) -> Result<UsageStatus, AdminError> {
        let api = self.sidecar_api()?;
        let path = if args.refresh {
            "usage?refresh=true"
        } else {
            "usage"
        };
        let status: UsageStatus = api.get(path).await?;
        if let Some(usage) = &status.usage
            && status.state == "ready"
        {
            self.sample_usage(usage, BUSY_SAMPLE).await;
        }
        Ok(status)
    }

    /// Adds a history sample of `usage` (at most one an hour while nothing
    /// changes, and none sooner than `min_gap` after the last).
    pub(crate) async fn sample_usage(&self, usage: &Usage, min_gap: Duration) {
        let volume_free = match self.registry_dir() {
            Some(dir) => tokio::task::spawn_blocking(move || {
                volumes::resolve(&dir).and_then(|d| volumes::space(&d).ok())
            })
            .await
            .ok()
            .flatten()
            .map(|(_, _, free)| free),
            None => None,
        };
        let sample = Sample {
            time: humantime::format_rfc3339(SystemTime::now()).to_string(),
            total_bytes: usage.total_bytes,
            blob_bytes: usage.blob_bytes,
            blobs: usage.blobs,
            reclaimable_bytes: usage.reclaimable_bytes,
            repositories: usage.repositories.len() as u64,
            volume_free,
        };
        if let Err(e) = self.disk.history.record(&sample, QUIET_SAMPLE, min_gap) {
            self.sidecar.logs().push(&format!(
                "warning: cannot write the usage history {}: {e}",
                self.disk.history.path().display()
            ));
        }
    }

    /// Samples the usage figures the registry holds now, when it has some.
    pub(crate) async fn sample_now(&self) {
        if let Ok(api) = self.sidecar_api()
            && let Ok(status) = api.get::<UsageStatus>("usage").await
            && let Some(usage) = status.usage
        {
            self.sample_usage(&usage, Duration::ZERO).await;
        }
    }

    /// `diskHistory`: the usage samples kept in the data directory.
    pub(crate) fn disk_history(&self) -> Result<HistoryView, AdminError> {
        let samples = self.disk.history.read().map_err(|e| {
            AdminError::internal(
                format!(
                    "cannot read the usage history {}: {e}",
                    self.disk.history.path().display()
                ),
                "check the permissions of the app's data directory",
            )
        })?;
        Ok(HistoryView {
            days: history::days(&samples),
            growth_per_day: history::growth_per_day(&samples),
            samples,
        })
    }

    /// `diskSettings`: reads the settings, or changes the threshold.
    pub(crate) fn disk_settings(&self, args: SettingsArgs) -> Result<DiskSettings, AdminError> {
        let mut settings = self.disk.settings();
        if let Some(t) = args.threshold_percent {
            if !(1..=99).contains(&t) {
                return Err(AdminError::invalid_input(
                    format!("a threshold of {t}% free cannot be used"),
                    "choose a percentage between 1 and 99",
                )
                .with_fields(
                    [(
                        "thresholdPercent".to_string(),
                        "between 1 and 99".to_string(),
                    )]
                    .into(),
                ));
            }
            settings.threshold_percent = t;
            self.disk.save_settings(&settings)?;
            // The next check logs anew against the new threshold.
            *self.disk.warned.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        Ok(settings)
    }

    /// `gcRun`: garbage collection in the running registry; a dry run
    /// reports what would be freed.
    pub(crate) async fn gc_run(&self, args: GcArgs) -> Result<GcReport, AdminError> {
        let api = self.sidecar_api()?;
        // The registry's own refusal (409 while another collection runs)
        // reaches the admin as it words it.
        let report: GcReport = api
            .send_slow(
                reqwest::Method::POST,
                "gc",
                &args,
                crate::sidecar_api::GC_TIMEOUT,
            )
            .await?;
        if !args.dry_run {
            self.sidecar.logs().push(&format!(
                "note: Reclaim space freed {} ({}, {})",
                human_bytes(report.bytes_swept),
                count(report.blobs_swept, "blob"),
                count(report.manifests_deleted.len() as u64, "untagged manifest")
            ));
            self.sample_now().await;
        }
        Ok(report)
    }
}

/// Checks free space and samples usage every [`WATCH_EVERY`] while the
/// app runs (first a minute after start), so the log warns even when
/// nobody looks at the Disk page and the history grows across the day.
pub(crate) fn spawn_disk_watch(admin: &Arc<Admin>) {
    let weak: Weak<Admin> = Arc::downgrade(admin);
    tokio::spawn(async move {
        let mut wait = Duration::from_secs(60);
        loop {
            tokio::time::sleep(wait).await;
            wait = WATCH_EVERY;
            let Some(admin) = weak.upgrade() else { break };
            let _ = admin.disk_volumes().await;
            admin.sample_now().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
