//! config.yml in the app's data directory: read, written atomically (a
//! temporary file renamed into place), never holding a secret.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};

use berth_config::Config;

use crate::error::{AdminError, ErrorCode};
use crate::secrets;

/// The file name inside the data directory.
pub const CONFIG_FILE: &str = "config.yml";

/// The registry's config.yml as the app keeps it.
#[derive(Clone, Debug)]
pub struct ConfigStore {
    path: PathBuf,
}

impl ConfigStore {
    /// The store for `data_dir/config.yml`.
    pub fn new(data_dir: &Path) -> ConfigStore {
        ConfigStore {
            path: data_dir.join(CONFIG_FILE),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text and configuration, or `None` when there is no file yet.
    /// The process's `REGISTRY_*` variables are not applied: the file is the
    /// app's settings as saved.
    pub fn read(&self) -> Result<Option<Config>, AdminError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(AdminError::internal(
                    format!("cannot read {}: {e}", self.path.display()),
                    "check the file's permissions",
                ));
            }
        };
        let origin = self.path.display().to_string();
        match Config::parse(&text, &origin, []) {
            Ok(loaded) => Ok(Some(loaded.config)),
            Err(e) => Err(AdminError::new(
                ErrorCode::InvalidConfig,
                format!("the saved registry settings do not load: {e}"),
                format!(
                    "fix {} by hand, or move it away to start again from the default settings",
                    self.path.display()
                ),
            )),
        }
    }

    /// Writes `config` with its secrets replaced by placeholders, atomically.
    pub fn write(&self, config: &Config) -> Result<(), AdminError> {
        let text = secrets::disk_text(config);
        // Defence in depth: what is about to be written must read back with no secret in it.
        let reread = Config::parse(&text, "config.yml", []).map_err(|e| {
            AdminError::internal(
                format!("the settings to save do not read back: {e}"),
                "report this as a bug",
            )
        })?;
        if !secrets::extract(&reread.config).is_empty() {
            return Err(AdminError::internal(
                "refusing to write a secret to config.yml",
                "report this as a bug",
            ));
        }
        self.write_text(&text)
    }

    /// Writes `text` as the file, atomically.
    pub fn write_text(&self, text: &str) -> Result<(), AdminError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let fail = |what: &str, e: std::io::Error| {
            AdminError::internal(
                format!("cannot {what} {}: {e}", self.path.display()),
                format!("check that {} exists and is writable", dir.display()),
            )
        };
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
        write_atomically(&self.path, text.as_bytes(), None).map_err(|e| fail("write", e))
    }
}

/// Writes `bytes` as `path` through a temporary file in the same folder
/// (created readable only by this user, then given `mode` when one is
/// given), flushed and renamed into place, then flushes the folder: a
/// reader sees the old file or the new one, never half of one.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".berth-")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The settings of a first launch: the embedded default (filesystem storage
/// under `registry_data_dir`, deletes on), listening on 127.0.0.1 at
/// `preferred_port` when it is free, else at a port the system picks, so
/// that a registry already on 5000 does not keep the app's from starting.
pub fn first_launch(registry_data_dir: &Path, preferred_port: u16) -> Config {
    let mut config = Config::embedded_default(registry_data_dir);
    config.http.addr = format!("127.0.0.1:{}", free_port(preferred_port));
    config
}

/// `preferred` when it can be bound on 127.0.0.1 now, else one the system picks.
fn free_port(preferred: u16) -> u16 {
    let bind = |port| TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    if preferred != 0 && bind(preferred).is_ok() {
        return preferred;
    }
    bind(0)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(preferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        assert!(store.read().unwrap().is_none());
        let mut config = first_launch(&dir.path().join("registry"), 0);
        config.http.secret = Some("very-secret-value".to_string());
        store.write(&config).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(text.contains("secret: <redacted>"), "{text}");
        let back = store.read().unwrap().unwrap();
        assert_eq!(back.http.addr, config.http.addr);
        // Only config.yml is left: the temporary file was renamed.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CONFIG_FILE]);
    }

    #[test]
    fn a_taken_port_is_not_chosen() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let config = first_launch(Path::new("/tmp/x"), port);
        assert_ne!(config.http.addr, format!("127.0.0.1:{port}"));
        assert!(config.http.addr.starts_with("127.0.0.1:"));
    }
}
