//! `install.sh` and `install.ps1`: the scripts another machine runs to trust
//! a registry's CA, and the one-line commands that fetch and check them.
//!
//! The scripts are rendered from the same plans the executor applies, so a
//! script run with `BERTH_ROOT=DIR` leaves exactly the files the executor
//! leaves under that root. Each embeds the CA and says which it installs
//! (subject and SHA-256 fingerprint).
//!
//! A client that does not trust the CA yet cannot authenticate the registry
//! that serves the script, so the one-liners carry the script's SHA-256 and
//! refuse to run anything that does not match: the admin's copy-paste is
//! the trusted channel, the network is not (see docs/trust.md).

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::address::RegistryAddr;
use crate::cert::Certificate;
use crate::error::Result;
use crate::plan::{self, Step, Target};
use crate::platform::{Machine, OS_RELEASE_IDS, Platform};
use crate::shell::{self, sh_quote};

const LINUX: [Platform; 4] = [
    Platform::Debian,
    Platform::Fedora,
    Platform::Arch,
    Platform::Suse,
];
const CONTAINER_TARGETS: [Target; 3] = [Target::Docker, Target::Containerd, Target::Containers];

/// `install.sh`: a POSIX shell script that installs `ca` for `registry`
/// into the OS trust store (Debian/Ubuntu, Fedora/RHEL, Arch, openSUSE, or
/// macOS's System keychain) and into Docker, containerd and
/// podman/CRI-O/buildah/skopeo when they are installed. Run as root;
/// `BERTH_ROOT=DIR` installs under DIR and runs no commands.
pub fn install_sh(registry: &RegistryAddr, ca: &Certificate) -> Result<String> {
    let auth = registry.authority();
    let mut s = String::new();
    let _ = write!(
        s,
        "#!/bin/sh\n\
         # Trust the CA of the Berth registry {auth} on this machine.\n\
         # CA: {subject}\n\
         # SHA-256 fingerprint: {fp}\n\
         #\n\
         # Installs it into the OS trust store and, when they are installed, into\n\
         # Docker, containerd and podman/CRI-O/buildah/skopeo for {auth}.\n\
         # Run as root (sudo sh install.sh). BERTH_ROOT=DIR installs under DIR\n\
         # instead of / and runs no commands (for tests and images).\n\
         set -eu\n\
         BERTH_ROOT=\"${{BERTH_ROOT:-}}\"\n\
         BERTH_ROOT=\"${{BERTH_ROOT%/}}\"\n",
        subject = ca.info().subject,
        fp = ca.sha256_fingerprint(),
    );
    s.push_str(shell::SH_FUNCTIONS);
    s.push_str(
        r#"berth_present() {
  for berth_p in "$@"; do [ -e "$BERTH_ROOT$berth_p" ] && return 0; done
  return 1
}
if [ -z "$BERTH_ROOT" ] && [ "$(id -u)" != 0 ]; then
  echo "berth: run this as root: sudo sh $0" >&2
  exit 1
fi
"#,
    );
    let _ = writeln!(
        s,
        "echo {}",
        sh_quote(&format!(
            "Installing the CA for {auth}: {} (SHA-256 {})",
            ca.info().subject,
            ca.sha256_fingerprint()
        ))
    );
    // The platform, decided as Platform::detect does.
    s.push_str(
        r#"berth_platform=
if [ -z "$BERTH_ROOT" ] && [ "$(uname -s)" = Darwin ]; then
  berth_platform=macos
else
  berth_ids=
  for berth_f in "$BERTH_ROOT/etc/os-release" "$BERTH_ROOT/usr/lib/os-release"; do
    if [ -r "$berth_f" ]; then
      berth_ids="$(sed -n 's/^ID=//p' "$berth_f") $(sed -n 's/^ID_LIKE=//p' "$berth_f")"
      berth_ids=$(printf '%s' "$berth_ids" | tr -d "\"'" | tr 'A-Z' 'a-z')
      break
    fi
  done
  for berth_id in $berth_ids; do
    case $berth_id in
"#,
    );
    for platform in LINUX {
        let ids: Vec<&str> = OS_RELEASE_IDS
            .iter()
            .filter(|(_, p)| *p == platform)
            .map(|(id, _)| *id)
            .collect();
        let _ = writeln!(
            s,
            "      {}) berth_platform={platform}; break ;;",
            ids.join("|")
        );
    }
    s.push_str("    esac\n  done\nfi\ncase $berth_platform in\n");
    for platform in LINUX.into_iter().chain([Platform::MacOs]) {
        let machine = Machine::new(platform, "/", None);
        let plan = plan::trust(&machine, registry, ca, &[Target::System])?;
        let _ = writeln!(s, "  {platform})");
        push_steps(&mut s, &plan.steps, "    ");
        s.push_str("    ;;\n");
    }
    let _ = writeln!(
        s,
        "  *)\n    echo {} >&2\n    ;;\nesac",
        sh_quote(&format!(
            "berth: unknown system; the OS trust store is left alone. \
             Install the CA by hand from https://{auth}/ca"
        ))
    );
    // Container clients, each when present (Linux only: Docker Desktop on
    // macOS uses the System keychain).
    s.push_str("if [ \"$berth_platform\" != macos ]; then\n");
    let linux = Machine::new(Platform::Debian, "/", None);
    for target in CONTAINER_TARGETS {
        let plan = plan::trust(&linux, registry, ca, &[target])?;
        let probes: Vec<String> = plan::presence_paths(Platform::Debian, target)
            .iter()
            .map(|p| sh_quote(p))
            .collect();
        let _ = writeln!(s, "  if berth_present {}; then", probes.join(" "));
        push_steps(&mut s, &plan.steps, "    ");
        let _ = writeln!(
            s,
            "  else\n    echo {}\n  fi",
            sh_quote(&format!("{}: not installed, skipped", target.label()))
        );
    }
    s.push_str("fi\n");
    let _ = writeln!(
        s,
        "echo {}",
        sh_quote(&format!("Done: this machine now trusts {auth}."))
    );
    Ok(s)
}

