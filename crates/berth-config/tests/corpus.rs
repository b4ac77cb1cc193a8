//! The corpus test: 39 real-world Distribution `config.yml` files (from
//! Distribution itself, Harbor, GitLab, OpenShift, Portus, Helm charts and
//! admins' repositories), kept in the shared folder beside the checkout and
//! never copied into the project. Berth must load every file Distribution's
//! own parser loads, refuse the ones it refuses with a clear message, and
//! read what each file says the way Distribution does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_config::{
    Auth, BlobDescriptorCache, Config, ConfigError, IndexPlatforms, Loaded, LogFormatter, LogLevel,
    ProblemKind, YamlValue, secret_paths,
};
use serde_json::{Value, json};

/// The corpus folder, or `None` (after saying so) when it is absent outside CI.
fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/configs");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the config corpus is missing at {}; CI must run with shared/ beside the checkout",
            dir.display()
        );
    }
    eprintln!(
        "skipping the corpus test: {} does not exist (it lives in shared/configs beside the checkout)",
        dir.display()
    );
    None
}

/// Every corpus file by its two-digit number.
fn corpus() -> Option<BTreeMap<u32, (String, String)>> {
    let dir = corpus_dir()?;
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("corpus folder is readable") {
        let path = entry.expect("corpus entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".yml") {
            continue;
        }
        let number: u32 = name[..2].parse().expect("files are named NN-….yml");
        let source = std::fs::read_to_string(&path).expect("corpus file is UTF-8");
        files.insert(number, (name, source));
    }
    assert_eq!(
        files.len(),
        39,
        "the corpus has 39 files: {:?}",
        files.keys()
    );
    Some(files)
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Loads file `number` (with no environment), failing the test with Berth's message.
fn load(files: &BTreeMap<u32, (String, String)>, number: u32) -> Loaded {
    let (name, source) = &files[&number];
    Config::parse(source, name, []).unwrap_or_else(|e| panic!("{name} should load:\n{e}"))
}

fn param<'a>(loaded: &'a Loaded, key: &str) -> Option<&'a Value> {
    loaded.config.storage.driver.parameters.get(key)
}

fn warning_at<'a>(loaded: &'a Loaded, key_path: &str) -> &'a berth_config::Warning {
    loaded
        .warnings
        .iter()
        .find(|w| w.key_path == key_path)
        .unwrap_or_else(|| panic!("no warning for {key_path}: {:?}", loaded.warnings))
}

/// Files Distribution's parser refuses without `REGISTRY_*` variables (see the corpus README).
const REFUSED: [u32; 2] = [11, 17];

#[test]
fn every_file_distribution_loads_berth_loads_and_writes_back_unchanged() {
    let Some(files) = corpus() else { return };
    for (number, (name, source)) in &files {
        if REFUSED.contains(number) {
            continue;
        }
        let loaded = Config::parse(source, name, []).unwrap_or_else(|e| {
            panic!("{name} loads in Distribution and must load in Berth:\n{e}")
        });
        let yaml = loaded.config.to_yaml(false);
        let again = Config::parse(&yaml, name, [])
            .unwrap_or_else(|e| panic!("{name} written back does not load:\n{e}\n{yaml}"));
        assert_eq!(
            again.config, loaded.config,
            "{name} changed when written back:\n{yaml}"
        );
        // Writing is stable: the written file writes back byte for byte.
        assert_eq!(again.config.to_yaml(false), yaml, "{name}");
        // Redacted output still loads, and hides every secret value.
        let redacted = loaded.config.to_yaml(true);
        let reloaded = Config::parse(&redacted, name, [])
            .unwrap_or_else(|e| panic!("{name} redacted does not load:\n{e}\n{redacted}"));
        assert_eq!(
            secret_paths(&reloaded.config),
            secret_paths(&loaded.config),
            "{name}"
        );
        assert!(loaded.config.diff(&again.config).is_empty(), "{name}");
    }
}

