//! Which operating system a filesystem root belongs to, and the machine a
//! plan is computed for.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};

/// An operating system family with its own trust store layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Debian, Ubuntu and derivatives: `/usr/local/share/ca-certificates` +
    /// `update-ca-certificates`.
    Debian,
    /// Fedora, RHEL, CentOS, Rocky, Alma, Amazon Linux:
    /// `/etc/pki/ca-trust/source/anchors` + `update-ca-trust`.
    Fedora,
    /// Arch Linux and derivatives: p11-kit's `trust anchor`.
    Arch,
    /// openSUSE and SLES: `/etc/pki/trust/anchors` + `update-ca-certificates`.
    Suse,
    /// macOS: the System keychain (`security add-trusted-cert`).
    MacOs,
    /// Windows, the LocalMachine Root store (needs an administrator).
    Windows,
    /// Windows, the CurrentUser Root store (no administrator).
    WindowsUser,
}

/// `/etc/os-release` `ID` and `ID_LIKE` words and the platform each means.
/// Derivatives name their parent in `ID_LIKE` (Ubuntu: `debian`, Rocky:
/// `rhel centos fedora`, Manjaro: `arch`, Leap: `suse opensuse`).
pub(crate) const OS_RELEASE_IDS: &[(&str, Platform)] = &[
    ("debian", Platform::Debian),
    ("ubuntu", Platform::Debian),
    ("fedora", Platform::Fedora),
    ("rhel", Platform::Fedora),
    ("centos", Platform::Fedora),
    ("amzn", Platform::Fedora),
    ("arch", Platform::Arch),
    ("suse", Platform::Suse),
    ("opensuse", Platform::Suse),
    ("opensuse-leap", Platform::Suse),
    ("opensuse-tumbleweed", Platform::Suse),
    ("sles", Platform::Suse),
];

impl Platform {
    /// Every platform, for listings and tests.
    pub const ALL: [Platform; 7] = [
        Platform::Debian,
        Platform::Fedora,
        Platform::Arch,
        Platform::Suse,
        Platform::MacOs,
        Platform::Windows,
        Platform::WindowsUser,
    ];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Debian => "debian",
            Platform::Fedora => "fedora",
            Platform::Arch => "arch",
            Platform::Suse => "suse",
            Platform::MacOs => "macos",
            Platform::Windows => "windows",
            Platform::WindowsUser => "windows-user",
        }
    }

    /// A Linux distribution.
    pub fn is_linux(self) -> bool {
        matches!(
            self,
            Platform::Debian | Platform::Fedora | Platform::Arch | Platform::Suse
        )
    }

    /// Windows, either store.
    pub fn is_windows(self) -> bool {
        matches!(self, Platform::Windows | Platform::WindowsUser)
    }

    /// The platform an `os-release` text describes: `ID` first, then each
    /// `ID_LIKE` word.
    pub fn from_os_release(text: &str) -> Option<Platform> {
        let field = |key: &str| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches(['"', '\'']).to_ascii_lowercase())
                .next_back()
                .unwrap_or_default()
        };
        let id = field("ID");
        let like = field("ID_LIKE");
        std::iter::once(id.as_str())
            .chain(like.split_whitespace())
            .find_map(|word| {
                OS_RELEASE_IDS
                    .iter()
                    .find(|(known, _)| *known == word)
                    .map(|(_, p)| *p)
            })
    }

    /// The platform of the filesystem at `root`: for `/` on macOS or
    /// Windows, that system; otherwise the Linux distribution named by
    /// `<root>/etc/os-release` (or `<root>/usr/lib/os-release`).
    pub fn detect(root: &Path) -> Result<Platform> {
        if root == Path::new("/") {
            if cfg!(target_os = "macos") {
                return Ok(Platform::MacOs);
            }
            if cfg!(windows) {
                return Ok(Platform::Windows);
            }
        }
        for file in ["etc/os-release", "usr/lib/os-release"] {
            let path = root.join(file);
            if let Some(text) = crate::files::read_optional(&path)? {
                return Platform::from_os_release(&text).ok_or_else(|| Error::UnknownPlatform {
                    root: root.to_path_buf(),
                    reason: format!(
                        "{} names a distribution Berth does not know; pass --platform \
                         (debian, fedora, arch, suse)",
                        path.display()
                    ),
                });
            }
        }
        Err(Error::UnknownPlatform {
            root: root.to_path_buf(),
            reason: "there is no etc/os-release; pass --platform".into(),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::NotSupported(format!(
                    "unknown platform {s:?}; one of: {}",
                    Platform::ALL.map(Platform::as_str).join(", ")
                ))
            })
    }
}

