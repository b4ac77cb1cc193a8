//! What the admin tests share: the real `berthd` binary, free ports, an
//! `Admin` over a temporary data directory, and re-running one test in a
//! child process (inside a private D-Bus session with gnome-keyring, or
//! with no session bus at all).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use berth_admin::{Admin, AdminError, AdminOptions, Tuning};
use serde_json::{Value, json};

pub use berth_e2e::registry::{berthd_bin, free_port};

/// Tuning for tests: a keychain service of the test's own, any free port,
/// a short start-up limit, and a trust root that is never this machine's `/`
/// (a fixture gives each test its own).
pub fn tuning() -> Tuning {
    Tuning {
        keychain_service: format!("berth-test-{}", std::process::id()),
        preferred_port: 0,
        startup_timeout: Duration::from_secs(20),
        trust_root: std::env::temp_dir().join("berth-test-no-trust-root"),
        renewal_check: Duration::from_secs(6 * 3600),
    }
}

/// A filesystem config.yml on `port`, storing under `root`, with `extra`
/// appended at the top level.
pub fn config_yaml(port: u16, root: &Path, extra: &str) -> String {
    format!(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}",
        root.display()
    )
}

/// A temporary data directory with an admin running on it.
pub struct Fixture {
    /// Holds the data directory and the storage roots.
    pub dir: tempfile::TempDir,
    /// The admin core.
    pub admin: Arc<Admin>,
    /// The registry's port.
    pub port: u16,
}

impl Fixture {
    /// An admin whose config.yml serves filesystem storage under `<dir>/root-a` on a free port.
    pub async fn start() -> Fixture {
        Fixture::start_with("").await
    }

    /// Like [`Fixture::start`], with `extra` YAML at the top level of config.yml.
    pub async fn start_with(extra: &str) -> Fixture {
        Fixture::start_tuned(extra, |_| {}).await
    }

    /// Like [`Fixture::start_with`], with the tuning changed by `tune`.
    pub async fn start_tuned(extra: &str, tune: impl FnOnce(&mut Tuning)) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("berth-admin-")
            .tempdir()
            .expect("temporary directory");
        let port = free_port();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("config.yml"),
            config_yaml(port, &dir.path().join("root-a"), extra),
        )
        .unwrap();
        let trust_root = dir.path().join("trust-root");
        let mut tuning = Tuning {
            trust_root: trust_root.clone(),
            ..tuning()
        };
        tune(&mut tuning);
        let admin = Admin::start_with(options(dir.path()), tuning)
            .await
            .unwrap_or_else(|e| panic!("admin start: {e}: {}", e.hint));
        let fixture = Fixture { dir, admin, port };
        fixture.wait_state("running").await;
        fixture
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The filesystem root the Trust operations act on.
    pub fn trust_root(&self) -> PathBuf {
        self.dir.path().join("trust-root")
    }

    /// The registry's API on this machine: TLS, Berth's certificate.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/v2/", self.port)
    }

    /// A client that trusts Berth's CA (the app's `ca/ca.crt`) and nothing else.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.data_dir().join("ca/ca.crt")).expect("the app's CA");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .no_proxy()
            .build()
            .unwrap()
    }

    /// GET the registry's `/v2/`: its status, or 0 when nothing answers.
    pub async fn registry_status(&self) -> u16 {
        status_of(&self.client(), &self.url()).await
    }

    /// config.yml's bytes.
    pub fn config_bytes(&self) -> Vec<u8> {
        std::fs::read(self.data_dir().join("config.yml")).unwrap()
    }

    /// Runs an operation that must succeed.
    pub async fn ok(&self, op: &str, args: Value) -> Value {
        self.admin
            .call(op, args)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e} ({}) {:?}", e.hint, e.details))
    }

    /// Runs an operation that must fail.
    pub async fn err(&self, op: &str, args: Value) -> AdminError {
        match self.admin.call(op, args).await {
            Ok(v) => panic!("{op} should fail, answered {v}"),
            Err(e) => e,
        }
    }

    /// Waits (up to 30 s) until `status` shows `state`.
    pub async fn wait_state(&self, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.ok("status", json!({})).await;
            if last["state"] == state {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let logs = self.ok("logs", json!({})).await;
        panic!("state never became {state}: {last}\nlogs: {logs:#}");
    }
}

