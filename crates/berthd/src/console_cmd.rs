//! `berthd console`: the admin UI and its JSON API for a browser, over the
//! same `berth-admin` core the desktop app drives, with the registry as its
//! supervised sidecar.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_admin::{Admin, AdminOptions, Tuning, console};

/// The desktop app's identifier: the console shares its data directory, so
/// both manage the same registry.
const APP_ID: &str = "dev.berth.app";

/// Where the console keeps config.yml and state: `--data-dir`, else the
/// desktop app's data directory.
fn data_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    let base = dirs::data_dir().context(
        "cannot find the user's data directory: set HOME or XDG_DATA_HOME, or pass --data-dir",
    )?;
    Ok(base.join(APP_ID))
}

/// The built UI: `--ui-dir`, else `ui/dist` under the current directory (a
/// checkout), else `ui` beside the executable (an installed layout).
fn ui_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    let candidates = [
        Some(PathBuf::from("ui/dist")),
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|p| p.join("ui"))),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| console::ui_built(d))
}

/// Runs the console until SIGINT/SIGTERM, then stops the sidecar.
pub fn run(
    listen: SocketAddr,
    data_dir_flag: Option<&Path>,
    ui_dir_flag: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir(data_dir_flag)?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let registry_data_dir = std::env::var_os("BERTH_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("registry"));
    let berthd = std::env::current_exe().context("find the berthd executable")?;
    let ui = ui_dir(ui_dir_flag);
    let token = console::needs_token(&listen).then(console::generate_token);
    // The Trust page acts on this machine, or on the filesystem at
    // $BERTH_TRUST_ROOT (tests, an image being prepared): files only there.
    let mut tuning = Tuning::default();
    if let Some(root) = std::env::var_os("BERTH_TRUST_ROOT").filter(|r| !r.is_empty()) {
        tuning.trust_root = PathBuf::from(root);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
            format!("cannot listen on {listen}: is another console running there? pick another --listen")
        })?;
        let admin = Admin::start_with(
            AdminOptions {
                data_dir: data_dir.clone(),
                berthd,
                registry_data_dir,
            },
            tuning,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let addr = listener.local_addr()?;
        match &token {
            Some(t) => println!("Berth console: http://{addr}/?token={t}"),
            None => println!("Berth console: http://{addr}/"),
        }
        if token.is_some() {
            println!("(bound beyond loopback: every API call needs this token)");
        }
        println!("data directory: {}", data_dir.display());
        if let Some(root) = std::env::var_os("BERTH_TRUST_ROOT").filter(|r| !r.is_empty()) {
            println!(
                "trust root: {} (the Trust page writes there and runs no commands)",
                Path::new(&root).display()
            );
        }
        if ui.is_none() {
            eprintln!(
                "note: the UI is not built; build it with `make ui` (or pass --ui-dir); the API works"
            );
        }
        let served = console::serve_with_shutdown(
            admin.clone(),
            listener,
            ui,
            token,
            crate::serve::shutdown_signal(),
        )
        .await;
        admin.shutdown().await;
        if let Err(e) = served {
            bail!("the console stopped: {e:#}");
        }
        eprintln!("berthd console stopped");
        Ok(ExitCode::SUCCESS)
    })
}
