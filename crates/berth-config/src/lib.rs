//! Distribution `config.yml` for Berth: types, parsing with line and column
//! in every message, `REGISTRY_*` environment overrides, validation, secret
//! redaction, writing back, and diffs.
//!
//! Berth's registry reads the configuration schema of CNCF Distribution
//! (`registry:2`), so an existing Distribution, Harbor, GitLab or OpenShift
//! registry configuration can be pointed at Berth as it is. This crate is
//! where that schema lives:
//!
//! - **Reading** follows Distribution's YAML library (go-yaml v2): YAML 1.1
//!   booleans (`yes`, `True`), Go integer syntax, any scalar accepted where a
//!   string is expected (`[true]` in a header list is the text `"true"`),
//!   durations as Go strings (`10s`, `336h0m0s`) or integer nanoseconds, and
//!   the last of two duplicate keys winning. Unlike go-yaml, Berth *reports*
//!   what go-yaml keeps quiet about: each duplicate key (with both
//!   positions), each unknown key (kept, so a fork's `database:` section
//!   survives [`Config::to_yaml`]), each deprecated spelling.
//! - **Environment overrides** follow Distribution's `parser.go`:
//!   `REGISTRY_STORAGE_S3_SECRETKEY`, `REGISTRY_STORAGE=filesystem`,
//!   `REGISTRY_NOTIFICATIONS_ENDPOINTS='[{name: a, url: …}]'`. The
//!   environment is passed in, so tests never touch the process's. See
//!   [`env_var_for`] for the rules.
//! - **Validation** refuses what Distribution refuses (no storage driver, two
//!   drivers, two auth providers, an unknown log level, `delete.enabled:
//!   maybe`) and what would stop the registry from starting (an htpasswd
//!   provider without a file, a redis cache without redis). Every problem in
//!   the file is listed, each as `config.yml:12:5: …` with what to do.
//! - **Secrets** (s3 `secretkey`, azure `accountkey`, `http.secret`, redis
//!   and proxy passwords, webhook `Authorization` headers, …) are listed by
//!   [`secret_paths`], redacted by `to_yaml(true)` and in [`Config::diff`],
//!   and mapped to the variable that can carry them by [`env_var_for`], so
//!   the desktop app can keep them in the keychain.
//!
//! # Example
//!
//! ```
//! use berth_config::{Auth, Config};
//!
//! let yaml = "\
//! version: 0.1
//! storage:
//!   s3:
//!     bucket: images
//!     region: us-east-1
//!     secretkey: hunter2
//!   delete:
//!     enabled: true
//! http:
//!   addr: :5000
//! frobnicate: yes
//! ";
//! let env = [("REGISTRY_HTTP_ADDR".to_string(), "127.0.0.1:5001".to_string())];
//! let loaded = Config::parse(yaml, "config.yml", env).unwrap();
//! let config = &loaded.config;
//! assert_eq!(config.storage.driver.name, "s3");
//! assert_eq!(config.storage.driver.parameters.string("bucket").as_deref(), Some("images"));
//! assert!(config.storage.delete.enabled);
//! assert_eq!(config.http.addr, "127.0.0.1:5001");
//! assert!(config.auth.is_none());
//!
//! // The unknown key is reported with its position, and kept.
//! assert_eq!(loaded.warnings[0].to_string().split(": ").next(), Some("11:1"));
//! assert!(config.to_yaml(false).contains("frobnicate: yes"));
//!
//! // Secrets are known, and redacted on request.
//! assert_eq!(berth_config::secret_paths(config), ["storage.s3.secretkey"]);
//! assert!(config.to_yaml(true).contains("secretkey: <redacted>"));
//!
//! // Errors say where and what to do.
//! let bad = "version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: maybe\n";
//! let err = Config::parse(bad, "config.yml", []).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "config.yml:5:14: `storage.delete.enabled` must be true or false, found `maybe`"
//! );
//! ```
//!
//! # YAML library
//!
//! Parsing uses [`saphyr-parser`](https://crates.io/crates/saphyr-parser),
//! the parser of the saphyr project, which continues `yaml-rust` and
//! `yaml-rust2` under the same maintainer (it passes the YAML test suite and
//! has two small dependencies). It is used at the event
//! level: every node comes with its line and column, and duplicate keys
//! reach this crate instead of being rejected or silently merged, so both
//! positions can be reported. `serde_yaml` is archived; `serde_yaml_ng`
//! and `serde_yml` go through serde, which loses positions and rejects
//! duplicates. Scalars are resolved here with go-yaml v2's rules, not
//! YAML 1.2's, because that is what Distribution does. Writing uses a small
//! emitter in this crate, which keeps the source's key order.

