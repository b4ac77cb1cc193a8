//! The typed configuration: one struct per section of Distribution's `config.yml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::document::YamlValue;
use crate::parameters::Parameters;

/// A whole registry configuration, as Distribution's `config.yml` describes it.
///
/// Build one with [`Config::parse`], [`Config::load`] or
/// [`Config::embedded_default`]; write one with [`Config::to_yaml`].
/// Equality compares the configuration itself, not how the file was laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Always `0.1`, the only version Distribution defines.
    pub version: String,
    /// `log`: level, formatter, static fields, access log, hooks. The
    /// deprecated top-level `loglevel` is folded into `log.level`.
    pub log: Log,
    /// `storage`: the one driver and its parameters, plus the sections that sit beside it.
    pub storage: Storage,
    /// `auth`: at most one provider.
    pub auth: Option<Auth>,
    /// `middleware`: registry, repository and storage middleware lists.
    pub middleware: Middlewares,
    /// `reporting`: Bugsnag and New Relic (Distribution v2 only).
    pub reporting: Reporting,
    /// `http`: the listener, TLS, headers, debug server.
    pub http: Http,
    /// `notifications`: webhook endpoints.
    pub notifications: Notifications,
    /// `redis`: the connection used by the blob descriptor cache.
    pub redis: Option<Redis>,
    /// `health`: the health checks.
    pub health: Health,
    /// `catalog`: limits of `/v2/_catalog`.
    pub catalog: Catalog,
    /// `proxy`: pull-through cache of another registry.
    pub proxy: Option<Proxy>,
    /// `compatibility`: schema1 manifests (Distribution v2 only).
    pub compatibility: Compatibility,
    /// `validation`: manifest validation rules.
    pub validation: Validation,
    /// `policy`: repository classes.
    pub policy: Policy,
    /// `tags`: tag limits.
    pub tags: Tags,
    /// Keys Berth does not know, kept so that writing the file back loses
    /// nothing (a fork's `database:` or `openshift:` section, say). Sorted by
    /// path then key.
    pub unknown: Vec<UnknownKey>,
    /// How the source file ordered its keys, so that [`Config::to_yaml`] keeps
    /// that order. It takes no part in equality.
    pub layout: Layout,
}

/// A key Berth does not know, kept for round-trip.
#[derive(Clone, Debug, PartialEq)]
pub struct UnknownKey {
    /// Path of the mapping that holds the key, one element per level; list
    /// positions are written as decimal numbers. Empty for a top-level key.
    pub parent: Vec<String>,
    /// The key itself.
    pub key: String,
    /// Its value as written.
    pub value: YamlValue,
}

impl UnknownKey {
    /// The dotted path of the key, e.g. `notifications.endpoints[0].maxretries`.
    pub fn key_path(&self) -> String {
        let mut segments = self.parent.clone();
        segments.push(self.key.clone());
        crate::path::join_path(&segments)
    }
}

/// The order in which a source file wrote the keys of each mapping.
///
/// Equality always holds between two layouts: layout is presentation, not configuration.
#[derive(Clone, Default)]
pub struct Layout {
    pub(crate) orders: BTreeMap<Vec<String>, Vec<String>>,
}

impl Layout {
    /// The keys of the mapping at `path` in source order, if the source had one there.
    pub fn keys_at(&self, path: &[String]) -> Option<&[String]> {
        self.orders.get(path).map(Vec::as_slice)
    }

    pub(crate) fn has(&self, path: &[String], key: &str) -> bool {
        self.orders
            .get(path)
            .is_some_and(|keys| keys.iter().any(|k| k == key))
    }
}

impl PartialEq for Layout {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Layout({} mappings)", self.orders.len())
    }
}

/// A setting that takes one of a fixed set of names.
pub(crate) trait Choice: Copy + 'static {
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];

    /// The value's name in a config file.
    fn name(self) -> &'static str;
}

// ---------------------------------------------------------------------------
// log

/// The `log` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    /// `log.level`; `info` when neither it nor the old top-level `loglevel` is set.
    pub level: LogLevel,
    /// `log.formatter`; Distribution's default (text) when `None`.
    pub formatter: Option<LogFormatter>,
    /// `log.fields`: static fields added to every log line.
    pub fields: Parameters,
    /// `log.accesslog`.
    pub access_log: AccessLog,
    /// `log.hooks`: mail hooks.
    pub hooks: Vec<LogHook>,
    /// `log.reportcaller`: add the calling function to each line.
    pub report_caller: bool,
}

