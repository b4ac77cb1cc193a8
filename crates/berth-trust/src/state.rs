//! What each client on a machine does with a registry right now: trusts its
//! CA, does not, or is not installed; verifies it or skips verification.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::address::RegistryAddr;
use crate::cert::Certificate;
use crate::insecure::{self, DOCKER_DAEMON_JSON, REGISTRIES_CONF};
use crate::plan::{self, Target, certs_d_dir, nss_db, nss_nickname, system_anchor, target_present};
use crate::platform::{Machine, Platform};

/// Whether a client trusts the registry's CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustState {
    /// What `trust` installs is in place.
    Trusted,
    /// The client is here and does not have the CA.
    NotTrusted,
    /// The client is not installed on this machine.
    NotPresent,
}

/// Whether a client skips verification for the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsecureState {
    /// The registry is in the client's insecure registries.
    Insecure,
    /// The client verifies the registry as usual.
    Verified,
    /// The client is not installed on this machine.
    NotPresent,
}

/// One client's state, for the Trust page and `berthd ca status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetStatus<S> {
    /// The client.
    pub target: Target,
    /// Its name in the UI.
    pub label: &'static str,
    /// Its state.
    pub state: S,
    /// Where that was read from, or why it could not be.
    pub detail: String,
}

impl<S> TargetStatus<S> {
    fn new(target: Target, (state, detail): (S, String)) -> TargetStatus<S> {
        TargetStatus {
            target,
            label: target.label(),
            state,
            detail,
        }
    }
}

/// True when the PEM file at `path` contains `ca`.
pub(crate) fn file_holds(path: &Path, ca: &Certificate) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| Certificate::all_from_pem(&text).ok())
        .is_some_and(|certs| certs.iter().any(|c| c.der() == ca.der()))
}

/// The `*.crt` files of a directory (Docker's and containers' CA files).
pub(crate) fn crt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The CA files containerd uses for a registry: `hosts.toml`'s `ca`
/// (relative paths are relative to the file), else the directory's `*.crt`.
/// `None` when `hosts.toml` skips verification.
pub(crate) fn containerd_ca_files(
    machine: &Machine,
    registry: &RegistryAddr,
) -> Option<Vec<PathBuf>> {
    let hosts = insecure::containerd_hosts_toml(machine, registry);
    let dir = hosts.parent().expect("in a directory").to_path_buf();
    let Ok(text) = std::fs::read_to_string(&hosts) else {
        return Some(crt_files(&dir));
    };
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    if doc.get("skip_verify").and_then(toml_edit::Item::as_bool) == Some(true)
        || doc
            .get("server")
            .and_then(toml_edit::Item::as_str)
            .is_some_and(|s| s.starts_with("http://"))
    {
        return None;
    }
    let paths: Vec<String> = match doc.get("ca") {
        Some(item) if item.is_str() => vec![item.as_str().unwrap_or_default().to_string()],
        Some(item) => item
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Some(
        paths
            .into_iter()
            .map(|p| {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    machine.path(&p)
                } else {
                    dir.join(p)
                }
            })
            .collect(),
    )
}

/// The trust state of every client of the platform for `registry` and `ca`.
///
/// File-based: a client trusts the CA when the file `trust` writes for it
/// holds the CA. On the live machine, macOS and Windows stores and the NSS
/// database are asked with their own tools instead.
pub fn trust_status(
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
) -> Vec<TargetStatus<TrustState>> {
    Target::for_platform(machine.platform)
        .iter()
        .map(|&target| {
            TargetStatus::new(
                target,
                if !target_present(machine, target) {
                    (TrustState::NotPresent, not_present_detail(machine, target))
                } else {
                    trust_of(machine, registry, ca, target)
                },
            )
        })
        .collect()
}

fn not_present_detail(machine: &Machine, target: Target) -> String {
    match target {
        Target::Nss => "no NSS database in the home directory, or certutil (libnss3-tools) \
                        is not installed"
            .into(),
        _ => format!(
            "none of {} exists",
            plan::presence_paths(machine.platform, target).join(", ")
        ),
    }
}

fn yes_no(trusted: bool, detail: String) -> (TrustState, String) {
    let state = if trusted {
        TrustState::Trusted
    } else {
        TrustState::NotTrusted
    };
    (state, detail)
}

