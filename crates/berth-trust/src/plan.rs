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
            Target::Docker | Target::Containers => {
                let Some(dir) = certs_d_dir(machine, target, registry) else {
                    plan.notes
                        .push(format!("{}: no home directory; skipped", target.label()));
                    continue;
                };
                let elevated = machine.platform.is_linux();
                plan.push(
                    target,
                    elevated,
                    Action::CreateDir {
                        path: dir.clone(),
                        mode: 0o755,
                    },
                );
                plan.push(
                    target,
                    elevated,
                    Action::WriteFile {
                        path: dir.join("ca.crt"),
                        contents: pem.clone(),
                        mode: 0o644,
                        only_replacing: None,
                    },
                );
            }
            Target::Containerd => {
                let dir = certs_d_dir(machine, target, registry).expect("Linux");
                plan.push(
                    target,
                    true,
                    Action::CreateDir {
                        path: dir.clone(),
                        mode: 0o755,
                    },
                );
                plan.push(
                    target,
                    true,
                    Action::WriteFile {
                        path: dir.join("ca.crt"),
                        contents: pem.clone(),
                        mode: 0o644,
                        only_replacing: None,
                    },
                );
                plan.push(
                    target,
                    true,
                    Action::WriteFile {
                        path: dir.join("hosts.toml"),
                        contents: containerd_trust_hosts_toml(registry, &dir.join("ca.crt")),
                        mode: 0o644,
                        only_replacing: Some(BERTH_MARKER_PREFIX.into()),
                    },
                );
                containerd_config_note(&mut plan, machine);
            }
            Target::Nss => {
                let (Some(db), Some(copy)) = (nss_db(machine), nss_copy(machine, registry)) else {
                    plan.notes.push("NSS: no home directory; skipped".into());
                    continue;
                };
                plan.push(
                    target,
                    false,
                    Action::CreateDir {
                        path: copy.parent().expect("a file in a directory").to_path_buf(),
                        mode: 0o755,
                    },
                );
                plan.push(
                    target,
                    false,
                    Action::WriteFile {
                        path: copy.clone(),
                        contents: pem.clone(),
                        mode: 0o644,
                        only_replacing: None,
                    },
                );
                plan.push(
                    target,
                    false,
                    Action::Run {
                        argv: vec![
                            "certutil".into(),
                            "-d".into(),
                            format!("sql:{}", db.display()),
                            "-A".into(),
                            "-t".into(),
                            "C,,".into(),
                            "-n".into(),
                            nss_nickname(registry),
                            "-i".into(),
                            s(&copy),
                        ],
                        ignore_failure: false,
                    },
                );
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
    let t = Target::System;
    let elevated = machine.platform != Platform::WindowsUser;
    let write = Action::WriteFile {
        path: anchor.clone(),
        contents: ca.pem(),
        mode: 0o644,
        only_replacing: None,
    };
    let run = |argv: &[&str]| Action::Run {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        ignore_failure: false,
    };
    let anchor_s = s(&anchor);
    match machine.platform {
        Platform::Debian | Platform::Suse => {
            plan.push(t, elevated, write);
            plan.push(t, elevated, run(&["update-ca-certificates"]));
        }
        Platform::Fedora => {
            plan.push(t, elevated, write);
            plan.push(t, elevated, run(&["update-ca-trust", "extract"]));
        }
        Platform::Arch => {
            plan.push(
                t,
                elevated,
                Action::CreateDir {
                    path: ARCH_STAGING_DIR.into(),
                    mode: 0o755,
                },
            );
            plan.push(t, elevated, write);
            plan.push(t, elevated, run(&["trust", "anchor", "--store", &anchor_s]));
        }
        Platform::MacOs => {
            plan.push(
                t,
                elevated,
                Action::CreateDir {
                    path: MACOS_DIR.into(),
                    mode: 0o755,
                },
            );
            plan.push(t, elevated, write);
            plan.push(
                t,
                elevated,
                run(&[
                    "security",
                    "add-trusted-cert",
                    "-d",
                    "-r",
                    "trustRoot",
                    "-k",
                    MACOS_KEYCHAIN,
                    &anchor_s,
                ]),
            );
        }
        Platform::Windows => {
            plan.push(
                t,
                elevated,
                Action::CreateDir {
                    path: windows_dir(machine)?,
                    mode: 0o755,
                },
            );
            plan.push(t, elevated, write);
            plan.push(
                t,
                elevated,
                run(&["certutil", "-addstore", "-f", "Root", &anchor_s]),
            );
        }
        Platform::WindowsUser => {
            plan.push(
                t,
                elevated,
                Action::CreateDir {
                    path: windows_dir(machine)?,
                    mode: 0o755,
                },
            );
            plan.push(t, elevated, write);
            plan.push(
                t,
                elevated,
                run(&["certutil", "-user", "-addstore", "-f", "Root", &anchor_s]),
            );
        }
    }
    Ok(())
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
                    plan.push(
                        target,
                        elevated,
                        Action::RemoveFile {
                            path: dir.join("hosts.toml"),
                            only_if_first_line: Some(HOSTS_TOML_TRUST_MARKER.into()),
                        },
                    );
                }
                plan.push(
                    target,
                    elevated,
                    Action::RemoveFile {
                        path: dir.join("ca.crt"),
                        only_if_first_line: None,
                    },
                );
                plan.push(target, elevated, Action::RemoveDirIfEmpty { path: dir });
            }
            Target::Nss => {
                let (Some(db), Some(copy)) = (nss_db(machine), nss_copy(machine, registry)) else {
                    continue;
                };
                plan.push(
                    target,
                    false,
                    Action::Run {
                        argv: vec![
                            "certutil".into(),
                            "-d".into(),
                            format!("sql:{}", db.display()),
                            "-D".into(),
                            "-n".into(),
                            nss_nickname(registry),
                        ],
                        ignore_failure: true,
                    },
                );
                plan.push(
                    target,
                    false,
                    Action::RemoveFile {
                        path: copy.clone(),
                        only_if_first_line: None,
                    },
                );
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
    let t = Target::System;
    let elevated = machine.platform != Platform::WindowsUser;
    let remove = Action::RemoveFile {
        path: anchor.clone(),
        only_if_first_line: None,
    };
    let run = |argv: &[&str], ignore_failure: bool| Action::Run {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        ignore_failure,
    };
    let anchor_s = s(&anchor);
    match machine.platform {
        Platform::Debian | Platform::Suse => {
            plan.push(t, elevated, remove);
            plan.push(
                t,
                elevated,
                run(&["update-ca-certificates", "--fresh"], false),
            );
        }
        Platform::Fedora => {
            plan.push(t, elevated, remove);
            plan.push(t, elevated, run(&["update-ca-trust", "extract"], false));
        }
        Platform::Arch => {
            plan.push(
                t,
                elevated,
                run(&["trust", "anchor", "--remove", &anchor_s], true),
            );
            plan.push(t, elevated, remove);
            plan.push(
                t,
                elevated,
                Action::RemoveDirIfEmpty {
                    path: ARCH_STAGING_DIR.into(),
                },
            );
        }
        Platform::MacOs => {
            plan.push(
                t,
                elevated,
                run(&["security", "remove-trusted-cert", "-d", &anchor_s], true),
            );
            plan.push(
                t,
                elevated,
                run(
                    &[
                        "security",
                        "delete-certificate",
                        "-Z",
                        ca.sha1_thumbprint(),
                        MACOS_KEYCHAIN,
                    ],
                    true,
                ),
            );
            plan.push(t, elevated, remove);
            plan.push(
                t,
                elevated,
                Action::RemoveDirIfEmpty {
                    path: MACOS_DIR.into(),
                },
            );
        }
        Platform::Windows => {
            plan.push(
                t,
                elevated,
                run(&["certutil", "-delstore", "Root", ca.serial_hex()], true),
            );
            plan.push(t, elevated, remove);
            plan.push(
                t,
                elevated,
                Action::RemoveDirIfEmpty {
                    path: windows_dir(machine)?,
                },
            );
        }
        Platform::WindowsUser => {
            plan.push(
                t,
                elevated,
                run(
                    &["certutil", "-user", "-delstore", "Root", ca.serial_hex()],
                    true,
                ),
            );
            plan.push(t, elevated, remove);
            plan.push(
                t,
                elevated,
                Action::RemoveDirIfEmpty {
                    path: windows_dir(machine)?,
                },
            );
        }
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
        for platform in Platform::ALL {
            let m = machine(platform);
            let targets = Target::for_platform(platform);
            let written: Vec<PathBuf> = trust(&m, &reg(), &ca, targets)
                .unwrap()
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::WriteFile { path, .. } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            let undo = untrust(&m, &reg(), &ca, targets).unwrap();
            let removed: Vec<PathBuf> = undo
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::RemoveFile { path, .. } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            for path in &written {
                assert!(
                    removed.contains(path),
                    "{platform}: {} stays",
                    path.display()
                );
            }
            let created: Vec<PathBuf> = trust(&m, &reg(), &ca, targets)
                .unwrap()
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::CreateDir { path, .. } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            for dir in created {
                assert!(
                    undo.steps
                        .iter()
                        .any(|s| s.action == Action::RemoveDirIfEmpty { path: dir.clone() }),
                    "{platform}: {} stays",
                    dir.display()
                );
            }
        }
    }

    #[test]
    fn fedora_suse_arch_system_store() {
        let ca = test_ca();
        let sys = [Target::System];
        let t = |p| lines(&trust(&machine(p), &reg(), &ca, &sys).unwrap());
        let u = |p| lines(&untrust(&machine(p), &reg(), &ca, &sys).unwrap());
        assert_eq!(
            t(Platform::Fedora),
            [
                "# system: write /etc/pki/ca-trust/source/anchors/berth-registry.example.com.crt 644",
                "# system: run update-ca-trust extract",
            ]
        );
        assert_eq!(
            u(Platform::Fedora),
            [
                "# system: rm /etc/pki/ca-trust/source/anchors/berth-registry.example.com.crt",
                "# system: run update-ca-trust extract",
            ]
        );
        assert_eq!(
            t(Platform::Suse),
            [
                "# system: write /etc/pki/trust/anchors/berth-registry.example.com.crt 644",
                "# system: run update-ca-certificates",
            ]
        );
        assert_eq!(
            u(Platform::Suse),
            [
                "# system: rm /etc/pki/trust/anchors/berth-registry.example.com.crt",
                "# system: run update-ca-certificates --fresh",
            ]
        );
        assert_eq!(
            t(Platform::Arch),
            [
                "# system: mkdir /usr/local/share/berth 755",
                "# system: write /usr/local/share/berth/berth-registry.example.com.crt 644",
                "# system: run trust anchor --store /usr/local/share/berth/berth-registry.example.com.crt",
            ]
        );
        assert_eq!(
            u(Platform::Arch),
            [
                "# system: run trust anchor --remove /usr/local/share/berth/berth-registry.example.com.crt (may fail)",
                "# system: rm /usr/local/share/berth/berth-registry.example.com.crt",
                "# system: rmdir /usr/local/share/berth",
            ]
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
        let sys = [Target::System];
        let t = |p| lines(&trust(&machine(p), &reg(), &ca, &sys).unwrap());
        let u = |p| lines(&untrust(&machine(p), &reg(), &ca, &sys).unwrap());
        assert_eq!(
            t(Platform::Windows),
            [
                r"# system: mkdir C:\ProgramData\Berth 755",
                r"# system: write C:\ProgramData\Berth\berth-registry.example.com.crt 644",
                r"# system: run certutil -addstore -f Root C:\ProgramData\Berth\berth-registry.example.com.crt",
            ]
        );
        assert_eq!(
            u(Platform::Windows),
            [
                format!(
                    "# system: run certutil -delstore Root {} (may fail)",
                    ca.serial_hex()
                ),
                r"# system: rm C:\ProgramData\Berth\berth-registry.example.com.crt".into(),
                r"# system: rmdir C:\ProgramData\Berth".into(),
            ]
        );
        assert_eq!(
            t(Platform::WindowsUser),
            [
                r"$ system: mkdir C:\Users\alice\AppData\Local\Berth 755",
                r"$ system: write C:\Users\alice\AppData\Local\Berth\berth-registry.example.com.crt 644",
                r"$ system: run certutil -user -addstore -f Root C:\Users\alice\AppData\Local\Berth\berth-registry.example.com.crt",
            ]
        );
        assert_eq!(
            u(Platform::WindowsUser)[0],
            format!(
                "$ system: run certutil -user -delstore Root {} (may fail)",
                ca.serial_hex()
            )
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
