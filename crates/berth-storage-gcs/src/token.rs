//! OAuth2 access tokens for the JSON API, fetched as the credentials say and
//! cached until shortly before they expire.

use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::credentials::{Credentials, ServiceAccount};
use crate::jwt;
use crate::keys::encode;

/// A cached token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The metadata server answers quickly or not at all.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Hands out bearer tokens for one set of credentials.
#[derive(Debug)]
pub struct TokenSource {
    credentials: Credentials,
    cache: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenSource {
    /// Tokens for `credentials`; [`Credentials::None`] gives no token.
    pub fn new(credentials: Credentials) -> TokenSource {
        TokenSource {
            credentials,
            cache: Mutex::new(None),
        }
    }

    /// A valid bearer token, or `None` when no authentication is used. The
    /// error says what failed and which setting to check.
    pub async fn bearer(&self, client: &reqwest::Client) -> Result<Option<String>, String> {
        if matches!(self.credentials, Credentials::None) {
            return Ok(None);
        }
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(Some(c.token.clone()));
        }
        let fetched_at = Instant::now();
        let response = self.fetch(client).await?;
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(3600));
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *cache = Some(Cached {
            token: response.access_token.clone(),
            refresh_at: fetched_at + lifetime - margin,
        });
        Ok(Some(response.access_token))
    }

    async fn fetch(&self, client: &reqwest::Client) -> Result<TokenResponse, String> {
        match &self.credentials {
            Credentials::ServiceAccount(sa) => service_account_token(client, sa).await,
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let body = format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    encode(client_id),
                    encode(client_secret),
                    encode(refresh_token)
                );
                let who = "the Application Default Credentials user";
                post_form(client, token_uri, body, who).await
            }
            Credentials::MetadataServer { host } => metadata_token(client, host).await,
            Credentials::None => Err("no credentials".to_string()),
        }
    }
}

async fn service_account_token(
    client: &reqwest::Client,
    sa: &ServiceAccount,
) -> Result<TokenResponse, String> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let assertion = jwt::assertion(sa, jwt::SCOPE, now)?;
    let body = format!(
        "grant_type={}&assertion={}",
        encode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        encode(&assertion)
    );
    post_form(
        client,
        &sa.token_uri,
        body,
        &format!("service account {}", sa.email),
    )
    .await
}

async fn post_form(
    client: &reqwest::Client,
    uri: &str,
    body: String,
    who: &str,
) -> Result<TokenResponse, String> {
    let response = client
        .post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot get an OAuth2 token from {uri}: {}",
                crate::http::error_chain(&e)
            )
        })?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .map_err(|e| format!("{uri} answered a token request with unreadable JSON: {e}"));
    }
    let err: TokenError = response.json().await.unwrap_or_default();
    Err(format!(
        "Google rejected the credentials of {who} (HTTP {status} from {uri}: {} {}): check \
         storage.gcs.keyfile (the key may be deleted or disabled, or this machine's clock is off)",
        err.error, err.error_description
    ))
}

async fn metadata_token(client: &reqwest::Client, host: &str) -> Result<TokenResponse, String> {
    let uri = format!(
        "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
        encode(jwt::SCOPE)
    );
    let fail = |detail: String| {
        format!(
            "no GCS credentials: storage.gcs.keyfile, storage.gcs.credentials and \
             GOOGLE_APPLICATION_CREDENTIALS are unset, and the metadata server at {host} \
             gave no token ({detail}): set storage.gcs.keyfile to a service account's JSON key"
        )
    };
    let response = client
        .get(&uri)
        .header("Metadata-Flavor", "Google")
        .timeout(METADATA_TIMEOUT)
        .send()
        .await
        .map_err(|e| fail(crate::http::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| fail(format!("unreadable answer: {e}")))
}
