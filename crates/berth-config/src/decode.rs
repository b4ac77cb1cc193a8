//! Turns the node tree into the typed [`Config`], collecting every problem and
//! warning with its position instead of stopping at the first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::document::{
    Entry, Kind, Node, Position, Resolved, YamlValue, node_json, resolve, resolve_plain,
};
use crate::duration::parse_go_duration;
use crate::error::{Problem, ProblemKind, Warning};
use crate::model::*;
use crate::parameters::Parameters;
use crate::path::{child, join_path, walk};

/// A value in the tree, with the path and key position that lead to it.
pub(crate) struct Field<'n> {
    pub node: &'n Node,
    pub key_pos: Position,
    pub path: Vec<String>,
}

/// A mapping being read key by key; whatever is left when it is finished is unknown.
pub(crate) struct Section<'n> {
    path: Vec<String>,
    /// Where the mapping's key is (for a list entry, where the entry starts).
    key_pos: Position,
    env: Option<Arc<str>>,
    entries: &'n [Entry],
    used: Vec<bool>,
}

impl<'n> Section<'n> {
    fn take(&mut self, key: &str) -> Option<Field<'n>> {
        let i = self.entries.iter().rposition(|e| e.key == key)?;
        self.used[i] = true;
        let entry = &self.entries[i];
        Some(Field {
            node: &entry.value,
            key_pos: entry.key_pos,
            path: child(&self.path, key),
        })
    }

    fn text(&mut self, d: &mut Decoder, key: &str) -> Option<String> {
        self.take(key).and_then(|f| d.text(&f))
    }

    fn text_or_empty(&mut self, d: &mut Decoder, key: &str) -> String {
        self.text(d, key).unwrap_or_default()
    }

    fn nonempty_text(&mut self, d: &mut Decoder, key: &str) -> Option<String> {
        self.text(d, key).filter(|s| !s.is_empty())
    }

    fn path_buf(&mut self, d: &mut Decoder, key: &str) -> Option<PathBuf> {
        self.nonempty_text(d, key).map(PathBuf::from)
    }

    fn flag(&mut self, d: &mut Decoder, key: &str) -> bool {
        self.take(key).and_then(|f| d.flag(&f)).unwrap_or(false)
    }

    fn count(&mut self, d: &mut Decoder, key: &str) -> Option<u64> {
        self.take(key).and_then(|f| d.count(&f))
    }

    fn duration(&mut self, d: &mut Decoder, key: &str) -> Option<Duration> {
        self.take(key).and_then(|f| d.duration(&f))
    }

    fn texts(&mut self, d: &mut Decoder, key: &str) -> Vec<String> {
        self.take(key).map(|f| d.texts(&f)).unwrap_or_default()
    }

    fn paths(&mut self, d: &mut Decoder, key: &str) -> Vec<PathBuf> {
        self.texts(d, key).into_iter().map(PathBuf::from).collect()
    }

    fn headers(&mut self, d: &mut Decoder, key: &str) -> Vec<(String, Vec<String>)> {
        self.take(key).map(|f| d.headers(&f)).unwrap_or_default()
    }

    fn parameters(&mut self, d: &mut Decoder, key: &str) -> Parameters {
        self.take(key).map(|f| d.parameters(&f)).unwrap_or_default()
    }

    /// One of `T`'s names; an empty value counts as unset.
    fn choice<T: Choice>(&mut self, d: &mut Decoder, key: &str, ignore_case: bool) -> Option<T> {
        let f = self.take(key)?;
        let text = d.text(&f).filter(|t| !t.is_empty())?;
        d.choice(&f, &text, ignore_case)
    }

    /// The mapping under `key`, read by `read`; `None` when there is none.
    fn section<T>(
        &mut self,
        d: &mut Decoder,
        key: &str,
        read: impl FnOnce(&mut Decoder, &mut Section<'n>) -> T,
    ) -> Option<T> {
        let f = self.take(key)?;
        d.mapping(&f, read)
    }

    /// The list of mappings under `key`, each read by `read`; entries that
    /// are not mappings are reported and left out.
    fn list<T>(
        &mut self,
        d: &mut Decoder,
        key: &str,
        mut read: impl FnMut(&mut Decoder, &mut Section<'n>) -> T,
    ) -> Vec<T> {
        let Some(f) = self.take(key) else {
            return Vec::new();
        };
        let items = d.items(&f);
        items
            .iter()
            .filter_map(|item| d.mapping(item, &mut read))
            .collect()
    }
}

/// Collects problems, warnings and unknown keys while decoding.
#[derive(Default)]
pub(crate) struct Decoder {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
    pub unknown: Vec<UnknownKey>,
}

/// Where a message about a value goes: its place in the file, or, for a
/// value from a variable (which has no place), line 0 and the variable's
/// name at the start of the message.
fn locate(pos: Position, env: Option<&Arc<str>>, message: String) -> (usize, usize, String) {
    match env {
        Some(var) => (0, 0, format!("{var}: {message}")),
        None => (pos.line, pos.column, message),
    }
}

impl Decoder {
    fn problem_at(
        &mut self,
        pos: Position,
        env: Option<&Arc<str>>,
        path: &[String],
        kind: ProblemKind,
        message: String,
    ) {
        let (line, column, message) = locate(pos, env, message);
        self.problems.push(Problem {
            line,
            column,
            key_path: join_path(path),
            env_var: env.map(|e| e.to_string()),
            kind,
            message,
        });
    }

    fn problem(&mut self, f: &Field, kind: ProblemKind, message: String) {
        self.problem_at(f.node.pos, f.node.env.as_ref(), &f.path, kind, message);
    }

    fn wrong_type(&mut self, f: &Field, wanted: &str) {
        let message = format!(
            "`{}` must be {wanted}, found {}",
            join_path(&f.path),
            f.node.describe()
        );
        self.problem(f, ProblemKind::WrongType, message);
    }

    pub(crate) fn warn(
        &mut self,
        pos: Position,
        env: Option<&Arc<str>>,
        path: &[String],
        message: String,
    ) {
        let (line, column, message) = locate(pos, env, message);
        self.warnings.push(Warning {
            line,
            column,
            key_path: join_path(path),
            message,
        });
    }

    fn warn_key(&mut self, f: &Field, message: String) {
        self.warn(f.key_pos, f.node.env.as_ref(), &f.path, message);
    }

    fn section<'n>(&mut self, f: &Field<'n>) -> Option<Section<'n>> {
        static EMPTY: [Entry; 0] = [];
        let entries: &'n [Entry] = match &f.node.kind {
            Kind::Map(entries) => entries,
            Kind::Null => &EMPTY,
            _ => {
                self.wrong_type(f, "a mapping of keys to values");
                return None;
            }
        };
        Some(Section {
            path: f.path.clone(),
            key_pos: f.key_pos,
            env: f.node.env.clone(),
            entries,
            used: vec![false; entries.len()],
        })
    }

    /// The mapping at `f`, read by `read`, whose keys left unread are then
    /// reported as unknown. `None` (and a problem) when `f` is not a mapping.
    fn mapping<'n, T>(
        &mut self,
        f: &Field<'n>,
        read: impl FnOnce(&mut Decoder, &mut Section<'n>) -> T,
    ) -> Option<T> {
        let mut section = self.section(f)?;
        let value = read(self, &mut section);
        self.finish(section);
        Some(value)
    }

    /// Records the keys nobody asked for as unknown.
    fn finish(&mut self, section: Section) {
        for (entry, used) in section.entries.iter().zip(&section.used) {
            if *used {
                continue;
            }
            let path = child(&section.path, &entry.key);
            let mut message = if section.path.is_empty() {
                format!(
                    "unknown section `{}` is kept as written but has no effect (Distribution ignores it too)",
                    entry.key
                )
            } else {
                format!(
                    "unknown key `{}` in `{}` is kept as written but has no effect (Distribution ignores it too)",
                    entry.key,
                    join_path(&section.path)
                )
            };
            if let Some(hint) = crate::schema::suggest(&section.path, &entry.key) {
                message.push_str("; did you mean `");
                message.push_str(&hint);
                message.push_str("`?");
            }
            let env = entry.value.env.as_ref().or(section.env.as_ref());
            self.warn(entry.key_pos, env, &path, message);
            self.unknown.push(UnknownKey {
                parent: section.path.clone(),
                key: entry.key.clone(),
                value: YamlValue::from_node(&entry.value),
            });
        }
    }

    /// The scalar at `f` as its text and whether it was quoted; `None` for
    /// null, and for a list or mapping, which is reported as not `wanted`.
    fn scalar<'n>(&mut self, f: &Field<'n>, wanted: &str) -> Option<(&'n str, bool)> {
        match &f.node.kind {
            Kind::Null => None,
            Kind::Scalar { text, quoted } => Some((text, *quoted)),
            _ => {
                self.wrong_type(f, wanted);
                None
            }
        }
    }

    /// Any scalar as its text, as go-yaml does for string fields (`true` and
    /// `1728000` become "true" and "1728000"). `None` for null.
    fn text(&mut self, f: &Field) -> Option<String> {
        let (text, _) = self.scalar(f, "a single value")?;
        Some(text.to_string())
    }

    /// A boolean. Like go-yaml, YAML 1.1 spellings (`yes`, `On`, `True`) count,
    /// quoted or not.
    fn flag(&mut self, f: &Field) -> Option<bool> {
        const WANTED: &str = "true or false";
        let (text, _) = self.scalar(f, WANTED)?;
        match resolve_plain(text) {
            Resolved::Bool(b) => Some(b),
            _ => {
                self.wrong_type(f, WANTED);
                None
            }
        }
    }

    fn integer(&mut self, f: &Field) -> Option<i64> {
        const WANTED: &str = "a whole number";
        let (text, quoted) = self.scalar(f, WANTED)?;
        match resolve(text, quoted) {
            Resolved::Int(i) => Some(i),
            Resolved::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e18 => Some(x as i64),
            _ => {
                self.wrong_type(f, WANTED);
                None
            }
        }
    }

    fn count(&mut self, f: &Field) -> Option<u64> {
        if let Kind::Scalar { text, quoted } = &f.node.kind
            && let Resolved::UInt(u) = resolve(text, *quoted)
        {
            return Some(u);
        }
        let value = self.integer(f)?;
        if value < 0 {
            let message = format!(
                "`{}` must be zero or more, found `{value}`",
                join_path(&f.path)
            );
            self.problem(f, ProblemKind::InvalidValue, message);
            return None;
        }
        Some(value as u64)
    }

    /// A Go duration string, or an integer number of nanoseconds.
    fn duration(&mut self, f: &Field) -> Option<Duration> {
        const WANTED: &str = "a duration such as `10s`, `500ms` or `1h30m`";
        let (text, quoted) = self.scalar(f, WANTED)?;
        let path = join_path(&f.path);
        match resolve(text, quoted) {
            Resolved::Int(n) if n >= 0 => {
                if n > 0 && n < 1_000_000 {
                    self.warn(
                        f.node.pos,
                        f.node.env.as_ref(),
                        &f.path,
                        format!(
                            "`{path}: {n}` is read as {n} nanoseconds, as Distribution reads a bare number; write `{n}s` or `{n}ms` if that was meant"
                        ),
                    );
                }
                Some(Duration::from_nanos(n as u64))
            }
            Resolved::Float(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e18 => {
                Some(Duration::from_nanos(x as u64))
            }
            Resolved::Str => match parse_go_duration(text) {
                Ok(d) => Some(d),
                Err(why) => {
                    self.problem(f, ProblemKind::InvalidValue, format!("`{path}`: {why}"));
                    None
                }
            },
            _ => {
                self.wrong_type(f, WANTED);
                None
            }
        }
    }

    /// `text` as one of `T`'s names, or a problem that lists them.
    fn choice<T: Choice>(&mut self, f: &Field, text: &str, ignore_case: bool) -> Option<T> {
        let found = T::ALL.iter().copied().find(|c| {
            if ignore_case {
                c.name().eq_ignore_ascii_case(text)
            } else {
                c.name() == text
            }
        });
        if found.is_none() {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            let message = format!(
                "`{}` must be {}, found `{text}`",
                join_path(&f.path),
                words(&names, "or")
            );
            self.problem(f, ProblemKind::InvalidValue, message);
        }
        found
    }

    /// `log.level` or the old `loglevel`; unlike other choices, an empty value is refused.
    fn log_level(&mut self, f: &Field) -> Option<LogLevel> {
        let text = self.text(f)?;
        self.choice(f, &text, true)
    }

    fn items<'n>(&mut self, f: &Field<'n>) -> Vec<Field<'n>> {
        match &f.node.kind {
            Kind::Null => Vec::new(),
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    node,
                    key_pos: node.pos,
                    path: child(&f.path, &i.to_string()),
                })
                .collect(),
            _ => {
                self.wrong_type(f, "a list, e.g. `[a, b]` or lines starting with `- `");
                Vec::new()
            }
        }
    }

    fn texts(&mut self, f: &Field) -> Vec<String> {
        self.items(f)
            .iter()
            .filter_map(|item| self.text(item))
            .collect()
    }

    fn headers(&mut self, f: &Field) -> Vec<(String, Vec<String>)> {
        let Some(mut section) = self.section(f) else {
            return Vec::new();
        };
        let entries = section.entries;
        let mut headers = Vec::new();
        for entry in entries {
            let field = section.take(&entry.key).expect("present");
            if field.node.entries().is_some() || matches!(field.node.kind, Kind::Scalar { .. }) {
                let message = format!(
                    "header `{}` must have a list of values, e.g. `{}: [value]`, found {}",
                    entry.key,
                    entry.key,
                    field.node.describe()
                );
                self.problem(&field, ProblemKind::WrongType, message);
                continue;
            }
            let values = self.texts(&field);
            headers.push((entry.key.clone(), values));
        }
        headers
    }

    fn parameters(&mut self, f: &Field) -> Parameters {
        let mut params = Parameters::new();
        if let Some(mut section) = self.section(f) {
            let entries = section.entries;
            for entry in entries {
                section.take(&entry.key);
                let position = entry
                    .value
                    .env
                    .is_none()
                    .then_some((entry.key_pos.line, entry.key_pos.column));
                params.push_with_position(entry.key.clone(), node_json(&entry.value), position);
            }
        }
        params
    }
}