#[test]
fn the_all_options_reference_is_refused_naming_the_drivers_found() {
    let Some(files) = corpus() else { return };
    let (name, source) = &files[&11];
    let err = Config::parse(source, name, []).unwrap_err();
    let ConfigError::Invalid { problems, .. } = &err else {
        panic!("expected an invalid configuration, got {err:?}");
    };
    let storage = problems
        .iter()
        .find(|p| p.kind == ProblemKind::StorageDriverCount)
        .expect("a storage driver problem");
    assert_eq!((storage.line, storage.column), (25, 1));
    assert!(
        storage
            .message
            .contains("must provide exactly one storage type"),
        "{}",
        storage.message
    );
    for driver in [
        "filesystem (line 26)",
        "azure (line 29)",
        "gcs (line 41)",
        "s3 (line 57)",
        "inmemory (line 77)",
    ] {
        assert!(
            storage.message.contains(driver),
            "{driver} not named in: {}",
            storage.message
        );
    }
    let auth = problems
        .iter()
        .find(|p| p.kind == ProblemKind::AuthProviderCount)
        .expect("an auth provider problem");
    for provider in ["silly", "token", "htpasswd"] {
        assert!(auth.message.contains(provider), "{}", auth.message);
    }
    let text = err.to_string();
    assert!(
        text.starts_with(
            "11-distribution-docs-all-options.yml:25:1: must provide exactly one storage type"
        ),
        "{text}"
    );
}

