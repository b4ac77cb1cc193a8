//! The OCI Distribution API (v1.1) over any [`StorageDriver`]: pulls,
//! pushes, content discovery and content management, with the storage
//! layout, error bodies and headers of CNCF Distribution.
//!
//! The crate is layered as a registry service ([`Registry`]: blobs, uploads,
//! manifests, tags, referrers, catalog) under a thin HTTP layer
//! ([`Registry::router`]) and a server ([`server::serve`]) that adds TLS.
//! With [`Registry::with_trust`] it also publishes its CA and the scripts
//! that install it on clients ([`ca`]). The service keeps nothing between
//! requests that matters for correctness: upload sessions live in the
//! store, so a restarted process or another replica resumes them.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use berth_registry::{Registry, Settings, server};
//! use berth_storage::filesystem::FilesystemDriver;
//!
//! let driver = Arc::new(FilesystemDriver::new("/var/lib/registry")?);
//! let registry = Arc::new(Registry::new(driver, Settings::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! let drain = server::DEFAULT_DRAIN;
//! server::serve(listener, registry.router(), None, drain, std::future::pending()).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod auth;
mod blobs;
pub mod browse;
pub mod ca;
pub mod catalog;
pub mod debug;
pub mod error;
pub mod events;
pub mod gc;
pub mod hashing;
pub mod health;
pub mod layout;
pub mod maintenance;
pub mod manifests;
pub mod metrics;
mod readonly;
pub mod reference;
pub mod reload;
mod routes;
pub mod server;
mod uploads;
pub mod usage;

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use berth_storage::StorageDriver;
use bytes::Bytes;
use futures::Stream;
use http::{HeaderName, HeaderValue};

pub use error::{ErrorCode, RegistryError};
pub use reference::Digest;

/// A request body as the services consume it.
pub type BodyStream =
    Pin<Box<dyn Stream<Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

/// Why a body could not be collected into memory.
pub(crate) enum Collect {
    /// More than the limit arrived.
    TooLarge(usize),
    /// The client stopped sending.
    Interrupted(Box<dyn std::error::Error + Send + Sync>),
}

/// Collects a body into memory, refusing more than `limit` bytes.
pub(crate) async fn collect_body(
    body: &mut BodyStream,
    capacity: usize,
    limit: usize,
) -> Result<Bytes, Collect> {
    use futures::StreamExt;
    let mut buf = bytes::BytesMut::with_capacity(capacity.min(limit));
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.map_err(Collect::Interrupted)?);
        if buf.len() > limit {
            return Err(Collect::TooLarge(buf.len()));
        }
    }
    Ok(buf.freeze())
}

/// Reads and discards up to `limit` more bytes, so that a refused request
/// whose body was only a little too large leaves the connection usable.
pub(crate) async fn drain_body(body: &mut BodyStream, limit: usize) {
    use futures::StreamExt;
    let mut seen = 0;
    while let Some(Ok(chunk)) = body.next().await {
        seen += chunk.len();
        if seen > limit {
            break;
        }
    }
}

/// How the registry behaves, from `config.yml`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `storage.delete.enabled`: allow deleting manifests, tags and blobs.
    pub delete_enabled: bool,
    /// `storage.redirect.disable`: serve blobs instead of redirecting.
    pub redirect_disabled: bool,
    /// `storage.maintenance.readonly.enabled`: refuse pushes and deletes.
    pub read_only: bool,
    /// `http.relativeurls`: relative `Location` headers.
    pub relative_urls: bool,
    /// `http.host`: the external base URL for `Location` headers.
    pub host: Option<String>,
    /// `http.prefix`: a path prefix the API is served under.
    pub prefix: String,
    /// `http.headers`: headers added to every response.
    pub headers: Vec<(String, Vec<String>)>,
    /// True when serving TLS (for the scheme of `Location` headers).
    pub tls: bool,
}

/// The registry service: every API operation, over one storage driver.
pub struct Registry {
    driver: Arc<dyn StorageDriver>,
    settings: Settings,
    headers: Vec<(HeaderName, HeaderValue)>,
    uploads: uploads::UploadStates,
    manifest_cache: ManifestCache,
    auth: Option<auth::Authenticator>,
    read_only: std::sync::atomic::AtomicBool,
    health: Option<Arc<health::HealthChecks>>,
    metrics: Option<Arc<metrics::Metrics>>,
    ca: Option<ca::CaDownloads>,
    gc: gc::GcState,
    usage: usage::UsageState,
    events: Option<events::Events>,
}

