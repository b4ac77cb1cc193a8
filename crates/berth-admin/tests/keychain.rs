//! Secrets against a real Secret Service (gnome-keyring in a private D-Bus
//! session each test starts for itself, see `common::in_keyring_session`),
//! and without any session bus at all.
//!
//! `run-keychain-tests.sh` runs these inside one such session directly.

mod common;

use common::{Fixture, environ, files_containing};
use serde_json::json;

const HTTP_SECRET: &str = "hmac-3f9c1e7a-not-on-disk";
const HOOK_TOKEN: &str = "Bearer hook-token-5d2b";
const DB_PASSWORD: &str = "db-password-81aa";

fn with_secrets(port: u16, root: &std::path::Path) -> String {
    common::config_yaml(
        port,
        root,
        &format!(
            "notifications:\n  endpoints:\n    - name: hook\n      url: http://127.0.0.1:9/events\n      headers:\n        Authorization: [{HOOK_TOKEN}]\ndatabase:\n  host: db\n  password: {DB_PASSWORD}\n"
        ),
    )
    .replace(
        &format!("  addr: 127.0.0.1:{port}\n"),
        &format!("  addr: 127.0.0.1:{port}\n  secret: {HTTP_SECRET}\n"),
    )
}

#[tokio::test]
async fn secrets_never_reach_the_disk_and_the_registry_still_gets_them() {
    if !common::in_keyring_session("secrets_never_reach_the_disk_and_the_registry_still_gets_them")
    {
        return;
    }
    let fx = Fixture::start().await;
    let status = fx.ok("keychainStatus", json!({})).await;
    assert_eq!(status["available"], true, "{status:#}");

    let yaml = with_secrets(fx.port, &fx.dir.path().join("root-s"));
    let review = fx.ok("configReview", json!({ "yaml": yaml })).await;
    assert_eq!(review["ok"], true, "{review:#}");
    assert!(!review["proposed"].as_str().unwrap().contains(HTTP_SECRET));
    let saved = fx.ok("configSave", json!({ "yaml": yaml })).await;
    assert_eq!(saved["saved"], true, "{saved:#}");

    for secret in [HTTP_SECRET, "hook-token-5d2b", DB_PASSWORD] {
        let found = files_containing(fx.dir.path(), secret);
        assert!(found.is_empty(), "{secret} written to {found:?}");
    }
    let disk = String::from_utf8(fx.config_bytes()).unwrap();
    assert!(disk.contains("secret: <redacted>"), "{disk}");
    assert!(disk.contains("host: db"), "{disk}");

    // The registry gets them as Distribution's environment overrides.
    let pid = saved["status"]["pid"].as_u64().unwrap();
    let env = environ(pid);
    assert!(
        env.contains(&format!("REGISTRY_HTTP_SECRET={HTTP_SECRET}")),
        "{env:?}"
    );
    assert!(
        env.iter().any(|v| v
            .starts_with("REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS_AUTHORIZATION=")
            && v.contains("hook-token-5d2b")),
        "{env:?}"
    );

    // Download: redacted by default, whole on request.
    let plain = fx.ok("configDownload", json!({})).await["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!plain.contains(HTTP_SECRET) && !plain.contains(DB_PASSWORD));
    let whole = fx
        .ok("configDownload", json!({ "includeSecrets": true }))
        .await["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    for secret in [HTTP_SECRET, HOOK_TOKEN, DB_PASSWORD] {
        assert!(whole.contains(secret), "{secret} missing from\n{whole}");
    }

    // A redacted file uploaded again keeps the stored secrets.
    let again = fx.ok("configSave", json!({ "yaml": plain })).await;
    assert_eq!(again["saved"], true, "{again:#}");
    let env = environ(again["status"]["pid"].as_u64().unwrap());
    assert!(
        env.contains(&format!("REGISTRY_HTTP_SECRET={HTTP_SECRET}")),
        "{env:?}"
    );

    // Credentials: by name, never by value.
    let list = fx.ok("credentialsList", json!({})).await;
    let text = list.to_string();
    assert!(!text.contains(HTTP_SECRET), "{text}");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "http.secret",
        "notifications.endpoints[0].headers.Authorization",
        "database.password",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let http = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "http.secret")
        .unwrap();
    assert_eq!(http["active"], true);
    assert_eq!(http["stored"], true);

    // Replacing an active secret restarts the registry with it.
    fx.ok(
        "credentialsSet",
        json!({ "name": "http.secret", "value": "rotated-secret-77" }),
    )
    .await;
    let status = fx.wait_state("running").await;
    let env = environ(status["pid"].as_u64().unwrap());
    assert!(
        env.contains(&"REGISTRY_HTTP_SECRET=rotated-secret-77".to_string()),
        "{env:?}"
    );
    assert!(files_containing(fx.dir.path(), "rotated-secret-77").is_empty());

    // An active secret cannot be deleted; an unused one can.
    let err = fx
        .err("credentialsDelete", json!({ "name": "http.secret" }))
        .await;
    assert_eq!(err.code.as_str(), "invalid-input");
    fx.ok(
        "credentialsSet",
        json!({ "name": "storage.s3.secretkey", "value": "unused" }),
    )
    .await;
    let list = fx.ok("credentialsList", json!({})).await;
    let s3 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage.s3.secretkey")
        .unwrap();
    assert_eq!(s3["active"], false);
    assert_eq!(s3["label"], "AWS secret key");
    let list = fx
        .ok(
            "credentialsDelete",
            json!({ "name": "storage.s3.secretkey" }),
        )
        .await;
    assert!(!list.to_string().contains("storage.s3.secretkey"));
    let err = fx
        .err(
            "credentialsDelete",
            json!({ "name": "storage.s3.secretkey" }),
        )
        .await;
    assert_eq!(err.code.as_str(), "not-found");
    let err = fx
        .err(
            "credentialsSet",
            json!({ "name": "http.addr", "value": "x" }),
        )
        .await;
    assert_eq!(err.code.as_str(), "invalid-input");

    // Clean the test's entries out of the keychain.
    fx.ok(
        "configSave",
        json!({ "yaml": common::config_yaml(fx.port, &fx.dir.path().join("root-s"), "") }),
    )
    .await;
    for c in fx
        .ok("credentialsList", json!({}))
        .await
        .as_array()
        .unwrap()
    {
        fx.ok("credentialsDelete", json!({ "name": c["name"] }))
            .await;
    }
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_failed_probe_keeps_the_old_secret() {
    if !common::in_keyring_session("a_failed_probe_keeps_the_old_secret") {
        return;
    }
    let fx = Fixture::start().await;
    let yaml = with_secrets(fx.port, &fx.dir.path().join("root-s"));
    fx.ok("configSave", json!({ "yaml": yaml })).await;

    let bad_root = fx.dir.path().join("root-bad");
    std::fs::create_dir_all(&bad_root).unwrap();
    std::fs::write(bad_root.join(".berth-tmp"), "not a directory").unwrap();
    let changed = with_secrets(fx.port, &bad_root).replace(HTTP_SECRET, "would-be-new-secret");
    let out = fx.ok("configSave", json!({ "yaml": changed })).await;
    assert_eq!(out["saved"], false, "{out:#}");
    let whole = fx
        .ok("configDownload", json!({ "includeSecrets": true }))
        .await;
    assert!(whole["yaml"].as_str().unwrap().contains(HTTP_SECRET));
    assert!(
        !whole["yaml"]
            .as_str()
            .unwrap()
            .contains("would-be-new-secret")
    );
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn without_a_session_bus_secrets_are_refused_plainly() {
    if !common::without_session_bus("without_a_session_bus_secrets_are_refused_plainly") {
        return;
    }
    let fx = Fixture::start().await;
    let status = fx.ok("keychainStatus", json!({})).await;
    assert_eq!(status["available"], false, "{status:#}");
    assert_eq!(status["backend"], "Secret Service");
    assert!(
        status["message"].as_str().unwrap().contains("No keychain"),
        "{status:#}"
    );
    assert!(
        status["hint"].as_str().unwrap().contains("gnome-keyring"),
        "{status:#}"
    );

    let bytes = fx.config_bytes();
    let yaml = with_secrets(fx.port, &fx.dir.path().join("root-s"));
    let err = fx.err("configSave", json!({ "yaml": yaml })).await;
    assert_eq!(err.code.as_str(), "keychain-unavailable", "{err}");
    assert!(err.hint.contains("gnome-keyring"), "{}", err.hint);
    assert_eq!(fx.config_bytes(), bytes, "nothing written");
    for secret in [HTTP_SECRET, DB_PASSWORD] {
        assert!(files_containing(fx.dir.path(), secret).is_empty());
    }
    let review = fx.ok("configReview", json!({ "yaml": yaml })).await;
    assert_eq!(review["ok"], false, "{review:#}");

    let err = fx
        .err(
            "credentialsSet",
            json!({ "name": "storage.s3.secretkey", "value": "x" }),
        )
        .await;
    assert_eq!(err.code.as_str(), "keychain-unavailable");
    let err = fx.err("credentialsList", json!({})).await;
    assert_eq!(err.code.as_str(), "keychain-unavailable");

    // Settings without secrets still save.
    let out = fx
        .ok("storageSave", json!({ "driver": "filesystem", "values": { "rootdirectory": fx.dir.path().join("root-t") } }))
        .await;
    assert_eq!(out["saved"], true, "{out:#}");
    assert_eq!(fx.ok("status", json!({})).await["state"], "running");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn an_s3_store_that_does_not_answer_keeps_its_secret_out_of_everything() {
    if !common::in_keyring_session(
        "an_s3_store_that_does_not_answer_keeps_its_secret_out_of_everything",
    ) {
        return;
    }
    let fx = Fixture::start().await;
    let bytes = fx.config_bytes();
    let closed = common::free_port();
    let form = json!({ "driver": "s3", "values": {
        "region": "us-east-1",
        "bucket": "images",
        "accesskey": "AKIAEXAMPLE",
        "secretkey": "s3-secret-never-kept",
        "regionendpoint": format!("http://127.0.0.1:{closed}"),
        "forcepathstyle": true,
        "secure": false,
    }});
    let out = fx.ok("storageSave", form).await;
    assert_eq!(out["saved"], false, "{out:#}");
    assert_eq!(out["probe"]["passed"], false);
    assert_eq!(fx.config_bytes(), bytes);
    assert!(files_containing(fx.dir.path(), "s3-secret-never-kept").is_empty());
    let list = fx.ok("credentialsList", json!({})).await;
    assert!(
        !list.to_string().contains("storage.s3.secretkey"),
        "{list:#}"
    );
    assert_eq!(fx.ok("status", json!({})).await["driver"], "filesystem");

    let policy = fx.ok("iamPolicy", json!({ "bucket": "images" })).await;
    assert!(
        policy["policy"]
            .as_str()
            .unwrap()
            .contains("arn:aws:s3:::images")
    );
    let err = fx.err("iamPolicy", json!({ "bucket": "https://x" })).await;
    assert_eq!(err.code.as_str(), "invalid-input");
    fx.admin.shutdown().await;
}
