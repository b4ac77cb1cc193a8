//! The storage forms: every driver's settings with the labels admins know
//! from Docker Trusted Registry and Distribution's documentation, short
//! help, and the checks the form runs before anything is probed.
//!
//! Keys are Distribution's parameter names, so a form and a config.yml are
//! the same settings.

use serde::Serialize;
use serde_json::Value;

/// How a field is entered, and what JSON type its value has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One line of text.
    Text,
    /// A password or key: kept in the keychain, never shown.
    Secret,
    /// On or off.
    Bool,
    /// A whole number.
    Number,
    /// One of `options`.
    Select,
    /// Several lines of text (part of the API's kinds; no driver field uses it yet).
    #[allow(dead_code)]
    Textarea,
    /// A path to a file on this machine.
    File,
}

/// A check beyond the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing more.
    None,
    /// An `http://` or `https://` URL.
    Url,
    /// An absolute path.
    AbsolutePath,
    /// An S3 or GCS bucket name.
    Bucket,
    /// An Azure container name.
    Container,
    /// A number of at least this much.
    AtLeast(u64),
    /// A number between the two, inclusive.
    Between(u64, u64),
    /// A positive multiple of this number.
    MultipleOf(u64),
}

/// A default value, as the schema answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default.
    None,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(u64),
    /// Text.
    Text(&'static str),
}

impl DefaultValue {
    fn to_json(self) -> Value {
        match self {
            DefaultValue::None => Value::Null,
            DefaultValue::Bool(b) => Value::Bool(b),
            DefaultValue::Number(n) => Value::from(n),
            DefaultValue::Text(t) => Value::from(t),
        }
    }
}

/// One setting of a driver.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// Distribution's parameter name.
    pub key: &'static str,
    /// The label.
    pub label: &'static str,
    /// Short help under the field.
    pub help: &'static str,
    /// How it is entered.
    pub kind: Kind,
    /// Whether it must be set.
    pub required: bool,
    /// Shown under "Advanced".
    pub advanced: bool,
    /// What applies when it is not set.
    pub default: DefaultValue,
    /// The choices of a select, as (value, label).
    pub options: &'static [(&'static str, &'static str)],
    /// An example shown in the empty field.
    pub placeholder: Option<&'static str>,
    /// The extra check.
    pub check: Check,
}

const fn field(
    kind: Kind,
    key: &'static str,
    label: &'static str,
    help: &'static str,
) -> FieldSpec {
    FieldSpec {
        key,
        label,
        help,
        kind,
        required: false,
        advanced: false,
        default: DefaultValue::None,
        options: &[],
        placeholder: None,
        check: Check::None,
    }
}

impl FieldSpec {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }
    const fn default(mut self, d: DefaultValue) -> Self {
        self.default = d;
        self
    }
    const fn placeholder(mut self, p: &'static str) -> Self {
        self.placeholder = Some(p);
        self
    }
    const fn check(mut self, c: Check) -> Self {
        self.check = c;
        self
    }
    const fn options(mut self, o: &'static [(&'static str, &'static str)]) -> Self {
        self.options = o;
        self
    }
}

use Kind::{Bool, File, Number, Secret, Select, Text};

const FILESYSTEM: &[FieldSpec] = &[
    field(Text, "rootdirectory", "Storage directory",
        "The folder images are stored in (Distribution's docker/registry/v2 layout). It is created if missing.")
        .required().check(Check::AbsolutePath).placeholder("/var/lib/registry"),
    field(Number, "maxthreads", "Maximum threads",
        "How many file operations may run at once (at least 25).")
        .advanced().default(DefaultValue::Number(100)).check(Check::AtLeast(25)),
];

const S3_STORAGE_CLASSES: &[(&str, &str)] = &[
    ("STANDARD", "Standard"),
    ("REDUCED_REDUNDANCY", "Reduced redundancy"),
    ("STANDARD_IA", "Standard, infrequent access"),
    ("ONEZONE_IA", "One zone, infrequent access"),
    ("INTELLIGENT_TIERING", "Intelligent tiering"),
    ("GLACIER_IR", "Glacier instant retrieval"),
    (
        "NONE",
        "None (the store's default; for S3-compatible stores)",
    ),
];

