//! The least-privilege IAM policy the driver needs on a bucket (what
//! `berthd iam-policy --bucket NAME` prints), and S3's bucket naming rules.

use serde_json::json;

/// Why a bucket name is not one S3 accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a valid S3 bucket name: {reason} (names are 3-63 lowercase letters, digits, \
     dots and hyphens, starting and ending with a letter or digit)"
)]
pub struct InvalidBucketName {
    /// The name given.
    pub name: String,
    /// The rule it breaks.
    pub reason: &'static str,
}

/// Checks `name` against Amazon S3's rules for general purpose buckets.
/// (Some S3-compatible stores accept more; Amazon S3 does not.)
pub fn validate_bucket_name(name: &str) -> Result<(), InvalidBucketName> {
    let fail = |reason| {
        Err(InvalidBucketName {
            name: name.to_string(),
            reason,
        })
    };
    if name.len() < 3 || name.len() > 63 {
        return fail("it must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return fail("it may only hold lowercase letters, digits, dots and hyphens");
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.bytes().next()) || !alnum(name.bytes().last()) {
        return fail("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return fail("it must not hold two adjacent dots");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return fail("it must not look like an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return fail("it must not start with xn--, sthree- or amzn-s3-demo- (reserved)");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return fail(
            "it must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved)",
        );
    }
    Ok(())
}

/// The minimal IAM policy for serving a registry from `bucket`, as pretty
/// JSON: listing buckets (for the storage check), listing the bucket and its
/// multipart uploads, and reading, writing and deleting its objects and
/// uploads. Check the name first with [`validate_bucket_name`].
pub fn minimal_policy(bucket: &str) -> String {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BerthListBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListAllMyBuckets"],
                "Resource": "arn:aws:s3:::*"
            },
            {
                "Sid": "BerthBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                    "s3:ListBucketMultipartUploads"
                ],
                "Resource": format!("arn:aws:s3:::{bucket}")
            },
            {
                "Sid": "BerthObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:DeleteObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload"
                ],
                "Resource": format!("arn:aws:s3:::{bucket}/*")
            }
        ]
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn policy_grants_exactly_what_the_driver_uses() {
        let text = minimal_policy("my-registry");
        assert!(text.contains('\n'), "pretty-printed");
        let policy: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(policy["Version"], "2012-10-17");
        let statements = policy["Statement"].as_array().unwrap();
        let grants: Vec<(String, Vec<String>)> = statements
            .iter()
            .map(|s| {
                assert_eq!(s["Effect"], "Allow");
                let actions = s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect();
                (s["Resource"].as_str().unwrap().to_string(), actions)
            })
            .collect();
        assert_eq!(
            grants,
            vec![
                ("arn:aws:s3:::*".into(), vec!["s3:ListAllMyBuckets".into()]),
                (
                    "arn:aws:s3:::my-registry".into(),
                    vec![
                        "s3:ListBucket".into(),
                        "s3:GetBucketLocation".into(),
                        "s3:ListBucketMultipartUploads".into()
                    ]
                ),
                (
                    "arn:aws:s3:::my-registry/*".into(),
                    vec![
                        "s3:PutObject".into(),
                        "s3:GetObject".into(),
                        "s3:DeleteObject".into(),
                        "s3:ListMultipartUploadParts".into(),
                        "s3:AbortMultipartUpload".into()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in [
            "abc",
            "my-registry",
            "registry.example.com",
            "a1-b2",
            &"a".repeat(63),
        ] {
            validate_bucket_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let cases = [
            ("ab", "3 to 63"),
            (&*"a".repeat(64), "3 to 63"),
            ("My-Registry", "lowercase"),
            ("my_registry", "lowercase"),
            ("-registry", "start and end"),
            ("registry.", "start and end"),
            ("my..registry", "adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--registry", "reserved"),
            ("registry-s3alias", "reserved"),
        ];
        for (bad, why) in cases {
            let e = validate_bucket_name(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }
}
