//! The sidecar supervisor against the real berthd: a killed registry comes
//! back, stop and start do what they say, logs carry levels.

mod common;

use std::process::Command;

use common::Fixture;
use serde_json::json;

#[tokio::test]
async fn a_killed_registry_is_restarted() {
    let fx = Fixture::start().await;
    let before = fx.ok("status", json!({})).await;
    let pid = before["pid"].as_u64().expect("a pid while running");
    assert_eq!(before["restarts"], 0);

    let killed = Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(killed.success());

    let crashed = fx.wait_state("crashed").await;
    let reason = crashed["lastError"].as_str().unwrap_or_default();
    assert!(reason.contains("berthd exited"), "{crashed:#}");
    assert!(
        reason.contains("signal: 9") || reason.contains("SIGKILL"),
        "{reason}"
    );

    let after = fx.wait_state("running").await;
    assert_ne!(after["pid"], before["pid"]);
    assert_eq!(after["restarts"], 1);
    assert!(after["lastError"].is_null());
    assert_eq!(fx.registry_status().await, 200);

    let errors = fx.ok("logs", json!({ "level": "error" })).await;
    assert!(
        errors["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().contains("restarting")),
        "{errors:#}"
    );
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn stop_start_and_restart() {
    let fx = Fixture::start().await;

    let stopped = fx.ok("stop", json!({})).await;
    assert_eq!(stopped["state"], "stopped");
    assert!(stopped["pid"].is_null());
    assert_eq!(fx.registry_status().await, 0, "nothing listens after stop");

    let started = fx.ok("start", json!({})).await;
    assert_eq!(started["state"], "running");
    assert!(started["uptimeSeconds"].is_u64());
    assert_eq!(fx.registry_status().await, 200);

    let restarted = fx.ok("restart", json!({})).await;
    assert_eq!(restarted["state"], "running");
    assert_ne!(restarted["pid"], started["pid"]);
    assert_eq!(
        restarted["restarts"], 0,
        "asked-for restarts are not crashes"
    );

    let logs = fx.ok("logs", json!({ "limit": 1000 })).await;
    let lines = logs["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["text"].as_str().unwrap().contains("serving https://")),
        "{logs:#}"
    );
    for l in lines {
        assert!(["error", "warn", "info", "debug"].contains(&l["level"].as_str().unwrap()));
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
    }
    let next = logs["next"].as_u64().unwrap();
    let none = fx.ok("logs", json!({ "after": next })).await;
    assert!(none["lines"].as_array().unwrap().is_empty());
    assert_eq!(none["next"], next);

    let err = fx.err("nonsense", json!({})).await;
    assert_eq!(err.code.as_str(), "not-found");
    let err = fx.err("logs", json!({ "level": "loud" })).await;
    assert_eq!(err.code.as_str(), "invalid-input");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_missing_berthd_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = common::options(dir.path());
    options.berthd = dir.path().join("no-such-berthd");
    let mut tuning = common::tuning();
    tuning.startup_timeout = std::time::Duration::from_secs(2);
    let admin = berth_admin::Admin::start_with(options, tuning)
        .await
        .unwrap();
    let status = admin.call("status", json!({})).await.unwrap();
    assert_ne!(status["state"], "running");
    let err = status["lastError"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("cargo build -p berthd"), "{status:#}");
    admin.shutdown().await;
}