/// Decodes a whole document. Problems are returned sorted by position.
pub(crate) fn decode(root: &Node, layout: Layout) -> Result<(Config, Vec<Warning>), Vec<Problem>> {
    let mut d = Decoder::default();
    let root_field = Field {
        node: root,
        key_pos: Position { line: 1, column: 1 },
        path: Vec::new(),
    };
    let config = match root.kind {
        Kind::Map(_) | Kind::Null => d.mapping(&root_field, |d, top| decode_config(d, top, root)),
        _ => {
            d.problem(
                &root_field,
                ProblemKind::WrongType,
                format!(
                    "the file must be a mapping of sections (`version:`, `storage:`, `http:` …), found {}",
                    root.describe()
                ),
            );
            None
        }
    };
    let order = |line: usize, column: usize| (line == 0, line, column);
    d.warnings.sort_by_key(|w| order(w.line, w.column));
    if !d.problems.is_empty() {
        d.problems.sort_by_key(|p| order(p.line, p.column));
        return Err(d.problems);
    }
    let mut config = config.expect("no problems means a config");
    d.unknown
        .sort_by(|a, b| (&a.parent, &a.key).cmp(&(&b.parent, &b.key)));
    config.unknown = d.unknown;
    config.layout = layout;
    Ok((config, d.warnings))
}

