//! Registry events as CNCF Distribution's notifications describe them, and
//! the [`EventSink`] the registry hands them to before it answers.
//!
//! The registry builds one [`Event`] per push, pull, mount and delete of a
//! manifest or blob (Distribution's `notifications/bridge.go`): a manifest
//! push or pull names the manifest's media type, digest, size, repository,
//! URL and tag; a blob event names the blob (`application/octet-stream`);
//! a delete names only the repository and the digest or tag. What happens
//! to an event after [`EventSink::record`] (queuing, delivery, retries) is
//! the sink's business: this crate holds no delivery logic.

use std::sync::Arc;
use std::time::SystemTime;

use http::request::Parts;
use http::{HeaderMap, Method, header};
use serde::{Deserialize, Serialize};

use crate::Registry;
use crate::reference::Digest;

/// The media type of an envelope of events (`{"events": [...]}`).
pub const EVENTS_MEDIA_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";

/// The media type Distribution gives blobs in events.
pub const BLOB_MEDIA_TYPE: &str = "application/octet-stream";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A manifest or blob was pushed.
    Push,
    /// A manifest or blob was pulled (GET; a HEAD is no pull).
    Pull,
    /// A blob was mounted from another repository.
    Mount,
    /// A manifest, tag or blob was deleted.
    Delete,
}

impl Action {
    /// The action's name in events and in `ignore.actions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Push => "push",
            Action::Pull => "pull",
            Action::Mount => "mount",
            Action::Delete => "delete",
        }
    }
}

/// A descriptor in `target.references`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// Its media type.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Its digest.
    #[serde(default)]
    pub digest: String,
}

/// What an event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Media type of the manifest or blob.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Digest of the content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Length in bytes (the same as `size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// The repository.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    /// For a mount, the repository the blob came from.
    #[serde(
        rename = "fromRepository",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub from_repository: String,
    /// Where the content can be fetched.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// The tag, when the request named one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// What a manifest refers to (`notifications.events.includereferences`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// The request that caused an event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// A unique id for the request.
    #[serde(default)]
    pub id: String,
    /// The client's address.
    #[serde(default)]
    pub addr: String,
    /// The `Host` the client asked for.
    #[serde(default)]
    pub host: String,
    /// The HTTP method.
    #[serde(default)]
    pub method: String,
    /// The client's `User-Agent`.
    #[serde(default)]
    pub useragent: String,
}

/// Who made the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The authenticated user, empty without authentication.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Which registry instance saw the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// `hostname:port` of the registry.
    #[serde(default)]
    pub addr: String,
    /// A unique id of this registry process.
    #[serde(rename = "instanceID", default)]
    pub instance_id: String,
}

/// One event, as Distribution serializes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// A unique id.
    pub id: String,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// What happened. A string, so that a sink's test event (`test`) fits.
    pub action: String,
    /// What it happened to.
    pub target: Target,
    /// The request.
    pub request: RequestRecord,
    /// Who.
    pub actor: ActorRecord,
    /// Where.
    pub source: SourceRecord,
}

impl Event {
    /// A new event with a fresh id and the current time.
    pub fn new(action: &str, target: Target) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            timestamp: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            action: action.to_string(),
            target,
            request: RequestRecord::default(),
            actor: ActorRecord::default(),
            source: SourceRecord::default(),
        }
    }
}

/// The body of a notification request: `{"events": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The events.
    pub events: Vec<Event>,
}