/// A log level, as Distribution accepts it (case-insensitively).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// `error`
    Error,
    /// `warn`
    Warn,
    /// `info`
    #[default]
    Info,
    /// `debug`
    Debug,
}

impl LogLevel {
    /// The level's name in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl Choice for LogLevel {
    const ALL: &'static [LogLevel] = &[
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// A log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormatter {
    /// `text`
    Text,
    /// `json`
    Json,
    /// `logstash`
    Logstash,
}

impl LogFormatter {
    /// The formatter's name in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormatter::Text => "text",
            LogFormatter::Json => "json",
            LogFormatter::Logstash => "logstash",
        }
    }
}

impl Choice for LogFormatter {
    const ALL: &'static [LogFormatter] = &[
        LogFormatter::Text,
        LogFormatter::Json,
        LogFormatter::Logstash,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// `log.accesslog`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessLog {
    /// Turn the access log off.
    pub disabled: bool,
}

/// One entry of `log.hooks`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogHook {
    /// Skip this hook.
    pub disabled: bool,
    /// The hook's `type` (Distribution knows `mail`).
    pub hook_type: String,
    /// The levels that fire the hook.
    pub levels: Vec<String>,
    /// The hook's `options`.
    pub options: MailOptions,
}

/// `log.hooks[].options`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailOptions {
    /// The SMTP server.
    pub smtp: Smtp,
    /// Sender address.
    pub from: String,
    /// Recipient addresses.
    pub to: Vec<String>,
}

/// `log.hooks[].options.smtp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Smtp {
    /// `host:port` of the server.
    pub addr: String,
    /// Login name.
    pub username: String,
    /// Login password (a secret).
    pub password: String,
    /// Skip certificate verification.
    pub insecure: bool,
}

// ---------------------------------------------------------------------------
// storage

/// The `storage` section: exactly one driver, plus the sections beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    /// The driver (`filesystem`, `s3`, `azure`, `gcs`, `swift`, `inmemory`, …) and its parameters.
    pub driver: DriverConfig,
    /// `storage.delete`.
    pub delete: Delete,
    /// `storage.redirect`.
    pub redirect: Redirect,
    /// `storage.maintenance`.
    pub maintenance: Maintenance,
    /// `storage.cache`.
    pub cache: Option<Cache>,
    /// `storage.tag`.
    pub tag: TagLookup,
}

impl Storage {
    /// A storage section with this driver and every other section at its default.
    pub fn new(driver: DriverConfig) -> Storage {
        Storage {
            driver,
            delete: Delete::default(),
            redirect: Redirect::default(),
            maintenance: Maintenance::default(),
            cache: None,
            tag: TagLookup::default(),
        }
    }
}

/// The storage driver's name and parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverConfig {
    /// The driver's name, the key under `storage:`.
    pub name: String,
    /// Its parameters, as written.
    pub parameters: Parameters,
}

impl DriverConfig {
    /// A driver with no parameters.
    pub fn new(name: impl Into<String>) -> DriverConfig {
        DriverConfig {
            name: name.into(),
            parameters: Parameters::new(),
        }
    }
}

/// Names of the sections under `storage:` that are not drivers.
pub(crate) const STORAGE_SECTIONS: [&str; 5] =
    ["maintenance", "cache", "delete", "redirect", "tag"];

/// Drivers Berth implements.
pub const BERTH_DRIVERS: [&str; 6] = ["filesystem", "inmemory", "s3", "azure", "gcs", "swift"];

/// `storage.delete`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delete {
    /// Allow deleting blobs and manifests through the API.
    pub enabled: bool,
}

/// `storage.redirect`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redirect {
    /// Serve blobs through the registry instead of redirecting to the backend.
    pub disable: bool,
}

/// `storage.maintenance`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// `storage.maintenance.uploadpurging`.
    pub upload_purging: UploadPurging,
    /// `storage.maintenance.readonly`.
    pub readonly: ReadOnly,
}

