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

/// What a place in the configuration holds, for walking variable names.
#[derive(Clone, Copy)]
enum Shape {
    /// A Go struct: fixed fields with Go names and YAML keys.
    Struct(&'static [Field]),
    /// A map from free keys to values of one shape.
    Map(&'static Shape),
    /// `storage` and `auth`: a map of names to parameter maps, also written as a bare name.
    Providers,
    /// A list of values of one shape.
    List(&'static Shape),
    /// A single value.
    Scalar,
    /// Anything (`interface{}`): a parameter value.
    Any,
}

#[derive(Clone, Copy)]
struct Field {
    go: &'static str,
    key: &'static str,
    shape: Shape,
}

const fn f(go: &'static str, key: &'static str, shape: Shape) -> Field {
    Field { go, key, shape }
}

const S: Shape = Shape::Scalar;
const STRINGS: Shape = Shape::List(&Shape::Scalar);
const HEADERS: Shape = Shape::Map(&STRINGS);
const PARAMS: Shape = Shape::Map(&Shape::Any);

const LOG: &[Field] = &[
    f(
        "ACCESSLOG",
        "accesslog",
        Shape::Struct(&[f("DISABLED", "disabled", S)]),
    ),
    f("LEVEL", "level", S),
    f("FORMATTER", "formatter", S),
    f("FIELDS", "fields", PARAMS),
    f(
        "HOOKS",
        "hooks",
        Shape::List(&Shape::Struct(&[
            f("DISABLED", "disabled", S),
            f("TYPE", "type", S),
            f("LEVELS", "levels", STRINGS),
            f(
                "MAILOPTIONS",
                "options",
                Shape::Struct(&[
                    f(
                        "SMTP",
                        "smtp",
                        Shape::Struct(&[
                            f("ADDR", "addr", S),
                            f("USERNAME", "username", S),
                            f("PASSWORD", "password", S),
                            f("INSECURE", "insecure", S),
                        ]),
                    ),
                    f("FROM", "from", S),
                    f("TO", "to", STRINGS),
                ]),
            ),
        ])),
    ),
    f("REPORTCALLER", "reportcaller", S),
];

const MIDDLEWARE: Shape = Shape::Struct(&[
    f("NAME", "name", S),
    f("DISABLED", "disabled", S),
    f("OPTIONS", "options", PARAMS),
]);

const HTTP: &[Field] = &[
    f("ADDR", "addr", S),
    f("NET", "net", S),
    f("HOST", "host", S),
    f("PREFIX", "prefix", S),
    f("SECRET", "secret", S),
    f("RELATIVEURLS", "relativeurls", S),
    f("DRAINTIMEOUT", "draintimeout", S),
    f(
        "TLS",
        "tls",
        Shape::Struct(&[
            f("CERTIFICATE", "certificate", S),
            f("KEY", "key", S),
            f("CLIENTCAS", "clientcas", STRINGS),
            f("CLIENTAUTH", "clientauth", S),
            f("MINIMUMTLS", "minimumtls", S),
            f("CIPHERSUITES", "ciphersuites", STRINGS),
            f(
                "LETSENCRYPT",
                "letsencrypt",
                Shape::Struct(&[
                    f("CACHEFILE", "cachefile", S),
                    f("EMAIL", "email", S),
                    f("HOSTS", "hosts", STRINGS),
                    f("DIRECTORYURL", "directoryurl", S),
                ]),
            ),
        ]),
    ),
    f("HEADERS", "headers", HEADERS),
    f(
        "DEBUG",
        "debug",
        Shape::Struct(&[
            f("ADDR", "addr", S),
            f(
                "PROMETHEUS",
                "prometheus",
                Shape::Struct(&[f("ENABLED", "enabled", S), f("PATH", "path", S)]),
            ),
        ]),
    ),
    f(
        "HTTP2",
        "http2",
        Shape::Struct(&[f("DISABLED", "disabled", S)]),
    ),
    f("H2C", "h2c", Shape::Struct(&[f("ENABLED", "enabled", S)])),
];

const NOTIFICATIONS: &[Field] = &[
    f(
        "EVENTCONFIG",
        "events",
        Shape::Struct(&[f("INCLUDEREFERENCES", "includereferences", S)]),
    ),
    f(
        "ENDPOINTS",
        "endpoints",
        Shape::List(&Shape::Struct(&[
            f("NAME", "name", S),
            f("DISABLED", "disabled", S),
            f("URL", "url", S),
            f("HEADERS", "headers", HEADERS),
            f("TIMEOUT", "timeout", S),
            f("THRESHOLD", "threshold", S),
            f("BACKOFF", "backoff", S),
            f("IGNOREDMEDIATYPES", "ignoredmediatypes", STRINGS),
            f(
                "IGNORE",
                "ignore",
                Shape::Struct(&[
                    f("MEDIATYPES", "mediatypes", STRINGS),
                    f("ACTIONS", "actions", STRINGS),
                ]),
            ),
        ])),
    ),
];

const REDIS: &[Field] = &[
    // go-redis UniversalOptions, inlined by Distribution v3.
    f("ADDRS", "addrs", STRINGS),
    f("CLIENTNAME", "clientname", S),
    f("DB", "db", S),
    f("PROTOCOL", "protocol", S),
    f("USERNAME", "username", S),
    f("PASSWORD", "password", S),
    f("SENTINELUSERNAME", "sentinelusername", S),
    f("SENTINELPASSWORD", "sentinelpassword", S),
    f("MAXRETRIES", "maxretries", S),
    f("MINRETRYBACKOFF", "minretrybackoff", S),
    f("MAXRETRYBACKOFF", "maxretrybackoff", S),
    f("DIALTIMEOUT", "dialtimeout", S),
    f("READTIMEOUT", "readtimeout", S),
    f("WRITETIMEOUT", "writetimeout", S),
    f("CONTEXTTIMEOUTENABLED", "contexttimeoutenabled", S),
    f("POOLFIFO", "poolfifo", S),
    f("POOLSIZE", "poolsize", S),
    f("POOLTIMEOUT", "pooltimeout", S),
    f("MINIDLECONNS", "minidleconns", S),
    f("MAXIDLECONNS", "maxidleconns", S),
    f("MAXACTIVECONNS", "maxactiveconns", S),
    f("CONNMAXIDLETIME", "connmaxidletime", S),
    f("CONNMAXLIFETIME", "connmaxlifetime", S),
    f("MAXREDIRECTS", "maxredirects", S),
    f("READONLY", "readonly", S),
    f("ROUTEBYLATENCY", "routebylatency", S),
    f("ROUTERANDOMLY", "routerandomly", S),
    f("MASTERNAME", "mastername", S),
    f("DISABLEINDENTITY", "disableindentity", S),
    f("DISABLEIDENTITY", "disableidentity", S),
    f("IDENTITYSUFFIX", "identitysuffix", S),
    f("UNSTABLERESP3", "unstableresp3", S),
    f(
        "TLS",
        "tls",
        Shape::Struct(&[
            f("ENABLED", "enabled", S),
            f("CERTIFICATE", "certificate", S),
            f("KEY", "key", S),
            f("CLIENTCAS", "clientcas", STRINGS),
            f("ROOTCAS", "rootcas", STRINGS),
        ]),
    ),
    // Distribution v2.
    f("ADDR", "addr", S),
    f(
        "POOL",
        "pool",
        Shape::Struct(&[
            f("MAXIDLE", "maxidle", S),
            f("MAXACTIVE", "maxactive", S),
            f("IDLETIMEOUT", "idletimeout", S),
        ]),
    ),
];

const CHECK_TIMING: [Field; 3] = [
    f("TIMEOUT", "timeout", S),
    f("INTERVAL", "interval", S),
    f("THRESHOLD", "threshold", S),
];

const HEALTH: &[Field] = &[
    f(
        "FILECHECKERS",
        "file",
        Shape::List(&Shape::Struct(&[
            f("INTERVAL", "interval", S),
            f("FILE", "file", S),
            f("THRESHOLD", "threshold", S),
        ])),
    ),
    f(
        "HTTPCHECKERS",
        "http",
        Shape::List(&Shape::Struct(&[
            CHECK_TIMING[0],
            f("STATUSCODE", "statuscode", S),
            CHECK_TIMING[1],
            f("URI", "uri", S),
            f("HEADERS", "headers", HEADERS),
            CHECK_TIMING[2],
        ])),
    ),
    f(
        "TCPCHECKERS",
        "tcp",
        Shape::List(&Shape::Struct(&[
            CHECK_TIMING[0],
            CHECK_TIMING[1],
            f("ADDR", "addr", S),
            CHECK_TIMING[2],
        ])),
    ),
    f(
        "STORAGEDRIVER",
        "storagedriver",
        Shape::Struct(&[
            f("ENABLED", "enabled", S),
            f("INTERVAL", "interval", S),
            f("THRESHOLD", "threshold", S),
        ]),
    ),
];

const VALIDATION: &[Field] = &[
    f("ENABLED", "enabled", S),
    f("DISABLED", "disabled", S),
    f(
        "MANIFESTS",
        "manifests",
        Shape::Struct(&[
            f(
                "URLS",
                "urls",
                Shape::Struct(&[f("ALLOW", "allow", STRINGS), f("DENY", "deny", STRINGS)]),
            ),
            f(
                "INDEXES",
                "indexes",
                Shape::Struct(&[
                    f("PLATFORMS", "platforms", S),
                    f(
                        "PLATFORMLIST",
                        "platformlist",
                        Shape::List(&Shape::Struct(&[
                            f("ARCHITECTURE", "architecture", S),
                            f("OS", "os", S),
                        ])),
                    ),
                ]),
            ),
        ]),
    ),
];

const ROOT: &[Field] = &[
    f("VERSION", "version", S),
    f("LOG", "log", Shape::Struct(LOG)),
    f("LOGLEVEL", "loglevel", S),
    f("STORAGE", "storage", Shape::Providers),
    f("AUTH", "auth", Shape::Providers),
    f(
        "MIDDLEWARE",
        "middleware",
        Shape::Map(&Shape::List(&MIDDLEWARE)),
    ),
    f(
        "REPORTING",
        "reporting",
        Shape::Struct(&[
            f(
                "BUGSNAG",
                "bugsnag",
                Shape::Struct(&[
                    f("APIKEY", "apikey", S),
                    f("RELEASESTAGE", "releasestage", S),
                    f("ENDPOINT", "endpoint", S),
                ]),
            ),
            f(
                "NEWRELIC",
                "newrelic",
                Shape::Struct(&[
                    f("LICENSEKEY", "licensekey", S),
                    f("NAME", "name", S),
                    f("VERBOSE", "verbose", S),
                ]),
            ),
        ]),
    ),
    f("HTTP", "http", Shape::Struct(HTTP)),
    f(
        "NOTIFICATIONS",
        "notifications",
        Shape::Struct(NOTIFICATIONS),
    ),
    f("REDIS", "redis", Shape::Struct(REDIS)),
    f("HEALTH", "health", Shape::Struct(HEALTH)),
    f(
        "CATALOG",
        "catalog",
        Shape::Struct(&[f("MAXENTRIES", "maxentries", S)]),
    ),
    f(
        "PROXY",
        "proxy",
        Shape::Struct(&[
            f("REMOTEURL", "remoteurl", S),
            f("USERNAME", "username", S),
            f("PASSWORD", "password", S),
            f(
                "EXEC",
                "exec",
                Shape::Struct(&[f("COMMAND", "command", S), f("LIFETIME", "lifetime", S)]),
            ),
            f("TTL", "ttl", S),
        ]),
    ),
    f(
        "COMPATIBILITY",
        "compatibility",
        Shape::Struct(&[f(
            "SCHEMA1",
            "schema1",
            Shape::Struct(&[
                f("TRUSTKEY", "signingkeyfile", S),
                f("ENABLED", "enabled", S),
            ]),
        )]),
    ),
    f("VALIDATION", "validation", Shape::Struct(VALIDATION)),
    f(
        "POLICY",
        "policy",
        Shape::Struct(&[f(
            "REPOSITORY",
            "repository",
            Shape::Struct(&[f("CLASSES", "classes", STRINGS)]),
        )]),
    ),
    f("TAGS", "tags", Shape::Struct(&[f("MAXTAGS", "maxtags", S)])),
];

/// The variable prefix.
const PREFIX: &str = "REGISTRY_";

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
        walk.fields(root, ROOT, 0)?;
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
        dedupe(&mut node, &mut Vec::new(), &mut warnings);
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

    fn container_for(&self, shape: Shape) -> Node {
        match shape {
            Shape::List(_) => self.new_node(Kind::Seq(Vec::new())),
            _ => self.new_node(Kind::Map(Vec::new())),
        }
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
            Shape::Any => match node.kind {
                Kind::Map(_) | Kind::Null => self.map(node, Shape::Any, depth),
                _ => {
                    let at = self.parts[..depth].join("_");
                    self.ignore(format!("`{at}` holds a single value, not a mapping"));
                    Ok(())
                }
            },
            Shape::Scalar => {
                let at = self.parts[..depth].join("_");
                self.ignore(format!("`{at}` holds a single value, not a mapping"));
                Ok(())
            }
        }
    }

    fn fields(
        &mut self,
        node: &mut Node,
        fields: &'static [Field],
        depth: usize,
    ) -> Result<(), ConfigError> {
        let part = self.parts[depth];
        let Some(field) = fields.iter().find(|f| f.go.eq_ignore_ascii_case(part)) else {
            let hint = fields
                .iter()
                .find(|f| f.key.eq_ignore_ascii_case(part))
                .map(|f| {
                    let mut parts: Vec<String> = self.parts.iter().map(|p| p.to_string()).collect();
                    parts[depth] = f.go.to_string();
                    format!(
                        "; Distribution names this field {PREFIX}{}",
                        parts.join("_")
                    )
                })
                .unwrap_or_default();
            let reason = if part.is_empty() {
                "its name has an empty part (two `_` in a row, or a trailing `_`)".to_string()
            } else {
                format!("`{part}` is not a configuration key here{hint}")
            };
            self.ignore(reason);
            return Ok(());
        };
        if !matches!(node.kind, Kind::Map(_)) {
            node.kind = Kind::Map(Vec::new());
        }
        let Kind::Map(entries) = &mut node.kind else {
            unreachable!("made a map above")
        };
        let last = depth + 1 == self.parts.len();
        let index = entries.iter().rposition(|e| e.key == field.key);
        if last {
            let payload = self.payload()?;
            match index {
                Some(i) => entries[i].value = payload,
                None => entries.push(Entry {
                    key: field.key.to_string(),
                    key_pos: Position::default(),
                    value: payload,
                }),
            }
            return Ok(());
        }
        let i = match index {
            Some(i) if !entries[i].value.is_null() => i,
            Some(i) => {
                entries[i].value = self.container_for(field.shape);
                i
            }
            None => {
                entries.push(Entry {
                    key: field.key.to_string(),
                    key_pos: Position::default(),
                    value: self.container_for(field.shape),
                });
                entries.len() - 1
            }
        };
        self.descend(&mut entries[i].value, field.shape, depth + 1)
    }

    fn map(&mut self, node: &mut Node, elem: Shape, depth: usize) -> Result<(), ConfigError> {
        let part = self.parts[depth];
        if part.is_empty() {
            self.ignore(
                "its name has an empty part (two `_` in a row, or a trailing `_`)".to_string(),
            );
            return Ok(());
        }
        if !matches!(node.kind, Kind::Map(_)) {
            node.kind = Kind::Map(Vec::new());
        }
        let last = depth + 1 == self.parts.len();
        let payload = if last { Some(self.payload()?) } else { None };
        let container = self.container_for(elem);
        let Kind::Map(entries) = &mut node.kind else {
            unreachable!("made a map above")
        };
        let index = entries.iter().position(|e| e.key == part).or_else(|| {
            entries
                .iter()
                .position(|e| e.key.eq_ignore_ascii_case(part))
        });
        if let Some(payload) = payload {
            match index {
                Some(i) => entries[i].value = payload,
                None => entries.push(Entry {
                    key: part.to_ascii_lowercase(),
                    key_pos: Position::default(),
                    value: payload,
                }),
            }
            return Ok(());
        }
        let i = match index {
            Some(i) if !entries[i].value.is_null() => i,
            Some(i) => {
                entries[i].value = container;
                i
            }
            None => {
                entries.push(Entry {
                    key: part.to_ascii_lowercase(),
                    key_pos: Position::default(),
                    value: container,
                });
                entries.len() - 1
            }
        };
        self.descend(&mut entries[i].value, elem, depth + 1)
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
        let len = match &node.kind {
            Kind::Seq(items) => items.len(),
            _ => 0,
        };
        if index > len {
            return Err(ConfigError::Environment {
                variable: self.var.to_string(),
                message: format!(
                    "list position {index} does not exist: `{}` has {len} entries, so the next one is {len}",
                    self.parts[..depth].join("_")
                ),
            });
        }
        let last = depth + 1 == self.parts.len();
        let payload = if last { Some(self.payload()?) } else { None };
        let fresh = self.new_node(Kind::Null);
        let Kind::Seq(items) = &mut node.kind else {
            unreachable!("made a list above")
        };
        if index == len {
            items.push(fresh);
        }
        match payload {
            Some(payload) => {
                items[index] = payload;
                Ok(())
            }
            None => {
                if items[index].is_null() {
                    items[index] = match elem {
                        Shape::List(_) => Node::new(
                            Kind::Seq(Vec::new()),
                            Position::default(),
                            Some(self.var.clone()),
                        ),
                        _ => Node::new(
                            Kind::Map(Vec::new()),
                            Position::default(),
                            Some(self.var.clone()),
                        ),
                    };
                }
                self.descend(&mut items[index], elem, depth + 1)
            }
        }
    }
}

/// Known places of a key, for "did you mean" hints on unknown keys: the same
/// key in another case here, the same key in this top-level section, or,
/// for an unknown top-level key, the same key anywhere (`delete` →
/// `storage.delete`).
pub(crate) fn suggest(parent: &[String], key: &str) -> Option<String> {
    if parent == ["http"] && matches!(key, "hostname" | "hosturl" | "url") {
        return Some("http.host".to_string());
    }
    let mut found: Vec<Vec<&'static str>> = Vec::new();
    collect(ROOT, &mut Vec::new(), key, &mut found);
    for section in crate::model::STORAGE_SECTIONS {
        if section.eq_ignore_ascii_case(key) {
            found.push(vec!["storage", section]);
        }
    }
    let here: Vec<&str> = parent
        .iter()
        .map(String::as_str)
        .filter(|s| s.parse::<usize>().is_err())
        .collect();
    if let Some(p) = found.iter().find(|p| p[..p.len() - 1] == here[..]) {
        return Some(p.join("."));
    }
    if !here.is_empty() {
        found.retain(|p| p.first() == here.first());
    }
    found.sort_by_key(|p| p.len());
    found.first().map(|p| p.join("."))
}

fn collect(
    fields: &'static [Field],
    path: &mut Vec<&'static str>,
    key: &str,
    found: &mut Vec<Vec<&'static str>>,
) {
    for field in fields {
        path.push(field.key);
        if field.key.eq_ignore_ascii_case(key) {
            found.push(path.clone());
        }
        let inner = match field.shape {
            Shape::Struct(inner) => Some(inner),
            Shape::List(Shape::Struct(inner)) => Some(*inner),
            _ => None,
        };
        if let Some(inner) = inner {
            collect(inner, path, key, found);
        }
        path.pop();
    }
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
    let segments = crate::secrets::split_path(key_path);
    let mut parts = Vec::with_capacity(segments.len());
    let mut shape = Shape::Struct(ROOT);
    for segment in &segments {
        if segment.is_empty() || segment.contains('_') {
            return None;
        }
        shape = match shape {
            Shape::Struct(fields) => {
                let field = fields.iter().find(|f| f.key == segment)?;
                parts.push(field.go.to_string());
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
