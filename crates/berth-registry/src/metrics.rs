//! Prometheus metrics (`http.debug.prometheus`), served on the debug
//! listener at `http.debug.prometheus.path` (`/metrics` by default):
//! requests by route, method and status with latency histograms, blob bytes
//! pushed and pulled, storage driver actions and errors with latency
//! ([`MeteredDriver`], a decorator around any driver), uploads in flight and
//! the notification queue's depth.
//!
//! Names follow Distribution's where it has one (`registry_http_…`,
//! `registry_storage_…`), so existing dashboards find them.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_storage::{ByteStream, FileInfo, FileWriter, StorageDriver};
use bytes::Bytes;
use futures::TryStreamExt;
use http::{Method, StatusCode, header};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::Registry;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Where the notification queue's depth comes from.
type QueueDepth = Box<dyn Fn() -> u64 + Send + Sync>;

/// The registry's metrics.
pub struct Metrics {
    path: Option<String>,
    totals: Totals,
    registry: prometheus_client::registry::Registry,
    requests: Family<Labels, Counter>,
    request_seconds: HistogramFamily,
    bytes_pushed: Counter,
    bytes_pulled: Counter,
    storage_actions: Family<Labels, Counter>,
    storage_errors: Family<Labels, Counter>,
    storage_seconds: HistogramFamily,
    uploads_in_flight: Gauge,
    notifications_pending: Gauge,
    queue_depth: Mutex<Option<QueueDepth>>,
}

impl Metrics {
    /// Metrics served at `path` (`/metrics` when empty), or only to the
    /// admin API (`GET /berth/v1/metrics`, a summary) when `path` is `None`.
    pub fn new(path: Option<&str>) -> Arc<Metrics> {
        let mut registry = prometheus_client::registry::Registry::with_prefix("registry");
        let requests = Family::<Labels, Counter>::default();
        let request_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let storage_actions = Family::<Labels, Counter>::default();
        let storage_errors = Family::<Labels, Counter>::default();
        let storage_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let (bytes_pushed, bytes_pulled) = (Counter::default(), Counter::default());
        let (uploads_in_flight, notifications_pending) = (Gauge::default(), Gauge::default());
        registry.register(
            "http_requests",
            "Requests answered, by handler, method and status code",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (until the response headers), by handler and method",
            request_seconds.clone(),
        );
        registry.register(
            "blob_bytes_pushed",
            "Blob bytes received from clients",
            bytes_pushed.clone(),
        );
        registry.register(
            "blob_bytes_pulled",
            "Blob bytes sent to clients",
            bytes_pulled.clone(),
        );
        registry.register(
            "storage_actions",
            "Storage driver calls, by driver and action",
            storage_actions.clone(),
        );
        registry.register(
            "storage_errors",
            "Storage driver calls that failed (not counting \"not found\"), by driver and action",
            storage_errors.clone(),
        );
        registry.register(
            "storage_action_seconds",
            "Storage driver call latency, by driver and action",
            storage_seconds.clone(),
        );
        registry.register(
            "uploads_in_flight",
            "Blob upload requests (POST, PATCH, PUT) being received",
            uploads_in_flight.clone(),
        );
        registry.register(
            "notifications_pending",
            "Events queued for webhook endpoints and not yet delivered",
            notifications_pending.clone(),
        );
        Arc::new(Metrics {
            path: path.map(|p| {
                if p.is_empty() {
                    "/metrics".to_string()
                } else {
                    p.to_string()
                }
            }),
            totals: Totals::default(),
            registry,
            requests,
            request_seconds,
            bytes_pushed,
            bytes_pulled,
            storage_actions,
            storage_errors,
            storage_seconds,
            uploads_in_flight,
            notifications_pending,
            queue_depth: Mutex::new(None),
        })
    }