fn decode_config(d: &mut Decoder, top: &mut Section, root: &Node) -> Config {
    let version = match top.take("version") {
        None => {
            d.problem_at(
                Position { line: 1, column: 1 },
                None,
                &["version".to_string()],
                ProblemKind::UnsupportedVersion,
                "`version` is missing; add `version: 0.1` as the first line".to_string(),
            );
            String::new()
        }
        Some(f) => match d.text(&f) {
            Some(v) if v == "0.1" => v,
            Some(v) => {
                d.problem(
                    &f,
                    ProblemKind::UnsupportedVersion,
                    format!(
                        "unsupported version \"{v}\"; Berth, like Distribution, reads `version: 0.1` configurations"
                    ),
                );
                v
            }
            None => {
                if f.node.is_null() {
                    d.problem(
                        &f,
                        ProblemKind::UnsupportedVersion,
                        "`version` is empty; write `version: 0.1`".to_string(),
                    );
                }
                String::new()
            }
        },
    };

    let (mut log, level_set) = top.section(d, "log", decode_log).unwrap_or_default();
    if let Some(f) = top.take("loglevel") {
        let level = d.log_level(&f);
        d.warn_key(
            &f,
            "`loglevel` is deprecated; Berth reads it as `log.level`, write `log:` / `  level:` instead"
                .to_string(),
        );
        if let (Some(level), false) = (level, level_set) {
            log.level = level;
        }
    }

    let storage_field = top.take("storage");
    let (storage, cache_pos) = decode_storage(d, storage_field, root);
    let auth = decode_auth(d, top.take("auth"));
    let middleware = top
        .section(d, "middleware", decode_middleware)
        .unwrap_or_default();
    let reporting = decode_reporting(d, top.take("reporting"));
    let http = top.section(d, "http", decode_http).unwrap_or_default();
    let notifications = top
        .section(d, "notifications", decode_notifications)
        .unwrap_or_default();
    let redis = top.section(d, "redis", decode_redis);
    let health = top.section(d, "health", decode_health).unwrap_or_default();
    let catalog = top
        .section(d, "catalog", decode_catalog)
        .unwrap_or_default();
    let proxy = top.section(d, "proxy", decode_proxy);
    let compatibility = decode_compatibility(d, top.take("compatibility"));
    let validation = top
        .section(d, "validation", decode_validation)
        .unwrap_or_default();
    let policy = top
        .section(d, "policy", |d, s| Policy {
            repository: s
                .section(d, "repository", |d, r| RepositoryPolicy {
                    classes: r.texts(d, "classes"),
                })
                .unwrap_or_default(),
        })
        .unwrap_or_default();
    let tags = top
        .section(d, "tags", |d, s| Tags {
            max_tags: s.count(d, "maxtags"),
        })
        .unwrap_or_default();

    if let (Some((pos, env, path)), true) = (
        cache_pos,
        storage
            .cache
            .as_ref()
            .is_some_and(|c| c.blob_descriptor == Some(BlobDescriptorCache::Redis)),
    ) {
        let has_address = redis.as_ref().is_some_and(|r| !r.addresses().is_empty());
        if !has_address {
            d.problem_at(
                pos,
                env.as_ref(),
                &path,
                ProblemKind::Missing,
                format!(
                    "`{}` is redis but no redis address is configured; add `redis:` / `  addrs: [host:6379]`, or use `inmemory`",
                    join_path(&path)
                ),
            );
        }
    }

    Config {
        version,
        log,
        storage,
        auth,
        middleware,
        reporting,
        http,
        notifications,
        redis,
        health,
        catalog,
        proxy,
        compatibility,
        validation,
        policy,
        tags,
        unknown: Vec::new(),
        layout: Layout::default(),
    }
}

/// The `log` section, and whether it set `level`.
fn decode_log(d: &mut Decoder, s: &mut Section) -> (Log, bool) {
    let level = s.take("level").and_then(|f| d.log_level(&f));
    let log = Log {
        level: level.unwrap_or_default(),
        formatter: s.choice(d, "formatter", false),
        fields: s.parameters(d, "fields"),
        access_log: AccessLog {
            disabled: s
                .section(d, "accesslog", |d, a| a.flag(d, "disabled"))
                .unwrap_or_default(),
        },
        hooks: s.list(d, "hooks", |d, h| LogHook {
            disabled: h.flag(d, "disabled"),
            hook_type: h.text_or_empty(d, "type"),
            levels: h.texts(d, "levels"),
            options: h
                .section(d, "options", |d, o| MailOptions {
                    smtp: o
                        .section(d, "smtp", |d, smtp| Smtp {
                            addr: smtp.text_or_empty(d, "addr"),
                            username: smtp.text_or_empty(d, "username"),
                            password: smtp.text_or_empty(d, "password"),
                            insecure: smtp.flag(d, "insecure"),
                        })
                        .unwrap_or_default(),
                    from: o.text_or_empty(d, "from"),
                    to: o.texts(d, "to"),
                })
                .unwrap_or_default(),
        }),
        report_caller: s.flag(d, "reportcaller"),
    };
    (log, level.is_some())
}

type Origin = (Position, Option<Arc<str>>, Vec<String>);

/// "a", "a or b", "a, b or c".
fn words(items: &[&str], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// The keys among `keys` marked as missing.
fn missing_keys<'k>(keys: &[(&'k str, bool)]) -> Vec<&'k str> {
    keys.iter()
        .filter(|(_, missing)| *missing)
        .map(|(key, _)| *key)
        .collect()
}

/// A driver or provider as a message lists it: `s3 (line 3)`, or
/// `gcs (from REGISTRY_STORAGE_GCS_BUCKET)`.
fn listed(name: &str, pos: Position, env: Option<&Arc<str>>) -> String {
    match env {
        Some(var) => format!("{name} (from {var})"),
        None => format!("{name} (line {})", pos.line),
    }
}

fn no_driver_message() -> String {
    "no storage driver is configured; add one under `storage:`, e.g. `filesystem:` / `  rootdirectory: /var/lib/registry`, or set REGISTRY_STORAGE=filesystem".to_string()
}

fn decode_storage(d: &mut Decoder, f: Option<Field>, root: &Node) -> (Storage, Option<Origin>) {
    let mut storage = Storage::new(DriverConfig::new(""));
    let Some(f) = f else {
        d.problem_at(
            root.pos,
            None,
            &["storage".to_string()],
            ProblemKind::StorageDriverCount,
            no_driver_message(),
        );
        return (storage, None);
    };
    if let Kind::Scalar { text, .. } = &f.node.kind {
        // `storage: inmemory`: a driver without parameters.
        storage.driver.name = text.clone();
        warn_unbuilt_driver(d, &f, text);
        return (storage, None);
    }
    let Some(mut s) = d.section(&f) else {
        return (storage, None);
    };
    let mut cache_origin = None;
    let mut drivers: Vec<String> = Vec::new();
    let entries = s.entries;
    for entry in entries {
        let field = s.take(&entry.key).expect("present");
        match entry.key.as_str() {
            "delete" => {
                storage.delete.enabled = d
                    .mapping(&field, |d, x| x.flag(d, "enabled"))
                    .unwrap_or_default();
            }
            "redirect" => {
                storage.redirect.disable = d
                    .mapping(&field, |d, x| x.flag(d, "disable"))
                    .unwrap_or_default();
            }
            "tag" => {
                storage.tag.concurrency_limit = d
                    .mapping(&field, |d, x| x.count(d, "concurrencylimit"))
                    .flatten();
            }
            "maintenance" => {
                storage.maintenance = d.mapping(&field, decode_maintenance).unwrap_or_default();
            }
            "cache" => {
                if let Some((cache, origin)) = d.mapping(&field, decode_cache) {
                    storage.cache = Some(cache);
                    cache_origin = origin;
                }
            }
            name => {
                drivers.push(listed(name, entry.key_pos, entry.value.env.as_ref()));
                storage.driver = DriverConfig {
                    name: name.to_string(),
                    parameters: d.parameters(&field),
                };
                if drivers.len() == 1 {
                    warn_unbuilt_driver(d, &field, name);
                }
            }
        }
    }
    match drivers.len() {
        1 => {}
        0 => d.problem_at(
            f.key_pos,
            f.node.env.as_ref(),
            &f.path,
            ProblemKind::StorageDriverCount,
            no_driver_message(),
        ),
        n => d.problem_at(
            f.key_pos,
            None,
            &f.path,
            ProblemKind::StorageDriverCount,
            format!(
                "must provide exactly one storage type, found {n}: {}; keep one driver under `storage:` and remove the others",
                drivers.join(", ")
            ),
        ),
    }
    d.finish(s);
    (storage, cache_origin)
}

