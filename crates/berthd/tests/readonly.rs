//! Read-only mode switched in a running `berthd` through the admin API on
//! its debug listener (`PUT /berth/v1/readonly`), without a restart:
//! pushes and deletes answer 405 `UNSUPPORTED` (Distribution's status for
//! writes in read-only mode), pulls keep working, and switching back makes
//! pushes work again. Also `maintenance.uploadpurging` on its schedule.

use berth_e2e::api::{Api, assert_error};
use berth_e2e::registry::{Options, Registry, client, free_port};

const TOKEN: &str = "readonly-test-token";

fn registry(env: &[(&str, &str)]) -> (Registry, String) {
    let debug = free_port();
    let mut vars = vec![
        (
            "REGISTRY_HTTP_DEBUG_ADDR".into(),
            format!("127.0.0.1:{debug}"),
        ),
        ("BERTH_ADMIN_TOKEN".into(), TOKEN.into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let registry = Registry::berthd(Options {
        env: vars,
        ..Options::default()
    });
    (registry, format!("http://127.0.0.1:{debug}"))
}

fn switch(debug: &str, token: &str, enabled: bool) -> (u16, serde_json::Value) {
    let resp = client()
        .put(format!("{debug}/berth/v1/readonly"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "enabled": enabled }))
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn read_only_is_switched_live_and_only_with_the_admin_token() {
    let (registry, debug) = registry(&[]);
    let api = Api::new(registry.url());
    let digest = api.push_blob("team/app", b"layer before read-only");

    assert_eq!(switch(&debug, "wrong-token", true).0, 401);
    let (status, answer) = switch(&debug, TOKEN, true);
    assert_eq!(status, 200);
    assert_eq!(answer["enabled"], true);

    let refused = api.start_upload("team/app");
    let body = assert_error(refused, 405, "UNSUPPORTED");
    assert!(
        body.errors[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("read-only"),
        "the refusal says why: {:?}",
        body.errors[0].message
    );
    assert_error(
        api.delete(&format!("/v2/team/app/blobs/{digest}")),
        405,
        "UNSUPPORTED",
    );
    let pulled = api.get_blob("team/app", &digest);
    assert_eq!(pulled.status().as_u16(), 200, "pulls keep working");
    assert_eq!(pulled.bytes().unwrap().as_ref(), b"layer before read-only");

    let state: serde_json::Value = client()
        .get(format!("{debug}/berth/v1/readonly"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(state["enabled"], true);

    let (status, answer) = switch(&debug, TOKEN, false);
    assert_eq!((status, answer["enabled"].clone()), (200, false.into()));
    api.push_blob("team/app", b"layer after read-only");
}

#[test]
fn read_only_from_the_config_can_be_lifted_live() {
    let (registry, debug) = registry(&[("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", "true")]);
    let api = Api::new(registry.url());
    assert_error(api.start_upload("team/app"), 405, "UNSUPPORTED");
    assert_eq!(switch(&debug, TOKEN, false).0, 200);
    api.push_blob("team/app", b"now writable");
}

#[test]
fn abandoned_uploads_are_purged_on_schedule() {
    let (registry, _debug) = registry(&[
        ("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED", "true"),
        ("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE", "2s"),
        ("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL", "1s"),
        ("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN", "false"),
    ]);
    let api = Api::new(registry.url());
    let location = api.start_upload_location("team/app");
    let status = || {
        client()
            .get(api.resolve(&location))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status(), 204, "the upload exists at first");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while status() != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned upload was never purged; log:\n{}",
            registry.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let uploads = registry
        .root()
        .join("docker/registry/v2/repositories/team/app/_uploads");
    let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "nothing is left under {}", uploads.display());
}
