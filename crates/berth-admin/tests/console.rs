//! The web console over real HTTP: the API, the UI files, the token.

mod common;

use std::sync::Arc;

use berth_admin::console;
use common::Fixture;
use serde_json::{Value, json};

async fn serve(
    admin: Arc<berth_admin::Admin>,
    ui: Option<std::path::PathBuf>,
    token: Option<String>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(console::serve(admin, listener, ui, token));
    format!("http://{addr}")
}

#[tokio::test]
async fn the_api_and_the_ui_are_served() {
    let fx = Fixture::start().await;
    let ui = fx.dir.path().join("dist");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(ui.join("index.html"), "<html>berth ui</html>").unwrap();
    std::fs::write(ui.join("assets/app.js"), "console.log(1)").unwrap();
    let base = serve(fx.admin.clone(), Some(ui), None).await;
    let client = reqwest::Client::new();

    let status: Value = client
        .post(format!("{base}/api/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "running", "{status:#}");
    assert_eq!(status["address"], format!("127.0.0.1:{}", fx.port));

    let schema = client
        .post(format!("{base}/api/storageSchema"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    let schema: Value = schema.json().await.unwrap();
    assert_eq!(schema[0]["driver"], "filesystem");
    assert_eq!(schema[0]["available"], true);

    let bad = client
        .post(format!("{base}/api/storageSave"))
        .json(&json!({ "driver": "filesystem", "values": { "rootdirectory": "relative" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid-input");
    assert!(
        body["error"]["fields"]["rootdirectory"].is_string(),
        "{body:#}"
    );

    let missing = client
        .post(format!("{base}/api/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not-found");

    // Another site's page cannot drive the console.
    let cross = client
        .post(format!("{base}/api/stop"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 401);
    assert_eq!(fx.ok("status", json!({})).await["state"], "running");

    // The UI, with index.html for the single-page app's own routes.
    let index = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("berth ui"));
    let route = client
        .get(format!("{base}/storage/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("berth ui"));
    let asset = client
        .get(format!("{base}/assets/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(asset, "console.log(1)");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_token_protected_console_refuses_without_it() {
    let fx = Fixture::start().await;
    let token = console::generate_token();
    let base = serve(fx.admin.clone(), None, Some(token.clone())).await;
    let client = reqwest::Client::new();

    let refused = client
        .post(format!("{base}/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["hint"].as_str().unwrap().contains("token"));

    let wrong = client
        .post(format!("{base}/api/status"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let ok = client
        .post(format!("{base}/api/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let status: Value = ok.json().await.unwrap();
    assert_eq!(status["state"], "running");

    // Without a built UI, a page says how to build it.
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("make ui"));
    fx.admin.shutdown().await;
}