fn warn_unbuilt_driver(d: &mut Decoder, f: &Field, name: &str) {
    if !BERTH_DRIVERS.contains(&name) {
        let message = format!(
            "storage driver `{name}` is not built into Berth (it has {}); the file loads, but the registry cannot start with it",
            BERTH_DRIVERS.join(", ")
        );
        d.warn_key(f, message);
    }
}

fn decode_maintenance(d: &mut Decoder, s: &mut Section) -> Maintenance {
    let upload_purging = s
        .take("uploadpurging")
        .and_then(|f| d.mapping(&f, |d, u| decode_upload_purging(d, u, &f)))
        .unwrap_or_default();
    Maintenance {
        upload_purging,
        readonly: ReadOnly {
            enabled: s
                .section(d, "readonly", |d, r| r.flag(d, "enabled"))
                .unwrap_or_default(),
        },
    }
}

fn decode_upload_purging(d: &mut Decoder, u: &mut Section, f: &Field) -> UploadPurging {
    let defaults = UploadPurging::default();
    let enabled = u
        .take("enabled")
        .and_then(|f| d.flag(&f))
        .unwrap_or(defaults.enabled);
    let age = u.take("age");
    let interval = u.take("interval");
    let dry_run = u.take("dryrun");
    let purging = UploadPurging {
        enabled,
        age: age
            .as_ref()
            .and_then(|f| d.duration(f))
            .unwrap_or(defaults.age),
        interval: interval
            .as_ref()
            .and_then(|f| d.duration(f))
            .unwrap_or(defaults.interval),
        dry_run: dry_run.as_ref().and_then(|f| d.flag(f)).unwrap_or(false),
    };
    if purging.enabled && !f.node.is_null() {
        let missing = missing_keys(&[
            ("age", age.is_none()),
            ("interval", interval.is_none()),
            ("dryrun", dry_run.is_none()),
        ]);
        if !missing.is_empty() {
            d.warn_key(
                f,
                format!(
                    "`storage.maintenance.uploadpurging` is enabled without {}; Berth uses the defaults (age 168h, interval 24h, dryrun false), but Distribution refuses to start without them",
                    words(&missing, "or")
                ),
            );
        }
    }
    purging
}

fn decode_cache(d: &mut Decoder, s: &mut Section) -> (Cache, Option<Origin>) {
    let mut cache = Cache::default();
    let mut origin = None;
    let modern = s.take("blobdescriptor");
    let legacy = s.take("layerinfo");
    if let Some(f) = &legacy {
        let message = if modern.is_some() {
            "`storage.cache.layerinfo` is the old name of `blobdescriptor`, which is also set and wins; remove `layerinfo`"
        } else {
            "`storage.cache.layerinfo` is the old name of `blobdescriptor`; Berth reads it as `blobdescriptor`"
        };
        d.warn_key(f, message.to_string());
    }
    if let Some(f) = modern.or(legacy)
        && let Some(text) = d.text(&f).filter(|t| !t.is_empty())
    {
        cache.blob_descriptor = Some(match text.as_str() {
            "inmemory" => BlobDescriptorCache::InMemory,
            "redis" => BlobDescriptorCache::Redis,
            other => {
                d.warn(
                        f.node.pos,
                        f.node.env.as_ref(),
                        &f.path,
                        format!(
                            "unknown blob descriptor cache `{other}`; use inmemory or redis (Distribution disables caching for other values)"
                        ),
                    );
                BlobDescriptorCache::Other(other.to_string())
            }
        });
        origin = Some((f.node.pos, f.node.env.clone(), f.path.clone()));
    }
    if let Some(f) = s.take("blobdescriptorsize") {
        // Distribution reads it with strconv.Atoi(fmt.Sprint(v)), so quoted numbers work too.
        cache.blob_descriptor_size = match &f.node.kind {
            Kind::Scalar { text, quoted: true } => match text.trim().parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    d.wrong_type(&f, "a whole number of zero or more");
                    None
                }
            },
            _ => d.count(&f),
        };
    }
    (cache, origin)
}

fn decode_auth(d: &mut Decoder, f: Option<Field>) -> Option<Auth> {
    let f = f?;
    if let Kind::Scalar { text, .. } = &f.node.kind {
        // `auth: silly`: a provider without parameters.
        let provider = Field {
            node: f.node,
            key_pos: f.key_pos,
            path: child(&f.path, text),
        };
        return decode_provider(d, text, &provider, true);
    }
    let mut s = d.section(&f)?;
    let entries = s.entries;
    if entries.len() > 1 {
        let providers: Vec<String> = entries
            .iter()
            .map(|e| listed(&e.key, e.key_pos, e.value.env.as_ref()))
            .collect();
        d.problem_at(
            f.key_pos,
            None,
            &f.path,
            ProblemKind::AuthProviderCount,
            format!(
                "must provide exactly one auth provider, found {}: {}; keep one under `auth:` and remove the others",
                entries.len(),
                providers.join(", ")
            ),
        );
        for e in entries {
            s.take(&e.key);
        }
        return None;
    }
    let entry = entries.first()?;
    let provider = s.take(&entry.key).expect("present");
    decode_provider(d, &entry.key, &provider, false)
}

fn decode_provider(d: &mut Decoder, name: &str, f: &Field, shorthand: bool) -> Option<Auth> {
    static EMPTY: Node = Node {
        kind: Kind::Null,
        pos: Position { line: 0, column: 0 },
        env: None,
    };
    let field = Field {
        node: if shorthand { &EMPTY } else { f.node },
        key_pos: f.key_pos,
        path: f.path.clone(),
    };
    let path = join_path(&f.path);
    let require = |d: &mut Decoder, s: &mut Section, key: &str, what: &str| -> String {
        match s.nonempty_text(d, key) {
            Some(v) => v,
            None => {
                d.problem_at(
                    f.key_pos,
                    f.node.env.as_ref(),
                    &child(&f.path, key),
                    ProblemKind::Missing,
                    format!("`{path}.{key}` is missing; set it to {what}"),
                );
                String::new()
            }
        }
    };
    match name {
        "htpasswd" => d.mapping(&field, |d, s| {
            let realm = require(
                d,
                s,
                "realm",
                "the realm shown to clients, e.g. `basic-realm`",
            );
            let file = require(
                d,
                s,
                "path",
                "the htpasswd file, e.g. `/etc/registry/htpasswd`",
            );
            Auth::Htpasswd {
                realm,
                path: PathBuf::from(file),
            }
        }),
        "silly" => d.mapping(&field, |d, s| {
            let realm = require(d, s, "realm", "the realm shown to clients");
            let service = require(d, s, "service", "the service shown to clients");
            Auth::Silly { realm, service }
        }),
        "token" => d.mapping(&field, |d, s| Auth::Token(decode_token(d, s, f))),
        other => {
            let parameters = d.parameters(&field);
            d.warn_key(
                f,
                format!(
                    "auth provider `{other}` is not built into Berth (it has htpasswd, token and silly); the file loads, but the registry cannot start with it"
                ),
            );
            Some(Auth::Other {
                name: other.to_string(),
                parameters,
            })
        }
    }
}

fn decode_token(d: &mut Decoder, s: &mut Section, f: &Field) -> TokenAuth {
    let token = TokenAuth {
        realm: s.text_or_empty(d, "realm"),
        service: s.text_or_empty(d, "service"),
        issuer: s.text_or_empty(d, "issuer"),
        root_cert_bundle: s.path_buf(d, "rootcertbundle"),
        jwks: s.path_buf(d, "jwks"),
        auto_redirect: s.flag(d, "autoredirect"),
        auto_redirect_path: s.nonempty_text(d, "autoredirectpath"),
        signing_algorithms: s.texts(d, "signingalgorithms"),
    };
    let missing = missing_keys(&[
        ("realm", token.realm.is_empty()),
        ("service", token.service.is_empty()),
        ("issuer", token.issuer.is_empty()),
    ]);
    if !missing.is_empty() {
        let vars: Vec<String> = missing
            .iter()
            .map(|k| format!("REGISTRY_AUTH_TOKEN_{}", k.to_ascii_uppercase()))
            .collect();
        d.warn_key(
            f,
            format!(
                "`auth.token` has no {}; the registry cannot start until it is set here or through {}",
                words(&missing, "or"),
                words(&vars.iter().map(String::as_str).collect::<Vec<_>>(), "or")
            ),
        );
    }
    if token.root_cert_bundle.is_none() && token.jwks.is_none() {
        d.warn_key(
            f,
            "`auth.token` has neither `rootcertbundle` nor `jwks`, so no token can be verified"
                .to_string(),
        );
    }
    token
}

