//! The SDK's errors turned into [`StorageError`]s whose messages say what is
//! wrong and which setting or permission fixes it.

use std::error::Error;
use std::io;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use berth_storage::StorageError;

use crate::DRIVER;

/// An S3 failure explained for people; the `source` of
/// [`StorageError::Backend`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct S3Error(pub String);

/// What the driver was doing when a request failed: the operation's name in
/// [`StorageError::Backend`] and the IAM permission it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// GetObject.
    Read,
    /// HeadObject.
    Stat,
    /// PutObject.
    Write,
    /// ListObjectsV2.
    List,
    /// DeleteObject(s).
    Delete,
    /// CopyObject.
    Copy,
    /// CreateMultipartUpload.
    StartUpload,
    /// UploadPart.
    UploadPart,
    /// UploadPartCopy.
    CopyPart,
    /// CompleteMultipartUpload.
    CompleteUpload,
    /// AbortMultipartUpload.
    AbortUpload,
    /// ListMultipartUploads.
    ListUploads,
    /// ListParts.
    ListParts,
    /// Presigning a GET URL.
    Presign,
}

impl Op {
    /// The operation's name in errors.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Stat => "stat",
            Op::Write => "write",
            Op::List => "list",
            Op::Delete => "delete",
            Op::Copy => "copy",
            Op::StartUpload => "start multipart upload",
            Op::UploadPart => "upload part",
            Op::CopyPart => "copy part",
            Op::CompleteUpload => "complete multipart upload",
            Op::AbortUpload => "abort multipart upload",
            Op::ListUploads => "list multipart uploads",
            Op::ListParts => "list parts",
            Op::Presign => "presign",
        }
    }

    /// The IAM permission the request needs and the resource ARN it needs it on.
    fn permission(self, bucket: &str, key: &str) -> String {
        let object = format!("arn:aws:s3:::{bucket}/{key}");
        match self {
            Op::List => format!("s3:ListBucket on arn:aws:s3:::{bucket}"),
            Op::Read | Op::Stat | Op::Presign => format!("s3:GetObject on {object}"),
            Op::Write | Op::StartUpload | Op::UploadPart | Op::CompleteUpload => {
                format!("s3:PutObject on {object}")
            }
            Op::Delete => format!("s3:DeleteObject on {object}"),
            Op::Copy | Op::CopyPart => format!(
                "s3:GetObject on the source and s3:PutObject on the destination \
                 (arn:aws:s3:::{bucket}/*)"
            ),
            Op::AbortUpload => format!("s3:AbortMultipartUpload on {object}"),
            Op::ListUploads => format!("s3:ListBucketMultipartUploads on arn:aws:s3:::{bucket}"),
            Op::ListParts => format!("s3:ListMultipartUploadParts on {object}"),
        }
    }
}

/// Where requests go, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The endpoint URL.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
}

impl Target {
    /// A [`StorageError::Backend`] for `path` with `message`.
    pub fn backend(&self, op: Op, path: &str, message: String) -> StorageError {
        StorageError::Backend {
            driver: DRIVER,
            operation: op.name(),
            path: path.to_string(),
            source: Box::new(S3Error(message)),
        }
    }

