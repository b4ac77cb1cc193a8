//! Benchmarks `berthd` against CNCF Distribution (Debian's `docker-registry`) in one run.
//!
//! Both registries are started at once as real processes on 127.0.0.1, each
//! with a fresh filesystem root, and every phase is measured on one, then the
//! other (the order alternates between rounds). Each figure is reported for
//! both with the ratio berthd/Distribution and the project's goal for it.
//!
//! With `--storage s3` both run on the S3 server `scripts/storage-servers.sh`
//! started (each under its own prefix of one bucket) and only the phases that
//! say something about S3 are measured: large-blob pushes (monolithic,
//! chunked, chunked with PATCHes of several parts, concurrent chunked),
//! the pull (following the registry's redirect), small blobs and manifests.
//!
//! ```text
//! cargo build --release -p berthd -p berth-bench
//! cargo run --release -p berth-bench -- --quick
//! cargo run --release -p berth-bench -- --only distribution
//! bench/run --storage s3 --quick        # starts Ceph when no S3 server is running
//! ```

mod api;
mod blob;
mod ceiling;
mod report;
mod sigv4;
mod storage;
mod usage;
mod workload;

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use berth_e2e::registry::{Kind, Options, Registry};
use bytes::Bytes;
use clap::Parser;
use reqwest::Method;

use crate::api::{Api, OCI_MANIFEST};
use crate::blob::{BlobSpec, Pattern};
use crate::report::{Environment, Outcome, Phase, Results, Run};
use crate::storage::{S3Place, Storage, StorageSetup};
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

    /// Where both registries store blobs. `s3` needs the S3 server of
    /// `scripts/storage-servers.sh` (BERTH_TEST_S3_*); `bench/run --storage s3`
    /// starts one when none is running.
    #[arg(long, default_value = "filesystem", value_parser = ["filesystem", "s3"])]
    storage: String,

    /// Set `storage.redirect.disable: true` for both registries: they stream
    /// blobs themselves instead of redirecting GETs to the storage.
    #[arg(long)]
    no_redirect: bool,

    /// On S3: how many chunked uploads of different blobs run at once in the
    /// concurrent push phase.
    #[arg(long, default_value_t = 4)]
    concurrent_uploads: usize,
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
    /// PATCH size of the chunked push with several storage parts per PATCH.
    pub large_chunk_size: u64,
    /// Uploads at once in the concurrent push phase (of blobs 1/N the size).
    pub concurrent_uploads: usize,
    /// Whether the phases that need blob files on disk (loopback ceilings)
    /// and the S3-only phases (big PATCHes, concurrent uploads) run.
    pub s3_phases: bool,
    /// Storage, redirects, part size.
    pub setup: StorageSetup,
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
    /// Repositories behind `_catalog`; 0 leaves the catalog phases out.
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
    fn new(cli: &Cli) -> Result<Settings> {
        let quick = cli.quick;
        let rounds = cli.rounds.unwrap_or(if quick { 1 } else { 3 }).max(1);
        let blob_size = if quick { 64 * MIB } else { 1024 * MIB };
        let storage = Storage::parse(&cli.storage)?;
        let s3 = storage == Storage::S3;
        // Every manifest GET is several object reads on S3, at a few hundred
        // per second: fewer requests say as much.
        let manifests = match (s3, quick) {
            (false, true) => 2_000usize,
            (false, false) => 20_000,
            (true, true) => 500,
            (true, false) => 2_000,
        };
        Ok(Settings {
            blob_size,
            ref_size: blob_size / 16,
            chunk_size: 16 * MIB,
            large_chunk_size: 64 * MIB,
            concurrent_uploads: cli.concurrent_uploads.max(1),
            s3_phases: s3,
            setup: StorageSetup {
                storage,
                redirect: !cli.no_redirect,
                part_size: 10 * MIB,
            },
            small_count: if quick { 200 } else { 1000 },
            small_size: 64 * 1024,
            small_concurrency: 16,
            manifest_requests: manifests.div_ceil(rounds),
            manifest_concurrency: 32,
            // Populating a thousand repositories over S3 takes minutes and
            // the listing says nothing about blob throughput.
            catalog_repos: match (s3, quick) {
                (true, _) => 0,
                (false, true) => 200,
                (false, false) => 1000,
            },
            catalog_page: 100,
            catalog_default_repeats: 5,
            catalog_full_repeats: 3,
            rounds,
            blob_cache: !cli.no_blob_cache,
        })
    }
}