fn decode_middleware(d: &mut Decoder, s: &mut Section) -> Middlewares {
    let mut list = |d: &mut Decoder, kind: &str| {
        s.list(d, kind, |d, m| {
            let name = m.nonempty_text(d, "name");
            if name.is_none() {
                d.problem_at(
                    m.key_pos,
                    m.env.as_ref(),
                    &child(&m.path, "name"),
                    ProblemKind::Missing,
                    format!(
                        "`{}` has no `name`; every middleware entry needs one, e.g. `name: cloudfront`",
                        join_path(&m.path)
                    ),
                );
            }
            Middleware {
                name: name.unwrap_or_default(),
                disabled: m.flag(d, "disabled"),
                options: m.parameters(d, "options"),
            }
        })
    };
    Middlewares {
        registry: list(d, "registry"),
        repository: list(d, "repository"),
        storage: list(d, "storage"),
    }
}

fn decode_reporting(d: &mut Decoder, f: Option<Field>) -> Reporting {
    let Some(f) = f else {
        return Reporting::default();
    };
    d.warn_key(
        &f,
        "`reporting` was removed in Distribution v3 and Berth does not report errors to Bugsnag or New Relic; it is kept as written".to_string(),
    );
    d.mapping(&f, |d, s| Reporting {
        bugsnag: s.section(d, "bugsnag", |d, b| Bugsnag {
            api_key: b.text_or_empty(d, "apikey"),
            release_stage: b.text_or_empty(d, "releasestage"),
            endpoint: b.text_or_empty(d, "endpoint"),
        }),
        newrelic: s.section(d, "newrelic", |d, n| NewRelic {
            license_key: n.text_or_empty(d, "licensekey"),
            name: n.text_or_empty(d, "name"),
            verbose: n.flag(d, "verbose"),
        }),
    })
    .unwrap_or_default()
}

fn decode_http(d: &mut Decoder, s: &mut Section) -> Http {
    Http {
        addr: s.text_or_empty(d, "addr"),
        net: s.text_or_empty(d, "net"),
        prefix: s.text_or_empty(d, "prefix"),
        host: s.take("host").and_then(|f| decode_host(d, &f)),
        secret: s.nonempty_text(d, "secret"),
        relative_urls: s.flag(d, "relativeurls"),
        drain_timeout: s.duration(d, "draintimeout").unwrap_or_default(),
        tls: s.section(d, "tls", decode_tls),
        headers: s.headers(d, "headers"),
        debug: s.section(d, "debug", |d, g| crate::model::Debug {
            addr: g.text_or_empty(d, "addr"),
            prometheus: g
                .section(d, "prometheus", |d, p| Prometheus {
                    enabled: p.flag(d, "enabled"),
                    path: p.text_or_empty(d, "path"),
                })
                .unwrap_or_default(),
        }),
        http2_disabled: s
            .section(d, "http2", |d, h| h.flag(d, "disabled"))
            .unwrap_or_default(),
        h2c_enabled: s
            .section(d, "h2c", |d, h| h.flag(d, "enabled"))
            .unwrap_or_default(),
    }
}

fn decode_host(d: &mut Decoder, f: &Field) -> Option<String> {
    let host = d.text(f).filter(|h| !h.is_empty())?;
    if !host.contains("://") {
        d.warn(
            f.node.pos,
            f.node.env.as_ref(),
            &f.path,
            format!(
                "`http.host` should be a full URL such as `https://{host}`; without a scheme, URLs built from it are wrong"
            ),
        );
    }
    Some(host)
}

/// A value of `http.tls.minimumtls`, which [`Tls`] keeps as text.
#[derive(Clone, Copy)]
struct TlsVersion(&'static str);

impl Choice for TlsVersion {
    const ALL: &'static [TlsVersion] = &[
        TlsVersion("tls1.0"),
        TlsVersion("tls1.1"),
        TlsVersion("tls1.2"),
        TlsVersion("tls1.3"),
    ];

    fn name(self) -> &'static str {
        self.0
    }
}

fn decode_tls(d: &mut Decoder, t: &mut Section) -> Tls {
    let tls = Tls {
        certificate: t.path_buf(d, "certificate"),
        key: t.path_buf(d, "key"),
        client_cas: t.paths(d, "clientcas"),
        client_auth: t.choice(d, "clientauth", false),
        minimum_tls: t
            .choice(d, "minimumtls", false)
            .map(|v: TlsVersion| v.0.to_string()),
        cipher_suites: t.texts(d, "ciphersuites"),
        letsencrypt: t.section(d, "letsencrypt", |d, l| LetsEncrypt {
            cache_file: l.path_buf(d, "cachefile"),
            email: l.text_or_empty(d, "email"),
            hosts: l.texts(d, "hosts"),
            directory_url: l.nonempty_text(d, "directoryurl"),
        }),
    };
    let unpaired = match (&tls.certificate, &tls.key) {
        (Some(_), None) => Some((
            "key",
            "`http.tls.certificate` is set but `http.tls.key` is missing; add the certificate's private key",
        )),
        (None, Some(_)) => Some((
            "certificate",
            "`http.tls.key` is set but `http.tls.certificate` is missing; add the certificate",
        )),
        _ => None,
    };
    if let Some((key, message)) = unpaired {
        d.problem_at(
            t.key_pos,
            t.env.as_ref(),
            &child(&t.path, key),
            ProblemKind::Missing,
            message.to_string(),
        );
    }
    tls
}

fn decode_notifications(d: &mut Decoder, s: &mut Section) -> Notifications {
    Notifications {
        events: Events {
            include_references: s
                .section(d, "events", |d, e| e.flag(d, "includereferences"))
                .unwrap_or_default(),
        },
        endpoints: s.list(d, "endpoints", |d, e| Endpoint {
            name: e.text_or_empty(d, "name"),
            disabled: e.flag(d, "disabled"),
            url: e
                .take("url")
                .and_then(|f| decode_webhook_url(d, &f))
                .unwrap_or_default(),
            headers: e
                .take("headers")
                .map(|f| decode_webhook_headers(d, &f))
                .unwrap_or_default(),
            timeout: e.duration(d, "timeout").unwrap_or_default(),
            threshold: e.count(d, "threshold").unwrap_or_default(),
            backoff: e.duration(d, "backoff").unwrap_or_default(),
            ignored_media_types: e.texts(d, "ignoredmediatypes"),
            ignore: e
                .section(d, "ignore", |d, i| Ignore {
                    media_types: i.texts(d, "mediatypes"),
                    actions: i.texts(d, "actions"),
                })
                .unwrap_or_default(),
        }),
    }
}

/// A webhook URL: `http://` or `https://`, a host, no spaces.
fn decode_webhook_url(d: &mut Decoder, f: &Field) -> Option<String> {
    let url = d.text(f)?;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let why = match host {
        _ if url.is_empty() => Some("is empty".to_string()),
        None => Some("must start with http:// or https://".to_string()),
        Some(h) if h.is_empty() || h.starts_with(':') || h.ends_with(':') => {
            Some("names no host".to_string())
        }
        _ if url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("contains spaces or control characters".to_string())
        }
        Some(h)
            if h.rsplit_once(':')
                .is_some_and(|(_, port)| !h.ends_with(']') && port.parse::<u16>().is_err()) =>
        {
            Some("has a port that is not a number from 1 to 65535".to_string())
        }
        _ => None,
    };
    if let Some(why) = why {
        let message = format!(
            "`{}` {url:?} {why}; write the endpoint's full URL, e.g. `https://hooks.example.com/registry-events`",
            join_path(&f.path)
        );
        d.problem(f, ProblemKind::InvalidValue, message);
    }
    Some(url)
}

