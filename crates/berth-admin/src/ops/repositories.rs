//! The Repositories page's operations: the running registry's repository
//! browser (`/berth/v1/repositories…` on its admin API) with each
//! repository's share of the store from the usage figures, what a delete
//! would free, and deleting tags and manifests.
//!
//! `repositories`, `repositoryTags`, `manifestGet`, `deletePreview`,
//! `tagDelete`, `manifestDelete`.

use berth_registry::browse::{ManifestDetail, Reclaimable, RepositoryList, TagList};
use berth_registry::usage::UsageStatus;
use serde::{Deserialize, Serialize};

use crate::Admin;
use crate::error::AdminError;

/// One repository as the page lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryView {
    /// Its name.
    pub name: String,
    /// How many tags it has.
    pub tags: u64,
    /// Bytes only it refers to (from the usage figures; null before the
    /// first scan).
    pub unique_bytes: Option<u64>,
    /// Bytes it shares with other repositories.
    pub shared_bytes: Option<u64>,
    /// Both.
    pub total_bytes: Option<u64>,
}

/// The answer of `repositories`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoriesView {
    /// Every repository, by name.
    pub repositories: Vec<RepositoryView>,
    /// Whether tags and manifests may be deleted (`storage.delete.enabled`).
    pub delete_enabled: bool,
    /// Whether the registry refuses changes right now.
    pub read_only: bool,
    /// `host:port` for `docker pull` and `podman pull`.
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NameArgs {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ManifestArgs {
    name: String,
    reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TagArgs {
    name: String,
    tag: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DigestArgs {
    name: String,
    digest: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PreviewArgs {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Percent-encodes a query value (repository names hold `/`, digests `:`).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Admin {
    /// `repositories`: every repository with its tag count and bytes.
    pub(crate) async fn repositories(&self) -> Result<RepositoriesView, AdminError> {
        let api = self.sidecar_api()?;
        let list: RepositoryList = api.get("repositories").await?;
        // Figures when the registry has them; the list does not wait for a scan.
        let usage = api
            .get::<UsageStatus>("usage")
            .await
            .ok()
            .and_then(|s| s.usage);
        let repositories = list
            .repositories
            .into_iter()
            .map(|r| {
                let figures = usage
                    .as_ref()
                    .and_then(|u| u.repositories.iter().find(|u| u.name == r.name));
                RepositoryView {
                    unique_bytes: figures.map(|f| f.unique_bytes),
                    shared_bytes: figures.map(|f| f.shared_bytes),
                    total_bytes: figures.map(|f| f.total_bytes),
                    name: r.name,
                    tags: r.tags,
                }
            })
            .collect();
        Ok(RepositoriesView {
            repositories,
            delete_enabled: list.delete_enabled,
            read_only: list.read_only,
            address: self.status().address,
        })
    }

    /// `repositoryTags`: a repository's tags with digest, type and size.
    pub(crate) async fn repository_tags(&self, args: NameArgs) -> Result<TagList, AdminError> {
        self.sidecar_api()?
            .get(&format!("repositories/tags?name={}", encode(&args.name)))
            .await
    }

    /// `manifestGet`: one manifest by tag or digest, in detail.
    pub(crate) async fn manifest_get(
        &self,
        args: ManifestArgs,
    ) -> Result<ManifestDetail, AdminError> {
        self.sidecar_api()?
            .get(&format!(
                "repositories/manifest?name={}&reference={}",
                encode(&args.name),
                encode(&args.reference)
            ))
            .await
    }

    /// `deletePreview`: what deleting a tag or manifest would let garbage
    /// collection free.
    pub(crate) async fn delete_preview(
        &self,
        args: PreviewArgs,
    ) -> Result<Reclaimable, AdminError> {
        let which = match (&args.tag, &args.digest) {
            (Some(tag), _) => format!("tag={}", encode(tag)),
            (None, Some(digest)) => format!("digest={}", encode(digest)),
            (None, None) => {
                return Err(AdminError::invalid_input(
                    "deletePreview needs a tag or a digest",
                    "pass {\"name\", \"tag\"} or {\"name\", \"digest\"}",
                ));
            }
        };
        self.sidecar_api()?
            .get(&format!(
                "repositories/reclaimable?name={}&{which}",
                encode(&args.name)
            ))
            .await
    }

    /// `tagDelete`: deletes a tag (the manifest stays).
    pub(crate) async fn tag_delete(&self, args: TagArgs) -> Result<serde_json::Value, AdminError> {
        let path = format!(
            "repositories/tag?name={}&tag={}",
            encode(&args.name),
            encode(&args.tag)
        );
        self.delete_through(&path).await
    }

    /// `manifestDelete`: deletes a manifest and every tag pointing at it.
    pub(crate) async fn manifest_delete(
        &self,
        args: DigestArgs,
    ) -> Result<serde_json::Value, AdminError> {
        let path = format!(
            "repositories/manifest?name={}&digest={}",
            encode(&args.name),
            encode(&args.digest)
        );
        self.delete_through(&path).await
    }

    async fn delete_through(&self, path: &str) -> Result<serde_json::Value, AdminError> {
        let answer: serde_json::Value = self
            .sidecar_api()?
            .send(reqwest::Method::DELETE, path, &serde_json::json!({}))
            .await?;
        self.sidecar.logs().push(&format!(
            "note: deleted {} (Repositories page)",
            answer["deleted"].as_str().unwrap_or(path)
        ));
        self.sample_now().await;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("team/app"), "team/app");
        assert_eq!(encode("sha256:ab"), "sha256:ab");
        assert_eq!(encode("a+b c&d"), "a%2Bb%20c%26d");
    }
}
