//! Saving storage settings: nothing changes when the probe fails; a passing
//! probe saves and moves the registry; a registry that does not come up is
//! rolled back. All against the real berthd.

mod common;

use common::{Fixture, blob_path, push_blob};
use serde_json::json;

#[tokio::test]
async fn a_failing_probe_changes_nothing_and_the_registry_keeps_running() {
    let fx = Fixture::start().await;
    let before = fx.ok("status", json!({})).await;
    let bytes = fx.config_bytes();

    // The filesystem driver stages writes in .berth-tmp: a regular file there
    // makes every write fail, for root too.
    let bad_root = fx.dir.path().join("root-bad");
    std::fs::create_dir_all(&bad_root).unwrap();
    std::fs::write(bad_root.join(".berth-tmp"), "not a directory").unwrap();

    let tested = fx
        .ok(
            "storageTest",
            json!({ "driver": "filesystem", "values": { "rootdirectory": bad_root } }),
        )
        .await;
    assert_eq!(tested["passed"], false, "{tested:#}");

    let out = fx
        .ok(
            "storageSave",
            json!({ "driver": "filesystem", "values": { "rootdirectory": bad_root } }),
        )
        .await;
    assert_eq!(out["saved"], false, "{out:#}");
    assert_eq!(out["probe"]["passed"], false);
    // The driver cannot even set up its staging folder there.
    let open_error = out["probe"]["openError"].as_str().unwrap_or_default();
    assert!(
        open_error.contains(".berth-tmp") || open_error.contains("root-bad"),
        "{out:#}"
    );
    assert!(out["probe"]["report"].is_null());

    assert_eq!(fx.config_bytes(), bytes, "config.yml must not change");
    let after = fx.ok("status", json!({})).await;
    assert_eq!(after["state"], "running");
    assert_eq!(
        after["pid"], before["pid"],
        "the registry must not be restarted"
    );
    assert_eq!(fx.registry_status().await, 200);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_passing_probe_saves_and_the_registry_serves_from_the_new_root() {
    let fx = Fixture::start().await;
    let before = fx.ok("status", json!({})).await;
    let new_root = fx.dir.path().join("root-new");

    let out = fx
        .ok(
            "storageSave",
            json!({ "driver": "filesystem", "values": { "rootdirectory": new_root } }),
        )
        .await;
    assert_eq!(out["saved"], true, "{out:#}");
    assert_eq!(out["probe"]["passed"], true);
    assert_eq!(out["status"]["state"], "running");
    assert_ne!(out["status"]["pid"], before["pid"], "restarted");
    assert_eq!(
        out["status"]["backend"],
        format!("filesystem storage at {}", new_root.display())
    );

    let text = String::from_utf8(fx.config_bytes()).unwrap();
    assert!(text.contains(&new_root.display().to_string()), "{text}");
    // What the form does not show is kept.
    assert!(text.contains("enabled: true"), "{text}");

    let base = out["status"]["url"].as_str().unwrap().to_string();
    assert_eq!(base, fx.url(), "TLS by default");
    let digest = push_blob(
        &fx.client(),
        &base,
        "team/app",
        b"a layer pushed after the move",
    )
    .await;
    let data = std::fs::read(blob_path(&new_root, &digest)).expect("blob in the new root");
    assert_eq!(data, b"a layer pushed after the move");
    assert!(!blob_path(&fx.dir.path().join("root-a"), &digest).exists());

    let got = fx.ok("storageGet", json!({})).await;
    assert_eq!(got["driver"], "filesystem");
    assert_eq!(
        got["values"]["rootdirectory"],
        new_root.display().to_string()
    );
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_registry_that_does_not_come_up_is_rolled_back() {
    let fx = Fixture::start().await;
    let bytes = fx.config_bytes();
    // The new settings listen on a port something else holds: berthd exits.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let yaml = common::config_yaml(taken_port, &fx.dir.path().join("root-b"), "");
    let err = fx.err("configSave", json!({ "yaml": yaml })).await;
    assert_eq!(err.code.as_str(), "sidecar", "{err}");
    assert!(
        err.message.contains("previous settings were restored"),
        "{err}"
    );
    assert!(err.message.contains("running on them again"), "{err}");

    assert_eq!(fx.config_bytes(), bytes, "config.yml is the old one again");
    let status = fx.ok("status", json!({})).await;
    assert_eq!(status["state"], "running");
    assert_eq!(status["address"], format!("127.0.0.1:{}", fx.port));
    assert_eq!(fx.registry_status().await, 200);
    drop(taken);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn bad_forms_and_unavailable_drivers_change_nothing() {
    let fx = Fixture::start().await;
    let bytes = fx.config_bytes();

    let err = fx
        .err("storageSave", json!({ "driver": "filesystem", "values": { "rootdirectory": "relative/dir", "maxthreads": "many" } }))
        .await;
    assert_eq!(err.code.as_str(), "invalid-input");
    assert!(
        err.fields["rootdirectory"].contains("absolute path"),
        "{:?}",
        err.fields
    );
    assert!(
        err.fields["maxthreads"].contains("whole number"),
        "{:?}",
        err.fields
    );

    // A driver Distribution knows but no Berth build has.
    let yaml = "version: 0.1\nstorage:\n  oss:\n    bucket: b\nhttp:\n  addr: 127.0.0.1:1\n";
    let err = fx.err("configSave", json!({ "yaml": yaml })).await;
    assert_eq!(err.code.as_str(), "unavailable-driver", "{err}");
    assert!(err.message.contains("not available in this build"), "{err}");

    let err = fx
        .err(
            "configSave",
            json!({ "yaml": "version: 0.1\nstorage: [\n" }),
        )
        .await;
    assert_eq!(err.code.as_str(), "invalid-config", "{err}");

    assert_eq!(fx.config_bytes(), bytes);
    assert_eq!(fx.ok("status", json!({})).await["state"], "running");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_first_launch_writes_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let admin = berth_admin::Admin::start_with(common::options(dir.path()), common::tuning())
        .await
        .unwrap();
    let status = admin.call("status", json!({})).await.unwrap();
    assert_eq!(status["state"], "running", "{status:#}");
    assert_eq!(status["driver"], "filesystem");
    let text = std::fs::read_to_string(dir.path().join("data/config.yml")).unwrap();
    assert!(
        text.contains(&dir.path().join("registry").display().to_string()),
        "{text}"
    );
    assert!(text.contains("addr: 127.0.0.1:"), "{text}");
    // TLS by default, with the certificate of the app's own CA.
    assert!(text.contains("tls:"), "{text}");
    assert!(
        text.contains(&dir.path().join("data/ca/server.crt").display().to_string()),
        "{text}"
    );
    assert!(
        status["url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(status["certificate"]["subject"].is_string(), "{status:#}");
    admin.shutdown().await;
    let status = admin.call("status", json!({})).await.unwrap();
    assert_eq!(status["state"], "stopped");
}