#[test]
fn the_helm_chart_config_needs_registry_storage() {
    let Some(files) = corpus() else { return };
    let (name, source) = &files[&17];
    let err = Config::parse(source, name, []).unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_eq!(err.problems()[0].kind, ProblemKind::StorageDriverCount);
    assert!(
        err.to_string().contains("REGISTRY_STORAGE=filesystem"),
        "{err}"
    );

    let loaded = Config::parse(source, name, vars(&[("REGISTRY_STORAGE", "filesystem")]))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = &loaded.config;
    assert_eq!(config.storage.driver.name, "filesystem");
    assert_eq!(config.log.level, LogLevel::Error);
    assert!(config.log.access_log.disabled);
    assert_eq!(config.http.addr, ":5000");

    let loaded = Config::parse(
        source,
        name,
        vars(&[
            ("REGISTRY_STORAGE", "filesystem"),
            (
                "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                "/var/lib/registry",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(
        param(&loaded, "rootdirectory"),
        Some(&json!("/var/lib/registry"))
    );
}

#[test]
fn storage_sections_read_as_distribution_reads_them() {
    let Some(files) = corpus() else { return };

    // 15: GitLab writes `storage` as a one-line JSON flow mapping.
    let gitlab = load(&files, 15);
    let storage = &gitlab.config.storage;
    assert_eq!(storage.driver.name, "filesystem");
    assert_eq!(
        param(&gitlab, "rootdirectory"),
        Some(&json!("/var/opt/gitlab/gitlab-rails/shared/registry"))
    );
    assert_eq!(
        storage.cache.as_ref().unwrap().blob_descriptor,
        Some(BlobDescriptorCache::InMemory)
    );
    assert!(storage.delete.enabled);
    assert_eq!(
        gitlab.config.http.secret.as_ref().map(String::len),
        Some(128)
    );
    match &gitlab.config.auth {
        Some(Auth::Token(token)) => {
            assert_eq!(token.realm, "https://gitlab.example.com/jwt/auth");
            assert!(!token.auto_redirect);
        }
        other => panic!("{other:?}"),
    }

    // 32: `#` after a space starts a comment, so every s3 value is null.
    let hashes = load(&files, 32);
    assert_eq!(hashes.config.storage.driver.name, "s3");
    let keys: Vec<&str> = hashes.config.storage.driver.parameters.keys().collect();
    assert_eq!(
        keys,
        [
            "accesskey",
            "secretkey",
            "region",
            "bucket",
            "rootdirectory"
        ]
    );
    for key in keys {
        assert_eq!(param(&hashes, key), Some(&Value::Null), "{key}");
    }
    assert!(secret_paths(&hashes.config).is_empty());

    // 22: gcs with maintenance.readonly.
    let gcs = load(&files, 22);
    assert_eq!(gcs.config.storage.driver.name, "gcs");
    assert_eq!(param(&gcs, "keyfile"), Some(&json!("/etc/gcs.json")));
    assert_eq!(param(&gcs, "rootdirectory"), Some(&json!("/")));
    assert!(!gcs.config.storage.maintenance.readonly.enabled);
    assert!(
        gcs.config
            .to_yaml(false)
            .contains("    readonly:\n      enabled: false\n")
    );
    assert!(gcs.config.storage.delete.enabled);
    assert_eq!(
        secret_paths(&gcs.config),
        [
            "http.secret",
            "notifications.endpoints[0].headers.Authorization"
        ]
    );

    // 09: `storage: inmemory`, the scalar form.
    assert_eq!(load(&files, 9).config.storage.driver.name, "inmemory");

    // 08: an unknown driver keeps its typed parameters; Berth says it cannot run it.
    let fixture = load(&files, 8);
    assert_eq!(fixture.config.storage.driver.name, "somedriver");
    assert_eq!(param(&fixture, "bool1"), Some(&json!(true)));
    assert_eq!(param(&fixture, "nil1"), Some(&Value::Null));
    assert_eq!(param(&fixture, "int1"), Some(&json!(42)));
    assert_eq!(
        param(&fixture, "url1"),
        Some(&json!("https://foo.example.com"))
    );
    assert!(
        warning_at(&fixture, "storage.somedriver")
            .message
            .contains("not built into Berth")
    );
    assert_eq!(fixture.config.storage.tag.concurrency_limit, Some(10));
    assert_eq!(
        fixture.config.validation.manifests.indexes.platforms,
        Some(IndexPlatforms::None)
    );

    // 10: `host: ~` is null, `port: 42` a number.
    let v28 = load(&files, 10);
    assert_eq!(param(&v28, "host"), Some(&Value::Null));
    assert_eq!(param(&v28, "port"), Some(&json!(42)));
    assert_eq!(
        v28.config.storage.driver.parameters.u64("port"),
        Ok(Some(42))
    );
    assert!(
        warning_at(&v28, "http.clientcas")
            .message
            .contains("http.tls.clientcas")
    );

    // 07: duplicate `secure`: the last value wins, with a warning naming both lines.
    let minio = load(&files, 7);
    assert_eq!(
        minio.config.storage.driver.parameters.bool("secure"),
        Ok(Some(true))
    );
    let duplicate = warning_at(&minio, "storage.s3.secure");
    assert_eq!((duplicate.line, duplicate.column), (47, 5));
    assert!(duplicate.message.contains("first at 45:5"), "{duplicate}");
    assert!(minio.config.storage.redirect.disable);
    assert_eq!(minio.config.http.drain_timeout, Duration::from_secs(5));

    // 24: a Windows drive letter is a plain string.
    assert_eq!(
        param(&load(&files, 24), "rootdirectory"),
        Some(&json!("R:/"))
    );

    // 23: swift with Keystone v3.
    let swift = load(&files, 23);
    assert_eq!(swift.config.storage.driver.name, "swift");
    assert_eq!(param(&swift, "authversion"), Some(&json!(3)));
    assert_eq!(param(&swift, "password"), Some(&json!("PASSWORD")));
    assert_eq!(secret_paths(&swift.config), ["storage.swift.password"]);

    // 13: azure; its account key is a secret.
    let azure = load(&files, 13);
    assert_eq!(azure.config.storage.driver.name, "azure");
    assert!(secret_paths(&azure.config).contains(&"storage.azure.accountkey".to_string()));
    assert!(azure.config.storage.redirect.disable);
    assert_eq!(
        azure
            .config
            .http
            .tls
            .as_ref()
            .unwrap()
            .minimum_tls
            .as_deref(),
        Some("tls1.2")
    );

    // 12: Harbor's `layerinfo` is the old `blobdescriptor`; purging every 24h.
    let harbor = load(&files, 12);
    let storage = &harbor.config.storage;
    assert_eq!(
        storage.cache.as_ref().unwrap().blob_descriptor,
        Some(BlobDescriptorCache::Redis)
    );
    assert!(storage.maintenance.upload_purging.enabled);
    assert_eq!(
        storage.maintenance.upload_purging.age,
        Duration::from_secs(168 * 3600)
    );
    assert_eq!(
        storage.maintenance.upload_purging.interval,
        Duration::from_secs(24 * 3600)
    );
    assert!(harbor.config.validation.disabled);
    assert!(harbor.config.compatibility.schema1.enabled);
    assert_eq!(
        harbor.config.redis.as_ref().unwrap().addresses(),
        ["redis:6379"]
    );
    assert_eq!(harbor.config.redis.as_ref().unwrap().password, None);
    warning_at(&harbor, "storage.cache.layerinfo");
    warning_at(&harbor, "redis.enableTLS");

    // 34: uploadpurging with a comment after `336h`.
    let minio2 = load(&files, 34);
    assert_eq!(
        minio2.config.storage.maintenance.upload_purging.age,
        Duration::from_secs(336 * 3600)
    );
    assert_eq!(minio2.config.log.formatter, Some(LogFormatter::Json));
    assert!(!minio2.config.health.storage_driver.enabled);
    assert_eq!(
        minio2.config.health.storage_driver.interval,
        Duration::from_secs(300)
    );

    // 36: a plain scalar on the line after its key.
    assert!(load(&files, 36).config.storage.delete.enabled);

    // 31: `True` and `False` are booleans; quoted s3 values are strings.
    let ansible = load(&files, 31);
    assert!(ansible.config.storage.delete.enabled);
    assert_eq!(param(&ansible, "secure"), Some(&json!(false)));
    assert_eq!(
        param(&ansible, "regionendpoint"),
        Some(&json!("registry.example.com:8080"))
    );
    let letsencrypt = ansible
        .config
        .http
        .tls
        .as_ref()
        .unwrap()
        .letsencrypt
        .as_ref()
        .unwrap();
    assert_eq!(letsencrypt.email, "registry-admin@example.com");
    warning_at(&ansible, "http.hostname");

    // 30: trailing spaces after a value; New Relic reporting (removed in v3).
    let newrelic = load(&files, 30);
    assert_eq!(param(&newrelic, "v4auth"), Some(&json!(true)));
    assert_eq!(
        newrelic
            .config
            .reporting
            .newrelic
            .as_ref()
            .map(|n| n.license_key.as_str()),
        Some("NR_TOKEN")
    );

    // 26 and 33: drivers Berth does not have load, with a warning.
    for (number, driver) in [(26, "storj"), (33, "rados")] {
        let loaded = load(&files, number);
        assert_eq!(loaded.config.storage.driver.name, driver);
        warning_at(&loaded, &format!("storage.{driver}"));
    }
}

#[test]
fn other_sections_read_as_distribution_reads_them() {
    let Some(files) = corpus() else { return };

    // 35: a quoted version, no log section.
    let oracle = load(&files, 35);
    assert_eq!(oracle.config.version, "0.1");
    assert_eq!(oracle.config.http.addr, ":80");
    assert_eq!(oracle.config.log.level, LogLevel::Info);
    assert_eq!(param(&oracle, "forcepathstyle"), Some(&json!(true)));

    // 37: `delete:` at the top level is not `storage.delete`.
    let misplaced = load(&files, 37);
    let warning = warning_at(&misplaced, "delete");
    assert_eq!((warning.line, warning.column), (10, 1));
    assert!(warning.message.contains("storage.delete"), "{warning}");
    assert!(!misplaced.config.storage.delete.enabled);
    assert!(misplaced.config.http.relative_urls);

    // 18: OpenShift's own auth provider, and its own top-level section.
    let openshift = load(&files, 18);
    match &openshift.config.auth {
        Some(Auth::Other { name, parameters }) => {
            assert_eq!(name, "openshift");
            assert!(parameters.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let section = warning_at(&openshift, "openshift");
    assert_eq!((section.line, section.column), (15, 1));
    assert!(section.message.contains("unknown section"), "{section}");
    let kept = openshift.config.unknown_section("openshift").expect("kept");
    assert_eq!(
        kept.get("version"),
        Some(&YamlValue::Scalar {
            text: "1.0".into(),
            quoted: false
        })
    );
    assert_eq!(kept.to_json()["pullthrough"]["mirror"], json!(true));

    // 19: a repository middleware with options.
    let origin = load(&files, 19);
    let middleware = &origin.config.middleware.repository[0];
    assert_eq!(middleware.name, "openshift");
    assert_eq!(middleware.options.bool("pullthrough"), Ok(Some(true)));

    // 28: non-string header values become strings, as go-yaml v2 makes them.
    let cors = load(&files, 28);
    let header = |name: &str| {
        cors.config
            .http
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(header("Access-Control-Allow-Credentials"), ["true"]);
    assert_eq!(header("Access-Control-Max-Age"), ["1728000"]);
    assert_eq!(header("Access-Control-Allow-Origin"), ["*"]);
    assert_eq!(
        header("Access-Control-Allow-Methods"),
        ["HEAD", "GET", "OPTIONS", "DELETE"]
    );

    // 16: JSON flow sequences and GitLab-only keys, kept.
    let gitlab = load(&files, 16);
    let endpoint = &gitlab.config.notifications.endpoints[0];
    assert_eq!(endpoint.name, "geo_event");
    assert_eq!(endpoint.timeout, Duration::from_millis(500));
    assert_eq!(endpoint.threshold, 5);
    warning_at(&gitlab, "notifications.endpoints[0].maxretries");
    warning_at(&gitlab, "database");
    let cloudfront = &gitlab.config.middleware.storage[0];
    assert_eq!(cloudfront.name, "cloudfront");
    assert_eq!(
        cloudfront.options.string("duration").as_deref(),
        Some("3000s")
    );
    let yaml = gitlab.config.to_yaml(true);
    assert!(yaml.contains("      maxretries: 5\n"), "{yaml}");
    assert!(yaml.contains("  password: <redacted>\n"), "{yaml}");
    assert!(!yaml.contains("FAKE-db-password"), "{yaml}");

    // 14: `3000ms`, and a `password:` holding only a space.
    let harbor1 = load(&files, 14);
    assert_eq!(
        harbor1.config.notifications.endpoints[0].timeout,
        Duration::from_secs(3)
    );
    assert_eq!(harbor1.config.redis.as_ref().unwrap().password, None);

    // 21: the deprecated top-level `loglevel`.
    let portus = load(&files, 21);
    assert_eq!(portus.config.log.level, LogLevel::Debug);
    assert_eq!(warning_at(&portus, "loglevel").line, 3);

    // 20: token settings left to the environment.
    let portus_dev = load(&files, 20);
    assert!(
        warning_at(&portus_dev, "auth.token")
            .message
            .contains("REGISTRY_AUTH_TOKEN_REALM")
    );
    let with_env = Config::parse(
        &files[&20].1,
        "20",
        vars(&[
            ("REGISTRY_AUTH_TOKEN_REALM", "https://portus/v2/token"),
            ("REGISTRY_AUTH_TOKEN_SERVICE", "registry:5000"),
            ("REGISTRY_AUTH_TOKEN_ISSUER", "portus"),
        ]),
    )
    .unwrap();
    assert!(with_env.warnings.is_empty(), "{:?}", with_env.warnings);

    // 39: a Go-formatted TTL and a single-quoted password with '' escapes.
    let gardener = load(&files, 39);
    let proxy = gardener.config.proxy.as_ref().unwrap();
    assert_eq!(proxy.ttl, Some(Duration::from_secs(336 * 3600)));
    assert_eq!(proxy.password.as_deref(), Some("FAKE'pass'word"));
    assert_eq!(gardener.config.http.drain_timeout, Duration::from_secs(25));

    // 03: Distribution v3 redis keys.
    let cache = load(&files, 3);
    let redis = cache.config.redis.as_ref().unwrap();
    assert_eq!(redis.addrs, ["localhost:6379"]);
    assert_eq!(redis.conn_max_idle_time, Some(Duration::from_secs(300)));
    assert_eq!(redis.pool_size, Some(64));
    assert!(cache.config.notifications.events.include_references);
    assert_eq!(
        cache.config.proxy.as_ref().unwrap().username.as_deref(),
        Some("username")
    );

    // 04: v2 log hooks.
    let hooks = load(&files, 4);
    assert_eq!(
        hooks.config.log.hooks[0].options.smtp.addr,
        "mail.example.com:25"
    );
    assert!(
        secret_paths(&hooks.config).contains(&"log.hooks[0].options.smtp.password".to_string())
    );
}