/// Where the registry hands its events. `record` runs before the request
/// is answered, so a durable sink makes delivery survive a crash; it must
/// stay fast (no network) and must not fail the request: a sink that
/// cannot keep an event logs why.
pub trait EventSink: Send + Sync {
    /// Takes one event.
    fn record(
        &self,
        event: Event,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;

    /// Events waiting for delivery over all endpoints (a cheap counter read),
    /// e.g. for a queue-depth metric.
    fn pending(&self) -> u64 {
        0
    }

    /// The sink's state for `GET /berth/v1/notifications` (JSON).
    fn status(&self) -> serde_json::Value {
        serde_json::json!({ "endpoints": [] })
    }

    /// Sends a test event to the endpoint named `endpoint` at once and
    /// reports the answer (JSON), for `POST /berth/v1/notifications/test`.
    fn test(
        &self,
        endpoint: String,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send + '_>,
    > {
        Box::pin(async move { Err(format!("no endpoint named {endpoint:?}")) })
    }
}

/// The events side of a [`Registry`]: the sink and what every event says
/// about the registry itself.
pub(crate) struct Events {
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) source: SourceRecord,
    pub(crate) include_references: bool,
}

impl Events {
    /// Events into `sink`, from the registry at `addr` (`hostname:port`).
    pub(crate) fn new(sink: Arc<dyn EventSink>, addr: String, include_references: bool) -> Events {
        Events {
            sink,
            source: SourceRecord {
                addr,
                instance_id: uuid::Uuid::new_v4().to_string(),
            },
            include_references,
        }
    }
}

/// The client's address: the peer the server put in the request's
/// extensions, else the first `X-Forwarded-For` hop.
fn remote_addr(parts: &Parts) -> String {
    if let Some(forwarded) = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        return forwarded.to_string();
    }
    if let Some(real) = parts.headers.get("x-real-ip").and_then(|v| v.to_str().ok()) {
        return real.to_string();
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default()
}

/// The user named by the request's basic credentials or bearer token
/// (verified by the time an event is built), else nothing.
fn actor(headers: &HeaderMap) -> String {
    use base64::Engine;
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return String::new();
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        // A token the registry has verified: its subject is the user.
        return token
            .split('.')
            .nth(1)
            .and_then(|claims| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(claims.trim_end_matches('='))
                    .ok()
            })
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .and_then(|claims| claims.get("sub")?.as_str().map(str::to_string))
            .unwrap_or_default();
    }
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return String::new();
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| text.split_once(':').map(|(user, _)| user.to_string()))
        .unwrap_or_default()
}

/// The descriptors a manifest refers to: config and layers of an image,
/// manifests of an index.
pub(crate) fn references(body: &[u8]) -> Vec<Reference> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut take = |d: &serde_json::Value| {
        if let Some(digest) = d.get("digest").and_then(|v| v.as_str()) {
            found.push(Reference {
                media_type: d
                    .get("mediaType")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                size: d.get("size").and_then(|v| v.as_u64()).unwrap_or(0),
                digest: digest.to_string(),
            });
        }
    };
    if let Some(config) = value.get("config") {
        take(config);
    }
    for key in ["layers", "manifests"] {
        for d in value
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            take(d);
        }
    }
    found
}

impl Registry {
    /// Records an event caused by the request `parts`, when events are on.
    pub(crate) async fn notify(&self, parts: &Parts, action: Action, target: Target) {
        let Some(events) = &self.events else {
            return;
        };
        let mut event = Event::new(action.as_str(), target);
        event.request = RequestRecord {
            id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            addr: remote_addr(parts),
            host: parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or_default()
                .to_string(),
            method: parts.method.to_string(),
            useragent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        };
        // Only a login the registry checked names a user; without auth the
        // header is whatever the client sent.
        if self.auth.is_some() {
            event.actor.name = actor(&parts.headers);
        }
        event.source = events.source.clone();
        events.sink.record(event).await;
    }

    /// Events waiting for delivery (the notification queue depth), `None`
    /// when no notification endpoint is configured.
    pub fn notifications_pending(&self) -> Option<u64> {
        self.events.as_ref().map(|e| e.sink.pending())
    }

    /// True when events are recorded (skips building targets otherwise).
    pub(crate) fn notifying(&self) -> bool {
        self.events.is_some()
    }

    /// A manifest push or pull.
    pub(crate) fn manifest_target(
        &self,
        url: String,
        name: &str,
        manifest: &crate::manifests::Manifest,
        tag: Option<&str>,
    ) -> Target {
        let size = manifest.body.len() as u64;
        Target {
            media_type: manifest.media_type.clone(),
            size: Some(size),
            digest: manifest.digest.to_string(),
            length: Some(size),
            repository: name.to_string(),
            url,
            tag: tag.unwrap_or_default().to_string(),
            references: match &self.events {
                Some(e) if e.include_references => references(&manifest.body),
                _ => Vec::new(),
            },
            ..Target::default()
        }
    }
}

