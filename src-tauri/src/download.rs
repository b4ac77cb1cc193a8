//! Files the UI offers for download (the config.yml). WebKitGTK, the
//! window's engine on Linux, drops `<a download>` clicks on blob URLs
//! (tauri-apps/tauri#2225), so inside the app the UI hands the text to
//! [`save_download`], which saves it where a browser would: the user's
//! Downloads folder, under a name not yet taken.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager};

/// Overrides the Downloads folder (the desktop test points it at a
/// temporary directory).
pub const DOWNLOAD_DIR_ENV: &str = "BERTH_DOWNLOAD_DIR";

/// Saves `contents` as `filename` in the Downloads folder (`name (2).ext`
/// when the name is taken) and returns the path it wrote. The file appears
/// whole or not at all: it is written under a hidden name and renamed.
#[tauri::command]
pub fn save_download(
    handle: AppHandle,
    filename: String,
    contents: String,
) -> Result<String, String> {
    let dir = downloads(&handle)?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "cannot create the Downloads folder {}: {e}; make it writable or set {DOWNLOAD_DIR_ENV}",
            dir.display()
        )
    })?;
    let name = file_name(&filename)?;
    let partial = dir.join(format!(".{name}.part-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&partial)
        .and_then(|mut f| f.write_all(contents.as_bytes()).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("cannot write {}: {e}", partial.display()));
    }
    for n in 1..1000 {
        let target = dir.join(numbered(name, n));
        // A hard link fails when the name is taken, unlike a rename.
        match std::fs::hard_link(&partial, &target) {
            Ok(()) => {
                let _ = std::fs::remove_file(&partial);
                return Ok(target.display().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(format!("cannot save {}: {e}", target.display()));
            }
        }
    }
    let _ = std::fs::remove_file(&partial);
    Err(format!(
        "{} already holds 999 files named like {name}: remove some",
        dir.display()
    ))
}

/// `$BERTH_DOWNLOAD_DIR`, the desktop's Downloads folder, or `~/Downloads`.
fn downloads(handle: &AppHandle) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(DOWNLOAD_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let path = handle.path();
    path.download_dir()
        .or_else(|_| path.home_dir().map(|home| home.join("Downloads")))
        .map_err(|e| format!("cannot find a Downloads folder ({e}); set {DOWNLOAD_DIR_ENV}"))
}

/// The last component of `filename`, when it is a plain file name.
fn file_name(filename: &str) -> Result<&str, String> {
    match Path::new(filename).file_name().and_then(|n| n.to_str()) {
        Some(name) if !name.starts_with('.') && name == filename => Ok(name),
        _ => Err(format!("{filename:?} is not a plain file name")),
    }
}

/// `config.yml`, then `config (2).yml`, `config (3).yml`, …
fn numbered(name: &str, n: u32) -> String {
    if n == 1 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_names_get_a_number_before_the_extension() {
        assert_eq!(numbered("config.yml", 1), "config.yml");
        assert_eq!(numbered("config.yml", 2), "config (2).yml");
        assert_eq!(numbered("README", 3), "README (3)");
    }

    #[test]
    fn only_plain_file_names_are_accepted() {
        assert_eq!(file_name("config.yml"), Ok("config.yml"));
        for bad in ["../x.yml", "/etc/passwd", "a/b.yml", ".hidden", "", ".."] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
    }
}
