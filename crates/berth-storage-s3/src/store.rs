//! The requests the driver is built from, with their errors mapped: what
//! the [`StorageDriver`](berth_storage::StorageDriver) operations and the
//! writer share.

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl, ObjectIdentifier,
    ServerSideEncryption, StorageClass,
};
use berth_storage::{Result, StorageError};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::DRIVER;
use crate::config::S3Config;
use crate::error::{Op, Target};
use crate::keys::KeyMap;

/// Everything a request needs; shared by the driver and its writers.
#[derive(Debug)]
pub(crate) struct Store {
    pub client: Client,
    pub config: S3Config,
    pub keys: KeyMap,
    pub target: Target,
}

/// What HeadObject tells.
pub(crate) struct Head {
    pub size: u64,
    pub modified: SystemTime,
}

/// One page of a listing.
pub(crate) struct Page {
    /// Object keys.
    pub keys: Vec<String>,
    /// Common prefixes, with their trailing slash.
    pub prefixes: Vec<String>,
    /// The token for the next page, if any.
    pub next: Option<String>,
}

/// An incomplete multipart upload, as ListMultipartUploads tells.
pub(crate) struct PendingUpload {
    pub key: String,
    pub id: String,
    pub initiated: Option<SystemTime>,
}

/// A part of an incomplete multipart upload, as ListParts tells.
pub(crate) struct UploadedPart {
    pub part: CompletedPart,
    pub size: u64,
}

/// Characters to escape in `x-amz-copy-source`: all but unreserved ones and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Sets the options every object we create gets (content type, ACL,
/// encryption, storage class) on any request builder that has them.
macro_rules! object_options {
    ($request:expr, $config:expr) => {
        $request
            .content_type("application/octet-stream")
            .acl(ObjectCannedAcl::from($config.object_acl.as_str()))
            .set_server_side_encryption(sse(&$config))
            .set_ssekms_key_id($config.key_id.clone().filter(|_| $config.encrypt))
            .set_storage_class($config.storage_class.as_deref().map(StorageClass::from))
    };
}

fn sse(config: &S3Config) -> Option<ServerSideEncryption> {
    match (config.encrypt, &config.key_id) {
        (false, _) => None,
        (true, Some(_)) => Some(ServerSideEncryption::AwsKms),
        (true, None) => Some(ServerSideEncryption::Aes256),
    }
}

