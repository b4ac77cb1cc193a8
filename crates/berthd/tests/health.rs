//! Health checks (`health.file`, `health.tcp`, `health.http`,
//! `health.storagedriver`) on a running `berthd`: `/debug/health` on the
//! debug listener answers `{}` while all pass and 503 with
//! `{"check":"error"}` otherwise, and while one fails the registry API
//! answers 503 `UNAVAILABLE`, as Distribution does. The peers are real: a
//! file, a TCP listener, and Python's HTTP server.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::peer;
use berth_e2e::registry::{Options, Registry, client, free_port};

struct Health {
    registry: Registry,
    debug: String,
}

impl Health {
    fn start(health_yaml: &str) -> Health {
        let debug = free_port();
        let registry = Registry::berthd(Options {
            extra_yaml: health_yaml.into(),
            env: vec![(
                "REGISTRY_HTTP_DEBUG_ADDR".into(),
                format!("127.0.0.1:{debug}"),
            )],
            ..Options::default()
        });
        Health {
            registry,
            debug: format!("http://127.0.0.1:{debug}"),
        }
    }

    fn health(&self) -> (u16, serde_json::Value) {
        let resp = client()
            .get(format!("{}/debug/health", self.debug))
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.json().unwrap())
    }

    fn api_status(&self) -> (u16, String) {
        let resp = client()
            .get(format!("{}/v2/", self.registry.url()))
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    }

    fn wait_for(&self, what: &str, status: u16) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, body) = self.health();
            if code == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: /debug/health stayed {code} {body}; log:\n{}",
                self.registry.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_file_check_fails_while_the_file_exists_and_drains_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("maintenance");
    let h = Health::start(&format!(
        "health:\n  storagedriver:\n    enabled: true\n    interval: 1s\n  file:\n    - file: {}\n      interval: 1s\n",
        flag.display()
    ));
    assert_eq!(h.health(), (200, serde_json::json!({})));
    assert_eq!(h.api_status().0, 200);

    std::fs::write(&flag, "down for maintenance").unwrap();
    let body = h.wait_for("the file check failing", 503);
    assert_eq!(
        body,
        serde_json::json!({ flag.display().to_string(): "file exists" })
    );
    let (code, answer) = h.api_status();
    assert_eq!(code, 503);
    assert!(answer.contains("\"UNAVAILABLE\""), "{answer}");
    assert!(answer.contains("/debug/health"), "{answer}");

    std::fs::remove_file(&flag).unwrap();
    h.wait_for("the file check passing again", 200);
    assert_eq!(h.api_status().0, 200);
}

#[test]
fn a_tcp_check_fails_when_the_port_closes_after_its_threshold() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = Health::start(&format!(
        "health:\n  tcp:\n    - addr: {addr}\n      timeout: 1s\n      interval: 1s\n      threshold: 2\n"
    ));
    assert_eq!(h.health().0, 200);
    drop(listener);
    let body = h.wait_for("the tcp check failing", 503);
    assert_eq!(
        body,
        serde_json::json!({ addr.clone(): format!("connection to {addr} failed") })
    );
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_http_check_fails_when_the_service_stops_answering_as_expected() {
    let Some(python) = peer::require("python3", "python3") else {
        return;
    };
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("ping"), "pong").unwrap();
    let port = free_port();
    let _server = Served(
        Command::new(python)
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(site.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let uri = format!("http://127.0.0.1:{port}/ping");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client().get(&uri).send().is_err() {
        assert!(
            Instant::now() < deadline,
            "python's http.server never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let h = Health::start(&format!(
        "health:\n  http:\n    - uri: {uri}\n      statuscode: 200\n      timeout: 2s\n      interval: 1s\n"
    ));
    h.wait_for("the http check passing", 200);
    std::fs::remove_file(site.path().join("ping")).unwrap();
    let body = h.wait_for("the http check failing", 503);
    assert_eq!(
        body,
        serde_json::json!({ uri: "downstream service returned unexpected status: 404" })
    );
}

#[test]
fn an_unreachable_store_fails_the_storage_driver_check_and_the_api_answers_503() {
    // An S3 store on a port where nothing listens: the backend does not answer.
    let dead = free_port();
    let (port, debug) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  s3:\n    regionendpoint: http://127.0.0.1:{dead}\n    \
             region: us-east-1\n    bucket: registry\n    accesskey: AKIDEXAMPLE\n    \
             secretkey: not-a-real-secret\n    forcepathstyle: true\n  maintenance:\n    \
             uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  \
             debug:\n    addr: 127.0.0.1:{debug}\nhealth:\n  storagedriver:\n    \
             enabled: true\n    interval: 1s\n    threshold: 2\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("berthd.log")).unwrap();
    let _served = Served(
        Command::new(berth_e2e::registry::berthd_bin())
            .args(["serve", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let said = || std::fs::read_to_string(dir.path().join("berthd.log")).unwrap_or_default();
    let health = || {
        client()
            .get(format!("http://127.0.0.1:{debug}/debug/health"))
            .send()
            .ok()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        if let Some((503, body)) = health() {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the storage driver check never failed; berthd said:\n{}",
            said()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let failing: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        failing["storagedriver_s3"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "named as Distribution names it, with the backend's error: {body}"
    );
    let api = client()
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .unwrap();
    assert_eq!(api.status().as_u16(), 503);
    assert!(api.text().unwrap().contains("UNAVAILABLE"));
}
