//! The skopeo client, run as a process against a registry.
//!
//! Runs are kept apart from the machine's logins: skopeo gets its own `HOME`
//! and an empty auth file, so a registry someone logged in to never lends a
//! test credentials. Signature policy is off (`--insecure-policy`): tests move
//! unsigned images. Failures carry skopeo's stderr.
//!
//! ```no_run
//! use berth_e2e::skopeo::{Access, Skopeo};
//!
//! let Some(skopeo) = Skopeo::find() else { return };
//! let tags = skopeo.list_tags("docker://127.0.0.1:5000/demo", &Access::insecure());
//! println!("{tags:?}");
//! ```

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::media_type::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::api::sha256_digest;
use crate::image::OciLayout;
use crate::peer;

/// How long one skopeo command may run before the test gives up on it.
const COMMAND_LIMIT: Duration = Duration::from_secs(600);

/// `docker://HOST/NAME`, the reference skopeo uses for a registry image;
/// `name` is `repo:tag` or `repo@sha256:…` (or a bare repository for
/// `list-tags`).
pub fn docker(host: &str, name: &str) -> String {
    format!("docker://{host}/{name}")
}

/// How skopeo reaches a registry: TLS verification, CA directory, credentials.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Require HTTPS with a verified certificate. When false, skopeo accepts
    /// any certificate and falls back to plain HTTP.
    pub tls_verify: bool,
    /// A directory of CA certificates (`ca.crt`) trusted for this registry.
    pub cert_dir: Option<PathBuf>,
    /// `user:password` for basic auth.
    pub creds: Option<String>,
}

impl Access {
    /// Plain HTTP or unverified TLS, no credentials.
    pub fn insecure() -> Access {
        Access::default()
    }

    /// Verified TLS trusting the CA certificates in `cert_dir`.
    pub fn verified(cert_dir: impl Into<PathBuf>) -> Access {
        Access {
            tls_verify: true,
            cert_dir: Some(cert_dir.into()),
            creds: None,
        }
    }

    /// The same access with `user:password` credentials.
    pub fn with_creds(mut self, user: &str, password: &str) -> Access {
        self.creds = Some(format!("{user}:{password}"));
        self
    }

    /// Flags for one side of a command: `prefix` is `src-`, `dest-` or ``.
    fn flags(&self, prefix: &str) -> Vec<OsString> {
        let mut flags = vec![OsString::from(format!(
            "--{prefix}tls-verify={}",
            self.tls_verify
        ))];
        if let Some(dir) = &self.cert_dir {
            flags.push(format!("--{prefix}cert-dir").into());
            flags.push(dir.into());
        }
        if let Some(creds) = &self.creds {
            flags.push(format!("--{prefix}creds").into());
            flags.push(creds.into());
        }
        flags
    }
}