/// One registry under test.
pub struct Target {
    /// Display name.
    pub name: &'static str,
    registry: Registry,
    api: Api,
    pid: u32,
    /// Its prefix in the S3 bucket, to clean up after phases.
    place: Option<S3Place>,
    /// The storage servers' processes, for their CPU time.
    storage_pids: Vec<u32>,
}

const BIG_REPO: &str = "bench/big";
const SMALL_REPO: &str = "bench/small";
const IMAGE_REPO: &str = "bench/manifest";
const IMAGE_TAG: &str = "latest";

fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::new(&cli)?;
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
    let storage_pids = storage::server_pids(settings.setup.storage);
    let mut targets = Vec::new();
    for kind in kinds {
        let name = match kind {
            Kind::Distribution => "Distribution",
            Kind::Berthd => "berthd",
        };
        let (options, place) = settings.setup.options(&options)?;
        let registry =
            Registry::start(kind, options).with_context(|| format!("{name} is not installed"))?;
        let pid = registry.pid().context("registry process id")?;
        let api = Api::new(&registry.url())?;
        eprintln!(
            "started {name} (pid {pid}) at {} with {}",
            registry.url(),
            match &place {
                Some(place) => format!("S3 prefix {}", place.prefix()),
                None => format!("root {}", registry.root().display()),
            }
        );
        targets.push(Target {
            name,
            registry,
            api,
            pid,
            place,
            storage_pids: storage_pids.clone(),
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

/// Seed of a round's first small blob; the large ones take the seeds below.
const SMALL_SEED: u64 = 1_000;

/// Blobs of one round, with their digests.
struct RoundBlobs {
    reference: (BlobSpec, String),
    monolithic: (BlobSpec, String),
    chunked: (BlobSpec, String),
    /// For the chunked push with big PATCHes (S3 only).
    chunked_large: Option<(BlobSpec, String)>,
    /// For the concurrent chunked pushes, 1/N the size each (S3 only).
    concurrent: Vec<(BlobSpec, String)>,
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
    let chunked_large = settings
        .s3_phases
        .then(|| spec(seed(4), settings.blob_size));
    let concurrent: Vec<_> = if settings.s3_phases {
        let n = settings.concurrent_uploads;
        (0..n)
            .map(|k| spec(seed(5 + k as u64), settings.blob_size / n as u64))
            .collect()
    } else {
        Vec::new()
    };
    let small = (0..settings.small_count)
        .map(|i| {
            let blob = pattern
                .blob(seed(SMALL_SEED + i as u64), settings.small_size)
                .to_bytes();
            let digest = pattern
                .blob(seed(SMALL_SEED + i as u64), settings.small_size)
                .digest();
            (blob, digest)
        })
        .collect();
    Ok(RoundBlobs {
        reference: reference.await?,
        monolithic: monolithic.await?,
        chunked: chunked.await?,
        chunked_large: match chunked_large {
            Some(task) => Some(task.await?),
            None => None,
        },
        concurrent: {
            let mut done = Vec::new();
            for task in concurrent {
                done.push(task.await?);
            }
            done
        },
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
    let snapshot = Snapshot::take(t.pid, &t.storage_pids)?;
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
        if settings.catalog_repos == 0 {
            continue;
        }
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

        big_blob_phases(&mut results, round, &order, targets, settings, &blobs).await?;

        for (phase, push) in [(Phase::SmallPush, true), (Phase::SmallPull, false)] {
            for &i in &order {
                let api = targets[i].api.clone();
                let small = blobs.small.clone();
                let concurrency = settings.small_concurrency;
                measure(&mut results, round, phase, i, targets, async move {
                    let n = small.len();
                    let redirects = Arc::new(AtomicU64::new(0));
                    let counted = redirects.clone();
                    let latencies = run_concurrently(concurrency, n, move |k| {
                        let api = api.clone();
                        let small = small.clone();
                        let redirects = counted.clone();
                        async move {
                            let (body, digest) = &small[k];
                            if push {
                                api.push_bytes(SMALL_REPO, body.clone(), digest).await
                            } else {
                                let pulled = api.pull_blob(SMALL_REPO, digest, true).await?;
                                if pulled.redirected {
                                    redirects.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(())
                            }
                        }
                    })
                    .await?;
                    Ok(Outcome {
                        redirects: redirects.load(Ordering::Relaxed),
                        ..Outcome::ops(latencies)
                    })
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

        if !settings.s3_phases {
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

        if settings.catalog_repos == 0 {
            continue;
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

/// The large-blob phases of one round: pushes (monolithic, chunked; on S3
/// also chunked with big PATCHes and concurrent chunked), then pulls of the
/// monolithic blob (on the filesystem with and without hashing, each with its
/// loopback ceiling). On S3 every blob is deleted once no later phase needs
/// it, so the run fits the memory of a test S3 server.
async fn big_blob_phases(
    results: &mut Results,
    round: usize,
    order: &[usize],
    targets: &[Target],
    settings: &Settings,
    blobs: &RoundBlobs,
) -> Result<()> {
    for (phase, pushed) in [
        (Phase::PushReference, &blobs.reference),
        (Phase::PushMonolithic, &blobs.monolithic),
    ] {
        for &i in order {
            let api = targets[i].api.clone();
            let (blob, digest) = pushed.clone();
            measure(results, round, phase, i, targets, async move {
                api.push_monolithic(BIG_REPO, &blob, &digest).await?;
                Ok(Outcome::bytes(blob.len()))
            })
            .await?;
        }
    }
    clean_up(targets, std::slice::from_ref(&blobs.reference.1)).await?;

    let mut chunked = vec![(
        Phase::PushChunked,
        settings.chunk_size,
        vec![blobs.chunked.clone()],
    )];
    if let Some(blob) = &blobs.chunked_large {
        chunked.push((
            Phase::PushChunkedLarge,
            settings.large_chunk_size,
            vec![blob.clone()],
        ));
    }
    if !blobs.concurrent.is_empty() {
        chunked.push((
            Phase::PushConcurrent,
            settings.large_chunk_size,
            blobs.concurrent.clone(),
        ));
    }
    for (phase, chunk, pushed) in chunked {
        for &i in order {
            let api = targets[i].api.clone();
            let pushed = Arc::new(pushed.clone());
            measure(results, round, phase, i, targets, async move {
                let bytes = pushed.iter().map(|(blob, _)| blob.len()).sum();
                let uploads = pushed.clone();
                run_concurrently(pushed.len(), pushed.len(), move |k| {
                    let api = api.clone();
                    let uploads = uploads.clone();
                    async move {
                        let (blob, digest) = &uploads[k];
                        api.push_chunked(BIG_REPO, blob, digest, chunk).await
                    }
                })
                .await?;
                Ok(Outcome::bytes(bytes))
            })
            .await?;
        }
        let digests: Vec<String> = pushed.iter().map(|(_, d)| d.clone()).collect();
        clean_up(targets, &digests).await?;
    }

    let pulls: &[(Phase, Phase, bool)] = if settings.s3_phases {
        &[(Phase::Pull, Phase::PullCeiling, true)]
    } else {
        &[
            (Phase::Pull, Phase::PullCeiling, true),
            (Phase::PullNoHash, Phase::PullNoHashCeiling, false),
        ]
    };
    for &(phase, ceiling_phase, verify) in pulls {
        for &i in order {
            let api = targets[i].api.clone();
            let digest = blobs.monolithic.1.clone();
            measure(results, round, phase, i, targets, async move {
                Ok(Outcome::pulled(
                    api.pull_blob(BIG_REPO, &digest, verify).await?,
                ))
            })
            .await?;
        }
        if settings.s3_phases {
            continue;
        }
        // The ceiling belongs to the machine, not to a registry: it is
        // measured once a round, sending the blob file the first
        // registry stored, with that (idle) registry's pid in the usage.
        let digest = blobs.monolithic.1.clone();
        let file = blob_file(targets[order[0]].registry.root(), &digest);
        let api = Api::new(&format!("http://{}", ceiling::serve_file(file)?))?;
        measure(
            results,
            round,
            ceiling_phase,
            order[0],
            targets,
            async move {
                Ok(Outcome::pulled(
                    api.pull_blob(BIG_REPO, &digest, verify).await?,
                ))
            },
        )
        .await?;
    }
    clean_up(targets, std::slice::from_ref(&blobs.monolithic.1)).await
}

/// On S3, deletes the stored data of `digests` from every registry's prefix
/// and has the server free the space; nothing on the filesystem.
async fn clean_up(targets: &[Target], digests: &[String]) -> Result<()> {
    let mut any = false;
    for t in targets {
        if let Some(place) = &t.place {
            place
                .delete_blobs(digests)
                .await
                .with_context(|| format!("delete {}'s blobs from S3 after a phase", t.name))?;
            any = true;
        }
    }
    if any {
        storage::collect_garbage().await?;
    }
    Ok(())
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
