//! Writes a [`Config`] back to YAML, in the source file's key order, with
//! unknown keys put back where they were and secrets optionally redacted.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::document::{Resolved, YamlValue, looks_like_timestamp, resolve_plain};
use crate::duration::format_go_duration;
use crate::model::*;
use crate::parameters::Parameters;
use crate::path::{Tree, child, walk};
use crate::secrets::{REDACTED, is_secret};

/// A YAML value about to be written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Out {
    /// Text for a typed string field: written plain whenever YAML allows,
    /// since a string field takes any scalar's text.
    Text(String),
    /// A string that must read back as a string, wherever it lands.
    Str(String),
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Null,
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

/// Which keys to write.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Values that differ from their default, and keys the source file had.
    Source,
    /// Every typed value, defaults included (for diffs).
    Full,
}

struct Ctx<'a> {
    layout: &'a Layout,
    mode: Mode,
}

struct MapOut<'c, 'a> {
    ctx: &'c Ctx<'a>,
    path: Vec<String>,
    entries: Vec<(String, Out)>,
}

impl<'c, 'a> MapOut<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, path: Vec<String>) -> Self {
        MapOut {
            ctx,
            path,
            entries: Vec::new(),
        }
    }

    fn written(&self, key: &str) -> bool {
        self.ctx.layout.has(&self.path, key)
    }

    /// Writes `key` unless the value is its default and the source did not have it.
    fn put(&mut self, key: &str, value: Out, is_default: bool) {
        if self.ctx.mode == Mode::Full || !is_default || self.written(key) {
            self.entries.push((key.to_string(), value));
        }
    }

    fn always(&mut self, key: &str, value: Out) {
        self.entries.push((key.to_string(), value));
    }

    fn opt(&mut self, key: &str, value: Option<Out>) {
        if let Some(value) = value {
            self.entries.push((key.to_string(), value));
        }
    }

    fn text(&mut self, key: &str, value: &str) {
        self.put(key, Out::Text(value.to_string()), value.is_empty());
    }

    fn opt_text(&mut self, key: &str, value: &Option<String>) {
        self.opt(key, value.as_ref().map(|v| Out::Text(v.clone())));
    }

    fn opt_path(&mut self, key: &str, value: &Option<std::path::PathBuf>) {
        self.opt(key, value.as_deref().map(path_text));
    }

    fn flag(&mut self, key: &str, value: bool) {
        self.put(key, Out::Bool(value), !value);
    }

    fn count(&mut self, key: &str, value: u64) {
        self.put(key, Out::UInt(value), value == 0);
    }

    fn opt_count(&mut self, key: &str, value: Option<u64>) {
        self.opt(key, value.map(Out::UInt));
    }

    fn duration(&mut self, key: &str, value: Duration) {
        self.put(key, duration(value), value.is_zero());
    }

    fn opt_duration(&mut self, key: &str, value: Option<Duration>) {
        self.opt(key, value.map(duration));
    }

    fn texts(&mut self, key: &str, values: &[String]) {
        self.put(key, texts_out(values), values.is_empty());
    }

    fn paths(&mut self, key: &str, values: &[std::path::PathBuf]) {
        let list = Out::Seq(values.iter().map(|v| path_text(v)).collect());
        self.put(key, list, values.is_empty());
    }

    fn headers(&mut self, key: &str, headers: &[(String, Vec<String>)]) {
        let map = Out::Map(
            headers
                .iter()
                .map(|(name, values)| (name.clone(), texts_out(values)))
                .collect(),
        );
        self.put(key, map, headers.is_empty());
    }

    fn params(&mut self, key: &str, params: &Parameters) {
        let map = params_out(params);
        self.put(key, map, params.is_empty());
    }

    /// The mapping that `fill` writes at `path`.
    fn mapping(&self, path: Vec<String>, fill: impl FnOnce(&mut MapOut)) -> Out {
        let mut inner = MapOut::new(self.ctx, path);
        fill(&mut inner);
        Out::Map(inner.entries)
    }

    /// A nested section, written when it has content or the source had it.
    fn section(&mut self, key: &str, fill: impl FnOnce(&mut MapOut)) {
        let map = self.mapping(child(&self.path, key), fill);
        let empty = is_empty(&map);
        self.put(key, map, empty);
    }

    /// An optional section: written exactly when it is `Some`, even if empty.
    fn opt_section<T>(&mut self, key: &str, value: &Option<T>, fill: impl FnOnce(&mut MapOut, &T)) {
        if let Some(value) = value {
            let map = self.mapping(child(&self.path, key), |m| fill(m, value));
            self.always(key, map);
        }
    }

    /// A list of sections.
    fn list<T>(&mut self, key: &str, items: &[T], fill: impl Fn(&mut MapOut, &T)) {
        let path = child(&self.path, key);
        let out: Vec<Out> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.mapping(child(&path, &i.to_string()), |m| fill(m, item)))
            .collect();
        self.put(key, Out::Seq(out), items.is_empty());
    }
}