/// A webhook's `headers`: a mapping of HTTP header names to lists of values
/// that HTTP can carry.
fn decode_webhook_headers(d: &mut Decoder, f: &Field) -> Vec<(String, Vec<String>)> {
    let headers = d.headers(f);
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (name, values) in &headers {
        let why = if name.is_empty() || !name.chars().all(token) {
            Some(format!(
                "`{name}` is not an HTTP header name (letters, digits and `-`, e.g. `Authorization`)"
            ))
        } else {
            values
                .iter()
                .find(|v| v.chars().any(|c| c.is_control() && c != '\t'))
                .map(|_| format!("a value of header `{name}` contains a line break or control character, which HTTP cannot carry"))
        };
        if let Some(why) = why {
            let message = format!("`{}`: {why}", join_path(&f.path));
            d.problem(f, ProblemKind::InvalidValue, message);
        }
    }
    headers
}

/// go-redis options Distribution v3 accepts that Berth keeps without typing.
const REDIS_OTHER_OPTIONS: [&str; 15] = [
    "clientname",
    "protocol",
    "maxretries",
    "minretrybackoff",
    "maxretrybackoff",
    "contexttimeoutenabled",
    "poolfifo",
    "maxredirects",
    "readonly",
    "routebylatency",
    "routerandomly",
    "disableindentity",
    "disableidentity",
    "identitysuffix",
    "unstableresp3",
];

fn decode_redis(d: &mut Decoder, s: &mut Section) -> Redis {
    let mut redis = Redis {
        addrs: s.texts(d, "addrs"),
        ..Default::default()
    };
    if let Some(af) = s.take("addr") {
        redis.addr = d.text(&af).filter(|a| !a.is_empty());
        if redis.addrs.is_empty() {
            d.warn_key(
                &af,
                "`redis.addr` is Distribution v2's spelling, which v3 ignores; Berth connects to it, but write `addrs: [host:6379]` for Distribution v3".to_string(),
            );
        }
    }
    redis.username = s.nonempty_text(d, "username");
    redis.password = s.nonempty_text(d, "password");
    redis.db = s.take("db").and_then(|f| d.integer(&f)).unwrap_or(0);
    redis.dial_timeout = s.duration(d, "dialtimeout");
    redis.read_timeout = s.duration(d, "readtimeout");
    redis.write_timeout = s.duration(d, "writetimeout");
    redis.pool_size = s.count(d, "poolsize");
    redis.max_idle_conns = s.count(d, "maxidleconns");
    redis.min_idle_conns = s.count(d, "minidleconns");
    redis.max_active_conns = s.count(d, "maxactiveconns");
    redis.conn_max_idle_time = s.duration(d, "connmaxidletime");
    redis.conn_max_lifetime = s.duration(d, "connmaxlifetime");
    redis.pool_timeout = s.duration(d, "pooltimeout");
    redis.master_name = s.nonempty_text(d, "mastername");
    redis.sentinel_username = s.nonempty_text(d, "sentinelusername");
    redis.sentinel_password = s.nonempty_text(d, "sentinelpassword");
    redis.pool = s.take("pool").and_then(|pf| {
        d.warn_key(
            &pf,
            "`redis.pool` is Distribution v2's; v3 ignores it and reads `maxidleconns`, `maxactiveconns` and `connmaxidletime`".to_string(),
        );
        d.mapping(&pf, |d, p| RedisPool {
            max_idle: p.count(d, "maxidle"),
            max_active: p.count(d, "maxactive"),
            idle_timeout: p.duration(d, "idletimeout"),
        })
    });
    redis.tls = s.section(d, "tls", |d, t| RedisTls {
        enabled: t.take("enabled").and_then(|f| d.flag(&f)),
        certificate: t.path_buf(d, "certificate"),
        key: t.path_buf(d, "key"),
        client_cas: t.paths(d, "clientcas"),
        root_cas: t.paths(d, "rootcas"),
    });
    for key in REDIS_OTHER_OPTIONS {
        if let Some(of) = s.take(key) {
            redis.options.push_with_position(
                key.to_string(),
                node_json(of.node),
                Some((of.key_pos.line, of.key_pos.column)),
            );
        }
    }
    redis
}

fn decode_health(d: &mut Decoder, s: &mut Section) -> Health {
    Health {
        storage_driver: s
            .section(d, "storagedriver", |d, sd| StorageDriverHealth {
                enabled: sd.flag(d, "enabled"),
                interval: sd.duration(d, "interval").unwrap_or_default(),
                threshold: sd.count(d, "threshold").unwrap_or_default(),
            })
            .unwrap_or_default(),
        file: s.list(d, "file", |d, c| FileCheck {
            file: PathBuf::from(c.text_or_empty(d, "file")),
            interval: c.duration(d, "interval").unwrap_or_default(),
            threshold: c.count(d, "threshold").unwrap_or_default(),
        }),
        http: s.list(d, "http", |d, c| {
            let status_code = c.take("statuscode").and_then(|sf| status_code(d, &sf));
            HttpCheck {
                uri: c.text_or_empty(d, "uri"),
                headers: c.headers(d, "headers"),
                status_code,
                timeout: c.duration(d, "timeout").unwrap_or_default(),
                interval: c.duration(d, "interval").unwrap_or_default(),
                threshold: c.count(d, "threshold").unwrap_or_default(),
            }
        }),
        tcp: s.list(d, "tcp", |d, c| TcpCheck {
            addr: c.text_or_empty(d, "addr"),
            timeout: c.duration(d, "timeout").unwrap_or_default(),
            interval: c.duration(d, "interval").unwrap_or_default(),
            threshold: c.count(d, "threshold").unwrap_or_default(),
        }),
    }
}

/// An HTTP check's expected status; zero means the default.
fn status_code(d: &mut Decoder, f: &Field) -> Option<u16> {
    match d.count(f) {
        Some(code) if (100..=599).contains(&code) => Some(code as u16),
        Some(0) | None => None,
        Some(code) => {
            d.problem(
                f,
                ProblemKind::InvalidValue,
                format!(
                    "`{}` must be an HTTP status between 100 and 599, found `{code}`",
                    join_path(&f.path)
                ),
            );
            None
        }
    }
}

fn decode_catalog(d: &mut Decoder, s: &mut Section) -> Catalog {
    let mut catalog = Catalog::default();
    if let Some(n) = s.take("maxentries").and_then(|f| d.integer(&f))
        && n > 0
    {
        catalog.max_entries = n as u64;
    }
    catalog
}

fn decode_proxy(d: &mut Decoder, s: &mut Section) -> Proxy {
    let proxy = Proxy {
        remote_url: s.text_or_empty(d, "remoteurl"),
        username: s.nonempty_text(d, "username"),
        password: s.nonempty_text(d, "password"),
        ttl: s.duration(d, "ttl"),
        exec: s.section(d, "exec", |d, e| ProxyExec {
            command: e.text_or_empty(d, "command"),
            lifetime: e.duration(d, "lifetime"),
        }),
    };
    if proxy.remote_url.is_empty() {
        d.warn(
            s.key_pos,
            s.env.as_ref(),
            &s.path,
            "`proxy` has no `remoteurl`, so the registry is not a pull-through cache; set `remoteurl` (e.g. https://registry-1.docker.io) or remove the section".to_string(),
        );
    }
    proxy
}

fn decode_compatibility(d: &mut Decoder, f: Option<Field>) -> Compatibility {
    let Some(f) = f else {
        return Compatibility::default();
    };
    d.warn_key(
        &f,
        "`compatibility` (schema1 manifests) was removed in Distribution v3 and has no effect in Berth; it is kept as written".to_string(),
    );
    d.mapping(&f, |d, s| Compatibility {
        schema1: s
            .section(d, "schema1", |d, x| Schema1 {
                enabled: x.flag(d, "enabled"),
                signing_key_file: x.path_buf(d, "signingkeyfile"),
            })
            .unwrap_or_default(),
    })
    .unwrap_or_default()
}

