//! Turning measured phases into figures: tables for the terminal and Markdown for bench/RESULTS.md.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use berth_e2e::registry::{Kind, berthd_bin};

use crate::Settings;
use crate::api::Pulled;
use crate::storage::Storage;
use crate::usage::Usage;

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// What a phase does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Setup: a tiny image into each catalog repository (two mounts and a manifest PUT).
    Populate,
    /// Monolithic push of a blob 1/16 of the large size, for memory growth.
    PushReference,
    /// Monolithic push of the large blob.
    PushMonolithic,
    /// Chunked push of the large blob.
    PushChunked,
    /// Chunked push with PATCHes several storage parts long.
    PushChunkedLarge,
    /// Several chunked pushes of different blobs at once.
    PushConcurrent,
    /// GET of the large blob, hashed by the client.
    Pull,
    /// The same GET against the bench's own sendfile server.
    PullCeiling,
    /// GET of the large blob, discarded by the client.
    PullNoHash,
    /// The same GET against the bench's own sendfile server.
    PullNoHashCeiling,
    /// Manifest-sized GETs against the bench's own in-memory server.
    ManifestCeiling,
    /// Small blobs pushed at concurrency.
    SmallPush,
    /// Small blobs pulled at concurrency.
    SmallPull,
    /// Manifest GET by tag at concurrency.
    ManifestGet,
    /// Manifest HEAD by tag at concurrency.
    ManifestHead,
    /// `_catalog` with the default page size.
    CatalogDefault,
    /// `_catalog?n=100` followed through every `Link`.
    CatalogFull,
}

impl Phase {
    /// Measured against the bench's own server, not a registry.
    pub fn is_ceiling(self) -> bool {
        matches!(
            self,
            Phase::PullCeiling | Phase::PullNoHashCeiling | Phase::ManifestCeiling
        )
    }

    /// Short name for logs and the detail table.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Populate => "populate catalog repos",
            Phase::PushReference => "push reference blob",
            Phase::PushMonolithic => "push monolithic",
            Phase::PushChunked => "push chunked",
            Phase::PushChunkedLarge => "push chunked, big PATCHes",
            Phase::PushConcurrent => "push concurrent chunked",
            Phase::Pull => "pull",
            Phase::PullCeiling => "pull loopback ceiling",
            Phase::PullNoHash => "pull, no hash",
            Phase::PullNoHashCeiling => "pull, no hash, ceiling",
            Phase::SmallPush => "small blob push",
            Phase::SmallPull => "small blob pull",
            Phase::ManifestGet => "manifest GET",
            Phase::ManifestCeiling => "manifest GET loopback ceiling",
            Phase::ManifestHead => "manifest HEAD",
            Phase::CatalogDefault => "catalog default page",
            Phase::CatalogFull => "catalog full listing",
        }
    }
}

/// What the work of a phase produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Blob bytes moved.
    pub bytes: u64,
    /// Operations completed.
    pub ops: u64,
    /// Latency of every operation of a load phase.
    pub latencies: Vec<Duration>,
    /// Duration of every repeated call of a catalog phase.
    pub calls: Vec<Duration>,
    /// Repositories in the last catalog answer (or listing).
    pub entries: usize,
    /// Pages the last catalog listing took.
    pub pages: usize,
    /// Blob GETs the registry answered with a redirect (to the storage).
    pub redirects: u64,
}

impl Outcome {
    /// A transfer of `bytes`.
    pub fn bytes(bytes: u64) -> Outcome {
        Outcome {
            bytes,
            ops: 1,
            ..Outcome::default()
        }
    }

    /// A blob GET.
    pub fn pulled(pulled: Pulled) -> Outcome {
        Outcome {
            redirects: u64::from(pulled.redirected),
            ..Outcome::bytes(pulled.bytes)
        }
    }

    /// A load phase with these latencies.
    pub fn ops(latencies: Vec<Duration>) -> Outcome {
        Outcome {
            ops: latencies.len() as u64,
            latencies,
            ..Outcome::default()
        }
    }
}

/// One phase on one registry in one round.
pub struct Run {
    /// Round number, from 0.
    pub round: usize,
    /// The phase.
    pub phase: Phase,
    /// Index of the registry in [`Results::names`].
    pub target: usize,
    /// Its cost.
    pub usage: Usage,
    /// Its result.
    pub outcome: Outcome,
}

impl Run {
    fn headline(&self) -> String {
        let secs = self.usage.wall.as_secs_f64();
        let o = &self.outcome;
        match self.phase {
            Phase::PushReference
            | Phase::PushMonolithic
            | Phase::PushChunked
            | Phase::PushChunkedLarge
            | Phase::PushConcurrent
            | Phase::Pull
            | Phase::PullCeiling
            | Phase::PullNoHash
            | Phase::PullNoHashCeiling => format!("{:.0} MB/s", o.bytes as f64 / secs / 1e6),
            Phase::CatalogDefault | Phase::CatalogFull => format!(
                "{:.1} ms median, {} repos, {} pages",
                median(o.calls.iter().map(|d| d.as_secs_f64() * 1e3).collect()),
                o.entries,
                o.pages
            ),
            _ => format!("{:.0} ops/s", o.ops as f64 / secs),
        }
    }

