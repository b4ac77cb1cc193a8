//! Where the app keeps its data and where it finds the `berthd` sidecar.

use std::path::PathBuf;

use berth_admin::{AdminError, AdminOptions, ErrorCode};
use tauri::{AppHandle, Manager};

/// Overrides the app data directory (tests point it at a temporary directory).
pub const DATA_DIR_ENV: &str = "BERTH_APP_DATA_DIR";

/// The sidecar's file name, next to the app's own executable.
const BERTHD: &str = "berthd";

/// The options for `Admin::start`: the data directory (`$BERTH_APP_DATA_DIR` or
/// Tauri's app data directory), `berthd` next to this executable, and the
/// registry's image store in `<data>/registry`.
pub fn admin_options(handle: &AppHandle) -> Result<AdminOptions, AdminError> {
    let data_dir = data_dir(handle)?;
    std::fs::create_dir_all(&data_dir).map_err(|err| {
        setup_error(
            format!(
                "cannot create the data directory {}: {err}",
                data_dir.display()
            ),
            format!("make it writable, or set {DATA_DIR_ENV} to a directory Berth can write"),
        )
    })?;
    Ok(AdminOptions {
        registry_data_dir: data_dir.join("registry"),
        berthd: berthd()?,
        data_dir,
    })
}

fn data_dir(handle: &AppHandle) -> Result<PathBuf, AdminError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    handle.path().app_data_dir().map_err(|err| {
        setup_error(
            format!("cannot find the app data directory: {err}"),
            format!("set HOME (or XDG_DATA_HOME), or set {DATA_DIR_ENV} to a directory"),
        )
    })
}

fn berthd() -> Result<PathBuf, AdminError> {
    let exe = std::env::current_exe().map_err(|err| {
        setup_error(
            format!("cannot find the app's own executable: {err}"),
            "start Berth from where it is installed".to_owned(),
        )
    })?;
    let berthd = exe.with_file_name(BERTHD);
    if berthd.is_file() {
        return Ok(berthd);
    }
    Err(setup_error(
        format!("the registry sidecar {} is missing", berthd.display()),
        format!(
            "reinstall Berth, or build the sidecar into the app's target directory \
             (`cargo build -p berthd -p berth-app`): {BERTHD} must sit beside {}",
            exe.display()
        ),
    ))
}

/// The app could not set itself up to run the sidecar.
fn setup_error(message: String, hint: String) -> AdminError {
    AdminError::new(ErrorCode::Sidecar, message, hint)
}