fn decode_validation(d: &mut Decoder, s: &mut Section) -> Validation {
    let enabled = s.take("enabled").is_some_and(|ef| {
        let enabled = d.flag(&ef).unwrap_or(false);
        d.warn_key(
            &ef,
            "`validation.enabled` is deprecated; use `validation.disabled` instead".to_string(),
        );
        enabled
    });
    Validation {
        enabled,
        disabled: s.flag(d, "disabled"),
        manifests: s
            .section(d, "manifests", |d, m| ManifestValidation {
                urls: m
                    .section(d, "urls", |d, u| UrlValidation {
                        allow: u.texts(d, "allow"),
                        deny: u.texts(d, "deny"),
                    })
                    .unwrap_or_default(),
                indexes: m
                    .section(d, "indexes", |d, i| IndexValidation {
                        platforms: i.choice(d, "platforms", true),
                        platform_list: i.list(d, "platformlist", |d, p| Platform {
                            architecture: p.text_or_empty(d, "architecture"),
                            os: p.text_or_empty(d, "os"),
                        }),
                    })
                    .unwrap_or_default(),
            })
            .unwrap_or_default(),
    }
}

/// Resolves duplicate keys the way go-yaml v2 does: the last one wins. Each
/// duplicate is reported with both positions.
pub(crate) fn dedupe(root: &mut Node, warnings: &mut Vec<Warning>) {
    walk(root, &mut Vec::new(), &mut |node: &mut Node, path| {
        let Kind::Map(entries) = &mut node.kind else {
            return true;
        };
        let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
        for entry in entries.drain(..) {
            let Some(first) = kept.iter_mut().find(|e| e.key == entry.key) else {
                kept.push(entry);
                continue;
            };
            let (line, column, message) = match &entry.value.env {
                Some(var) => (
                    0,
                    0,
                    format!(
                        "{var}: duplicate key `{}`; the last value wins, as in Distribution",
                        entry.key
                    ),
                ),
                None => (
                    entry.key_pos.line,
                    entry.key_pos.column,
                    format!(
                        "duplicate key `{}` (first at {}:{}); the last value, at {}:{}, wins as in Distribution; remove one of them",
                        entry.key,
                        first.key_pos.line,
                        first.key_pos.column,
                        entry.key_pos.line,
                        entry.key_pos.column
                    ),
                ),
            };
            warnings.push(Warning {
                line,
                column,
                key_path: join_path(&child(path, &entry.key)),
                message,
            });
            first.key_pos = entry.key_pos;
            first.value = entry.value;
        }
        *entries = kept;
        true
    });
}

