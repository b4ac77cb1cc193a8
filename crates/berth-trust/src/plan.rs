//! Plans: the exact files and commands that make a machine's clients trust
//! a registry's CA (or stop trusting it), computed without touching
//! anything, so the app can show them before it asks for a password.
//!
//! Paths in a plan are the target system's own (`/etc/docker/…`); the
//! executor maps them under the machine's root.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::address::RegistryAddr;
use crate::cert::Certificate;
use crate::error::{Error, Result};
use crate::platform::{Machine, Platform};

/// A client (or family of clients) whose trust Berth manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The operating system's trust store (curl, Go programs, most tools).
    System,
    /// The Docker daemon: `/etc/docker/certs.d/<host:port>/ca.crt`.
    Docker,
    /// containerd (nerdctl, ctr, Kubernetes' CRI):
    /// `/etc/containerd/certs.d/<host:port>/` with `hosts.toml`.
    Containerd,
    /// podman, CRI-O, buildah, skopeo: `/etc/containers/certs.d/<host:port>/`.
    Containers,
    /// The user's NSS database (Chrome and Firefox on Linux).
    Nss,
}

impl Target {
    /// Every target, in the order plans handle them.
    pub const ALL: [Target; 5] = [
        Target::System,
        Target::Docker,
        Target::Containerd,
        Target::Containers,
        Target::Nss,
    ];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::System => "system",
            Target::Docker => "docker",
            Target::Containerd => "containerd",
            Target::Containers => "containers",
            Target::Nss => "nss",
        }
    }

    /// What the UI calls it.
    pub fn label(self) -> &'static str {
        match self {
            Target::System => "Operating system trust store",
            Target::Docker => "Docker",
            Target::Containerd => "containerd (nerdctl, Kubernetes)",
            Target::Containers => "podman, CRI-O, buildah, skopeo",
            Target::Nss => "Chrome and Firefox (NSS)",
        }
    }

    /// The targets that exist on a platform at all.
    pub fn for_platform(platform: Platform) -> &'static [Target] {
        match platform {
            Platform::MacOs => &[Target::System, Target::Docker],
            Platform::Windows | Platform::WindowsUser => &[Target::System],
            _ => &Target::ALL,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::NotSupported(format!(
                    "unknown target {s:?}; one of: {}",
                    Target::ALL.map(Target::as_str).join(", ")
                ))
            })
    }
}

/// One thing a plan does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Create a directory (and missing parents); nothing if it exists.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Permission bits for what is created.
        mode: u32,
    },
    /// Write a file whole (temporary file + rename).
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Its new contents.
        contents: String,
        /// Permission bits.
        mode: u32,
        /// Replace an existing file only when its first line starts with
        /// this (Berth's marker): a client config someone else wrote is kept.
        only_replacing: Option<String>,
    },
    /// Remove a file; nothing if it is gone.
    RemoveFile {
        /// The file.
        path: PathBuf,
        /// Remove it only when its first line starts with this marker.
        only_if_first_line: Option<String>,
    },
    /// Remove a directory if it is empty.
    RemoveDirIfEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Run a command (never through a shell).
    Run {
        /// Program and arguments.
        argv: Vec<String>,
        /// A failure is reported but does not stop the plan.
        ignore_failure: bool,
    },
}

impl Action {
    /// The file or directory this touches, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Action::CreateDir { path, .. }
            | Action::WriteFile { path, .. }
            | Action::RemoveFile { path, .. }
            | Action::RemoveDirIfEmpty { path } => Some(path),
            Action::Run { .. } => None,
        }
    }

    /// The first line an existing file must begin with for this step to
    /// replace or remove it (Berth's marker), if the step asks for one.
    pub fn marker(&self) -> Option<&str> {
        match self {
            Action::WriteFile { only_replacing, .. } => only_replacing.as_deref(),
            Action::RemoveFile {
                only_if_first_line, ..
            } => only_if_first_line.as_deref(),
            _ => None,
        }
    }
}

/// An action with what it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The client this step is for.
    pub target: Target,
    /// What it does.
    pub action: Action,
    /// It needs administrator rights (system files, system stores).
    pub elevated: bool,
}

/// What a plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    /// Install the CA.
    Trust,
    /// Remove what `Trust` installed.
    Untrust,
    /// Let clients skip verification (or use plain HTTP).
    Insecure,
    /// Remove what `Insecure` added.
    Secure,
}