fn texts_out(values: &[String]) -> Out {
    Out::Seq(values.iter().map(|v| Out::Text(v.clone())).collect())
}

fn path_text(path: &Path) -> Out {
    Out::Text(path.to_string_lossy().into_owned())
}

fn duration(d: Duration) -> Out {
    Out::Text(format_go_duration(d))
}

fn json_out(value: &Value) -> Out {
    match value {
        Value::Null => Out::Null,
        Value::Bool(b) => Out::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Out::Int(i)
            } else if let Some(u) = n.as_u64() {
                Out::UInt(u)
            } else {
                Out::Float(n.as_f64().unwrap_or_default())
            }
        }
        Value::String(s) => Out::Str(s.clone()),
        Value::Array(items) => Out::Seq(items.iter().map(json_out).collect()),
        Value::Object(map) => Out::Map(map.iter().map(|(k, v)| (k.clone(), json_out(v))).collect()),
    }
}

fn params_out(params: &Parameters) -> Out {
    Out::Map(
        params
            .iter()
            .map(|(k, v)| (k.to_string(), json_out(v)))
            .collect(),
    )
}

fn yaml_out(value: &YamlValue) -> Out {
    match value {
        YamlValue::Null => Out::Null,
        YamlValue::Scalar { text, quoted: true } => Out::Str(text.clone()),
        YamlValue::Scalar {
            text,
            quoted: false,
        } => Out::Text(text.clone()),
        YamlValue::Seq(items) => Out::Seq(items.iter().map(yaml_out).collect()),
        YamlValue::Map(entries) => Out::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), yaml_out(v)))
                .collect(),
        ),
    }
}