/// `storage.maintenance.uploadpurging`: removal of abandoned uploads.
///
/// The default is Distribution's: on, uploads older than a week, every day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadPurging {
    /// Purge at all.
    pub enabled: bool,
    /// Uploads older than this are removed.
    pub age: Duration,
    /// How often to look.
    pub interval: Duration,
    /// Only log what would be removed.
    pub dry_run: bool,
}

impl Default for UploadPurging {
    fn default() -> Self {
        UploadPurging {
            enabled: true,
            age: Duration::from_secs(168 * 3600),
            interval: Duration::from_secs(24 * 3600),
            dry_run: false,
        }
    }
}

/// `storage.maintenance.readonly`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOnly {
    /// Refuse every write.
    pub enabled: bool,
}

/// `storage.cache`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cache {
    /// `blobdescriptor` (or its old name `layerinfo`).
    pub blob_descriptor: Option<BlobDescriptorCache>,
    /// `blobdescriptorsize`: entries kept by the in-memory cache.
    pub blob_descriptor_size: Option<u64>,
}

/// Where blob descriptors are cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobDescriptorCache {
    /// `inmemory`
    InMemory,
    /// `redis` (needs the `redis` section)
    Redis,
    /// Any other value; Distribution disables caching for it.
    Other(String),
}

impl BlobDescriptorCache {
    /// The value's name in a config file.
    pub fn as_str(&self) -> &str {
        match self {
            BlobDescriptorCache::InMemory => "inmemory",
            BlobDescriptorCache::Redis => "redis",
            BlobDescriptorCache::Other(s) => s,
        }
    }
}

/// `storage.tag`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagLookup {
    /// `concurrencylimit`: parallel lookups when finding a manifest's tags.
    pub concurrency_limit: Option<u64>,
}

// ---------------------------------------------------------------------------
// auth

/// The `auth` section: one provider.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// `htpasswd`: HTTP basic auth against an htpasswd file.
    Htpasswd {
        /// The realm sent in challenges.
        realm: String,
        /// Path of the htpasswd file.
        path: PathBuf,
    },
    /// `token`: bearer tokens from an external issuer.
    Token(TokenAuth),
    /// `silly`: accepts any `Authorization` header (for tests).
    Silly {
        /// The realm sent in challenges.
        realm: String,
        /// The service sent in challenges.
        service: String,
    },
    /// Any other provider (OpenShift's `openshift`, say), with its parameters as written.
    Other {
        /// The provider's name.
        name: String,
        /// Its parameters.
        parameters: Parameters,
    },
}

impl Auth {
    /// The provider's name in a config file.
    pub fn name(&self) -> &str {
        match self {
            Auth::Htpasswd { .. } => "htpasswd",
            Auth::Token(_) => "token",
            Auth::Silly { .. } => "silly",
            Auth::Other { name, .. } => name,
        }
    }
}

/// `auth.token`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenAuth {
    /// URL of the token server.
    pub realm: String,
    /// The service name tokens are issued for.
    pub service: String,
    /// The issuer tokens must name.
    pub issuer: String,
    /// Certificates that sign tokens.
    pub root_cert_bundle: Option<PathBuf>,
    /// A JWKS file with the signing keys.
    pub jwks: Option<PathBuf>,
    /// Redirect unauthenticated clients to the token server.
    pub auto_redirect: bool,
    /// Path used when redirecting (`autoredirectpath`).
    pub auto_redirect_path: Option<String>,
    /// Accepted signing algorithms.
    pub signing_algorithms: Vec<String>,
}

// ---------------------------------------------------------------------------
// middleware and reporting

/// The `middleware` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Middlewares {
    /// `middleware.registry`.
    pub registry: Vec<Middleware>,
    /// `middleware.repository`.
    pub repository: Vec<Middleware>,
    /// `middleware.storage` (e.g. `cloudfront`, `redirect`).
    pub storage: Vec<Middleware>,
}

/// One middleware entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Middleware {
    /// The name it registers under.
    pub name: String,
    /// Skip it.
    pub disabled: bool,
    /// Its options as written.
    pub options: Parameters,
}

