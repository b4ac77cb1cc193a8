//! The Users page's operations and the read-only switch against the real
//! sidecar: adding the first user turns login on (the registry asks for
//! it), a changed password counts at once without a restart, the last user
//! cannot be removed; `readOnlySet` flips the running registry and keeps
//! the setting in config.yml; `registryMetrics` reads its live figures.

mod common;

use common::{Fixture, push_blob};
use serde_json::json;

async fn v2_status(fx: &Fixture, login: Option<(&str, &str)>) -> u16 {
    let mut request = fx.client().get(fx.url());
    if let Some((user, password)) = login {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap().status().as_u16()
}

/// Polls until `login` gets `status` (the registry reloads the file within
/// about a second).
async fn eventually(fx: &Fixture, login: (&str, &str), status: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while v2_status(fx, Some(login)).await != status {
        assert!(
            std::time::Instant::now() < deadline,
            "{login:?} never got {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_added_changed_and_removed_without_restarts() {
    let fx = Fixture::start().await;
    let listed = fx.ok("usersList", json!({})).await;
    assert_eq!(listed["enabled"], false);
    assert_eq!(v2_status(&fx, None).await, 200, "no login at first");

    let err = fx
        .err("userSet", json!({"name": "ann", "password": "short"}))
        .await;
    assert!(err.to_string().contains("too short"), "{err}");
    let err = fx
        .err(
            "userSet",
            json!({"name": "a:b", "password": "long-enough-1"}),
        )
        .await;
    assert!(err.to_string().contains("user name"), "{err}");

    let added = fx
        .ok(
            "userSet",
            json!({"name": "ann", "password": "first-password"}),
        )
        .await;
    assert_eq!(added["enabled"], true);
    assert_eq!(added["restarted"], true, "turning login on restarts");
    assert_eq!(added["users"], json!(["ann"]));
    let path = added["path"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("ann:$2"),
        "bcrypt, never the password: {text}"
    );
    assert!(!text.contains("first-password"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(v2_status(&fx, None).await, 401, "login is required now");
    assert_eq!(v2_status(&fx, Some(("ann", "first-password"))).await, 200);
    let pid = fx.ok("status", json!({})).await["pid"].clone();

    // Changed password and a second user: live, no restart.
    let changed = fx
        .ok(
            "userSet",
            json!({"name": "ann", "password": "second-password"}),
        )
        .await;
    assert_eq!(changed["restarted"], false);
    fx.ok(
        "userSet",
        json!({"name": "bob", "password": "bobs-password"}),
    )
    .await;
    eventually(&fx, ("ann", "second-password"), 200).await;
    assert_eq!(v2_status(&fx, Some(("ann", "first-password"))).await, 401);
    eventually(&fx, ("bob", "bobs-password"), 200).await;

    let listed = fx.ok("usersList", json!({})).await;
    assert_eq!(listed["users"], json!(["ann", "bob"]));
    let removed = fx.ok("userDelete", json!({"name": "bob"})).await;
    assert_eq!(removed["users"], json!(["ann"]));
    eventually(&fx, ("bob", "bobs-password"), 401).await;
    let err = fx.err("userDelete", json!({"name": "ann"})).await;
    assert!(err.to_string().contains("last user"), "{err}");
    assert_eq!(fx.ok("status", json!({})).await["pid"], pid, "no restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_is_switched_live_and_kept() {
    let fx = Fixture::start().await;
    let client = fx.client();
    push_blob(&client, &fx.url(), "team/app", b"before").await;
    let pid = fx.ok("status", json!({})).await["pid"].clone();

    let on = fx.ok("readOnlySet", json!({"enabled": true})).await;
    assert_eq!(on, json!({"enabled": true, "live": true}));
    let refused = client
        .post(format!("{}team/app/blobs/uploads/", fx.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    assert!(refused.text().await.unwrap().contains("UNSUPPORTED"));
    let saved = String::from_utf8(fx.config_bytes()).unwrap();
    assert!(saved.contains("readonly"), "kept in config.yml:\n{saved}");
    assert_eq!(fx.ok("status", json!({})).await["readOnly"], true);
    assert_eq!(fx.ok("status", json!({})).await["pid"], pid, "no restart");

    let metrics = fx.ok("registryMetrics", json!({})).await;
    assert!(metrics["bytesPushed"].as_u64().unwrap() >= 6, "{metrics}");
    assert!(metrics["clientErrors"].as_u64().unwrap() >= 1, "{metrics}");

    fx.ok("readOnlySet", json!({"enabled": false})).await;
    push_blob(&client, &fx.url(), "team/app", b"after").await;
    assert_eq!(fx.ok("status", json!({})).await["readOnly"], false);
}
