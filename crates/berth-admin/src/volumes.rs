//! The machine's local volumes: mount points from `/proc/self/mountinfo`,
//! sizes from `statvfs`, pseudo filesystems left out, and which volume
//! holds a given directory (the registry's storage).
//!
//! Figures are those `df` prints: `total` is the filesystem's size, `used`
//! its blocks in use, `free` what an unprivileged writer can still use
//! (`f_bavail`), and `usedPercent` is `used / (used + free)` rounded up, as
//! `df`'s `Use%`. A registry's pushes fail when `free` runs out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Filesystem types that are no volumes to store images on: kernel
/// interfaces, control groups, and read-only images (snaps).
const PSEUDO: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tracefs",
];

/// Memory-backed filesystems: shown only when they hold the registry's
/// storage (then its images vanish at reboot, and the admin should know).
const MEMORY: &[&str] = &["tmpfs"];

/// One mounted volume and its space.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Where it is mounted.
    pub mount_point: String,
    /// The device or source (`/dev/sda1`, `server:/export`, `tmpfs`).
    pub device: String,
    /// The filesystem type (`ext4`, `xfs`, `nfs4`, …).
    pub fs_type: String,
    /// Size in bytes.
    pub total: u64,
    /// Bytes in use.
    pub used: u64,
    /// Bytes still available to the registry (not root-reserved).
    pub free: u64,
    /// `used / (used + free)`, in percent, rounded up (`df`'s `Use%`).
    pub used_percent: u8,
    /// True for the volume holding the registry's storage directory.
    pub holds_registry: bool,
    /// True when mounted read-only.
    pub read_only: bool,
}

impl Volume {
    /// Free space in percent of what is usable (`100 - usedPercent`).
    pub fn free_percent(&self) -> u8 {
        100 - self.used_percent
    }
}

/// A line of `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    /// `major:minor` of the filesystem.
    pub device_id: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
    pub read_only: bool,
}

/// Parses `/proc/self/mountinfo` (see proc(5)); lines that do not parse
/// are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let device_id = fields.get(2)?.to_string();
            let mount_point = PathBuf::from(unescape(fields.get(4)?));
            let options = fields.get(5).copied().unwrap_or("");
            let mut rest = right.split(' ');
            let fs_type = rest.next()?.to_string();
            let source = unescape(rest.next().unwrap_or(""));
            Some(Mount {
                device_id,
                mount_point,
                fs_type,
                source,
                read_only: options.split(',').any(|o| o == "ro"),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount holding `path`: the one with the longest mount point that is
/// an ancestor of it (the last such when mounts stack).
pub(crate) fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if path.starts_with(&m.mount_point)
            && best
                .is_none_or(|b| m.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(m);
        }
    }
    best
}

/// The nearest existing ancestor of `path`, made absolute and with links
/// resolved (a storage directory may not exist before the first push).
pub(crate) fn resolve(path: &Path) -> Option<PathBuf> {
    let mut p = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&p) {
            return Some(real);
        }
        if !p.pop() {
            return None;
        }
    }
}

/// Sizes of the filesystem holding `path`.
pub(crate) fn space(path: &Path) -> std::io::Result<(u64, u64, u64)> {
    let s = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    let unit = s.f_frsize;
    let total = s.f_blocks.saturating_mul(unit);
    let used = s.f_blocks.saturating_sub(s.f_bfree).saturating_mul(unit);
    let free = s.f_bavail.saturating_mul(unit);
    Ok((total, used, free))
}

/// `df`'s `Use%`: `used / (used + free)`, rounded up.
fn used_percent(used: u64, free: u64) -> u8 {
    let usable = used as u128 + free as u128;
    if usable == 0 {
        return 0;
    }
    (((used as u128) * 100).div_ceil(usable)).min(100) as u8
}

/// The machine's volumes, with the one holding `registry_dir` marked.
/// Pseudo filesystems are left out, memory filesystems unless they hold
/// the registry, and a filesystem mounted in several places is listed once
/// (at its shortest mount point, or where the registry's storage is).
pub fn list(registry_dir: Option<&Path>) -> std::io::Result<Vec<Volume>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(from_mounts(&parse_mountinfo(&text), registry_dir))
}

pub(crate) fn from_mounts(mounts: &[Mount], registry_dir: Option<&Path>) -> Vec<Volume> {
    let registry_mount = registry_dir
        .and_then(resolve)
        .and_then(|dir| mount_of(mounts, &dir).cloned());
    // One entry per filesystem.
    let mut chosen: HashMap<&str, &Mount> = HashMap::new();
    for m in mounts {
        let holds = registry_mount.as_ref() == Some(m);
        if PSEUDO.contains(&m.fs_type.as_str()) {
            continue;
        }
        if MEMORY.contains(&m.fs_type.as_str()) && !holds {
            continue;
        }
        match chosen.get(m.device_id.as_str()) {
            Some(prev)
                if registry_mount.as_ref() == Some(*prev)
                    || (!holds
                        && prev.mount_point.as_os_str().len()
                            <= m.mount_point.as_os_str().len()) => {}
            _ => {
                chosen.insert(&m.device_id, m);
            }
        }
    }
    let mut volumes: Vec<Volume> = chosen
        .into_values()
        .filter_map(|m| {
            let (total, used, free) = space(&m.mount_point).ok()?;
            if total == 0 {
                return None;
            }
            Some(Volume {
                mount_point: m.mount_point.display().to_string(),
                device: m.source.clone(),
                fs_type: m.fs_type.clone(),
                total,
                used,
                free,
                used_percent: used_percent(used, free),
                holds_registry: registry_mount.as_ref() == Some(m),
                read_only: m.read_only,
            })
        })
        .collect();
    volumes.sort_by(|a, b| {
        b.holds_registry
            .cmp(&a.holds_registry)
            .then_with(|| a.mount_point.cmp(&b.mount_point))
    });
    volumes
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
28 27 254:0 /srv /mnt/bind rw,relatime - ext4 /dev/vda rw
29 27 8:17 / /media/my\\040disk ro,relatime shared:5 - xfs /dev/sdb1 ro
";

    #[test]
    fn mountinfo_lines_parse() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 6);
        let disk = &mounts[5];
        assert_eq!(disk.mount_point, PathBuf::from("/media/my disk"));
        assert_eq!(disk.fs_type, "xfs");
        assert_eq!(disk.source, "/dev/sdb1");
        assert!(disk.read_only);
        assert_eq!(mounts[3].device_id, "254:0");
        assert!(!mounts[3].read_only);
    }

    #[test]
    fn the_deepest_mount_holds_a_path() {
        let mounts = parse_mountinfo(SAMPLE);
        let m = mount_of(&mounts, Path::new("/media/my disk/registry")).unwrap();
        assert_eq!(m.fs_type, "xfs");
        let m = mount_of(&mounts, Path::new("/var/lib/registry")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/"));
        // A sibling whose name merely starts the same is not inside.
        let m = mount_of(&mounts, Path::new("/devices")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/"));
    }

    #[test]
    fn use_percent_rounds_up_like_df() {
        assert_eq!(used_percent(0, 100), 0);
        assert_eq!(used_percent(1, 1000), 1);
        assert_eq!(used_percent(50, 50), 50);
        assert_eq!(used_percent(100, 0), 100);
        assert_eq!(used_percent(0, 0), 0);
    }
}
