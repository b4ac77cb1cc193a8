//! Registries as real processes on 127.0.0.1: `berthd` and CNCF Distribution.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peer;

/// Which registry implementation a [`Registry`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Our `berthd serve`.
    Berthd,
    /// CNCF Distribution 2.8, Debian's `docker-registry`.
    Distribution,
}

/// How to start a registry. `Default` is filesystem storage in a fresh
/// temporary directory with deletes enabled, plain HTTP, no auth.
#[derive(Clone, Debug)]
pub struct Options {
    /// Storage root directory; a fresh temporary directory when `None`.
    pub root: Option<PathBuf>,
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
    /// TLS certificate and key files (`http.tls`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// htpasswd file for basic auth (`auth.htpasswd`).
    pub htpasswd: Option<PathBuf>,
    /// Raw YAML appended at the top level of the generated config.
    pub extra_yaml: String,
    /// Raw YAML lines appended inside the `storage:` section (indented by 2).
    pub storage_yaml: String,
    /// The storage driver's section (`s3:\n  bucket: b\n…`) in place of the
    /// filesystem driver at `root`; see [`crate::backends`].
    pub driver_yaml: Option<String>,
    /// Extra environment variables for the process.
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: None,
            delete_enabled: true,
            tls: None,
            htpasswd: None,
            extra_yaml: String::new(),
            storage_yaml: String::new(),
            driver_yaml: None,
            env: Vec::new(),
        }
    }
}

/// A running registry process; killed when dropped.
pub struct Registry {
    kind: Kind,
    addr: SocketAddr,
    root: PathBuf,
    config: PathBuf,
    options: Options,
    child: Option<Child>,
    workdir: tempfile::TempDir,
}

/// The `berthd` binary under test: `$BERTHD_BIN`, or the one cargo built
/// next to the running executable (a benchmark in `target/<profile>/`) or
/// next to its directory (a test in `target/<profile>/deps/`).
pub fn berthd_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BERTHD_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current executable");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("berthd"))
        .collect();
    candidates
        .iter()
        .find(|bin| bin.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "berthd is not built at {}: run `cargo build -p berthd` (or `make test`) first, \
                 or point BERTHD_BIN at it",
                candidates[0].display()
            )
        })
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port on 127.0.0.1")
        .port()
}

impl Registry {
    /// Starts `berthd serve` with `options`; panics with its log when it
    /// does not become ready.
    pub fn berthd(options: Options) -> Registry {
        Registry::start(Kind::Berthd, options).expect("berthd is always available")
    }

    /// Starts Distribution's `docker-registry`, or returns `None` (outside CI)
    /// when the package is not installed.
    pub fn distribution(options: Options) -> Option<Registry> {
        Registry::start(Kind::Distribution, options)
    }

    /// Starts a registry of `kind`; `None` when its program is missing
    /// outside CI.
    pub fn start(kind: Kind, options: Options) -> Option<Registry> {
        if kind == Kind::Distribution {
            peer::require("docker-registry", "docker-registry")?;
        }
        let workdir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("temporary directory");
        let root = options
            .root
            .clone()
            .unwrap_or_else(|| workdir.path().join("storage"));
        std::fs::create_dir_all(&root).expect("create storage root");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = workdir.path().join("config.yml");
        let mut registry = Registry {
            kind,
            addr,
            root,
            config,
            options,
            child: None,
            workdir,
        };
        registry.write_config();
        registry.spawn();
        Some(registry)
    }

    fn write_config(&self) {
        let o = &self.options;
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n{driver}  delete:\n    enabled: {delete}\n\
             \x20 maintenance:\n    uploadpurging:\n      enabled: false\n{storage}\
             http:\n  addr: {addr}\n  secret: berth-e2e-shared-secret\n",
            driver = match &o.driver_yaml {
                Some(d) => indent(d, 2),
                None => format!(
                    "  filesystem:\n    rootdirectory: {}\n",
                    self.root.display()
                ),
            },
            delete = o.delete_enabled,
            storage = indent(&o.storage_yaml, 2),
            addr = self.addr,
        );
        if let Some((cert, key)) = &o.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        if let Some(htpasswd) = &o.htpasswd {
            yaml += &format!(
                "auth:\n  htpasswd:\n    realm: berth-e2e\n    path: {}\n",
                htpasswd.display()
            );
        }
        yaml += &o.extra_yaml;
        std::fs::write(&self.config, yaml).expect("write registry config");
    }

    fn spawn(&mut self) {
        // Appended, so a restart keeps what the killed process said.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open log file");
        let mut cmd = match self.kind {
            Kind::Berthd => {
                let mut c = Command::new(berthd_bin());
                c.arg("serve").arg("--config").arg(&self.config);
                c
            }
            Kind::Distribution => {
                let mut c = Command::new("docker-registry");
                c.arg("serve").arg(&self.config);
                // Distribution 2.8's AWS SDK refuses to start on S3 when
                // AWS_CA_BUNDLE is set (its HTTP transport cannot take one);
                // the loopback S3 server is plain HTTP anyway.
                c.env_remove("AWS_CA_BUNDLE");
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .envs(self.options.env.iter().cloned());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", self.kind));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let client = crate::registry::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{:?} exited with {status} before it was ready; its log:\n{}",
                    self.kind,
                    self.log()
                );
            }
            if let Ok(resp) = client.get(format!("{}/v2/", self.url())).send() {
                let code = resp.status().as_u16();
                if code == 200 || code == 401 {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{:?} did not answer /v2/ at {} within 30 s; its log:\n{}",
                    self.kind,
                    self.url(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Which implementation this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `http://127.0.0.1:PORT` (or `https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, the form skopeo and docker use in references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The storage root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The config file the process was started with.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// A scratch directory that lives as long as this registry.
    pub fn workdir(&self) -> &Path {
        self.workdir.path()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_path(&self) -> PathBuf {
        self.workdir.path().join("registry.log")
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same config, port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

/// A blocking HTTP client for tests: no redirects followed, invalid
/// certificates accepted (tests that check TLS trust build their own).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client")
}
