//! `berthd du`: the store's usage, as the app shows it: totals, what
//! garbage collection would free, and per repository and tag the unique
//! and shared bytes.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_registry::usage::Usage;
use berth_registry::{Registry, Settings};
use bytesize::ByteSize;

/// `1.2 GiB`.
pub fn size(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

/// Opens the configured store in this process, without serving it.
pub async fn open_registry(path: Option<&Path>) -> anyhow::Result<(Arc<Registry>, String)> {
    let config = crate::serve::load(path)?;
    let described = berth_drivers::describe(&config.storage.driver);
    let driver = berth_drivers::open(&config.storage.driver)
        .await
        .with_context(|| format!("cannot open the store ({described})"))?;
    let settings = Settings {
        delete_enabled: true,
        ..Settings::default()
    };
    Ok((Arc::new(Registry::new(driver, settings)), described))
}

/// Scans the store and prints the figures (JSON with `json`).
pub fn run(path: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        let (registry, described) = open_registry(path).await?;
        let ticker = std::io::stderr().is_terminal().then(|| {
            let registry = registry.clone();
            let described = described.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let _ = write!(
                        std::io::stderr(),
                        "\rscanning {described}: {} objects",
                        registry.usage_scanned()
                    );
                }
            })
        });
        let usage = registry.scan_usage().await;
        if let Some(t) = ticker {
            t.abort();
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
        let usage = usage.context("cannot scan the store")?;
        let mut out = std::io::stdout().lock();
        let text = if json {
            serde_json::to_string_pretty(&usage)? + "\n"
        } else {
            render(&usage, &described)
        };
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = out.write_all(text.as_bytes());
        Ok(ExitCode::SUCCESS)
    })
}

/// The human table.
pub fn render(u: &Usage, described: &str) -> String {
    let mut s = String::new();
    s += &format!("store        {described}\n");
    s += &format!(
        "total        {:>10}  in {} objects\n",
        size(u.total_bytes),
        u.objects
    );
    s += &format!(
        "blobs        {:>10}  in {} blobs\n",
        size(u.blob_bytes),
        u.blobs
    );
    s += &format!(
        "reclaimable  {:>10}  in {} blobs no manifest refers to{}\n",
        size(u.reclaimable_bytes),
        u.reclaimable_blobs,
        if u.reclaimable_blobs > 0 {
            " (free it with `berthd gc`)"
        } else {
            ""
        }
    );
    if u.upload_bytes > 0 {
        s += &format!("uploads      {:>10}  not finished\n", size(u.upload_bytes));
    }
    s += "\n";
    if u.repositories.is_empty() {
        s += "no repositories\n";
    } else {
        let width = u
            .repositories
            .iter()
            .flat_map(|r| {
                std::iter::once(r.name.len()).chain(r.tags.iter().map(|t| t.tag.len() + 2))
            })
            .max()
            .unwrap_or(10)
            .max(10);
        s += &format!(
            "{:<width$}  {:>10}  {:>10}  {:>10}  {:>9}\n",
            "REPOSITORY", "UNIQUE", "SHARED", "TOTAL", "MANIFESTS"
        );
        for r in &u.repositories {
            s += &format!(
                "{:<width$}  {:>10}  {:>10}  {:>10}  {:>9}\n",
                r.name,
                size(r.unique_bytes),
                size(r.shared_bytes),
                size(r.total_bytes),
                r.manifests
            );
            for t in &r.tags {
                let short = t.digest.get(..19).unwrap_or(&t.digest);
                s += &format!(
                    "  {:<w$}  {:>10}  {:>10}  {:>10}  {short}\n",
                    t.tag,
                    "",
                    "",
                    size(t.bytes),
                    w = width - 2
                );
            }
        }
    }
    s += &format!(
        "\nscanned {} in {} ms; unique bytes are freed (by `berthd gc`) when a repository is deleted\n",
        u.scanned_at, u.scan_millis
    );
    s
}