/// What a successful skopeo run printed.
#[derive(Clone, Debug)]
pub struct Output {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A skopeo run that failed, with everything it printed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The command line, for the report.
    pub command: String,
    /// How it ended (`None` when it ran too long and was killed).
    pub status: Option<ExitStatus>,
    /// Standard output.
    pub stdout: String,
    /// Standard error: skopeo's error message.
    pub stderr: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "`{}` failed with {status}", self.command)?,
            None => write!(
                f,
                "`{}` did not finish within {COMMAND_LIMIT:?} and was killed",
                self.command
            )?,
        }
        write!(f, "\n--- stderr ---\n{}", self.stderr)?;
        if !self.stdout.is_empty() {
            write!(f, "\n--- stdout ---\n{}", self.stdout)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// The skopeo program with a private home directory; cheap to clone and
/// shareable with a thread that pushes in the background.
#[derive(Clone, Debug)]
pub struct Skopeo {
    program: PathBuf,
    home: Arc<tempfile::TempDir>,
}

impl Skopeo {
    /// Finds skopeo, or returns `None` (outside CI) after saying how to get it.
    pub fn find() -> Option<Skopeo> {
        let program = peer::require("skopeo", "skopeo")?;
        let home = tempfile::Builder::new()
            .prefix("berth-e2e-skopeo-")
            .tempdir()
            .expect("temporary home for skopeo");
        std::fs::write(home.path().join("auth.json"), br#"{"auths":{}}"#).expect("auth.json");
        Some(Skopeo {
            program,
            home: Arc::new(home),
        })
    }

    /// Runs `skopeo ARGS…` and returns what it printed, or the failure.
    pub fn run<I, S>(&self, args: I) -> Result<Output, Failure>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let home = self.home.path();
        let mut full: Vec<OsString> = vec!["--insecure-policy".into()];
        full.extend(args.into_iter().map(Into::into));
        let command = format!(
            "skopeo {}",
            full.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut child = Command::new(&self.program)
            .args(&full)
            .env("HOME", home)
            .env("DOCKER_CONFIG", home.join(".docker"))
            .env("XDG_RUNTIME_DIR", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command}: {e}"));
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let deadline = Instant::now() + COMMAND_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for skopeo") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = stdout.join().expect("stdout reader");
        let stderr = stderr.join().expect("stderr reader");
        match status {
            Some(status) if status.success() => Ok(Output { stdout, stderr }),
            status => Err(Failure {
                command,
                status,
                stdout,
                stderr,
            }),
        }
    }

    /// `skopeo copy [--all] FLAGS SRC DEST`, with `flags` for the registry side.
    fn copy(
        &self,
        src: &str,
        dest: &str,
        flags: Vec<OsString>,
        all: bool,
    ) -> Result<Output, Failure> {
        let mut args: Vec<OsString> = vec!["copy".into()];
        if all {
            args.push("--all".into());
        }
        args.extend(flags);
        args.extend([src.into(), dest.into()]);
        self.run(args)
    }

    /// `skopeo COMMAND… FLAGS REFERENCE`, for a command on one registry image.
    fn run_on(
        &self,
        command: &[&str],
        reference: &str,
        access: &Access,
    ) -> Result<Output, Failure> {
        let mut args: Vec<OsString> = command.iter().map(OsString::from).collect();
        args.extend(access.flags(""));
        args.push(reference.into());
        self.run(args)
    }

    /// Copies `tag` from `layout` to `dest` (`docker://HOST/repo:tag`); when
    /// the tag names an index, every image of it (`--all`).
    pub fn try_push(
        &self,
        layout: &OciLayout,
        tag: &str,
        dest: &str,
        access: &Access,
    ) -> Result<Output, Failure> {
        let all = layout
            .tagged(tag)
            .is_some_and(|d| [OCI_INDEX, DOCKER_MANIFEST_LIST].contains(&d.media_type.as_str()));
        self.copy(&layout.reference(tag), dest, access.flags("dest-"), all)
    }

    /// [`Skopeo::try_push`], panicking with skopeo's stderr on failure.
    pub fn push(&self, layout: &OciLayout, tag: &str, dest: &str, access: &Access) -> Output {
        self.try_push(layout, tag, dest, access)
            .unwrap_or_else(|failure| panic!("push failed: {failure}"))
    }

    /// Copies `src` (`docker://…`) into a fresh layout at `dir` under `tag`.
    pub fn try_pull(
        &self,
        src: &str,
        dir: &Path,
        tag: &str,
        access: &Access,
        all: bool,
    ) -> Result<OciLayout, Failure> {
        let layout = OciLayout::open(dir);
        self.copy(src, &layout.reference(tag), access.flags("src-"), all)
            .map(|_| layout)
    }

    /// [`Skopeo::try_pull`], panicking with skopeo's stderr on failure.
    pub fn pull(&self, src: &str, dir: &Path, tag: &str, access: &Access, all: bool) -> OciLayout {
        self.try_pull(src, dir, tag, access, all)
            .unwrap_or_else(|failure| panic!("pull failed: {failure}"))
    }

    /// The manifest (or index) bytes exactly as the registry serves them:
    /// `skopeo inspect --raw`.
    pub fn try_inspect_raw(&self, reference: &str, access: &Access) -> Result<Vec<u8>, Failure> {
        // skopeo writes the raw bytes unchanged, so their digest is the
        // manifest's digest.
        self.run_on(&["inspect", "--raw"], reference, access)
            .map(|out| out.stdout.into_bytes())
    }

    /// [`Skopeo::try_inspect_raw`], panicking with skopeo's stderr on failure.
    pub fn inspect_raw(&self, reference: &str, access: &Access) -> Vec<u8> {
        self.try_inspect_raw(reference, access)
            .unwrap_or_else(|failure| panic!("inspect failed: {failure}"))
    }

    /// The digest of the manifest or index `reference` names: sha256 of the
    /// raw bytes, which holds for indexes too (`--format {{.Digest}}` would
    /// pick this machine's platform out of an index).
    pub fn digest(&self, reference: &str, access: &Access) -> String {
        sha256_digest(&self.inspect_raw(reference, access))
    }

    /// The tags of `repository` (`docker://HOST/repo`), sorted.
    pub fn try_list_tags(&self, repository: &str, access: &Access) -> Result<Vec<String>, Failure> {
        let out = self.run_on(&["list-tags"], repository, access)?;
        let listing: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("list-tags printed no JSON ({e}): {}", out.stdout));
        let mut tags: Vec<String> = listing["Tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// [`Skopeo::try_list_tags`], panicking with skopeo's stderr on failure.
    pub fn list_tags(&self, repository: &str, access: &Access) -> Vec<String> {
        self.try_list_tags(repository, access)
            .unwrap_or_else(|failure| panic!("list-tags failed: {failure}"))
    }

    /// Deletes the manifest `reference` names (`skopeo delete`): skopeo
    /// resolves a tag to its digest and deletes the manifest by digest.
    pub fn try_delete(&self, reference: &str, access: &Access) -> Result<Output, Failure> {
        self.run_on(&["delete"], reference, access)
    }

    /// [`Skopeo::try_delete`], panicking with skopeo's stderr on failure.
    pub fn delete(&self, reference: &str, access: &Access) -> Output {
        self.try_delete(reference, access)
            .unwrap_or_else(|failure| panic!("delete failed: {failure}"))
    }
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
