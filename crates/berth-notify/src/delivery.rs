//! Delivery: one worker per endpoint takes the oldest queued event, POSTs
//! it in an envelope, and removes it once the endpoint accepts it (2xx or
//! 3xx, as Distribution's HTTP sink). Failures are retried, with a pause of
//! `backoff` after `threshold` failures in a row (Distribution's retrying
//! sink and breaker), for as long as it takes: the event stays on disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_registry::events::{EVENTS_MEDIA_TYPE, Event};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Notify;

use crate::endpoint::EndpointSettings;
use crate::journal::Journal;
use crate::metrics::{Attempt, Metrics, Outcome, now};

/// The shortest pause between two attempts at one event, so that an
/// endpoint refusing at once is not hammered below `threshold`.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How much of a response body a test shows.
pub const BODY_EXCERPT: usize = 2048;

/// One endpoint: its settings, queue, counters and HTTP client.
pub struct Endpoint {
    /// Settings.
    pub settings: EndpointSettings,
    /// The durable queue (none when disabled).
    pub journal: Option<Journal>,
    /// Counters and the delivery log.
    pub metrics: Metrics,
    /// Wakes the worker when an event is queued.
    pub wake: Notify,
    client: reqwest::Client,
    headers: HeaderMap,
}

/// The answer to one POST.
pub struct Answer {
    /// The status code, when the endpoint answered.
    pub status: Option<u16>,
    /// The start of the body.
    pub body: String,
    /// Why it counts as a failure, if it does.
    pub error: Option<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Endpoint {
    /// An endpoint over `journal`.
    pub fn new(settings: EndpointSettings, journal: Option<Journal>) -> Endpoint {
        let mut headers = HeaderMap::new();
        for (name, values) in &settings.headers {
            for value in values {
                match (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    (Ok(n), Ok(v)) => {
                        headers.append(n, v);
                    }
                    _ => tracing::warn!(
                        endpoint = %settings.name,
                        header = %name,
                        "skipping a notifications header that is not a valid HTTP header"
                    ),
                }
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(EVENTS_MEDIA_TYPE));
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("berth-notify/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        Endpoint {
            settings,
            journal,
            metrics: Metrics::default(),
            wake: Notify::new(),
            client,
            headers,
        }
    }

    /// Events waiting.
    pub fn pending(&self) -> u64 {
        self.journal.as_ref().map_or(0, Journal::pending)
    }

    /// POSTs an envelope holding `event` (its JSON as stored) once.
    pub async fn post(&self, event_json: &[u8]) -> Answer {
        let mut body = Vec::with_capacity(event_json.len() + 16);
        body.extend_from_slice(b"{\"events\":[");
        body.extend_from_slice(event_json);
        body.extend_from_slice(b"]}");
        let started = Instant::now();
        let sent = self
            .client
            .post(&self.settings.url)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    status: None,
                    body: String::new(),
                    error: Some(describe(&e, self.settings.timeout)),
                    elapsed: started.elapsed(),
                };
            }
        };
        let status = response.status();
        let body = excerpt(response).await;
        let error = (!(status.is_success() || status.is_redirection())).then(|| {
            format!(
                "the endpoint answered {status}{}",
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.chars().take(200).collect::<String>())
                }
            )
        });
        Answer {
            status: Some(status.as_u16()),
            body,
            error,
            elapsed: started.elapsed(),
        }
    }
}

async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(BODY_EXCERPT);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {} (the endpoint's timeout)",
            humantime::format_duration(timeout)
        )
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = Some(e);
        let mut last = String::new();
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        format!("cannot connect: {last}")
    } else {
        e.to_string()
    }
}

/// What the log shows of a stored event.
fn summary(event_json: &[u8]) -> (String, String, String) {
    match serde_json::from_slice::<Event>(event_json) {
        Ok(e) => (e.id, e.action, e.target.repository),
        Err(_) => (String::new(), String::new(), String::new()),
    }
}

/// Delivers `endpoint`'s queue for as long as the process runs.
pub async fn run(endpoint: Arc<Endpoint>) {
    let Some(_) = endpoint.journal.as_ref() else {
        return;
    };
    let mut failures: u64 = 0;
    loop {
        let next = {
            let endpoint = endpoint.clone();
            tokio::task::spawn_blocking(move || {
                endpoint.journal.as_ref().expect("checked above").oldest()
            })
            .await
        };
        let (seq, event_json) = match next {
            Ok(Ok(Some(next))) => next,
            Ok(Ok(None)) => {
                // Nothing queued: wait for a wake-up (a permit is kept if
                // one came in between), or look again in a while anyway.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), endpoint.wake.notified()).await;
                continue;
            }
            Ok(Err(e)) => {
                tracing::error!(endpoint = %endpoint.settings.name, error = %e, "cannot read the notification queue; trying again in 5 s");
                endpoint
                    .metrics
                    .note_error(format!("cannot read the queue: {e}"));
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            Err(_) => return,
        };
        let (event_id, action, repository) = summary(&event_json);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = endpoint.post(&event_json).await;
            let outcome = match &answer.error {
                None => Outcome::Delivered,
                Some(_) if failures + 1 >= endpoint.settings.threshold => Outcome::BackingOff,
                Some(_) => Outcome::Retrying,
            };
            endpoint.metrics.attempt(Attempt {
                time: now(),
                event_id: event_id.clone(),
                action: action.clone(),
                repository: repository.clone(),
                status: answer.status,
                error: answer.error.clone(),
                attempt,
                outcome,
                duration_ms: answer.elapsed.as_millis() as u64,
            });
            match outcome {
                Outcome::Delivered => {
                    failures = 0;
                    let removed = {
                        let endpoint = endpoint.clone();
                        tokio::task::spawn_blocking(move || {
                            endpoint
                                .journal
                                .as_ref()
                                .expect("checked above")
                                .remove(seq)
                        })
                        .await
                    };
                    if let Ok(Err(e)) = removed {
                        tracing::error!(endpoint = %endpoint.settings.name, error = %e, "cannot remove a delivered event; it will be sent again after a pause");
                        // Not at once: a queue that cannot shrink must not
                        // turn into a loop sending one event over and over.
                        tokio::time::sleep(
                            endpoint
                                .settings
                                .backoff
                                .max(std::time::Duration::from_secs(1)),
                        )
                        .await;
                    }
                    break;
                }
                Outcome::BackingOff => {
                    tracing::warn!(
                        endpoint = %endpoint.settings.name,
                        error = answer.error.as_deref().unwrap_or_default(),
                        "notification delivery failed {} times in a row; backing off {}",
                        failures + 1,
                        humantime::format_duration(endpoint.settings.backoff)
                    );
                    failures = 0;
                    tokio::time::sleep(endpoint.settings.backoff.max(MIN_PAUSE)).await;
                }
                _ => {
                    failures += 1;
                    tokio::time::sleep(MIN_PAUSE).await;
                }
            }
        }
    }
}
