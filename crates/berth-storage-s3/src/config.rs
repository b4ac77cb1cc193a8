//! The driver's settings, read from Distribution's `storage.s3` parameter
//! names and checked before anything touches the network.

use std::path::PathBuf;

use berth_config::Parameters;
use berth_storage::{DriverParams, OpenError};

use crate::DRIVER;

const MIB: u64 = 1024 * 1024;
/// S3's smallest part (all but the last part of a multipart upload).
pub(crate) const MIN_PART: u64 = 5 * MIB;
/// S3's largest part, and the largest object a single CopyObject copies.
pub(crate) const MAX_PART: u64 = 5 * 1024 * MIB;

/// Storage classes Distribution accepts (instant-retrieval ones), plus `NONE`.
const STORAGE_CLASSES: [&str; 9] = [
    "NONE",
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "OUTPOSTS",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// Canned ACLs Distribution accepts for `objectacl`.
const OBJECT_ACLS: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// Everything `open` needs, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct S3Config {
    pub bucket: String,
    pub region: String,
    /// `accesskey`/`secretkey`, or `None` for the AWS default credential chain.
    pub static_keys: Option<(String, String)>,
    /// The endpoint URL with its scheme, when not Amazon's default one.
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    pub secure: bool,
    pub skip_verify: bool,
    pub root_ca_cert: Option<PathBuf>,
    /// Key prefix without slashes at either end (`a/b`), or empty.
    pub root: String,
    pub chunk_size: u64,
    pub copy_chunk_size: u64,
    pub copy_max_concurrency: usize,
    pub copy_threshold: u64,
    /// `None` when `storageclass: NONE`.
    pub storage_class: Option<String>,
    pub encrypt: bool,
    pub key_id: Option<String>,
    pub object_acl: String,
    pub dual_stack: bool,
    pub accelerate: bool,
    pub fips: bool,
}

impl S3Config {
    /// Reads and checks `storage.s3`.
    pub fn from_params(params: &Parameters) -> Result<S3Config, OpenError> {
        let p = DriverParams::new(DRIVER, params);
        let bucket = p.required("bucket", "the name of an existing bucket")?;
        let secure = p.bool_or("secure", true)?;
        let endpoint = p
            .string("regionendpoint")
            .map(|raw| endpoint_url(&raw, secure))
            .transpose()?;
        let region = match (p.string("region"), &endpoint) {
            (Some(region), _) => region,
            // S3-compatible stores mostly ignore the region; SigV4 needs one.
            (None, Some(_)) => "us-east-1".to_string(),
            (None, None) => {
                return Err(OpenError::parameter(
                    DRIVER,
                    "region",
                    "missing: set it to the bucket's AWS region (e.g. us-east-1), \
                     or set regionendpoint for an S3-compatible store",
                ));
            }
        };
        let static_keys = match (p.string("accesskey"), p.string("secretkey")) {
            (Some(a), Some(s)) => Some((a, s)),
            (None, None) => None,
            (Some(_), None) => return Err(half_keys("secretkey", "accesskey")),
            (None, Some(_)) => return Err(half_keys("accesskey", "secretkey")),
        };
        if !p.bool_or("v4auth", true)? {
            return Err(OpenError::parameter(
                DRIVER,
                "v4auth",
                "false asks for AWS signature version 2, which Berth does not support; \
                 remove the setting or set it to true: signature version 4 works with \
                 Amazon S3 and every current S3-compatible store (MinIO, Ceph RGW, IBM COS)",
            ));
        }
        let root_ca_cert = p.string("rootcacert").map(PathBuf::from);
        let storage_class = storage_class(p.string("storageclass"))?;
        let object_acl = object_acl(p.string("objectacl"))?;
        let chunk_size = sized(&p, "chunksize", MIN_PART, 10 * MIB, MAX_PART)?;
        let copy_chunk_size = sized(&p, "multipartcopychunksize", MIN_PART, 32 * MIB, MAX_PART)?;
        let copy_threshold = sized(&p, "multipartcopythresholdsize", 0, 32 * MIB, MAX_PART)?;
        let copy_max_concurrency = p.u64_at_least("multipartcopymaxconcurrency", 1, 100)?;
        Ok(S3Config {
            bucket,
            region,
            static_keys,
            force_path_style: p.bool_or("forcepathstyle", false)?,
            secure,
            skip_verify: p.bool_or("skipverify", false)?,
            root_ca_cert,
            root: p
                .root_directory("rootdirectory")
                .trim_matches('/')
                .to_string(),
            chunk_size,
            copy_chunk_size,
            copy_max_concurrency: usize::try_from(copy_max_concurrency).unwrap_or(usize::MAX),
            copy_threshold,
            storage_class,
            encrypt: p.bool_or("encrypt", false)?,
            key_id: p.string("keyid"),
            object_acl,
            dual_stack: p.bool_or("usedualstack", false)?,
            accelerate: p.bool_or("accelerate", false)?,
            fips: p.bool_or("usefipsendpoint", false)?,
            endpoint,
        })
    }

