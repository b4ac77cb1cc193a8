//! The webhook operations against the real sidecar, a real Secret Service
//! (gnome-keyring in a private D-Bus session) and a webhook receiver started
//! here: add an endpoint whose `Authorization` header stays out of
//! config.yml, see a push delivered with it, test the endpoint, read its
//! delivery log, refuse a bad URL, disable, re-enable and remove it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Fixture, files_containing, push_blob};
use serde_json::{Value, json};

const HOOK_SECRET: &str = "Bearer admin-hook-secret-7c1d";

/// What the receiver got: the Authorization header and the body.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    store.lock().unwrap().push((auth, body));
                    "hook says hi"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn wait_for(received: &Received, what: &str, done: impl Fn(&[(String, Value)]) -> bool) {
    for _ in 0..300 {
        if done(&received.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never got {what}: {:?}", received.lock().unwrap());
}

fn webhook(url: &str, disabled: bool, secret: &str) -> Value {
    json!({
        "name": "ci",
        "url": url,
        "disabled": disabled,
        "headers": [{ "name": "Authorization", "value": secret }, { "name": "X-Team", "value": "infra" }],
        "timeout": "2s",
        "threshold": 3,
        "backoff": "200ms",
        "ignoredMediaTypes": [],
        "ignoreActions": ["pull"],
    })
}

#[tokio::test]
async fn an_endpoint_is_added_tested_logged_disabled_and_removed() {
    if !common::in_keyring_session("an_endpoint_is_added_tested_logged_disabled_and_removed") {
        return;
    }
    let fx = Fixture::start().await;
    let (url, received) = receiver().await;

    let empty = fx.ok("webhooksList", json!({})).await;
    assert_eq!(empty["endpoints"], json!([]));

    let bad = fx
        .err(
            "webhookSave",
            json!({ "webhook": webhook("hooks.example.com/x", false, HOOK_SECRET) }),
        )
        .await;
    assert_eq!(
        serde_json::to_value(bad.code).unwrap(),
        "invalid-input",
        "{bad}"
    );
    assert!(bad.fields.contains_key("url"), "{:?}", bad.fields);
    assert!(!String::from_utf8_lossy(&fx.config_bytes()).contains("notifications"));

    let saved = fx
        .ok(
            "webhookSave",
            json!({ "webhook": webhook(&url, false, HOOK_SECRET) }),
        )
        .await;
    assert_eq!(saved["saved"], true, "{saved:#}");
    let config = String::from_utf8_lossy(&fx.config_bytes()).into_owned();
    assert!(config.contains(&url), "{config}");
    assert!(config.contains("infra"), "{config}");
    assert!(
        files_containing(fx.dir.path(), "admin-hook-secret").is_empty(),
        "the header's secret is on disk"
    );

    let listed = fx.ok("webhooksList", json!({})).await;
    let ci = &listed["endpoints"][0];
    assert_eq!(ci["name"], "ci");
    assert_eq!(
        ci["headers"][0],
        json!({ "name": "Authorization", "value": "", "secret": true })
    );
    assert_eq!(ci["headers"][1]["value"], "infra");
    assert_eq!(ci["timeout"], "2s");
    assert_eq!(ci["runtime"]["pending"], 0, "{listed:#}");

    // A push reaches the receiver with the secret from the keychain.
    let digest = push_blob(&fx.client(), &fx.url(), "team/app", b"webhook payload").await;
    wait_for(&received, "the push event", |r| !r.is_empty()).await;
    {
        let r = received.lock().unwrap();
        assert_eq!(r[0].0, HOOK_SECRET);
        let event = &r[0].1["events"][0];
        assert_eq!(event["action"], "push");
        assert_eq!(event["target"]["digest"], digest.as_str());
        assert_eq!(event["target"]["repository"], "team/app");
    }

    let test = fx.ok("webhookTest", json!({ "name": "ci" })).await;
    assert_eq!(test["status"], 200, "{test:#}");
    assert_eq!(test["body"], "hook says hi");
    assert_eq!(test["ok"], true);
    let log = fx.ok("webhookDeliveries", json!({ "name": "ci" })).await;
    let outcomes: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["test", "delivered"], "{log:#}");
    assert_eq!(log["delivered"], 1);
    assert_eq!(log["deliveries"][1]["status"], 200);

    // Disable it, keeping the stored secret (empty value), then enable it.
    let disabled = fx
        .ok(
            "webhookSave",
            json!({ "original": "ci", "webhook": webhook(&url, true, "") }),
        )
        .await;
    assert_eq!(disabled["saved"], true);
    let before = received.lock().unwrap().len();
    push_blob(&fx.client(), &fx.url(), "team/app", b"while disabled").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        before,
        "a disabled endpoint got an event"
    );
    fx.ok(
        "webhookSave",
        json!({ "original": "ci", "webhook": webhook(&url, false, "") }),
    )
    .await;
    fx.ok("webhookTest", json!({ "name": "ci" })).await;
    assert_eq!(received.lock().unwrap().last().unwrap().0, HOOK_SECRET);

    let missing = fx.err("webhookTest", json!({ "name": "nope" })).await;
    assert_eq!(serde_json::to_value(missing.code).unwrap(), "not-found");

    fx.ok("webhookDelete", json!({ "name": "ci" })).await;
    let listed = fx.ok("webhooksList", json!({})).await;
    assert_eq!(listed["endpoints"], json!([]));
}
