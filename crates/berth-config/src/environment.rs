//! `REGISTRY_*` environment overrides, applied to the document tree the way
//! Distribution's `configuration.Parser` applies them.
//!
//! The rules, from Distribution's `parser.go`:
//!
//! - Only variables named `REGISTRY_…` count. They are applied in lexical
//!   order of their names, so `REGISTRY_STORAGE` (which replaces the whole
//!   `storage` section) comes before `REGISTRY_STORAGE_S3_REGION`.
//! - The name after the prefix is split at `_`. Each part names a field of
//!   the configuration by its *Go field name*, which is the YAML key
//!   upper-cased except for a few: `NOTIFICATIONS_EVENTCONFIG` is
//!   `notifications.events`, `HEALTH_FILECHECKERS` / `HTTPCHECKERS` /
//!   `TCPCHECKERS` are `health.file` / `http` / `tcp`, `LOG_HOOKS_0_MAILOPTIONS`
//!   is `log.hooks[0].options`, `COMPATIBILITY_SCHEMA1_TRUSTKEY` is
//!   `compatibility.schema1.signingkeyfile`.
//! - Inside free-form maps (the `storage` drivers, `auth` providers, driver
//!   parameters, headers) a part matches an existing key ignoring case, or
//!   creates a lower-cased key. Missing sections are created, so
//!   `REGISTRY_AUTH_TOKEN_REALM` alone makes an `auth.token` section.
//! - Inside lists a part is an index; the index one past the end appends.
//! - The value is parsed as YAML: `true` is a boolean, `[a, b]` a list,
//!   `{…}` a mapping, an empty value null.
//!
//! Berth differs in two small ways, both more lenient: names match fields
//! ignoring case, and parameters nested inside driver parameters
//! (`REGISTRY_STORAGE_AZURE_CREDENTIALS_SECRET`) are applied where
//! Distribution silently skips them.

use std::sync::Arc;

use crate::decode::dedupe;
use crate::document::{self, Entry, Kind, Node, Position};
use crate::error::{ConfigError, Warning};
use crate::schema::{PARAMS, ROOT, Shape, Struct};

/// The variable prefix.
const PREFIX: &str = "REGISTRY_";

const EMPTY_PART: &str = "its name has an empty part (two `_` in a row, or a trailing `_`)";

/// Applies the `REGISTRY_*` variables among `env` to `root`.
pub(crate) fn apply(
    root: &mut Node,
    env: impl IntoIterator<Item = (String, String)>,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .collect();
    // Lexical order, so that REGISTRY_STORAGE comes before REGISTRY_STORAGE_S3_….
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in vars {
        let var: Arc<str> = Arc::from(name.as_str());
        let parts: Vec<&str> = name.split('_').skip(1).collect();
        let mut walk = Walk {
            var: &var,
            value: &value,
            parts: &parts,
            warnings,
        };
        walk.fields(root, &ROOT, 0)?;
    }
    Ok(())
}

struct Walk<'a> {
    var: &'a Arc<str>,
    value: &'a str,
    parts: &'a [&'a str],
    warnings: &'a mut Vec<Warning>,
}

