//! The registry sidecar: `berthd serve --config … --exit-with-parent` as a
//! child process, watched until it answers `/v2/` and then every few seconds
//! for as long as it runs, restarted with exponential backoff when it dies or
//! stops answering, stopped with SIGTERM (then SIGKILL after a grace period).
//!
//! The child is killed when its handle is dropped (the admin's runtime
//! shutting down). If the admin process itself is killed outright (SIGKILL,
//! a crash), the child still ends: its standard input is a pipe whose other
//! end only this process holds, the kernel closes that end when this process
//! dies, and `--exit-with-parent` makes berthd stop at end of file. (Linux's
//! `PR_SET_PDEATHSIG` would need `unsafe` code, which this workspace forbids,
//! and works on Linux only.)

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::endpoint::{health_client, healthy};
use crate::logs::LogBuffer;

/// The first wait before restarting a crashed sidecar; it doubles each time.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// The longest wait before a restart.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A sidecar that ran healthy this long restarts at once after a crash.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long berthd has to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often health is asked while starting.
const HEALTH_POLL: Duration = Duration::from_millis(150);
/// How often health is asked once the sidecar has answered.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// After this many failed health checks in a row, a running sidecar counts
/// as hung: it is killed and restarted.
pub const HEALTH_FAILURES: u32 = 3;
/// How long a hung berthd has to stop after SIGTERM before it is killed.
pub const HUNG_GRACE: Duration = Duration::from_secs(3);

/// How a running sidecar's health is watched.
#[derive(Clone, Copy, Debug)]
pub struct HealthWatch {
    /// The time between two checks.
    pub interval: Duration,
    /// Failed checks in a row that make it hung.
    pub failures: u32,
}

impl Default for HealthWatch {
    fn default() -> Self {
        HealthWatch {
            interval: HEALTH_INTERVAL,
            failures: HEALTH_FAILURES,
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The berthd binary.
    pub berthd: PathBuf,
    /// The config.yml it serves.
    pub config_path: PathBuf,
    /// Extra environment: the secrets as `REGISTRY_*` overrides.
    pub env: Vec<(String, String)>,
    /// `GET` this answering 200 or 401 means healthy.
    pub health_url: String,
}

/// The sidecar's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Healthy: it answers `/v2/`.
    Running,
    /// Started, not answering yet.
    Starting,
    /// Not running, as asked.
    Stopped,
    /// It exited without being asked to; a restart is coming.
    Crashed,
}

/// A moment's view of the sidecar.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// The child's process id while there is one.
    pub pid: Option<u32>,
    /// Since when it has been healthy.
    pub healthy_since: Option<Instant>,
    /// Restarts after crashes since the admin started.
    pub restarts: u64,
    /// Why it last failed.
    pub last_error: Option<String>,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            state: State::Stopped,
            pid: None,
            healthy_since: None,
            restarts: 0,
            last_error: None,
        }
    }
}

struct Supervisor {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The supervisor of one sidecar.
pub struct Sidecar {
    status: Arc<watch::Sender<Snapshot>>,
    logs: Arc<LogBuffer>,
    supervisor: Mutex<Option<Supervisor>>,
    health: HealthWatch,
}

impl Default for Sidecar {
    fn default() -> Self {
        Sidecar::new()
    }
}

impl Sidecar {
    /// A sidecar that is not running.
    pub fn new() -> Sidecar {
        Sidecar::with_health_watch(HealthWatch::default())
    }

    /// A sidecar that is not running, whose health is watched as `health` says.
    pub fn with_health_watch(health: HealthWatch) -> Sidecar {
        Sidecar {
            status: Arc::new(watch::Sender::new(Snapshot::default())),
            logs: Arc::new(LogBuffer::default()),
            supervisor: Mutex::new(None),
            health,
        }
    }

    /// Its output.
    pub fn logs(&self) -> &LogBuffer {
        &self.logs
    }

    /// Its state now.
    pub fn snapshot(&self) -> Snapshot {
        self.status.borrow().clone()
    }

