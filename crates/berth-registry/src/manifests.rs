//! Manifests: validation on push (every referenced blob and child manifest
//! must be in the repository), storage as Distribution lays it out, tags,
//! content negotiation, referrers and deletion.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::error::{ErrorCode, RegistryError, Result};
use crate::hashing::hash_bytes;
use crate::reference::{Digest, Reference};
use crate::{Registry, layout};

/// Manifests larger than this are refused, as Distribution does.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The short-lived OCI artifact manifest (image-spec 1.1 release candidates).
pub const OCI_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";

/// A manifest the registry holds, parsed once.
#[derive(Debug)]
pub struct Manifest {
    /// Its digest (of the exact bytes).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The exact bytes as pushed.
    pub body: Bytes,
    /// The manifest this one refers to (`subject`).
    pub subject: Option<Digest>,
    /// `artifactType`, or the config's media type for image manifests.
    pub artifact_type: Option<String>,
    /// Its annotations.
    pub annotations: Option<Value>,
    /// Blobs it references (config and layers, foreign layers excluded).
    pub blobs: Vec<Digest>,
    /// Child manifests of an index.
    pub children: Vec<Child>,
}

/// A manifest listed in an index.
#[derive(Debug, Clone)]
pub struct Child {
    /// The child's digest.
    pub digest: Digest,
    /// The child's media type.
    pub media_type: String,
    /// `os/architecture[/variant]`, when given.
    pub platform: Option<String>,
}

fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorCode::ManifestInvalid, message)
}

fn manifest_unknown(name: &str, reference: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::ManifestUnknown,
        format!("manifest {reference} is not in repository {name}"),
    )
}

struct Descriptor {
    media_type: String,
    digest: Digest,
    urls: bool,
    platform: Option<String>,
}

fn descriptor(value: &Value, field: &str) -> Result<Descriptor> {
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(format!("{field} must be a descriptor object")))?;
    let media_type = obj
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}.mediaType is missing")))?
        .to_string();
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}.digest is missing")))?;
    let digest =
        Digest::parse(digest).map_err(|e| invalid(format!("{field}.digest: {}", e.message())))?;
    if !obj.get("size").is_some_and(Value::is_u64) {
        return Err(invalid(format!(
            "{field}.size must be a non-negative integer"
        )));
    }
    let urls = obj
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    let platform = obj.get("platform").and_then(|p| {
        let os = p.get("os")?.as_str()?;
        let arch = p.get("architecture")?.as_str()?;
        Some(match p.get("variant").and_then(Value::as_str) {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        })
    });
    Ok(Descriptor {
        media_type,
        digest,
        urls,
        platform,
    })
}

fn descriptors(json: &Value, field: &str, required: bool) -> Result<Vec<Descriptor>> {
    match json.get(field) {
        None | Some(Value::Null) if !required => Ok(Vec::new()),
        None | Some(Value::Null) => Err(invalid(format!("{field} is missing"))),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| descriptor(v, &format!("{field}[{i}]")))
            .collect(),
        Some(_) => Err(invalid(format!("{field} must be a list of descriptors"))),
    }
}