impl Walk<'_> {
    fn ignore(&mut self, why: String) {
        self.warnings.push(Warning {
            line: 0,
            column: 0,
            key_path: String::new(),
            message: format!("environment variable {} is ignored: {why}", self.var),
        });
    }

    fn payload(&mut self) -> Result<Node, ConfigError> {
        let mut warnings = Vec::new();
        let mut node = document::parse(self.value, Some(self.var), &mut warnings).map_err(|e| {
            ConfigError::Environment {
                variable: self.var.to_string(),
                message: format!(
                    "its value is read as YAML and is not valid YAML ({}); quote it, e.g. '\"…\"'",
                    e.message
                ),
            }
        })?;
        node.tag_env(self.var);
        dedupe(&mut node, &mut warnings);
        for mut w in warnings {
            w.line = 0;
            w.column = 0;
            if !w.message.starts_with(&**self.var) {
                w.message = format!("{}: {}", self.var, w.message);
            }
            self.warnings.push(w);
        }
        Ok(node)
    }

    fn new_node(&self, kind: Kind) -> Node {
        Node::new(kind, Position::default(), Some(self.var.clone()))
    }

    /// Puts the variable's value in `slot` when `depth` is the name's last
    /// part; otherwise walks on into `slot`, first making it a container of
    /// `shape` when it holds nothing.
    fn fill(&mut self, slot: &mut Node, shape: Shape, depth: usize) -> Result<(), ConfigError> {
        if depth + 1 == self.parts.len() {
            *slot = self.payload()?;
            return Ok(());
        }
        if slot.is_null() {
            *slot = match shape {
                Shape::List(_) => self.new_node(Kind::Seq(Vec::new())),
                _ => self.new_node(Kind::Map(Vec::new())),
            };
        }
        self.descend(slot, shape, depth + 1)
    }

    /// The entry `found` in `entries`, or else a new one named `key`.
    fn entry(&self, entries: &mut Vec<Entry>, found: Option<usize>, key: String) -> usize {
        found.unwrap_or_else(|| {
            entries.push(Entry {
                key,
                key_pos: Position::default(),
                value: self.new_node(Kind::Null),
            });
            entries.len() - 1
        })
    }

    fn descend(&mut self, node: &mut Node, shape: Shape, depth: usize) -> Result<(), ConfigError> {
        match shape {
            Shape::Struct(fields) => self.fields(node, fields, depth),
            Shape::Map(elem) => self.map(node, *elem, depth),
            Shape::Providers => {
                // `storage: s3` is the same as `storage: {s3: {}}`.
                if let Kind::Scalar { text, .. } = &node.kind {
                    let entry = Entry {
                        key: text.clone(),
                        key_pos: node.pos,
                        value: Node::new(Kind::Map(Vec::new()), node.pos, node.env.clone()),
                    };
                    node.kind = Kind::Map(vec![entry]);
                }
                self.map(node, PARAMS, depth)
            }
            Shape::List(elem) => self.list(node, *elem, depth),
            Shape::Any if matches!(node.kind, Kind::Map(_) | Kind::Null) => {
                self.map(node, Shape::Any, depth)
            }
            Shape::Any | Shape::Scalar => {
                let at = self.parts[..depth].join("_");
                self.ignore(format!("`{at}` holds a single value, not a mapping"));
                Ok(())
            }
        }
    }

    fn fields(
        &mut self,
        node: &mut Node,
        fields: &'static Struct,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let part = self.parts[depth];
        let Some(field) = fields.by_go_name(part) else {
            let hint = fields
                .fields()
                .find(|f| f.key.eq_ignore_ascii_case(part))
                .map(|f| {
                    let mut parts: Vec<String> = self.parts.iter().map(|p| p.to_string()).collect();
                    parts[depth] = f.go_name();
                    format!(
                        "; Distribution names this field {PREFIX}{}",
                        parts.join("_")
                    )
                })
                .unwrap_or_default();
            let reason = if part.is_empty() {
                EMPTY_PART.to_string()
            } else {
                format!("`{part}` is not a configuration key here{hint}")
            };
            self.ignore(reason);
            return Ok(());
        };
        let entries = mapping(node);
        let found = entries.iter().rposition(|e| e.key == field.key);
        let i = self.entry(entries, found, field.key.to_string());
        self.fill(&mut entries[i].value, field.shape, depth)
    }

    fn map(&mut self, node: &mut Node, elem: Shape, depth: usize) -> Result<(), ConfigError> {
        let part = self.parts[depth];
        if part.is_empty() {
            self.ignore(EMPTY_PART.to_string());
            return Ok(());
        }
        let entries = mapping(node);
        let found = entries.iter().position(|e| e.key == part).or_else(|| {
            entries
                .iter()
                .position(|e| e.key.eq_ignore_ascii_case(part))
        });
        let i = self.entry(entries, found, part.to_ascii_lowercase());
        self.fill(&mut entries[i].value, elem, depth)
    }

    fn list(&mut self, node: &mut Node, elem: Shape, depth: usize) -> Result<(), ConfigError> {
        let part = self.parts[depth];
        let Ok(index) = part.parse::<usize>() else {
            return Err(ConfigError::Environment {
                variable: self.var.to_string(),
                message: format!(
                    "`{part}` should be a list position (0, 1, …) because `{}` is a list",
                    self.parts[..depth].join("_")
                ),
            });
        };
        if !matches!(node.kind, Kind::Seq(_)) {
            node.kind = Kind::Seq(Vec::new());
        }
        let Kind::Seq(items) = &mut node.kind else {
            unreachable!("made a list above")
        };
        let len = items.len();
        if index > len {
            return Err(ConfigError::Environment {
                variable: self.var.to_string(),
                message: format!(
                    "list position {index} does not exist: `{}` has {len} entries, so the next one is {len}",
                    self.parts[..depth].join("_")
                ),
            });
        }
        if index == len {
            items.push(self.new_node(Kind::Null));
        }
        self.fill(&mut items[index], elem, depth)
    }
}

