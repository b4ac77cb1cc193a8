//! Bounded retries: at most [`MAX_ATTEMPTS`] tries of a request, with
//! backoff, for connection failures, timeouts and overloaded servers.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use crate::error::SwiftError;

/// Tries per request, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// How long to wait before try `attempt + 1`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.saturating_sub(1).min(4))
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Sends the request `build` makes, again on transient failures. Every
/// request Swift sees from this driver is idempotent, so retrying is safe.
pub async fn send(
    http: &reqwest::Client,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, SwiftError> {
    let mut attempt = 1;
    loop {
        let request = build()
            .build()
            .map_err(|e| SwiftError::Other(format!("cannot build a Swift request: {e}")))?;
        let url = request.url().to_string();
        let method = request.method().clone();
        match http.execute(request).await {
            Ok(response) if retryable_status(response.status()) && attempt < MAX_ATTEMPTS => {
                tracing::debug!(%method, status = %response.status(), attempt, "swift: retrying");
            }
            Ok(response) => return Ok(response),
            Err(e) => {
                let error = SwiftError::transport(&url, &e);
                if !error.is_transient() || attempt >= MAX_ATTEMPTS {
                    return Err(error);
                }
                tracing::debug!(%method, %error, attempt, "swift: retrying");
            }
        }
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert!(backoff(100) <= Duration::from_millis(3200));
        assert!(retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!retryable_status(StatusCode::NOT_FOUND));
    }
}