fn push_steps(s: &mut String, steps: &[Step], indent: &str) {
    for step in steps {
        s.push_str(indent);
        s.push_str(&shell::sh_step(step));
        s.push('\n');
    }
}

/// `install.ps1`: installs `ca` into the Windows LocalMachine Root store
/// (an elevated PowerShell), or with `-CurrentUser` into the user's own.
/// `$env:BERTH_ROOT` writes under that directory and runs no commands.
pub fn install_ps1(registry: &RegistryAddr, ca: &Certificate) -> Result<String> {
    let auth = registry.authority();
    let mut s = String::new();
    let _ = write!(
        s,
        "# Trust the CA of the Berth registry {auth} on this machine.\n\
         # CA: {subject}\n\
         # SHA-256 fingerprint: {fp}\n\
         #\n\
         # In an elevated PowerShell this installs it for every user (LocalMachine\\Root);\n\
         # with -CurrentUser, for you only (CurrentUser\\Root, no administrator).\n\
         param([switch]$CurrentUser)\n\
         $ErrorActionPreference = 'Stop'\n",
        subject = ca.info().subject,
        fp = ca.sha256_fingerprint(),
    );
    s.push_str(shell::PS_FUNCTIONS);
    let _ = writeln!(
        s,
        "Write-Output {}",
        shell::ps_quote(&format!(
            "Installing the CA for {auth}: {} (SHA-256 {})",
            ca.info().subject,
            ca.sha256_fingerprint()
        ))
    );
    let machine_plan = plan::trust(
        &Machine::new(Platform::Windows, "/", None),
        registry,
        ca,
        &[Target::System],
    )?;
    let user_plan = plan::trust(
        &Machine::new(
            Platform::WindowsUser,
            "/",
            Some(PathBuf::from("%USERPROFILE%")),
        ),
        registry,
        ca,
        &[Target::System],
    )?;
    s.push_str("if ($CurrentUser) {\n");
    for step in &user_plan.steps {
        let _ = writeln!(s, "  {}", shell::ps_step(step));
    }
    s.push_str("} else {\n");
    for step in &machine_plan.steps {
        let _ = writeln!(s, "  {}", shell::ps_step(step));
    }
    s.push_str("}\n");
    let _ = writeln!(
        s,
        "Write-Output {}",
        shell::ps_quote(&format!("Done: this machine now trusts {auth}."))
    );
    Ok(s)
}

