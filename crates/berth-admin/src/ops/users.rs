//! `usersList`, `userSet`, `userDelete`: the registry's htpasswd users
//! (`auth.htpasswd`), managed from the app. Passwords are hashed with
//! bcrypt and never stored or shown in clear; the file is written whole to
//! a temporary file and renamed into place, readable by its owner only.
//! The running registry reloads the file by itself within a second
//! (no restart); only turning authentication on restarts it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_config::Auth;
use serde::{Deserialize, Serialize};

use crate::Admin;
use crate::error::AdminError;

/// The realm of the htpasswd file the app creates.
const REALM: &str = "Berth registry";

/// bcrypt's cost for new passwords (Distribution and `htpasswd -B` use 10
/// and 5; 10 keeps a login check around 50 ms).
const COST: u32 = 10;

/// What the Users page shows.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Users {
    /// True when the registry requires a login (`auth.htpasswd`).
    pub enabled: bool,
    /// The htpasswd file.
    pub path: Option<String>,
    /// The users, by name.
    pub users: Vec<String>,
    /// Another kind of authentication is configured (token auth): users are
    /// managed there, not here.
    pub other_auth: Option<String>,
    /// True when this change restarted the registry (login turned on).
    pub restarted: bool,
}

/// `userSet`: add a user or change a password.
#[derive(Debug, Deserialize)]
pub struct UserSet {
    /// The user name.
    pub name: String,
    /// The new password.
    pub password: String,
}

/// `userDelete`: remove a user.
#[derive(Debug, Deserialize)]
pub struct UserDelete {
    /// The user name.
    pub name: String,
}

fn htpasswd_path(admin: &Admin) -> Result<Option<PathBuf>, AdminError> {
    match &admin.current().auth {
        None => Ok(None),
        Some(Auth::Htpasswd { path, .. }) => Ok(Some(path.clone())),
        Some(other) => Err(AdminError::invalid_input(
            format!(
                "the registry uses auth.{}, not an htpasswd file: its users are managed there",
                other.name()
            ),
            "to manage users here, switch the configuration to auth.htpasswd on the Configuration page",
        )),
    }
}

/// The `user:hash` entries of `path`, in file order (none if it is missing).
fn read_entries(path: &Path) -> Result<BTreeMap<String, String>, AdminError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(AdminError::internal(
                format!("cannot read the htpasswd file {}: {e}", path.display()),
                "check that the file exists and that this app may read it",
            ));
        }
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(u, h)| (u.to_string(), h.to_string()))
        .collect())
}

/// Writes `entries` as `path`, atomically, owner-only.
fn write_entries(path: &Path, entries: &BTreeMap<String, String>) -> Result<(), AdminError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| {
        AdminError::internal(
            format!("cannot write the htpasswd file {}: {e}", path.display()),
            format!("check that {} exists and is writable", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let text: String = entries.iter().map(|(u, h)| format!("{u}:{h}\n")).collect();
    crate::store::write_atomically(path, text.as_bytes(), Some(0o600)).map_err(fail)
}

fn view(path: Option<&Path>, entries: &BTreeMap<String, String>, restarted: bool) -> Users {
    Users {
        enabled: path.is_some(),
        path: path.map(|p| p.display().to_string()),
        users: entries.keys().cloned().collect(),
        other_auth: None,
        restarted,
    }
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty()
        || name.len() > 255
        || name.contains(':')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AdminError::invalid_input(
            format!("{name:?} is not a usable user name"),
            "use letters, digits and . _ - @ (no spaces or colons)",
        ));
    }
    Ok(())
}

/// `usersList`.
pub(crate) async fn list(admin: &Admin) -> Result<Users, AdminError> {
    let path = match htpasswd_path(admin) {
        Ok(p) => p,
        Err(_) => {
            let other = admin.current().auth.map(|a| a.name().to_string());
            return Ok(Users {
                enabled: false,
                path: None,
                users: Vec::new(),
                other_auth: other,
                restarted: false,
            });
        }
    };
    let entries = match &path {
        Some(p) => read_entries(p)?,
        None => BTreeMap::new(),
    };
    Ok(view(path.as_deref(), &entries, false))
}

/// `userSet`: with no htpasswd configured yet, creates one next to
/// config.yml, turns login on and restarts the registry.
pub(crate) async fn set(admin: &Admin, args: UserSet) -> Result<Users, AdminError> {
    check_name(&args.name)?;
    if args.password.chars().count() < 8 {
        return Err(AdminError::invalid_input(
            "the password is too short",
            "use at least 8 characters",
        ));
    }
    let _change = admin.changes.lock().await;
    let existing = htpasswd_path(admin)?;
    let path = existing
        .clone()
        .unwrap_or_else(|| admin.options.data_dir.join("htpasswd"));
    let password = args.password;
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, COST))
        .await
        .map_err(|e| AdminError::internal(format!("hashing stopped: {e}"), "try again"))?
        .map_err(|e| AdminError::internal(format!("cannot hash the password: {e}"), "try again"))?;
    let created = !path.exists();
    let mut entries = read_entries(&path)?;
    entries.insert(args.name, hash);
    write_entries(&path, &entries)?;
    if existing.is_some() {
        return Ok(view(Some(&path), &entries, false));
    }
    // Login was off: turn it on through the save path every change takes
    // (validate, probe, save, restart, roll back when the registry does not
    // come up); a file this call made goes again when that fails.
    let mut candidate = admin.effective().await?;
    candidate.auth = Some(Auth::Htpasswd {
        realm: REALM.into(),
        path: path.clone(),
    });
    let outcome = match admin.save(candidate).await {
        Ok(outcome) if outcome.saved => outcome,
        failed => {
            if created {
                let _ = std::fs::remove_file(&path);
            }
            return Err(match failed {
                Err(e) => e,
                Ok(outcome) => AdminError::new(
                    crate::error::ErrorCode::ProbeFailed,
                    "login was not turned on: the storage backend did not pass its probe",
                    "fix the storage settings on the Storage page, then add the user again",
                )
                .with_details(serde_json::json!({ "probe": outcome.probe })),
            });
        }
    };
    let restarted = outcome.status.state == crate::State::Running;
    Ok(view(Some(&path), &entries, restarted))
}

/// `userDelete`: refuses to remove the last user (nobody could log in).
pub(crate) async fn delete(admin: &Admin, args: UserDelete) -> Result<Users, AdminError> {
    let _change = admin.changes.lock().await;
    let Some(path) = htpasswd_path(admin)? else {
        return Err(AdminError::invalid_input(
            "the registry has no users: login is off",
            "add a user to turn login on",
        ));
    };
    let mut entries = read_entries(&path)?;
    if entries.remove(&args.name).is_none() {
        return Err(AdminError::new(
            crate::error::ErrorCode::NotFound,
            format!("there is no user {:?}", args.name),
            "reload the Users page",
        ));
    }
    if entries.is_empty() {
        return Err(AdminError::invalid_input(
            format!(
                "{:?} is the last user: without one nobody could log in",
                args.name
            ),
            "add another user first, or turn login off on the Configuration page",
        ));
    }
    write_entries(&path, &entries)?;
    Ok(view(Some(&path), &entries, false))
}
