//! The HTTP client the SDK talks through: hyper with rustls (ring), our own
//! TLS configuration so that `skipverify` and `rootcacert` work (the SDK's
//! own client can add trusted roots but cannot turn verification off), a
//! connect timeout, and names under `.localhost` resolved to the loopback
//! address (RFC 6761), which lets virtual-hosted-style requests reach an
//! S3-compatible server at `http://localhost:PORT` without editing
//! `/etc/hosts`.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How the client checks servers' certificates.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsOptions {
    /// Accept any certificate (`skipverify`).
    pub skip_verify: bool,
    /// PEM CA certificates to trust besides the system's (`rootcacert`).
    pub extra_roots_pem: Option<Vec<u8>>,
}

/// Builds the SDK's HTTP client.
pub(crate) fn client(
    tls: &TlsOptions,
    connect_timeout: Duration,
) -> Result<SharedHttpClient, String> {
    let config = tls_config(tls)?;
    let mut tcp = TcpConnector::new_with_resolver(Resolver);
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let client = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https);
    let connector = SharedHttpConnector::new(Connector { client });
    Ok(http_client_fn(move |_, _| connector.clone()))
}

/// Parses the PEM file of `rootcacert`, checking it holds certificates.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = parse_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(pem)
}

fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a valid PEM certificate file: {e}"))
}

fn tls_config(tls: &TlsOptions) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = if tls.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(tls.extra_roots_pem.as_deref())?)
            .with_no_client_auth()
    };
    Ok(config)
}

/// The system's trusted roots (Mozilla's when the system has none), plus
/// the extra PEM certificates.
fn roots(extra_pem: Option<&[u8]>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(pem) = extra_pem {
        for cert in parse_pem(pem)? {
            roots
                .add(cert)
                .map_err(|e| format!("rootcacert: unusable CA certificate: {e}"))?;
        }
    }
    Ok(roots)
}

/// `skipverify: true`: any certificate is accepted (handshake signatures
/// are still checked, so the connection is encrypted, just not authenticated).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// DNS through the system resolver, except `localhost` and `*.localhost`,
/// which are the loopback address (RFC 6761 §6.3).
#[derive(Clone, Copy, Debug)]
struct Resolver;

type Addrs = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for Resolver {
    type Response = Addrs;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Addrs>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            if is_localhost(&host) {
                return Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))].into_iter());
            }
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(addrs.into_iter())
        })
    }
}

fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost" || host.ends_with(".localhost")
}

type HyperClient = Client<hyper_rustls::HttpsConnector<TcpConnector<Resolver>>, SdkBody>;

/// The SDK's connector over the hyper client.
#[derive(Clone, Debug)]
struct Connector {
    client: HyperClient,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        declare_empty_body(&mut request);
        let response = self.client.request(request);
        HttpConnectorFuture::new(async move {
            match response.await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(connector_error(e)),
            }
        })
    }
}

/// Adds `Content-Length: 0` to bodiless PUTs and POSTs (UploadPartCopy,
/// CompleteMultipartUpload…): hyper sends none for an empty body, and S3
/// servers such as Ceph RGW answer 411 Length Required without it.
fn declare_empty_body(request: &mut http::Request<SdkBody>) {
    use http_body::Body;
    let headers = request.headers();
    let needs_length = matches!(*request.method(), http::Method::PUT | http::Method::POST)
        && !headers.contains_key(http::header::CONTENT_LENGTH)
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
        && request.body().size_hint().exact() == Some(0);
    if needs_length {
        request.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("0"),
        );
    }
}

/// Sorts hyper's errors the way the SDK's retry logic expects: failures to
/// connect and broken connections are I/O errors (retried), timeouts are
/// timeouts, TLS failures and the rest are final.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    // A certificate the client refuses stays refused: no retry.
    if crate::error::chain(&error).any(|e| e.is::<rustls::Error>()) {
        return ConnectorError::other(error.into(), None);
    }
    let timed_out = crate::error::chain(&error).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    });
    let transient = error.is_connect()
        || crate::error::chain(&error).any(|e| {
            e.is::<io::Error>()
                || e.downcast_ref::<hyper::Error>()
                    .is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
        });
    if timed_out {
        ConnectorError::timeout(error.into())
    } else if transient {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names() {
        assert!(is_localhost("localhost"));
        assert!(is_localhost("berth-test.localhost"));
        assert!(is_localhost("berth-test.localhost."));
        assert!(!is_localhost("localhost.example.com"));
        assert!(!is_localhost("notlocalhost"));
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("berth-s3-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        let e = read_ca_file(&dir).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        std::fs::remove_file(&dir).ok();
        let e = read_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn tls_configs_build() {
        tls_config(&TlsOptions::default()).unwrap();
        tls_config(&TlsOptions {
            skip_verify: true,
            extra_roots_pem: None,
        })
        .unwrap();
    }
}
