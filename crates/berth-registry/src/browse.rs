//! The repository browser of the debug listener's admin API: repositories,
//! their tags, one manifest in detail (platforms of an index, layers with
//! sizes, the config's created date, referrers such as signatures and
//! SBOMs), and deleting a tag or a manifest (only with
//! `storage.delete.enabled`).
//!
//! Routes (repository names hold slashes, so they travel in the query):
//!
//! - `GET    /berth/v1/repositories` → [`RepositoryList`]
//! - `GET    /berth/v1/repositories/tags?name=N` → [`TagList`]
//! - `GET    /berth/v1/repositories/manifest?name=N&reference=R` → [`ManifestDetail`]
//! - `GET    /berth/v1/repositories/reclaimable?name=N&tag=T|digest=D` → [`Reclaimable`]
//! - `DELETE /berth/v1/repositories/tag?name=N&tag=T` → `{"deleted": …}`
//! - `DELETE /berth/v1/repositories/manifest?name=N&digest=D` → `{"deleted": …}`
//!
//! Everything goes through the registry's own services, the same ones the
//! `/v2/` API uses.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Registry;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::manifests::{Accept, Manifest};
use crate::reference::{Digest, Reference, check_name, check_tag};

/// How many repositories or tags are looked at concurrently.
const CONCURRENCY: usize = 16;

/// Config blobs larger than this are not read for their created date.
const MAX_CONFIG_READ: u64 = 4 * 1024 * 1024;

/// Every repository, with its tag count.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryList {
    /// Repositories, by name.
    pub repositories: Vec<RepositorySummary>,
    /// Whether tags and manifests may be deleted (`storage.delete.enabled`).
    pub delete_enabled: bool,
    /// Whether the registry refuses changes right now (read-only mode).
    pub read_only: bool,
}

/// One repository in the list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RepositorySummary {
    /// The repository's name.
    pub name: String,
    /// How many tags it has.
    pub tags: u64,
}

/// A repository's tags.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TagList {
    /// The repository.
    pub name: String,
    /// Its tags, sorted.
    pub tags: Vec<TagSummary>,
    /// Whether tags and manifests may be deleted.
    pub delete_enabled: bool,
}

/// One tag and what it points at.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TagSummary {
    /// The tag.
    pub tag: String,
    /// The manifest's digest.
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// Platforms (`os/arch[/variant]`) of an index; empty for an image.
    pub platforms: Vec<String>,
    /// Bytes of the manifest and everything it refers to, each blob once,
    /// as the manifests declare them.
    pub bytes: u64,
    /// The image config's `created`, when there is one.
    pub created: Option<String>,
}

/// One manifest in detail.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDetail {
    /// The repository.
    pub name: String,
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// `artifactType`, or the config's media type for an image.
    pub artifact_type: Option<String>,
    /// Bytes of the manifest itself.
    pub size: u64,
    /// Bytes of the manifest and everything it refers to, each blob once.
    pub total_bytes: u64,
    /// Tags pointing at it.
    pub tags: Vec<String>,
    /// The manifest it refers to (`subject`), when it is a referrer.
    pub subject: Option<String>,
    /// Its annotations.
    pub annotations: Option<Value>,
    /// The images of an index, one per platform.
    pub platforms: Vec<PlatformEntry>,
    /// The config blob of an image.
    pub config: Option<ConfigEntry>,
    /// The layers (or an artifact's blobs), base first.
    pub layers: Vec<LayerEntry>,
    /// Manifests whose subject is this one: signatures, SBOMs, attestations.
    pub referrers: Vec<ReferrerEntry>,
    /// The manifest as stored.
    pub raw: Value,
}

/// An image of an index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    /// `os/architecture[/variant]`, or `unknown`.
    pub platform: String,
    /// The image manifest's digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Bytes of the image (manifest, config and layers).
    pub bytes: u64,
}

/// An image's config blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEntry {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// `created` (RFC 3339), when the config says.
    pub created: Option<String>,
    /// `os/architecture[/variant]`, when the config says.
    pub platform: Option<String>,
}

/// A layer (or an artifact's blob).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LayerEntry {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// True for a foreign layer (`urls`): not stored in this registry.
    pub foreign: bool,
}

/// A manifest referring to another (`subject`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerEntry {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its artifact type (e.g. a signature or an SBOM format).
    pub artifact_type: Option<String>,
    /// Bytes of the manifest.
    pub size: u64,
    /// Its annotations.
    pub annotations: Option<Value>,
}