#![forbid(unsafe_code)]

mod decode;
mod document;
mod duration;
mod encode;
mod environment;
mod error;
mod model;
mod parameters;
mod path;
mod schema;
mod secrets;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

pub use document::YamlValue;
pub use duration::{format_go_duration, parse_go_duration};
pub use environment::env_var_for;
pub use error::{ConfigError, ParamError, Problem, ProblemKind, Warning};
pub use model::*;
pub use parameters::Parameters;
pub use path::{join_path, split_path};
pub use secrets::{REDACTED, SECRET_HEADERS, SECRET_KEYS};

/// A configuration that loaded, with what deserves a look.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Unknown keys, duplicate keys, deprecated spellings, ignored variables, in file order.
    pub warnings: Vec<Warning>,
}

/// One difference between two configurations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Dotted path of the value, e.g. `storage.s3.region` or `notifications.endpoints[0].url`.
    pub key_path: String,
    /// The value before, as YAML text; `None` when it was not set. Secrets read [`REDACTED`].
    pub old: Option<String>,
    /// The value after, as YAML text; `None` when it is no longer set. Secrets read [`REDACTED`].
    pub new: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".to_string());
        write!(
            f,
            "{}: {} → {}",
            self.key_path,
            show(&self.old),
            show(&self.new)
        )
    }
}