    /// The path Prometheus metrics are served at, when they are.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The main figures, as the app's Status page shows them.
    pub fn summary(&self) -> Summary {
        let t = &self.totals;
        Summary {
            requests: t.requests.get(),
            client_errors: t.client_errors.get(),
            server_errors: t.server_errors.get(),
            bytes_pushed: self.bytes_pushed.get(),
            bytes_pulled: self.bytes_pulled.get(),
            uploads_in_flight: self.uploads_in_flight.get().max(0) as u64,
            storage_errors: t.storage_errors.get(),
            notifications_pending: self
                .queue_depth
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|depth| depth()),
        }
    }

    /// Reads the notification queue's depth from `depth` at each scrape.
    pub fn set_queue_depth(&self, depth: impl Fn() -> u64 + Send + Sync + 'static) {
        *self.queue_depth.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(depth));
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        if let Some(depth) = &*self.queue_depth.lock().unwrap_or_else(|e| e.into_inner()) {
            self.notifications_pending.set(depth() as i64);
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        text
    }

    /// `driver` with every call counted and timed.
    pub fn instrument(self: &Arc<Self>, driver: Arc<dyn StorageDriver>) -> Arc<dyn StorageDriver> {
        Arc::new(MeteredDriver {
            inner: driver,
            metrics: self.clone(),
        })
    }
}

/// Running totals behind [`Summary`].
#[derive(Default)]
struct Totals {
    requests: Counter,
    client_errors: Counter,
    server_errors: Counter,
    storage_errors: Counter,
}

/// The main figures since the registry started, for the app.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Requests answered.
    pub requests: u64,
    /// Answers with a 4xx status (refused logins included).
    pub client_errors: u64,
    /// Answers with a 5xx status.
    pub server_errors: u64,
    /// Blob bytes received.
    pub bytes_pushed: u64,
    /// Blob bytes sent.
    pub bytes_pulled: u64,
    /// Blob upload requests being received now.
    pub uploads_in_flight: u64,
    /// Storage driver calls that failed.
    pub storage_errors: u64,
    /// Events waiting for webhook delivery, when notifications are on.
    pub notifications_pending: Option<u64>,
}

/// The metrics route for the debug listener (no admin token, as in
/// Distribution); none when Prometheus metrics are off.
pub(crate) fn routes(registry: &Registry) -> Router<Arc<Registry>> {
    match registry.metrics.as_ref().and_then(|m| m.path()) {
        Some(path) => Router::new().route(path, get(scrape)),
        None => Router::new(),
    }
}

/// `GET /berth/v1/metrics` on the admin API: the [`Summary`].
pub(crate) fn admin_routes() -> Router<Arc<Registry>> {
    Router::new().route("/berth/v1/metrics", get(summary))
}

async fn summary(State(registry): State<Arc<Registry>>) -> Response {
    match &registry.metrics {
        Some(m) => axum::Json(m.summary()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"errors": [{
                "code": "UNSUPPORTED",
                "message": "this registry keeps no metrics",
                "detail": "start berthd with http.debug.addr set",
            }]})),
        )
            .into_response(),
    }
}

async fn scrape(State(registry): State<Arc<Registry>>) -> Response {
    let Some(m) = &registry.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}

