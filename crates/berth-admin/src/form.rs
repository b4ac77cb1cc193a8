//! A storage form checked field by field and applied to a configuration:
//! the form's settings change, everything else in config.yml stays.

use std::collections::BTreeMap;

use berth_config::{Config, DriverConfig, Parameters};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::AdminError;
use crate::schema::{self, Check, FieldSpec, Kind};

/// What `storageTest` and `storageSave` take.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageForm {
    /// The driver's name, e.g. `s3`.
    pub driver: String,
    /// Field values by key; a field left out is not changed.
    #[serde(default)]
    pub values: Map<String, Value>,
}

/// What a field's entry means once checked.
enum Entry {
    /// Set to this value.
    Set(Value),
    /// Emptied: unset it (a secret keeps the stored one).
    Empty,
}

/// `config` (with its secrets) with the form's storage settings applied.
/// `stored` holds the secrets the keychain has for this driver's fields
/// (keychain name → value): an empty secret field keeps that one.
///
/// Unknown settings, wrong types, missing required settings, malformed URLs
/// and out-of-range numbers are all reported at once, as `invalid-input`
/// with a message per field.
pub fn apply(
    form: &StorageForm,
    config: &Config,
    stored: &BTreeMap<String, String>,
) -> Result<Config, AdminError> {
    let Some(fields) = schema::fields(&form.driver) else {
        let known: Vec<&str> = schema::DRIVERS.iter().map(|(n, _, _)| *n).collect();
        return Err(AdminError::invalid_input(
            format!("there is no storage driver named {:?}", form.driver),
            format!("choose one of: {}", known.join(", ")),
        ));
    };
    let mut errors = BTreeMap::new();
    let same_driver = config.storage.driver.name == form.driver;
    let mut params = if same_driver {
        config.storage.driver.parameters.clone()
    } else {
        Parameters::new()
    };
    for (key, raw) in &form.values {
        let Some(spec) = fields.iter().find(|f| f.key == key) else {
            errors.insert(
                key.clone(),
                format!("{key} is not a setting of the {} driver", form.driver),
            );
            continue;
        };
        match check(spec, raw) {
            Err(message) => {
                errors.insert(key.clone(), message);
            }
            Ok(Entry::Set(value)) => {
                params.insert(key.clone(), value);
            }
            Ok(Entry::Empty) if spec.kind == Kind::Secret => {
                if !same_driver {
                    params.remove(key);
                }
            }
            Ok(Entry::Empty) => {
                params.remove(key);
            }
        }
    }
    // Secrets the form left alone come from the keychain.
    for spec in fields.iter().filter(|f| f.kind == Kind::Secret) {
        let name = format!("storage.{}.{}", form.driver, spec.key);
        let set = params.string(spec.key).is_some_and(|v| !v.is_empty());
        if !set && let Some(value) = stored.get(&name) {
            params.insert(spec.key, Value::String(value.clone()));
        }
    }
    for spec in fields.iter().filter(|f| f.required) {
        let present = params.get(spec.key).is_some_and(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            _ => true,
        });
        if !present && !errors.contains_key(spec.key) {
            errors.insert(spec.key.to_string(), format!("{} is required", spec.label));
        }
    }
    if !errors.is_empty() {
        let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        return Err(AdminError::invalid_input(
            format!(
                "some {} settings need fixing: {}",
                form.driver,
                keys.join(", ")
            ),
            "correct the fields marked in the form, then save again",
        )
        .with_fields(errors));
    }
    let mut out = config.clone();
    out.storage.driver = DriverConfig {
        name: form.driver.clone(),
        parameters: params,
    };
    Ok(out)
}

/// Checks one entry against its field's kind and check.
fn check(spec: &FieldSpec, raw: &Value) -> Result<Entry, String> {
    let label = spec.label;
    let text = match raw {
        Value::Null => return Ok(Entry::Empty),
        Value::String(s) if s.trim().is_empty() => return Ok(Entry::Empty),
        Value::String(s) => s.trim().to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err(format!("{label} takes a single value"));
        }
    };
    match spec.kind {
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(Entry::Set(Value::Bool(true))),
            "false" | "0" | "off" | "no" => Ok(Entry::Set(Value::Bool(false))),
            _ => Err(format!("{label} must be on or off")),
        },
        Kind::Number => {
            let n: u64 = text
                .parse()
                .map_err(|_| format!("{label} must be a whole number, not {text:?}"))?;
            match spec.check {
                Check::AtLeast(min) if n < min => Err(format!("{label} must be at least {min}")),
                Check::Between(lo, hi) if n < lo || n > hi => {
                    Err(format!("{label} must be between {lo} and {hi}"))
                }
                Check::MultipleOf(m) if n == 0 || !n.is_multiple_of(m) => {
                    Err(format!("{label} must be a multiple of {m}"))
                }
                _ => Ok(Entry::Set(Value::from(n))),
            }
        }
        Kind::Select => {
            if spec.options.iter().any(|(v, _)| *v == text) {
                Ok(Entry::Set(Value::String(text)))
            } else {
                let values: Vec<&str> = spec.options.iter().map(|(v, _)| *v).collect();
                Err(format!("{label} must be one of: {}", values.join(", ")))
            }
        }
        Kind::Text | Kind::Secret | Kind::Textarea | Kind::File => {
            check_text(spec, &text)?;
            Ok(Entry::Set(Value::String(text)))
        }
    }
}

