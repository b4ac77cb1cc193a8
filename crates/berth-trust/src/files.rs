//! Writing files so that a reader sees the old contents or the new, never
//! half of one: a temporary file beside the target, flushed, then renamed.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `contents` to `path` with permission bits `mode` (Unix), through
/// a temporary file in the same directory and a rename. The temporary file
/// is created 0600, so a private key is never readable by others, not even
/// for a moment.
pub(crate) fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = staged(path, contents, mode)?;
    tmp.persist(path)
        .map_err(|e| Error::io("cannot write", path, e.error))?;
    Ok(())
}

/// Like [`write_atomically`], but only when `path` does not exist yet;
/// `Ok(false)` when it does (another process won the race).
pub(crate) fn write_new_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<bool> {
    let tmp = staged(path, contents, mode)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("cannot write", path, e.error)),
    }
}

fn staged(path: &Path, contents: &[u8], mode: u32) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".berth-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("cannot create a file in", dir, e))?;
    tmp.write_all(contents)
        .and_then(|()| set_mode(tmp.as_file(), mode))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("cannot write", tmp.path(), e))?;
    Ok(tmp)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `dir` (and missing parents) with `mode` on the directories it
/// creates; existing directories keep theirs.
pub(crate) fn create_dir_all(dir: &Path, mode: u32) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
        .create(dir)
        .map_err(|e| Error::io("cannot create the directory", dir, e))
}

/// The file's contents, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path, e)),
    }
}

/// The permission bits of `path` (0 where there are none).
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        write_atomically(&key, b"secret", 0o600).unwrap();
        write_atomically(&key, b"secret2", 0o600).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"secret2");
        #[cfg(unix)]
        assert_eq!(mode_of(&key), Some(0o600));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary files left behind");
    }

    #[test]
    fn no_clobber_reports_the_loser() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        assert!(write_new_atomically(&f, b"first", 0o644).unwrap());
        assert!(!write_new_atomically(&f, b"second", 0o644).unwrap());
        assert_eq!(std::fs::read(&f).unwrap(), b"first");
    }
}