    /// (Re)starts it with `launch`: a running sidecar is stopped first.
    /// Returns at once; see [`Sidecar::wait_healthy`].
    pub async fn start(&self, launch: Launch) {
        let mut guard = self.supervisor.lock().await;
        if let Some(old) = guard.take() {
            stop_supervisor(old).await;
        }
        self.status.send_modify(|s| {
            s.state = State::Starting;
            s.pid = None;
            s.healthy_since = None;
            s.last_error = None;
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(supervise(
            launch,
            self.health,
            self.status.clone(),
            self.logs.clone(),
            stop_rx,
        ));
        *guard = Some(Supervisor {
            stop: stop_tx,
            task,
        });
    }

    /// Stops it (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and waits until it is gone.
    pub async fn stop(&self) {
        let mut guard = self.supervisor.lock().await;
        if let Some(old) = guard.take() {
            stop_supervisor(old).await;
        }
        self.status.send_modify(|s| {
            s.state = State::Stopped;
            s.pid = None;
            s.healthy_since = None;
        });
    }

    /// Records why the sidecar could not be started; a sidecar that is not
    /// running shows as stopped with this error.
    pub async fn record_error(&self, message: String) {
        let supervised = self.supervisor.lock().await.is_some();
        self.status.send_modify(|s| {
            if !supervised {
                s.state = State::Stopped;
            }
            s.last_error = Some(message);
        });
    }

    /// Whether a supervisor is at work (the sidecar is meant to run).
    pub async fn is_supervised(&self) -> bool {
        self.supervisor.lock().await.is_some()
    }

    /// Waits until the sidecar is healthy. Fails with the reason when it
    /// exits first, is stopped, or does not answer within `limit`.
    pub async fn wait_healthy(&self, limit: Duration) -> Result<(), String> {
        let mut rx = self.status.subscribe();
        let settled = rx.wait_for(|s| s.state != State::Starting);
        match tokio::time::timeout(limit, settled).await {
            Ok(Ok(s)) => match s.state {
                State::Running => Ok(()),
                State::Stopped => Err("the registry was stopped while it started".to_string()),
                _ => Err(s
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the registry exited while starting".to_string())),
            },
            Ok(Err(_)) => Err("the supervisor ended".to_string()),
            Err(_) => Err(format!(
                "the registry did not answer on its address within {} s",
                limit.as_secs()
            )),
        }
    }
}

async fn stop_supervisor(supervisor: Supervisor) {
    let _ = supervisor.stop.send(true);
    let _ = supervisor.task.await;
}

enum Exit {
    Exited(String),
    /// Running, but no longer answering its health checks.
    Hung(String),
    Stop,
}

async fn supervise(
    launch: Launch,
    health: HealthWatch,
    status: Arc<watch::Sender<Snapshot>>,
    logs: Arc<LogBuffer>,
    mut stop: watch::Receiver<bool>,
) {
    let client = health_client();
    let mut backoff = BACKOFF_MIN;
    loop {
        status.send_modify(|s| {
            s.state = State::Starting;
            s.pid = None;
            s.healthy_since = None;
        });
        let mut healthy_since = None;
        let exit = match spawn(&launch) {
            Err(e) => Exit::Exited(format!(
                "cannot run {}: {e}; build it with `cargo build -p berthd` or reinstall Berth",
                launch.berthd.display()
            )),
            Ok(mut child) => {
                status.send_modify(|s| s.pid = child.id());
                // The write end of berthd's stdin: held until berthd is gone
                // (see the module's documentation).
                let parent_pipe = child.stdin.take();
                let readers = forward_output(&mut child, &logs);
                let mut failed_checks = 0;
                let exit = loop {
                    let pause = if healthy_since.is_none() {
                        HEALTH_POLL
                    } else {
                        health.interval
                    };
                    tokio::select! {
                        result = child.wait() => break Exit::Exited(match result {
                            Ok(code) => format!("berthd exited ({code})"),
                            Err(e) => format!("lost track of berthd: {e}"),
                        }),
                        _ = stop.changed() => break Exit::Stop,
                        ok = async {
                            tokio::time::sleep(pause).await;
                            healthy(&client, &launch.health_url).await
                        } => {
                            if ok {
                                failed_checks = 0;
                                if healthy_since.is_none() {
                                    let now = Instant::now();
                                    healthy_since = Some(now);
                                    status.send_modify(|s| {
                                        s.state = State::Running;
                                        s.healthy_since = Some(now);
                                        s.last_error = None;
                                    });
                                }
                            } else if healthy_since.is_some() {
                                failed_checks += 1;
                                if failed_checks >= health.failures {
                                    break Exit::Hung(format!(
                                        "berthd stopped answering on {} ({failed_checks} health \
                                         checks in a row failed, {} s apart)",
                                        launch.health_url,
                                        health.interval.as_secs_f32()
                                    ));
                                }
                                logs.push(&format!(
                                    "warning: berthd did not answer its health check on {} \
                                     ({failed_checks} of {} before it is restarted)",
                                    launch.health_url, health.failures
                                ));
                            }
                        }
                    }
                };
                match exit {
                    Exit::Stop => terminate(&mut child, STOP_GRACE).await,
                    Exit::Hung(_) => terminate(&mut child, HUNG_GRACE).await,
                    Exit::Exited(_) => {}
                }
                drop(parent_pipe);
                // Let the readers take in the last lines (the reason it exited).
                for reader in readers {
                    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
                }
                exit
            }
        };
        let message = match exit {
            Exit::Stop => {
                status.send_modify(|s| {
                    s.state = State::Stopped;
                    s.pid = None;
                    s.healthy_since = None;
                });
                return;
            }
            // What berthd said last is the likely reason it exited.
            Exit::Exited(mut message) => {
                let problems = logs.recent_problems(3);
                if !problems.is_empty() {
                    message.push_str(": ");
                    message.push_str(&problems.join(" | "));
                }
                message
            }
            Exit::Hung(message) => message,
        };
        if healthy_since.is_some_and(|t| t.elapsed() >= STABLE_AFTER) {
            backoff = BACKOFF_MIN;
        }
        logs.push(&format!(
            "error: {message}; restarting in {} ms",
            backoff.as_millis()
        ));
        status.send_modify(|s| {
            s.state = State::Crashed;
            s.pid = None;
            s.healthy_since = None;
            s.last_error = Some(message);
        });
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => {
                status.send_modify(|s| s.state = State::Stopped);
                return;
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        status.send_modify(|s| s.restarts += 1);
    }
}

fn spawn(launch: &Launch) -> std::io::Result<Child> {
    let mut cmd = Command::new(&launch.berthd);
    cmd.arg("serve")
        .arg("--config")
        .arg(&launch.config_path)
        .arg("--exit-with-parent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The saved settings are the whole truth: variables the app itself was
    // started with must not change what the registry serves.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("REGISTRY_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env_remove("BERTH_CONFIG")
        .env("NO_COLOR", "1")
        .envs(launch.env.iter().map(|(k, v)| (k, v)));
    cmd.spawn()
}

fn forward_output(child: &mut Child, logs: &Arc<LogBuffer>) -> Vec<JoinHandle<()>> {
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(read_lines(out, logs.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(read_lines(err, logs.clone())));
    }
    readers
}

async fn read_lines(stream: impl AsyncRead + Unpin, logs: Arc<LogBuffer>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => logs.push(&String::from_utf8_lossy(&line)),
        }
    }
}

/// SIGTERM, then SIGKILL when it has not exited after `grace`.
async fn terminate(child: &mut Child, grace: Duration) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `berthd` binary: `$BERTHD_BIN`, or the one cargo built into the
    /// target directory this test runs from.
    fn berthd_bin() -> PathBuf {
        if let Some(bin) = std::env::var_os("BERTHD_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("current executable");
        exe.ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join("berthd"))
            .find(|bin| bin.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "berthd is not built next to {}: run `cargo build -p berthd` first, \
                     or point BERTHD_BIN at it",
                    exe.display()
                )
            })
    }