    /// Maps a failed request on `key` (the object at `path`).
    pub fn sdk<E>(
        &self,
        op: Op,
        path: &str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> StorageError
    where
        E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    {
        let message = match &err {
            SdkError::ServiceError(service) => {
                let raw = service.raw();
                let reply = Reply {
                    status: raw.status().as_u16(),
                    code: service.err().code(),
                    message: service.err().message(),
                    bucket_region: raw.headers().get("x-amz-bucket-region"),
                };
                if reply.is_not_found() {
                    return StorageError::NotFound {
                        driver: DRIVER,
                        path: path.to_string(),
                    };
                }
                self.service_message(op, key, &reply)
            }
            SdkError::TimeoutError(_) => format!(
                "{} did not answer in time (after 3 attempts): check that the endpoint is \
                 reachable from this machine (network, firewall, proxy)",
                self.endpoint
            ),
            SdkError::DispatchFailure(_) => self.dispatch_message(&err),
            SdkError::ConstructionFailure(_) => construction_message(&err),
            _ => format!(
                "unexpected answer from {}: {}",
                self.endpoint,
                DisplayErrorContext(&err)
            ),
        };
        self.backend(op, path, message)
    }

    fn service_message(&self, op: Op, key: &str, reply: &Reply<'_>) -> String {
        let (endpoint, bucket) = (&self.endpoint, &self.bucket);
        let said = reply
            .message
            .map(|m| format!(" (the server said: {m})"))
            .unwrap_or_default();
        let code = reply.code.unwrap_or_default();
        match code {
            "AccessDenied" | "AllAccessDisabled" | "Forbidden" => format!(
                "access denied by {endpoint}{said}: the credentials lack {}; grant it in \
                 the user's IAM policy or the bucket policy (`berthd iam-policy --bucket \
                 {bucket}` prints the minimal policy)",
                op.permission(bucket, key)
            ),
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "InvalidToken"
            | "ExpiredToken"
            | "TokenRefreshRequired"
            | "InvalidSecurity" => format!(
                "the server rejected the credentials ({code}{said}): check storage.s3.accesskey \
                 and storage.s3.secretkey (or, when they are unset, the AWS credentials in the \
                 environment, profile or IAM role)"
            ),
            "NoSuchBucket" => format!(
                "bucket {bucket} does not exist at {endpoint}: create it or fix storage.s3.bucket"
            ),
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException" => {
                let region = reply
                    .bucket_region
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                format!(
                    "bucket {bucket} is in another region{region} than the one requests are \
                     signed for ({code}{said}): set storage.s3.region to the bucket's region"
                )
            }
            "AccessControlListNotSupported" => format!(
                "bucket {bucket} does not accept object ACLs (its ACLs are disabled){said}: \
                 set storage.s3.objectacl to bucket-owner-full-control"
            ),
            "InvalidStorageClass" => format!(
                "{endpoint} does not support the storage class in storage.s3.storageclass{said}: \
                 set it to a class the store supports, or to NONE to send none"
            ),
            "NoSuchUpload" => format!(
                "the multipart upload was aborted or expired on the server{said} (a bucket \
                 lifecycle rule may abort incomplete uploads too early); retry the upload"
            ),
            "RequestTimeTooSkewed" => format!(
                "{endpoint} refused the request because this machine's clock is off{said}: \
                 fix the system time"
            ),
            "SlowDown" | "ServiceUnavailable" => format!(
                "{endpoint} is overloaded and kept refusing after 3 attempts ({code}{said}): retry later"
            ),
            _ if code.starts_with("KMS") => format!(
                "server-side encryption with KMS failed ({code}{said}): check storage.s3.keyid \
                 and that the credentials may use the key (kms:GenerateDataKey, kms:Decrypt)"
            ),
            _ if reply.status == 403 => format!(
                "access denied by {endpoint} (HTTP 403, no details): either the credentials are \
                 wrong (check storage.s3.accesskey and storage.s3.secretkey) or they lack {}",
                op.permission(bucket, key)
            ),
            "" => format!("{endpoint} answered HTTP {}{said}", reply.status),
            _ => format!("{endpoint} answered HTTP {} {code}{said}", reply.status),
        }
    }

    fn dispatch_message(&self, err: &(dyn Error + 'static)) -> String {
        let endpoint = &self.endpoint;
        let details = DisplayErrorContext(err).to_string();
        let io_kind = chain(err).find_map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind));
        if chain(err).any(|e| e.is::<rustls::Error>()) {
            return format!(
                "TLS with {endpoint} failed: {}: when the server's certificate comes from a \
                 private CA, set storage.s3.rootcacert to that CA's PEM file (or \
                 storage.s3.skipverify: true, which skips the check); when the server speaks \
                 plain HTTP, use an http:// regionendpoint",
                chain(err)
                    .find_map(|e| e.downcast_ref::<rustls::Error>())
                    .map(ToString::to_string)
                    .unwrap_or(details)
            );
        }
        if details.contains("dns error") {
            return format!(
                "cannot resolve the host name of {endpoint}: check storage.s3.regionendpoint \
                 (or storage.s3.region for Amazon S3) and this machine's DNS"
            );
        }
        match io_kind {
            Some(io::ErrorKind::ConnectionRefused) => format!(
                "cannot connect to {endpoint}: connection refused: is the server running, and \
                 is storage.s3.regionendpoint right?"
            ),
            Some(io::ErrorKind::TimedOut) => format!(
                "cannot connect to {endpoint}: timed out: check storage.s3.regionendpoint and \
                 that the network or a firewall lets this machine reach it"
            ),
            _ => format!(
                "cannot talk to {endpoint}: {details}: check storage.s3.regionendpoint and \
                 storage.s3.secure (http or https)"
            ),
        }
    }
}