/// The browser's routes, for the debug listener's admin API.
pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/berth/v1/repositories", get(list_repositories))
        .route("/berth/v1/repositories/tags", get(list_tags))
        .route(
            "/berth/v1/repositories/manifest",
            get(get_manifest).delete(delete_manifest),
        )
        .route(
            "/berth/v1/repositories/tag",
            axum::routing::delete(delete_tag),
        )
        .route("/berth/v1/repositories/reclaimable", get(get_reclaimable))
}

#[derive(Deserialize)]
struct ReclaimableQuery {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// What deleting a tag or a manifest would let garbage collection free.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Reclaimable {
    /// The manifest that would go (or become untagged).
    pub digest: String,
    /// Bytes referred to by it alone (its blobs and manifests that no
    /// other manifest of any repository refers to).
    pub bytes: u64,
    /// How many blobs those are.
    pub blobs: u64,
    /// For a tag: other tags of the repository still point at the manifest,
    /// so deleting this one frees nothing.
    pub still_tagged: bool,
    /// For a tag: the bytes are freed only by a garbage collection that
    /// deletes untagged manifests (the manifest stays until then).
    pub needs_untagged_collection: bool,
}

async fn get_reclaimable(
    State(registry): State<Arc<Registry>>,
    Query(q): Query<ReclaimableQuery>,
) -> Response {
    answer(
        registry
            .browse_reclaimable(&q.name, q.tag.as_deref(), q.digest.as_deref())
            .await,
    )
}

#[derive(Deserialize)]
struct NameQuery {
    name: String,
}

#[derive(Deserialize)]
struct ManifestQuery {
    name: String,
    reference: String,
}

#[derive(Deserialize)]
struct TagQuery {
    name: String,
    tag: String,
}

#[derive(Deserialize)]
struct DigestQuery {
    name: String,
    digest: String,
}

fn answer<T: Serialize>(result: Result<T>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_repositories(State(registry): State<Arc<Registry>>) -> Response {
    answer(registry.browse_repositories().await)
}

async fn list_tags(State(registry): State<Arc<Registry>>, Query(q): Query<NameQuery>) -> Response {
    answer(registry.browse_tags(&q.name).await)
}

async fn get_manifest(
    State(registry): State<Arc<Registry>>,
    Query(q): Query<ManifestQuery>,
) -> Response {
    answer(registry.browse_manifest(&q.name, &q.reference).await)
}

// Deletes made here notify the webhooks as the same deletes through
// `/v2/` do (the request that reaches them is the app's).
async fn delete_tag(
    State(registry): State<Arc<Registry>>,
    parts: http::request::Parts,
    Query(q): Query<TagQuery>,
) -> Response {
    let result = async {
        check_name(&q.name)?;
        check_tag(&q.tag)?;
        deletes_allowed(&registry)?;
        registry
            .delete_manifest(&q.name, &Reference::Tag(q.tag.clone()))
            .await?;
        let target = crate::events::delete_target(&q.name, None, Some(&q.tag));
        registry
            .notify(&parts, crate::events::Action::Delete, target)
            .await;
        Ok(serde_json::json!({ "deleted": format!("{}:{}", q.name, q.tag) }))
    }
    .await;
    answer(result)
}

async fn delete_manifest(
    State(registry): State<Arc<Registry>>,
    parts: http::request::Parts,
    Query(q): Query<DigestQuery>,
) -> Response {
    let result = async {
        check_name(&q.name)?;
        let digest = Digest::parse(&q.digest)?;
        deletes_allowed(&registry)?;
        registry
            .delete_manifest(&q.name, &Reference::Digest(digest.clone()))
            .await?;
        let target = crate::events::delete_target(&q.name, Some(&digest), None);
        registry
            .notify(&parts, crate::events::Action::Delete, target)
            .await;
        Ok(serde_json::json!({ "deleted": format!("{}@{digest}", q.name) }))
    }
    .await;
    answer(result)
}

/// Deletes need `storage.delete.enabled` and a registry that is not
/// read-only; the refusal says how to allow them.
fn deletes_allowed(registry: &Registry) -> Result<()> {
    if !registry.settings.delete_enabled {
        return Err(RegistryError::new(
            ErrorCode::Unsupported,
            "deletes are disabled on this registry",
        )
        .with_detail(Value::String(
            "set storage.delete.enabled: true in config.yml (Configuration page) and restart the registry"
                .to_string(),
        )));
    }
    if registry.is_read_only() {
        return Err(RegistryError::new(
            ErrorCode::Denied,
            "the registry is read-only right now and refuses deletes",
        )
        .with_detail(Value::String(
            "turn read-only mode off, then try again".to_string(),
        )));
    }
    Ok(())
}

/// A descriptor's fields as the browser shows them.
struct Described {
    digest: String,
    media_type: String,
    size: u64,
    foreign: bool,
    platform: Option<String>,
}

fn described(value: &Value) -> Option<Described> {
    let digest = value.get("digest")?.as_str()?.to_string();
    let platform = value.get("platform").and_then(platform_of);
    Some(Described {
        digest,
        media_type: value
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        size: value.get("size").and_then(Value::as_u64).unwrap_or(0),
        foreign: value
            .get("urls")
            .and_then(Value::as_array)
            .is_some_and(|u| !u.is_empty()),
        platform,
    })
}

/// `os/architecture[/variant]` from a platform object or an image config.
fn platform_of(value: &Value) -> Option<String> {
    let os = value.get("os")?.as_str()?;
    let arch = value.get("architecture")?.as_str()?;
    Some(match value.get("variant").and_then(Value::as_str) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    })
}