    fn launch(dir: &std::path::Path) -> Launch {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config_path = dir.join("config.yml");
        std::fs::write(
            &config_path,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("store").display()
            ),
        )
        .unwrap();
        Launch {
            berthd: berthd_bin(),
            config_path,
            env: Vec::new(),
            health_url: format!("http://127.0.0.1:{port}/v2/"),
        }
    }

    fn signal(pid: u32, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
        rustix::process::kill_process(pid, signal).expect("signal berthd");
    }

    async fn wait_for(
        sidecar: &Sidecar,
        what: &str,
        check: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        let mut rx = sidecar.status.subscribe();
        match tokio::time::timeout(Duration::from_secs(30), rx.wait_for(check)).await {
            Ok(Ok(snapshot)) => snapshot.clone(),
            _ => panic!(
                "{what} not seen within 30 s: {:?}\nlogs: {:?}",
                sidecar.snapshot(),
                sidecar.logs().recent_problems(10)
            ),
        }
    }

    #[tokio::test]
    async fn berthd_runs_with_a_pipe_it_exits_with() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = Sidecar::new();
        sidecar.start(launch(dir.path())).await;
        sidecar.wait_healthy(Duration::from_secs(20)).await.unwrap();
        let pid = sidecar.snapshot().pid.expect("a pid while running");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        assert!(
            args.contains(&&b"--exit-with-parent"[..]),
            "{}",
            String::from_utf8_lossy(&cmdline)
        );
        let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
        assert!(
            stdin.to_string_lossy().starts_with("pipe:"),
            "berthd's stdin is {}",
            stdin.display()
        );
        sidecar.stop().await;
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[tokio::test]
    async fn a_hung_registry_is_reported_and_restarted() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = Sidecar::with_health_watch(HealthWatch {
            interval: Duration::from_millis(200),
            failures: 2,
        });
        let launch = launch(dir.path());
        let url = launch.health_url.clone();
        sidecar.start(launch).await;
        sidecar.wait_healthy(Duration::from_secs(20)).await.unwrap();
        let hung = sidecar.snapshot().pid.expect("a pid while running");

        // A healthy registry keeps running through many checks.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let still = sidecar.snapshot();
        assert_eq!((still.state, still.pid), (State::Running, Some(hung)));

        // Frozen: the process lives and holds its port, but answers nothing.
        signal(hung, rustix::process::Signal::STOP);
        let crashed = wait_for(&sidecar, "the hung registry reported", |s| {
            s.state == State::Crashed
        })
        .await;
        let reason = crashed.last_error.unwrap_or_default();
        assert!(
            reason.contains("stopped answering") && reason.contains(&url),
            "{reason}"
        );
        assert!(
            !std::path::Path::new(&format!("/proc/{hung}")).exists(),
            "the hung berthd (pid {hung}) was killed"
        );
        let warned = sidecar.logs().recent_problems(10).join("\n");
        assert!(
            warned.contains("did not answer its health check"),
            "{warned}"
        );

        let after = wait_for(&sidecar, "a new registry running", |s| {
            s.state == State::Running
        })
        .await;
        assert_ne!(after.pid, Some(hung));
        assert_eq!(after.restarts, 1);
        assert!(after.last_error.is_none());
        let client = health_client();
        assert!(healthy(&client, &url).await, "the new berthd answers");
        sidecar.stop().await;
    }
}