    /// The endpoint requests go to, for messages: the configured one, or
    /// Amazon's regional one.
    pub fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("{}://{}", self.scheme(), amazon_host(&self.region)),
        }
    }

    /// The endpoint to hand the SDK, when it must not pick Amazon's own
    /// HTTPS one (a regionendpoint, or Amazon over plain HTTP).
    pub fn sdk_endpoint(&self) -> Option<String> {
        match &self.endpoint {
            Some(e) => Some(e.clone()),
            None if !self.secure => Some(format!("http://{}", amazon_host(&self.region))),
            None => None,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.secure { "https" } else { "http" }
    }
}

fn half_keys(missing: &str, given: &str) -> OpenError {
    OpenError::parameter(
        DRIVER,
        missing,
        format!(
            "missing while {given} is set: set both, or neither to use the AWS default \
             credentials (environment, profile, IAM role)"
        ),
    )
}

/// `regionendpoint` as a URL: `host:port` gets `https://` (or `http://`
/// when `secure: false`); a trailing slash is dropped.
pub(crate) fn endpoint_url(raw: &str, secure: bool) -> Result<String, OpenError> {
    let raw = raw.trim().trim_end_matches('/');
    let url = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("{}://{raw}", if secure { "https" } else { "http" })
    };
    let invalid = |why: &str| {
        OpenError::parameter(
            DRIVER,
            "regionendpoint",
            format!("`{raw}` {why}: write it as https://host[:port] or host[:port]"),
        )
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("must use http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("has no host name"));
    }
    Ok(url)
}

fn amazon_host(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("s3.{region}.{suffix}")
}

fn sized(
    p: &DriverParams<'_>,
    key: &str,
    min: u64,
    default: u64,
    max: u64,
) -> Result<u64, OpenError> {
    let value = p.u64_at_least(key, min, default)?;
    if value > max {
        return Err(OpenError::parameter(
            DRIVER,
            key,
            format!("{value} is too large: use at most {max} (5 GiB, S3's limit)"),
        ));
    }
    Ok(value)
}

fn storage_class(raw: Option<String>) -> Result<Option<String>, OpenError> {
    let class = raw.map_or_else(|| "STANDARD".to_string(), |c| c.to_ascii_uppercase());
    if !STORAGE_CLASSES.contains(&class.as_str()) {
        return Err(OpenError::parameter(
            DRIVER,
            "storageclass",
            format!(
                "`{class}` is not a storage class Berth can serve from: use one of {} \
                 (NONE sends no storage class, for stores that reject the header)",
                STORAGE_CLASSES.join(", ")
            ),
        ));
    }
    Ok((class != "NONE").then_some(class))
}

