//! `storageGet`, `storageTest`, `storageSave`, `iamPolicy`: the storage page.

use std::collections::BTreeMap;

use berth_config::{Config, REDACTED};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::form::{self, StorageForm};
use crate::save::{self, ProbeResult, SaveOutcome};
use crate::schema::{self, Kind};

/// The current storage settings, secrets left out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageSettings {
    driver: String,
    values: Map<String, Value>,
    secrets_set: Vec<String>,
}

/// The driver and its settings as saved.
pub fn get(admin: &Admin) -> StorageSettings {
    let config = admin.current();
    let (values, secrets_set) = form::current_values(&config);
    StorageSettings {
        driver: config.storage.driver.name.clone(),
        values,
        secrets_set,
    }
}

/// Probes the store the form describes, changing nothing.
pub async fn test(admin: &Admin, form: StorageForm) -> Result<ProbeResult, AdminError> {
    // Only the storage section matters here: without a keychain, the
    // secrets elsewhere in the file may stay placeholders.
    let base = match admin.effective().await {
        Ok(config) => config,
        Err(e) if e.code == ErrorCode::KeychainUnavailable => admin.current(),
        Err(e) => return Err(e),
    };
    let candidate = from_form(admin, &form, &base).await?;
    save::probe(&candidate.storage.driver).await
}

/// Saves the form's settings when the store passes the probe, and restarts the registry.
pub async fn save(admin: &Admin, form: StorageForm) -> Result<SaveOutcome, AdminError> {
    let _change = admin.changes.lock().await;
    let base = admin.effective().await?;
    let candidate = from_form(admin, &form, &base).await?;
    admin.save(candidate).await
}

/// `base` with the form applied; secret fields the form leaves empty take
/// the keychain's value.
async fn from_form(admin: &Admin, form: &StorageForm, base: &Config) -> Result<Config, AdminError> {
    let empty = |key: &str| {
        form.values
            .get(key)
            .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
    };
    let names: Vec<String> = schema::fields(&form.driver)
        .unwrap_or(&[])
        .iter()
        .filter(|f| f.kind == Kind::Secret && empty(f.key))
        .map(|f| format!("storage.{}.{}", form.driver, f.key))
        .collect();
    let stored = match admin.keychain.get_many(&names).await {
        Ok(stored) => stored,
        // Nothing to reuse; a save that needs the keychain fails later, plainly.
        Err(e) if e.code == ErrorCode::KeychainUnavailable => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let candidate = form::apply(form, base, &stored)?;
    let missing: BTreeMap<String, String> = candidate
        .storage
        .driver
        .parameters
        .iter()
        .filter(|(_, v)| v.as_str() == Some(REDACTED))
        .map(|(k, _)| {
            (
                k.to_string(),
                "no value is stored for this secret (or the keychain is unavailable): enter it"
                    .to_string(),
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(AdminError::invalid_input(
            "a secret setting has no value to use",
            "enter the secret in the form; it will be kept in the OS keychain",
        )
        .with_fields(missing));
    }
    Ok(candidate)
}

/// The arguments of `iamPolicy`.
#[derive(Debug, Deserialize)]
pub struct IamArgs {
    bucket: String,
}

/// What `iamPolicy` answers.
#[derive(Debug, Serialize)]
pub struct IamPolicy {
    policy: String,
}

/// The smallest IAM policy that lets the registry use `bucket` (the s3
/// driver's own, as `berthd iam-policy` prints it).
pub fn iam_policy(args: IamArgs) -> Result<IamPolicy, AdminError> {
    let bucket = args.bucket.trim();
    if let Err(e) = berth_drivers::iam::validate_bucket_name(bucket) {
        let fields = BTreeMap::from([("bucket".to_string(), e.to_string())]);
        return Err(AdminError::invalid_input(
            e.to_string(),
            "enter the S3 bucket's name, not its URL",
        )
        .with_fields(fields));
    }
    Ok(IamPolicy {
        policy: berth_drivers::iam::minimal_policy(bucket),
    })
}
