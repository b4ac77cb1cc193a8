//! `berthd gc`: Distribution's `registry garbage-collect`, in this process
//! against the configured store: mark every blob a manifest refers to,
//! sweep the rest, purge abandoned uploads.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_registry::gc::{GcOptions, GcReport};

use crate::du_cmd::size;

/// What `berthd gc` was asked to do.
pub struct Request<'a> {
    pub config: Option<&'a Path>,
    pub dry_run: bool,
    pub delete_untagged: bool,
    pub grace_period: Duration,
    pub json: bool,
}

/// Parses `--grace-period` (Go durations: `1h`, `30m`, `0s`).
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    berth_config::parse_go_duration(text)
        .map_err(|e| format!("{e}; write a duration such as 1h, 30m or 0s"))
}

/// Runs the collection and prints its report.
pub fn run(request: Request<'_>) -> anyhow::Result<ExitCode> {
    let config = crate::serve::load(request.config)?;
    let purge_age = config.storage.maintenance.upload_purging.age;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        let (registry, described) = crate::du_cmd::open_registry(request.config).await?;
        let options = GcOptions {
            dry_run: request.dry_run,
            delete_untagged: request.delete_untagged,
            grace_period: request.grace_period,
            purge_uploads_older_than: Some(purge_age),
        };
        let report = registry
            .collect_garbage(&options)
            .await
            .with_context(|| format!("garbage collection of {described} failed"))?;
        let text = if request.json {
            serde_json::to_string_pretty(&report)? + "\n"
        } else {
            render(&report, &described)
        };
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        Ok(ExitCode::SUCCESS)
    })
}

/// The human report.
pub fn render(r: &GcReport, described: &str) -> String {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    let mut s = String::new();
    for m in &r.manifests_deleted {
        s += &format!("{}: {verb} untagged manifest {}\n", m.repository, m.digest);
    }
    for u in &r.uploads_purged {
        s += &format!("{verb} abandoned upload {u}\n");
    }
    s += &format!(
        "{described}: {} repositories, {} manifests, {} blobs\n",
        r.repositories, r.manifests, r.blobs
    );
    s += &format!(
        "marked   {} blobs ({})\n",
        r.blobs_marked,
        size(r.bytes_marked)
    );
    s += &format!(
        "{}  {} blobs ({}){}\n",
        if r.dry_run { "to sweep" } else { "swept  " },
        r.blobs_swept,
        size(r.bytes_swept),
        if r.dry_run {
            "; nothing was deleted (dry run)"
        } else {
            ""
        }
    );
    if r.blobs_kept_young > 0 {
        s += &format!(
            "kept     {} unreferenced blobs younger than the grace period ({} s)\n",
            r.blobs_kept_young, r.grace_period_seconds
        );
    }
    if r.blobs_kept_in_use > 0 {
        s += &format!(
            "kept     {} unreferenced blobs used while collecting\n",
            r.blobs_kept_in_use
        );
    }
    s += &format!("done in {} ms\n", r.millis);
    s
}