/// Counts and times one registry API request (a middleware on
/// [`Registry::router`]).
pub(crate) async fn track(
    State(registry): State<Arc<Registry>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(m) = registry.metrics.clone() else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let handler = crate::routes::handler_name(&registry, request.uri().path());
    let uploading = matches!(handler, "blob_upload" | "blob_upload_chunk")
        && matches!(method, Method::POST | Method::PATCH | Method::PUT);
    let request = if uploading {
        let (parts, body) = request.into_parts();
        let pushed = m.bytes_pushed.clone();
        let body = Body::from_stream(body.into_data_stream().inspect_ok(move |chunk: &Bytes| {
            pushed.inc_by(chunk.len() as u64);
        }));
        Request::from_parts(parts, body)
    } else {
        request
    };
    let _in_flight = uploading.then(|| InFlight::new(&m.uploads_in_flight));
    let started = Instant::now();
    let response = next.run(request).await;
    let labels: Labels = vec![
        ("handler", handler.to_string()),
        ("method", method_label(&method).to_string()),
    ];
    m.request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    let mut with_code = labels;
    with_code.push(("code", response.status().as_u16().to_string()));
    m.requests.get_or_create(&with_code).inc();
    m.totals.requests.inc();
    if response.status().is_client_error() {
        m.totals.client_errors.inc();
    } else if response.status().is_server_error() {
        m.totals.server_errors.inc();
    }
    if handler == "blob" && method == Method::GET && response.status().is_success() {
        let (parts, body) = response.into_parts();
        let pulled = m.bytes_pulled.clone();
        let body = Body::from_stream(body.into_data_stream().inspect_ok(move |chunk: &Bytes| {
            pulled.inc_by(chunk.len() as u64);
        }));
        return Response::from_parts(parts, body);
    }
    response
}

/// Holds a gauge one higher while it lives.
struct InFlight(Gauge);

impl InFlight {
    fn new(gauge: &Gauge) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A storage driver whose calls are counted and timed
/// (`registry_storage_…`), forwarding everything to the driver inside.
#[derive(Debug)]
pub struct MeteredDriver {
    inner: Arc<dyn StorageDriver>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("path", &self.path).finish()
    }
}

impl MeteredDriver {
    fn observe<T>(
        &self,
        action: &'static str,
        started: Instant,
        result: &berth_storage::Result<T>,
    ) {
        let labels: Labels = vec![
            ("driver", self.inner.name().to_string()),
            ("action", action.into()),
        ];
        let m = &self.metrics;
        m.storage_actions.get_or_create(&labels).inc();
        m.storage_seconds
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = result
            && !e.is_not_found()
        {
            m.storage_errors.get_or_create(&labels).inc();
            m.totals.storage_errors.inc();
        }
    }
}

macro_rules! metered {
    ($self:ident, $action:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.observe($action, started, &result);
        result
    }};
}

#[async_trait]
impl StorageDriver for MeteredDriver {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn get_content(&self, path: &str) -> berth_storage::Result<Bytes> {
        metered!(self, "GetContent", self.inner.get_content(path))
    }

    async fn put_content(&self, path: &str, content: Bytes) -> berth_storage::Result<()> {
        metered!(self, "PutContent", self.inner.put_content(path, content))
    }

    async fn reader(&self, path: &str, offset: u64) -> berth_storage::Result<ByteStream> {
        metered!(self, "Reader", self.inner.reader(path, offset))
    }

    async fn writer(&self, path: &str, append: bool) -> berth_storage::Result<Box<dyn FileWriter>> {
        metered!(self, "Writer", self.inner.writer(path, append))
    }

    async fn stat(&self, path: &str) -> berth_storage::Result<FileInfo> {
        metered!(self, "Stat", self.inner.stat(path))
    }

    async fn list(&self, path: &str) -> berth_storage::Result<Vec<String>> {
        metered!(self, "List", self.inner.list(path))
    }

    async fn move_object(&self, source: &str, dest: &str) -> berth_storage::Result<()> {
        metered!(self, "Move", self.inner.move_object(source, dest))
    }

    async fn delete(&self, path: &str) -> berth_storage::Result<()> {
        metered!(self, "Delete", self.inner.delete(path))
    }

    async fn redirect_url(&self, path: &str) -> berth_storage::Result<Option<String>> {
        metered!(self, "RedirectURL", self.inner.redirect_url(path))
    }

    fn child_names_now(&self, path: &str) -> Option<berth_storage::Result<Arc<Vec<String>>>> {
        self.inner.child_names_now(path)
    }

    fn local_path(&self, path: &str) -> Option<std::path::PathBuf> {
        self.inner.local_path(path)
    }
}

/// The method as a label: the registry's methods by name, any other as
/// `other`, so that made-up methods cannot grow the label sets.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
