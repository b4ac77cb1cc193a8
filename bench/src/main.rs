//! Benchmarks `berthd` against CNCF Distribution (Debian's `docker-registry`) in one run.
//!
//! Both registries are started at once as real processes on 127.0.0.1, each
//! with a fresh filesystem root, and every phase is measured on one, then the
//! other (the order alternates between rounds). Each figure is reported for
//! both with the ratio berthd/Distribution and the project's goal for it.
//!
//! ```text
//! cargo build --release -p berthd -p berth-bench
//! cargo run --release -p berth-bench -- --quick
//! cargo run --release -p berth-bench -- --only distribution
//! ```

mod api;
mod blob;
mod ceiling;
mod report;
mod usage;
mod workload;

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use berth_e2e::registry::{Kind, Options, Registry};
use bytes::Bytes;
use clap::Parser;
use reqwest::Method;

use crate::api::{Api, OCI_MANIFEST};
use crate::blob::{BlobSpec, Pattern};
use crate::report::{Environment, Outcome, Phase, Results, Run};
use crate::usage::{Snapshot, Usage};
use crate::workload::run_concurrently;

const MIB: u64 = 1 << 20;

#[derive(Parser, Debug)]
#[command(
    about = "Benchmark berthd against CNCF Distribution, side by side in one run",
    after_help = "Example: cargo run --release -p berth-bench -- --quick --only distribution"
)]
struct Cli {
    /// Small sizes for a smoke run in under a minute: 64 MiB blob, 200 small
    /// blobs, 2,000 manifest requests, 200 repositories, one round.
    #[arg(long)]
    quick: bool,

    /// Benchmark one registry alone (no ratios).
    #[arg(long, value_parser = ["distribution", "berthd"])]
    only: Option<String>,

    /// Rounds of every phase; the order of the two registries alternates
    /// between rounds. Default: 3, or 1 with --quick.
    #[arg(long)]
    rounds: Option<usize>,

    /// Also write the Markdown report to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,

    /// Leave out Distribution's stock `storage.cache.blobdescriptor: inmemory`
    /// (both registries always get the same config).
    #[arg(long)]
    no_blob_cache: bool,
}

/// Sizes and counts of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The large blob.
    pub blob_size: u64,
    /// A blob 1/16 the size of the large one, to see whether memory grows with size.
    pub ref_size: u64,
    /// PATCH size of the chunked push.
    pub chunk_size: u64,
    /// How many small blobs.
    pub small_count: usize,
    /// Size of each small blob.
    pub small_size: u64,
    /// Concurrency of small-blob pushes and pulls.
    pub small_concurrency: usize,
    /// Manifest GETs (and as many HEADs) per round; the total is split over the rounds.
    pub manifest_requests: usize,
    /// Concurrency of manifest requests.
    pub manifest_concurrency: usize,
    /// Repositories behind `_catalog`.
    pub catalog_repos: usize,
    /// Page size of the full listing.
    pub catalog_page: usize,
    /// Default-page requests per round.
    pub catalog_default_repeats: usize,
    /// Full listings per round.
    pub catalog_full_repeats: usize,
    /// Rounds.
    pub rounds: usize,
    /// Whether both configs carry `storage.cache.blobdescriptor: inmemory`.
    pub blob_cache: bool,
}

impl Settings {
    fn new(cli: &Cli) -> Settings {
        let quick = cli.quick;
        let rounds = cli.rounds.unwrap_or(if quick { 1 } else { 3 }).max(1);
        let blob_size = if quick { 64 * MIB } else { 1024 * MIB };
        Settings {
            blob_size,
            ref_size: blob_size / 16,
            chunk_size: 16 * MIB,
            small_count: if quick { 200 } else { 1000 },
            small_size: 64 * 1024,
            small_concurrency: 16,
            manifest_requests: (if quick { 2_000usize } else { 20_000 }).div_ceil(rounds),
            manifest_concurrency: 32,
            catalog_repos: if quick { 200 } else { 1000 },
            catalog_page: 100,
            catalog_default_repeats: 5,
            catalog_full_repeats: 3,
            rounds,
            blob_cache: !cli.no_blob_cache,
        }
    }
}