impl Config {
    /// Reads the file at `path` and applies the process's `REGISTRY_*` variables.
    /// Messages name the file as `path` is written.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Config::parse(&source, &path.display().to_string(), env)
    }

    /// Parses `source`, names it `origin` in messages (`config.yml:12:5: …`),
    /// and applies the `REGISTRY_*` variables among `env`.
    pub fn parse(
        source: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let mut warnings = Vec::new();
        let mut root =
            document::parse(source, None, &mut warnings).map_err(|e| ConfigError::Syntax {
                origin: origin.to_string(),
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
            })?;
        decode::dedupe(&mut root, &mut warnings);
        environment::apply(&mut root, env, &mut warnings)?;
        let layout = decode::layout(&mut root);
        match decode::decode(&root, layout) {
            Ok((config, more)) => {
                warnings.extend(more);
                warnings.sort_by_key(|w| (w.line == 0, w.line, w.column));
                Ok(Loaded { config, warnings })
            }
            Err(problems) => Err(ConfigError::Invalid {
                origin: origin.to_string(),
                problems,
            }),
        }
    }

    /// The configuration `berthd serve` runs with when given none: a
    /// developer's local registry on `127.0.0.1:5000`, storing under
    /// `root_dir`, with deletes allowed, an in-memory blob descriptor cache,
    /// `X-Content-Type-Options: nosniff`, and a storage health check every 10s.
    pub fn embedded_default(root_dir: &Path) -> Config {
        let mut parameters = Parameters::new();
        parameters.insert(
            "rootdirectory",
            serde_json::Value::String(root_dir.to_string_lossy().into_owned()),
        );
        let mut storage = Storage::new(DriverConfig {
            name: "filesystem".to_string(),
            parameters,
        });
        storage.delete.enabled = true;
        storage.cache = Some(Cache {
            blob_descriptor: Some(BlobDescriptorCache::InMemory),
            blob_descriptor_size: None,
        });
        Config {
            version: "0.1".to_string(),
            log: Log::default(),
            storage,
            auth: None,
            middleware: Middlewares::default(),
            reporting: Reporting::default(),
            http: Http {
                addr: "127.0.0.1:5000".to_string(),
                headers: vec![(
                    "X-Content-Type-Options".to_string(),
                    vec!["nosniff".to_string()],
                )],
                ..Http::default()
            },
            notifications: Notifications::default(),
            redis: None,
            health: Health {
                storage_driver: StorageDriverHealth {
                    enabled: true,
                    interval: Duration::from_secs(10),
                    threshold: 3,
                },
                ..Health::default()
            },
            catalog: Catalog::default(),
            proxy: None,
            compatibility: Compatibility::default(),
            validation: Validation::default(),
            policy: Policy::default(),
            tags: Tags::default(),
            unknown: Vec::new(),
            layout: Layout::default(),
        }
    }

    /// The configuration as a `config.yml`: keys in the order the source file
    /// had them, defaults left out unless the source wrote them, unknown keys
    /// kept. With `redact`, every secret reads [`REDACTED`].
    ///
    /// Parsing the result gives back an equal configuration.
    pub fn to_yaml(&self, redact: bool) -> String {
        let mut out = encode::config_out(self, encode::Mode::Source);
        if redact {
            encode::redact(&mut out);
        }
        encode::render(&out)
    }

    /// What changed from `self` to `other`, value by value, defaults
    /// included (turning `storage.delete.enabled` off shows `true → false`).
    /// Secrets show as [`REDACTED`].
    pub fn diff(&self, other: &Config) -> Vec<Change> {
        let leaves =
            |config: &Config| encode::leaves(encode::config_out(config, encode::Mode::Full));
        let before = leaves(self);
        let after = leaves(other);
        let shown = |path: &[String], value: &str| {
            if secrets::is_secret(path) {
                REDACTED.to_string()
            } else {
                value.to_string()
            }
        };
        // An empty mapping or list is a leaf of its own; it is no change when
        // the other side has values below the same path.
        let covered = |leaves: &[(Vec<String>, String)], path: &[String], value: &str| {
            (value == "{}" || value == "[]")
                && leaves
                    .iter()
                    .any(|(p, _)| p.len() > path.len() && p.starts_with(path))
        };
        let mut changes = Vec::new();
        for (path, old) in &before {
            let new = after.iter().find(|(p, _)| p == path).map(|(_, v)| v);
            if new == Some(old) || (new.is_none() && covered(&after, path, old)) {
                continue;
            }
            changes.push(Change {
                key_path: path::join_path(path),
                old: Some(shown(path, old)),
                new: new.map(|v| shown(path, v)),
            });
        }
        for (path, new) in &after {
            if before.iter().any(|(p, _)| p == path) || covered(&before, path, new) {
                continue;
            }
            changes.push(Change {
                key_path: path::join_path(path),
                old: None,
                new: Some(shown(path, new)),
            });
        }
        changes
    }

    /// The unknown key at the top level named `name` (a fork's section such as
    /// GitLab's `database`), if the file had one.
    pub fn unknown_section(&self, name: &str) -> Option<&YamlValue> {
        self.unknown
            .iter()
            .find(|u| u.parent.is_empty() && u.key == name)
            .map(|u| &u.value)
    }
}

/// Dotted key paths of the secrets this configuration holds (non-empty
/// values only), in file order: `storage.s3.secretkey`, `http.secret`,
/// `notifications.endpoints[0].headers.Authorization`, …
///
/// These are exactly the values `to_yaml(true)` redacts; [`env_var_for`]
/// names the `REGISTRY_*` variable that can supply each one instead.
pub fn secret_paths(config: &Config) -> Vec<String> {
    let out = encode::config_out(config, encode::Mode::Source);
    encode::secrets(out)
        .iter()
        .map(|p| path::join_path(p))
        .collect()
}

