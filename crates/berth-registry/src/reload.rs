//! Files the registry re-reads when they change on disk (the htpasswd file,
//! the TLS certificate and key), without a restart.
//!
//! A change is noticed by each file's size, modification time and inode,
//! looked at when the value is used and at most once per
//! [`CHECK_INTERVAL`]: an idle registry does no work, and a busy one makes
//! one `stat` per file per interval. A file that fails to load (half
//! written, a bad edit) is reported in the log and the last good value is
//! kept, so a mistake never locks everyone out or breaks TLS.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often, at most, the files are looked at.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies a version of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    changed: i64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    // The change time too: a file that failed to load because of its mode
    // is tried again after a `chmod`, which changes nothing else.
    #[cfg(unix)]
    let (inode, changed) = (
        std::os::unix::fs::MetadataExt::ino(&meta),
        std::os::unix::fs::MetadataExt::ctime_nsec(&meta)
            + std::os::unix::fs::MetadataExt::ctime(&meta) * 1_000_000_000,
    );
    #[cfg(not(unix))]
    let (inode, changed) = (0, 0);
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
        changed,
    })
}

type Loader<T> = Box<dyn Fn() -> Result<T, String> + Send + Sync>;

struct State<T> {
    current: Arc<T>,
    seen: Vec<Option<Stamp>>,
    checked: Instant,
}

/// A value loaded from files, loaded again when they change.
pub struct Reloading<T> {
    what: String,
    paths: Vec<PathBuf>,
    load: Loader<T>,
    state: Mutex<State<T>>,
}

impl<T> Reloading<T> {
    /// Loads the value once (an error here is the caller's to report, as
    /// at startup) and watches `paths` for changes; `what` names the value
    /// in log lines ("the htpasswd file").
    pub fn new<E: Display>(
        what: impl Into<String>,
        paths: Vec<PathBuf>,
        load: impl Fn() -> Result<T, E> + Send + Sync + 'static,
    ) -> Result<Reloading<T>, E> {
        let seen = paths.iter().map(|p| stamp(p)).collect();
        let current = Arc::new(load()?);
        Ok(Reloading {
            what: what.into(),
            paths,
            load: Box::new(move || load().map_err(|e| e.to_string())),
            state: Mutex::new(State {
                current,
                seen,
                checked: Instant::now(),
            }),
        })
    }

    /// The files watched.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The current value, reloaded first if a file changed.
    pub fn current(&self) -> Arc<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= CHECK_INTERVAL {
            state.checked = Instant::now();
            let now: Vec<_> = self.paths.iter().map(|p| stamp(p)).collect();
            if now != state.seen {
                state.seen = now;
                match (self.load)() {
                    Ok(value) => {
                        state.current = Arc::new(value);
                        tracing::info!("reloaded {} after it changed on disk", self.what);
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "{} changed but cannot be loaded; still using the previous version",
                        self.what
                    ),
                }
            }
        }
        state.current.clone()
    }
}

/// The TLS certificate and key from `http.tls`, reloaded for new
/// handshakes when either file changes (connections already open keep
/// the certificate they started with).
pub struct CertificateFiles {
    inner: Reloading<Arc<CertifiedKey>>,
}

impl CertificateFiles {
    /// Loads `cert` and `key`, failing as [`crate::server::tls_config`]
    /// does when they are unusable.
    pub fn load(cert: &Path, key: &Path) -> Result<CertificateFiles, crate::server::TlsError> {
        let (c, k) = (cert.to_path_buf(), key.to_path_buf());
        let inner = Reloading::new(
            "the TLS certificate (http.tls.certificate and key)",
            vec![c.clone(), k.clone()],
            move || crate::server::certified_key(&c, &k).map(Arc::new),
        )?;
        Ok(CertificateFiles { inner })
    }

    /// The certificate chain served now (leaf first).
    pub fn chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        self.inner.current().cert.clone()
    }
}

impl std::fmt::Debug for CertificateFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateFiles")
            .field("paths", &self.inner.paths())
            .finish()
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.inner.current().as_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_loaded_again_and_a_broken_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        std::fs::write(&path, "1").unwrap();
        let p = path.clone();
        let value = Reloading::new("the value", vec![path.clone()], move || {
            std::fs::read_to_string(&p)?
                .parse::<u32>()
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .unwrap();
        assert_eq!(*value.current(), 1);
        std::fs::write(&path, "22").unwrap();
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(50));
        assert_eq!(*value.current(), 22);
        std::fs::write(&path, "not a number").unwrap();
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(50));
        assert_eq!(
            *value.current(),
            22,
            "a broken file keeps the last good value"
        );
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(50));
        assert_eq!(
            *value.current(),
            22,
            "a missing file keeps the last good value"
        );
    }
}
