//! Quitting on SIGTERM and SIGINT the same way as closing the window, so the
//! sidecar is stopped (`RunEvent::Exit` runs the shutdown).

use tauri::AppHandle;
use tokio::signal::unix::{SignalKind, signal};

/// Exits the app cleanly on the first SIGTERM or SIGINT.
pub fn on_signals(handle: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            eprintln!(
                "berth: cannot listen for SIGTERM/SIGINT; quit from the window so the \
                 registry sidecar is stopped"
            );
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.exit(0);
    });
}