    /// One line for the progress log.
    pub fn progress_line(&self, name: &str) -> String {
        let name = if self.phase.is_ceiling() {
            "(bench)"
        } else {
            name
        };
        format!(
            "{:<26} {:<13} {:<34} wall {:>6.2} s  server cpu {:>6.2} s  client cpu {:>6.2} s  storage cpu {:>5.2} s  other cpu {:>5.2} s  peak rss {:>6.1} MiB",
            self.phase.label(),
            name,
            self.headline(),
            self.usage.wall.as_secs_f64(),
            self.usage.server_cpu,
            self.usage.client_cpu,
            self.usage.storage_cpu,
            self.usage.other_cpu,
            self.usage.peak_rss as f64 / MIB
        )
    }
}

/// Everything measured in one run.
pub struct Results {
    /// Registry names, by target index.
    pub names: Vec<&'static str>,
    /// Every phase run.
    pub runs: Vec<Run>,
    /// `VmHWM` of each registry at the end.
    pub lifetime_peak_rss: Vec<u64>,
    /// Wall time of the whole benchmark.
    pub elapsed: Duration,
}

impl Results {
    /// Empty results for these registries.
    pub fn new(names: Vec<&'static str>) -> Results {
        Results {
            names,
            runs: Vec::new(),
            lifetime_peak_rss: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn of(&self, phase: Phase, target: usize) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |r| r.phase == phase && r.target == target)
    }

    /// Median over rounds of bytes per second, in MB/s.
    fn mb_per_s(&self, phase: Phase, target: usize) -> Option<f64> {
        self.median_of(phase, target, |r| {
            r.outcome.bytes as f64 / r.usage.wall.as_secs_f64() / 1e6
        })
    }

    /// Median over rounds of a ceiling phase's `per_second(run)` / wall seconds.
    fn ceiling(&self, phase: Phase, amount: impl Fn(&Run) -> f64) -> Option<f64> {
        median_if_any(
            self.runs
                .iter()
                .filter(|run| run.phase == phase)
                .map(|run| amount(run) / run.usage.wall.as_secs_f64())
                .collect(),
        )
    }

    /// Median over rounds of operations per second.
    fn ops_per_s(&self, phase: Phase, target: usize) -> Option<f64> {
        self.median_of(phase, target, |r| {
            r.outcome.ops as f64 / r.usage.wall.as_secs_f64()
        })
    }

    fn median_of(&self, phase: Phase, target: usize, f: impl Fn(&Run) -> f64) -> Option<f64> {
        median_if_any(self.of(phase, target).map(f).collect())
    }

    /// Server CPU seconds per GiB moved, over all rounds.
    fn cpu_per_gib(&self, phase: Phase, target: usize) -> Option<f64> {
        self.cpu_per_gib_of(&[phase], target)
    }

    /// Server CPU seconds per GiB moved over several phases, over all rounds.
    fn cpu_per_gib_of(&self, phases: &[Phase], target: usize) -> Option<f64> {
        let (cpu, bytes) = self
            .runs
            .iter()
            .filter(|r| r.target == target && phases.contains(&r.phase))
            .fold((0.0, 0u64), |(c, b), r| {
                (c + r.usage.server_cpu, b + r.outcome.bytes)
            });
        (bytes > 0).then(|| cpu / (bytes as f64 / GIB))
    }

    /// Storage servers' CPU seconds per GiB moved over several phases (any registry's),
    /// or `None` when they used none (the filesystem).
    fn storage_cpu_per_gib_of(&self, phases: &[Phase], target: usize) -> Option<f64> {
        let (cpu, bytes) = self
            .runs
            .iter()
            .filter(|r| r.target == target && phases.contains(&r.phase))
            .fold((0.0, 0u64), |(c, b), r| {
                (c + r.usage.storage_cpu, b + r.outcome.bytes)
            });
        (bytes > 0 && cpu > 0.0).then(|| cpu / (bytes as f64 / GIB))
    }

    /// (GETs answered with a redirect, GETs) of a pull phase over all rounds.
    fn redirects(&self, phase: Phase, target: usize) -> Option<(u64, u64)> {
        let (redirects, gets) = self.of(phase, target).fold((0, 0), |(r, g), run| {
            (r + run.outcome.redirects, g + run.outcome.ops)
        });
        (gets > 0).then_some((redirects, gets))
    }

