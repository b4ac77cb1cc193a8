//! Upkeep of the store while the registry runs: purging uploads abandoned
//! by clients (`storage.maintenance.uploadpurging`).

use std::time::{Duration, SystemTime};

use crate::error::Result;
use crate::{Registry, layout};

/// What a purge removed (or, in a dry run, would remove).
#[derive(Debug, Default)]
pub struct PurgeReport {
    /// `repository/upload-id` of each abandoned upload.
    pub purged: Vec<String>,
    /// Uploads young enough to keep.
    pub kept: usize,
}

impl Registry {
    /// Removes uploads started more than `older_than` ago. The start time
    /// is the upload's `startedat` file (as Distribution writes it), or its
    /// data's modification time when that is missing.
    pub async fn purge_uploads(&self, older_than: Duration, dry_run: bool) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        let now = SystemTime::now();
        for name in self.repositories_with("_uploads").await? {
            let dir = format!("{}/_uploads", layout::repository(&name));
            let Ok(uploads) = self.driver.list(&dir).await else {
                continue;
            };
            for upload in uploads {
                let id = upload.rsplit('/').next().unwrap_or_default().to_string();
                let started = self.upload_started(&name, &id).await;
                let age = started.and_then(|s| now.duration_since(s).ok());
                if age.is_none_or(|a| a <= older_than) {
                    report.kept += 1;
                    continue;
                }
                if !dry_run {
                    match self.driver.delete(&upload).await {
                        Ok(()) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.uploads.forget(&id);
                }
                report.purged.push(format!("{name}/{id}"));
            }
        }
        Ok(report)
    }

    async fn upload_started(&self, name: &str, id: &str) -> Option<SystemTime> {
        if let Ok(text) = self
            .driver
            .get_content(&layout::upload_started_at(name, id))
            .await
            && let Ok(t) = humantime::parse_rfc3339_weak(String::from_utf8_lossy(&text).trim())
        {
            return Some(t);
        }
        let dir = layout::upload_dir(name, id);
        for path in [layout::upload_data(name, id), dir] {
            if let Ok(info) = self.driver.stat(&path).await {
                return Some(info.modified);
            }
        }
        None
    }
}
