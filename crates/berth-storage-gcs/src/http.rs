//! Sending requests to the JSON API: authentication, timeouts, bounded
//! retries with backoff, and errors that say what is wrong and what to do
//! (the HTTP side of each message from [`berth_storage::http_error`], what
//! to check in GCS's terms here).

use std::time::Duration;

use berth_storage::http_error::{self, Hints, TransportFailure, TransportKind};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

use crate::credentials::Credentials;
use crate::endpoint::Endpoint;
use crate::keys::encode;
use crate::token::TokenSource;

/// At most this many attempts per request.
const MAX_ATTEMPTS: u32 = 3;
/// The pause before the second attempt; it grows fourfold after that.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Connecting gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A response (or the next piece of a body) must arrive within this long.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

pub use berth_storage::http_error::error_chain;

/// What to check after a 401 or a 403 from GCS.
const HINTS: Hints<'static> = Hints {
    backend: "GCS",
    credentials: "storage.gcs.keyfile (or storage.gcs.credentials): the key may be revoked \
                  or belong to another project",
    permission: "that the service account of storage.gcs.keyfile has the Storage Object \
                 Admin role on the bucket",
};

/// A failed request: the HTTP status when the server answered, and a
/// message for people.
#[derive(Debug)]
pub struct Failure {
    /// The HTTP status, or `None` when there was no answer.
    pub status: Option<u16>,
    /// What went wrong, what to check.
    pub message: String,
}

impl Failure {
    /// True for an HTTP status.
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }
}

/// The HTTP side of one bucket.
#[derive(Debug)]
pub struct Http {
    client: Client,
    tokens: TokenSource,
    endpoint: Endpoint,
    bucket: String,
}

impl Http {
    /// A client for `bucket` at `endpoint`; with an emulator nothing is
    /// authenticated.
    pub fn new(
        endpoint: Endpoint,
        bucket: String,
        credentials: Credentials,
    ) -> Result<Http, String> {
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            // GCS answers 308 to resumable upload chunks: not a redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let credentials = if endpoint.is_emulator() {
            Credentials::None
        } else {
            credentials
        };
        Ok(Http {
            client,
            tokens: TokenSource::new(credentials),
            endpoint,
            bucket,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `…/storage/v1/b/BUCKET/o`: the object collection.
    pub fn objects_url(&self) -> String {
        format!(
            "{}/storage/v1/b/{}/o",
            self.endpoint.base(),
            encode(&self.bucket)
        )
    }

    /// `…/storage/v1/b/BUCKET/o/NAME`: one object.
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{}", self.objects_url(), encode(key))
    }

    /// `…/upload/storage/v1/b/BUCKET/o`: where uploads go.
    pub fn upload_url(&self) -> String {
        format!(
            "{}/upload/storage/v1/b/{}/o",
            self.endpoint.base(),
            encode(&self.bucket)
        )
    }

    /// The message for a missing bucket.
    pub fn missing_bucket(&self) -> String {
        format!(
            "bucket {} does not exist at {}: create it or fix storage.gcs.bucket",
            self.bucket, self.endpoint
        )
    }

    /// Sends the request `build` makes (again on each attempt), with a
    /// bearer token, retrying connection failures, timeouts, 408, 429 and
    /// 5xx at most [`MAX_ATTEMPTS`] times. Success is 2xx or 308.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, Failure> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let token = self
                .tokens
                .bearer(&self.client)
                .await
                .map_err(|message| Failure {
                    status: None,
                    message,
                })?;
            let mut request = build(&self.client);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let outcome = request.send().await;
            let retry = match &outcome {
                Ok(r) => retryable_status(r.status()),
                Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
            };
            if retry && attempt < MAX_ATTEMPTS {
                tracing::debug!(what, attempt, "gcs: retrying after {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff *= 4;
                attempt += 1;
                continue;
            }
            return match outcome {
                Ok(r)
                    if r.status().is_success() || r.status() == StatusCode::PERMANENT_REDIRECT =>
                {
                    Ok(r)
                }
                Ok(r) => Err(self.status_failure(what, r).await),
                Err(e) => Err(self.transport_failure(what, &e)),
            };
        }
    }

    async fn status_failure(&self, what: &str, response: Response) -> Failure {
        let status = response.status();
        let said = server_message(response).await;
        let what = format!("{what} in bucket {}", self.bucket);
        Failure {
            status: Some(status.as_u16()),
            message: http_error::status_message(status, &what, said.as_deref(), &HINTS),
        }
    }

    /// The message for a request that got no answer.
    pub fn transport_failure(&self, what: &str, e: &reqwest::Error) -> Failure {
        let failure = TransportFailure::of(e);
        let hint = match failure.kind {
            TransportKind::Tls => "check that the endpoint speaks HTTPS and that its certificate \
                 is trusted (a TLS-inspecting proxy? GCS needs a certificate from the public Web \
                 PKI)"
                .to_string(),
            TransportKind::Timeout => format!(
                "no answer within the connect ({} s) or read ({} s) timeout: check the network{}",
                CONNECT_TIMEOUT.as_secs(),
                READ_TIMEOUT.as_secs(),
                self.emulator_hint()
            ),
            TransportKind::Connect => format!(
                "check the network and proxy settings{}",
                self.emulator_hint()
            ),
            _ => String::new(),
        };
        Failure {
            status: None,
            message: failure.message(&self.endpoint.to_string(), what, &hint),
        }
    }

    fn emulator_hint(&self) -> &'static str {
        if self.endpoint.is_emulator() {
            ", and that the emulator named by STORAGE_EMULATOR_HOST is running"
        } else {
            ""
        }
    }
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The server's own explanation: JSON API `error.message`, else an excerpt
/// of the body.
async fn server_message(response: Response) -> Option<String> {
    let body = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .or_else(|| http_error::body_excerpt(&body))
}
