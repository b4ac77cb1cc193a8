//! `credentialsList`, `credentialsSet`, `credentialsDelete`: the secrets in
//! the keychain, by name, never by value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::schema;
use crate::secrets;
use crate::tree::split_path;

/// One secret, as the Credentials page lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    /// The key path, e.g. `storage.s3.secretkey`.
    name: String,
    /// What it is, for people.
    label: String,
    /// The part of the registry that uses it.
    used_by: String,
    /// Whether the saved settings use it.
    active: bool,
    /// Whether the keychain holds a value for it.
    stored: bool,
}

/// Every secret the settings use or the keychain holds.
pub async fn list(admin: &Admin) -> Result<Vec<Credential>, AdminError> {
    let stored = admin.keychain.list().await?;
    let active = secrets::names(&admin.current());
    let mut names: Vec<String> = active.clone();
    for name in &stored {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names
        .into_iter()
        .map(|name| Credential {
            label: label(&name),
            used_by: used_by(&name),
            active: active.contains(&name),
            stored: stored.contains(&name),
            name,
        })
        .collect())
}

fn label(name: &str) -> String {
    let parts = split_path(name);
    if parts.len() == 3
        && parts[0] == "storage"
        && let Some(label) = schema::field_label(&parts[1], &parts[2])
    {
        return label.to_string();
    }
    match name {
        "http.secret" => "HTTP secret (signs upload state)".to_string(),
        "redis.password" => "Redis password".to_string(),
        "storage.gcs.credentials" => "Service account credentials".to_string(),
        _ => name.to_string(),
    }
}

fn used_by(name: &str) -> String {
    let parts = split_path(name);
    match parts.first().map(String::as_str) {
        Some("storage") if parts.len() > 1 => format!("{} storage", parts[1]),
        Some("http") => "the registry's HTTP server".to_string(),
        Some("redis") => "the Redis cache".to_string(),
        Some("notifications") => "notifications".to_string(),
        Some("auth") => "authentication".to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The arguments of `credentialsSet`.
#[derive(Debug, Deserialize)]
pub struct SetArgs {
    name: String,
    value: String,
}

/// The arguments of `credentialsDelete`.
#[derive(Debug, Deserialize)]
pub struct DeleteArgs {
    name: String,
}

/// Replaces a secret. One the saved settings use goes through the same
/// path as a save (probe, restart, roll back on failure).
pub async fn set(admin: &Admin, args: SetArgs) -> Result<Vec<Credential>, AdminError> {
    let name = args.name.trim().to_string();
    let value = args.value.trim().to_string();
    if value.is_empty() {
        let fields = BTreeMap::from([("value".to_string(), "enter the new value".to_string())]);
        return Err(AdminError::invalid_input(
            format!("no value given for {name}"),
            "enter the new value, or delete the credential instead",
        )
        .with_fields(fields));
    }
    let change = admin.changes.lock().await;
    let current = admin.current();
    if !secrets::names(&current).contains(&name) {
        if !looks_like_secret(&name) {
            return Err(AdminError::invalid_input(
                format!("{name} is not a secret setting"),
                "use a secret's key path, e.g. storage.s3.secretkey",
            ));
        }
        admin.keychain.set(&name, &value).await?;
        drop(change);
        return list(admin).await;
    }
    let names = secrets::placeholders(&current);
    let mut stored = admin.keychain.get_many(&names).await?;
    stored.insert(name.clone(), value);
    let candidate = secrets::with_secrets(&current, &stored).map_err(|e| {
        AdminError::invalid_input(
            format!("{name} cannot take this value: {e}"),
            "check the value",
        )
    })?;
    let outcome = admin.save(candidate).await?;
    if !outcome.saved {
        return Err(AdminError::new(
            ErrorCode::ProbeFailed,
            format!("the storage backend does not accept the new {name}; the stored one is kept"),
            "check the value and try again; the probe's steps say what failed",
        )
        .with_details(json!({ "probe": outcome.probe })));
    }
    drop(change);
    list(admin).await
}

/// Whether `name` can be a secret's key path: its last part is a secret key.
fn looks_like_secret(name: &str) -> bool {
    let last = split_path(name)
        .pop()
        .unwrap_or_default()
        .to_ascii_lowercase();
    !name.is_empty()
        && secrets::keychain_name(name) == name
        && (berth_config::SECRET_KEYS.contains(&last.as_str()) || name == "storage.gcs.credentials")
}

/// Deletes a secret the saved settings do not use.
pub async fn delete(admin: &Admin, args: DeleteArgs) -> Result<Vec<Credential>, AdminError> {
    let name = args.name.trim().to_string();
    let change = admin.changes.lock().await;
    if secrets::names(&admin.current()).contains(&name) {
        return Err(AdminError::invalid_input(
            format!("{name} is used by the current settings and cannot be deleted"),
            "change the settings so they no longer use it (or replace its value) first",
        ));
    }
    if admin.keychain.get(&name).await?.is_none() {
        return Err(AdminError::new(
            ErrorCode::NotFound,
            format!("the keychain holds no credential named {name}"),
            "reload the list",
        ));
    }
    admin.keychain.delete(&name).await?;
    drop(change);
    list(admin).await
}