/// `text` written so that a `REGISTRY_*` variable (whose value is read as
/// YAML) yields exactly this string: quoted when it would otherwise read as a
/// number, boolean or null (`0123`, `true`, `""`) or is not plain YAML.
///
/// ```
/// assert_eq!(berth_config::env_value("s3cr3t"), "s3cr3t");
/// assert_eq!(berth_config::env_value("0123"), "\"0123\"");
/// ```
pub fn env_value(text: &str) -> String {
    encode::render(&encode::Out::Str(text.to_string()))
        .trim_end_matches('\n')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RICH: &str = "\
version: 0.1
http:
  addr: :5000
  secret: hmac-secret
  headers:
    X-Content-Type-Options: [nosniff]
    Access-Control-Allow-Origin: ['*']
  tls:
    certificate: /certs/tls.crt
    key: /certs/tls.key
    clientcas: [/certs/ca.pem]
storage:
  s3:
    region: us-east-1
    accesskey: AKIAEXAMPLE
    secretkey: s3-secret
    bucket: images
    secure: true
    chunksize: 5242880
    port: \"42\"
    nested: {b: 1, a: [x, 2]}
  redirect:
    disable: true
  delete:
    enabled: false
log:
  level: debug
  fields:
    service: registry
redis:
  addrs: [redis:6379]
  password: redis-secret
  dialtimeout: 10ms
notifications:
  endpoints:
    - name: hook
      url: http://hook.example/events
      headers:
        Authorization: [Bearer token]
      timeout: 3000ms
      maxretries: 5
proxy:
  remoteurl: https://registry-1.docker.io
  password: proxy-secret
  ttl: 336h0m0s
database:
  host: db
  password: db-secret
";

    fn parse(source: &str) -> Config {
        Config::parse(source, "config.yml", [])
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    fn top_keys(yaml: &str) -> Vec<&str> {
        yaml.lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .map(|l| l.split(':').next().unwrap())
            .collect()
    }

    #[test]
    fn to_yaml_round_trips_and_keeps_order_and_unknown_keys() {
        let config = parse(RICH);
        let yaml = config.to_yaml(false);
        assert_eq!(parse(&yaml), config, "{yaml}");
        assert_eq!(
            top_keys(&yaml),
            [
                "version",
                "http",
                "storage",
                "log",
                "redis",
                "notifications",
                "proxy",
                "database"
            ]
        );
        assert!(
            yaml.contains("  s3:\n    region: us-east-1\n    accesskey: AKIAEXAMPLE\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("    nested:\n      b: 1\n      a: [x, 2]\n"),
            "{yaml}"
        );
        assert!(yaml.contains("    port: \"42\"\n"), "{yaml}");
        assert!(yaml.contains("      maxretries: 5\n"), "{yaml}");
        // Defaults the file wrote stay written.
        assert!(yaml.contains("  delete:\n    enabled: false\n"), "{yaml}");
        // Written again, the text is stable.
        assert_eq!(parse(&yaml).to_yaml(false), yaml);
    }

    #[test]
    fn secrets_are_listed_and_redacted() {
        let config = parse(RICH);
        assert_eq!(
            secret_paths(&config),
            [
                "http.secret",
                "storage.s3.secretkey",
                "redis.password",
                "notifications.endpoints[0].headers.Authorization",
                "proxy.password",
                "database.password",
            ]
        );
        let redacted = config.to_yaml(true);
        for secret in [
            "hmac-secret",
            "s3-secret",
            "redis-secret",
            "Bearer token",
            "proxy-secret",
            "db-secret",
        ] {
            assert!(!redacted.contains(secret), "{secret} leaked:\n{redacted}");
        }
        assert!(redacted.contains("accesskey: AKIAEXAMPLE"), "{redacted}");
        assert!(
            redacted.contains("Authorization: [<redacted>]"),
            "{redacted}"
        );
        // The redacted file still loads, with the placeholder in place of each secret.
        let reloaded = parse(&redacted);
        assert_eq!(reloaded.http.secret.as_deref(), Some(REDACTED));
        assert_eq!(
            reloaded
                .storage
                .driver
                .parameters
                .string("secretkey")
                .as_deref(),
            Some(REDACTED)
        );
        assert_eq!(secret_paths(&reloaded).len(), 6);
    }

    #[test]
    fn diff_lists_changed_paths_and_hides_secrets() {
        let before = parse(RICH);
        assert!(before.diff(&before.clone()).is_empty());

        let after_source = RICH
            .replace("region: us-east-1", "region: eu-west-1")
            .replace("s3-secret", "rotated")
            .replace(
                "  delete:\n    enabled: false\n",
                "  delete:\n    enabled: true\n",
            )
            .replace("  dialtimeout: 10ms\n", "")
            .replace("log:\n", "log:\n  formatter: json\n");
        let after = parse(&after_source);
        let changes = before.diff(&after);
        let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            shown,
            [
                "storage.s3.region: us-east-1 → eu-west-1",
                "storage.s3.secretkey: <redacted> → <redacted>",
                "storage.delete.enabled: false → true",
                "redis.dialtimeout: 10ms → (not set)",
                "log.formatter: (not set) → json",
            ]
        );
    }

    #[test]
    fn the_embedded_default_is_a_local_developer_registry() {
        let config = Config::embedded_default(Path::new("/home/dev/.local/share/berth/registry"));
        assert_eq!(config.version, "0.1");
        assert_eq!(config.log.level, LogLevel::Info);
        assert_eq!(config.storage.driver.name, "filesystem");
        assert_eq!(
            config
                .storage
                .driver
                .parameters
                .string("rootdirectory")
                .as_deref(),
            Some("/home/dev/.local/share/berth/registry")
        );
        assert!(config.storage.delete.enabled);
        assert_eq!(
            config
                .storage
                .cache
                .as_ref()
                .and_then(|c| c.blob_descriptor.clone()),
            Some(BlobDescriptorCache::InMemory)
        );
        assert_eq!(config.http.addr, "127.0.0.1:5000");
        assert_eq!(
            config.http.headers,
            [(
                "X-Content-Type-Options".to_string(),
                vec!["nosniff".to_string()]
            )]
        );
        assert!(config.health.storage_driver.enabled);
        assert_eq!(
            config.health.storage_driver.interval,
            Duration::from_secs(10)
        );
        assert_eq!(config.health.storage_driver.threshold, 3);
        assert!(secret_paths(&config).is_empty());

        let yaml = config.to_yaml(false);
        let reloaded = Config::parse(&yaml, "default.yml", []).unwrap();
        assert!(reloaded.warnings.is_empty(), "{:?}", reloaded.warnings);
        assert_eq!(reloaded.config, config, "{yaml}");
    }

    #[test]
    fn load_reads_a_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        std::fs::write(
            &path,
            "version: 0.1\nstorage: inmemory\nhttp:\n  addr: 7\n  net: [tcp]\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:5:8: `http.net` must be a single value, found a list",
                path.display()
            )
        );
        std::fs::write(&path, "version: 0.1\nstorage: inmemory\n").unwrap();
        assert_eq!(
            Config::load(&path).unwrap().config.storage.driver.name,
            "inmemory"
        );
        let err = Config::load(&dir.path().join("missing.yml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn env_values_stay_strings() {
        for text in [
            "plain",
            "0123",
            "true",
            "",
            "~",
            "a: b",
            "x #y",
            "-",
            "10s",
            "line\nbreak",
        ] {
            let yaml = format!(
                "version: 0.1\nstorage:\n  s3:\n    secretkey: {}\n",
                env_value(text)
            );
            let config = parse(&yaml);
            assert_eq!(
                config.storage.driver.parameters.get("secretkey"),
                Some(&serde_json::Value::String(text.to_string())),
                "{text:?} as {yaml}"
            );
        }
    }
}
