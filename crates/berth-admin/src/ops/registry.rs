//! `start`, `stop`, `restart`, `logs`: the sidecar.

use std::time::Duration;

use serde::Deserialize;

use super::status::Status;
use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::logs::{Level, LogPage};

/// The most lines one `logs` call answers.
const MAX_LINES: usize = 2000;

/// Starts the registry (unless it runs healthy already) and waits until it answers.
pub async fn start(admin: &Admin) -> Result<Status, AdminError> {
    let _change = admin.changes.lock().await;
    if admin.sidecar.is_supervised().await
        && admin
            .sidecar
            .wait_healthy(admin.tuning.startup_timeout)
            .await
            .is_ok()
    {
        return Ok(admin.status());
    }
    // Stopped, or crashed and waiting to be restarted: start it now.
    started(admin).await
}

/// Stops the registry.
pub async fn stop(admin: &Admin) -> Status {
    let _change = admin.changes.lock().await;
    admin.sidecar.stop().await;
    admin.status()
}

/// Stops the registry if it runs, then starts it and waits until it answers.
pub async fn restart(admin: &Admin) -> Result<Status, AdminError> {
    let _change = admin.changes.lock().await;
    started(admin).await
}

async fn started(admin: &Admin) -> Result<Status, AdminError> {
    match admin.restart_and_wait().await {
        Ok(()) => Ok(admin.status()),
        Err(reason) => Err(AdminError::new(
            ErrorCode::Sidecar,
            format!("the registry did not start: {reason}"),
            "see the registry log for the reason; it keeps retrying with a growing delay",
        )),
    }
}

/// The arguments of `logs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsArgs {
    /// Lines after this sequence number (the last `limit` lines without it).
    after: Option<u64>,
    /// Only lines this severe or more.
    level: Option<Level>,
    /// At most this many lines (500 by default).
    limit: Option<usize>,
    /// With `after`: when no line follows it yet, wait up to this many
    /// milliseconds (at most 25 s) for one before answering.
    wait_ms: Option<u64>,
}

/// The longest a `logs` call waits for a new line.
const MAX_WAIT: Duration = Duration::from_secs(25);

/// Lines of the sidecar's output.
pub async fn logs(admin: &Admin, args: LogsArgs) -> LogPage {
    let limit = args.limit.unwrap_or(500).clamp(1, MAX_LINES);
    let buffer = admin.sidecar.logs();
    let page = buffer.page(args.after, args.level, limit);
    match (args.after, args.wait_ms) {
        (Some(_), Some(wait)) if page.lines.is_empty() && wait > 0 => {
            let wait = Duration::from_millis(wait).min(MAX_WAIT);
            // Lines below the wanted level end the wait too; the page after
            // them is empty, and the caller simply asks again.
            buffer.wait_after(page.next, wait).await;
            buffer.page(args.after, args.level, limit)
        }
        _ => page,
    }
}