impl Registry {
    /// A registry serving from `driver`. Header names or values from the
    /// settings that HTTP cannot carry are skipped with a warning.
    pub fn new(driver: Arc<dyn StorageDriver>, settings: Settings) -> Registry {
        let mut headers = Vec::new();
        for (name, values) in &settings.headers {
            for value in values {
                match (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    (Ok(n), Ok(v)) => headers.push((n, v)),
                    _ => {
                        tracing::warn!(header = %name, "skipping http.headers entry that is not a valid HTTP header")
                    }
                }
            }
        }
        Registry {
            read_only: std::sync::atomic::AtomicBool::new(settings.read_only),
            health: None,
            metrics: None,
            driver,
            settings,
            headers,
            uploads: Default::default(),
            manifest_cache: ManifestCache::new(64 * 1024 * 1024),
            auth: None,
            ca: None,
            gc: Default::default(),
            usage: Default::default(),
            events: None,
        }
    }

    /// Requires basic authentication against `htpasswd`.
    pub fn with_htpasswd(mut self, htpasswd: auth::Htpasswd) -> Registry {
        self.auth = Some(auth::Authenticator::Htpasswd(htpasswd));
        self
    }

    /// Requires authentication by `authenticator` (an htpasswd file that is
    /// reloaded when it changes, or bearer tokens).
    pub fn with_auth(mut self, authenticator: auth::Authenticator) -> Registry {
        self.auth = Some(authenticator);
        self
    }

    /// Answers every API request with 503 `UNAVAILABLE` while one of
    /// `checks` fails, and reports them at `/debug/health` on the debug
    /// listener ([`debug::router`]); start them with
    /// [`health::HealthChecks::start`].
    pub fn with_health(mut self, checks: Arc<health::HealthChecks>) -> Registry {
        self.health = Some(checks);
        self
    }

    /// Counts requests into `metrics`, served on the debug listener. Wrap
    /// the driver with [`metrics::Metrics::instrument`] for storage figures.
    pub fn with_metrics(mut self, metrics: Arc<metrics::Metrics>) -> Registry {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics, when on.
    pub fn metrics(&self) -> Option<&Arc<metrics::Metrics>> {
        self.metrics.as_ref()
    }

    /// True while pushes and deletes are refused
    /// (`storage.maintenance.readonly.enabled`, or [`Registry::set_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns read-only mode on or off for the requests that follow, without
    /// a restart; requests already past the check finish.
    pub fn set_read_only(&self, on: bool) {
        self.read_only
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Hands an event for every push, pull, mount and delete to `sink`
    /// before answering (Distribution's notifications); `source_addr` is
    /// the registry's `hostname:port` for the events' `source.addr`.
    pub fn with_events(
        mut self,
        sink: Arc<dyn events::EventSink>,
        source_addr: String,
        include_references: bool,
    ) -> Registry {
        self.events = Some(events::Events::new(sink, source_addr, include_references));
        self
    }

    /// Publishes the registry's CA and its install scripts at `/ca`,
    /// `/ca/install.sh` and `/ca/install.ps1`, without authentication.
    pub fn with_trust(mut self, downloads: ca::CaDownloads) -> Registry {
        self.ca = Some(downloads);
        self
    }

    /// The storage driver.
    pub fn driver(&self) -> &Arc<dyn StorageDriver> {
        &self.driver
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The HTTP API, every path under `/v2/` (behind `http.prefix`), and
    /// `/ca…` with [`Registry::with_trust`].
    pub fn router(self: Arc<Self>) -> axum::Router {
        let router = axum::Router::new().fallback(routes::handle);
        let router = match &self.metrics {
            Some(_) => router.layer(axum::middleware::from_fn_with_state(
                self.clone(),
                metrics::track,
            )),
            None => router,
        };
        router.with_state(self)
    }
}

/// Recently used manifests by digest, bounded by total bytes. Safe to share
/// between replicas' views of one store: a digest's bytes never change.
struct ManifestCache {
    inner: Mutex<(lru::LruCache<Digest, Arc<manifests::Manifest>>, usize)>,
    max_bytes: usize,
}

impl ManifestCache {
    fn new(max_bytes: usize) -> ManifestCache {
        ManifestCache {
            inner: Mutex::new((
                lru::LruCache::new(NonZeroUsize::new(100_000).expect("non-zero")),
                0,
            )),
            max_bytes,
        }
    }

    fn get(&self, digest: &Digest) -> Option<Arc<manifests::Manifest>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0.get(digest).cloned()
    }

    fn put(&self, manifest: Arc<manifests::Manifest>) {
        let size = manifest.body.len();
        if size > self.max_bytes / 16 {
            return;
        }
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (cache, total) = &mut *guard;
        if let Some((_, old)) = cache.push(manifest.digest.clone(), manifest) {
            *total -= old.body.len();
        }
        *total += size;
        while *total > self.max_bytes {
            match cache.pop_lru() {
                Some((_, old)) => *total -= old.body.len(),
                None => break,
            }
        }
    }
}
