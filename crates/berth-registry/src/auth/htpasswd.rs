//! Basic authentication against an htpasswd file (bcrypt entries, as
//! Distribution accepts), answering with the challenge docker, podman and
//! skopeo expect. [`HtpasswdFile`] loads the file again when it changes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, header};
use sha2::Digest as _;

use crate::error::{ErrorCode, RegistryError};
use crate::reload::Reloading;

/// Users and their bcrypt hashes from an htpasswd file.
pub struct Htpasswd {
    realm: String,
    path: PathBuf,
    users: HashMap<String, String>,
    /// Fingerprints of credentials already verified: bcrypt is deliberately
    /// slow, and clients send credentials with every request.
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Why an htpasswd file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HtpasswdError {
    /// The file could not be read.
    #[error("cannot read htpasswd file {path}: {source}; check auth.htpasswd.path")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not `user:bcrypt-hash`.
    #[error(
        "{path}:{line}: entry for {user:?} is not a bcrypt hash; create entries with `htpasswd -B`"
    )]
    NotBcrypt {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The user on that line.
        user: String,
    },
}

impl Htpasswd {
    /// Loads `path`; an entry that is not bcrypt is an error, as in
    /// Distribution, rather than a user who can never log in.
    pub fn load(realm: &str, path: &Path) -> Result<Htpasswd, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line.split_once(':').unwrap_or((line, ""));
            if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
                return Err(HtpasswdError::NotBcrypt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    user: user.to_string(),
                });
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            realm: realm.to_string(),
            path: path.to_path_buf(),
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file has no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks a request's `Authorization` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, RegistryError> {
        let (user, password) = basic_credentials(headers).ok_or_else(|| {
            self.challenge(
                "authentication required: log in with a user from the registry's htpasswd file",
            )
        })?;
        let fingerprint: [u8; 32] = sha2::Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&fingerprint)
        {
            return Ok(user);
        }
        let ok = off_the_runtime(|| match self.users.get(&user) {
            Some(hash) => bcrypt::verify(&password, hash).unwrap_or(false),
            // As long for a user that does not exist as for a wrong
            // password, so the answer's time does not tell which names exist.
            None => {
                let _ = bcrypt::verify(&password, unknown_user_hash());
                false
            }
        });
        if !ok {
            return Err(self.challenge("invalid username or password"));
        }
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() > 10_000 {
            verified.clear();
        }
        verified.insert(fingerprint);
        Ok(user)
    }

    fn challenge(&self, message: &str) -> RegistryError {
        let value = format!("Basic realm=\"{}\"", self.realm.replace('"', "'"));
        RegistryError::new(ErrorCode::Unauthorized, message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("Basic")),
        )
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// An htpasswd file that is loaded again when it changes on disk: a user
/// added, removed or given a new password counts from the next request
/// (within about a second), without restarting the registry.
pub struct HtpasswdFile {
    inner: Reloading<Htpasswd>,
}

impl HtpasswdFile {
    /// Loads `path` (an error if it is unusable now, as at startup) and
    /// watches it.
    pub fn load(realm: &str, path: &Path) -> Result<HtpasswdFile, HtpasswdError> {
        let (realm, p) = (realm.to_string(), path.to_path_buf());
        let inner = Reloading::new(
            format!("the htpasswd file {}", path.display()),
            vec![path.to_path_buf()],
            move || Htpasswd::load(&realm, &p),
        )?;
        Ok(HtpasswdFile { inner })
    }

    /// The users as the file holds them now.
    pub fn current(&self) -> std::sync::Arc<Htpasswd> {
        self.inner.current()
    }

    /// Checks a request's `Authorization` header against the file as it
    /// is now.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, RegistryError> {
        self.inner.current().authenticate(headers)
    }
}

/// Runs bcrypt (tens of milliseconds of CPU) so that the runtime's other
/// tasks move to other threads meanwhile; in place on a single-threaded
/// runtime, where there is nowhere to move them.
fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// A hash to check unknown users' passwords against, at the cost the Users
/// page writes.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("no such user", 10).unwrap_or_default())
}
