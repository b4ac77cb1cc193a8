//! What a phase costs: CPU seconds and resident memory of the server, the client and everything else.

use std::fs;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// Clock ticks per second of the counters in `/proc/*/stat`.
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (all its threads), in seconds; `None` is this process.
pub fn process_cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name in field 2 may hold spaces; fields are counted after its ')'.
    let rest = &stat[stat.rfind(')').ok_or_else(|| anyhow!("{path}: no ')'"))? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12th and 13th after ')'.
    let utime: f64 = fields
        .get(11)
        .ok_or_else(|| anyhow!("{path}: short"))?
        .parse()?;
    let stime: f64 = fields
        .get(12)
        .ok_or_else(|| anyhow!("{path}: short"))?
        .parse()?;
    Ok((utime + stime) / ticks_per_second())
}

/// Total CPU seconds of `pids`; a process that is gone counts as zero.
fn processes_cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&pid| process_cpu_seconds(Some(pid)).ok())
        .sum()
}

/// CPU seconds the whole machine spent busy (all cores), from `/proc/stat`.
pub fn machine_busy_seconds() -> Result<f64> {
    let stat = fs::read_to_string("/proc/stat").context("read /proc/stat")?;
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| v.get(i).copied().unwrap_or(0.0))
        .sum::<f64>();
    Ok(busy / ticks_per_second())
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

/// Samples a process's `VmRSS` on a thread and keeps the highest value.
///
/// `VmHWM` is the peak over the process's whole life, so it cannot tell
/// which phase drove memory up; sampling can.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl RssSampler {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                if let Ok(rss) = status_bytes(pid, "VmRSS") {
                    peak = peak.max(rss);
                }
                if flag.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(every);
            }
        });
        RssSampler { stop, thread }
    }

    /// Stops sampling (after one last sample) and returns the peak in bytes.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// Counters read at the start of a phase.
pub struct Snapshot {
    at: Instant,
    server_pid: u32,
    server_cpu: f64,
    storage_pids: Vec<u32>,
    storage_cpu: f64,
    client_cpu: f64,
    machine_busy: f64,
    sampler: RssSampler,
}

/// What one phase cost.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU seconds of the server under test.
    pub server_cpu: f64,
    /// CPU seconds of this benchmark process (the load generator).
    pub client_cpu: f64,
    /// CPU seconds of the storage servers (Ceph's OSD, monitor and RGW on
    /// S3; zero on the filesystem).
    pub storage_cpu: f64,
    /// CPU seconds of everything else on the machine: noise from other work.
    pub other_cpu: f64,
    /// Highest sampled `VmRSS` of the server during the phase, in bytes.
    pub peak_rss: u64,
}

impl Snapshot {
    /// Reads the counters and starts the RSS sampler for `server_pid`;
    /// `storage_pids` are the storage servers it talks to.
    pub fn take(server_pid: u32, storage_pids: &[u32]) -> Result<Snapshot> {
        let sampler = RssSampler::start(server_pid, Duration::from_millis(10));
        Ok(Snapshot {
            server_pid,
            server_cpu: process_cpu_seconds(Some(server_pid))?,
            storage_cpu: processes_cpu_seconds(storage_pids),
            storage_pids: storage_pids.to_vec(),
            client_cpu: process_cpu_seconds(None)?,
            machine_busy: machine_busy_seconds()?,
            sampler,
            at: Instant::now(),
        })
    }

    /// Reads the counters again and returns the differences.
    pub fn finish(self) -> Result<Usage> {
        let wall = self.at.elapsed();
        let server_cpu = process_cpu_seconds(Some(self.server_pid))? - self.server_cpu;
        let client_cpu = process_cpu_seconds(None)? - self.client_cpu;
        let storage_cpu = processes_cpu_seconds(&self.storage_pids) - self.storage_cpu;
        let machine = machine_busy_seconds()? - self.machine_busy;
        let peak_rss = self.sampler.finish();
        Ok(Usage {
            wall,
            server_cpu,
            client_cpu,
            storage_cpu,
            other_cpu: (machine - server_cpu - client_cpu - storage_cpu).max(0.0),
            peak_rss,
        })
    }
}