const S3_ACLS: &[(&str, &str)] = &[
    ("private", "private"),
    ("public-read", "public-read"),
    ("public-read-write", "public-read-write"),
    ("authenticated-read", "authenticated-read"),
    ("aws-exec-read", "aws-exec-read"),
    ("bucket-owner-read", "bucket-owner-read"),
    ("bucket-owner-full-control", "bucket-owner-full-control"),
];

const S3: &[FieldSpec] = &[
    field(Text, "region", "AWS region",
        "The bucket's region. S3-compatible stores usually accept us-east-1.")
        .required().placeholder("us-east-1"),
    field(Text, "bucket", "S3 bucket name",
        "The bucket images are stored in; it must exist already.")
        .required().check(Check::Bucket).placeholder("my-registry"),
    field(Text, "accesskey", "AWS access key",
        "Leave empty, with the secret key, to use this machine's AWS credentials (environment, profile or instance role).")
        .placeholder("AKIA…"),
    field(Secret, "secretkey", "AWS secret key",
        "Kept in the OS keychain, never in config.yml. Leave empty to keep the stored one."),
    field(Text, "regionendpoint", "Region endpoint",
        "The endpoint of an S3-compatible store (MinIO, Ceph, IBM COS). Leave empty for Amazon S3.")
        .check(Check::Url).placeholder("https://s3.example.com"),
    field(Text, "rootdirectory", "Root directory",
        "A prefix inside the bucket for everything the registry stores. Empty for the bucket's root.")
        .placeholder("/registry"),
    field(Bool, "v4auth", "Signature version 4 auth",
        "Sign requests with AWS Signature Version 4. Turn off only for old stores that need version 2.")
        .advanced().default(DefaultValue::Bool(true)),
    field(Bool, "secure", "Use HTTPS",
        "Talk to the store over HTTPS. Turn off only for a store on a trusted network without TLS.")
        .advanced().default(DefaultValue::Bool(true)),
    field(Bool, "skipverify", "Skip TLS verification",
        "Accept any certificate from the endpoint. Unsafe: prefer a root CA certificate.")
        .advanced().default(DefaultValue::Bool(false)),
    field(File, "rootcacert", "Root CA certificate",
        "Path to a PEM file with the CA that signed the endpoint's certificate, for stores behind a private CA.")
        .advanced().placeholder("/etc/ssl/private-ca.pem"),
    field(Bool, "forcepathstyle", "Force path-style URLs",
        "Address the bucket as endpoint/bucket instead of bucket.endpoint; most S3-compatible stores need this.")
        .advanced().default(DefaultValue::Bool(false)),
    field(Number, "chunksize", "Chunk size (bytes)",
        "Part size of multipart uploads; at least 5 MiB (5242880).")
        .advanced().default(DefaultValue::Number(10 << 20)).check(Check::AtLeast(5 << 20)),
    field(Select, "storageclass", "Storage class",
        "The S3 storage class of stored objects.")
        .advanced().default(DefaultValue::Text("STANDARD")).options(S3_STORAGE_CLASSES),
    field(Bool, "encrypt", "Server-side encryption",
        "Ask S3 to encrypt objects at rest.")
        .advanced().default(DefaultValue::Bool(false)),
    field(Text, "keyid", "KMS key ID",
        "With encryption on: the KMS key to encrypt with. Empty for S3-managed keys.")
        .advanced(),
    field(Select, "objectacl", "Object ACL",
        "The canned ACL given to stored objects.")
        .advanced().default(DefaultValue::Text("private")).options(S3_ACLS),
    field(Secret, "sessiontoken", "AWS session token",
        "For temporary credentials only. Kept in the OS keychain.")
        .advanced(),
];

