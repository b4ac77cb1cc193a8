//! The backend probe: can a registry list, write, read back and delete here?
//!
//! Run before a storage setting is saved (the desktop app) and by `berthd
//! check-storage`. Each step is reported on its own, with the backend's own
//! error when it fails; steps after a failure are skipped, except that a
//! probe object that was written is always deleted again, so a failed probe
//! leaves nothing behind. Every step has a time limit, so an unreachable
//! endpoint fails the probe instead of hanging it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;

use crate::StorageDriver;

/// How long one step may take before it counts as failed.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One step of a probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeStep {
    /// `list`, `write`, `read`, `check` or `delete`.
    pub step: &'static str,
    /// What the step does, for people.
    pub description: String,
    /// Passed, failed or skipped.
    pub status: StepStatus,
    /// The backend's own error when it failed; what was found when it passed.
    pub detail: Option<String>,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// The step worked.
    Passed,
    /// The step failed; see the detail.
    Failed,
    /// Not run because an earlier step failed.
    Skipped,
}

/// The outcome of [`probe`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    /// The driver probed.
    pub driver: String,
    /// The probe object's path (relative to the driver's root directory).
    pub object: String,
    /// The steps in order.
    pub steps: Vec<ProbeStep>,
}

impl ProbeReport {
    /// True when every step passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Passed)
    }

    /// The first failed step, if any.
    pub fn failure(&self) -> Option<&ProbeStep> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed)
    }

    /// One line per step, as `berthd check-storage` prints them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let mark = match s.status {
                StepStatus::Passed => "ok  ",
                StepStatus::Failed => "FAIL",
                StepStatus::Skipped => "skip",
            };
            out.push_str(&format!("{mark} {:<6} {}", s.step, s.description));
            if s.status != StepStatus::Skipped {
                out.push_str(&format!(" ({} ms)", s.millis));
            }
            out.push('\n');
            if let Some(d) = &s.detail {
                for line in d.lines() {
                    out.push_str(&format!("            {line}\n"));
                }
            }
        }
        out
    }
}

/// Probes `driver`: lists its root, writes a small object under a unique
/// name, reads it back, checks the bytes, deletes it and checks it is gone.
pub async fn probe(driver: &dyn StorageDriver) -> ProbeReport {
    let object = format!("/berth-probe-{}", uuid::Uuid::new_v4());
    let content = Bytes::from(format!("berth storage probe {object}\n"));
    let mut steps = Vec::new();

    let list = timed("list", "list the root directory".into(), async {
        match driver.list("/").await {
            Ok(children) => Ok(Some(format!("{} entries", children.len()))),
            Err(e) if e.is_not_found() => Ok(Some("empty".to_string())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    let mut failed = list.status == StepStatus::Failed;
    steps.push(list);

    let write = step_unless(failed, "write", format!("write {object}"), async {
        driver
            .put_content(&object, content.clone())
            .await
            .map(|()| None)
            .map_err(|e| e.to_string())
    })
    .await;
    // A write that timed out may still land: clean up whenever it was tried.
    let tried_write = !failed;
    failed |= write.status == StepStatus::Failed;
    steps.push(write);

    let mut read_back = None;
    let read = step_unless(failed, "read", format!("read {object} back"), async {
        let mut stream = driver.reader(&object, 0).await.map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        read_back = Some(got);
        Ok(None)
    })
    .await;
    failed |= read.status == StepStatus::Failed;
    steps.push(read);

    let check = step_unless(
        failed,
        "check",
        "compare what was read with what was written".into(),
        async {
            match &read_back {
                Some(got) if got[..] == content[..] => {
                    Ok(Some(format!("{} bytes match", got.len())))
                }
                Some(got) => Err(format!(
                    "the backend returned different bytes ({} bytes, {} expected): \
                     check for a proxy or gateway rewriting objects",
                    got.len(),
                    content.len()
                )),
                None => Err("nothing was read".to_string()),
            }
        },
    )
    .await;
    failed |= check.status == StepStatus::Failed;
    steps.push(check);

    let delete = step_unless(!tried_write, "delete", format!("delete {object}"), async {
        match driver.delete(&object).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
        match driver.stat(&object).await {
            Err(e) if e.is_not_found() => Ok(None),
            Ok(_) => Err("the object is still there after deleting it".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    steps.push(delete);
    let _ = failed;

    ProbeReport {
        driver: driver.name().to_string(),
        object,
        steps,
    }
}

async fn step_unless(
    skip: bool,
    step: &'static str,
    description: String,
    work: impl Future<Output = Result<Option<String>, String>>,
) -> ProbeStep {
    if skip {
        return ProbeStep {
            step,
            description,
            status: StepStatus::Skipped,
            detail: None,
            millis: 0,
        };
    }
    timed(step, description, work).await
}

async fn timed(
    step: &'static str,
    description: String,
    work: impl Future<Output = Result<Option<String>, String>>,
) -> ProbeStep {
    let start = Instant::now();
    let outcome = match tokio::time::timeout(STEP_TIMEOUT, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "no answer within {} s: check that the endpoint is reachable from this machine",
            STEP_TIMEOUT.as_secs()
        )),
    };
    let millis = start.elapsed().as_millis() as u64;
    match outcome {
        Ok(detail) => ProbeStep {
            step,
            description,
            status: StepStatus::Passed,
            detail,
            millis,
        },
        Err(e) => ProbeStep {
            step,
            description,
            status: StepStatus::Failed,
            detail: Some(e),
            millis,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filesystem::FilesystemDriver;
    use crate::inmemory::InMemoryDriver;

    #[tokio::test]
    async fn a_working_store_passes_every_step_and_keeps_nothing() {
        let driver = InMemoryDriver::new();
        let report = probe(&driver).await;
        assert!(report.passed(), "{}", report.render());
        let names: Vec<_> = report.steps.iter().map(|s| s.step).collect();
        assert_eq!(names, ["list", "write", "read", "check", "delete"]);
        assert!(driver.list("/").await.unwrap_or_default().is_empty());
    }

    #[tokio::test]
    async fn a_store_that_cannot_write_fails_at_write_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        // The driver stages writes in .berth-tmp: a plain file there makes
        // every write fail, for root too.
        let staging = dir.path().join(".berth-tmp");
        std::fs::remove_dir_all(&staging).ok();
        std::fs::write(&staging, "not a directory").unwrap();
        let report = probe(&driver).await;
        assert!(!report.passed());
        let statuses: Vec<_> = report.steps.iter().map(|s| (s.step, s.status)).collect();
        assert_eq!(statuses[0], ("list", StepStatus::Passed));
        assert_eq!(statuses[1], ("write", StepStatus::Failed));
        assert_eq!(statuses[2], ("read", StepStatus::Skipped));
        assert_eq!(statuses[3], ("check", StepStatus::Skipped));
        assert!(
            report.render().contains("FAIL write"),
            "{}",
            report.render()
        );
        assert!(report.failure().unwrap().detail.is_some());
    }
}