/// The configuration as a tree of values, unknown keys included, in source order.
pub(crate) fn config_out(config: &Config, mode: Mode) -> Out {
    let ctx = Ctx {
        layout: &config.layout,
        mode,
    };
    let mut top = MapOut::new(&ctx, Vec::new());
    top.always("version", Out::Text(config.version.clone()));
    top.section("log", |m| log_out(m, &config.log));
    top.always("storage", storage_out(&ctx, &config.storage));
    top.opt("auth", config.auth.as_ref().map(|a| auth_out(&ctx, a)));
    top.section("middleware", |m| {
        for (kind, list) in [
            ("registry", &config.middleware.registry),
            ("repository", &config.middleware.repository),
            ("storage", &config.middleware.storage),
        ] {
            m.list(kind, list, |e, mw| {
                e.always("name", Out::Text(mw.name.clone()));
                e.flag("disabled", mw.disabled);
                e.params("options", &mw.options);
            });
        }
    });
    top.section("reporting", |m| {
        m.opt_section("bugsnag", &config.reporting.bugsnag, |b, bugsnag| {
            b.text("apikey", &bugsnag.api_key);
            b.text("releasestage", &bugsnag.release_stage);
            b.text("endpoint", &bugsnag.endpoint);
        });
        m.opt_section("newrelic", &config.reporting.newrelic, |n, newrelic| {
            n.text("licensekey", &newrelic.license_key);
            n.text("name", &newrelic.name);
            n.flag("verbose", newrelic.verbose);
        });
    });
    top.section("http", |m| http_out(m, &config.http));
    top.section("notifications", |m| {
        m.section("events", |e| {
            e.flag(
                "includereferences",
                config.notifications.events.include_references,
            )
        });
        m.list(
            "endpoints",
            &config.notifications.endpoints,
            |e, endpoint| {
                e.always("name", Out::Text(endpoint.name.clone()));
                e.flag("disabled", endpoint.disabled);
                e.text("url", &endpoint.url);
                e.headers("headers", &endpoint.headers);
                e.duration("timeout", endpoint.timeout);
                e.count("threshold", endpoint.threshold);
                e.duration("backoff", endpoint.backoff);
                e.texts("ignoredmediatypes", &endpoint.ignored_media_types);
                e.section("ignore", |i| {
                    i.texts("mediatypes", &endpoint.ignore.media_types);
                    i.texts("actions", &endpoint.ignore.actions);
                });
            },
        );
    });
    top.opt_section("redis", &config.redis, redis_out);
    top.section("health", |m| health_out(m, &config.health));
    top.section("catalog", |m| {
        m.put(
            "maxentries",
            Out::UInt(config.catalog.max_entries),
            config.catalog.max_entries == 1000,
        );
    });
    top.opt_section("proxy", &config.proxy, |m, proxy| {
        m.text("remoteurl", &proxy.remote_url);
        m.opt_text("username", &proxy.username);
        m.opt_text("password", &proxy.password);
        m.opt_section("exec", &proxy.exec, |e, exec| {
            e.text("command", &exec.command);
            e.opt_duration("lifetime", exec.lifetime);
        });
        m.opt_duration("ttl", proxy.ttl);
    });
    top.section("compatibility", |m| {
        m.section("schema1", |s| {
            s.flag("enabled", config.compatibility.schema1.enabled);
            s.opt_path(
                "signingkeyfile",
                &config.compatibility.schema1.signing_key_file,
            );
        });
    });
    top.section("validation", |m| {
        let v = &config.validation;
        m.flag("enabled", v.enabled);
        m.flag("disabled", v.disabled);
        m.section("manifests", |mm| {
            mm.section("urls", |u| {
                u.texts("allow", &v.manifests.urls.allow);
                u.texts("deny", &v.manifests.urls.deny);
            });
            mm.section("indexes", |i| {
                i.opt(
                    "platforms",
                    v.manifests
                        .indexes
                        .platforms
                        .map(|p| Out::Text(p.as_str().to_string())),
                );
                i.list(
                    "platformlist",
                    &v.manifests.indexes.platform_list,
                    |p, platform| {
                        p.text("architecture", &platform.architecture);
                        p.text("os", &platform.os);
                    },
                );
            });
        });
    });
    top.section("policy", |m| {
        m.section("repository", |r| {
            r.texts("classes", &config.policy.repository.classes)
        });
    });
    top.section("tags", |m| m.opt_count("maxtags", config.tags.max_tags));

    let mut root = Out::Map(top.entries);
    for unknown in &config.unknown {
        insert_unknown(
            &mut root,
            &unknown.parent,
            &unknown.key,
            yaml_out(&unknown.value),
        );
    }
    order(&mut root, &config.layout);
    root
}

fn log_out(m: &mut MapOut, log: &Log) {
    m.section("accesslog", |a| a.flag("disabled", log.access_log.disabled));
    m.always("level", Out::Text(log.level.as_str().to_string()));
    m.opt(
        "formatter",
        log.formatter.map(|f| Out::Text(f.as_str().to_string())),
    );
    m.params("fields", &log.fields);
    m.list("hooks", &log.hooks, |h, hook| {
        h.flag("disabled", hook.disabled);
        h.text("type", &hook.hook_type);
        h.texts("levels", &hook.levels);
        h.section("options", |o| {
            o.section("smtp", |s| {
                s.text("addr", &hook.options.smtp.addr);
                s.text("username", &hook.options.smtp.username);
                s.text("password", &hook.options.smtp.password);
                s.flag("insecure", hook.options.smtp.insecure);
            });
            o.text("from", &hook.options.from);
            o.texts("to", &hook.options.to);
        });
    });
    m.flag("reportcaller", log.report_caller);
}

