//! The management core the Berth desktop app and `berthd console` drive.
//!
//! One [`Admin`] owns the registry's settings and the registry itself:
//!
//! - **config.yml** in the app's data directory, in CNCF Distribution's
//!   schema, written atomically and never holding a secret (each secret reads
//!   `<redacted>` there); settings no form shows are kept as written.
//! - **Secrets** in the OS keychain (the Secret Service on Linux), one entry
//!   per key path (`storage.s3.secretkey`), handed to the registry as
//!   Distribution's environment overrides (`REGISTRY_STORAGE_S3_SECRETKEY`).
//! - **The sidecar**: `berthd serve --config …`, supervised (health on
//!   `/v2/`, restarts with backoff, logs with levels).
//! - **TLS by default**: a registry without `http.tls` gets a certificate
//!   from Berth's own CA (created in the data directory on first use,
//!   renewed before it ends), and the Trust operations make this machine's
//!   clients trust that CA (berth-trust).
//! - **Saving** validates, probes the backend (list, write, read back, check,
//!   delete), persists only when the probe passes, restarts the registry and
//!   rolls back to the previous settings if it does not come up healthy.
//!
//! Every operation has one name and one JSON shape, served by
//! [`Admin::call`] to the desktop window (a Tauri command) and, through
//! [`console::serve`], to a browser. `docs/admin-api.md` is the contract.

mod endpoint;
mod error;
mod form;
mod history;
mod keychain;
mod logs;
mod ops;
mod save;
mod schema;
mod secrets;
mod sidecar;
mod sidecar_api;
mod store;
mod tls;
mod tree;
mod volumes;

pub mod console;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_config::Config;
use serde_json::Value;

pub use error::{AdminError, ErrorCode};
pub use keychain::KeychainStatus;
pub use logs::{Level, LogLine, LogPage};
pub use sidecar::State;
pub use store::CONFIG_FILE;

use keychain::Keychain;
use sidecar::Sidecar;
use store::ConfigStore;

/// Where the admin core keeps things and what it runs.
#[derive(Clone, Debug)]
pub struct AdminOptions {
    /// The app's data directory: `config.yml` lives here.
    pub data_dir: PathBuf,
    /// The `berthd` binary run as the sidecar.
    pub berthd: PathBuf,
    /// Where the embedded default stores images (first launch only).
    pub registry_data_dir: PathBuf,
}

/// Knobs with sensible defaults, for tests and special setups; see
/// [`Admin::start_with`].
#[derive(Clone, Debug)]
pub struct Tuning {
    /// The keychain's service name for Berth's entries (`berth`).
    pub keychain_service: String,
    /// The port a first launch listens on when it is free (5000); 0 lets
    /// the system pick one.
    pub preferred_port: u16,
    /// How long a (re)started registry has to answer `/v2/` (30 s).
    pub startup_timeout: Duration,
    /// The filesystem root the Trust page acts on (`/`). Under another root
    /// (tests, an image being prepared) trust writes files there and runs
    /// no commands.
    pub trust_root: PathBuf,
    /// How often the running app checks whether the registry's certificate
    /// needs renewing (6 h).
    pub renewal_check: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            keychain_service: "berth".to_string(),
            preferred_port: 5000,
            startup_timeout: Duration::from_secs(30),
            trust_root: PathBuf::from("/"),
            renewal_check: Duration::from_secs(6 * 3600),
        }
    }
}

/// The management core: settings, secrets and the registry sidecar.
pub struct Admin {
    options: AdminOptions,
    tuning: Tuning,
    store: ConfigStore,
    keychain: Keychain,
    sidecar: Sidecar,
    /// config.yml as saved (secrets as placeholders).
    current: Mutex<Config>,
    /// One change at a time: saves, starts and stops.
    changes: tokio::sync::Mutex<()>,
    /// The token of the sidecars' admin API (one per app run).
    admin_token: String,
    /// The admin API of the sidecar last started.
    sidecar_api: Mutex<Option<sidecar_api::SidecarApi>>,
    /// The Disk page's history, settings and low-space warning state.
    disk: ops::disk::DiskState,
}

impl Admin {
    /// Loads the saved settings (the embedded default on first launch, then
    /// saved) and starts the registry, waiting a while for it to answer.
    /// A registry that does not come up is no error here: [`Admin::call`]'s
    /// `status` and `logs` say why.
    pub async fn start(options: AdminOptions) -> Result<Arc<Admin>, AdminError> {
        Admin::start_with(options, Tuning::default()).await
    }

    /// [`Admin::start`] with non-default [`Tuning`].
    pub async fn start_with(
        options: AdminOptions,
        tuning: Tuning,
    ) -> Result<Arc<Admin>, AdminError> {
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            AdminError::internal(
                format!(
                    "cannot create the data directory {}: {e}",
                    options.data_dir.display()
                ),
                "make the directory writable or choose another data directory",
            )
        })?;
        let store = ConfigStore::new(&options.data_dir);
        let mut config = match store.read()? {
            Some(config) => config,
            None => {
                let config = store::first_launch(&options.registry_data_dir, tuning.preferred_port);
                store.write(&config)?;
                config
            }
        };
        // TLS by default: Berth's CA and certificate for a registry without TLS.
        let mut tls_note = None;
        match tls::prepare(&config, &tls::ca_dir(&options.data_dir), true) {
            Ok(tls::Prepared::Enabled(enabled, message)) => {
                store.write(&enabled)?;
                config = *enabled;
                tls_note = Some(message);
            }
            Ok(_) => {}
            Err(e) => tls_note = Some(format!("warning: TLS is not on: {e}")),
        }
        let admin = Arc::new(Admin {
            keychain: Keychain::new(&tuning.keychain_service),
            store,
            sidecar: Sidecar::new(),
            current: Mutex::new(config),
            changes: tokio::sync::Mutex::new(()),
            admin_token: console::generate_token(),
            sidecar_api: Mutex::new(None),
            disk: ops::disk::DiskState::new(&options.data_dir),
            options,
            tuning,
        });
        if let Some(note) = tls_note {
            admin.sidecar.logs().push(&note);
        }
        ops::spawn_renewal(&admin);
        ops::disk::spawn_disk_watch(&admin);
        {
            let _change = admin.changes.lock().await;
            if admin.launch_current().await.is_ok() {
                let _ = admin
                    .sidecar
                    .wait_healthy(admin.tuning.startup_timeout)
                    .await;
            }
        }
        Ok(admin)
    }

    /// Runs the operation `op` with its JSON arguments (see `docs/admin-api.md`).
    pub async fn call(&self, op: &str, args: Value) -> Result<Value, AdminError> {
        ops::dispatch(self, op, args).await
    }

    /// Stops the registry sidecar and waits until it has exited.
    pub async fn shutdown(&self) {
        let _change = self.changes.lock().await;
        self.sidecar.stop().await;
    }

    /// The admin API (`/berth/v1/`) of the running registry.
    pub(crate) fn sidecar_api(&self) -> Result<sidecar_api::SidecarApi, AdminError> {
        let api = match self.sidecar_api.lock() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        api.ok_or_else(|| {
            AdminError::new(
                ErrorCode::Sidecar,
                "the registry has not been started",
                "start it on the Status page",
            )
        })
    }

    /// The saved configuration (secrets as placeholders).
    fn current(&self) -> Config {
        match self.current.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_current(&self, config: Config) {
        match self.current.lock() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}