/// The entries of `node`, which becomes an empty mapping if it is not one.
fn mapping(node: &mut Node) -> &mut Vec<Entry> {
    if !matches!(node.kind, Kind::Map(_)) {
        node.kind = Kind::Map(Vec::new());
    }
    let Kind::Map(entries) = &mut node.kind else {
        unreachable!("made a mapping above")
    };
    entries
}

/// The `REGISTRY_*` variable that sets the value at `key_path` (as
/// [`secret_paths`](crate::secret_paths) writes paths, e.g.
/// `storage.s3.secretkey` or `notifications.endpoints[0].headers.Authorization`),
/// or `None` when no variable can: a key containing `_` (such as gcs
/// `credentials.private_key`) cannot be named, because `_` separates the parts.
///
/// The variable's value is read as YAML, so pass it through
/// [`env_value`](crate::env_value) to keep a string a string.
///
/// ```
/// assert_eq!(
///     berth_config::env_var_for("storage.s3.secretkey").as_deref(),
///     Some("REGISTRY_STORAGE_S3_SECRETKEY")
/// );
/// assert_eq!(
///     berth_config::env_var_for("notifications.events.includereferences").as_deref(),
///     Some("REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES")
/// );
/// assert_eq!(berth_config::env_var_for("storage.gcs.credentials.private_key"), None);
/// ```
pub fn env_var_for(key_path: &str) -> Option<String> {
    let segments = crate::path::split_path(key_path);
    let mut parts = Vec::with_capacity(segments.len());
    let mut shape = Shape::Struct(&ROOT);
    for segment in &segments {
        if segment.is_empty() || segment.contains('_') {
            return None;
        }
        shape = match shape {
            Shape::Struct(fields) => {
                let field = fields.fields().find(|f| f.key == segment)?;
                parts.push(field.go_name());
                field.shape
            }
            Shape::Map(elem) => {
                parts.push(segment.to_ascii_uppercase());
                *elem
            }
            Shape::Providers => {
                parts.push(segment.to_ascii_uppercase());
                PARAMS
            }
            Shape::List(elem) => {
                segment.parse::<usize>().ok()?;
                parts.push(segment.clone());
                *elem
            }
            Shape::Any => {
                parts.push(segment.to_ascii_uppercase());
                Shape::Any
            }
            Shape::Scalar => return None,
        };
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!("{PREFIX}{}", parts.join("_")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Auth, Config, ConfigError, Loaded};

    const BASE: &str = "\
version: 0.1
storage:
  s3:
    Region: us-east-1
    bucket: images
    secretkey: from-file
  delete:
    enabled: false
http:
  addr: :5000
notifications:
  endpoints:
    - name: first
      url: http://first.example/events
";

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(source: &str, vars: &[(&str, &str)]) -> Loaded {
        Config::parse(source, "config.yml", env(vars)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_variable_replaces_a_value() {
        let loaded = load(BASE, &[("REGISTRY_HTTP_ADDR", "127.0.0.1:5001")]);
        assert_eq!(loaded.config.http.addr, "127.0.0.1:5001");
    }

    #[test]
    fn driver_parameters_are_overridden_and_added() {
        let loaded = load(
            BASE,
            &[
                ("REGISTRY_STORAGE_S3_SECRETKEY", "from-env"),
                ("REGISTRY_STORAGE_S3_REGION", "eu-west-1"),
                ("REGISTRY_STORAGE_S3_CHUNKSIZE", "5242880"),
            ],
        );
        let params = &loaded.config.storage.driver.parameters;
        assert_eq!(params.string("secretkey").as_deref(), Some("from-env"));
        // The existing key is matched ignoring case and keeps its spelling.
        assert_eq!(params.keys().next(), Some("Region"));
        assert_eq!(params.get("region"), Some(&json!("eu-west-1")));
        // Values are YAML: a number stays a number.
        assert_eq!(params.get("chunksize"), Some(&json!(5242880)));
        assert_eq!(params.keys().last(), Some("chunksize"));
    }

    #[test]
    fn registry_storage_selects_the_driver() {
        let source = "version: 0.1\nstorage:\n  cache:\n    blobdescriptor: inmemory\n";
        let err = Config::parse(source, "config.yml", []).unwrap_err();
        assert!(
            err.to_string().contains("REGISTRY_STORAGE=filesystem"),
            "{err}"
        );

        // Given in any order, REGISTRY_STORAGE is applied first.
        let loaded = load(
            source,
            &[
                ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/srv/registry"),
                ("REGISTRY_STORAGE", "filesystem"),
            ],
        );
        let storage = &loaded.config.storage;
        assert_eq!(storage.driver.name, "filesystem");
        assert_eq!(
            storage.driver.parameters.string("rootdirectory").as_deref(),
            Some("/srv/registry")
        );
        // As in Distribution, REGISTRY_STORAGE replaces the whole section.
        assert_eq!(storage.cache, None);
    }

    #[test]
    fn a_variable_creates_missing_sections() {
        let loaded = load(
            BASE,
            &[
                ("REGISTRY_AUTH_TOKEN_REALM", "https://auth.example/token"),
                ("REGISTRY_AUTH_TOKEN_SERVICE", "registry"),
                ("REGISTRY_AUTH_TOKEN_ISSUER", "issuer"),
                ("REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE", "/certs/bundle.pem"),
                ("REGISTRY_HTTP_TLS_MINIMUMTLS", "tls1.3"),
            ],
        );
        let Some(Auth::Token(token)) = &loaded.config.auth else {
            panic!("expected token auth, got {:?}", loaded.config.auth);
        };
        assert_eq!(token.realm, "https://auth.example/token");
        assert_eq!(token.service, "registry");
        assert_eq!(
            loaded
                .config
                .http
                .tls
                .as_ref()
                .and_then(|t| t.minimum_tls.as_deref()),
            Some("tls1.3")
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn values_are_parsed_as_yaml() {
        let loaded = load(
            BASE,
            &[
                ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
                (
                    "REGISTRY_NOTIFICATIONS_ENDPOINTS",
                    "[{name: hook, url: 'http://hook.example/', timeout: 2s, headers: {Authorization: [Bearer x]}}]",
                ),
                ("REGISTRY_HTTP_HEADERS", "{X-Frame-Options: [DENY]}"),
            ],
        );
        let config = &loaded.config;
        assert!(config.storage.delete.enabled);
        assert_eq!(config.notifications.endpoints.len(), 1);
        let endpoint = &config.notifications.endpoints[0];
        assert_eq!(endpoint.name, "hook");
        assert_eq!(endpoint.timeout, std::time::Duration::from_secs(2));
        assert_eq!(
            endpoint.headers,
            vec![("Authorization".to_string(), vec!["Bearer x".to_string()])]
        );
        assert_eq!(
            config.http.headers,
            vec![("X-Frame-Options".to_string(), vec!["DENY".to_string()])]
        );
    }

    #[test]
    fn list_positions_override_and_append() {
        let loaded = load(
            BASE,
            &[
                (
                    "REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL",
                    "http://changed.example/",
                ),
                ("REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME", "second"),
                (
                    "REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL",
                    "http://second.example/",
                ),
            ],
        );
        let endpoints = &loaded.config.notifications.endpoints;
        assert_eq!(endpoints.len(), 2);
        assert_eq!(endpoints[0].name, "first");
        assert_eq!(endpoints[0].url, "http://changed.example/");
        assert_eq!(endpoints[1].name, "second");

        let err = Config::parse(
            BASE,
            "config.yml",
            env(&[("REGISTRY_NOTIFICATIONS_ENDPOINTS_3_URL", "x")]),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Environment { .. }));
        assert!(
            err.to_string()
                .contains("REGISTRY_NOTIFICATIONS_ENDPOINTS_3_URL"),
            "{err}"
        );
        assert!(err.to_string().contains("has 1 entries"), "{err}");

        let err = Config::parse(
            BASE,
            "config.yml",
            env(&[("REGISTRY_NOTIFICATIONS_ENDPOINTS_X_URL", "x")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("list position"), "{err}");
    }

    #[test]
    fn names_are_go_field_names() {
        let loaded = load(
            BASE,
            &[
                (
                    "REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES",
                    "true",
                ),
                ("REGISTRY_HEALTH_FILECHECKERS_0_FILE", "/maintenance"),
                ("REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"),
            ],
        );
        assert!(loaded.config.notifications.events.include_references);
        assert_eq!(
            loaded.config.health.file[0].file.to_str(),
            Some("/maintenance")
        );
        assert!(loaded.config.health.storage_driver.enabled);

        // The YAML key is not the Go name: Distribution ignores it, and Berth says so.
        let loaded = load(
            BASE,
            &[("REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES", "true")],
        );
        assert!(!loaded.config.notifications.events.include_references);
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!((loaded.warnings[0].line, loaded.warnings[0].column), (0, 0));
        assert!(
            loaded.warnings[0]
                .message
                .contains("REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES"),
            "{}",
            loaded.warnings[0]
        );
    }

    #[test]
    fn other_variables_are_left_alone_and_unknown_ones_reported() {
        let loaded = load(
            BASE,
            &[
                ("HOME", "/root"),
                ("REGISTRYX_HTTP_ADDR", ":1"),
                ("REGISTRY_FROBNICATE", "1"),
            ],
        );
        assert_eq!(loaded.config.http.addr, ":5000");
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].message.contains("REGISTRY_FROBNICATE"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::parse(
            BASE,
            "config.yml",
            env(&[("REGISTRY_HTTP_ADDR", "[unclosed")]),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Environment { variable, .. } if variable == "REGISTRY_HTTP_ADDR")
        );

        let err = Config::parse(
            BASE,
            "config.yml",
            env(&[("REGISTRY_STORAGE_DELETE_ENABLED", "maybe")]),
        )
        .unwrap_err();
        let problem = &err.problems()[0];
        assert_eq!(
            problem.env_var.as_deref(),
            Some("REGISTRY_STORAGE_DELETE_ENABLED")
        );
        assert_eq!((problem.line, problem.column), (0, 0));
        assert!(
            problem
                .message
                .starts_with("REGISTRY_STORAGE_DELETE_ENABLED: ")
        );
        assert_eq!(
            err.to_string(),
            "REGISTRY_STORAGE_DELETE_ENABLED: `storage.delete.enabled` must be true or false, found `maybe`"
        );
    }

    #[test]
    fn a_second_driver_from_the_environment_is_named() {
        let err = Config::parse(
            BASE,
            "config.yml",
            env(&[("REGISTRY_STORAGE_GCS_BUCKET", "b")]),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("s3 (line 3)"), "{message}");
        assert!(
            message.contains("gcs (from REGISTRY_STORAGE_GCS_BUCKET)"),
            "{message}"
        );
    }

    #[test]
    fn every_secret_can_be_supplied_through_its_variable() {
        let source = "\
version: 0.1
storage:
  azure:
    accountname: acct
    accountkey: file-key
http:
  secret: file-secret
redis:
  addrs: [localhost:6379]
  password: file-password
proxy:
  remoteurl: https://registry-1.docker.io
  password: file-proxy
";
        let config = load(source, &[]).config;
        let paths = crate::secret_paths(&config);
        assert_eq!(
            paths,
            [
                "storage.azure.accountkey",
                "http.secret",
                "redis.password",
                "proxy.password"
            ]
        );
        let vars: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                (
                    super::env_var_for(p).expect("expressible"),
                    crate::env_value("0123"),
                )
            })
            .collect();
        let overridden = Config::parse(source, "config.yml", vars).unwrap().config;
        assert_eq!(
            overridden
                .storage
                .driver
                .parameters
                .string("accountkey")
                .as_deref(),
            Some("0123")
        );
        assert_eq!(overridden.http.secret.as_deref(), Some("0123"));
        assert_eq!(overridden.redis.unwrap().password.as_deref(), Some("0123"));
        assert_eq!(overridden.proxy.unwrap().password.as_deref(), Some("0123"));
    }

    #[test]
    fn variable_names_for_paths() {
        use super::env_var_for;
        assert_eq!(
            env_var_for("http.addr").as_deref(),
            Some("REGISTRY_HTTP_ADDR")
        );
        assert_eq!(
            env_var_for("notifications.endpoints[0].headers.Authorization").as_deref(),
            Some("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS_AUTHORIZATION")
        );
        assert_eq!(
            env_var_for("health.file[2].interval").as_deref(),
            Some("REGISTRY_HEALTH_FILECHECKERS_2_INTERVAL")
        );
        assert_eq!(
            env_var_for("log.hooks[0].options.smtp.password").as_deref(),
            Some("REGISTRY_LOG_HOOKS_0_MAILOPTIONS_SMTP_PASSWORD")
        );
        assert_eq!(env_var_for("http.nonsense"), None);
        assert_eq!(env_var_for("storage.gcs.credentials.private_key"), None);
    }
}