fn trust_of(
    machine: &Machine,
    registry: &RegistryAddr,
    ca: &Certificate,
    target: Target,
) -> (TrustState, String) {
    match target {
        Target::System => {
            let Ok(anchor) = system_anchor(machine, registry) else {
                return (TrustState::NotPresent, "no home directory".into());
            };
            if machine.is_live() && cfg!(target_os = "macos") && machine.platform == Platform::MacOs
            {
                let found = command_output(&[
                    "security",
                    "find-certificate",
                    "-a",
                    "-Z",
                    "/Library/Keychains/System.keychain",
                ])
                .is_some_and(|out| out.contains(ca.sha1_thumbprint()));
                return yes_no(found, "the System keychain".into());
            }
            if machine.is_live() && cfg!(windows) && machine.platform.is_windows() {
                let mut argv = vec!["certutil"];
                if machine.platform == Platform::WindowsUser {
                    argv.push("-user");
                }
                argv.extend(["-store", "Root", ca.serial_hex()]);
                let found = command_output(&argv).is_some();
                return yes_no(found, "the Root certificate store".into());
            }
            let path = machine.path(&anchor);
            yes_no(file_holds(&path, ca), anchor.display().to_string())
        }
        Target::Docker | Target::Containers => {
            let Some(dir) = certs_d_dir(machine, target, registry) else {
                return (TrustState::NotPresent, "no home directory".into());
            };
            let held = crt_files(&machine.path(&dir))
                .iter()
                .any(|f| file_holds(f, ca));
            yes_no(held, format!("{}/*.crt", dir.display()))
        }
        Target::Containerd => match containerd_ca_files(machine, registry) {
            None => (
                TrustState::NotTrusted,
                "hosts.toml skips verification (insecure)".into(),
            ),
            Some(files) => {
                let dir = certs_d_dir(machine, target, registry).expect("Linux");
                yes_no(
                    files.iter().any(|f| file_holds(f, ca)),
                    format!("{}/hosts.toml (ca) or *.crt", dir.display()),
                )
            }
        },
        Target::Nss => {
            let db = nss_db(machine).expect("present means a home");
            if machine.is_live() {
                let found = command_output(&[
                    "certutil",
                    "-d",
                    &format!("sql:{}", db.display()),
                    "-L",
                    "-n",
                    &nss_nickname(registry),
                ])
                .is_some();
                yes_no(found, format!("sql:{}", db.display()))
            } else {
                (
                    TrustState::NotTrusted,
                    "certutil is not run under a test root".into(),
                )
            }
        }
    }
}

