//! TLS by default and the Trust operations against a real sidecar: the
//! app's CA and certificate, this machine's clients (a temporary root that
//! looks like Debian with Docker and podman), trust, verify with real
//! handshakes, untrust, insecure registries, and the one-liners that match
//! what the registry serves.

mod common;

use common::Fixture;
use serde_json::{Value, json};
use sha2::Digest;

/// A Debian root with Docker and podman installed (containerd is not).
fn debian_root(fx: &Fixture) -> std::path::PathBuf {
    let root = fx.trust_root();
    for dir in ["etc/docker", "etc/containers"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("etc/os-release"), "ID=debian\n").unwrap();
    root
}

fn state_of<'a>(list: &'a Value, target: &str) -> &'a str {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == target)
        .and_then(|c| c["state"].as_str())
        .unwrap_or_else(|| panic!("no {target} in {list:#}"))
}

#[tokio::test]
async fn tls_is_on_by_default_with_the_apps_ca() {
    let fx = Fixture::start().await;
    let status = fx.ok("status", json!({})).await;
    assert_eq!(status["url"], fx.url(), "{status:#}");
    let cert = &status["certificate"];
    assert!(
        cert["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "127.0.0.1"),
        "{cert:#}"
    );
    assert!(cert["sha256Fingerprint"].as_str().unwrap().contains(':'));
    assert!(cert["daysLeft"].as_i64().unwrap() > 300);
    let text = String::from_utf8(fx.config_bytes()).unwrap();
    let ca_dir = fx.data_dir().join("ca");
    assert!(
        text.contains(&ca_dir.join("server.crt").display().to_string()),
        "{text}"
    );
    // Verified by a client that trusts only the app's CA.
    assert_eq!(fx.registry_status().await, 200);
    // The registry publishes its CA without credentials.
    let ca_pem = std::fs::read_to_string(ca_dir.join("ca.crt")).unwrap();
    let served = fx
        .client()
        .get(format!("https://127.0.0.1:{}/ca", fx.port))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.unwrap(), ca_pem);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn trust_verify_untrust_on_a_root() {
    let fx = Fixture::start().await;
    let root = debian_root(&fx);
    let registry = format!("127.0.0.1:{}", fx.port);

    let status = fx.ok("trustStatus", json!({})).await;
    assert_eq!(status["registry"], registry);
    assert_eq!(status["tls"], true);
    assert_eq!(status["berthCertificate"], true);
    assert_eq!(status["origin"], "berth-ca");
    assert!(
        status["ca"]["subject"]
            .as_str()
            .unwrap()
            .contains("Berth CA on")
    );
    assert_eq!(status["machine"]["platform"], "debian");
    assert_eq!(status["machine"]["live"], false);
    assert!(status["elevation"].is_null());
    let clients = &status["clients"];
    assert_eq!(state_of(clients, "system"), "not-trusted");
    assert_eq!(state_of(clients, "docker"), "not-trusted");
    assert_eq!(state_of(clients, "containers"), "not-trusted");
    assert_eq!(state_of(clients, "containerd"), "not-present");

    // Before: no client verifies the registry with the files under the root.
    let verify = fx.ok("trustVerify", json!({})).await;
    assert_eq!(verify["allTrusted"], false, "{verify:#}");
    assert_eq!(state_of(&verify["verdicts"], "docker"), "not-trusted");

    // The dry run: exactly the files and commands, nothing touched yet.
    let plan = fx.ok("trustPlan", json!({ "action": "trust" })).await;
    let anchor = root.join("usr/local/share/ca-certificates/berth-127.0.0.1.crt");
    let docker = root
        .join("etc/docker/certs.d")
        .join(&registry)
        .join("ca.crt");
    let containers = root
        .join("etc/containers/certs.d")
        .join(&registry)
        .join("ca.crt");
    let paths: Vec<&str> = plan["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["path"].as_str())
        .collect();
    for file in [&anchor, &docker, &containers] {
        assert!(
            paths.contains(&file.to_str().unwrap()),
            "{file:?} in {plan:#}"
        );
    }
    assert_eq!(plan["needsElevation"], true);
    assert!(plan["lines"].as_array().unwrap().iter().any(|l| {
        l["description"]
            .as_str()
            .unwrap()
            .contains("update-ca-certificates")
    }));
    assert!(!anchor.exists());

    // A plan id that is not this plan's: nothing happens.
    let err = fx
        .err(
            "trustApply",
            json!({ "action": "trust", "planId": "0000000000000000" }),
        )
        .await;
    assert_eq!(err.code.as_str(), "invalid-input", "{err}");
    assert!(!anchor.exists());

    let applied = fx
        .ok(
            "trustApply",
            json!({ "action": "trust", "planId": plan["planId"] }),
        )
        .await;
    assert_eq!(applied["succeeded"], true, "{applied:#}");
    let ca_pem = std::fs::read_to_string(fx.data_dir().join("ca/ca.crt")).unwrap();
    for file in [&anchor, &docker, &containers] {
        assert_eq!(std::fs::read_to_string(file).unwrap(), ca_pem, "{file:?}");
    }
    let clients = &applied["status"]["clients"];
    assert_eq!(state_of(clients, "system"), "trusted");
    assert_eq!(state_of(clients, "docker"), "trusted");
    assert_eq!(state_of(clients, "containers"), "trusted");

    // Real handshakes with the running registry, per client.
    let verify = fx.ok("trustVerify", json!({})).await;
    assert_eq!(verify["allTrusted"], true, "{verify:#}");
    for t in ["system", "docker", "containers"] {
        assert_eq!(state_of(&verify["verdicts"], t), "trusted", "{verify:#}");
    }

    let untrusted = fx.ok("trustApply", json!({ "action": "untrust" })).await;
    assert_eq!(untrusted["succeeded"], true, "{untrusted:#}");
    assert!(!anchor.exists() && !docker.exists() && !containers.exists());
    assert!(root.join("etc/docker/certs.d").is_dir(), "parents stay");
    let verify = fx.ok("trustVerify", json!({})).await;
    assert_eq!(verify["allTrusted"], false);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn insecure_registries_and_back() {
    let fx = Fixture::start().await;
    let root = debian_root(&fx);
    let registry = format!("127.0.0.1:{}", fx.port);
    let daemon_json = root.join("etc/docker/daemon.json");
    std::fs::write(&daemon_json, "{\"log-driver\": \"journald\"}\n").unwrap();

    let plan = fx
        .ok(
            "trustPlan",
            json!({ "action": "insecure", "targets": ["docker"] }),
        )
        .await;
    let contents = plan["lines"][0]["contents"].as_str().unwrap();
    assert!(contents.contains(&registry), "{plan:#}");
    assert!(contents.contains("journald"), "{plan:#}");
    let applied = fx
        .ok(
            "trustApply",
            json!({ "action": "insecure", "targets": ["docker", "containers"] }),
        )
        .await;
    assert_eq!(applied["succeeded"], true, "{applied:#}");
    let insecure = &applied["status"]["insecure"];
    assert_eq!(state_of(insecure, "docker"), "insecure");
    assert_eq!(state_of(insecure, "containers"), "insecure");
    assert_eq!(state_of(insecure, "containerd"), "not-present");

    let secured = fx.ok("trustApply", json!({ "action": "secure" })).await;
    assert_eq!(secured["succeeded"], true, "{secured:#}");
    assert_eq!(
        state_of(&secured["status"]["insecure"], "docker"),
        "verified"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon_json).unwrap()).unwrap();
    assert_eq!(json, json!({ "log-driver": "journald" }));

    let err = fx
        .err(
            "trustPlan",
            json!({ "action": "trust", "targets": ["toaster"] }),
        )
        .await;
    assert_eq!(err.code.as_str(), "invalid-input");
    let err = fx.err("trustPlan", json!({ "action": "explode" })).await;
    assert_eq!(err.code.as_str(), "invalid-input");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn one_liners_carry_the_hash_of_what_the_registry_serves() {
    let fx = Fixture::start().await;
    let lines = fx.ok("trustOneLiners", json!({})).await;
    let registry = format!("127.0.0.1:{}", fx.port);
    assert_eq!(lines["registry"], registry);
    assert_eq!(lines["baseUrl"], format!("https://{registry}"));
    // Listening on loopback only: other machines cannot reach it, and the page says so.
    assert!(
        lines["note"].as_str().unwrap().contains("other machines"),
        "{lines:#}"
    );

    // A client that does not trust the CA yet fetches without verification.
    let unverified = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .unwrap();
    for (file, hash_key, line_keys) in [
        ("install.sh", "shSha256", &["linux", "macos"][..]),
        ("install.ps1", "ps1Sha256", &["windows"][..]),
    ] {
        let body = unverified
            .get(format!("https://{registry}/ca/{file}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        assert_eq!(lines[hash_key], hash, "{file}");
        for key in line_keys {
            let line = lines[key].as_str().unwrap();
            assert!(
                line.contains(&hash) || line.contains(&hash.to_uppercase()),
                "{key}: {line}"
            );
            assert!(
                line.contains(&format!("https://{registry}/ca/{file}")),
                "{line}"
            );
        }
    }
    fx.admin.shutdown().await;
}