/// One registry under test.
pub struct Target {
    /// Display name.
    pub name: &'static str,
    registry: Registry,
    api: Api,
    pid: u32,
}

const BIG_REPO: &str = "bench/big";
const SMALL_REPO: &str = "bench/small";
const IMAGE_REPO: &str = "bench/manifest";
const IMAGE_TAG: &str = "latest";

fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::new(&cli);
    let kinds: Vec<Kind> = match cli.only.as_deref() {
        Some("distribution") => vec![Kind::Distribution],
        Some("berthd") => vec![Kind::Berthd],
        _ => vec![Kind::Distribution, Kind::Berthd],
    };
    if kinds.contains(&Kind::Berthd) {
        locate_berthd()?;
    }
    let env = Environment::collect(&kinds, &settings, cli.quick);

    // The harness waits for readiness with a blocking client, so the
    // registries start before the async runtime does.
    let mut options = Options::default();
    if settings.blob_cache {
        options.storage_yaml = "cache:\n  blobdescriptor: inmemory\n".into();
    }
    let mut targets = Vec::new();
    for kind in kinds {
        let name = match kind {
            Kind::Distribution => "Distribution",
            Kind::Berthd => "berthd",
        };
        let registry = Registry::start(kind, options.clone())
            .with_context(|| format!("{name} is not installed"))?;
        let pid = registry.pid().context("registry process id")?;
        let api = Api::new(&registry.url())?;
        eprintln!(
            "started {name} (pid {pid}) at {} with root {}",
            registry.url(),
            registry.root().display()
        );
        targets.push(Target {
            name,
            registry,
            api,
            pid,
        });
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(bench(&targets, &settings));
    let results = match results {
        Ok(results) => results,
        Err(e) => {
            for t in &targets {
                let log = t.registry.log();
                if !log.trim().is_empty() {
                    eprintln!("--- {} log (tail) ---", t.name);
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    for line in tail.into_iter().rev() {
                        eprintln!("{line}");
                    }
                }
            }
            return Err(e);
        }
    };

    let report = report::Report::new(&results, &settings, &env);
    println!("{}", report.plain());
    let markdown = report.markdown();
    println!("\n----- Markdown for bench/RESULTS.md -----\n\n{markdown}");
    if let Some(path) = cli.markdown {
        std::fs::write(&path, &markdown).with_context(|| format!("write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Checks that the release `berthd` the harness will start (next to this
/// executable, or `BERTHD_BIN`) exists, with a message saying how to build it.
fn locate_berthd() -> Result<()> {
    if std::env::var_os("BERTHD_BIN").is_some() {
        return Ok(());
    }
    let bin = std::env::current_exe()?.with_file_name("berthd");
    if !bin.is_file() {
        bail!(
            "berthd is not built at {}: run `cargo build --release -p berthd` first, \
             or point BERTHD_BIN at it",
            bin.display()
        );
    }
    Ok(())
}

/// Blobs of one round, with their digests.
struct RoundBlobs {
    reference: (BlobSpec, String),
    monolithic: (BlobSpec, String),
    chunked: (BlobSpec, String),
    small: Arc<Vec<(Bytes, String)>>,
}

async fn round_blobs(pattern: &Pattern, settings: &Settings, round: usize) -> Result<RoundBlobs> {
    let seed = |i: u64| round as u64 * 100_000 + i;
    let spec = |s: u64, len: u64| {
        let blob = pattern.blob(s, len);
        tokio::task::spawn_blocking(move || {
            let digest = blob.digest();
            (blob, digest)
        })
    };
    let reference = spec(seed(1), settings.ref_size);
    let monolithic = spec(seed(2), settings.blob_size);
    let chunked = spec(seed(3), settings.blob_size);
    let small = (0..settings.small_count)
        .map(|i| {
            let blob = pattern
                .blob(seed(10 + i as u64), settings.small_size)
                .to_bytes();
            let digest = pattern
                .blob(seed(10 + i as u64), settings.small_size)
                .digest();
            (blob, digest)
        })
        .collect();
    Ok(RoundBlobs {
        reference: reference.await?,
        monolithic: monolithic.await?,
        chunked: chunked.await?,
        small: Arc::new(small),
    })
}

/// Flushes dirty pages so one registry's writes are not paid during the next one's phase.
async fn settle() -> Result<()> {
    tokio::task::spawn_blocking(|| Command::new("sync").status()).await??;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// Runs `work` against `target` and records what it cost.
async fn measure<Fut>(
    results: &mut Results,
    round: usize,
    phase: Phase,
    target: usize,
    targets: &[Target],
    work: Fut,
) -> Result<()>
where
    Fut: Future<Output = Result<Outcome>>,
{
    settle().await?;
    let t = &targets[target];
    let snapshot = Snapshot::take(t.pid)?;
    let outcome = work
        .await
        .with_context(|| format!("{} on {}", phase.label(), t.name))?;
    let usage: Usage = snapshot.finish()?;
    let run = Run {
        round,
        phase,
        target,
        usage,
        outcome,
    };
    eprintln!("  {}", run.progress_line(t.name));
    results.runs.push(run);
    Ok(())
}

async fn bench(targets: &[Target], settings: &Settings) -> Result<Results> {
    let started = Instant::now();
    let pattern = Pattern::new();
    let mut results = Results::new(targets.iter().map(|t| t.name).collect());

    let image = image(&pattern);
    for (i, t) in targets.iter().enumerate() {
        t.api
            .push_bytes(IMAGE_REPO, image.config.0.clone(), &image.config.1)
            .await?;
        t.api
            .push_bytes(IMAGE_REPO, image.layer.0.clone(), &image.layer.1)
            .await?;
        t.api
            .put_manifest(IMAGE_REPO, IMAGE_TAG, OCI_MANIFEST, image.manifest.clone())
            .await?;
        let api = t.api.clone();
        let image = image.clone();
        let repos = settings.catalog_repos;
        measure(&mut results, 0, Phase::Populate, i, targets, async move {
            let image = Arc::new(image);
            let latencies = run_concurrently(16, repos, move |n| {
                let api = api.clone();
                let image = image.clone();
                async move {
                    let repo = format!("catalog/r{n:05}");
                    let (config, layer) = (&image.config, &image.layer);
                    api.mount_or_push(&repo, IMAGE_REPO, &config.1, config.0.clone())
                        .await?;
                    api.mount_or_push(&repo, IMAGE_REPO, &layer.1, layer.0.clone())
                        .await?;
                    api.put_manifest(&repo, IMAGE_TAG, OCI_MANIFEST, image.manifest.clone())
                        .await
                }
            })
            .await?;
            Ok(Outcome {
                ops: latencies.len() as u64,
                ..Outcome::default()
            })
        })
        .await?;
    }

    for round in 0..settings.rounds {
        eprintln!(
            "round {}/{} ({:.0} s so far)",
            round + 1,
            settings.rounds,
            started.elapsed().as_secs_f64()
        );
        let blobs = round_blobs(&pattern, settings, round).await?;
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }

        for (phase, pushed) in [
            (Phase::PushReference, &blobs.reference),
            (Phase::PushMonolithic, &blobs.monolithic),
        ] {
            for &i in &order {
                let api = targets[i].api.clone();
                let (blob, digest) = pushed.clone();
                measure(&mut results, round, phase, i, targets, async move {
                    api.push_monolithic(BIG_REPO, &blob, &digest).await?;
                    Ok(Outcome::bytes(blob.len()))
                })
                .await?;
            }
        }
        for &i in &order {
            let api = targets[i].api.clone();
            let (blob, digest) = blobs.chunked.clone();
            let chunk = settings.chunk_size;
            measure(
                &mut results,
                round,
                Phase::PushChunked,
                i,
                targets,
                async move {
                    api.push_chunked(BIG_REPO, &blob, &digest, chunk).await?;
                    Ok(Outcome::bytes(blob.len()))
                },
            )
            .await?;
        }
        for (phase, ceiling_phase, verify) in [
            (Phase::Pull, Phase::PullCeiling, true),
            (Phase::PullNoHash, Phase::PullNoHashCeiling, false),
        ] {
            for &i in &order {
                let api = targets[i].api.clone();
                let digest = blobs.monolithic.1.clone();
                measure(&mut results, round, phase, i, targets, async move {
                    Ok(Outcome::bytes(
                        api.pull_blob(BIG_REPO, &digest, verify).await?,
                    ))
                })
                .await?;
            }
            // The ceiling belongs to the machine, not to a registry: it is
            // measured once a round, sending the blob file the first
            // registry stored, with that (idle) registry's pid in the usage.
            let digest = blobs.monolithic.1.clone();
            let file = blob_file(targets[order[0]].registry.root(), &digest);
            let api = Api::new(&format!("http://{}", ceiling::serve_file(file)?))?;
            measure(
                &mut results,
                round,
                ceiling_phase,
                order[0],
                targets,
                async move {
                    Ok(Outcome::bytes(
                        api.pull_blob(BIG_REPO, &digest, verify).await?,
                    ))
                },
            )
            .await?;
        }

        for (phase, push) in [(Phase::SmallPush, true), (Phase::SmallPull, false)] {
            for &i in &order {
                let api = targets[i].api.clone();
                let small = blobs.small.clone();
                let concurrency = settings.small_concurrency;
                measure(&mut results, round, phase, i, targets, async move {
                    let n = small.len();
                    let latencies = run_concurrently(concurrency, n, move |k| {
                        let api = api.clone();
                        let small = small.clone();
                        async move {
                            let (body, digest) = &small[k];
                            if push {
                                api.push_bytes(SMALL_REPO, body.clone(), digest).await
                            } else {
                                api.pull_blob(SMALL_REPO, digest, true).await.map(drop)
                            }
                        }
                    })
                    .await?;
                    Ok(Outcome::ops(latencies))
                })
                .await?;
            }
        }

        for (phase, method) in [
            (Phase::ManifestGet, Method::GET),
            (Phase::ManifestHead, Method::HEAD),
        ] {
            for &i in &order {
                let api = targets[i].api.clone();
                let url = api.manifest_url(IMAGE_REPO, IMAGE_TAG)?;
                let concurrency = settings.manifest_concurrency;
                let requests = settings.manifest_requests;
                // Opens the connections and warms caches outside the measurement.
                manifest_load(&api, &url, &method, concurrency, concurrency * 20).await?;
                let method = method.clone();
                measure(&mut results, round, phase, i, targets, async move {
                    let latencies =
                        manifest_load(&api, &url, &method, concurrency, requests).await?;
                    Ok(Outcome::ops(latencies))
                })
                .await?;
            }
        }

        {
            let addr = ceiling::serve_memory(pattern.blob(77, image.manifest.len() as u64))?;
            let api = Api::new(&format!("http://{addr}"))?;
            let url = api.manifest_url(IMAGE_REPO, IMAGE_TAG)?;
            let concurrency = settings.manifest_concurrency;
            let requests = settings.manifest_requests;
            manifest_load(&api, &url, &Method::GET, concurrency, concurrency * 20).await?;
            measure(
                &mut results,
                round,
                Phase::ManifestCeiling,
                order[0],
                targets,
                async move {
                    let latencies =
                        manifest_load(&api, &url, &Method::GET, concurrency, requests).await?;
                    Ok(Outcome::ops(latencies))
                },
            )
            .await?;
        }

        for &i in &order {
            let api = targets[i].api.clone();
            let repeats = settings.catalog_default_repeats;
            measure(
                &mut results,
                round,
                Phase::CatalogDefault,
                i,
                targets,
                async move {
                    let mut outcome = Outcome::default();
                    for _ in 0..repeats {
                        let started = Instant::now();
                        let (repos, _) = api.catalog_page(api.catalog_url(None)?).await?;
                        outcome.calls.push(started.elapsed());
                        outcome.entries = repos.len();
                        outcome.pages = 1;
                    }
                    outcome.ops = repeats as u64;
                    Ok(outcome)
                },
            )
            .await?;
        }
        for &i in &order {
            let api = targets[i].api.clone();
            let repeats = settings.catalog_full_repeats;
            let page = settings.catalog_page;
            let expected = settings.catalog_repos;
            measure(&mut results, round, Phase::CatalogFull, i, targets, async move {
                let mut outcome = Outcome::default();
                for _ in 0..repeats {
                    let started = Instant::now();
                    let (entries, pages) = full_catalog(&api, page).await?;
                    outcome.calls.push(started.elapsed());
                    if entries < expected {
                        bail!("full _catalog listed {entries} repositories, expected at least {expected}");
                    }
                    outcome.entries = entries;
                    outcome.pages = pages;
                }
                outcome.ops = repeats as u64;
                Ok(outcome)
            })
            .await?;
        }
    }

    for t in targets {
        results
            .lifetime_peak_rss
            .push(usage::status_bytes(t.pid, "VmHWM")?);
    }
    results.elapsed = started.elapsed();
    Ok(results)
}

/// Where a registry with Distribution's storage layout keeps a blob's bytes.
fn blob_file(root: &std::path::Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    root.join("docker/registry/v2/blobs")
        .join(algorithm)
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// `requests` manifest `method`s at `concurrency`.
async fn manifest_load(
    api: &Api,
    url: &reqwest::Url,
    method: &Method,
    concurrency: usize,
    requests: usize,
) -> Result<Vec<Duration>> {
    let api = api.clone();
    let url = url.clone();
    let method = method.clone();
    run_concurrently(concurrency, requests, move |_| {
        let api = api.clone();
        let url = url.clone();
        let method = method.clone();
        async move { api.fetch_manifest(method, url).await }
    })
    .await
}

/// Lists the whole catalog `page` at a time, following `Link`; returns
/// (repositories, pages).
async fn full_catalog(api: &Api, page: usize) -> Result<(usize, usize)> {
    let mut next = Some(api.catalog_url(Some(page))?);
    let (mut entries, mut pages) = (0, 0);
    while let Some(url) = next {
        let (repos, link) = api.catalog_page(url).await?;
        entries += repos.len();
        pages += 1;
        if pages > 100_000 {
            bail!("_catalog pagination does not end");
        }
        next = link;
    }
    Ok((entries, pages))
}

/// A one-layer OCI image: (bytes, digest) of config and layer, and its manifest.
#[derive(Clone)]
struct Image {
    config: (Bytes, String),
    layer: (Bytes, String),
    manifest: Bytes,
}

fn image(pattern: &Pattern) -> Image {
    let layer_blob = pattern.blob(99_999, 2048);
    let layer = (layer_blob.to_bytes(), layer_blob.digest());
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.1]},
    });
    let config = Bytes::from(serde_json::to_vec(&config).expect("config JSON"));
    let config = (config.clone(), sha256(&config));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.1,
            "size": config.0.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer.1,
            "size": layer.0.len(),
        }],
    });
    Image {
        config,
        layer,
        manifest: Bytes::from(serde_json::to_vec(&manifest).expect("manifest JSON")),
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