const AZURE: &[FieldSpec] = &[
    field(Text, "accountname", "Account name",
        "The storage account's name.")
        .required().placeholder("myregistrystore"),
    field(Secret, "accountkey", "Account key",
        "One of the storage account's access keys. Kept in the OS keychain, never in config.yml.")
        .required(),
    field(Text, "container", "Container",
        "The blob container images are stored in: 3 to 63 lowercase letters, digits and hyphens.")
        .required().check(Check::Container).placeholder("registry"),
    field(Text, "realm", "Realm",
        "The Azure cloud's domain: core.windows.net, or core.chinacloudapi.cn, core.usgovcloudapi.net…")
        .default(DefaultValue::Text("core.windows.net")),
    field(Text, "serviceurl", "Service URL",
        "The full blob endpoint, when it is not https://ACCOUNT.blob.REALM (Azurite, private endpoints).")
        .advanced().check(Check::Url).placeholder("https://myaccount.blob.core.windows.net"),
    field(Text, "rootdirectory", "Root directory",
        "A prefix inside the container for everything the registry stores. Empty for the container's root.")
        .advanced(),
];

const SWIFT_ENDPOINTS: &[(&str, &str)] = &[
    ("public", "public"),
    ("internal", "internal"),
    ("admin", "admin"),
];

const SWIFT: &[FieldSpec] = &[
    field(Text, "authurl", "Authentication URL",
        "The Keystone (or TempAuth) URL, e.g. https://keystone.example.com/v3.")
        .required().check(Check::Url).placeholder("https://keystone.example.com/v3"),
    field(Text, "username", "Username",
        "The OpenStack user.")
        .required(),
    field(Secret, "password", "Password",
        "The user's password. Kept in the OS keychain, never in config.yml.")
        .required(),
    field(Text, "container", "Container",
        "The Swift container images are stored in; it is created if missing.")
        .required().placeholder("registry"),
    field(Text, "region", "Region",
        "The OpenStack region, when the cloud has several."),
    field(Text, "tenant", "Tenant (project) name",
        "The project to use (Keystone v2 tenant, v3 project)."),
    field(Text, "tenantid", "Tenant (project) ID",
        "The project's ID, instead of its name.")
        .advanced(),
    field(Text, "domain", "Domain",
        "The Keystone v3 domain name of the user and project."),
    field(Text, "domainid", "Domain ID",
        "The Keystone v3 domain's ID, instead of its name.")
        .advanced(),
    field(Number, "authversion", "Auth version",
        "1, 2 or 3. Empty to tell from the authentication URL.")
        .advanced().check(Check::Between(1, 3)),
    field(Select, "endpointtype", "Endpoint type",
        "Which endpoint of the catalog to use.")
        .advanced().default(DefaultValue::Text("public")).options(SWIFT_ENDPOINTS),
    field(Bool, "insecureskipverify", "Skip TLS verification",
        "Accept any certificate from Swift. Unsafe: only for test clouds.")
        .advanced().default(DefaultValue::Bool(false)),
    field(Number, "chunksize", "Chunk size (bytes)",
        "Segment size of large objects.")
        .advanced().default(DefaultValue::Number(20 << 20)).check(Check::AtLeast(1)),
    field(Text, "prefix", "Prefix",
        "A path inside the container for everything the registry stores.")
        .advanced(),
    field(Secret, "secretkey", "Temp URL secret key",
        "The account's Temp-URL key, to send blob downloads straight to Swift. Kept in the OS keychain.")
        .advanced(),
];

const GCS: &[FieldSpec] = &[
    field(Text, "bucket", "Bucket",
        "The Google Cloud Storage bucket images are stored in; it must exist already.")
        .required().check(Check::Bucket).placeholder("my-registry"),
    field(File, "keyfile", "Key file",
        "Path to a service account's JSON key file. Empty to use this machine's Google credentials.")
        .placeholder("/etc/berth/gcs-key.json"),
    field(Text, "rootdirectory", "Root directory",
        "A prefix inside the bucket for everything the registry stores. Empty for the bucket's root."),
    field(Number, "chunksize", "Chunk size (bytes)",
        "Upload chunk size: a multiple of 256 KiB (262144).")
        .advanced().default(DefaultValue::Number(5 << 20)).check(Check::MultipleOf(256 << 10)),
];