/// Runs a read-only query; its stdout when it succeeds.
fn command_output(argv: &[&str]) -> Option<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether each container client skips verification for `registry`.
pub fn insecure_status(
    machine: &Machine,
    registry: &RegistryAddr,
) -> Vec<TargetStatus<InsecureState>> {
    let auth = registry.authority();
    insecure::INSECURE_TARGETS
        .iter()
        .filter(|t| Target::for_platform(machine.platform).contains(t))
        .map(|&target| {
            if !machine.platform.is_linux() || !target_present(machine, target) {
                let detail = not_present_detail(machine, target);
                return TargetStatus::new(target, (InsecureState::NotPresent, detail));
            }
            let read = |p: &str| std::fs::read_to_string(machine.path(Path::new(p))).ok();
            let (insecure, file) = match target {
                Target::Docker => (
                    read(DOCKER_DAEMON_JSON)
                        .is_some_and(|t| insecure::daemon_json_is_insecure(&t, &auth)),
                    DOCKER_DAEMON_JSON.to_string(),
                ),
                Target::Containerd => (
                    containerd_ca_files(machine, registry).is_none(),
                    insecure::containerd_hosts_toml(
                        &Machine::new(machine.platform, "/", None),
                        registry,
                    )
                    .display()
                    .to_string(),
                ),
                _ => (
                    read(REGISTRIES_CONF)
                        .is_some_and(|t| insecure::registries_conf_is_insecure(&t, &auth)),
                    REGISTRIES_CONF.to_string(),
                ),
            };
            let state = if insecure {
                InsecureState::Insecure
            } else {
                InsecureState::Verified
            };
            TargetStatus::new(target, (state, file))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Executor;
    use crate::insecure::Transport;
    use crate::plan::tests::test_ca;

    fn debian_root(dirs: &[&str]) -> (tempfile::TempDir, Machine) {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "ID=debian\n").unwrap();
        for d in dirs {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        let m = Machine::detect(root.path()).unwrap();
        (root, m)
    }

    fn states(list: &[TargetStatus<TrustState>]) -> Vec<(Target, TrustState)> {
        list.iter().map(|s| (s.target, s.state)).collect()
    }

    #[test]
    fn trusted_after_trust_and_not_after_untrust() {
        let (_root, m) = debian_root(&["etc/docker", "etc/containers"]);
        let reg: RegistryAddr = "registry.example.com:5000".parse().unwrap();
        let ca = test_ca();
        let before = trust_status(&m, &reg, &ca);
        assert_eq!(
            states(&before)[..4],
            [
                (Target::System, TrustState::NotTrusted),
                (Target::Docker, TrustState::NotTrusted),
                (Target::Containerd, TrustState::NotPresent),
                (Target::Containers, TrustState::NotTrusted),
            ]
        );
        let targets = plan::present_targets(&m);
        let exec = Executor::new(m.clone());
        let report = exec.apply(&plan::trust(&m, &reg, &ca, &targets).unwrap());
        assert!(report.succeeded(), "{report:?}");
        let after = trust_status(&m, &reg, &ca);
        assert_eq!(
            states(&after)[..4],
            [
                (Target::System, TrustState::Trusted),
                (Target::Docker, TrustState::Trusted),
                (Target::Containerd, TrustState::NotPresent),
                (Target::Containers, TrustState::Trusted),
            ]
        );
        // Another CA is not trusted by what was installed.
        let other = test_ca();
        assert!(
            trust_status(&m, &reg, &other)
                .iter()
                .all(|s| s.state != TrustState::Trusted)
        );
        let report = exec.apply(&plan::untrust(&m, &reg, &ca, &targets).unwrap());
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(states(&trust_status(&m, &reg, &ca)), states(&before));
    }

    #[test]
    fn containerd_reads_hosts_toml() {
        let (root, m) = debian_root(&["etc/containerd"]);
        let reg: RegistryAddr = "10.0.0.5:5000".parse().unwrap();
        let ca = test_ca();
        let exec = Executor::new(m.clone());
        exec.apply(&plan::trust(&m, &reg, &ca, &[Target::Containerd]).unwrap());
        let state = |m: &Machine| {
            trust_status(m, &reg, &ca)
                .into_iter()
                .find(|s| s.target == Target::Containerd)
                .unwrap()
                .state
        };
        assert_eq!(state(&m), TrustState::Trusted);
        // A relative `ca` is read relative to hosts.toml.
        let hosts = root
            .path()
            .join("etc/containerd/certs.d/10.0.0.5:5000/hosts.toml");
        std::fs::write(
            &hosts,
            "server = \"https://10.0.0.5:5000\"\nca = \"ca.crt\"\n",
        )
        .unwrap();
        assert_eq!(state(&m), TrustState::Trusted);
        std::fs::write(
            &hosts,
            "server = \"https://10.0.0.5:5000\"\nca = \"other.pem\"\n",
        )
        .unwrap();
        assert_eq!(state(&m), TrustState::NotTrusted);

        // Switching to insecure replaces Berth's hosts.toml; status follows.
        exec.apply(&plan::untrust(&m, &reg, &ca, &[Target::Containerd]).unwrap());
        assert!(hosts.exists(), "a hosts.toml Berth did not write stays");
        std::fs::remove_file(&hosts).unwrap();
        exec.apply(
            &insecure::insecure(&m, &reg, Transport::UnverifiedTls, &[Target::Containerd]).unwrap(),
        );
        assert_eq!(state(&m), TrustState::NotTrusted);
        let ins = insecure_status(&m, &reg);
        assert_eq!(ins[1].target, Target::Containerd);
        assert_eq!(ins[1].state, InsecureState::Insecure);
    }

    #[test]
    fn insecure_round_trip_on_a_root() {
        let (root, m) = debian_root(&["etc/docker", "etc/containerd", "etc/containers"]);
        std::fs::write(
            root.path().join("etc/docker/daemon.json"),
            "{\"debug\":true}",
        )
        .unwrap();
        let reg: RegistryAddr = "registry.example.com:5000".parse().unwrap();
        let st = |m: &Machine| {
            insecure_status(m, &reg)
                .iter()
                .map(|s| s.state)
                .collect::<Vec<_>>()
        };
        assert_eq!(st(&m), [InsecureState::Verified; 3]);
        let exec = Executor::new(m.clone());
        let report = exec.apply(
            &insecure::insecure(&m, &reg, Transport::PlainHttp, &insecure::INSECURE_TARGETS)
                .unwrap(),
        );
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(st(&m), [InsecureState::Insecure; 3]);
        let report = exec.apply(&insecure::secure(&m, &reg, &insecure::INSECURE_TARGETS).unwrap());
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(st(&m), [InsecureState::Verified; 3]);
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/docker/daemon.json")).unwrap(),
            "{\n  \"debug\": true\n}\n"
        );
        assert!(!root.path().join("etc/containers/registries.conf").exists());
        assert!(
            !root
                .path()
                .join("etc/containerd/certs.d/registry.example.com:5000")
                .exists()
        );
    }
}