/// The `reporting` section (removed in Distribution v3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reporting {
    /// `reporting.bugsnag`.
    pub bugsnag: Option<Bugsnag>,
    /// `reporting.newrelic`.
    pub newrelic: Option<NewRelic>,
}

/// `reporting.bugsnag`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bugsnag {
    /// API key (a secret).
    pub api_key: String,
    /// Release stage.
    pub release_stage: String,
    /// Enterprise endpoint.
    pub endpoint: String,
}

/// `reporting.newrelic`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRelic {
    /// License key (a secret).
    pub license_key: String,
    /// Application name.
    pub name: String,
    /// Verbose agent logging.
    pub verbose: bool,
}

// ---------------------------------------------------------------------------
// http

/// The `http` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Http {
    /// Listen address, e.g. `:5000` or `127.0.0.1:5000`.
    pub addr: String,
    /// Network for `addr`: `tcp` (the default when empty) or `unix`.
    pub net: String,
    /// URL path prefix the registry is served under.
    pub prefix: String,
    /// Externally reachable URL of the registry.
    pub host: Option<String>,
    /// Secret for signing upload state (a secret).
    pub secret: Option<String>,
    /// Return relative URLs in `Location` headers.
    pub relative_urls: bool,
    /// How long to let connections drain on shutdown; zero means no wait.
    pub drain_timeout: Duration,
    /// `http.tls`.
    pub tls: Option<Tls>,
    /// Headers added to every response: name → values, in file order.
    pub headers: Vec<(String, Vec<String>)>,
    /// `http.debug`: the debug server.
    pub debug: Option<Debug>,
    /// `http.http2.disabled`.
    pub http2_disabled: bool,
    /// `http.h2c.enabled`: HTTP/2 without TLS.
    pub h2c_enabled: bool,
}

/// `http.tls`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// Server certificate (PEM).
    pub certificate: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA bundles that client certificates must chain to.
    pub client_cas: Vec<PathBuf>,
    /// How client certificates are asked for and checked.
    pub client_auth: Option<ClientAuth>,
    /// Lowest TLS version: `tls1.0` … `tls1.3`.
    pub minimum_tls: Option<String>,
    /// Allowed cipher suites, by Go name.
    pub cipher_suites: Vec<String>,
    /// `http.tls.letsencrypt`.
    pub letsencrypt: Option<LetsEncrypt>,
}

/// `http.tls.clientauth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `request-client-cert`
    RequestClientCert,
    /// `require-any-client-cert`
    RequireAnyClientCert,
    /// `verify-client-cert-if-given`
    VerifyClientCertIfGiven,
    /// `require-and-verify-client-cert`
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// The value's name in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::RequestClientCert => "request-client-cert",
            ClientAuth::RequireAnyClientCert => "require-any-client-cert",
            ClientAuth::VerifyClientCertIfGiven => "verify-client-cert-if-given",
            ClientAuth::RequireAndVerifyClientCert => "require-and-verify-client-cert",
        }
    }
}

impl Choice for ClientAuth {
    const ALL: &'static [ClientAuth] = &[
        ClientAuth::RequestClientCert,
        ClientAuth::RequireAnyClientCert,
        ClientAuth::VerifyClientCertIfGiven,
        ClientAuth::RequireAndVerifyClientCert,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// `http.tls.letsencrypt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LetsEncrypt {
    /// Where certificates and keys are cached.
    pub cache_file: Option<PathBuf>,
    /// Account e-mail.
    pub email: String,
    /// Hosts allowed to get certificates.
    pub hosts: Vec<String>,
    /// ACME directory URL; Let's Encrypt's when `None`.
    pub directory_url: Option<String>,
}

/// `http.debug`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Debug {
    /// Listen address of the debug server.
    pub addr: String,
    /// `http.debug.prometheus`.
    pub prometheus: Prometheus,
}

/// `http.debug.prometheus`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prometheus {
    /// Serve metrics.
    pub enabled: bool,
    /// Metrics path; `/metrics` when empty.
    pub path: String,
}

// ---------------------------------------------------------------------------
// notifications

/// The `notifications` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notifications {
    /// `notifications.events`.
    pub events: Events,
    /// `notifications.endpoints`.
    pub endpoints: Vec<Endpoint>,
}

/// `notifications.events`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// Include references in manifest events.
    pub include_references: bool,
}

