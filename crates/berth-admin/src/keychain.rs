//! Secrets in the OS keychain: the freedesktop Secret Service (GNOME
//! Keyring, KWallet, KeePassXC) through `keyring-core` and its zbus store —
//! the crates `keyring` 4 itself uses on Linux. They are used directly
//! rather than through `keyring`'s `v1::Entry`, whose store is a
//! once-per-process global: Berth reconnects when a keychain appears (or
//! comes back) after the app started, and tests can keep their entries
//! apart under a service name of their own.
//!
//! Every entry has the service name (`berth`) and the secret's key path as
//! its user name, and is labelled `Berth: storage.s3.secretkey` in keychain
//! managers such as Seahorse. There is never a plain-text fallback: without
//! a keychain, saving a secret fails with `keychain-unavailable`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring_core::api::CredentialStore;
use serde::Serialize;

use crate::error::{AdminError, ErrorCode};

/// How long one keychain call may take (an unlock prompt counts).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What `keychainStatus` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeychainStatus {
    /// Whether secrets can be kept.
    pub available: bool,
    /// The keychain in use (or looked for).
    pub backend: String,
    /// What was found, in a sentence.
    pub message: String,
    /// How to get a keychain when there is none.
    pub hint: Option<String>,
}

/// The OS keychain, connected on first use and again after a failure.
pub struct Keychain {
    service: String,
    store: Mutex<Option<Arc<CredentialStore>>>,
}

const BACKEND: &str = "Secret Service";

fn unavailable_hint() -> String {
    "Run Berth inside a desktop session (GNOME and KDE start a keychain when you log in), \
     or install one and log in again: `sudo apt install gnome-keyring` (or enable the Secret \
     Service integration of KeePassXC). Berth never writes secrets to disk in plain text."
        .to_string()
}

fn unavailable(detail: &str) -> AdminError {
    AdminError::new(
        ErrorCode::KeychainUnavailable,
        format!(
            "no keychain is available to keep secrets ({BACKEND}: {detail}); nothing was saved"
        ),
        unavailable_hint(),
    )
}

impl Keychain {
    /// A keychain whose entries carry the service name `service` (`berth`).
    pub fn new(service: &str) -> Keychain {
        Keychain {
            service: service.to_string(),
            store: Mutex::new(None),
        }
    }

    fn cached(&self) -> Option<Arc<CredentialStore>> {
        self.store.lock().ok().and_then(|s| s.clone())
    }

    fn forget(&self) {
        if let Ok(mut s) = self.store.lock() {
            *s = None;
        }
    }

    /// Runs `work` against the store on a blocking thread, connecting first
    /// when needed. A connection failure or a broken connection is
    /// `keychain-unavailable`; a broken connection is dropped so that the
    /// next call connects again.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&CredentialStore, &str) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, AdminError> {
        let cached = self.cached();
        let service = self.service.clone();
        let task = tokio::task::spawn_blocking(
            move || -> Result<(Result<T, Failure>, Arc<CredentialStore>), Failure> {
                let store = match cached {
                    Some(store) => store,
                    None => connect().map_err(Failure::Connect)?,
                };
                let result = work(&*store, &service).map_err(Failure::Call);
                Ok((result, store))
            },
        );
        let outcome = tokio::time::timeout(CALL_TIMEOUT, task)
            .await
            .map_err(|_| {
                AdminError::new(
                    ErrorCode::KeychainUnavailable,
                    format!(
                        "the keychain did not answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    ),
                    "unlock the keychain if it asks for its password, then try again",
                )
            })?
            .map_err(|e| Failure::Panicked(e.to_string()));
        let (result, store) = match outcome.and_then(|inner| inner) {
            Ok(pair) => pair,
            Err(f) => return Err(self.failure(f)),
        };
        if let Ok(mut s) = self.store.lock() {
            *s = Some(store);
        }
        result.map_err(|f| self.failure(f))
    }

    fn failure(&self, failure: Failure) -> AdminError {
        match failure {
            Failure::Connect(detail) => unavailable(&detail),
            Failure::Panicked(detail) => {
                AdminError::internal(format!("the keychain call failed: {detail}"), "try again")
            }
            Failure::Call(keyring_core::Error::NoStorageAccess(e)) => AdminError::new(
                ErrorCode::KeychainUnavailable,
                format!("the keychain refused access ({e}); nothing was saved"),
                "unlock your keychain (login keyring) and try again",
            ),
            Failure::Call(keyring_core::Error::PlatformFailure(e)) => {
                self.forget();
                unavailable(&e.to_string())
            }
            Failure::Call(e) => AdminError::internal(
                format!("the keychain answered with an error: {e}"),
                "try again; if it keeps failing, remove Berth's entries with your keychain manager",
            ),
        }
    }

    /// Whether a keychain answers, and what to do when none does.
    pub async fn status(&self) -> KeychainStatus {
        match self.run(|_, _| Ok(())).await {
            Ok(()) => KeychainStatus {
                available: true,
                backend: BACKEND.to_string(),
                message: "Secrets are kept in the Secret Service of this desktop session."
                    .to_string(),
                hint: None,
            },
            Err(e) => KeychainStatus {
                available: false,
                backend: BACKEND.to_string(),
                message: format!(
                    "No keychain is available, so Berth cannot keep storage passwords and keys: {}",
                    e.message
                ),
                hint: Some(e.hint),
            },
        }
    }

    /// The value stored under `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<String>, AdminError> {
        let name = name.to_string();
        self.run(move |store, service| read(store, service, &name))
            .await
    }

    /// The values stored under `names` (those that exist).
    pub async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, AdminError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let names = names.to_vec();
        self.run(move |store, service| {
            let mut out = BTreeMap::new();
            for name in names {
                if let Some(v) = read(store, service, &name)? {
                    out.insert(name, v);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Stores `value` under `name`, replacing what was there.
    pub async fn set(&self, name: &str, value: &str) -> Result<(), AdminError> {
        let (name, value) = (name.to_string(), value.to_string());
        self.run(move |store, service| {
            let label = format!("Berth: {name}");
            let mods = HashMap::from([("label", label.as_str())]);
            store
                .build(service, &name, Some(&mods))?
                .set_password(&value)
        })
        .await
    }

    /// Removes the entry `name`; no error when there is none.
    pub async fn delete(&self, name: &str) -> Result<(), AdminError> {
        let name = name.to_string();
        self.run(move |store, service| {
            match store.build(service, &name, None)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The names of every entry under this service.
    pub async fn list(&self) -> Result<Vec<String>, AdminError> {
        self.run(|store, service| {
            let spec = HashMap::from([("service", service)]);
            let mut names = Vec::new();
            for entry in store.search(&spec)? {
                if let Some(user) = entry.get_attributes()?.remove("username")
                    && !names.contains(&user)
                {
                    names.push(user);
                }
            }
            names.sort();
            Ok(names)
        })
        .await
    }
}

fn read(
    store: &CredentialStore,
    service: &str,
    name: &str,
) -> keyring_core::Result<Option<String>> {
    match store.build(service, name, None)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        // Two entries for one name (made by another tool): the first wins.
        Err(keyring_core::Error::Ambiguous(entries)) => match entries.first() {
            Some(e) => e.get_password().map(Some),
            None => Ok(None),
        },
        Err(e) => Err(e),
    }
}

enum Failure {
    Connect(String),
    Call(keyring_core::Error),
    Panicked(String),
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn connect() -> Result<Arc<CredentialStore>, String> {
    match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn connect() -> Result<Arc<CredentialStore>, String> {
    Err("this build of Berth keeps secrets in the freedesktop Secret Service only".to_string())
}