/// Strips parameters and case from a media type.
fn bare(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_manifest_type(mt: &str) -> bool {
    matches!(
        mt,
        DOCKER_MANIFEST | DOCKER_LIST | OCI_MANIFEST | OCI_INDEX | OCI_ARTIFACT
    )
}

/// Parses and checks a manifest's structure (not yet its references).
pub fn parse(body: Bytes, digest: Digest, content_type: Option<&str>) -> Result<Manifest> {
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    if !json.is_object() {
        return Err(invalid("manifest must be a JSON object"));
    }
    let header = content_type.map(bare).filter(|h| is_manifest_type(h));
    let in_body = json.get("mediaType").and_then(Value::as_str).map(bare);
    if let (Some(h), Some(b)) = (&header, &in_body)
        && h != b
    {
        return Err(invalid(format!(
            "Content-Type {h} does not match the manifest's mediaType {b}"
        )));
    }
    let schema = json.get("schemaVersion").and_then(Value::as_u64);
    let media_type = match in_body.or(header) {
        Some(mt) => mt,
        None if schema == Some(1) => String::new(),
        None if json.get("manifests").is_some() => OCI_INDEX.to_string(),
        None if json.get("config").is_some() => OCI_MANIFEST.to_string(),
        None => {
            return Err(invalid(
                "cannot tell the manifest's type: send Content-Type or set mediaType",
            ));
        }
    };
    if schema == Some(1)
        || media_type.starts_with("application/vnd.docker.distribution.manifest.v1")
    {
        return Err(invalid(
            "Docker schema 1 manifests are not supported; push schema 2 or OCI",
        ));
    }
    if !is_manifest_type(&media_type) {
        return Err(invalid(format!(
            "unsupported manifest media type {media_type}"
        )));
    }
    if media_type != OCI_ARTIFACT && schema != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let subject = match json.get("subject") {
        None | Some(Value::Null) => None,
        Some(s) => Some(descriptor(s, "subject")?.digest),
    };
    let mut manifest = Manifest {
        digest,
        artifact_type: json
            .get("artifactType")
            .and_then(Value::as_str)
            .map(str::to_string),
        annotations: json.get("annotations").filter(|a| a.is_object()).cloned(),
        media_type: media_type.clone(),
        body,
        subject,
        blobs: Vec::new(),
        children: Vec::new(),
    };
    match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let config = json
                .get("config")
                .ok_or_else(|| invalid("config is missing"))?;
            let config = descriptor(config, "config")?;
            if manifest.artifact_type.is_none() {
                manifest.artifact_type = Some(config.media_type.clone());
            }
            manifest.blobs.push(config.digest);
            for layer in descriptors(&json, "layers", true)? {
                if !layer.urls {
                    manifest.blobs.push(layer.digest);
                }
            }
        }
        OCI_ARTIFACT => {
            for blob in descriptors(&json, "blobs", false)? {
                manifest.blobs.push(blob.digest);
            }
        }
        _ => {
            for child in descriptors(&json, "manifests", true)? {
                manifest.children.push(Child {
                    digest: child.digest,
                    media_type: child.media_type,
                    platform: child.platform,
                });
            }
        }
    }
    Ok(manifest)
}

/// What a client's `Accept` header allows.
pub struct Accept(Option<Vec<String>>);

impl Accept {
    /// Parses the values of every `Accept` header; none (or `*/*`) accepts all.
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Accept {
        let types: Vec<String> = values
            .flat_map(|v| v.split(','))
            .map(bare)
            .filter(|t| !t.is_empty())
            .collect();
        if types.is_empty() || types.iter().any(|t| t == "*/*") {
            Accept(None)
        } else {
            Accept(Some(types))
        }
    }

    fn allows(&self, media_type: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == media_type))
    }
}

impl Registry {
    async fn load_manifest(&self, digest: &Digest) -> Result<Option<Arc<Manifest>>> {
        if let Some(m) = self.manifest_cache.get(digest) {
            return Ok(Some(m));
        }
        let body = match self.driver.get_content(&layout::blob_data(digest)).await {
            Ok(body) => body,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Stored manifests were validated on push; one written by another
        // registry that does not parse is served as opaque bytes.
        let manifest = parse(body.clone(), digest.clone(), None).unwrap_or_else(|_| Manifest {
            digest: digest.clone(),
            media_type: serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|j| j.get("mediaType")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "application/octet-stream".to_string()),
            body,
            subject: None,
            artifact_type: None,
            annotations: None,
            blobs: Vec::new(),
            children: Vec::new(),
        });
        let manifest = Arc::new(manifest);
        self.manifest_cache.put(manifest.clone());
        Ok(Some(manifest))
    }