fn descriptors(json: &Value, field: &str) -> Vec<Described> {
    json.get(field)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(described).collect())
        .unwrap_or_default()
}

impl Registry {
    /// Every repository with its tag count.
    pub async fn browse_repositories(&self) -> Result<RepositoryList> {
        let names = self.repositories().await?;
        let repositories = futures::stream::iter(names)
            .map(|name| async move {
                let tags = match self.tags(&name).await {
                    Ok(t) => t.len() as u64,
                    Err(e) if e.code() == ErrorCode::NameUnknown => 0,
                    Err(e) => return Err(e),
                };
                Ok(RepositorySummary { name, tags })
            })
            .buffered(CONCURRENCY)
            .collect::<Vec<Result<RepositorySummary>>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(RepositoryList {
            repositories,
            delete_enabled: self.settings.delete_enabled,
            read_only: self.is_read_only(),
        })
    }

    /// A repository's tags, each with its manifest's digest, type, platforms
    /// and size.
    pub async fn browse_tags(&self, name: &str) -> Result<TagList> {
        check_name(name)?;
        let tags = match self.tags(name).await {
            Ok(t) => t,
            // A repository whose last tag was deleted still exists.
            Err(e) if e.code() == ErrorCode::NameUnknown && self.has_repository(name).await? => {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let tags = futures::stream::iter(tags)
            .map(|tag| async move {
                let manifest = match self
                    .get_manifest(name, &Reference::Tag(tag.clone()), &all())
                    .await
                {
                    Ok(m) => m,
                    // Deleted between the listing and now.
                    Err(e) if e.code() == ErrorCode::ManifestUnknown => return Ok(None),
                    Err(e) => return Err(e),
                };
                let json = body_json(&manifest);
                let platforms = descriptors(&json, "manifests")
                    .into_iter()
                    .map(|d| d.platform.unwrap_or_else(|| "unknown".to_string()))
                    .collect();
                let created = match json.get("config").and_then(described) {
                    Some(config) => self.config_facts(&config).await.0,
                    None => None,
                };
                Ok(Some(TagSummary {
                    tag,
                    digest: manifest.digest.to_string(),
                    media_type: manifest.media_type.clone(),
                    platforms,
                    bytes: self.image_bytes(name, &manifest).await?,
                    created,
                }))
            })
            .buffered(CONCURRENCY)
            .collect::<Vec<Result<Option<TagSummary>>>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        Ok(TagList {
            name: name.to_string(),
            tags,
            delete_enabled: self.settings.delete_enabled,
        })
    }

    /// One manifest (by tag or digest) in detail.
    pub async fn browse_manifest(&self, name: &str, reference: &str) -> Result<ManifestDetail> {
        check_name(name)?;
        let reference = Reference::parse(reference)?;
        let manifest = self.get_manifest(name, &reference, &all()).await?;
        let json = body_json(&manifest);
        let mut platforms = Vec::new();
        for child in descriptors(&json, "manifests") {
            let bytes = match Digest::parse(&child.digest) {
                Ok(d) => match self.get_manifest(name, &Reference::Digest(d), &all()).await {
                    Ok(m) => self.image_bytes(name, &m).await?,
                    Err(_) => child.size,
                },
                Err(_) => child.size,
            };
            platforms.push(PlatformEntry {
                platform: child.platform.unwrap_or_else(|| "unknown".to_string()),
                digest: child.digest,
                media_type: child.media_type,
                bytes,
            });
        }
        let config = match json.get("config").and_then(described) {
            Some(c) => {
                let (created, platform) = self.config_facts(&c).await;
                Some(ConfigEntry {
                    digest: c.digest,
                    media_type: c.media_type,
                    size: c.size,
                    created,
                    platform,
                })
            }
            None => None,
        };
        let layer_field = if json.get("layers").is_some() {
            "layers"
        } else {
            "blobs"
        };
        let layers = descriptors(&json, layer_field)
            .into_iter()
            .map(|l| LayerEntry {
                digest: l.digest,
                media_type: l.media_type,
                size: l.size,
                foreign: l.foreign,
            })
            .collect();
        let mut tags = Vec::new();
        for tag in self.tags(name).await.unwrap_or_default() {
            if self.resolve_tag(name, &tag).await?.as_ref() == Some(&manifest.digest) {
                tags.push(tag);
            }
        }
        let referrers = self
            .referrers(name, &manifest.digest, None)
            .await?
            .into_iter()
            .map(|r| ReferrerEntry {
                digest: r["digest"].as_str().unwrap_or_default().to_string(),
                media_type: r["mediaType"].as_str().unwrap_or_default().to_string(),
                artifact_type: r["artifactType"].as_str().map(str::to_string),
                size: r["size"].as_u64().unwrap_or(0),
                annotations: r.get("annotations").cloned(),
            })
            .collect();
        Ok(ManifestDetail {
            name: name.to_string(),
            digest: manifest.digest.to_string(),
            media_type: manifest.media_type.clone(),
            artifact_type: manifest.artifact_type.clone(),
            size: manifest.body.len() as u64,
            total_bytes: self.image_bytes(name, &manifest).await?,
            tags,
            subject: manifest.subject.as_ref().map(ToString::to_string),
            annotations: manifest.annotations.clone(),
            platforms,
            config,
            layers,
            referrers,
            raw: json,
        })
    }

    /// What deleting `tag` (or the manifest `digest`) of `name` would let
    /// garbage collection free: the blobs of that manifest that no other
    /// manifest revision of any repository refers to.
    pub async fn browse_reclaimable(
        &self,
        name: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Reclaimable> {
        check_name(name)?;
        let (target, still_tagged) = match (tag, digest) {
            (Some(tag), _) => {
                check_tag(tag)?;
                let Some(d) = self.resolve_tag(name, tag).await? else {
                    return Err(RegistryError::new(
                        ErrorCode::ManifestUnknown,
                        format!("tag {tag} is not in repository {name}"),
                    ));
                };
                let mut others = false;
                for t in self.tags(name).await.unwrap_or_default() {
                    if t != tag && self.resolve_tag(name, &t).await?.as_ref() == Some(&d) {
                        others = true;
                    }
                }
                (d, others)
            }
            (None, Some(d)) => (Digest::parse(d)?, false),
            (None, None) => {
                return Err(RegistryError::new(
                    ErrorCode::Unsupported,
                    "say which tag or digest would be deleted",
                ));
            }
        };
        // From what the store holds (the kept usage snapshot): every
        // manifest revision of every repository but this one, and the
        // blobs' stored sizes, as garbage collection will see them.
        let snapshot = self.store_snapshot().await?;
        let mut mine = HashSet::new();
        crate::usage::closure(&snapshot, &target, &mut mine);
        let mut others = HashSet::new();
        if !still_tagged {
            for (repository, entry) in &snapshot.repositories {
                for revision in &entry.revisions {
                    if repository != name || *revision != target {
                        crate::usage::closure(&snapshot, revision, &mut others);
                    }
                }
            }
        }
        let (mut bytes, mut blobs) = (0, 0);
        if !still_tagged {
            for d in mine.difference(&others) {
                if let Some(blob) = snapshot.blobs.get(d) {
                    bytes += blob.size;
                    blobs += 1;
                }
            }
        }
        Ok(Reclaimable {
            digest: target.to_string(),
            bytes,
            blobs,
            still_tagged,
            needs_untagged_collection: tag.is_some(),
        })
    }

    /// Whether `name` is a repository (it has linked blobs), tags or not.
    async fn has_repository(&self, name: &str) -> Result<bool> {
        match self
            .driver
            .list(&format!("{}/_layers", crate::layout::repository(name)))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes of a manifest and everything it refers to (an index's images
    /// too), each blob once, by the sizes the manifests declare.
    async fn image_bytes(&self, name: &str, manifest: &Manifest) -> Result<u64> {
        let mut seen = HashSet::new();
        let mut total = 0;
        let mut stack = vec![(
            manifest.digest.to_string(),
            body_json(manifest),
            manifest.body.len() as u64,
        )];
        while let Some((digest, json, size)) = stack.pop() {
            if !seen.insert(digest) {
                continue;
            }
            total += size;
            let blobs = json
                .get("config")
                .and_then(described)
                .into_iter()
                .chain(descriptors(&json, "layers"))
                .chain(descriptors(&json, "blobs"));
            for blob in blobs.filter(|b| !b.foreign) {
                if seen.insert(blob.digest) {
                    total += blob.size;
                }
            }
            for child in descriptors(&json, "manifests") {
                let Ok(d) = Digest::parse(&child.digest) else {
                    continue;
                };
                match self.get_manifest(name, &Reference::Digest(d), &all()).await {
                    Ok(m) => stack.push((child.digest, body_json(&m), m.body.len() as u64)),
                    Err(e) if e.code() == ErrorCode::ManifestUnknown => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(total)
    }

    /// The config blob's `created` and platform, when it is small enough to
    /// read and is JSON.
    async fn config_facts(&self, config: &Described) -> (Option<String>, Option<String>) {
        if config.size > MAX_CONFIG_READ {
            return (None, None);
        }
        let Ok(digest) = Digest::parse(&config.digest) else {
            return (None, None);
        };
        let Ok(bytes) = self
            .driver
            .get_content(&crate::layout::blob_data(&digest))
            .await
        else {
            return (None, None);
        };
        let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
            return (None, None);
        };
        (
            json.get("created")
                .and_then(Value::as_str)
                .map(str::to_string),
            platform_of(&json),
        )
    }
}

/// An `Accept` that takes every manifest type, so an index is shown as an index.
fn all() -> Accept {
    Accept::parse(std::iter::empty())
}

fn body_json(manifest: &Manifest) -> Value {
    serde_json::from_slice(&manifest.body).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_storage::inmemory::InMemoryDriver;
    use bytes::Bytes;
    use tower::ServiceExt;

    fn registry(delete_enabled: bool) -> Arc<Registry> {
        Arc::new(Registry::new(
            Arc::new(InMemoryDriver::new()),
            crate::Settings {
                delete_enabled,
                ..Default::default()
            },
        ))
    }

    const CONFIG: &[u8] = br#"{"created":"2026-01-02T03:04:05Z","os":"linux","architecture":"arm64","rootfs":{"type":"layers","diff_ids":[]}}"#;

    async fn push_blob(registry: &Registry, name: &str, data: &[u8]) -> (String, u64) {
        let digest = Digest::sha256_of(data);
        registry
            .driver
            .put_content(
                &crate::layout::blob_data(&digest),
                Bytes::copy_from_slice(data),
            )
            .await
            .unwrap();
        registry.link_blob(name, &digest).await.unwrap();
        (digest.to_string(), data.len() as u64)
    }

    async fn push_image(registry: &Registry, name: &str, tag: &str, layer: &[u8]) -> String {
        let (cd, cs) = push_blob(registry, name, CONFIG).await;
        let (ld, ls) = push_blob(registry, name, layer).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::manifests::OCI_MANIFEST,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls }],
        });
        let m = registry
            .put_manifest(
                name,
                &Reference::Tag(tag.to_string()),
                Some(crate::manifests::OCI_MANIFEST),
                Bytes::from(serde_json::to_vec(&manifest).unwrap()),
            )
            .await
            .unwrap();
        m.digest.to_string()
    }

    async fn call(app: Router, method: &str, uri: &str) -> (u16, Value) {
        let response = app
            .oneshot(
                http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn app(registry: Arc<Registry>) -> Router {
        routes().with_state(registry)
    }

    #[tokio::test]
    async fn tags_and_a_manifest_in_detail() {
        let r = registry(true);
        let digest = push_image(&r, "team/app", "1.0", &[7u8; 3000]).await;
        let (status, list) = call(app(r.clone()), "GET", "/berth/v1/repositories").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["repositories"][0]["name"], "team/app");
        assert_eq!(list["repositories"][0]["tags"], 1);
        assert_eq!(list["deleteEnabled"], true);

        let (status, tags) = call(
            app(r.clone()),
            "GET",
            "/berth/v1/repositories/tags?name=team/app",
        )
        .await;
        assert_eq!(status, 200, "{tags}");
        assert_eq!(tags["tags"][0]["tag"], "1.0");
        assert_eq!(tags["tags"][0]["digest"], digest);
        assert_eq!(tags["tags"][0]["created"], "2026-01-02T03:04:05Z");
        let manifest_len = r
            .get_manifest("team/app", &Reference::Tag("1.0".into()), &all())
            .await
            .unwrap()
            .body
            .len() as u64;
        assert_eq!(
            tags["tags"][0]["bytes"],
            manifest_len + 3000 + CONFIG.len() as u64
        );

        let (status, m) = call(
            app(r.clone()),
            "GET",
            "/berth/v1/repositories/manifest?name=team/app&reference=1.0",
        )
        .await;
        assert_eq!(status, 200, "{m}");
        assert_eq!(m["layers"][0]["size"], 3000);
        assert_eq!(m["config"]["platform"], "linux/arm64");
        assert_eq!(m["tags"], serde_json::json!(["1.0"]));
    }

    #[tokio::test]
    async fn deletes_need_delete_enabled() {
        let r = registry(false);
        push_image(&r, "app", "1", b"layer").await;
        let (status, body) = call(
            app(r.clone()),
            "DELETE",
            "/berth/v1/repositories/tag?name=app&tag=1",
        )
        .await;
        assert_eq!(status, 405, "{body}");
        assert!(
            body["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("storage.delete.enabled"),
            "{body}"
        );
        assert_eq!(r.tags("app").await.unwrap(), vec!["1".to_string()]);

        let r = registry(true);
        let digest = push_image(&r, "app", "1", b"layer").await;
        push_image(&r, "app", "2", b"other").await;
        let (status, body) = call(
            app(r.clone()),
            "DELETE",
            "/berth/v1/repositories/tag?name=app&tag=1",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(r.tags("app").await.unwrap(), vec!["2".to_string()]);
        let uri = format!("/berth/v1/repositories/manifest?name=app&digest={digest}");
        let (status, _) = call(app(r.clone()), "DELETE", &uri).await;
        assert_eq!(status, 200);
        let (status, body) = call(app(r.clone()), "DELETE", &uri).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn reclaimable_counts_only_what_nothing_else_refers_to() {
        let r = registry(true);
        let a = push_image(&r, "a", "1", &[1u8; 5000]).await;
        push_image(&r, "a", "same", &[1u8; 5000]).await;
        push_image(&r, "b", "1", &[2u8; 700]).await;
        let manifest_len = |d: &str| {
            let r = r.clone();
            let d = Digest::parse(d).unwrap();
            async move {
                r.get_manifest("a", &Reference::Digest(d), &all())
                    .await
                    .unwrap()
                    .body
                    .len() as u64
            }
        };
        // The manifest and its 5000-byte layer are a's alone; the config is shared with b.
        let uri = format!("/berth/v1/repositories/reclaimable?name=a&digest={a}");
        let (status, body) = call(app(r.clone()), "GET", &uri).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["bytes"], manifest_len(&a).await + 5000, "{body}");
        assert_eq!(body["blobs"], 2);
        // Tag 1 and tag "same" point at one manifest: deleting one frees nothing.
        let (_, body) = call(
            app(r.clone()),
            "GET",
            "/berth/v1/repositories/reclaimable?name=a&tag=1",
        )
        .await;
        assert_eq!(body["stillTagged"], true, "{body}");
        assert_eq!(body["bytes"], 0);
        let (_, body) = call(
            app(r.clone()),
            "GET",
            "/berth/v1/repositories/reclaimable?name=b&tag=1",
        )
        .await;
        assert_eq!(body["stillTagged"], false, "{body}");
        assert_eq!(body["needsUntaggedCollection"], true);
        assert_eq!(body["blobs"], 2, "b's manifest and its layer: {body}");
    }
}