/// An ordered list of steps for one machine and registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// What the plan is for.
    pub kind: PlanKind,
    /// The platform it was computed for.
    pub platform: Platform,
    /// The registry.
    pub registry: RegistryAddr,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// What the admin should know (a target skipped, a setting to check).
    pub notes: Vec<String>,
}

impl Plan {
    pub(crate) fn new(kind: PlanKind, platform: Platform, registry: &RegistryAddr) -> Plan {
        Plan {
            kind,
            platform,
            registry: registry.clone(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// True when some step needs administrator rights.
    pub fn needs_elevation(&self) -> bool {
        self.steps.iter().any(|s| s.elevated)
    }

    /// The targets the plan touches, in order.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = self.steps.iter().map(|s| s.target).collect();
        targets.dedup();
        targets
    }

    pub(crate) fn push(&mut self, target: Target, elevated: bool, action: Action) {
        self.steps.push(Step {
            target,
            action,
            elevated,
        });
    }

    /// Adds a directory (0755).
    pub(crate) fn create_dir(&mut self, target: Target, elevated: bool, path: PathBuf) {
        self.push(target, elevated, Action::CreateDir { path, mode: 0o755 });
    }

    /// Adds a file write (0644), replacing an existing file only when it
    /// begins with `only_replacing`, if given.
    pub(crate) fn write_file(
        &mut self,
        target: Target,
        elevated: bool,
        path: PathBuf,
        contents: String,
        only_replacing: Option<&str>,
    ) {
        let only_replacing = only_replacing.map(String::from);
        let action = Action::WriteFile {
            path,
            contents,
            mode: 0o644,
            only_replacing,
        };
        self.push(target, elevated, action);
    }

    /// Adds a file removal, only of a file beginning with
    /// `only_if_first_line`, if given.
    pub(crate) fn remove_file(
        &mut self,
        target: Target,
        elevated: bool,
        path: PathBuf,
        only_if_first_line: Option<&str>,
    ) {
        let only_if_first_line = only_if_first_line.map(String::from);
        let action = Action::RemoveFile {
            path,
            only_if_first_line,
        };
        self.push(target, elevated, action);
    }
}

/// How every config file Berth writes for a client begins; a file that
/// begins otherwise is someone else's and is not replaced.
pub const BERTH_MARKER_PREFIX: &str = "# Written by Berth:";
/// The first line of a containerd `hosts.toml` Berth wrote to trust the CA.
pub const HOSTS_TOML_TRUST_MARKER: &str = "# Written by Berth: trust the registry's CA.";
/// The first line of a containerd `hosts.toml` Berth wrote to skip
/// verification.
pub const HOSTS_TOML_INSECURE_MARKER: &str =
    "# Written by Berth: reach the registry without certificate verification.";

/// Docker's per-registry CA directory.
pub const DOCKER_CERTS_D: &str = "/etc/docker/certs.d";
/// containerd's hosts directory (its `config_path`).
pub const CONTAINERD_CERTS_D: &str = "/etc/containerd/certs.d";
/// The containers/image CA directory (podman, CRI-O, buildah, skopeo).
pub const CONTAINERS_CERTS_D: &str = "/etc/containers/certs.d";

/// The files whose presence under a root means a client is installed.
pub(crate) fn presence_paths(platform: Platform, target: Target) -> &'static [&'static str] {
    match (platform, target) {
        (p, Target::Docker) if p.is_linux() => &[
            "/etc/docker",
            "/usr/bin/dockerd",
            "/usr/bin/docker",
            "/usr/local/bin/dockerd",
        ],
        (Platform::MacOs, Target::Docker) => &["/Applications/Docker.app", "/usr/local/bin/docker"],
        (_, Target::Containerd) => &[
            "/etc/containerd",
            "/usr/bin/containerd",
            "/usr/local/bin/containerd",
        ],
        (_, Target::Containers) => &[
            "/etc/containers",
            "/usr/bin/podman",
            "/usr/bin/skopeo",
            "/usr/bin/buildah",
            "/usr/bin/crio",
        ],
        _ => &[],
    }
}

/// Whether `target` is on `machine`: the OS store always is; a container
/// client when its config directory or program is under the root; NSS when
/// the user has an NSS database and `certutil` is installed.
pub fn target_present(machine: &Machine, target: Target) -> bool {
    if !Target::for_platform(machine.platform).contains(&target) {
        return false;
    }
    match target {
        Target::System => true,
        Target::Nss => {
            let Some(db) = nss_db(machine) else {
                return false;
            };
            machine.path(&db).is_dir() && certutil_present(machine)
        }
        Target::Docker if machine.platform == Platform::MacOs => {
            machine
                .home
                .as_ref()
                .is_some_and(|h| machine.path(&h.join(".docker")).is_dir())
                || any_exists(machine, presence_paths(machine.platform, target))
        }
        _ => any_exists(machine, presence_paths(machine.platform, target)),
    }
}

fn any_exists(machine: &Machine, paths: &[&str]) -> bool {
    paths.iter().any(|p| machine.path(Path::new(p)).exists())
}

fn certutil_present(machine: &Machine) -> bool {
    if machine.is_live() {
        return std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("certutil").is_file())
        });
    }
    any_exists(machine, &["/usr/bin/certutil", "/usr/local/bin/certutil"])
}

