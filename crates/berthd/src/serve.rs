//! `berthd serve`: load the config, say what cannot be honoured, open the
//! store, and serve until SIGINT or SIGTERM (or, with `--exit-with-parent`,
//! until its standard input reaches end of file).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_config::{Auth, Config, LogFormatter, LogLevel};
use berth_registry::auth::{Authenticator, HtpasswdFile, token};
use berth_registry::{Registry, Settings, server};
use tokio::sync::watch;

use crate::capabilities::{Gap, gaps};

/// Where the embedded default stores images: `$BERTH_DATA_DIR`, else the
/// user's data directory.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_DATA_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("berth")
        .join("registry")
}

/// Loads `path`, or the embedded default (with `REGISTRY_*` variables
/// applied either way); prints the warnings.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let loaded = match path {
        Some(path) => Config::load(path)?,
        None => {
            let yaml = Config::embedded_default(&default_root()).to_yaml(false);
            let env = std::env::vars().filter(|(k, _)| k.starts_with("REGISTRY_"));
            Config::parse(&yaml, "(embedded default)", env)?
        }
    };
    let origin = path.unwrap_or(Path::new("(embedded default)"));
    for w in &loaded.warnings {
        eprintln!(
            "{}",
            crate::config_cmd::located("warning", origin, w.line, w.column, &w.message)
        );
    }
    Ok(loaded.config)
}

/// Parses Distribution's `http.addr` (`:5000`, `host:port`, `[::1]:5000`).
pub fn listen_addr(addr: &str) -> anyhow::Result<SocketAddr> {
    let addr = if addr.is_empty() { ":5000" } else { addr };
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    if let Ok(a) = full.parse() {
        return Ok(a);
    }
    use std::net::ToSocketAddrs;
    full.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| {
            format!("http.addr {addr:?} is not an address to listen on; write host:port or :port")
        })
}