/// The admin options for a fixture rooted at `dir`.
pub fn options(dir: &Path) -> AdminOptions {
    AdminOptions {
        data_dir: dir.join("data"),
        berthd: berthd_bin(),
        registry_data_dir: dir.join("registry"),
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

/// The environment of process `pid`, as `NAME=value` strings.
pub fn environ(pid: u64) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read /proc/PID/environ");
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Pushes `data` as a blob of `repo` (monolithic POST + PUT); returns its digest.
pub async fn push_blob(client: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    use sha2::Digest;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)));
    let start = client
        .post(format!("{base}{repo}/blobs/uploads/"))
        .send()
        .await
        .expect("start upload");
    assert_eq!(start.status(), 202, "start upload");
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("{}{location}", base.trim_end_matches("/v2/"))
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{url}{sep}digest={digest}"))
        .body(data.to_vec())
        .send()
        .await
        .expect("finish upload");
    assert_eq!(put.status(), 201, "finish upload");
    digest
}

/// Where Distribution's layout keeps a blob's bytes under `root`.
pub fn blob_path(root: &Path, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    root.join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// GET `url`'s status, or 0 when nothing answers (or the TLS handshake fails).
pub async fn status_of(client: &reqwest::Client, url: &str) -> u16 {
    match client.get(url).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Whether this process runs inside the private keyring session
/// [`in_keyring_session`] starts.
const KEYRING_SESSION: &str = "BERTH_KEYRING_SESSION";

/// Runs the test `name` (of this test binary) inside a private D-Bus session
/// with an unlocked gnome-keyring, unless this process already is that run.
///
/// Returns `true` when the caller is inside the session and should run the
/// test's body; `false` when it ran the test in a child (which passed) or
/// skipped it because dbus-run-session or gnome-keyring is missing (a
/// failure under `CI=true`).
pub fn in_keyring_session(name: &str) -> bool {
    if std::env::var_os(KEYRING_SESSION).is_some() {
        return true;
    }
    for (program, package) in [
        ("dbus-run-session", "dbus"),
        ("gnome-keyring-daemon", "gnome-keyring"),
        ("keyctl", "keyutils"),
    ] {
        if !on_path(program) {
            let message = format!(
                "{program} is missing: the keychain tests need a real Secret Service \
                 (`sudo apt-get install dbus gnome-keyring keyutils`; package {package})"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("skipping {name}: {message}");
            return false;
        }
    }
    let exe = std::env::current_exe().expect("current executable");
    // A keyring folder of its own: a login keyring left with another
    // password would make gnome-keyring prompt (and, with no display, refuse).
    let home = tempfile::Builder::new()
        .prefix("berth-keyring-")
        .tempdir()
        .expect("temporary directory");
    let output = Command::new("dbus-run-session")
        .args(["--", "keyctl", "session", "-", "sh", "-c"])
        .arg(
            "echo -n berth-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
             && exec \"$0\" \"$@\"",
        )
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(KEYRING_SESSION, "1")
        .env("XDG_DATA_HOME", home.path())
        .output()
        .expect("run dbus-run-session");
    report_child(name, &output);
    false
}

/// Runs the test `name` in a child process with no reachable session bus.
/// Returns `true` when the caller is that child.
pub fn without_session_bus(name: &str) -> bool {
    const MARK: &str = "BERTH_NO_SESSION_BUS";
    if std::env::var_os(MARK).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("current executable");
    let output = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(MARK, "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/berth-test/bus",
        )
        .env_remove(KEYRING_SESSION)
        .output()
        .expect("run the test again in a child");
    report_child(name, &output);
    false
}

fn report_child(name: &str, output: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- {name}, run in a child process:\n{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "{name} failed in its child process ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its child process:\n{stdout}\n{stderr}"
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