fn check_text(spec: &FieldSpec, text: &str) -> Result<(), String> {
    let label = spec.label;
    match spec.check {
        Check::Url => match reqwest::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
            Ok(_) => Err(format!("{label} must start with http:// or https://")),
            Err(e) => Err(format!(
                "{label} is not a URL ({e}); write it like https://host:port"
            )),
        },
        Check::AbsolutePath if !std::path::Path::new(text).is_absolute() => Err(format!(
            "{label} must be an absolute path, like /var/lib/registry"
        )),
        Check::Bucket => {
            let ok_chars = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !(3..=63).contains(&text.len()) || !ok_chars {
                Err(format!(
                    "{label} must be 3 to 63 letters, digits, dots or hyphens (the bucket's name, not a URL)"
                ))
            } else {
                Ok(())
            }
        }
        Check::Container => {
            let ok_chars = text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !(3..=63).contains(&text.len()) || !ok_chars {
                Err(format!(
                    "{label} must be 3 to 63 lowercase letters, digits or hyphens"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The current driver's settings for the form: every parameter except
/// secrets (and placeholders), plus which secret fields are set.
pub fn current_values(config: &Config) -> (Map<String, Value>, Vec<String>) {
    let driver = &config.storage.driver;
    let secret_keys: Vec<&str> = schema::fields(&driver.name)
        .unwrap_or(&[])
        .iter()
        .filter(|f| f.kind == Kind::Secret)
        .map(|f| f.key)
        .collect();
    let mut values = Map::new();
    let mut secrets_set = Vec::new();
    for (key, value) in driver.parameters.iter() {
        let is_secret = secret_keys.iter().any(|k| k.eq_ignore_ascii_case(key))
            || berth_config::SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str());
        if is_secret {
            if !value.is_null() && value.as_str() != Some("") {
                secrets_set.push(key.to_string());
            }
        } else {
            values.insert(key.to_string(), value.clone());
        }
    }
    (values, secrets_set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        let yaml = "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: images\n    secretkey: <redacted>\n    multipartcopychunksize: 33554432\n  redirect:\n    disable: true\nhttp:\n  addr: 127.0.0.1:5000\nextra: kept\n";
        Config::parse(yaml, "c", []).unwrap().config
    }

    fn form(driver: &str, values: Value) -> StorageForm {
        serde_json::from_value(json!({ "driver": driver, "values": values })).unwrap()
    }

    #[test]
    fn applies_the_form_and_keeps_the_rest() {
        let stored = BTreeMap::from([("storage.s3.secretkey".to_string(), "sk".to_string())]);
        let out = apply(
            &form("s3", json!({ "region": "eu-west-1", "secretkey": "", "secure": "false", "chunksize": "6291456" })),
            &config(),
            &stored,
        )
        .unwrap();
        let p = &out.storage.driver.parameters;
        assert_eq!(p.string("region").as_deref(), Some("eu-west-1"));
        assert_eq!(p.get("secure"), Some(&json!(false)));
        assert_eq!(p.get("chunksize"), Some(&json!(6291456)));
        assert_eq!(p.get("multipartcopychunksize"), Some(&json!(33554432)));
        // An empty secret keeps the stored value, not the placeholder.
        assert_eq!(p.string("secretkey").as_deref(), Some("<redacted>"));
        assert!(out.storage.redirect.disable);
        assert!(out.to_yaml(false).contains("extra: kept"));

        let switched = apply(
            &form("filesystem", json!({ "rootdirectory": "/srv/registry" })),
            &config(),
            &stored,
        )
        .unwrap();
        assert_eq!(switched.storage.driver.name, "filesystem");
        assert_eq!(switched.storage.driver.parameters.len(), 1);
        assert!(switched.storage.redirect.disable);
    }

    #[test]
    fn reports_every_bad_field() {
        let err = apply(
            &form(
                "s3",
                json!({ "bucket": "", "regionendpoint": "not a url", "chunksize": 5, "secure": "maybe", "nope": 1 }),
            ),
            &config(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::InvalidInput);
        let keys: Vec<&str> = err.fields.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["bucket", "chunksize", "nope", "regionendpoint", "secure"]
        );
        assert_eq!(err.fields["bucket"], "S3 bucket name is required");
        assert!(err.fields["chunksize"].contains("at least 5242880"));

        let err = apply(&form("azure", json!({})), &config(), &BTreeMap::new()).unwrap_err();
        assert_eq!(err.fields.len(), 3, "{:?}", err.fields);
        let err = apply(&form("ftp", json!({})), &config(), &BTreeMap::new()).unwrap_err();
        assert!(err.message.contains("ftp"));
    }

    #[test]
    fn current_values_hide_secrets() {
        let (values, set) = current_values(&config());
        assert_eq!(values["bucket"], "images");
        assert!(!values.contains_key("secretkey"));
        assert_eq!(set, ["secretkey"]);
    }
}
