//! Whole config.yml files through the admin: saved, downloaded and reviewed
//! with nothing dropped — sections Berth does not use, unknown keys,
//! headers, notifications — and storage forms that keep what they do not show.

mod common;

use std::path::Path;

use berth_config::Config;
use common::Fixture;
use serde_json::json;

/// Distribution configs with more than a form shows; `ROOT` and `PORT` are
/// filled in per test.
const CONFIGS: [&str; 3] = [
    // Distribution's documented sections, each with something set.
    "version: 0.1
log:
  level: debug
  formatter: text
  fields:
    service: registry
    environment: staging
storage:
  filesystem:
    rootdirectory: ROOT
    maxthreads: 100
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
    readonly:
      enabled: false
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:PORT
  relativeurls: true
  headers:
    X-Content-Type-Options: [nosniff]
    Access-Control-Allow-Origin: ['*']
    Access-Control-Allow-Methods: [HEAD, GET, OPTIONS, DELETE]
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://listener.example.com/event
      headers:
        X-Source: [berth]
      timeout: 1s
      threshold: 10
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
          - application/octet-stream
        actions:
          - pull
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
catalog:
  maxentries: 500
validation:
  manifests:
    urls:
      allow:
        - ^https?://([^/]+\\.)*example\\.com/
",
    // A fork's sections and unknown keys at several levels.
    "version: 0.1
storage:
  filesystem:
    rootdirectory: ROOT
    frobnicate: 7
  delete:
    enabled: false
http:
  addr: 127.0.0.1:PORT
  prefix: /registry/
  somethingnew: [a, b]
openshift:
  version: 1.0
  server:
    addr: localhost:5000
  metrics:
    enabled: false
gitlab:
  database:
    host: db.example
    port: 5432
",
    // Minimal, with policy and tags sections and quoted scalars.
    "version: \"0.1\"
storage:
  filesystem:
    rootdirectory: ROOT
http:
  addr: 127.0.0.1:PORT
  headers:
    X-Frame-Options: [\"DENY\"]
policy:
  repository:
    classes: [image, plugin]
tags:
  concurrencylimit: 5
",
];

fn fill(template: &str, root: &Path, port: u16) -> String {
    template
        .replace("ROOT", &root.display().to_string())
        .replace("PORT", &port.to_string())
}

fn parse(yaml: &str) -> Config {
    Config::parse(yaml, "config.yml", [])
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
        .config
}

#[tokio::test]
async fn saved_configs_come_back_with_nothing_dropped() {
    let fx = Fixture::start().await;
    for (i, template) in CONFIGS.iter().enumerate() {
        let root = fx.dir.path().join(format!("root-{i}"));
        let yaml = fill(template, &root, fx.port);

        let review = fx.ok("configReview", json!({ "yaml": yaml })).await;
        assert_eq!(review["ok"], true, "config {i}: {review:#}");
        assert!(!review["changes"].as_array().unwrap().is_empty());

        let saved = fx.ok("configSave", json!({ "yaml": yaml })).await;
        assert_eq!(saved["saved"], true, "config {i}: {saved:#}");
        assert_eq!(saved["status"]["state"], "running", "config {i}: {saved:#}");

        let down = fx
            .ok("configDownload", json!({ "includeSecrets": false }))
            .await;
        assert_eq!(down["filename"], "config.yml");
        let back = down["yaml"].as_str().unwrap();
        assert_eq!(
            parse(back),
            parse(&yaml),
            "config {i} came back different:\n{back}"
        );
        for line in yaml
            .lines()
            .filter(|l| l.ends_with(':') && !l.starts_with(' '))
        {
            assert!(
                back.contains(line),
                "config {i} lost section {line}:\n{back}"
            );
        }
        // On disk, the same file.
        let disk = std::fs::read_to_string(fx.data_dir().join("config.yml")).unwrap();
        assert_eq!(parse(&disk), parse(&yaml));
        // Reviewing what is saved shows no change.
        let again = fx.ok("configReview", json!({ "yaml": back })).await;
        assert_eq!(again["changes"], json!([]), "config {i}: {again:#}");
    }
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn a_storage_form_keeps_what_it_does_not_show() {
    let fx = Fixture::start().await;
    let root = fx.dir.path().join("root-0");
    let yaml = fill(CONFIGS[1], &root, fx.port);
    fx.ok("configSave", json!({ "yaml": yaml })).await;

    let other = fx.dir.path().join("root-other");
    let out = fx
        .ok(
            "storageSave",
            json!({ "driver": "filesystem", "values": { "rootdirectory": other } }),
        )
        .await;
    assert_eq!(out["saved"], true, "{out:#}");
    let down = fx.ok("configDownload", json!({})).await;
    let back = parse(down["yaml"].as_str().unwrap());
    let mut expected = parse(&yaml);
    expected
        .storage
        .driver
        .parameters
        .insert("rootdirectory", json!(other.display().to_string()));
    assert_eq!(back, expected);
    let settings = fx.ok("storageGet", json!({})).await;
    assert_eq!(settings["values"]["frobnicate"], 7);
    fx.admin.shutdown().await;
}

#[tokio::test]
async fn review_locates_errors_and_lists_changes() {
    let fx = Fixture::start().await;
    let bad = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /x\n  delete:\n    enabled: maybe\n";
    let review = fx.ok("configReview", json!({ "yaml": bad })).await;
    assert_eq!(review["ok"], false);
    let first = &review["errors"][0];
    assert_eq!(first["line"], 6, "{review:#}");
    assert_eq!(first["column"], 14, "{review:#}");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("storage.delete.enabled")
    );
    assert!(review["current"].as_str().unwrap().contains("filesystem"));

    let syntax = fx
        .ok(
            "configReview",
            json!({ "yaml": "version: 0.1\nstorage: [\n" }),
        )
        .await;
    assert_eq!(syntax["ok"], false);
    assert!(syntax["errors"][0]["line"].is_u64(), "{syntax:#}");

    let current = fx.ok("configDownload", json!({})).await["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = current.replace("enabled: true", "enabled: false") + "frobnicate: yes\n";
    let review = fx.ok("configReview", json!({ "yaml": changed })).await;
    assert_eq!(review["ok"], true, "{review:#}");
    let changes = review["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["path"] == "storage.delete.enabled"
            && c["kind"] == "changed"
            && c["before"] == "true"
            && c["after"] == "false"),
        "{review:#}"
    );
    assert!(
        review["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("frobnicate")),
        "{review:#}"
    );
    fx.admin.shutdown().await;
}

/// The real-world configs beside the project (`../shared/configs`), when
/// present: every one that loads is reviewed with nothing dropped.
#[tokio::test]
async fn real_world_configs_review_without_loss() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/configs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} is not there", dir.display());
        return;
    };
    let fx = Fixture::start().await;
    let mut reviewed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let yaml = std::fs::read_to_string(&path).unwrap();
        let Ok(loaded) = Config::parse(&yaml, "config.yml", []) else {
            continue;
        };
        let review = fx.ok("configReview", json!({ "yaml": yaml })).await;
        let proposed = parse(review["proposed"].as_str().unwrap());
        assert_eq!(
            proposed,
            parse(&loaded.config.to_yaml(true)),
            "{} lost something in review",
            path.display()
        );
        reviewed += 1;
    }
    assert!(reviewed > 10, "only {reviewed} configs reviewed");
    fx.admin.shutdown().await;
}