    /// Server CPU seconds per 1,000 operations, over all rounds.
    fn cpu_per_kop(&self, phase: Phase, target: usize) -> Option<f64> {
        let (cpu, ops) = self.of(phase, target).fold((0.0, 0u64), |(c, o), r| {
            (c + r.usage.server_cpu, o + r.outcome.ops)
        });
        (ops > 0).then(|| cpu / (ops as f64 / 1000.0))
    }

    /// A latency percentile over all rounds, in ms.
    fn latency_ms(&self, phase: Phase, target: usize, p: f64) -> Option<f64> {
        let mut all: Vec<Duration> = self
            .of(phase, target)
            .flat_map(|r| r.outcome.latencies.iter().copied())
            .collect();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let rank = ((p * all.len() as f64).ceil() as usize).clamp(1, all.len());
        Some(all[rank - 1].as_secs_f64() * 1e3)
    }

    /// Median duration of the repeated calls of a catalog phase, in ms.
    fn call_ms(&self, phase: Phase, target: usize) -> Option<f64> {
        median_if_any(
            self.of(phase, target)
                .flat_map(|r| r.outcome.calls.iter().map(|d| d.as_secs_f64() * 1e3))
                .collect(),
        )
    }

    fn last_outcome(&self, phase: Phase, target: usize) -> Option<&Outcome> {
        self.of(phase, target).last().map(|r| &r.outcome)
    }

    /// Highest sampled RSS during a phase over all rounds, in MiB.
    fn peak_rss_mib(&self, phase: Phase, target: usize) -> Option<f64> {
        self.of(phase, target)
            .map(|r| r.usage.peak_rss as f64 / MIB)
            .reduce(f64::max)
    }

    /// Highest sampled RSS over any of `phases`, in MiB.
    fn peak_rss_of(&self, phases: &[Phase], target: usize) -> Option<f64> {
        phases
            .iter()
            .filter_map(|&p| self.peak_rss_mib(p, target))
            .reduce(f64::max)
    }
}

/// The median, or `None` for no values.
fn median_if_any(values: Vec<f64>) -> Option<f64> {
    (!values.is_empty()).then(|| median(values))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The machine and the versions a run was made with.
pub struct Environment {
    date: String,
    cpus: String,
    cpu_model: String,
    memory: String,
    kernel: String,
    distribution_version: String,
    berthd_version: String,
    source: String,
    load_before: String,
    mode: String,
    storage: String,
}

impl Environment {
    /// Reads the machine's description and both registries' versions.
    pub fn collect(kinds: &[Kind], settings: &Settings, quick: bool) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim() == key).then(|| v.trim().to_owned())
                })
                .unwrap_or_else(|| "unknown".into())
        };
        let mem_kb: f64 = field(&meminfo, "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0.0);
        let not_run = "(not run)".to_owned();
        Environment {
            date: run(Command::new("date").arg("-u")),
            cpus: run(&mut Command::new("nproc")),
            cpu_model: field(&cpuinfo, "model name"),
            memory: format!("{:.1} GiB", mem_kb / MIB),
            kernel: run(Command::new("uname").arg("-srm")),
            distribution_version: if kinds.contains(&Kind::Distribution) {
                run(Command::new("docker-registry").arg("--version"))
            } else {
                not_run.clone()
            },
            berthd_version: if kinds.contains(&Kind::Berthd) {
                run(Command::new(berthd_bin()).arg("--version"))
            } else {
                not_run
            },
            source: run(Command::new("git")
                .arg("-C")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                .args(["describe", "--always", "--dirty"])),
            load_before: std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            storage: settings.setup.describe(),
            mode: format!(
                "{}: {} MiB blob, {} × {} KiB small blobs per round, {} manifest GETs and HEADs in all, {}, {} round(s){}",
                if quick { "quick" } else { "full" },
                settings.blob_size >> 20,
                settings.small_count,
                settings.small_size >> 10,
                settings.manifest_requests * settings.rounds,
                if settings.catalog_repos > 0 {
                    format!("{} repositories", settings.catalog_repos)
                } else {
                    "no _catalog phases".into()
                },
                settings.rounds,
                if settings.blob_cache {
                    "; both configs with storage.cache.blobdescriptor: inmemory"
                } else {
                    "; no blob descriptor cache"
                }
            ),
        }
    }
}

fn run(cmd: &mut Command) -> String {
    match cmd.output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(if out.stdout.is_empty() {
                &out.stderr
            } else {
                &out.stdout
            })
            .trim()
            .to_owned();
            if out.status.success() {
                text
            } else {
                format!("(failed: {text})")
            }
        }
        Err(e) => format!("(could not run: {e})"),
    }
}

/// How a row is judged.
#[derive(Clone)]
enum Goal {
    /// Informational.
    None,
    /// berthd/Distribution ≥ this.
    AtLeast(f64),
    /// berthd/Distribution ≤ this.
    AtMost(f64),
    /// berthd/Distribution < this.
    Below(f64),
    /// Judged some other way.
    Custom(String, Option<bool>),
}