/// A blob push, pull or mount.
pub(crate) fn blob_target(url: String, name: &str, digest: &Digest, size: u64) -> Target {
    Target {
        media_type: BLOB_MEDIA_TYPE.to_string(),
        size: Some(size),
        digest: digest.to_string(),
        length: Some(size),
        repository: name.to_string(),
        url,
        ..Target::default()
    }
}

/// A delete: the repository and the digest or tag.
pub(crate) fn delete_target(name: &str, digest: Option<&Digest>, tag: Option<&str>) -> Target {
    Target {
        repository: name.to_string(),
        digest: digest.map(ToString::to_string).unwrap_or_default(),
        tag: tag.unwrap_or_default().to_string(),
        ..Target::default()
    }
}

/// True for the methods whose success is a pull.
pub(crate) fn is_pull(method: &Method) -> bool {
    method == Method::GET
}

/// `GET /berth/v1/notifications` (each endpoint's queue, counters and
/// recent deliveries) and `POST /berth/v1/notifications/test`
/// (`{"endpoint": NAME}`: send a test event now, answer with the
/// endpoint's response), for the debug listener's admin API.
pub(crate) fn debug_routes() -> axum::Router<Arc<Registry>> {
    use axum::Json;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    #[derive(Deserialize)]
    struct TestRequest {
        endpoint: String,
    }
    fn off() -> Response {
        (
            http::StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "errors": [{
                "code": "NOT_FOUND",
                "message": "notifications are off: no notifications.endpoints are configured",
                "detail": "add an endpoint under notifications.endpoints in config.yml"
            }]})),
        )
            .into_response()
    }
    async fn status(State(registry): State<Arc<Registry>>) -> Response {
        match &registry.events {
            Some(e) => Json(e.sink.status()).into_response(),
            None => Json(serde_json::json!({ "endpoints": [] })).into_response(),
        }
    }
    async fn test(State(registry): State<Arc<Registry>>, body: bytes::Bytes) -> Response {
        let request: TestRequest = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return (
                    http::StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "errors": [{
                        "code": "UNSUPPORTED",
                        "message": format!("the body must be {{\"endpoint\": \"NAME\"}}: {e}"),
                    }]})),
                )
                    .into_response();
            }
        };
        let Some(events) = &registry.events else {
            return off();
        };
        match events.sink.test(request.endpoint).await {
            Ok(v) => Json(v).into_response(),
            Err(message) => (
                http::StatusCode::NOT_FOUND,
                Json(serde_json::json!({ "errors": [{
                    "code": "NOT_FOUND",
                    "message": message,
                    "detail": "name one of notifications.endpoints (GET /berth/v1/notifications lists them)"
                }]})),
            )
                .into_response(),
        }
    }
    axum::Router::new()
        .route("/berth/v1/notifications", get(status))
        .route("/berth/v1/notifications/test", post(test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_distribution_does() {
        let mut event = Event::new(
            "push",
            blob_target(
                "http://r/v2/a/blobs/sha256:00".into(),
                "a",
                &Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap(),
                3,
            ),
        );
        event.source.instance_id = "i".into();
        let v = serde_json::to_value(Envelope {
            events: vec![event],
        })
        .unwrap();
        let e = &v["events"][0];
        assert_eq!(e["action"], "push");
        assert_eq!(e["target"]["mediaType"], BLOB_MEDIA_TYPE);
        assert_eq!(e["target"]["length"], 3);
        assert_eq!(e["target"]["size"], 3);
        assert_eq!(e["source"]["instanceID"], "i");
        assert!(e["request"].get("useragent").is_some());
        assert!(e["target"].get("tag").is_none());
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn references_of_an_image_and_an_index() {
        let image = br#"{"config":{"mediaType":"c","digest":"sha256:1","size":2},
            "layers":[{"mediaType":"l","digest":"sha256:3","size":4}]}"#;
        let refs = references(image);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].digest, "sha256:3");
        assert_eq!(refs[1].size, 4);
        let index = br#"{"manifests":[{"mediaType":"m","digest":"sha256:5","size":6}]}"#;
        assert_eq!(references(index)[0].media_type, "m");
    }

    #[test]
    fn actor_from_basic_credentials() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic YWxpY2U6cHc=".parse().unwrap());
        assert_eq!(actor(&h), "alice");
        assert_eq!(actor(&HeaderMap::new()), "");
    }
}
