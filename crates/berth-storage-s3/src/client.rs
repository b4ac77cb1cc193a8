//! The SDK client for a [`S3Config`]: endpoint and addressing style,
//! credentials, bounded retries and timeouts, our HTTP client.

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use berth_storage::OpenError;

use crate::DRIVER;
use crate::config::S3Config;
use crate::http::{self, TlsOptions};

/// How long establishing a TCP (and TLS) connection may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 3;

/// How long one attempt of a request may take until its answer starts:
/// a minute, plus a second per MiB of the largest part we send (at least
/// 1 MiB/s of upload bandwidth), so that big parts on slow links don't time
/// out while a silent server still fails within minutes.
pub(crate) fn attempt_timeout(chunk_size: u64) -> Duration {
    Duration::from_secs(60 + chunk_size / (1024 * 1024))
}

/// Builds the client; reads `rootcacert` but does not touch the network.
pub(crate) async fn build(config: &S3Config) -> Result<aws_sdk_s3::Client, OpenError> {
    let extra_roots_pem = match &config.root_ca_cert {
        Some(path) => Some(
            http::read_ca_file(path).map_err(|e| OpenError::parameter(DRIVER, "rootcacert", e))?,
        ),
        None => None,
    };
    let tls = TlsOptions {
        skip_verify: config.skip_verify,
        extra_roots_pem,
    };
    let http_client = http::client(&tls, CONNECT_TIMEOUT).map_err(|e| OpenError::Io {
        driver: DRIVER.to_string(),
        location: config.endpoint_display(),
        source: std::io::Error::other(e),
    })?;
    let region = Region::new(config.region.clone());
    let mut builder = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.clone())
        .http_client(http_client.clone())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(attempt_timeout(config.chunk_size))
                .build(),
        )
        .force_path_style(config.force_path_style)
        .use_dual_stack(config.dual_stack)
        .use_fips(config.fips)
        .accelerate(config.accelerate)
        // Checksums only where S3 requires them: many S3-compatible stores
        // (older Ceph RGW, MinIO, IBM COS) reject the newer trailing ones.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = config.sdk_endpoint() {
        builder = builder.endpoint_url(endpoint);
    }
    builder = match &config.static_keys {
        Some((access, secret)) => builder.credentials_provider(Credentials::new(
            access,
            secret,
            None,
            None,
            "storage.s3.accesskey",
        )),
        None => {
            // The AWS default chain: environment, profile, web identity,
            // ECS and EC2 instance roles. It resolves lazily, on first use.
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .http_client(http_client)
                .region(region)
                .load()
                .await;
            match shared.credentials_provider() {
                Some(provider) => builder.credentials_provider(provider),
                None => builder,
            }
        }
    };
    Ok(aws_sdk_s3::Client::from_conf(builder.build()))
}