struct Row {
    figure: String,
    values: [Option<f64>; 2],
    decimals: usize,
    goal: Goal,
}

struct Table {
    /// A word naming the table in the goal summary.
    topic: &'static str,
    title: String,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// The figures of a run, ready to print.
pub struct Report<'a> {
    results: &'a Results,
    settings: &'a Settings,
    env: &'a Environment,
    tables: Vec<Table>,
    both: bool,
}

impl<'a> Report<'a> {
    /// Computes every figure.
    pub fn new(results: &'a Results, settings: &'a Settings, env: &'a Environment) -> Report<'a> {
        let mut report = Report {
            results,
            settings,
            env,
            tables: Vec::new(),
            both: results.names.len() == 2,
        };
        report.build();
        report
    }

    /// Value of a figure for Distribution and berthd (columns), by name.
    fn pair(&self, f: impl Fn(usize) -> Option<f64>) -> [Option<f64>; 2] {
        let mut out = [None, None];
        for (i, name) in self.results.names.iter().enumerate() {
            let col = if *name == "Distribution" { 0 } else { 1 };
            out[col] = f(i);
        }
        out
    }

    fn build(&mut self) {
        let r = self.results;
        let s = self.settings;
        let size = human_size(s.blob_size);
        let row = |figure: String, values, decimals, goal| Row {
            figure,
            values,
            decimals,
            goal,
        };

        let s3 = s.setup.storage == Storage::S3;
        // The throughput goals are the filesystem's; on S3 the figures are
        // informational (the storage server sets the pace).
        let push_goal = if s3 { Goal::None } else { Goal::AtLeast(3.0) };
        let ceiling = r.ceiling(Phase::PullCeiling, |run| run.outcome.bytes as f64 / 1e6);
        let raw_ceiling = r.ceiling(Phase::PullNoHashCeiling, |run| {
            run.outcome.bytes as f64 / 1e6
        });
        let get_ceiling = r.ceiling(Phase::ManifestCeiling, |run| run.outcome.ops as f64);
        let pull = self.pair(|t| r.mb_per_s(Phase::Pull, t));
        let pull_goal = match (ceiling, pull[1]) {
            (Some(c), Some(b)) if self.both => Goal::Custom(
                format!("≥ 90% of loopback ceiling ({c:.0} MB/s)"),
                Some(b >= 0.9 * c),
            ),
            _ if s3 => Goal::None,
            _ => Goal::Custom("≥ 90% of loopback ceiling".into(), None),
        };
        let mut notes = Vec::new();
        if ceiling.is_some() || raw_ceiling.is_some() {
            notes.push(format!(
                "Loopback ceiling: {} MB/s hashed, {} MB/s discarded: the same client against a minimal server in the bench that sends the same blob file with sendfile(2).",
                ceiling.map_or("–".into(), |c| format!("{c:.0}")),
                raw_ceiling.map_or("–".into(), |c| format!("{c:.0}")),
            ));
        }
        if let Some(note) = self.redirect_note(&[Phase::Pull, Phase::PullNoHash], "large-blob GETs")
        {
            notes.push(note);
        }
        if s3 {
            notes.push(format!(
                "Big PATCHes are {} MiB over {} MiB parts: a driver that uploads parts concurrently keeps several in flight per PATCH. \
                 The concurrent figure is {} chunked uploads of different {} blobs at once (big PATCHes), total bytes over wall time.",
                s.large_chunk_size >> 20,
                s.setup.part_size >> 20,
                s.concurrent_uploads,
                human_size(s.blob_size / s.concurrent_uploads.max(1) as u64),
            ));
        }
        self.tables.push(Table {
            topic: "large blob",
            title: format!(
                "Large blob ({size}): push and pull, MB/s (10^6 bytes/s; median of rounds)"
            ),
            rows: vec![
                row(
                    "push monolithic (POST + one streamed PUT)".into(),
                    self.pair(|t| r.mb_per_s(Phase::PushMonolithic, t)),
                    0,
                    push_goal.clone(),
                ),
                row(
                    format!("push chunked ({} MiB PATCHes)", s.chunk_size >> 20),
                    self.pair(|t| r.mb_per_s(Phase::PushChunked, t)),
                    0,
                    push_goal,
                ),
                row(
                    format!(
                        "push chunked ({} MiB PATCHes over {} MiB parts)",
                        s.large_chunk_size >> 20,
                        s.setup.part_size >> 20
                    ),
                    self.pair(|t| r.mb_per_s(Phase::PushChunkedLarge, t)),
                    0,
                    Goal::None,
                ),
                row(
                    format!(
                        "push {} chunked uploads at once (aggregate)",
                        s.concurrent_uploads
                    ),
                    self.pair(|t| r.mb_per_s(Phase::PushConcurrent, t)),
                    0,
                    Goal::None,
                ),
                row(
                    if s3 {
                        "pull (GET, following any redirect; client hashes)".into()
                    } else {
                        "pull (GET, client hashes)".into()
                    },
                    pull,
                    0,
                    pull_goal,
                ),
                row(
                    "pull (GET, client discards)".into(),
                    self.pair(|t| r.mb_per_s(Phase::PullNoHash, t)),
                    0,
                    Goal::None,
                ),
            ],
            notes,
        });

        let pushes = [
            Phase::PushMonolithic,
            Phase::PushChunked,
            Phase::PushChunkedLarge,
            Phase::PushConcurrent,
        ];
        let pulls = [Phase::Pull, Phase::PullNoHash];
        let mut cpu_rows = Vec::new();
        for (figure, phase) in [
            ("push monolithic", Phase::PushMonolithic),
            ("push chunked", Phase::PushChunked),
            ("push chunked, big PATCHes", Phase::PushChunkedLarge),
            ("push concurrent chunked", Phase::PushConcurrent),
        ] {
            cpu_rows.push(row(
                figure.into(),
                self.pair(|t| r.cpu_per_gib(phase, t)),
                2,
                Goal::None,
            ));
        }
        cpu_rows.push(row(
            if s3 {
                "pull".into()
            } else {
                "pull (both pulls)".into()
            },
            self.pair(|t| r.cpu_per_gib_of(&pulls, t)),
            2,
            if s3 { Goal::None } else { Goal::AtMost(0.5) },
        ));
        cpu_rows.push(row(
            "S3 server (Ceph OSD + mon + RGW) per GiB pushed, all pushes".into(),
            self.pair(|t| r.storage_cpu_per_gib_of(&pushes, t)),
            2,
            Goal::None,
        ));
        cpu_rows.push(row(
            "S3 server (Ceph OSD + mon + RGW) per GiB pulled".into(),
            self.pair(|t| r.storage_cpu_per_gib_of(&pulls, t)),
            2,
            Goal::None,
        ));
        self.tables.push(Table {
            topic: "CPU",
            title: "Server CPU, seconds per GiB (utime+stime over the phase; lower is better)"
                .into(),
            rows: cpu_rows,
            notes: if s3 && s.setup.redirect {
                vec!["With redirects on, a registry's pull CPU is only the 307; the S3 server sends the bytes.".into()]
            } else {
                vec![]
            },
        });

        self.tables.push(Table {
            topic: "small blobs",
            title: format!(
                "Small blobs: {} × {} KiB at concurrency {}",
                s.small_count,
                s.small_size >> 10,
                s.small_concurrency
            ),
            rows: vec![
                row(
                    "push ops/s (POST + PUT ?digest=)".into(),
                    self.pair(|t| r.ops_per_s(Phase::SmallPush, t)),
                    0,
                    if s3 { Goal::None } else { Goal::AtLeast(3.0) },
                ),
                row(
                    "pull ops/s (GET, client hashes)".into(),
                    self.pair(|t| r.ops_per_s(Phase::SmallPull, t)),
                    0,
                    Goal::None,
                ),
                row(
                    "push server CPU s per 1,000".into(),
                    self.pair(|t| r.cpu_per_kop(Phase::SmallPush, t)),
                    2,
                    Goal::None,
                ),
                row(
                    "pull server CPU s per 1,000".into(),
                    self.pair(|t| r.cpu_per_kop(Phase::SmallPull, t)),
                    2,
                    Goal::None,
                ),
                row(
                    "push p99 latency ms".into(),
                    self.pair(|t| r.latency_ms(Phase::SmallPush, t, 0.99)),
                    2,
                    Goal::None,
                ),
            ],
            notes: self
                .redirect_note(&[Phase::SmallPull], "small-blob GETs")
                .into_iter()
                .collect(),
        });

        let mut manifest_rows = Vec::new();
        for (phase, verb) in [(Phase::ManifestGet, "GET"), (Phase::ManifestHead, "HEAD")] {
            manifest_rows.push(row(
                format!("{verb} req/s"),
                self.pair(|t| r.ops_per_s(phase, t)),
                0,
                if s3 { Goal::None } else { Goal::AtLeast(5.0) },
            ));
            manifest_rows.push(row(
                format!("{verb} p50 ms"),
                self.pair(|t| r.latency_ms(phase, t, 0.50)),
                2,
                Goal::None,
            ));
            manifest_rows.push(row(
                format!("{verb} p99 ms"),
                self.pair(|t| r.latency_ms(phase, t, 0.99)),
                2,
                if s3 { Goal::None } else { Goal::Below(1.0) },
            ));
            manifest_rows.push(row(
                format!("{verb} server CPU s per 1,000"),
                self.pair(|t| r.cpu_per_kop(phase, t)),
                3,
                Goal::None,
            ));
        }
        self.tables.push(Table {
            topic: "manifest",
            title: format!(
                "Manifest by tag: {} requests each ({} per round) at concurrency {}",
                s.manifest_requests * s.rounds,
                s.manifest_requests,
                s.manifest_concurrency
            ),
            rows: manifest_rows,
            notes: get_ceiling
                .map(|c| format!(
                    "Load generator ceiling: {c:.0} GET/s at the same concurrency against the bench's own in-memory HTTP server answering a manifest-sized body; a registry near it is limited by the client sharing the CPUs."
                ))
                .into_iter()
                .collect(),
        });

        let default_entries = self.pair(|t| {
            r.last_outcome(Phase::CatalogDefault, t)
                .map(|o| o.entries as f64)
        });
        let full = self.pair(|t| {
            r.last_outcome(Phase::CatalogFull, t)
                .map(|o| o.entries as f64)
        });
        let pages = self.pair(|t| {
            r.last_outcome(Phase::CatalogFull, t)
                .map(|o| o.pages as f64)
        });
        self.tables.push(Table {
            topic: "_catalog",
            title: format!(
                "_catalog over {} repositories (median call, ms)",
                s.catalog_repos
            ),
            rows: vec![
                row(
                    "default page".into(),
                    self.pair(|t| r.call_ms(Phase::CatalogDefault, t)),
                    1,
                    Goal::AtMost(0.1),
                ),
                row(
                    format!("full listing, n={} following Link", s.catalog_page),
                    self.pair(|t| r.call_ms(Phase::CatalogFull, t)),
                    1,
                    Goal::AtMost(0.1),
                ),
                row(
                    "repositories on the default page".into(),
                    default_entries,
                    0,
                    Goal::None,
                ),
                row(
                    "repositories in the full listing".into(),
                    full,
                    0,
                    Goal::None,
                ),
                row("pages in the full listing".into(), pages, 0, Goal::None),
                row(
                    "setup: repos/s (2 mounts + manifest PUT each, c=16)".into(),
                    self.pair(|t| r.ops_per_s(Phase::Populate, t)),
                    0,
                    Goal::None,
                ),
            ],
            notes: vec![
                "The full listing also holds the repositories the other phases use: Distribution lists every repository with a `_layers` directory (bench/big and bench/small hold blobs only), so its count can be higher by those.".into(),
            ],
        });

        // One upload or download at a time: the concurrent pushes hold
        // several uploads' buffers by design, whatever the blob size.
        let big = [
            Phase::PushMonolithic,
            Phase::PushChunked,
            Phase::PushChunkedLarge,
            Phase::Pull,
            Phase::PullNoHash,
        ];
        let mut memory_rows = vec![row(
            "lifetime peak (VmHWM at the end)".into(),
            self.pair(|t| r.lifetime_peak_rss.get(t).map(|b| *b as f64 / MIB)),
            1,
            Goal::AtMost(0.5),
        )];
        for phase in [
            Phase::PushReference,
            Phase::PushMonolithic,
            Phase::PushChunked,
            Phase::PushChunkedLarge,
            Phase::PushConcurrent,
            Phase::Pull,
            Phase::PullNoHash,
            Phase::SmallPush,
            Phase::SmallPull,
            Phase::ManifestGet,
            Phase::ManifestHead,
            Phase::CatalogFull,
        ] {
            let label = match phase {
                Phase::PushReference => format!("push monolithic {}", human_size(s.ref_size)),
                Phase::PushMonolithic => format!("push monolithic {size}"),
                Phase::PushChunked => format!("push chunked {size}"),
                Phase::PushChunkedLarge => format!("push chunked {size}, big PATCHes"),
                Phase::PushConcurrent => {
                    format!("push {} concurrent chunked", s.concurrent_uploads)
                }
                Phase::Pull => format!("pull {size}"),
                Phase::PullNoHash => format!("pull {size}, no hash"),
                other => other.label().into(),
            };
            memory_rows.push(row(
                format!("peak VmRSS during {label}"),
                self.pair(|t| r.peak_rss_mib(phase, t)),
                1,
                Goal::None,
            ));
        }
        // Against the first round's reference push, which comes before any
        // large blob: later ones may sit on memory a large one left behind.
        let growth = self.pair(|t| {
            let reference = r
                .of(Phase::PushReference, t)
                .find(|run| run.round == 0)?
                .usage
                .peak_rss as f64
                / MIB;
            Some(r.peak_rss_of(&big, t)? - reference)
        });
        let flat = growth[1].map(|g| g <= 16.0);
        memory_rows.push(row(
            format!(
                "growth: peak over {size} push/pull − peak over first {} push",
                human_size(s.ref_size)
            ),
            growth,
            1,
            Goal::Custom("berthd ≤ 16 MiB (flat)".into(), flat),
        ));
        self.tables.push(Table {
            topic: "memory",
            title: "Server memory, MiB (VmRSS sampled every 10 ms per phase)".into(),
            rows: memory_rows,
            notes: vec![],
        });

        // Phases that were not run leave rows, and whole tables, empty.
        for table in &mut self.tables {
            table
                .rows
                .retain(|row| row.values.iter().any(Option::is_some));
        }
        self.tables.retain(|table| !table.rows.is_empty());
    }

    /// "Distribution answered 3 of 3 … with a redirect; berthd 0 of 3", or
    /// `None` when no GET of `phases` was made.
    fn redirect_note(&self, phases: &[Phase], what: &str) -> Option<String> {
        if self.settings.setup.storage == Storage::Filesystem {
            return None;
        }
        let mut parts = Vec::new();
        for (t, name) in self.results.names.iter().enumerate() {
            let (mut redirects, mut gets) = (0, 0);
            for &phase in phases {
                if let Some((r, g)) = self.results.redirects(phase, t) {
                    redirects += r;
                    gets += g;
                }
            }
            if gets > 0 {
                parts.push(format!("{name} {redirects} of {gets}"));
            }
        }
        (!parts.is_empty()).then(|| {
            format!(
                "Redirected to the storage (307 to a presigned URL, followed by the client), {what}: {}.",
                parts.join(", ")
            )
        })
    }

    fn cells(&self, table: &Table) -> Vec<[String; 6]> {
        table
            .rows
            .iter()
            .map(|row| {
                let fmt = |v: Option<f64>| match v {
                    Some(v) if v.is_finite() => format!("{v:.*}", row.decimals),
                    _ => "–".into(),
                };
                let ratio = match row.values {
                    [Some(d), Some(b)] if d > 0.0 && self.both => Some(b / d),
                    _ => None,
                };
                let (goal, met) = match &row.goal {
                    Goal::None => (String::new(), None),
                    Goal::AtLeast(x) => (format!("≥ {x}×"), ratio.map(|q| q >= *x)),
                    Goal::AtMost(x) => (format!("≤ {x}×"), ratio.map(|q| q <= *x)),
                    Goal::Below(x) => (format!("< {x}×"), ratio.map(|q| q < *x)),
                    Goal::Custom(text, met) => (text.clone(), if self.both { *met } else { None }),
                };
                let met = match (&row.goal, met) {
                    (Goal::None, _) => String::new(),
                    (_, Some(true)) => "yes".into(),
                    (_, Some(false)) => "NO".into(),
                    (_, None) => "–".into(),
                };
                [
                    row.figure.clone(),
                    fmt(row.values[0]),
                    fmt(row.values[1]),
                    ratio
                        .map(|q| format!("{q:.2}×"))
                        .unwrap_or_else(|| "–".into()),
                    goal,
                    met,
                ]
            })
            .collect()
    }

    fn goal_summary(&self) -> (Vec<String>, Vec<String>) {
        let (mut met, mut missed) = (Vec::new(), Vec::new());
        for table in &self.tables {
            for (row, cells) in table.rows.iter().zip(self.cells(table)) {
                let name = format!("{}: {}", table.topic, row.figure);
                match cells[5].as_str() {
                    "yes" => met.push(name),
                    "NO" => missed.push(name),
                    _ => {}
                }
            }
        }
        (met, missed)
    }

    /// Share of the machine's CPU time that went to other processes during measured phases.
    fn other_share(&self) -> f64 {
        let cpus: f64 = self.env.cpus.parse().unwrap_or(1.0);
        let (other, wall) = self.results.runs.iter().fold((0.0, 0.0), |(o, w), r| {
            (o + r.usage.other_cpu, w + r.usage.wall.as_secs_f64())
        });
        if wall > 0.0 {
            other / (wall * cpus)
        } else {
            0.0
        }
    }

    fn header_lines(&self) -> Vec<(String, String)> {
        let e = self.env;
        vec![
            ("Date".into(), e.date.clone()),
            (
                "Machine".into(),
                format!("{} CPUs ({}), {} RAM", e.cpus, e.cpu_model, e.memory),
            ),
            ("Kernel".into(), e.kernel.clone()),
            ("Distribution".into(), e.distribution_version.clone()),
            (
                "berthd".into(),
                format!("{} (workspace at git {})", e.berthd_version, e.source),
            ),
            ("Run".into(), e.mode.clone()),
            ("Storage".into(), e.storage.clone()),
            (
                "Load".into(),
                format!(
                    "loadavg {} at start; whole benchmark {:.0} s; client, registries{} share the same {} CPUs; \
                     other processes used {:.0}% of the machine's CPU time during the measured phases",
                    e.load_before,
                    self.results.elapsed.as_secs_f64(),
                    if self.settings.setup.storage == Storage::S3 {
                        " and the S3 server"
                    } else {
                        ""
                    },
                    e.cpus,
                    self.other_share() * 100.0
                ),
            ),
        ]
    }

    fn detail_rows(&self) -> Vec<[String; 10]> {
        self.results
            .runs
            .iter()
            .map(|run| {
                let name = if run.phase.is_ceiling() {
                    "(bench)"
                } else {
                    self.results.names[run.target]
                };
                [
                    (run.round + 1).to_string(),
                    run.phase.label().into(),
                    name.into(),
                    run.headline(),
                    format!("{:.2}", run.usage.wall.as_secs_f64()),
                    format!("{:.2}", run.usage.server_cpu),
                    format!("{:.2}", run.usage.client_cpu),
                    format!("{:.2}", run.usage.storage_cpu),
                    format!("{:.2}", run.usage.other_cpu),
                    format!("{:.1}", run.usage.peak_rss as f64 / MIB),
                ]
            })
            .collect()
    }

    /// Aligned plain-text tables for the terminal.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.header_lines() {
            let _ = writeln!(out, "{k:<13} {v}");
        }
        let _ = writeln!(
            out,
            "\nPer phase and round (storage cpu = the S3 server's processes; other cpu = anything else on the machine):"
        );
        out += &aligned(&DETAIL_HEADER, &self.detail_rows());
        for table in &self.tables {
            let _ = writeln!(out, "\n{}", table.title);
            out += &aligned(&TABLE_HEADER, &self.cells(table));
            for note in &table.notes {
                let _ = writeln!(out, "  {note}");
            }
        }
        let (met, missed) = self.goal_summary();
        if self.both {
            let _ = writeln!(out, "\nGoals met ({}): {}", met.len(), met.join("; "));
            let _ = writeln!(
                out,
                "Goals missed ({}): {}",
                missed.len(),
                missed.join("; ")
            );
        }
        out
    }

    /// The same report as Markdown, for bench/RESULTS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Run of {}\n", self.env.date);
        for (k, v) in self.header_lines() {
            let _ = writeln!(out, "- **{k}**: {v}");
        }
        for table in &self.tables {
            let _ = writeln!(out, "\n### {}\n", table.title);
            out += &markdown_table(&TABLE_HEADER, &self.cells(table), &[1, 2, 3]);
            if !table.notes.is_empty() {
                out.push('\n');
            }
            for note in &table.notes {
                let _ = writeln!(out, "{note}");
            }
        }
        if self.both {
            let (met, missed) = self.goal_summary();
            let _ = writeln!(out, "\n**Goals met ({})**: {}\n", met.len(), met.join("; "));
            let _ = writeln!(
                out,
                "**Goals missed ({})**: {}",
                missed.len(),
                missed.join("; ")
            );
        }
        let _ = writeln!(out, "\n<details><summary>Every phase and round</summary>\n");
        out += &markdown_table(&DETAIL_HEADER, &self.detail_rows(), &[0, 4, 5, 6, 7, 8, 9]);
        let _ = writeln!(out, "\n</details>");
        out
    }
}