impl Store {
    fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The `x-amz-copy-source` of `key` in our bucket.
    pub fn copy_source(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.bucket(),
            utf8_percent_encode(key, COPY_SOURCE)
        )
    }

    /// HeadObject; [`StorageError::NotFound`] when there is no such object.
    pub async fn head(&self, path: &str, key: &str) -> Result<Head> {
        let out = self
            .client
            .head_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::Stat, path, key, e))?;
        Ok(Head {
            size: out
                .content_length()
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            modified: out
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    /// HeadObject, with a missing object as `None`.
    pub async fn head_if_exists(&self, path: &str, key: &str) -> Result<Option<Head>> {
        match self.head(path, key).await {
            Ok(head) => Ok(Some(head)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GetObject from `offset` (no Range header at 0, which also serves
    /// empty objects).
    pub async fn get(&self, path: &str, key: &str, offset: u64) -> Result<ByteStream, GetError> {
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        match self
            .client
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(out) => Ok(out.body),
            Err(e) => {
                let beyond_end = e.as_service_error().is_some_and(|s| {
                    aws_sdk_s3::error::ProvideErrorMetadata::code(s) == Some("InvalidRange")
                });
                Err(if beyond_end {
                    GetError::BeyondEnd
                } else {
                    GetError::Failed(self.target.sdk(Op::Read, path, key, e))
                })
            }
        }
    }

    /// PutObject of a whole object.
    pub async fn put(&self, path: &str, key: &str, content: Bytes) -> Result<()> {
        let request = self
            .client
            .put_object()
            .bucket(self.bucket())
            .key(key)
            .body(ByteStream::from(content));
        object_options!(request, self.config)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::Write, path, key, e))?;
        Ok(())
    }

    /// One page of ListObjectsV2 below `prefix`, by `/` when `delimited`.
    pub async fn list_page(
        &self,
        path: &str,
        prefix: &str,
        delimited: bool,
        max_keys: Option<i32>,
        token: Option<String>,
    ) -> Result<Page> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(prefix)
            .set_delimiter(delimited.then(|| "/".to_string()))
            .set_max_keys(max_keys)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::List, path, prefix, e))?;
        let next = match out.is_truncated() {
            Some(true) => out.next_continuation_token().map(str::to_string),
            _ => None,
        };
        Ok(Page {
            keys: out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect(),
            prefixes: out
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string))
                .collect(),
            next,
        })
    }

    /// DeleteObjects of at most 1000 keys.
    pub async fn delete_keys(&self, path: &str, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let first = keys[0].clone();
        let objects = keys
            .into_iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.target.backend(Op::Delete, path, e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| self.target.backend(Op::Delete, path, e.to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(self.bucket())
            .delete(delete)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::Delete, path, &first, e))?;
        if let Some(failed) = out.errors().first() {
            let message = format!(
                "{} of the objects could not be deleted, e.g. {}: {} {}{}",
                out.errors().len(),
                failed.key().unwrap_or_default(),
                failed.code().unwrap_or_default(),
                failed.message().unwrap_or_default(),
                if failed.code() == Some("AccessDenied") {
                    format!(
                        ": grant s3:DeleteObject on arn:aws:s3:::{}/*",
                        self.bucket()
                    )
                } else {
                    String::new()
                }
            );
            return Err(self.target.backend(Op::Delete, path, message));
        }
        Ok(())
    }

    /// DeleteObject of one key.
    pub async fn delete_key(&self, path: &str, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::Delete, path, key, e))?;
        Ok(())
    }

    /// CopyObject (objects up to 5 GiB).
    pub async fn copy_object(&self, path: &str, source: &str, dest: &str) -> Result<()> {
        let request = self
            .client
            .copy_object()
            .bucket(self.bucket())
            .key(dest)
            .copy_source(self.copy_source(source))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace);
        object_options!(request, self.config)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::Copy, path, source, e))?;
        Ok(())
    }

    /// CreateMultipartUpload; the upload's id.
    pub async fn start_upload(&self, path: &str, key: &str) -> Result<String> {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(key);
        let out = object_options!(request, self.config)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::StartUpload, path, key, e))?;
        out.upload_id().map(str::to_string).ok_or_else(|| {
            self.target.backend(
                Op::StartUpload,
                path,
                format!(
                    "{} started a multipart upload without an upload id",
                    self.target.endpoint
                ),
            )
        })
    }

    /// UploadPart.
    pub async fn upload_part(
        &self,
        path: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        data: Bytes,
    ) -> Result<CompletedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::UploadPart, path, key, e))?;
        Ok(completed(number, out.e_tag()))
    }

    /// UploadPartCopy of the inclusive byte range `first..=last` of `source`.
    pub async fn copy_part(
        &self,
        path: &str,
        source: &str,
        dest: &str,
        upload_id: &str,
        number: i32,
        (first, last): (u64, u64),
    ) -> Result<CompletedPart> {
        let out = self
            .client
            .upload_part_copy()
            .bucket(self.bucket())
            .key(dest)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(self.copy_source(source))
            .copy_source_range(format!("bytes={first}-{last}"))
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::CopyPart, path, source, e))?;
        Ok(completed(
            number,
            out.copy_part_result().and_then(|r| r.e_tag()),
        ))
    }

    /// CompleteMultipartUpload; the object becomes visible.
    pub async fn complete_upload(
        &self,
        path: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<()> {
        self.client
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::CompleteUpload, path, key, e))?;
        Ok(())
    }

    /// AbortMultipartUpload.
    pub async fn abort_upload(&self, path: &str, key: &str, upload_id: &str) -> Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| self.target.sdk(Op::AbortUpload, path, key, e))?;
        Ok(())
    }

    /// The incomplete multipart uploads of keys starting with `prefix`
    /// (ListMultipartUploads, every page), oldest first for each key.
    pub async fn list_uploads(&self, path: &str, prefix: &str) -> Result<Vec<PendingUpload>> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(self.bucket())
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| self.target.sdk(Op::ListUploads, path, prefix, e))?;
            uploads.extend(out.uploads().iter().filter_map(|u| {
                Some(PendingUpload {
                    key: u.key()?.to_string(),
                    id: u.upload_id()?.to_string(),
                    initiated: u.initiated().and_then(|t| SystemTime::try_from(*t).ok()),
                })
            }));
            match out.is_truncated() {
                Some(true) if out.next_key_marker().is_some() => {
                    key_marker = out.next_key_marker().map(str::to_string);
                    id_marker = out.next_upload_id_marker().map(str::to_string);
                }
                _ => break,
            }
        }
        Ok(uploads)
    }

    /// The parts of upload `upload_id` so far (ListParts, every page), in
    /// part-number order.
    pub async fn list_parts(
        &self,
        path: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(self.bucket())
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| self.target.sdk(Op::ListParts, path, key, e))?;
            parts.extend(out.parts().iter().filter_map(|p| {
                let number = p.part_number()?;
                Some(UploadedPart {
                    part: completed(number, p.e_tag()),
                    size: u64::try_from(p.size().unwrap_or(0)).unwrap_or(0),
                })
            }));
            match out.is_truncated() {
                Some(true) if out.next_part_number_marker().is_some() => {
                    marker = out.next_part_number_marker().map(str::to_string);
                }
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part.part_number());
        Ok(parts)
    }

    /// A not-found error for `path`.
    pub fn not_found(&self, path: &str) -> StorageError {
        StorageError::NotFound {
            driver: DRIVER,
            path: path.to_string(),
        }
    }
}

/// Why a GetObject failed.
pub(crate) enum GetError {
    /// The offset is at or beyond the object's end (HTTP 416).
    BeyondEnd,
    /// Anything else, mapped.
    Failed(StorageError),
}

fn completed(number: i32, e_tag: Option<&str>) -> CompletedPart {
    CompletedPart::builder()
        .part_number(number)
        .set_e_tag(e_tag.map(str::to_string))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_escaped() {
        let escaped = utf8_percent_encode("a b/ü+c=%41;x~y.z", COPY_SOURCE).to_string();
        assert_eq!(escaped, "a%20b/%C3%BC%2Bc%3D%2541%3Bx~y.z");
    }
}