/// One webhook endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Name in logs and metrics.
    pub name: String,
    /// Skip this endpoint.
    pub disabled: bool,
    /// Where events are POSTed.
    pub url: String,
    /// Headers sent with each request (`Authorization` values are secrets).
    pub headers: Vec<(String, Vec<String>)>,
    /// Request timeout.
    pub timeout: Duration,
    /// Failures before backing off.
    pub threshold: u64,
    /// Wait after `threshold` failures.
    pub backoff: Duration,
    /// Media types whose events are not sent.
    pub ignored_media_types: Vec<String>,
    /// `ignore`: media types and actions whose events are not sent.
    pub ignore: Ignore,
}

/// `notifications.endpoints[].ignore`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ignore {
    /// Media types to skip.
    pub media_types: Vec<String>,
    /// Actions (`pull`, `push`, `delete`) to skip.
    pub actions: Vec<String>,
}

// ---------------------------------------------------------------------------
// redis

/// The `redis` section, in Distribution v3's form (go-redis options, `addrs`)
/// or v2's (`addr`, `pool`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Redis {
    /// `addrs`: one address, or several for a cluster or sentinels (v3).
    pub addrs: Vec<String>,
    /// `addr`: the v2 single address (Harbor writes sentinels comma-separated here).
    pub addr: Option<String>,
    /// Login name.
    pub username: Option<String>,
    /// Login password (a secret).
    pub password: Option<String>,
    /// Database number.
    pub db: i64,
    /// Connect timeout.
    pub dial_timeout: Option<Duration>,
    /// Read timeout.
    pub read_timeout: Option<Duration>,
    /// Write timeout.
    pub write_timeout: Option<Duration>,
    /// Pool size.
    pub pool_size: Option<u64>,
    /// Idle connections kept at most.
    pub max_idle_conns: Option<u64>,
    /// Idle connections kept at least.
    pub min_idle_conns: Option<u64>,
    /// Open connections at most.
    pub max_active_conns: Option<u64>,
    /// Idle time before a connection is closed.
    pub conn_max_idle_time: Option<Duration>,
    /// Lifetime of a connection.
    pub conn_max_lifetime: Option<Duration>,
    /// Wait for a pooled connection.
    pub pool_timeout: Option<Duration>,
    /// Sentinel master name.
    pub master_name: Option<String>,
    /// Sentinel login name.
    pub sentinel_username: Option<String>,
    /// Sentinel password (a secret).
    pub sentinel_password: Option<String>,
    /// v2 `pool` settings.
    pub pool: Option<RedisPool>,
    /// `redis.tls`.
    pub tls: Option<RedisTls>,
    /// Other go-redis options Distribution v3 accepts (`clientname`,
    /// `maxretries`, `routebylatency`, …), as written.
    pub options: Parameters,
}

impl Redis {
    /// The addresses to connect to: `addrs`, or else the v2 `addr` split at commas.
    pub fn addresses(&self) -> Vec<String> {
        if !self.addrs.is_empty() {
            return self.addrs.clone();
        }
        self.addr
            .as_deref()
            .map(|a| {
                a.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `redis.pool` (Distribution v2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisPool {
    /// Idle connections kept.
    pub max_idle: Option<u64>,
    /// Connections open at most.
    pub max_active: Option<u64>,
    /// Idle time before closing.
    pub idle_timeout: Option<Duration>,
}

/// `redis.tls`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// v2 switch.
    pub enabled: Option<bool>,
    /// Client certificate.
    pub certificate: Option<PathBuf>,
    /// Client key.
    pub key: Option<PathBuf>,
    /// CAs (v3.0.0 name).
    pub client_cas: Vec<PathBuf>,
    /// CAs (name after v3.0.0).
    pub root_cas: Vec<PathBuf>,
}

// ---------------------------------------------------------------------------
// health, catalog, proxy, compatibility, validation, policy, tags

/// The `health` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// `health.storagedriver`.
    pub storage_driver: StorageDriverHealth,
    /// `health.file`.
    pub file: Vec<FileCheck>,
    /// `health.http`.
    pub http: Vec<HttpCheck>,
    /// `health.tcp`.
    pub tcp: Vec<TcpCheck>,
}

/// `health.storagedriver`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageDriverHealth {
    /// Check the storage driver.
    pub enabled: bool,
    /// Between checks; Distribution uses 10s when zero.
    pub interval: Duration,
    /// Failures before unhealthy; Distribution uses 1 when zero.
    pub threshold: u64,
}

/// One `health.file` check: unhealthy while the file exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// The file.
    pub file: PathBuf,
    /// Between checks.
    pub interval: Duration,
    /// Failures before unhealthy.
    pub threshold: u64,
}

/// One `health.http` check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCheck {
    /// URL to GET.
    pub uri: String,
    /// Headers to send.
    pub headers: Vec<(String, Vec<String>)>,
    /// Expected status; 200 when `None`.
    pub status_code: Option<u16>,
    /// Request timeout.
    pub timeout: Duration,
    /// Between checks.
    pub interval: Duration,
    /// Failures before unhealthy.
    pub threshold: u64,
}