/// The machine a plan is for: its platform, the filesystem root its files
/// live under (`/` for this machine, a temporary directory in tests or for
/// an image being prepared), and the user's home (for per-user stores).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// The operating system.
    pub platform: Platform,
    /// Where `/` of that system is.
    pub root: PathBuf,
    /// The user's home directory as that system sees it (`/home/alice`),
    /// for NSS and Docker Desktop; `None` skips per-user targets.
    pub home: Option<PathBuf>,
}

impl Machine {
    /// A machine description.
    pub fn new(platform: Platform, root: impl Into<PathBuf>, home: Option<PathBuf>) -> Machine {
        Machine {
            platform,
            root: root.into(),
            home,
        }
    }

    /// The machine at `root`, its platform detected, the home taken from
    /// `$HOME` (Windows: `%USERPROFILE%`).
    pub fn detect(root: &Path) -> Result<Machine> {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from);
        Ok(Machine::new(Platform::detect(root)?, root, home))
    }

    /// True when the root is this machine's own `/`: commands may run.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where a path of that system is under the root.
    pub fn path(&self, logical: &Path) -> PathBuf {
        if self.is_live() {
            return logical.to_path_buf();
        }
        let relative: PathBuf = logical
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        self.root.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_ids_and_likes() {
        let cases = [
            ("ID=debian\nVERSION_ID=\"12\"", Platform::Debian),
            ("ID=ubuntu\nID_LIKE=debian", Platform::Debian),
            ("ID=linuxmint\nID_LIKE=\"ubuntu debian\"", Platform::Debian),
            ("ID=fedora", Platform::Fedora),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"",
                Platform::Fedora,
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"",
                Platform::Fedora,
            ),
            ("ID=arch", Platform::Arch),
            ("ID=manjaro\nID_LIKE=arch", Platform::Arch),
            (
                "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"",
                Platform::Suse,
            ),
            ("ID=\"sles\"\nID_LIKE=\"suse\"", Platform::Suse),
        ];
        for (text, want) in cases {
            assert_eq!(Platform::from_os_release(text), Some(want), "{text}");
        }
        assert_eq!(Platform::from_os_release("ID=gentoo"), None);
        assert_eq!(Platform::from_os_release(""), None);
    }

    #[test]
    fn detect_reads_the_roots_os_release() {
        let root = tempfile::tempdir().unwrap();
        assert!(Platform::detect(root.path()).is_err());
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(root.path().join("usr/lib/os-release"), "ID=arch\n").unwrap();
        assert_eq!(Platform::detect(root.path()).unwrap(), Platform::Arch);
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "ID=gentoo\n").unwrap();
        let err = Platform::detect(root.path()).unwrap_err().to_string();
        assert!(err.contains("--platform"), "{err}");
    }

    #[test]
    fn paths_map_under_the_root() {
        let m = Machine::new(Platform::Debian, "/tmp/r", None);
        assert_eq!(
            m.path(Path::new("/etc/docker/certs.d/h:1/ca.crt")),
            Path::new("/tmp/r/etc/docker/certs.d/h:1/ca.crt")
        );
        let live = Machine::new(Platform::Debian, "/", None);
        assert!(live.is_live());
        assert_eq!(live.path(Path::new("/etc/x")), Path::new("/etc/x"));
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
    }
}