/// The drivers with a form, in the order the page lists them, with their labels.
pub const DRIVERS: [(&str, &str, &[FieldSpec]); 6] = [
    ("filesystem", "Local filesystem", FILESYSTEM),
    ("s3", "Amazon S3 / S3-compatible", S3),
    ("azure", "Microsoft Azure Blob Storage", AZURE),
    ("swift", "OpenStack Swift", SWIFT),
    ("gcs", "Google Cloud Storage", GCS),
    (
        "inmemory",
        "In memory (for tests: lost when the registry stops)",
        &[],
    ),
];

/// The fields of `driver`, when it has a form.
pub fn fields(driver: &str) -> Option<&'static [FieldSpec]> {
    DRIVERS
        .iter()
        .find(|(name, _, _)| *name == driver)
        .map(|(_, _, f)| *f)
}

/// The label of `driver`'s field `key`.
pub fn field_label(driver: &str, key: &str) -> Option<&'static str> {
    fields(driver)?
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.label)
}

/// One field as `storageSchema` answers it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    key: &'static str,
    label: &'static str,
    help: &'static str,
    kind: Kind,
    required: bool,
    advanced: bool,
    default: Value,
    options: Option<Vec<Choice>>,
    placeholder: Option<&'static str>,
}

/// One choice of a select.
#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    value: &'static str,
    label: &'static str,
}

/// One driver's form, as `storageSchema` answers it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverForm {
    driver: &'static str,
    label: &'static str,
    available: bool,
    unavailable_reason: Option<String>,
    fields: Vec<Field>,
}

/// Every driver's form; `available` says whether this build has the driver
/// (`berth_drivers::AVAILABLE`).
pub fn forms() -> Vec<DriverForm> {
    DRIVERS
        .iter()
        .map(|(driver, label, fields)| {
            let unavailable_reason = berth_drivers::check_available(driver)
                .err()
                .map(|e| e.to_string());
            DriverForm {
                driver,
                label,
                available: unavailable_reason.is_none(),
                unavailable_reason,
                fields: fields.iter().map(to_field).collect(),
            }
        })
        .collect()
}

fn to_field(spec: &FieldSpec) -> Field {
    Field {
        key: spec.key,
        label: spec.label,
        help: spec.help,
        kind: spec.kind,
        required: spec.required,
        advanced: spec.advanced,
        default: spec.default.to_json(),
        options: (!spec.options.is_empty()).then(|| {
            spec.options
                .iter()
                .map(|(value, label)| Choice { value, label })
                .collect()
        }),
        placeholder: spec.placeholder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_driver_has_its_form_and_availability_comes_from_the_build() {
        let forms = serde_json::to_value(forms()).unwrap();
        let names: Vec<&str> = forms
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["driver"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["filesystem", "s3", "azure", "swift", "gcs", "inmemory"]
        );
        for form in forms.as_array().unwrap() {
            let name = form["driver"].as_str().unwrap();
            assert_eq!(
                form["available"].as_bool().unwrap(),
                berth_drivers::AVAILABLE.contains(&name),
                "{name}"
            );
            assert_eq!(
                form["unavailableReason"].is_null(),
                form["available"] == true
            );
        }
        let s3 = &forms[1]["fields"];
        let labels: Vec<&str> = s3
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["label"].as_str().unwrap())
            .collect();
        for label in [
            "AWS region",
            "S3 bucket name",
            "AWS access key",
            "AWS secret key",
            "Region endpoint",
            "Root directory",
            "Signature version 4 auth",
            "Use HTTPS",
            "Skip TLS verification",
            "Root CA certificate",
        ] {
            assert!(labels.contains(&label), "{label} missing from {labels:?}");
        }
        assert_eq!(s3[3]["kind"], "secret");
        assert_eq!(s3[6]["default"], true);
        assert!(s3[12]["options"].is_array());
        assert_eq!(forms[0]["fields"][0]["label"], "Storage directory");
    }
}