fn construction_message(err: &(dyn Error + 'static)) -> String {
    let details = DisplayErrorContext(err).to_string();
    if details.contains("credentials") || details.contains("identity") {
        format!(
            "no usable AWS credentials: {details}: set storage.s3.accesskey and \
             storage.s3.secretkey, or provide credentials through the environment \
             (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), an AWS profile or an IAM role"
        )
    } else {
        format!("cannot build the S3 request: {details}")
    }
}

/// The parts of an error reply that decide the message.
struct Reply<'a> {
    status: u16,
    code: Option<&'a str>,
    message: Option<&'a str>,
    bucket_region: Option<&'a str>,
}

impl Reply<'_> {
    /// A missing object (HEAD replies carry no code, only the status).
    fn is_not_found(&self) -> bool {
        match self.code {
            Some("NoSuchKey" | "NotFound") => true,
            None => self.status == 404,
            Some(_) => false,
        }
    }
}

/// `error` and its sources, looking inside `io::Error`s' payloads.
pub(crate) fn chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => e.source(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            endpoint: "https://s3.eu-west-1.amazonaws.com".into(),
            bucket: "registry".into(),
        }
    }

    fn reply(status: u16, code: &'static str) -> Reply<'static> {
        Reply {
            status,
            code: (!code.is_empty()).then_some(code),
            message: Some("nope"),
            bucket_region: None,
        }
    }

    #[test]
    fn access_denied_names_the_permission_and_resource() {
        let t = target();
        let cases = [
            (Op::List, "s3:ListBucket on arn:aws:s3:::registry"),
            (Op::Write, "s3:PutObject on arn:aws:s3:::registry/docker/x"),
            (
                Op::UploadPart,
                "s3:PutObject on arn:aws:s3:::registry/docker/x",
            ),
            (Op::Read, "s3:GetObject on arn:aws:s3:::registry/docker/x"),
            (
                Op::Delete,
                "s3:DeleteObject on arn:aws:s3:::registry/docker/x",
            ),
            (
                Op::AbortUpload,
                "s3:AbortMultipartUpload on arn:aws:s3:::registry/docker/x",
            ),
        ];
        for (op, permission) in cases {
            let m = t.service_message(op, "docker/x", &reply(403, "AccessDenied"));
            assert!(m.contains(permission), "{op:?}: {m}");
            assert!(m.contains("berthd iam-policy --bucket registry"), "{m}");
        }
        let m = t.service_message(Op::Stat, "k", &reply(403, ""));
        assert!(
            m.contains("credentials are wrong") && m.contains("s3:GetObject"),
            "{m}"
        );
    }

    #[test]
    fn credentials_buckets_and_regions() {
        let t = target();
        for code in ["SignatureDoesNotMatch", "InvalidAccessKeyId"] {
            let m = t.service_message(Op::Write, "k", &reply(403, code));
            assert!(m.starts_with("the server rejected the credentials"), "{m}");
            assert!(m.contains("storage.s3.secretkey"), "{m}");
        }
        let m = t.service_message(Op::Write, "k", &reply(404, "NoSuchBucket"));
        assert_eq!(
            m,
            "bucket registry does not exist at https://s3.eu-west-1.amazonaws.com: create it \
             or fix storage.s3.bucket"
        );
        let m = t.service_message(Op::List, "", &reply(301, "PermanentRedirect"));
        assert!(m.contains("storage.s3.region"), "{m}");
        let m = t.service_message(Op::Write, "k", &reply(400, "AccessControlListNotSupported"));
        assert!(m.contains("objectacl"), "{m}");
        let m = t.service_message(Op::Write, "k", &reply(403, "RequestTimeTooSkewed"));
        assert!(m.contains("clock"), "{m}");
        let m = t.service_message(Op::Write, "k", &reply(500, "InternalError"));
        assert!(
            m.contains("HTTP 500 InternalError") && m.contains("nope"),
            "{m}"
        );
    }

    #[test]
    fn not_found_only_for_missing_objects() {
        assert!(reply(404, "NoSuchKey").is_not_found());
        assert!(reply(404, "").is_not_found());
        assert!(!reply(404, "NoSuchBucket").is_not_found());
        assert!(!reply(404, "NoSuchUpload").is_not_found());
    }

    #[test]
    fn connection_errors_name_the_endpoint_and_setting() {
        let t = target();
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let m = t.dispatch_message(&refused);
        assert!(
            m.starts_with("cannot connect to https://s3.eu-west-1"),
            "{m}"
        );
        assert!(m.contains("regionendpoint"), "{m}");
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let m = t.dispatch_message(&tls);
        assert!(
            m.starts_with("TLS with") && m.contains("rootcacert") && m.contains("skipverify"),
            "{m}"
        );
    }
}