    async fn revision_exists(&self, name: &str, digest: &Digest) -> Result<bool> {
        match self.driver.stat(&layout::revision_link(name, digest)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Resolves a tag to the digest it points at.
    pub async fn resolve_tag(&self, name: &str, tag: &str) -> Result<Option<Digest>> {
        match self
            .driver
            .get_content(&layout::tag_current(name, tag))
            .await
        {
            Ok(link) => {
                let text = String::from_utf8_lossy(&link);
                Digest::parse(text.trim()).map(Some).map_err(|_| {
                    RegistryError::new(
                        ErrorCode::Unknown,
                        format!("tag {tag} of {name} has a corrupt link {text:?}"),
                    )
                })
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Fetches a manifest by tag or digest, honouring `Accept`: an index
    /// the client cannot take is answered with its linux/amd64 image.
    pub async fn get_manifest(
        &self,
        name: &str,
        reference: &Reference,
        accept: &Accept,
    ) -> Result<Arc<Manifest>> {
        let (digest, shown) = match reference {
            Reference::Tag(tag) => match self.resolve_tag(name, tag).await? {
                Some(d) => (d, tag.clone()),
                None => return Err(manifest_unknown(name, tag)),
            },
            Reference::Digest(d) => {
                if !self.revision_exists(name, d).await? {
                    return Err(manifest_unknown(name, &d.to_string()));
                }
                (d.clone(), d.to_string())
            }
        };
        let manifest = self
            .load_manifest(&digest)
            .await?
            .ok_or_else(|| manifest_unknown(name, &shown))?;
        if accept.allows(&manifest.media_type) {
            return Ok(manifest);
        }
        let fallback = manifest
            .children
            .iter()
            .find(|c| c.platform.as_deref() == Some("linux/amd64") && accept.allows(&c.media_type));
        if let Some(child) = fallback
            && let Some(m) = self.load_manifest(&child.digest).await?
        {
            return Ok(m);
        }
        Err(RegistryError::new(
            ErrorCode::ManifestUnknown,
            format!(
                "manifest {shown} of {name} is a {}, which this client's Accept header does not allow",
                manifest.media_type
            ),
        ))
    }

    /// Stores a manifest under a tag or its digest; returns the stored
    /// manifest (its digest and subject for the response headers).
    pub async fn put_manifest(
        &self,
        name: &str,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Arc<Manifest>> {
        let algorithm = match reference {
            Reference::Digest(d) => d.algorithm(),
            Reference::Tag(_) => crate::reference::Algorithm::Sha256,
        };
        let digest = hash_bytes(algorithm, body.clone()).await;
        if let Reference::Digest(claimed) = reference
            && claimed != &digest
        {
            return Err(RegistryError::new(
                ErrorCode::DigestInvalid,
                format!("the manifest's digest is {digest}, not {claimed}; nothing was stored"),
            ));
        }
        let manifest = parse(body, digest.clone(), content_type)?;
        let _gc = self.gc.guard().await;
        self.gc.touch_manifest(&manifest);
        self.check_references(name, &manifest).await?;
        if !self.blob_exists(&digest).await? {
            self.driver
                .put_content(&layout::blob_data(&digest), manifest.body.clone())
                .await?;
            self.blob_stored(&digest, manifest.body.len() as u64);
        }
        let link = Bytes::from(digest.to_string());
        self.driver
            .put_content(&layout::revision_link(name, &digest), link.clone())
            .await?;
        if let Some(subject) = &manifest.subject {
            self.driver
                .put_content(&layout::referrer_link(name, subject, &digest), link.clone())
                .await?;
        }
        if let Reference::Tag(tag) = reference {
            self.driver
                .put_content(&layout::tag_index(name, tag, &digest), link.clone())
                .await?;
            self.driver
                .put_content(&layout::tag_current(name, tag), link)
                .await?;
        }
        self.manifest_stored(name, &manifest, reference);
        let manifest = Arc::new(manifest);
        self.manifest_cache.put(manifest.clone());
        Ok(manifest)
    }

    async fn check_references(&self, name: &str, manifest: &Manifest) -> Result<()> {
        let blob_checks = manifest.blobs.iter().map(|d| async move {
            match self.blob_size(name, d).await {
                Ok(_) => Ok(None),
                Err(e) if e.code() == ErrorCode::BlobUnknown => Ok(Some(d.clone())),
                Err(e) => Err(e),
            }
        });
        let child_checks = manifest.children.iter().map(|c| async move {
            match self.revision_exists(name, &c.digest).await {
                Ok(true) => Ok(None),
                Ok(false) => Ok(Some(c.digest.clone())),
                Err(e) => Err(e),
            }
        });
        let missing: Vec<Digest> = futures::future::try_join_all(blob_checks)
            .await?
            .into_iter()
            .chain(futures::future::try_join_all(child_checks).await?)
            .flatten()
            .collect();
        if let Some(first) = missing.first() {
            let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
            return Err(RegistryError::new(
                ErrorCode::ManifestBlobUnknown,
                format!(
                    "the manifest references {} that repository {name} does not have \
                     (first: {first}); push them before the manifest",
                    if missing.len() == 1 {
                        "a blob or manifest".to_string()
                    } else {
                        format!("{} blobs or manifests", missing.len())
                    }
                ),
            )
            .with_detail(serde_json::json!({ "digests": list })));
        }
        Ok(())
    }

    /// Deletes a manifest by digest (and every tag pointing at it), or a tag.
    pub async fn delete_manifest(&self, name: &str, reference: &Reference) -> Result<()> {
        self.require_deletes()?;
        let digest = match reference {
            Reference::Tag(tag) => {
                return match self.driver.delete(&layout::tag_dir(name, tag)).await {
                    Ok(()) => {
                        self.tag_deleted(name, tag);
                        Ok(())
                    }
                    Err(e) if e.is_not_found() => Err(manifest_unknown(name, tag)),
                    Err(e) => Err(e.into()),
                };
            }
            Reference::Digest(d) => d,
        };
        if !self.revision_exists(name, digest).await? {
            return Err(manifest_unknown(name, &digest.to_string()));
        }
        for tag in self.tags(name).await.unwrap_or_default() {
            if self.resolve_tag(name, &tag).await?.as_ref() == Some(digest) {
                match self.driver.delete(&layout::tag_dir(name, &tag)).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(m) = self.load_manifest(digest).await?
            && let Some(subject) = &m.subject
        {
            let link = layout::referrer_link(name, subject, digest);
            let _ = self.driver.delete(berth_storage::path::parent(&link)).await;
        }
        match self
            .driver
            .delete(&layout::revision_dir(name, digest))
            .await
        {
            Ok(()) => {
                self.manifest_deleted(name, digest);
                Ok(())
            }
            Err(e) if e.is_not_found() => Err(manifest_unknown(name, &digest.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// The descriptors of manifests in `name` whose subject is `subject`,
    /// optionally only those of `artifact_type`.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Value>> {
        let dir = layout::referrers(name, subject);
        let mut found = Vec::new();
        let algorithms = match self.driver.list(&dir).await {
            Ok(a) => a,
            Err(e) if e.is_not_found() => return Ok(found),
            Err(e) => return Err(e.into()),
        };
        for alg_dir in algorithms {
            let Ok(entries) = self.driver.list(&alg_dir).await else {
                continue;
            };
            for entry in entries {
                let Some(digest) = entry.rsplit_once('/').and_then(|(dir, hex)| {
                    Digest::parse(&format!("{}:{hex}", dir.rsplit('/').next()?)).ok()
                }) else {
                    continue;
                };
                if !self.revision_exists(name, &digest).await? {
                    continue;
                }
                let Some(m) = self.load_manifest(&digest).await? else {
                    continue;
                };
                if artifact_type.is_some_and(|t| m.artifact_type.as_deref() != Some(t)) {
                    continue;
                }
                let mut d = serde_json::json!({
                    "mediaType": m.media_type,
                    "digest": digest.to_string(),
                    "size": m.body.len(),
                });
                if let Some(t) = &m.artifact_type {
                    d["artifactType"] = Value::String(t.clone());
                }
                if let Some(a) = &m.annotations {
                    d["annotations"] = a.clone();
                }
                found.push(d);
            }
        }
        found.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
        Ok(found)
    }
}
