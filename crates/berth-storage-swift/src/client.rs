//! The authenticated HTTP client: one token shared by every request,
//! renewed once when Swift answers 401 (an expired token), bounded retries
//! and status codes turned into [`SwiftError`]s.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use crate::auth::{self, Session};
use crate::config::SwiftConfig;
use crate::error::SwiftError;
use crate::keys::encode;
use crate::retry;

/// How long to wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may stall between two reads.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A Swift account, authenticated.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    config: SwiftConfig,
    session: RwLock<Arc<Session>>,
    reauth: tokio::sync::Mutex<()>,
}

impl Client {
    /// Builds the HTTP client and authenticates.
    pub async fn connect(config: SwiftConfig) -> Result<Client, SwiftError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .danger_accept_invalid_certs(config.insecure_skip_verify)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SwiftError::Other(format!("cannot build the HTTP client: {e}")))?;
        let session = auth::authenticate(&http, &config).await?;
        Ok(Client {
            http,
            config,
            session: RwLock::new(Arc::new(session)),
            reauth: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SwiftConfig {
        &self.config
    }

    /// The plain HTTP client (for unauthenticated requests such as `/info`).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The current token and storage URL.
    pub fn session(&self) -> Arc<Session> {
        match self.session.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the token (tests use it to simulate an expired one).
    pub fn set_token(&self, token: &str) {
        let mut session = (*self.session()).clone();
        session.token = token.to_string();
        match self.session.write() {
            Ok(mut s) => *s = Arc::new(session),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(session),
        }
    }

    /// A new token, unless another request already replaced `stale`.
    async fn reauthenticate(&self, stale: &Session) -> Result<Arc<Session>, SwiftError> {
        let _one_at_a_time = self.reauth.lock().await;
        let current = self.session();
        if current.token != stale.token {
            return Ok(current);
        }
        tracing::debug!("swift: token rejected, authenticating again");
        let fresh = Arc::new(auth::authenticate(&self.http, &self.config).await?);
        match self.session.write() {
            Ok(mut s) => *s = fresh.clone(),
            Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
        }
        Ok(fresh)
    }

    /// The URL of the container.
    pub fn container_url(&self, session: &Session) -> String {
        format!("{}/{}", session.storage_url, encode(&self.config.container))
    }

    /// The URL of an object.
    pub fn object_url(&self, session: &Session, key: &str) -> String {
        format!("{}/{}", self.container_url(session), encode(key))
    }

    /// Sends an authenticated request (`what` names it in errors) and
    /// checks its status: 2xx is `Ok`, anything else a [`SwiftError`].
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client, &Session) -> RequestBuilder,
    ) -> Result<Response, SwiftError> {
        let attempt = |session: Arc<Session>| {
            let build = &build;
            async move {
                retry::send(&self.http, || {
                    build(&self.http, &session).header("X-Auth-Token", &session.token)
                })
                .await
            }
        };
        let session = self.session();
        let mut response = attempt(session.clone()).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let fresh = self.reauthenticate(&session).await?;
            response = attempt(fresh).await?;
        }
        check(response, what).await
    }
}

/// `Ok` for 2xx answers, else the error the status means.
async fn check(response: Response, what: &str) -> Result<Response, SwiftError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(match status {
        StatusCode::NOT_FOUND => SwiftError::NotFound,
        StatusCode::RANGE_NOT_SATISFIABLE => SwiftError::RangeNotSatisfiable,
        status => SwiftError::status(status, what, &body),
    })
}
