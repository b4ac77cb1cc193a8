//! Where a config's secrets go: each one is kept in the keychain under its
//! key path (`storage.s3.secretkey`), config.yml holds
//! [`REDACTED`] in its place, and the sidecar receives it as Distribution's
//! own environment override (`REGISTRY_STORAGE_S3_SECRETKEY`).
//!
//! A secret no variable can name (gcs `credentials.private_key`: the `_`
//! separates variable parts) is kept as its nearest enclosing mapping that
//! one can (`storage.gcs.credentials`, stored as JSON). A secret in a section
//! Berth does not know (GitLab's `database.password`) is kept in the keychain
//! and put back on download, but not passed to the sidecar, which does not
//! read that section anyway.

use std::collections::BTreeMap;

use berth_config::{Config, REDACTED, YamlValue, env_value, env_var_for, secret_paths};
use serde_json::Value;

use crate::tree::{contains_text, get_path, join_path, split_path, yaml_to_json};

/// The keychain name of the secret at `path`: the path itself, or the
/// nearest enclosing mapping a `REGISTRY_*` variable can set.
pub fn keychain_name(path: &str) -> String {
    if env_var_for(path).is_some() {
        return path.to_string();
    }
    let segments = split_path(path);
    for len in (3..segments.len()).rev() {
        let ancestor = join_path(&segments[..len]);
        if env_var_for(&ancestor).is_some() {
            return ancestor;
        }
    }
    path.to_string()
}

/// The keychain names of the secrets `config` holds (placeholders
/// included), without repeats, in file order.
pub fn names(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in secret_paths(config) {
        let name = keychain_name(&path);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The secrets `config` carries as real values, by keychain name. Values
/// that are (or contain) the [`REDACTED`] placeholder are left out: they
/// mean "keep the stored one".
pub fn extract(config: &Config) -> BTreeMap<String, String> {
    let tree = tree_of(config);
    let mut out = BTreeMap::new();
    for name in names(config) {
        let Some(value) = get_path(&tree, &name) else {
            continue;
        };
        if contains_text(value, REDACTED) {
            continue;
        }
        if let Some(text) = value_text(value) {
            out.insert(name, text);
        }
    }
    out
}

/// The names among [`names`] whose value in `config` is a placeholder.
pub fn placeholders(config: &Config) -> Vec<String> {
    let tree = tree_of(config);
    names(config)
        .into_iter()
        .filter(|name| get_path(&tree, name).is_some_and(|v| contains_text(v, REDACTED)))
        .collect()
}

/// `config` as config.yml is written: every secret replaced by [`REDACTED`].
pub fn disk_text(config: &Config) -> String {
    config.to_yaml(true)
}

/// The `REGISTRY_*` variables that give the sidecar the secrets `disk`
/// (a config as config.yml holds it) expects, from `stored` (keychain name → value).
pub fn env_vars(disk: &Config, stored: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let tree = tree_of(disk);
    let mut vars = Vec::new();
    for name in names(disk) {
        let (Some(var), Some(text)) = (env_var_for(&name), stored.get(&name)) else {
            continue;
        };
        let shape = get_path(&tree, &name).unwrap_or(&Value::Null);
        vars.push((var, env_text(shape, text)));
    }
    vars
}

/// The configuration with its secrets in place: `disk` plus the stored
/// values, applied the way the sidecar applies them (environment
/// overrides), and the ones no variable can carry set directly.
pub fn with_secrets(
    disk: &Config,
    stored: &BTreeMap<String, String>,
) -> Result<Config, berth_config::ConfigError> {
    let text = disk.to_yaml(false);
    let mut config = Config::parse(&text, "config.yml", env_vars(disk, stored))?.config;
    for name in names(disk) {
        if env_var_for(&name).is_none()
            && let Some(value) = stored.get(&name)
        {
            set_unknown(&mut config, &split_path(&name), value);
        }
    }
    Ok(config)
}

/// A value as a `REGISTRY_*` variable carries it, given the shape the
/// config has at that place: a string stays a string, a list or mapping
/// is passed as JSON (which is YAML).
fn env_text(shape: &Value, text: &str) -> String {
    match shape {
        Value::Array(_) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Array(_)) => v.to_string(),
            _ => Value::Array(vec![Value::String(text.to_string())]).to_string(),
        },
        Value::Object(_) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v.to_string(),
            _ => env_value(text),
        },
        _ => env_value(text),
    }
}

