//! The registry sidecar: `berthd serve --config …` as a child process,
//! watched until it answers `/v2/`, restarted with exponential backoff when
//! it dies, stopped with SIGTERM (then SIGKILL after a grace period).
//!
//! The child is killed when its handle is dropped (the admin's runtime
//! shutting down). If the admin process itself is killed outright, the
//! child is not: Linux's `PR_SET_PDEATHSIG` would need `unsafe` code,
//! which this workspace forbids.

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
}

impl Default for Sidecar {
    fn default() -> Self {
        Sidecar::new()
    }
}

impl Sidecar {
    /// A sidecar that is not running.
    pub fn new() -> Sidecar {
        Sidecar {
            status: Arc::new(watch::Sender::new(Snapshot::default())),
            logs: Arc::new(LogBuffer::default()),
            supervisor: Mutex::new(None),
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
    Stop,
}

async fn supervise(
    launch: Launch,
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
                let readers = forward_output(&mut child, &logs);
                let exit = loop {
                    tokio::select! {
                        result = child.wait() => break Exit::Exited(match result {
                            Ok(code) => format!("berthd exited ({code})"),
                            Err(e) => format!("lost track of berthd: {e}"),
                        }),
                        _ = stop.changed() => break Exit::Stop,
                        ok = async {
                            tokio::time::sleep(HEALTH_POLL).await;
                            healthy(&client, &launch.health_url).await
                        }, if healthy_since.is_none() => {
                            if ok {
                                let now = Instant::now();
                                healthy_since = Some(now);
                                status.send_modify(|s| {
                                    s.state = State::Running;
                                    s.healthy_since = Some(now);
                                    s.last_error = None;
                                });
                            }
                        }
                    }
                };
                if matches!(exit, Exit::Stop) {
                    terminate(&mut child).await;
                }
                // Let the readers take in the last lines (the reason it exited).
                for reader in readers {
                    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
                }
                exit
            }
        };
        let Exit::Exited(reason) = exit else {
            status.send_modify(|s| {
                s.state = State::Stopped;
                s.pid = None;
                s.healthy_since = None;
            });
            return;
        };
        let mut message = reason;
        let problems = logs.recent_problems(3);
        if !problems.is_empty() {
            message.push_str(": ");
            message.push_str(&problems.join(" | "));
        }
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
        .stdin(Stdio::null())
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

/// SIGTERM, then SIGKILL when it has not exited after [`STOP_GRACE`].
async fn terminate(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}
