//! The operations of the admin API, by name (see `docs/admin-api.md`).

mod credentials;
mod registry;
pub(crate) mod status;
mod storage;
mod trust;
mod yaml;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Admin;
use crate::error::{AdminError, ErrorCode};

/// Every operation's name, as `Admin::call` takes it.
pub const OPERATIONS: [&str; 23] = [
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
        "logs" => to_json(registry::logs(admin, parse(op, args)?)),
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