/// One `health.tcp` check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCheck {
    /// `host:port` to connect to.
    pub addr: String,
    /// Connect timeout.
    pub timeout: Duration,
    /// Between checks.
    pub interval: Duration,
    /// Failures before unhealthy.
    pub threshold: u64,
}

/// The `catalog` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    /// Most repositories one `/v2/_catalog` page returns (1000 by default, as
    /// Distribution uses for zero or negative values).
    pub max_entries: u64,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog { max_entries: 1000 }
    }
}

/// The `proxy` section: a pull-through cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxy {
    /// The upstream registry; the registry is a cache only when this is set.
    pub remote_url: String,
    /// Upstream login name.
    pub username: Option<String>,
    /// Upstream password (a secret).
    pub password: Option<String>,
    /// How long cached content lives; 168h when `None`, forever when zero.
    pub ttl: Option<Duration>,
    /// `proxy.exec`: a credential helper.
    pub exec: Option<ProxyExec>,
}

/// `proxy.exec`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyExec {
    /// Command that prints credentials.
    pub command: String,
    /// How long its answer is reused; once for the process when `None`.
    pub lifetime: Option<Duration>,
}

/// The `compatibility` section (Distribution v2 only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compatibility {
    /// `compatibility.schema1`.
    pub schema1: Schema1,
}

/// `compatibility.schema1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema1 {
    /// Serve schema1 manifests.
    pub enabled: bool,
    /// Key that signs them.
    pub signing_key_file: Option<PathBuf>,
}

/// The `validation` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// Deprecated switch (use `disabled`).
    pub enabled: bool,
    /// Turn manifest validation off.
    pub disabled: bool,
    /// `validation.manifests`.
    pub manifests: ManifestValidation,
}

/// `validation.manifests`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestValidation {
    /// `validation.manifests.urls`.
    pub urls: UrlValidation,
    /// `validation.manifests.indexes`.
    pub indexes: IndexValidation,
}

/// `validation.manifests.urls`: regular expressions foreign-layer URLs must (not) match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlValidation {
    /// URLs must match one of these.
    pub allow: Vec<String>,
    /// URLs must match none of these.
    pub deny: Vec<String>,
}

/// `validation.manifests.indexes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexValidation {
    /// Which platforms of an index must exist.
    pub platforms: Option<IndexPlatforms>,
    /// The platforms for [`IndexPlatforms::List`].
    pub platform_list: Vec<Platform>,
}

/// `validation.manifests.indexes.platforms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexPlatforms {
    /// `all`
    All,
    /// `none`
    None,
    /// `list`
    List,
}

impl IndexPlatforms {
    /// The value's name in a config file.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexPlatforms::All => "all",
            IndexPlatforms::None => "none",
            IndexPlatforms::List => "list",
        }
    }
}

impl Choice for IndexPlatforms {
    const ALL: &'static [IndexPlatforms] = &[
        IndexPlatforms::All,
        IndexPlatforms::None,
        IndexPlatforms::List,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// One platform of `platformlist`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
}

/// The `policy` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `policy.repository`.
    pub repository: RepositoryPolicy,
}

/// `policy.repository`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryPolicy {
    /// Repository classes allowed.
    pub classes: Vec<String>,
}

/// The `tags` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    /// Most tags per repository.
    pub max_tags: Option<u64>,
}