fn storage_out(ctx: &Ctx, storage: &Storage) -> Out {
    let mut m = MapOut::new(ctx, vec!["storage".to_string()]);
    m.always(&storage.driver.name, params_out(&storage.driver.parameters));
    m.section("delete", |d| d.flag("enabled", storage.delete.enabled));
    m.section("redirect", |r| r.flag("disable", storage.redirect.disable));
    m.section("maintenance", |mm| {
        let purging = &storage.maintenance.upload_purging;
        let defaults = UploadPurging::default();
        mm.section("uploadpurging", |u| {
            u.put(
                "enabled",
                Out::Bool(purging.enabled),
                purging.enabled == defaults.enabled,
            );
            u.put("age", duration(purging.age), purging.age == defaults.age);
            u.put(
                "interval",
                duration(purging.interval),
                purging.interval == defaults.interval,
            );
            u.flag("dryrun", purging.dry_run);
        });
        mm.section("readonly", |r| {
            r.flag("enabled", storage.maintenance.readonly.enabled)
        });
    });
    m.opt_section("cache", &storage.cache, |c, cache| {
        c.opt(
            "blobdescriptor",
            cache
                .blob_descriptor
                .as_ref()
                .map(|b| Out::Text(b.as_str().to_string())),
        );
        c.opt_count("blobdescriptorsize", cache.blob_descriptor_size);
    });
    m.section("tag", |t| {
        t.opt_count("concurrencylimit", storage.tag.concurrency_limit)
    });
    Out::Map(m.entries)
}

fn auth_out(ctx: &Ctx, auth: &Auth) -> Out {
    let name = auth.name().to_string();
    let mut m = MapOut::new(ctx, vec!["auth".to_string(), name.clone()]);
    match auth {
        Auth::Htpasswd { realm, path } => {
            m.always("realm", Out::Text(realm.clone()));
            m.always("path", path_text(path));
        }
        Auth::Silly { realm, service } => {
            m.always("realm", Out::Text(realm.clone()));
            m.always("service", Out::Text(service.clone()));
        }
        Auth::Token(token) => {
            m.text("realm", &token.realm);
            m.text("service", &token.service);
            m.text("issuer", &token.issuer);
            m.opt_path("rootcertbundle", &token.root_cert_bundle);
            m.opt_path("jwks", &token.jwks);
            m.flag("autoredirect", token.auto_redirect);
            m.opt_text("autoredirectpath", &token.auto_redirect_path);
            m.texts("signingalgorithms", &token.signing_algorithms);
        }
        Auth::Other { parameters, .. } => return Out::Map(vec![(name, params_out(parameters))]),
    }
    Out::Map(vec![(name, Out::Map(m.entries))])
}

fn http_out(m: &mut MapOut, http: &Http) {
    m.text("addr", &http.addr);
    m.text("net", &http.net);
    m.text("prefix", &http.prefix);
    m.opt_text("host", &http.host);
    m.opt_text("secret", &http.secret);
    m.flag("relativeurls", http.relative_urls);
    m.duration("draintimeout", http.drain_timeout);
    m.opt_section("tls", &http.tls, |t, tls| {
        t.opt_path("certificate", &tls.certificate);
        t.opt_path("key", &tls.key);
        t.paths("clientcas", &tls.client_cas);
        t.opt(
            "clientauth",
            tls.client_auth.map(|c| Out::Text(c.as_str().to_string())),
        );
        t.opt_text("minimumtls", &tls.minimum_tls);
        t.texts("ciphersuites", &tls.cipher_suites);
        t.opt_section("letsencrypt", &tls.letsencrypt, |l, le| {
            l.opt_path("cachefile", &le.cache_file);
            l.text("email", &le.email);
            l.texts("hosts", &le.hosts);
            l.opt_text("directoryurl", &le.directory_url);
        });
    });
    m.headers("headers", &http.headers);
    m.opt_section("debug", &http.debug, |d, debug| {
        d.text("addr", &debug.addr);
        d.section("prometheus", |p| {
            p.flag("enabled", debug.prometheus.enabled);
            p.text("path", &debug.prometheus.path);
        });
    });
    m.section("http2", |h| h.flag("disabled", http.http2_disabled));
    m.section("h2c", |h| h.flag("enabled", http.h2c_enabled));
}