/// The targets present on `machine`, in plan order.
pub fn present_targets(machine: &Machine) -> Vec<Target> {
    Target::ALL
        .into_iter()
        .filter(|t| target_present(machine, *t))
        .collect()
}

pub(crate) fn nss_db(machine: &Machine) -> Option<PathBuf> {
    machine.home.as_ref().map(|h| h.join(".pki/nssdb"))
}

/// The nickname the CA gets in an NSS database.
pub fn nss_nickname(registry: &RegistryAddr) -> String {
    format!("Berth CA ({})", registry.authority())
}

/// Where the OS store (or Berth's copy for it) keeps the CA file.
pub fn system_anchor(machine: &Machine, registry: &RegistryAddr) -> Result<PathBuf> {
    let file = format!("berth-{}.crt", registry.host_slug());
    Ok(match machine.platform {
        Platform::Debian => PathBuf::from("/usr/local/share/ca-certificates").join(file),
        Platform::Fedora => PathBuf::from("/etc/pki/ca-trust/source/anchors").join(file),
        Platform::Suse => PathBuf::from("/etc/pki/trust/anchors").join(file),
        Platform::Arch => PathBuf::from(ARCH_STAGING_DIR).join(file),
        Platform::MacOs => PathBuf::from(MACOS_DIR).join(file),
        Platform::Windows | Platform::WindowsUser => {
            PathBuf::from(format!(r"{}\{file}", windows_dir(machine)?.display()))
        }
    })
}

/// The directory Berth keeps its copy of the CA in on Windows.
fn windows_dir(machine: &Machine) -> Result<PathBuf> {
    if machine.platform == Platform::Windows {
        return Ok(PathBuf::from(r"C:\ProgramData\Berth"));
    }
    let home = machine
        .home
        .as_ref()
        .ok_or_else(|| Error::NotSupported("the CurrentUser store needs the user's home".into()))?;
    Ok(PathBuf::from(format!(
        r"{}\AppData\Local\Berth",
        home.display().to_string().trim_end_matches('\\')
    )))
}

/// Arch keeps the file Berth hands to `trust anchor` here, so `trust
/// anchor --remove` gets the same certificate back.
const ARCH_STAGING_DIR: &str = "/usr/local/share/berth";
const MACOS_DIR: &str = "/Library/Application Support/Berth";
const MACOS_KEYCHAIN: &str = "/Library/Keychains/System.keychain";

/// Where a container client keeps this registry's CA.
pub fn certs_d_dir(machine: &Machine, target: Target, registry: &RegistryAddr) -> Option<PathBuf> {
    let base = match (machine.platform, target) {
        (Platform::MacOs, Target::Docker) => machine.home.as_ref()?.join(".docker/certs.d"),
        (p, Target::Docker) if p.is_linux() => PathBuf::from(DOCKER_CERTS_D),
        (p, Target::Containerd) if p.is_linux() => PathBuf::from(CONTAINERD_CERTS_D),
        (p, Target::Containers) if p.is_linux() => PathBuf::from(CONTAINERS_CERTS_D),
        _ => return None,
    };
    Some(base.join(registry.authority()))
}

