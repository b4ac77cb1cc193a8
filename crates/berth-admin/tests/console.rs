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

/// A console request: POST `/api/<op>` with an optional JSON body, bearer
/// token and Origin header; the status and the JSON answer.
async fn call(
    base: &str,
    op: &str,
    body: Option<Value>,
    token: Option<&str>,
    origin: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{base}/api/{op}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GET of a console page or file: the status and the text.
async fn page(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_api_and_the_ui_are_served() {
    let fx = Fixture::start().await;
    let ui = fx.dir.path().join("dist");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(ui.join("index.html"), "<html>berth ui</html>").unwrap();
    std::fs::write(ui.join("assets/app.js"), "console.log(1)").unwrap();
    let base = serve(fx.admin.clone(), Some(ui), None).await;

    let (code, status) = call(&base, "status", None, None, None).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "running", "{status:#}");
    assert_eq!(status["address"], format!("127.0.0.1:{}", fx.port));

    let (code, schema) = call(&base, "storageSchema", Some(json!({})), None, None).await;
    assert_eq!(code, 200);
    assert_eq!(schema[0]["driver"], "filesystem");
    assert_eq!(schema[0]["available"], true);

    let relative = json!({ "driver": "filesystem", "values": { "rootdirectory": "relative" } });
    let (code, body) = call(&base, "storageSave", Some(relative), None, None).await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["code"], "invalid-input");
    assert!(
        body["error"]["fields"]["rootdirectory"].is_string(),
        "{body:#}"
    );

    let (code, body) = call(&base, "nope", None, None, None).await;
    assert_eq!(code, 404);
    assert_eq!(body["error"]["code"], "not-found");

    // Another site's page cannot drive the console.
    let (code, _) = call(&base, "stop", None, None, Some("http://evil.example")).await;
    assert_eq!(code, 401);
    assert_eq!(fx.ok("status", json!({})).await["state"], "running");

    // The UI, with index.html for the single-page app's own routes.
    let (code, index) = page(format!("{base}/")).await;
    assert_eq!(code, 200);
    assert!(index.contains("berth ui"));
    let (code, route) = page(format!("{base}/storage/settings")).await;
    assert_eq!(code, 200);
    assert!(route.contains("berth ui"));
    let (code, asset) = page(format!("{base}/assets/app.js")).await;
    assert_eq!(code, 200);
    assert_eq!(asset, "console.log(1)");
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_token_protected_console_refuses_without_it() {
    let fx = Fixture::start().await;
    let token = console::generate_token();
    let base = serve(fx.admin.clone(), None, Some(token.clone())).await;

    let (code, body) = call(&base, "status", None, None, None).await;
    assert_eq!(code, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["hint"].as_str().unwrap().contains("token"));

    let (code, _) = call(&base, "status", None, Some("not-the-token"), None).await;
    assert_eq!(code, 401);

    let (code, status) = call(&base, "status", None, Some(&token), None).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "running");

    // Without a built UI, a page says how to build it.
    let (code, text) = page(format!("{base}/")).await;
    assert_eq!(code, 503);
    assert!(text.contains("make ui"));
    fx.admin.shutdown().await;
}