const TABLE_HEADER: [&str; 6] = [
    "figure",
    "Distribution",
    "berthd",
    "berthd/Distribution",
    "goal",
    "met",
];

const DETAIL_HEADER: [&str; 10] = [
    "round",
    "phase",
    "server",
    "result",
    "wall s",
    "server cpu s",
    "client cpu s",
    "storage cpu s",
    "other cpu s",
    "peak rss MiB",
];

fn widths<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> [usize; N] {
    let mut w = header.map(|h| h.chars().count());
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    w
}

fn pad(cell: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(cell.chars().count()));
    if right {
        format!("{fill}{cell}")
    } else {
        format!("{cell}{fill}")
    }
}

/// Numbers right-aligned, text left-aligned.
fn is_numeric(cell: &str) -> bool {
    cell.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '–')
        && !cell.contains(' ')
}

/// The header, the optional `rule` under it, then the rows, every cell padded
/// to its column's width and every line joined by `line`.
fn render<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    w: &[usize; N],
    rule: Option<Vec<String>>,
    line: impl Fn(Vec<String>) -> String,
) -> String {
    let mut out = line(
        header
            .iter()
            .enumerate()
            .map(|(i, h)| pad(h, w[i], false))
            .collect(),
    );
    if let Some(rule) = rule {
        out += &line(rule);
    }
    for row in rows {
        out += &line(
            row.iter()
                .enumerate()
                .map(|(i, c)| pad(c, w[i], i > 0 && is_numeric(c)))
                .collect(),
        );
    }
    out
}

fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let w = widths(header, rows);
    render(header, rows, &w, None, |cells| {
        cells.join("  ").trim_end().to_owned() + "\n"
    })
}

fn markdown_table<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    right: &[usize],
) -> String {
    let w = widths(header, rows);
    let rule = (0..N)
        .map(|i| {
            if right.contains(&i) {
                format!("{}:", "-".repeat(w[i].max(2) - 1))
            } else {
                "-".repeat(w[i].max(3))
            }
        })
        .collect();
    render(header, rows, &w, Some(rule), |cells| {
        format!("| {} |\n", cells.join(" | "))
    })
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}