fn nss_copy(machine: &Machine, registry: &RegistryAddr) -> Option<PathBuf> {
    machine.home.as_ref().map(|h| {
        h.join(".local/share/berth/trust")
            .join(format!("berth-{}.crt", registry.host_slug()))
    })
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The plan that installs `ca` for `registry` into `targets` on `machine`.
/// Targets that do not exist on the platform are skipped with a note.
pub fn trust(
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
    targets: &[Target],
) -> Result<Plan> {
    let mut plan = Plan::new(PlanKind::Trust, machine.platform, registry);
    let pem = ca.pem();
    for &target in Target::ALL.iter().filter(|t| targets.contains(t)) {
        if !Target::for_platform(machine.platform).contains(&target) {
            plan.notes.push(format!(
                "{} is not managed on {}; skipped",
                target.label(),
                machine.platform
            ));
            continue;
        }
        match target {
            Target::System => system_trust(&mut plan, machine, registry, ca)?,
            Target::Docker | Target::Containers | Target::Containerd => {
                let Some(dir) = certs_d_dir(machine, target, registry) else {
                    plan.notes
                        .push(format!("{}: no home directory; skipped", target.label()));
                    continue;
                };
                let elevated = machine.platform.is_linux();
                let ca_file = dir.join("ca.crt");
                plan.create_dir(target, elevated, dir.clone());
                plan.write_file(target, elevated, ca_file.clone(), pem.clone(), None);
                if target == Target::Containerd {
                    let hosts = containerd_trust_hosts_toml(registry, &ca_file);
                    let marker = Some(BERTH_MARKER_PREFIX);
                    plan.write_file(target, elevated, dir.join("hosts.toml"), hosts, marker);
                    containerd_config_note(&mut plan, machine);
                }
            }
            Target::Nss => {
                let (Some(db), Some(copy)) = (nss_db(machine), nss_copy(machine, registry)) else {
                    plan.notes.push("NSS: no home directory; skipped".into());
                    continue;
                };
                let copy_dir = copy.parent().expect("a file in a directory").to_path_buf();
                plan.create_dir(target, false, copy_dir);
                plan.write_file(target, false, copy.clone(), pem.clone(), None);
                let db = format!("sql:{}", db.display());
                let nickname = nss_nickname(registry);
                let copy_s = s(&copy);
                let argv = [
                    "certutil", "-d", &db, "-A", "-t", "C,,", "-n", &nickname, "-i", &copy_s,
                ];
                plan.push(target, false, run(&argv, false));
            }
        }
    }
    Ok(plan)
}

fn system_trust(
    plan: &mut Plan,
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
) -> Result<()> {
    let anchor = system_anchor(machine, registry)?;
    let anchor_s = s(&anchor);
    // The directory Berth creates for the file it hands to the store, and
    // the store's command that takes it in.
    let (dir, argv): (Option<PathBuf>, Vec<&str>) = match machine.platform {
        Platform::Debian | Platform::Suse => (None, vec!["update-ca-certificates"]),
        Platform::Fedora => (None, vec!["update-ca-trust", "extract"]),
        Platform::Arch => (
            Some(ARCH_STAGING_DIR.into()),
            vec!["trust", "anchor", "--store", &anchor_s],
        ),
        Platform::MacOs => (
            Some(MACOS_DIR.into()),
            vec![
                "security",
                "add-trusted-cert",
                "-d",
                "-r",
                "trustRoot",
                "-k",
                MACOS_KEYCHAIN,
                &anchor_s,
            ],
        ),
        Platform::Windows => (
            Some(windows_dir(machine)?),
            vec!["certutil", "-addstore", "-f", "Root", &anchor_s],
        ),
        Platform::WindowsUser => (
            Some(windows_dir(machine)?),
            vec!["certutil", "-user", "-addstore", "-f", "Root", &anchor_s],
        ),
    };
    let t = Target::System;
    let elevated = machine.platform != Platform::WindowsUser;
    if let Some(dir) = dir {
        plan.create_dir(t, elevated, dir);
    }
    plan.write_file(t, elevated, anchor, ca.pem(), None);
    plan.push(t, elevated, run(&argv, false));
    Ok(())
}

/// A command step.
fn run(argv: &[&str], ignore_failure: bool) -> Action {
    Action::Run {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        ignore_failure,
    }
}

/// A `hosts.toml` that makes containerd verify the registry with `ca`.
/// Root-level keys configure the registry itself (containerd's hosts.md).
pub(crate) fn containerd_trust_hosts_toml(registry: &RegistryAddr, ca: &Path) -> String {
    format!(
        "{HOSTS_TOML_TRUST_MARKER}\nserver = \"https://{auth}\"\nca = \"{ca}\"\n",
        auth = registry.authority(),
        ca = ca.display()
    )
}

/// containerd's CRI plugin reads certs.d only when `config_path` points
/// there; say so when its config.toml does not mention it.
pub(crate) fn containerd_config_note(plan: &mut Plan, machine: &Machine) {
    let config = machine.path(Path::new("/etc/containerd/config.toml"));
    if let Ok(text) = std::fs::read_to_string(&config)
        && !text.contains("config_path")
    {
        plan.notes.push(format!(
            "containerd: /etc/containerd/config.toml has no config_path; Kubernetes (CRI) \
             reads {CONTAINERD_CERTS_D} only with config_path = \"{CONTAINERD_CERTS_D}\" in its \
             registry section (nerdctl and `ctr --hosts-dir` read it regardless)"
        ));
    }
}

/// The plan that removes exactly what [`trust`] installs: the same files,
/// the stores' own removal commands, and the per-registry directories when
/// they are left empty.
pub fn untrust(
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
    targets: &[Target],
) -> Result<Plan> {
    let mut plan = Plan::new(PlanKind::Untrust, machine.platform, registry);
    for &target in Target::ALL.iter().filter(|t| targets.contains(t)) {
        if !Target::for_platform(machine.platform).contains(&target) {
            continue;
        }
        match target {
            Target::System => system_untrust(&mut plan, machine, registry, ca)?,
            Target::Docker | Target::Containers | Target::Containerd => {
                let Some(dir) = certs_d_dir(machine, target, registry) else {
                    continue;
                };
                let elevated = machine.platform.is_linux();
                if target == Target::Containerd {
                    let marker = Some(HOSTS_TOML_TRUST_MARKER);
                    plan.remove_file(target, elevated, dir.join("hosts.toml"), marker);
                }
                plan.remove_file(target, elevated, dir.join("ca.crt"), None);
                plan.push(target, elevated, Action::RemoveDirIfEmpty { path: dir });
            }
            Target::Nss => {
                let (Some(db), Some(copy)) = (nss_db(machine), nss_copy(machine, registry)) else {
                    continue;
                };
                let db = format!("sql:{}", db.display());
                let nickname = nss_nickname(registry);
                let argv = ["certutil", "-d", &db, "-D", "-n", &nickname];
                plan.push(target, false, run(&argv, true));
                plan.remove_file(target, false, copy.clone(), None);
                plan.push(
                    target,
                    false,
                    Action::RemoveDirIfEmpty {
                        path: copy.parent().expect("a file in a directory").to_path_buf(),
                    },
                );
            }
        }
    }
    Ok(plan)
}

fn system_untrust(
    plan: &mut Plan,
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
) -> Result<()> {
    let anchor = system_anchor(machine, registry)?;
    let anchor_s = s(&anchor);
    // Stores that keep their own copy are asked to drop it first (tolerating
    // "not there"); stores rebuilt from a directory are refreshed after the
    // file is gone. Berth's own directory goes last, when empty.
    let (before, after, dir): (Vec<Vec<&str>>, Option<Vec<&str>>, Option<PathBuf>) =
        match machine.platform {
            Platform::Debian | Platform::Suse => (
                vec![],
                Some(vec!["update-ca-certificates", "--fresh"]),
                None,
            ),
            Platform::Fedora => (vec![], Some(vec!["update-ca-trust", "extract"]), None),
            Platform::Arch => (
                vec![vec!["trust", "anchor", "--remove", &anchor_s]],
                None,
                Some(ARCH_STAGING_DIR.into()),
            ),
            Platform::MacOs => (
                vec![
                    vec!["security", "remove-trusted-cert", "-d", &anchor_s],
                    vec![
                        "security",
                        "delete-certificate",
                        "-Z",
                        ca.sha1_thumbprint(),
                        MACOS_KEYCHAIN,
                    ],
                ],
                None,
                Some(MACOS_DIR.into()),
            ),
            Platform::Windows => (
                vec![vec!["certutil", "-delstore", "Root", ca.serial_hex()]],
                None,
                Some(windows_dir(machine)?),
            ),
            Platform::WindowsUser => (
                vec![vec![
                    "certutil",
                    "-user",
                    "-delstore",
                    "Root",
                    ca.serial_hex(),
                ]],
                None,
                Some(windows_dir(machine)?),
            ),
        };
    let t = Target::System;
    let elevated = machine.platform != Platform::WindowsUser;
    for argv in before {
        plan.push(t, elevated, run(&argv, true));
    }
    plan.remove_file(t, elevated, anchor, None);
    if let Some(argv) = after {
        plan.push(t, elevated, run(&argv, false));
    }
    if let Some(path) = dir {
        plan.push(t, elevated, Action::RemoveDirIfEmpty { path });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn test_ca() -> Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Berth CA on test");
        Certificate::from_der(params.self_signed(&key).unwrap().der()).unwrap()
    }

    fn reg() -> RegistryAddr {
        "registry.example.com:5000".parse().unwrap()
    }

    fn machine(platform: Platform) -> Machine {
        let home = if platform.is_windows() {
            PathBuf::from(r"C:\Users\alice")
        } else if platform == Platform::MacOs {
            PathBuf::from("/Users/alice")
        } else {
            PathBuf::from("/home/alice")
        };
        Machine::new(platform, "/nonexistent-root", Some(home))
    }

    /// A compact rendering: one line per step, contents elided to their
    /// first line.
    fn lines(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| {
                let e = if step.elevated { "#" } else { "$" };
                let body = match &step.action {
                    Action::CreateDir { path, mode } => {
                        format!("mkdir {} {mode:o}", path.display())
                    }
                    Action::WriteFile {
                        path,
                        mode,
                        only_replacing,
                        ..
                    } => format!(
                        "write {} {mode:o}{}",
                        path.display(),
                        if only_replacing.is_some() {
                            " (if ours)"
                        } else {
                            ""
                        }
                    ),
                    Action::RemoveFile {
                        path,
                        only_if_first_line,
                    } => format!(
                        "rm {}{}",
                        path.display(),
                        if only_if_first_line.is_some() {
                            " (if ours)"
                        } else {
                            ""
                        }
                    ),
                    Action::RemoveDirIfEmpty { path } => format!("rmdir {}", path.display()),
                    Action::Run {
                        argv,
                        ignore_failure,
                    } => format!(
                        "run {}{}",
                        argv.join(" "),
                        if *ignore_failure { " (may fail)" } else { "" }
                    ),
                };
                format!("{e} {}: {body}", step.target)
            })
            .collect()
    }

    #[test]
    fn debian_trust_and_untrust() {
        let ca = test_ca();
        let m = machine(Platform::Debian);
        let plan = trust(&m, &reg(), &ca, &Target::ALL).unwrap();
        assert_eq!(
            lines(&plan),
            [
                "# system: write /usr/local/share/ca-certificates/berth-registry.example.com.crt 644",
                "# system: run update-ca-certificates",
                "# docker: mkdir /etc/docker/certs.d/registry.example.com:5000 755",
                "# docker: write /etc/docker/certs.d/registry.example.com:5000/ca.crt 644",
                "# containerd: mkdir /etc/containerd/certs.d/registry.example.com:5000 755",
                "# containerd: write /etc/containerd/certs.d/registry.example.com:5000/ca.crt 644",
                "# containerd: write /etc/containerd/certs.d/registry.example.com:5000/hosts.toml 644 (if ours)",
                "# containers: mkdir /etc/containers/certs.d/registry.example.com:5000 755",
                "# containers: write /etc/containers/certs.d/registry.example.com:5000/ca.crt 644",
                "$ nss: mkdir /home/alice/.local/share/berth/trust 755",
                "$ nss: write /home/alice/.local/share/berth/trust/berth-registry.example.com.crt 644",
                "$ nss: run certutil -d sql:/home/alice/.pki/nssdb -A -t C,, -n Berth CA (registry.example.com:5000) -i /home/alice/.local/share/berth/trust/berth-registry.example.com.crt",
            ]
        );
        // Every file written is the CA, byte for byte, except hosts.toml.
        for step in &plan.steps {
            if let Action::WriteFile { path, contents, .. } = &step.action {
                if path.ends_with("hosts.toml") {
                    assert_eq!(
                        contents,
                        "# Written by Berth: trust the registry's CA.\n\
                         server = \"https://registry.example.com:5000\"\n\
                         ca = \"/etc/containerd/certs.d/registry.example.com:5000/ca.crt\"\n"
                    );
                } else {
                    assert_eq!(contents, &ca.pem());
                }
            }
        }
        assert!(plan.needs_elevation());

        let undo = untrust(&m, &reg(), &ca, &Target::ALL).unwrap();
        assert_eq!(
            lines(&undo),
            [
                "# system: rm /usr/local/share/ca-certificates/berth-registry.example.com.crt",
                "# system: run update-ca-certificates --fresh",
                "# docker: rm /etc/docker/certs.d/registry.example.com:5000/ca.crt",
                "# docker: rmdir /etc/docker/certs.d/registry.example.com:5000",
                "# containerd: rm /etc/containerd/certs.d/registry.example.com:5000/hosts.toml (if ours)",
                "# containerd: rm /etc/containerd/certs.d/registry.example.com:5000/ca.crt",
                "# containerd: rmdir /etc/containerd/certs.d/registry.example.com:5000",
                "# containers: rm /etc/containers/certs.d/registry.example.com:5000/ca.crt",
                "# containers: rmdir /etc/containers/certs.d/registry.example.com:5000",
                "$ nss: run certutil -d sql:/home/alice/.pki/nssdb -D -n Berth CA (registry.example.com:5000) (may fail)",
                "$ nss: rm /home/alice/.local/share/berth/trust/berth-registry.example.com.crt",
                "$ nss: rmdir /home/alice/.local/share/berth/trust",
            ]
        );
    }

    #[test]
    fn untrust_removes_every_file_trust_writes() {
        let ca = test_ca();
        let paths = |plan: &Plan, kind: fn(&Action) -> bool| -> Vec<PathBuf> {
            plan.steps
                .iter()
                .filter(|s| kind(&s.action))
                .filter_map(|s| s.action.path().map(Path::to_path_buf))
                .collect()
        };
        for platform in Platform::ALL {
            let m = machine(platform);
            let targets = Target::for_platform(platform);
            let done = trust(&m, &reg(), &ca, targets).unwrap();
            let undo = untrust(&m, &reg(), &ca, targets).unwrap();
            let removed = paths(&undo, |a| matches!(a, Action::RemoveFile { .. }));
            for path in paths(&done, |a| matches!(a, Action::WriteFile { .. })) {
                assert!(removed.contains(&path), "{platform}: {path:?} stays");
            }
            let rmdirs = paths(&undo, |a| matches!(a, Action::RemoveDirIfEmpty { .. }));
            for dir in paths(&done, |a| matches!(a, Action::CreateDir { .. })) {
                assert!(rmdirs.contains(&dir), "{platform}: {dir:?} stays");
            }
        }
    }

    /// The OS store's trust and untrust plans on `platform`, as [`lines`].
    fn assert_system_store<S: AsRef<str>>(
        ca: &Certificate,
        platform: Platform,
        trusts: &[S],
        untrusts: &[S],
    ) {
        let m = machine(platform);
        let sys = [Target::System];
        let expect = |l: &[S]| l.iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>();
        assert_eq!(lines(&trust(&m, &reg(), ca, &sys).unwrap()), expect(trusts));
        assert_eq!(
            lines(&untrust(&m, &reg(), ca, &sys).unwrap()),
            expect(untrusts)
        );
    }

    #[test]
    fn fedora_suse_arch_system_store() {
        let ca = test_ca();
        assert_system_store(
            &ca,
            Platform::Fedora,
            &[
                "# system: write /etc/pki/ca-trust/source/anchors/berth-registry.example.com.crt 644",
                "# system: run update-ca-trust extract",
            ],
            &[
                "# system: rm /etc/pki/ca-trust/source/anchors/berth-registry.example.com.crt",
                "# system: run update-ca-trust extract",
            ],
        );
        assert_system_store(
            &ca,
            Platform::Suse,
            &[
                "# system: write /etc/pki/trust/anchors/berth-registry.example.com.crt 644",
                "# system: run update-ca-certificates",
            ],
            &[
                "# system: rm /etc/pki/trust/anchors/berth-registry.example.com.crt",
                "# system: run update-ca-certificates --fresh",
            ],
        );
        assert_system_store(
            &ca,
            Platform::Arch,
            &[
                "# system: mkdir /usr/local/share/berth 755",
                "# system: write /usr/local/share/berth/berth-registry.example.com.crt 644",
                "# system: run trust anchor --store /usr/local/share/berth/berth-registry.example.com.crt",
            ],
            &[
                "# system: run trust anchor --remove /usr/local/share/berth/berth-registry.example.com.crt (may fail)",
                "# system: rm /usr/local/share/berth/berth-registry.example.com.crt",
                "# system: rmdir /usr/local/share/berth",
            ],
        );
    }

    #[test]
    fn macos_system_keychain_and_docker_desktop() {
        let ca = test_ca();
        let m = machine(Platform::MacOs);
        let plan = trust(&m, &reg(), &ca, &Target::ALL).unwrap();
        assert_eq!(
            lines(&plan),
            [
                "# system: mkdir /Library/Application Support/Berth 755",
                "# system: write /Library/Application Support/Berth/berth-registry.example.com.crt 644",
                "# system: run security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain /Library/Application Support/Berth/berth-registry.example.com.crt",
                "$ docker: mkdir /Users/alice/.docker/certs.d/registry.example.com:5000 755",
                "$ docker: write /Users/alice/.docker/certs.d/registry.example.com:5000/ca.crt 644",
            ]
        );
        assert_eq!(
            plan.notes.len(),
            3,
            "containerd, containers, nss skipped: {:?}",
            plan.notes
        );
        let undo = untrust(&m, &reg(), &ca, &[Target::System]).unwrap();
        assert_eq!(lines(&undo), [
            "# system: run security remove-trusted-cert -d /Library/Application Support/Berth/berth-registry.example.com.crt (may fail)".to_string(),
            format!(
                "# system: run security delete-certificate -Z {} /Library/Keychains/System.keychain (may fail)",
                ca.sha1_thumbprint()
            ),
            "# system: rm /Library/Application Support/Berth/berth-registry.example.com.crt".into(),
            "# system: rmdir /Library/Application Support/Berth".into(),
        ]);
    }

    #[test]
    fn windows_machine_and_user_stores() {
        let ca = test_ca();
        let serial = ca.serial_hex();
        assert_system_store(
            &ca,
            Platform::Windows,
            &[
                r"# system: mkdir C:\ProgramData\Berth 755".to_string(),
                r"# system: write C:\ProgramData\Berth\berth-registry.example.com.crt 644".into(),
                r"# system: run certutil -addstore -f Root C:\ProgramData\Berth\berth-registry.example.com.crt".into(),
            ],
            &[
                format!("# system: run certutil -delstore Root {serial} (may fail)"),
                r"# system: rm C:\ProgramData\Berth\berth-registry.example.com.crt".into(),
                r"# system: rmdir C:\ProgramData\Berth".into(),
            ],
        );
        assert_system_store(
            &ca,
            Platform::WindowsUser,
            &[
                r"$ system: mkdir C:\Users\alice\AppData\Local\Berth 755".to_string(),
                r"$ system: write C:\Users\alice\AppData\Local\Berth\berth-registry.example.com.crt 644".into(),
                r"$ system: run certutil -user -addstore -f Root C:\Users\alice\AppData\Local\Berth\berth-registry.example.com.crt".into(),
            ],
            &[
                format!("$ system: run certutil -user -delstore Root {serial} (may fail)"),
                r"$ system: rm C:\Users\alice\AppData\Local\Berth\berth-registry.example.com.crt".into(),
                r"$ system: rmdir C:\Users\alice\AppData\Local\Berth".into(),
            ],
        );
        let all = trust(&machine(Platform::Windows), &reg(), &ca, &Target::ALL).unwrap();
        assert_eq!(all.targets(), [Target::System]);
    }

    #[test]
    fn ip_registries_and_presence() {
        let ca = test_ca();
        let r: RegistryAddr = "[::1]:5000".parse().unwrap();
        let m = machine(Platform::Debian);
        let plan = trust(&m, &r, &ca, &[Target::System, Target::Docker]).unwrap();
        assert_eq!(
            lines(&plan)[0],
            "# system: write /usr/local/share/ca-certificates/berth-__1.crt 644"
        );
        assert_eq!(
            lines(&plan)[2],
            "# docker: mkdir /etc/docker/certs.d/[::1]:5000 755"
        );

        let root = tempfile::tempdir().unwrap();
        let m = Machine::new(Platform::Debian, root.path(), Some("/home/alice".into()));
        assert_eq!(present_targets(&m), [Target::System]);
        std::fs::create_dir_all(root.path().join("etc/containers")).unwrap();
        std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        std::fs::write(root.path().join("usr/bin/dockerd"), "").unwrap();
        assert_eq!(
            present_targets(&m),
            [Target::System, Target::Docker, Target::Containers]
        );
        std::fs::create_dir_all(root.path().join("home/alice/.pki/nssdb")).unwrap();
        assert!(!target_present(&m, Target::Nss), "no certutil yet");
        std::fs::write(root.path().join("usr/bin/certutil"), "").unwrap();
        assert!(target_present(&m, Target::Nss));
    }

    #[test]
    fn containerd_note_when_cri_does_not_read_certs_d() {
        let ca = test_ca();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/containerd")).unwrap();
        std::fs::write(
            root.path().join("etc/containerd/config.toml"),
            "version = 2\n",
        )
        .unwrap();
        let m = Machine::new(Platform::Debian, root.path(), None);
        let plan = trust(&m, &reg(), &ca, &[Target::Containerd]).unwrap();
        assert!(plan.notes[0].contains("config_path"), "{:?}", plan.notes);
    }
}