/// The key order of every mapping in the tree.
pub(crate) fn layout(root: &mut Node) -> Layout {
    let mut layout = Layout::default();
    walk(root, &mut Vec::new(), &mut |node: &mut Node, path| {
        if let Kind::Map(entries) = &node.kind {
            let keys = entries.iter().map(|e| e.key.clone()).collect();
            layout.orders.insert(path.to_vec(), keys);
        }
        true
    });
    layout
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Auth, BlobDescriptorCache, Config, ConfigError, Loaded, LogLevel, ProblemKind};

    fn load(source: &str) -> Loaded {
        Config::parse(source, "config.yml", []).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fail(source: &str) -> ConfigError {
        match Config::parse(source, "config.yml", []) {
            Ok(loaded) => panic!("expected an error, loaded {:?}", loaded.config),
            Err(e) => e,
        }
    }

    const FS: &str =
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n";

    fn with(extra: &str) -> String {
        format!("{FS}{extra}")
    }

    #[test]
    fn durations_take_go_strings_and_nanoseconds() {
        let loaded = load(&with(
            "\
http:
  draintimeout: 1h30m
health:
  storagedriver:
    interval: 3000ms
notifications:
  endpoints:
    - name: a
      url: http://a
      timeout: 1500000000
      backoff: \"336h0m0s\"
",
        ));
        let config = &loaded.config;
        assert_eq!(config.http.drain_timeout, Duration::from_secs(5400));
        assert_eq!(
            config.health.storage_driver.interval,
            Duration::from_secs(3)
        );
        assert_eq!(
            config.notifications.endpoints[0].timeout,
            Duration::from_millis(1500)
        );
        assert_eq!(
            config.notifications.endpoints[0].backoff,
            Duration::from_secs(336 * 3600)
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn a_tiny_bare_number_duration_is_questioned() {
        let loaded = load(&with("health:\n  storagedriver:\n    interval: 10\n"));
        assert_eq!(
            loaded.config.health.storage_driver.interval,
            Duration::from_nanos(10)
        );
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(
            (loaded.warnings[0].line, loaded.warnings[0].column),
            (7, 15)
        );
        assert!(loaded.warnings[0].message.contains("10 nanoseconds"));
    }

    #[test]
    fn bad_durations_are_refused_with_their_position() {
        let err = fail(&with("proxy:\n  remoteurl: https://r\n  ttl: 7d\n"));
        assert_eq!(
            err.to_string(),
            "config.yml:7:8: `proxy.ttl`: `7d` has an unknown unit `d`; use ns, us, ms, s, m or h"
        );
        let err = fail(&with("http:\n  draintimeout: [1s]\n"));
        assert_eq!(err.problems()[0].kind, ProblemKind::WrongType);
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let err = fail("version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: maybe\n");
        let problems = err.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].line, problems[0].column), (5, 14));
        assert_eq!(problems[0].key_path, "storage.delete.enabled");
        assert_eq!(problems[0].kind, ProblemKind::WrongType);
        assert_eq!(
            err.to_string(),
            "config.yml:5:14: `storage.delete.enabled` must be true or false, found `maybe`"
        );

        let err = fail(&with("http:\n  addr: [a, b]\n  tls: yes\n"));
        let messages: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            messages,
            [
                "6:9: `http.addr` must be a single value, found a list",
                "7:8: `http.tls` must be a mapping of keys to values, found `yes`",
            ]
        );
    }

    #[test]
    fn go_yaml_scalar_rules_apply() {
        let loaded = load(&with(concat!(
            "  delete:\n",
            "    enabled: yes\n",
            "  maintenance:\n",
            "    readonly:\n",
            "      enabled: True\n",
            "http:\n",
            "  addr: :5000\n",
            "  headers:\n",
            "    Access-Control-Allow-Credentials: [true]\n",
            "    Access-Control-Max-Age: [1728000]\n",
        )));
        let config = &loaded.config;
        assert_eq!(config.version, "0.1");
        assert!(config.storage.delete.enabled);
        assert!(config.storage.maintenance.readonly.enabled);
        assert_eq!(
            config.http.headers,
            vec![
                (
                    "Access-Control-Allow-Credentials".to_string(),
                    vec!["true".to_string()]
                ),
                (
                    "Access-Control-Max-Age".to_string(),
                    vec!["1728000".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_say_where() {
        let loaded = load(
            "\
version: 0.1
storage:
  s3:
    bucket: b
    secure: false
    region: r
    secure: true
",
        );
        let params = &loaded.config.storage.driver.parameters;
        assert_eq!(params.bool("secure"), Ok(Some(true)));
        assert_eq!(params.len(), 3);
        assert_eq!(loaded.warnings.len(), 1);
        let warning = &loaded.warnings[0];
        assert_eq!((warning.line, warning.column), (7, 5));
        assert_eq!(warning.key_path, "storage.s3.secure");
        assert!(warning.message.contains("first at 5:5"), "{warning}");
        assert!(warning.message.contains("at 7:5"), "{warning}");
    }

    #[test]
    fn unknown_keys_are_reported_and_kept() {
        let loaded = load(&with(
            "\
http:
  addr: :5000
  hostname: registry.example.com
openshift:
  version: 1.0
",
        ));
        let warnings: Vec<(usize, usize, &str)> = loaded
            .warnings
            .iter()
            .map(|w| (w.line, w.column, w.key_path.as_str()))
            .collect();
        assert_eq!(warnings, [(7, 3, "http.hostname"), (8, 1, "openshift")]);
        assert!(
            loaded.warnings[0]
                .message
                .contains("did you mean `http.host`")
        );
        assert_eq!(loaded.config.unknown.len(), 2);
        assert!(loaded.config.unknown_section("openshift").is_some());
        let yaml = loaded.config.to_yaml(false);
        assert!(
            yaml.contains("  hostname: registry.example.com\n"),
            "{yaml}"
        );
        assert!(yaml.contains("openshift:\n  version: 1.0\n"), "{yaml}");
    }

    #[test]
    fn misplaced_sections_get_a_hint() {
        let loaded = load(&with("delete:\n  enabled: true\n"));
        assert!(!loaded.config.storage.delete.enabled);
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .message
                .contains("did you mean `storage.delete`")
        );
    }

    #[test]
    fn exactly_one_storage_driver() {
        let err = fail("version: 0.1\nhttp:\n  addr: :5000\n");
        assert_eq!(err.problems()[0].kind, ProblemKind::StorageDriverCount);
        assert!(
            err.to_string().contains("no storage driver is configured"),
            "{err}"
        );

        let err = fail("version: 0.1\nstorage:\n  delete:\n    enabled: true\n");
        assert_eq!((err.problems()[0].line, err.problems()[0].column), (2, 1));

        let err = fail(
            "version: 0.1\nstorage:\n  s3:\n    bucket: b\n  filesystem:\n    rootdirectory: /r\n",
        );
        assert_eq!(
            err.to_string(),
            "config.yml:2:1: must provide exactly one storage type, found 2: s3 (line 3), filesystem (line 5); keep one driver under `storage:` and remove the others"
        );
    }

    #[test]
    fn storage_can_be_a_bare_driver_name() {
        let config = load("version: 0.1\nstorage: inmemory\n").config;
        assert_eq!(config.storage.driver.name, "inmemory");
        assert!(config.storage.driver.parameters.is_empty());
    }

    #[test]
    fn version_must_be_0_1() {
        assert_eq!(load(&FS.replace("0.1", "\"0.1\"")).config.version, "0.1");
        let err = fail(&FS.replace("version: 0.1", "version: 0.2"));
        assert_eq!(err.problems()[0].kind, ProblemKind::UnsupportedVersion);
        assert!(
            err.to_string()
                .starts_with("config.yml:1:10: unsupported version \"0.2\""),
            "{err}"
        );
        let err = fail(&FS.replace("version: 0.1\n", ""));
        assert!(err.to_string().contains("`version` is missing"), "{err}");
    }

    #[test]
    fn one_auth_provider_with_what_it_needs() {
        let err = fail(&with(
            "auth:\n  silly:\n    realm: r\n    service: s\n  htpasswd:\n    realm: r\n    path: /p\n",
        ));
        assert_eq!(err.problems()[0].kind, ProblemKind::AuthProviderCount);
        assert!(
            err.to_string()
                .contains("found 2: silly (line 6), htpasswd (line 9)"),
            "{err}"
        );

        let err = fail(&with("auth:\n  htpasswd:\n    realm: basic-realm\n"));
        assert_eq!(err.problems()[0].kind, ProblemKind::Missing);
        assert_eq!(err.problems()[0].key_path, "auth.htpasswd.path");
        assert_eq!((err.problems()[0].line, err.problems()[0].column), (6, 3));
        assert!(
            err.to_string().contains("set it to the htpasswd file"),
            "{err}"
        );

        let loaded = load(&with(
            "auth:\n  htpasswd:\n    realm: basic-realm\n    path: /etc/registry/htpasswd\n",
        ));
        assert_eq!(
            loaded.config.auth,
            Some(Auth::Htpasswd {
                realm: "basic-realm".into(),
                path: "/etc/registry/htpasswd".into()
            })
        );

        // Token settings may come from the environment, so their absence is a warning.
        let loaded = load(&with("auth:\n  token:\n    rootcertbundle: /certs.pem\n"));
        assert!(matches!(loaded.config.auth, Some(Auth::Token(_))));
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .message
                .contains("realm, service or issuer")
        );

        let loaded = load(&with("auth:\n  openshift:\n    realm: openshift\n"));
        match &loaded.config.auth {
            Some(Auth::Other { name, parameters }) => {
                assert_eq!(name, "openshift");
                assert_eq!(parameters.string("realm").as_deref(), Some("openshift"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_problem_is_listed_in_file_order() {
        let err = fail(
            "\
version: 0.1
log:
  level: verbose
storage:
  filesystem:
    rootdirectory: /r
  cache:
    blobdescriptor: redis
http:
  tls:
    certificate: /cert.pem
    clientauth: sometimes
",
        );
        let located: Vec<(usize, usize, ProblemKind)> = err
            .problems()
            .iter()
            .map(|p| (p.line, p.column, p.kind))
            .collect();
        assert_eq!(
            located,
            [
                (3, 10, ProblemKind::InvalidValue),
                (8, 21, ProblemKind::Missing),
                (10, 3, ProblemKind::Missing),
                (12, 17, ProblemKind::InvalidValue),
            ]
        );
        let text = err.to_string();
        assert_eq!(text.lines().count(), 4);
        assert!(text.lines().all(|l| l.starts_with("config.yml:")), "{text}");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = fail("version: 0.1\nstorage:\n\tfilesystem: {}\n");
        match &err {
            ConfigError::Syntax { line, column, .. } => assert_eq!((*line, *column), (3, 2)),
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("config.yml:3:2: YAML syntax error"),
            "{err}"
        );
        assert!(err.to_string().contains("indent with spaces"), "{err}");
    }

    #[test]
    fn old_spellings_are_read_and_flagged() {
        let loaded = load(
            "\
version: 0.1
loglevel: debug
storage:
  inmemory:
  cache:
    layerinfo: inmemory
",
        );
        assert_eq!(loaded.config.log.level, LogLevel::Debug);
        assert_eq!(
            loaded
                .config
                .storage
                .cache
                .as_ref()
                .unwrap()
                .blob_descriptor,
            Some(BlobDescriptorCache::InMemory)
        );
        let paths: Vec<&str> = loaded
            .warnings
            .iter()
            .map(|w| w.key_path.as_str())
            .collect();
        assert_eq!(paths, ["loglevel", "storage.cache.layerinfo"]);
    }

    #[test]
    fn upload_purging_defaults_follow_distribution() {
        let config = load(FS).config;
        let purging = &config.storage.maintenance.upload_purging;
        assert!(purging.enabled);
        assert_eq!(purging.age, Duration::from_secs(168 * 3600));
        assert_eq!(purging.interval, Duration::from_secs(24 * 3600));

        let loaded = load(&with(
            "  maintenance:\n    uploadpurging:\n      enabled: true\n      age: 336h\n",
        ));
        let purging = &loaded.config.storage.maintenance.upload_purging;
        assert_eq!(purging.age, Duration::from_secs(336 * 3600));
        assert_eq!(purging.interval, Duration::from_secs(24 * 3600));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[0]
                .message
                .contains("without interval or dryrun")
        );
    }

    #[test]
    fn proxy_catalog_and_redis() {
        let config = load(&with(
            "\
proxy:
  remoteurl: https://registry-1.docker.io
  ttl: 0
catalog:
  maxentries: -5
redis:
  addr: a:26379,b:26379
  db: 2
  dialtimeout: 5s
  clientname: berth
",
        ))
        .config;
        let proxy = config.proxy.unwrap();
        assert_eq!(proxy.ttl, Some(Duration::ZERO));
        assert_eq!(config.catalog.max_entries, 1000);
        let redis = config.redis.unwrap();
        assert_eq!(redis.addresses(), ["a:26379", "b:26379"]);
        assert_eq!(redis.db, 2);
        assert_eq!(redis.dial_timeout, Some(Duration::from_secs(5)));
        assert_eq!(redis.options.string("clientname").as_deref(), Some("berth"));
    }

    #[test]
    fn the_file_must_be_a_mapping() {
        let err = fail("- a\n- b\n");
        assert_eq!(err.problems()[0].kind, ProblemKind::WrongType);
        let err = fail("");
        assert!(err.to_string().contains("`version` is missing"), "{err}");
    }
}