fn redis_out(m: &mut MapOut, redis: &Redis) {
    m.texts("addrs", &redis.addrs);
    m.opt_text("addr", &redis.addr);
    m.opt_text("username", &redis.username);
    m.opt_text("password", &redis.password);
    m.put("db", Out::Int(redis.db), redis.db == 0);
    m.opt_duration("dialtimeout", redis.dial_timeout);
    m.opt_duration("readtimeout", redis.read_timeout);
    m.opt_duration("writetimeout", redis.write_timeout);
    m.opt_count("poolsize", redis.pool_size);
    m.opt_count("maxidleconns", redis.max_idle_conns);
    m.opt_count("minidleconns", redis.min_idle_conns);
    m.opt_count("maxactiveconns", redis.max_active_conns);
    m.opt_duration("connmaxidletime", redis.conn_max_idle_time);
    m.opt_duration("connmaxlifetime", redis.conn_max_lifetime);
    m.opt_duration("pooltimeout", redis.pool_timeout);
    m.opt_text("mastername", &redis.master_name);
    m.opt_text("sentinelusername", &redis.sentinel_username);
    m.opt_text("sentinelpassword", &redis.sentinel_password);
    m.opt_section("pool", &redis.pool, |p, pool| {
        p.opt_count("maxidle", pool.max_idle);
        p.opt_count("maxactive", pool.max_active);
        p.opt_duration("idletimeout", pool.idle_timeout);
    });
    m.opt_section("tls", &redis.tls, |t, tls| {
        t.opt("enabled", tls.enabled.map(Out::Bool));
        t.opt_path("certificate", &tls.certificate);
        t.opt_path("key", &tls.key);
        t.paths("clientcas", &tls.client_cas);
        t.paths("rootcas", &tls.root_cas);
    });
    for (key, value) in redis.options.iter() {
        m.always(key, json_out(value));
    }
}

fn health_out(m: &mut MapOut, health: &Health) {
    m.section("storagedriver", |s| {
        s.flag("enabled", health.storage_driver.enabled);
        s.duration("interval", health.storage_driver.interval);
        s.count("threshold", health.storage_driver.threshold);
    });
    m.list("file", &health.file, |c, check| {
        c.always("file", path_text(&check.file));
        c.duration("interval", check.interval);
        c.count("threshold", check.threshold);
    });
    m.list("http", &health.http, |c, check| {
        c.always("uri", Out::Text(check.uri.clone()));
        c.headers("headers", &check.headers);
        c.opt(
            "statuscode",
            check.status_code.map(|s| Out::UInt(u64::from(s))),
        );
        c.duration("timeout", check.timeout);
        c.duration("interval", check.interval);
        c.count("threshold", check.threshold);
    });
    m.list("tcp", &health.tcp, |c, check| {
        c.always("addr", Out::Text(check.addr.clone()));
        c.duration("timeout", check.timeout);
        c.duration("interval", check.interval);
        c.count("threshold", check.threshold);
    });
}

fn insert_unknown(root: &mut Out, parent: &[String], key: &str, value: Out) {
    let mut node = root;
    for segment in parent {
        node = match node {
            Out::Map(entries) => {
                let i = match entries.iter().position(|(k, _)| k == segment) {
                    Some(i) => i,
                    None => {
                        entries.push((segment.clone(), Out::Map(Vec::new())));
                        entries.len() - 1
                    }
                };
                &mut entries[i].1
            }
            Out::Seq(items) => match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
        if matches!(node, Out::Null) {
            *node = Out::Map(Vec::new());
        }
    }
    if let Out::Map(entries) = node {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_string(), value)),
        }
    }
}