/// A value as the keychain keeps it: strings as they are, anything else as JSON.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// Whether `text` written plain would read as something else than a string
/// (YAML 1.1 as go-yaml v2 reads it), so it must stay quoted.
fn reads_as_non_string(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.is_empty()
        || matches!(
            lower.as_str(),
            "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
        || text.parse::<f64>().is_ok()
        || text.starts_with(['0', '-', '+', '.'])
}

fn tree_of(config: &Config) -> Value {
    // The emitter's output always reads back; an empty tree finds no secrets.
    yaml_to_json(&config.to_yaml(false)).unwrap_or(Value::Null)
}

/// Sets the value at `path` inside one of the config's unknown keys (the
/// only place no environment variable reaches). Returns whether it did.
fn set_unknown(config: &mut Config, path: &[String], value: &str) -> bool {
    for unknown in &mut config.unknown {
        let mut base = unknown.parent.clone();
        base.push(unknown.key.clone());
        if path.len() < base.len() || path[..base.len()] != base[..] {
            continue;
        }
        let mut node = &mut unknown.value;
        for segment in &path[base.len()..] {
            node = match node {
                YamlValue::Map(entries) => match entries.iter_mut().find(|(k, _)| k == segment) {
                    Some((_, v)) => v,
                    None => return false,
                },
                YamlValue::Seq(items) => match segment.parse::<usize>().ok() {
                    Some(i) if i < items.len() => &mut items[i],
                    _ => return false,
                },
                _ => return false,
            };
        }
        *node = YamlValue::Scalar {
            text: value.to_string(),
            quoted: reads_as_non_string(value),
        };
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
version: 0.1
storage:
  gcs:
    bucket: b
    credentials:
      type: service_account
      private_key: pk
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  secret: hmac
notifications:
  endpoints:
    - name: a
      url: http://hook.example/
      headers:
        Authorization: [Bearer t]
database:
  password: dbpw
";

    fn parse(text: &str) -> Config {
        Config::parse(text, "config.yml", []).unwrap().config
    }

    #[test]
    fn names_follow_what_a_variable_can_carry() {
        let config = parse(SOURCE);
        assert_eq!(
            names(&config),
            [
                "storage.gcs.credentials",
                "http.secret",
                "notifications.endpoints[0].headers.Authorization",
                "database.password"
            ]
        );
        let found = extract(&config);
        assert_eq!(found["http.secret"], "hmac");
        assert_eq!(found["database.password"], "dbpw");
        assert_eq!(
            found["notifications.endpoints[0].headers.Authorization"],
            "[\"Bearer t\"]"
        );
        let creds: Value = serde_json::from_str(&found["storage.gcs.credentials"]).unwrap();
        assert_eq!(creds["private_key"], "pk");
    }

    #[test]
    fn disk_text_has_no_secret_and_with_secrets_brings_them_back() {
        let config = parse(SOURCE);
        let stored = extract(&config);
        let disk = disk_text(&config);
        for secret in ["hmac", "dbpw", "Bearer t", "pk\n"] {
            assert!(!disk.contains(secret), "{secret} in\n{disk}");
        }
        let disk = parse(&disk);
        assert!(extract(&disk).is_empty());
        assert_eq!(placeholders(&disk).len(), 4);
        let vars = env_vars(&disk, &stored);
        assert!(vars.contains(&("REGISTRY_HTTP_SECRET".to_string(), "hmac".to_string())));
        assert_eq!(vars.len(), 3, "{vars:?}");
        let full = with_secrets(&disk, &stored).unwrap();
        assert_eq!(full, config);
    }
}