fn init_logging(config: &Config) {
    let level = match config.log.level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.formatter == Some(LogFormatter::Json) {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs the registry. With `exit_with_parent`, it also stops (as on SIGTERM)
/// when its standard input reaches end of file: the parent holds the pipe's
/// other end, and the kernel closes it when the parent dies, however it dies.
pub fn run(config_path: Option<&Path>, exit_with_parent: bool) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let mut blocking = Vec::new();
    for gap in gaps(&config) {
        match gap {
            Gap::Blocking(m) => blocking.push(m),
            Gap::Ignored(m) => eprintln!("note: {m}"),
        }
    }
    if !blocking.is_empty() {
        bail!(
            "this config asks for what Berth cannot serve:\n  - {}",
            blocking.join("\n  - ")
        );
    }
    init_logging(&config);
    let tls = config.http.tls.is_some();
    let settings = Settings {
        delete_enabled: config.storage.delete.enabled,
        redirect_disabled: config.storage.redirect.disable,
        read_only: config.storage.maintenance.readonly.enabled,
        relative_urls: config.http.relative_urls,
        host: config.http.host.clone(),
        prefix: config.http.prefix.clone(),
        headers: config.http.headers.clone(),
        tls,
    };
    let tls_config = match &config.http.tls {
        Some(t) => Some(server::tls_config(
            t.certificate.as_deref().expect("checked by capabilities"),
            t.key.as_deref().expect("checked by capabilities"),
            !config.http.http2_disabled,
        )?),
        None => None,
    };
    let addr = listen_addr(&config.http.addr)?;
    // Watch stdin before anything slow (opening a cloud store): a parent that
    // dies meanwhile is noticed at once.
    let watched = exit_with_parent.then(watch_stdin);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let driver = tokio::select! {
            driver = berth_drivers::open(&config.storage.driver) => driver?,
            () = parent_gone(watched.clone()) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "berthd: standard input closed (the parent process is gone) before serving: stopping"
                );
                return Ok(ExitCode::SUCCESS);
            }
        };
        // Kept whenever there is a debug listener (the app reads a summary
        // through the admin API); served to Prometheus when enabled.
        let metrics = config
            .http
            .debug
            .as_ref()
            .filter(|d| !d.addr.is_empty())
            .map(|d| {
                let path = d.prometheus.enabled.then_some(d.prometheus.path.as_str());
                berth_registry::metrics::Metrics::new(path)
            });
        let driver = match &metrics {
            Some(m) => m.instrument(driver),
            None => driver,
        };
        let health = berth_registry::health::HealthChecks::new(health_checks(&config));
        let mut registry = Registry::new(driver, settings)
            .with_upload_purge_age(config.storage.maintenance.upload_purging.age);
        if let Some(m) = &metrics {
            registry = registry.with_metrics(m.clone());
        }
        if !health.is_empty() {
            registry = registry.with_health(health.clone());
        }
        match &config.auth {
            Some(Auth::Htpasswd { realm, path }) => {
                let htpasswd = HtpasswdFile::load(realm, path)?;
                eprintln!(
                    "basic auth: {} user(s) from {} (reloaded when it changes)",
                    htpasswd.current().len(),
                    path.display()
                );
                registry = registry.with_auth(Authenticator::HtpasswdFile(htpasswd));
            }
            Some(Auth::Token(t)) => {
                let auth = token::TokenAuth::new(&token::TokenOptions {
                    realm: t.realm.clone(),
                    service: t.service.clone(),
                    issuer: t.issuer.clone(),
                    root_cert_bundle: t.root_cert_bundle.clone(),
                    jwks: t.jwks.clone(),
                    auto_redirect: t.auto_redirect,
                    auto_redirect_path: t.auto_redirect_path.clone(),
                    signing_algorithms: t.signing_algorithms.clone(),
                })?;
                eprintln!(
                    "token auth: tokens from {} for service {:?}, issuer {:?}",
                    t.realm, t.service, t.issuer
                );
                registry = registry.with_auth(Authenticator::Token(auth));
            }
            _ => {}
        }
        if let Some((ca_dir, downloads)) = crate::ca_cmd::published_ca(&config)? {
            eprintln!(
                "publishing the CA of {} at /ca, /ca/install.sh, /ca/install.ps1",
                ca_dir.path().display()
            );
            registry = registry.with_trust(downloads);
        }
        if config.notifications.endpoints.iter().any(|e| !e.disabled) {
            let dir = berth_notify::state_dir(&config);
            let notifier = berth_notify::Notifier::start(&config.notifications, &dir)?;
            eprintln!(
                "notifications: {} endpoint(s), queued in {} ({} event(s) waiting)",
                notifier.endpoints().iter().filter(|e| !e.settings.disabled).count(),
                dir.display(),
                notifier.pending()
            );
            if let Some(m) = &metrics {
                let queue = notifier.clone();
                m.set_queue_depth(move || queue.pending());
            }
            registry = registry.with_events(
                notifier,
                source_addr(&config.http.addr),
                config.notifications.events.include_references,
            );
        }
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (http.addr): is another registry running there?")
        })?;
        // Both listeners are bound before "serving" is said, so that a
        // parent reading it can use either at once.
        let debug = match &config.http.debug {
            Some(d) if !d.addr.is_empty() => Some(debug_listener(&d.addr).await?),
            _ => None,
        };
        let scheme = if tls { "https" } else { "http" };
        println!(
            "berthd {} serving {scheme}://{addr}/v2/ from {}",
            env!("CARGO_PKG_VERSION"),
            berth_drivers::describe(&config.storage.driver)
        );
        let registry = Arc::new(registry);
        health.start(registry.driver().clone());
        let purging = &config.storage.maintenance.upload_purging;
        if purging.enabled {
            tokio::spawn(purge_uploads(
                registry.clone(),
                purging.age,
                purging.interval,
                purging.dry_run,
            ));
        }
        let (stopped, stopping) = watch::channel(false);
        if let Some(listener) = debug {
            let token = std::env::var(berth_registry::debug::ADMIN_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty());
            let router = berth_registry::debug::router(registry.clone(), token);
            let mut stopping = stopping.clone();
            let stop = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            tokio::spawn(async move {
                let drain = std::time::Duration::from_secs(1);
                if let Err(e) = server::serve(listener, router, None, drain, stop).await {
                    tracing::error!(error = %e, "the debug listener (http.debug.addr) failed");
                }
            });
        }
        let stop = async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = parent_gone(watched) => {
                    // The parent is gone and with it, most likely, the other
                    // end of stderr: a failed write is no reason to panic.
                    let _ = writeln!(
                        std::io::stderr(),
                        "berthd: standard input closed (the parent process is gone): stopping"
                    );
                }
            }
        };
        let drain = match config.http.drain_timeout {
            d if d.is_zero() => server::DEFAULT_DRAIN,
            d => d,
        };
        let stop = async move {
            stop.await;
            let _ = stopped.send(true);
        };
        server::serve(listener, registry.router(), tls_config, drain, stop).await?;
        let _ = writeln!(std::io::stderr(), "berthd stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `hostname:port` for events' `source.addr`, as Distribution gives it.
fn source_addr(http_addr: &str) -> String {
    let host = berth_trust::ca::hostname();
    match http_addr.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() => format!("{host}:{port}"),
        _ => host,
    }
}

