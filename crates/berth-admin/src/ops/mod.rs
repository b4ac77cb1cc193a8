//! The operations of the admin API, by name (see `docs/admin-api.md`).

mod certificate;
mod credentials;
pub(crate) mod disk;
mod maintenance;
mod registry;
mod repositories;
pub(crate) mod status;
mod storage;
mod trust;
mod users;
mod webhooks;
mod yaml;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Admin;

use crate::error::{AdminError, ErrorCode};
pub(crate) use certificate::spawn_renewal;

/// Every operation's name, as `Admin::call` takes it.
pub const OPERATIONS: &[&str] = &[
    "status",
    "start",
    "stop",
    "restart",
    "logs",
    "storageSchema",
    "storageGet",
    "storageTest",
    "storageSave",
    "iamPolicy",
    "configDownload",
    "configReview",
    "configSave",
    "keychainStatus",
    "credentialsList",
    "credentialsSet",
    "credentialsDelete",
    "trustStatus",
    "trustPlan",
    "trustApply",
    "trustVerify",
    "trustOneLiners",
    "certificateNames",
    "certificateImport",
    "diskVolumes",
    "diskUsage",
    "diskHistory",
    "diskSettings",
    "gcRun",
    "repositories",
    "repositoryTags",
    "manifestGet",
    "deletePreview",
    "tagDelete",
    "manifestDelete",
    "webhooksList",
    "webhookSave",
    "webhookDelete",
    "webhookTest",
    "webhookDeliveries",
    "readOnlySet",
    "registryMetrics",
    "usersList",
    "userSet",
    "userDelete",
    "operations",
];

/// Runs `op` with `args`.
pub async fn dispatch(admin: &Admin, op: &str, args: Value) -> Result<Value, AdminError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    match op {
        "status" => to_json(admin.status()),
        "start" => to_json(registry::start(admin).await?),
        "stop" => to_json(registry::stop(admin).await),
        "restart" => to_json(registry::restart(admin).await?),
        "logs" => to_json(registry::logs(admin, parse(op, args)?).await),
        "storageSchema" => to_json(crate::schema::forms()),
        "storageGet" => to_json(storage::get(admin)),
        "storageTest" => to_json(storage::test(admin, parse(op, args)?).await?),
        "storageSave" => to_json(storage::save(admin, parse(op, args)?).await?),
        "iamPolicy" => to_json(storage::iam_policy(parse(op, args)?)?),
        "configDownload" => to_json(yaml::download(admin, parse(op, args)?).await?),
        "configReview" => to_json(yaml::review(admin, parse(op, args)?).await),
        "configSave" => to_json(yaml::save(admin, parse(op, args)?).await?),
        "keychainStatus" => to_json(admin.keychain.status().await),
        "credentialsList" => to_json(credentials::list(admin).await?),
        "credentialsSet" => to_json(credentials::set(admin, parse(op, args)?).await?),
        "credentialsDelete" => to_json(credentials::delete(admin, parse(op, args)?).await?),
        "trustStatus" => to_json(admin.trust_status()?),
        "trustPlan" => to_json(admin.trust_plan(parse(op, args)?)?),
        "trustApply" => to_json(admin.trust_apply(parse(op, args)?).await?),
        "trustVerify" => to_json(admin.trust_verify().await?),
        "trustOneLiners" => to_json(admin.trust_one_liners()?),
        "certificateNames" => to_json(admin.certificate_names(parse(op, args)?).await?),
        "certificateImport" => to_json(admin.certificate_import(parse(op, args)?).await?),
        "diskVolumes" => to_json(admin.disk_volumes().await?),
        "diskUsage" => to_json(admin.disk_usage(parse(op, args)?).await?),
        "diskHistory" => to_json(admin.disk_history()?),
        "diskSettings" => to_json(admin.disk_settings(parse(op, args)?)?),
        "gcRun" => to_json(admin.gc_run(parse(op, args)?).await?),
        "repositories" => to_json(admin.repositories().await?),
        "repositoryTags" => to_json(admin.repository_tags(parse(op, args)?).await?),
        "manifestGet" => to_json(admin.manifest_get(parse(op, args)?).await?),
        "deletePreview" => to_json(admin.delete_preview(parse(op, args)?).await?),
        "tagDelete" => to_json(admin.tag_delete(parse(op, args)?).await?),
        "manifestDelete" => to_json(admin.manifest_delete(parse(op, args)?).await?),
        "webhooksList" => to_json(webhooks::list(admin).await),
        "webhookSave" => to_json(webhooks::save(admin, parse(op, args)?).await?),
        "webhookDelete" => to_json(webhooks::delete(admin, parse(op, args)?).await?),
        "webhookTest" => to_json(webhooks::test(admin, parse(op, args)?).await?),
        "webhookDeliveries" => to_json(webhooks::deliveries(admin, parse(op, args)?).await?),
        "readOnlySet" => to_json(maintenance::read_only_set(admin, parse(op, args)?).await?),
        "registryMetrics" => to_json(maintenance::registry_metrics(admin).await?),
        "usersList" => to_json(users::list(admin).await?),
        "userSet" => to_json(users::set(admin, parse(op, args)?).await?),
        "userDelete" => to_json(users::delete(admin, parse(op, args)?).await?),
        "operations" => to_json(OPERATIONS),
        _ => Err(AdminError::new(
            ErrorCode::NotFound,
            format!("there is no admin operation named {op:?}"),
            format!("use one of: {}", OPERATIONS.join(", ")),
        )),
    }
}

/// The arguments of `op` as `T`.
fn parse<T: DeserializeOwned>(op: &str, args: Value) -> Result<T, AdminError> {
    serde_json::from_value(args).map_err(|e| {
        AdminError::invalid_input(
            format!("the arguments of {op} are not right: {e}"),
            "see docs/admin-api.md for the arguments each operation takes",
        )
    })
}

fn to_json(value: impl serde::Serialize) -> Result<Value, AdminError> {
    serde_json::to_value(value).map_err(|e| {
        AdminError::internal(
            format!("cannot encode the answer: {e}"),
            "report this as a bug",
        )
    })
}