fn object_acl(raw: Option<String>) -> Result<String, OpenError> {
    let acl = raw.unwrap_or_else(|| "private".to_string());
    if !OBJECT_ACLS.contains(&acl.as_str()) {
        return Err(OpenError::parameter(
            DRIVER,
            "objectacl",
            format!(
                "`{acl}` is not a canned ACL: use one of {}",
                OBJECT_ACLS.join(", ")
            ),
        ));
    }
    Ok(acl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn params(pairs: &[(&str, Value)]) -> Parameters {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    fn open(pairs: &[(&str, Value)]) -> Result<S3Config, String> {
        S3Config::from_params(&params(pairs)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_distribution() {
        let c = open(&[("bucket", json!("b")), ("region", json!("eu-west-1"))]).unwrap();
        assert_eq!(c.chunk_size, 10 << 20);
        assert_eq!(c.copy_chunk_size, 32 << 20);
        assert_eq!(c.copy_threshold, 32 << 20);
        assert_eq!(c.copy_max_concurrency, 100);
        assert_eq!(c.storage_class.as_deref(), Some("STANDARD"));
        assert_eq!(c.object_acl, "private");
        assert!(c.secure && !c.force_path_style && !c.skip_verify && !c.encrypt);
        assert_eq!(c.static_keys, None);
        assert_eq!(c.root, "");
        assert_eq!(c.endpoint_display(), "https://s3.eu-west-1.amazonaws.com");
        assert_eq!(c.sdk_endpoint(), None);
    }

    #[test]
    fn required_settings_are_named() {
        let e = open(&[("region", json!("us-east-1"))]).unwrap_err();
        assert!(e.starts_with("storage.s3.bucket: missing"), "{e}");
        let e = open(&[("bucket", json!("b"))]).unwrap_err();
        assert!(e.starts_with("storage.s3.region: missing"), "{e}");
        let e = open(&[
            ("bucket", json!("b")),
            ("region", json!("r")),
            ("accesskey", json!("A")),
        ])
        .unwrap_err();
        assert!(
            e.starts_with("storage.s3.secretkey: missing while accesskey"),
            "{e}"
        );
    }

    #[test]
    fn endpoints_get_a_scheme_and_default_region() {
        let c = open(&[
            ("bucket", json!("b")),
            ("regionendpoint", json!("minio:9000")),
        ])
        .unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("https://minio:9000"));
        assert_eq!(c.region, "us-east-1");
        let c = open(&[
            ("bucket", json!("b")),
            ("regionendpoint", json!("minio:9000/")),
            ("secure", json!("false")),
        ])
        .unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://minio:9000"));
        let c = open(&[
            ("bucket", json!("b")),
            ("regionendpoint", json!("http://127.0.0.1:9000")),
            ("secure", json!(true)),
        ])
        .unwrap();
        assert_eq!(c.sdk_endpoint().as_deref(), Some("http://127.0.0.1:9000"));
        let e = open(&[("bucket", json!("b")), ("regionendpoint", json!("ftp://x"))]).unwrap_err();
        assert!(
            e.contains("storage.s3.regionendpoint") && e.contains("http or https"),
            "{e}"
        );
        let c = open(&[
            ("bucket", json!("b")),
            ("region", json!("cn-north-1")),
            ("secure", json!(false)),
        ])
        .unwrap();
        assert_eq!(
            c.sdk_endpoint().as_deref(),
            Some("http://s3.cn-north-1.amazonaws.com.cn")
        );
    }

    #[test]
    fn v2_signatures_are_refused_with_advice() {
        let e = open(&[
            ("bucket", json!("b")),
            ("region", json!("r")),
            ("v4auth", json!(false)),
        ])
        .unwrap_err();
        assert!(
            e.starts_with("storage.s3.v4auth:") && e.contains("version 4"),
            "{e}"
        );
        open(&[
            ("bucket", json!("b")),
            ("region", json!("r")),
            ("v4auth", json!("true")),
        ])
        .unwrap();
    }

    #[test]
    fn sizes_classes_and_acls_are_checked() {
        let base = [("bucket", json!("b")), ("region", json!("r"))];
        let with = |k: &str, v: Value| {
            let mut p = base.to_vec();
            p.push((k, v));
            open(&p)
        };
        let e = with("chunksize", json!(1024)).unwrap_err();
        assert!(
            e.contains("storage.s3.chunksize") && e.contains("5242880"),
            "{e}"
        );
        let e = with("multipartcopychunksize", json!(6u64 << 30)).unwrap_err();
        assert!(e.contains("too large"), "{e}");
        assert_eq!(
            with("chunksize", json!("20971520")).unwrap().chunk_size,
            20 << 20
        );
        assert_eq!(
            with("multipartcopythresholdsize", json!(0))
                .unwrap()
                .copy_threshold,
            0
        );
        assert!(with("multipartcopymaxconcurrency", json!(0)).is_err());
        assert_eq!(
            with("storageclass", json!("none")).unwrap().storage_class,
            None
        );
        assert_eq!(
            with("storageclass", json!("standard_ia"))
                .unwrap()
                .storage_class
                .as_deref(),
            Some("STANDARD_IA")
        );
        let e = with("storageclass", json!("GLACIER")).unwrap_err();
        assert!(e.contains("storage.s3.storageclass"), "{e}");
        let e = with("objectacl", json!("secret")).unwrap_err();
        assert!(
            e.contains("storage.s3.objectacl") && e.contains("bucket-owner-full-control"),
            "{e}"
        );
        let e = with("secure", json!("sometimes")).unwrap_err();
        assert!(e.contains("storage.s3.secure"), "{e}");
        assert_eq!(with("rootdirectory", json!("/a/b/")).unwrap().root, "a/b");
    }
}
