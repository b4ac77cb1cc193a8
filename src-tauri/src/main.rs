//! Berth, the desktop app: one Tauri window over `berth-admin`.
//!
//! The window opens at once and shows the UI in `ui/dist`; the management core
//! ([`berth_admin::Admin`]) starts in the background and runs `berthd` as its
//! sidecar. The UI reaches every admin operation through one command,
//! `invoke("admin", { op, args })` (see `docs/admin-api.md`), and saves
//! downloads through `save_download` (see the `download` module). Quitting the app,
//! by closing the window or by SIGTERM/SIGINT, stops the sidecar.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod backend;
mod download;
mod paths;
mod quit;

use backend::Backend;
use tauri::{Manager, RunEvent};

/// The one command the UI calls: runs admin operation `op` with `args` (`{}` when
/// left out). Rejects with the contract's `{"error": {"code", "message", "hint"}}`.
#[tauri::command]
async fn admin(
    op: String,
    args: Option<serde_json::Value>,
    backend: tauri::State<'_, Backend>,
) -> Result<serde_json::Value, serde_json::Value> {
    let args = args.unwrap_or_else(|| serde_json::json!({}));
    backend.call(&op, args).await
}

fn main() {
    let app = tauri::Builder::default()
        .manage(Backend::new())
        .invoke_handler(tauri::generate_handler![admin, download::save_download])
        .setup(|app| {
            let handle = app.handle().clone();
            // The window is already up; the sidecar starts behind it and the UI
            // shows "starting" until the first call returns.
            tauri::async_runtime::spawn(async move {
                let options = paths::admin_options(&handle);
                handle.state::<Backend>().start(options).await;
            });
            quit::on_signals(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!(
                "berth: cannot open the window: {err}. Check that a display is available \
                 (DISPLAY or WAYLAND_DISPLAY) and that WebKitGTK 4.1 is installed \
                 (Debian: libwebkit2gtk-4.1-0)."
            );
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            tauri::async_runtime::block_on(handle.state::<Backend>().shutdown());
        }
    });
}
