//! The registry's certificate as the admin shapes it, against a real
//! sidecar: extra names (a client that reaches the registry by that name
//! must verify it), the admin's own CA, refusals that change nothing, and
//! renewal while the app runs.

mod common;

use std::time::{Duration, SystemTime};

use berth_trust::CaDir;
use common::Fixture;
use serde_json::{Value, json};

/// A client that trusts only `ca_pem` and reaches `name` at 127.0.0.1.
fn client_for(ca_pem: &[u8], name: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap())
        .resolve(name, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .no_proxy()
        .build()
        .unwrap()
}

/// GET `https://name:port/v2/` trusting only `ca_pem`: the status, or the error.
async fn reach(ca_pem: &[u8], name: &str, port: u16) -> Result<u16, String> {
    client_for(ca_pem, name, port)
        .get(format!("https://{name}:{port}/v2/"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

fn names_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn extra_names_reach_the_served_certificate() {
    let fx = Fixture::start().await;
    let ca = std::fs::read(fx.data_dir().join("ca/ca.crt")).unwrap();
    let err = reach(&ca, "registry.berth.test", fx.port)
        .await
        .unwrap_err();
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );

    let status = fx
        .ok(
            "certificateNames",
            json!({ "names": ["Registry.Berth.test", "10.9.8.7"] }),
        )
        .await;
    assert_eq!(
        names_of(&status["extraNames"]),
        ["registry.berth.test", "10.9.8.7"]
    );
    let served = names_of(&status["server"]["names"]);
    assert!(
        served.contains(&"registry.berth.test".to_string())
            && served.contains(&"10.9.8.7".to_string()),
        "{served:?}"
    );
    // The restarted registry serves it: a client using that name verifies it.
    assert_eq!(reach(&ca, "registry.berth.test", fx.port).await, Ok(200));

    // A name no certificate can hold changes nothing.
    let refused = fx
        .err("certificateNames", json!({ "names": ["not a name"] }))
        .await;
    assert_eq!(refused.code.as_str(), "invalid-input");
    assert!(refused.fields.contains_key("names"), "{refused:?}");
    let status = fx.ok("trustStatus", json!({})).await;
    assert_eq!(
        names_of(&status["extraNames"]),
        ["registry.berth.test", "10.9.8.7"]
    );
    assert_eq!(reach(&ca, "registry.berth.test", fx.port).await, Ok(200));
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn the_admins_own_ca_replaces_berths() {
    let fx = Fixture::start().await;
    let berth_ca = std::fs::read(fx.data_dir().join("ca/ca.crt")).unwrap();
    // The organisation's CA, made elsewhere.
    let corp = tempfile::tempdir().unwrap();
    let corp_dir = CaDir::new(corp.path().join("ca"));
    corp_dir.init("corp-pki").unwrap();
    let corp_cert = std::fs::read_to_string(corp_dir.ca_cert_path()).unwrap();
    let corp_key = std::fs::read_to_string(corp_dir.ca_key_path()).unwrap();

    // A key that does not belong to the certificate is refused; nothing changes.
    let wrong_key = std::fs::read_to_string(fx.data_dir().join("ca/ca.key")).unwrap();
    let refused = fx
        .err(
            "certificateImport",
            json!({ "kind": "own-ca", "certificatePem": corp_cert, "keyPem": wrong_key }),
        )
        .await;
    assert_eq!(refused.code.as_str(), "invalid-input");
    assert!(
        refused.message.contains("does not belong"),
        "{}",
        refused.message
    );
    assert_eq!(reach(&berth_ca, "localhost", fx.port).await, Ok(200));

    let status = fx
        .ok(
            "certificateImport",
            json!({ "kind": "own-ca", "certificatePem": corp_cert, "keyPem": corp_key }),
        )
        .await;
    assert_eq!(status["origin"], "own-ca", "{status:#}");
    assert_eq!(status["ca"]["subject"], "CN=Berth CA on corp-pki, O=Berth");
    assert_eq!(
        status["server"]["issuer"],
        "CN=Berth CA on corp-pki, O=Berth"
    );
    // Clients that trust the organisation's CA now verify the registry;
    // those that trusted only Berth's old CA no longer do.
    assert_eq!(
        reach(corp_cert.as_bytes(), "localhost", fx.port).await,
        Ok(200)
    );
    assert!(reach(&berth_ca, "localhost", fx.port).await.is_err());
    // And the registry publishes the CA clients must trust.
    let published = client_for(corp_cert.as_bytes(), "localhost", fx.port)
        .get(format!("https://localhost:{}/ca", fx.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(published, corp_cert);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_certificate_near_its_end_is_renewed_while_the_app_runs() {
    let fx = Fixture::start_tuned("", |t| t.renewal_check = Duration::from_millis(500)).await;
    let ca_dir = CaDir::new(fx.data_dir().join("ca"));
    let before = fx.ok("status", json!({})).await;
    let names = names_of(&before["certificate"]["names"]);

    // Replace the served certificate with one that ends in 25 days, issued
    // in a copy of the CA directory and renamed into place in one step.
    let copy = tempfile::tempdir().unwrap();
    let copy_dir = CaDir::new(copy.path().join("ca"));
    std::fs::create_dir_all(copy_dir.path()).unwrap();
    for f in ["ca.crt", "ca.key", "server.key", "origin"] {
        std::fs::copy(ca_dir.path().join(f), copy_dir.path().join(f)).unwrap();
    }
    let then = SystemTime::now() - Duration::from_secs(340 * 86_400);
    let old = copy_dir.ensure_server_certificate(&names, then).unwrap();
    let old_fingerprint = old.certificate.sha256_fingerprint().to_string();
    std::fs::rename(copy_dir.server_cert_path(), ca_dir.server_cert_path()).unwrap();

    // The app notices and reissues it; the running registry serves the new
    // certificate without a restart.
    let mut renewed = Value::Null;
    for _ in 0..200 {
        let status = fx.ok("status", json!({})).await;
        let fingerprint = status["certificate"]["sha256Fingerprint"]
            .as_str()
            .unwrap_or("");
        if fingerprint != old_fingerprint && !fingerprint.is_empty() {
            renewed = status;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!renewed.is_null(), "the certificate was not renewed");
    assert!(
        renewed["certificate"]["daysLeft"].as_i64().unwrap() > 300,
        "{renewed:#}"
    );
    assert_eq!(renewed["pid"], before["pid"], "no restart was needed");
    let logs = fx.ok("logs", json!({})).await.to_string();
    assert!(logs.contains("without a restart"), "{logs}");
    // berthd looks at its certificate files at most once a second, when a
    // connection comes.
    let wanted = renewed["certificate"]["sha256Fingerprint"]
        .as_str()
        .unwrap();
    let mut served = String::new();
    for _ in 0..50 {
        served = served_fingerprint(&fx).await;
        if served == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        served, wanted,
        "the registry serves the renewed certificate"
    );
    fx.admin.shutdown().await;
}

/// The SHA-256 fingerprint (`AB:CD:…`) of the certificate a new TLS
/// connection to the registry gets.
async fn served_fingerprint(fx: &Fixture) -> String {
    use sha2::Digest;
    let pem = std::fs::read(fx.data_dir().join("ca/ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_info(true)
        .no_proxy()
        .build()
        .unwrap();
    let response = client.get(fx.url()).send().await.unwrap();
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("the peer's certificate")
        .to_vec();
    sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