/// The `health` section as checks, named as Distribution names them.
fn health_checks(config: &Config) -> Vec<berth_registry::health::CheckSpec> {
    use berth_registry::health::{CheckSpec, Probe};
    let h = &config.health;
    let mut checks = Vec::new();
    if h.storage_driver.enabled {
        checks.push(CheckSpec {
            name: format!("storagedriver_{}", config.storage.driver.name),
            probe: Probe::StorageDriver,
            interval: h.storage_driver.interval,
            threshold: h.storage_driver.threshold,
        });
    }
    for f in &h.file {
        checks.push(CheckSpec {
            name: f.file.display().to_string(),
            probe: Probe::File(f.file.clone()),
            interval: f.interval,
            threshold: f.threshold,
        });
    }
    for c in &h.http {
        checks.push(CheckSpec {
            name: c.uri.clone(),
            probe: Probe::Http {
                uri: c.uri.clone(),
                headers: c.headers.clone(),
                status: c.status_code.unwrap_or(200),
                timeout: c.timeout,
            },
            interval: c.interval,
            threshold: c.threshold,
        });
    }
    for c in &h.tcp {
        checks.push(CheckSpec {
            name: c.addr.clone(),
            probe: Probe::Tcp {
                addr: c.addr.clone(),
                timeout: c.timeout,
            },
            interval: c.interval,
            threshold: c.threshold,
        });
    }
    checks
}

/// Binds `http.debug.addr`, saying what it serves.
async fn debug_listener(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = listen_addr(addr)?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (http.debug.addr): is another registry running there?")
    })?;
    println!(
        "debug listener on http://{}/ (health, metrics, and the admin API under {})",
        listener.local_addr().unwrap_or(addr),
        berth_registry::debug::ADMIN_PREFIX
    );
    Ok(listener)
}

/// Distribution's `uploadpurging`: first a minute after start, then every
/// `interval`.
async fn purge_uploads(
    registry: Arc<Registry>,
    age: std::time::Duration,
    interval: std::time::Duration,
    dry_run: bool,
) {
    let interval = interval.max(std::time::Duration::from_secs(1));
    tokio::time::sleep(interval.min(std::time::Duration::from_secs(60))).await;
    loop {
        match registry.purge_uploads(age, dry_run).await {
            Ok(r) if !r.purged.is_empty() => tracing::info!(
                purged = r.purged.len(),
                kept = r.kept,
                dry_run,
                "purged abandoned uploads older than {}",
                humantime_age(age)
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "upload purging failed; will try again"),
        }
        tokio::time::sleep(interval).await;
    }
}

fn humantime_age(age: std::time::Duration) -> String {
    berth_config::format_go_duration(age)
}

/// Reads (and discards) standard input on a thread of its own until end of
/// file or a read error, then says so on the channel. A plain thread, not
/// tokio's stdin: its blocking read, which may never end, would hold up the
/// runtime's shutdown on SIGTERM, while this thread simply ends with the
/// process.
fn watch_stdin() -> watch::Receiver<bool> {
    let (gone, watched) = watch::channel(false);
    std::thread::Builder::new()
        .name("exit-with-parent".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 512];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = gone.send(true);
        })
        .expect("start the thread watching standard input");
    watched
}

/// Completes when the watched standard input has closed; never without
/// `--exit-with-parent`.
async fn parent_gone(watched: Option<watch::Receiver<bool>>) {
    match watched {
        // An error means the watching thread ended without a word: as gone.
        Some(mut watched) => {
            let _ = watched.wait_for(|gone| *gone).await;
        }
        None => std::future::pending().await,
    }
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(listen_addr(":5000").unwrap().to_string(), "0.0.0.0:5000");
        assert_eq!(listen_addr("127.0.0.1:80").unwrap().port(), 80);
        assert_eq!(listen_addr("[::1]:5000").unwrap().to_string(), "[::1]:5000");
        assert!(listen_addr("nonsense").is_err());
    }
}
