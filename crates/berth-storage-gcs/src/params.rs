//! The `storage.gcs` parameters, with Distribution's names and semantics:
//! `bucket` (required), `keyfile` (path of a service account's JSON key),
//! `credentials` (the same JSON's fields inline), `rootdirectory`,
//! `chunksize` (a multiple of 256 KiB, default 16 MiB).

use berth_config::Parameters;
use berth_storage::{DriverParams, OpenError};
use serde_json::Value;

use crate::credentials::{self, Credentials};
use crate::endpoint::Endpoint;
use crate::keys::KeyMap;

/// The driver's name in `config.yml`.
pub const DRIVER: &str = "gcs";

/// Resumable uploads move data in multiples of this (Google's rule).
pub const CHUNK_QUANTUM: u64 = 256 * 1024;

/// Distribution's default `chunksize`.
pub const DEFAULT_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// The largest `chunksize` accepted: a writer buffers one chunk in memory.
pub const MAX_CHUNK_SIZE: u64 = 1024 * 1024 * 1024;

/// Parsed, validated parameters.
#[derive(Debug)]
pub struct Settings {
    /// The bucket.
    pub bucket: String,
    /// Paths ↔ object names.
    pub keys: KeyMap,
    /// Bytes per resumable upload request (a multiple of [`CHUNK_QUANTUM`]).
    pub chunk_size: usize,
    /// How to authenticate (ignored with an emulator, except for signing).
    pub credentials: Credentials,
}

/// Reads and checks `params`; with an emulator no credentials are needed,
/// otherwise Application Default Credentials are looked up (no network).
pub fn parse(params: &Parameters, endpoint: &Endpoint) -> Result<Settings, OpenError> {
    let p = DriverParams::new(DRIVER, params);
    let bucket = p.required("bucket", "the name of the GCS bucket to store in")?;
    let chunk_size = chunk_size(&p)?;
    let credentials = match explicit_credentials(&p)? {
        Some(c) => c,
        None if endpoint.is_emulator() => Credentials::None,
        None => credentials::application_default_from_env().map_err(|e| {
            OpenError::parameter(
                DRIVER,
                "keyfile",
                format!(
                    "not set, and Application Default Credentials failed ({e}): set \
                     storage.gcs.keyfile to the path of a service account's JSON key"
                ),
            )
        })?,
    };
    Ok(Settings {
        bucket,
        keys: KeyMap::new(&p.string("rootdirectory").unwrap_or_default()),
        chunk_size,
        credentials,
    })
}

fn chunk_size(p: &DriverParams<'_>) -> Result<usize, OpenError> {
    let size = p.u64("chunksize")?.unwrap_or(DEFAULT_CHUNK_SIZE);
    if size == 0 || size % CHUNK_QUANTUM != 0 || size > MAX_CHUNK_SIZE {
        return Err(OpenError::parameter(
            DRIVER,
            "chunksize",
            format!(
                "{size} is not a positive multiple of 262144 (256 KiB) up to 1 GiB, as GCS \
                 resumable uploads need: use e.g. {DEFAULT_CHUNK_SIZE} (16 MiB, the default)"
            ),
        ));
    }
    usize::try_from(size).map_err(|_| OpenError::parameter(DRIVER, "chunksize", "too large"))
}

/// `keyfile` (a path) or `credentials` (the key's fields inline), when set.
fn explicit_credentials(p: &DriverParams<'_>) -> Result<Option<Credentials>, OpenError> {
    if let Some(path) = p.string("keyfile") {
        return credentials::read_file(path.as_ref(), false)
            .map(Some)
            .map_err(|e| {
                OpenError::parameter(
                    DRIVER,
                    "keyfile",
                    format!("{e}: point it at a service account's JSON key file"),
                )
            });
    }
    let json = match p.raw().get("credentials") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        // A JSON key pasted as one string is taken too.
        Some(Value::String(s)) if s.trim_start().starts_with('{') => serde_json::from_str(s)
            .map_err(|e| OpenError::parameter(DRIVER, "credentials", format!("not JSON: {e}")))?,
        Some(_) => {
            return Err(OpenError::parameter(
                DRIVER,
                "credentials",
                "must be a mapping of the service account JSON key's fields (type, \
                 client_email, private_key, …), or use keyfile with the key's path",
            ));
        }
    };
    credentials::parse(json, false)
        .map(Some)
        .map_err(|e| OpenError::parameter(DRIVER, "credentials", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::tests::key_json;
    use serde_json::json;

    fn params(pairs: &[(&str, Value)]) -> Parameters {
        let mut p = Parameters::new();
        for (k, v) in pairs {
            p.insert(*k, v.clone());
        }
        p
    }

    fn emulator() -> Endpoint {
        Endpoint::emulator("127.0.0.1:1")
    }

    #[test]
    fn defaults() {
        let s = parse(&params(&[("bucket", json!("b"))]), &emulator()).unwrap();
        assert_eq!(s.bucket, "b");
        assert_eq!(s.chunk_size, 16 << 20);
        assert_eq!(s.keys, KeyMap::new(""));
        assert!(matches!(s.credentials, Credentials::None));
    }

    #[test]
    fn bucket_is_required() {
        let e = parse(&params(&[]), &emulator()).unwrap_err().to_string();
        assert!(e.starts_with("storage.gcs.bucket: missing"), "{e}");
    }

    #[test]
    fn chunk_size_must_be_a_multiple_of_256k() {
        for bad in [json!(1000), json!(0), json!("300000"), json!(2u64 << 30)] {
            let e = parse(
                &params(&[("bucket", json!("b")), ("chunksize", bad)]),
                &emulator(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("storage.gcs.chunksize"), "{e}");
            assert!(e.contains("multiple of 262144"), "{e}");
        }
        let s = parse(
            &params(&[("bucket", json!("b")), ("chunksize", json!("524288"))]),
            &emulator(),
        )
        .unwrap();
        assert_eq!(s.chunk_size, 524288);
        let e = parse(
            &params(&[("bucket", json!("b")), ("chunksize", json!("big"))]),
            &emulator(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("chunksize"), "{e}");
    }

    #[test]
    fn inline_credentials_and_keyfile() {
        let s = parse(
            &params(&[("bucket", json!("b")), ("credentials", key_json())]),
            &Endpoint::google(),
        )
        .unwrap();
        assert!(s.credentials.service_account().is_some());
        let as_string = Value::String(key_json().to_string());
        let s = parse(
            &params(&[("bucket", json!("b")), ("credentials", as_string)]),
            &Endpoint::google(),
        )
        .unwrap();
        assert!(s.credentials.service_account().is_some());

        let e = parse(
            &params(&[("bucket", json!("b")), ("credentials", json!(["x"]))]),
            &Endpoint::google(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("storage.gcs.credentials"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.json");
        std::fs::write(&file, key_json().to_string()).unwrap();
        let s = parse(
            &params(&[
                ("bucket", json!("b")),
                ("keyfile", json!(file.to_str().unwrap())),
                ("rootdirectory", json!("/reg/")),
            ]),
            &emulator(),
        )
        .unwrap();
        assert!(s.credentials.service_account().is_some());
        assert_eq!(s.keys.key("/x"), "reg/x");

        let e = parse(
            &params(&[
                ("bucket", json!("b")),
                ("keyfile", json!("/nonexistent.json")),
            ]),
            &emulator(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("storage.gcs.keyfile"), "{e}");
        assert!(e.contains("/nonexistent.json"), "{e}");
    }
}