impl Tree for Out {
    fn children(&mut self) -> Vec<(String, &mut Out)> {
        match self {
            Out::Map(entries) => entries.iter_mut().map(|(k, v)| (k.clone(), v)).collect(),
            Out::Seq(items) => items
                .iter_mut()
                .enumerate()
                .map(|(i, item)| (i.to_string(), item))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Sorts every mapping by the source file's key order; keys the source did
/// not have keep their relative order after those it did.
fn order(root: &mut Out, layout: &Layout) {
    walk(root, &mut Vec::new(), &mut |out: &mut Out, path| {
        if let (Out::Map(entries), Some(keys)) = (out, layout.keys_at(path)) {
            entries.sort_by_key(|(k, _)| keys.iter().position(|s| s == k).unwrap_or(usize::MAX));
        }
        true
    });
}

/// Replaces every non-empty secret value with [`REDACTED`], keeping its
/// shape (a header's list of values stays a list), so the result still loads.
pub(crate) fn redact(root: &mut Out) {
    walk(root, &mut Vec::new(), &mut |out: &mut Out, path| {
        if is_secret(path) {
            redact_value(out);
            return false;
        }
        true
    });
}

fn redact_value(value: &mut Out) {
    match value {
        Out::Seq(items) => items.iter_mut().for_each(redact_value),
        Out::Map(entries) => entries.iter_mut().for_each(|(_, v)| redact_value(v)),
        other if !is_empty(other) => *other = Out::Str(REDACTED.to_string()),
        _ => {}
    }
}

pub(crate) fn is_empty(out: &Out) -> bool {
    match out {
        Out::Null => true,
        Out::Text(s) | Out::Str(s) => s.is_empty(),
        Out::Seq(items) => items.is_empty(),
        Out::Map(entries) => entries.is_empty(),
        Out::Bool(_) | Out::Int(_) | Out::UInt(_) | Out::Float(_) => false,
    }
}

/// Paths (one element per level) of every non-empty secret in the tree.
pub(crate) fn secrets(mut root: Out) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    walk(&mut root, &mut Vec::new(), &mut |out: &mut Out, path| {
        if !is_secret(path) {
            return true;
        }
        if !is_empty(out) {
            found.push(path.to_vec());
        }
        false
    });
    found
}

// ---------------------------------------------------------------------------
// rendering

/// Renders a tree as a block-style YAML document.
pub(crate) fn render(root: &Out) -> String {
    let mut buf = String::new();
    match root {
        Out::Map(entries) if !entries.is_empty() => write_map(&mut buf, entries, 0),
        other => {
            buf.push_str(&inline(other));
            buf.push('\n');
        }
    }
    buf
}

fn indent(buf: &mut String, n: usize) {
    buf.extend(std::iter::repeat_n(' ', n));
}

fn write_map(buf: &mut String, entries: &[(String, Out)], level: usize) {
    for (key, value) in entries {
        indent(buf, level);
        buf.push_str(&key_text(key));
        buf.push(':');
        write_value(buf, value, level);
    }
}

/// Writes a value after its `key:` or list entry's `-`: on the same line
/// when it is written inline, else on the lines below, indented.
fn write_value(buf: &mut String, value: &Out, level: usize) {
    match value {
        Out::Map(entries) if !entries.is_empty() => {
            buf.push('\n');
            write_map(buf, entries, level + 2);
        }
        Out::Seq(items) if !items.is_empty() && !flowable(items) => {
            buf.push('\n');
            write_seq(buf, items, level + 2);
        }
        other => {
            buf.push(' ');
            buf.push_str(&inline(other));
            buf.push('\n');
        }
    }
}

fn write_seq(buf: &mut String, items: &[Out], level: usize) {
    for item in items {
        indent(buf, level);
        buf.push('-');
        match item {
            Out::Map(entries) if !entries.is_empty() => {
                let (first_key, first_value) = &entries[0];
                buf.push(' ');
                buf.push_str(&key_text(first_key));
                buf.push(':');
                write_value(buf, first_value, level + 2);
                write_map(buf, &entries[1..], level + 2);
            }
            other => write_value(buf, other, level),
        }
    }
}

/// Whether a list is short scalars that read well as `[a, b]`.
fn flowable(items: &[Out]) -> bool {
    let mut width = 0;
    for item in items {
        match item {
            Out::Text(s) | Out::Str(s) if flow_safe(s) => width += s.len() + 2,
            Out::Text(_) | Out::Str(_) => return false,
            Out::Bool(_) | Out::Int(_) | Out::UInt(_) | Out::Float(_) | Out::Null => width += 8,
            Out::Seq(_) | Out::Map(_) => return false,
        }
    }
    width <= 72
}

/// A value on one line: scalars, `[]`, `{}`, or a flowable list.
fn inline(value: &Out) -> String {
    match value {
        Out::Text(s) => text_scalar(s),
        Out::Str(s) => string_scalar(s),
        Out::Bool(b) => b.to_string(),
        Out::Int(i) => i.to_string(),
        Out::UInt(u) => u.to_string(),
        Out::Float(f) => float_scalar(*f),
        Out::Null => "null".to_string(),
        Out::Seq(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        Out::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", string_scalar(k), inline(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn float_scalar(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Whether `s` can be written as a plain scalar in block context and read back as the same text.
fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s {
        return false;
    }
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'))
    {
        return false;
    }
    if "?,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if first == '-' || first == ':' {
        let second = s.chars().nth(1);
        if !second.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.') {
            return false;
        }
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':'))
}

/// Whether the written form of `s` is safe inside `[…]`: quoted, or plain without flow indicators.
fn flow_safe(s: &str) -> bool {
    !plain_safe(s) || !s.contains([',', '[', ']', '{', '}', '?'])
}

fn double_quoted(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string serialises");
    json.replace('\u{85}', "\\N")
        .replace('\u{2028}', "\\L")
        .replace('\u{2029}', "\\P")
        .replace('\u{FEFF}', "\\uFEFF")
}

/// A typed string field's value: its text plain when YAML allows, since such
/// a field takes any scalar's text; quoted when it would read as null.
fn text_scalar(s: &str) -> String {
    if plain_safe(s) && !matches!(resolve_plain(s), Resolved::Null) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

/// A string that must read back as a string, for Distribution too.
fn string_scalar(s: &str) -> String {
    if plain_safe(s)
        && matches!(resolve_plain(s), Resolved::Str)
        && !looks_like_timestamp(s)
        && s != "<<"
    {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

fn key_text(key: &str) -> String {
    string_scalar(key)
}

// ---------------------------------------------------------------------------
// flattening for diffs

/// The tree as (path, value) leaves: mappings are walked, lists of mappings
/// are walked by position, lists of scalars are one leaf, and so is a secret.
pub(crate) fn leaves(mut root: Out) -> Vec<(Vec<String>, String)> {
    let mut leaves = Vec::new();
    walk(&mut root, &mut Vec::new(), &mut |out: &mut Out, path| {
        let inside = match out {
            Out::Map(entries) => !entries.is_empty(),
            Out::Seq(items) => items.iter().any(|i| matches!(i, Out::Map(_) | Out::Seq(_))),
            _ => false,
        };
        if inside && !is_secret(path) {
            return true;
        }
        leaves.push((path.to_vec(), inline(out)));
        false
    });
    leaves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(text_scalar("0.1"), "0.1");
        assert_eq!(text_scalar(":5000"), ":5000");
        assert_eq!(text_scalar("R:/"), "R:/");
        assert_eq!(text_scalar("true"), "true");
        assert_eq!(text_scalar(""), "\"\"");
        assert_eq!(text_scalar("~"), "\"~\"");
        assert_eq!(text_scalar("a: b"), "\"a: b\"");
        assert_eq!(text_scalar("*"), "\"*\"");
        assert_eq!(text_scalar("x #y"), "\"x #y\"");
        assert_eq!(string_scalar("true"), "\"true\"");
        assert_eq!(string_scalar("0123"), "\"0123\"");
        assert_eq!(string_scalar("2024-01-01"), "\"2024-01-01\"");
        assert_eq!(string_scalar("us-east-1"), "us-east-1");
        assert_eq!(string_scalar("line\nbreak"), "\"line\\nbreak\"");
        assert_eq!(float_scalar(1.0), "1.0");
        assert_eq!(float_scalar(0.25), "0.25");
    }

    #[test]
    fn renders_block_yaml() {
        let tree = Out::Map(vec![
            ("version".into(), Out::Text("0.1".into())),
            (
                "http".into(),
                Out::Map(vec![(
                    "headers".into(),
                    Out::Map(vec![(
                        "X-Content-Type-Options".into(),
                        Out::Seq(vec![Out::Text("nosniff".into())]),
                    )]),
                )]),
            ),
            (
                "endpoints".into(),
                Out::Seq(vec![Out::Map(vec![
                    ("name".into(), Out::Text("a".into())),
                    ("url".into(), Out::Text("http://x".into())),
                ])]),
            ),
            ("empty".into(), Out::Map(vec![])),
        ]);
        assert_eq!(
            render(&tree),
            "version: 0.1\nhttp:\n  headers:\n    X-Content-Type-Options: [nosniff]\nendpoints:\n  - name: a\n    url: http://x\nempty: {}\n"
        );
    }
}