/// SHA-256 of a script's bytes, lowercase hex (what `sha256sum` prints).
pub fn script_sha256(script: &str) -> String {
    hex::encode(Sha256::digest(script.as_bytes()))
}

/// Which shell a one-line command is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OneLiner {
    /// Linux: curl, sha256sum, sudo.
    Linux,
    /// macOS: curl, shasum, sudo.
    MacOs,
    /// Windows PowerShell: curl.exe, Get-FileHash.
    PowerShell,
}

/// The command the UI shows for copying to a client: download the script
/// from `base_url` (`https://registry.example.com:5000`, certificate not
/// verified yet), check its SHA-256 against `script`'s, and run it only if
/// it matches.
pub fn one_liner(kind: OneLiner, base_url: &str, script: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let hash = script_sha256(script);
    match kind {
        OneLiner::Linux | OneLiner::MacOs => {
            let check = if kind == OneLiner::Linux {
                "sha256sum -c -"
            } else {
                "shasum -a 256 -c -"
            };
            format!(
                "curl -fsSLk -o berth-install.sh {base}/ca/install.sh && \
                 echo '{hash}  berth-install.sh' | {check} && sudo sh berth-install.sh"
            )
        }
        OneLiner::PowerShell => format!(
            "curl.exe -fsSLk -o berth-install.ps1 {base}/ca/install.ps1; \
             if ((Get-FileHash berth-install.ps1 -Algorithm SHA256).Hash -eq '{upper}') \
             {{ powershell -NoProfile -ExecutionPolicy Bypass -File .\\berth-install.ps1 }} \
             else {{ Write-Error 'berth-install.ps1 does not match the expected SHA-256: not running it' }}",
            upper = hash.to_uppercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::exec::Executor;
    use crate::plan::tests::test_ca;

    fn reg() -> RegistryAddr {
        "registry.example.com:5000".parse().unwrap()
    }

    /// Every file and directory under `root`: path → (mode, contents).
    fn tree(root: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let mode = crate::files::mode_of(&path).unwrap();
                if path.is_dir() {
                    out.insert(rel, (mode, None));
                    stack.push(path);
                } else {
                    out.insert(rel, (mode, Some(std::fs::read(&path).unwrap())));
                }
            }
        }
        out
    }

    fn prepared_root(os_release: &str, dirs: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), os_release).unwrap();
        for d in dirs {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        root
    }

    fn run_sh(script: &str, root: &Path) -> String {
        let file = root.with_extension("install.sh");
        std::fs::write(&file, script).unwrap();
        let out = Command::new("sh")
            .arg(&file)
            .env("BERTH_ROOT", root)
            .output()
            .expect("sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "install.sh failed:\n{text}");
        text
    }

    #[test]
    fn install_sh_writes_what_the_executor_writes() {
        let ca = test_ca();
        let script = install_sh(&reg(), &ca).unwrap();
        let cases: [(&str, &[&str]); 4] = [
            (
                "ID=debian\n",
                &["etc/docker", "etc/containerd", "etc/containers"],
            ),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
                &["etc/containers"],
            ),
            ("ID=arch\n", &["etc/docker"]),
            ("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", &[]),
        ];
        for (os_release, dirs) in cases {
            let by_script = prepared_root(os_release, dirs);
            let by_executor = prepared_root(os_release, dirs);
            let output = run_sh(&script, by_script.path());
            assert!(output.contains("skipped (BERTH_ROOT is set)"), "{output}");

            let machine = Machine::detect(by_executor.path()).unwrap();
            let targets = plan::present_targets(&machine);
            let plan = plan::trust(&machine, &reg(), &ca, &targets).unwrap();
            let report = Executor::new(machine).apply(&plan);
            assert!(report.succeeded(), "{report}");

            let (a, b) = (tree(by_script.path()), tree(by_executor.path()));
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{os_release}"
            );
            for (path, (mode, contents)) in &a {
                let (emode, econtents) = &b[path];
                assert_eq!(contents, econtents, "{path}");
                if contents.is_some() {
                    assert_eq!(mode, emode, "mode of {path}");
                }
            }
            // The OS store's file and one ca.crt per container client.
            let copies = a
                .values()
                .filter(|(_, c)| c.as_deref() == Some(ca.pem().as_bytes()))
                .count();
            assert_eq!(copies, 1 + dirs.len(), "{os_release}: {:?}", a.keys());
        }
    }

    #[test]
    fn install_sh_on_an_unknown_system_still_does_the_clients() {
        let ca = test_ca();
        let root = prepared_root("ID=gentoo\n", &["etc/containers"]);
        let output = run_sh(&install_sh(&reg(), &ca).unwrap(), root.path());
        assert!(output.contains("unknown system"), "{output}");
        assert!(
            root.path()
                .join("etc/containers/certs.d/registry.example.com:5000/ca.crt")
                .exists()
        );
        assert!(
            output.contains("Docker: not installed, skipped"),
            "{output}"
        );
    }

    #[test]
    fn install_sh_refuses_without_root() {
        if crate::exec::is_privileged() {
            return;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(install_sh(&reg(), &test_ca()).unwrap())
            .env_remove("BERTH_ROOT")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("run this as root"));
    }

    #[test]
    fn install_ps1_content() {
        let ca = test_ca();
        let ps = install_ps1(&reg(), &ca).unwrap();
        assert!(ps.contains(&format!(
            "# SHA-256 fingerprint: {}",
            ca.sha256_fingerprint()
        )));
        assert!(ps.contains("param([switch]$CurrentUser)"));
        assert!(ps.contains(
            r"Berth-Run $false @('certutil', '-addstore', '-f', 'Root', 'C:\ProgramData\Berth\berth-registry.example.com.crt')"
        ), "{ps}");
        assert!(ps.contains(
            r"Berth-Run $false @('certutil', '-user', '-addstore', '-f', 'Root', '%USERPROFILE%\AppData\Local\Berth\berth-registry.example.com.crt')"
        ), "{ps}");
        assert!(ps.contains(&format!(
            r"Berth-Write 'C:\ProgramData\Berth\berth-registry.example.com.crt' '{}'",
            ca.pem()
        )));
    }

    #[test]
    fn one_liners_check_the_script_before_running_it() {
        let script = "echo hello\n";
        let hash = script_sha256(script);
        let linux = one_liner(OneLiner::Linux, "https://r.example:5000/", script);
        assert_eq!(
            linux,
            format!(
                "curl -fsSLk -o berth-install.sh https://r.example:5000/ca/install.sh && \
                 echo '{hash}  berth-install.sh' | sha256sum -c - && sudo sh berth-install.sh"
            )
        );
        assert!(one_liner(OneLiner::MacOs, "https://r:1", script).contains("shasum -a 256 -c -"));
        let ps = one_liner(OneLiner::PowerShell, "https://r:1", script);
        assert!(ps.contains(&hash.to_uppercase()));
        assert!(ps.starts_with("curl.exe -fsSLk -o berth-install.ps1 https://r:1/ca/install.ps1;"));

        // The check line accepts the script and refuses anything else.
        let dir = tempfile::tempdir().unwrap();
        let check = |contents: &str| {
            std::fs::write(dir.path().join("berth-install.sh"), contents).unwrap();
            Command::new("sh")
                .arg("-c")
                .arg(format!("echo '{hash}  berth-install.sh' | sha256sum -c -"))
                .current_dir(dir.path())
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(check(script));
        assert!(!check("echo evil\n"));
    }
}
