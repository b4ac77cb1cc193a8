//! Webhook notifications end to end: `berthd serve` with
//! `notifications.endpoints`, skopeo pushing and pulling, and a webhook
//! receiver written here (axum on 127.0.0.1) that can be down, answer 500
//! or never answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_e2e::api::{Api, sha256_digest};
use berth_e2e::image::{KIB, LayerSpec, OciLayout, Platform};
use berth_e2e::registry::{Options, Registry, free_port};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use serde_json::Value;

const EVENTS_MEDIA_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const BLOB: &str = "application/octet-stream";
const TOKEN: &str = "notify-test-admin-token";

/// How the receiver answers.
#[derive(Clone, Copy)]
enum Mode {
    Accept = 0,
    Fail = 1,
    Hang = 2,
}

/// One POST the receiver took.
#[derive(Clone, Debug)]
struct Delivery {
    content_type: String,
    authorization: String,
    body: Value,
}

/// A webhook receiver on a fixed 127.0.0.1 port that can go down and come
/// back on the same port.
struct Receiver {
    port: u16,
    mode: Arc<AtomicU8>,
    received: Arc<Mutex<Vec<Delivery>>>,
    runtime: tokio::runtime::Runtime,
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Receiver {
    fn new(mode: Mode) -> Receiver {
        Receiver {
            port: free_port(),
            mode: Arc::new(AtomicU8::new(mode as u8)),
            received: Arc::default(),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            running: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    fn start(&mut self) -> &mut Receiver {
        let (mode, received) = (self.mode.clone(), self.received.clone());
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
                let (mode, received) = (mode.clone(), received.clone());
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    match mode.load(Ordering::SeqCst) {
                        1 => return (http::StatusCode::INTERNAL_SERVER_ERROR, "boom"),
                        2 => std::future::pending::<()>().await,
                        _ => {}
                    }
                    received.lock().unwrap().push(Delivery {
                        content_type: header("content-type"),
                        authorization: header("authorization"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    (http::StatusCode::OK, "thanks")
                }
            }),
        );
        let port = self.port;
        let listener = self.runtime.block_on(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => return l,
                    Err(e) if Instant::now() > deadline => panic!("rebind {port}: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = self.runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        self.running = Some((stop, task));
        self
    }

    /// Stops listening and closes its connections.
    fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
            });
        }
    }

    fn events(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|d| d.body["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the events received, panicking with
    /// what arrived after two minutes.
    fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let events = self.events();
            if done(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got {what}; it got {}:\n{}",
                events.len(),
                serde_json::to_string_pretty(&events).unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One endpoint's YAML under `notifications.endpoints`.
fn endpoint_yaml(name: &str, url: &str, extra: &str) -> String {
    format!(
        "    - name: {name}\n      url: {url}\n      headers:\n        Authorization: [Bearer hook-secret]\n{extra}"
    )
}

/// berthd with these endpoints and its debug listener (admin token set).
fn berthd(endpoints: &[String], root: Option<std::path::PathBuf>) -> (Registry, String) {
    let debug = format!("127.0.0.1:{}", free_port());
    let registry = Registry::berthd(Options {
        root,
        extra_yaml: format!("notifications:\n  endpoints:\n{}", endpoints.concat()),
        env: vec![
            ("REGISTRY_HTTP_DEBUG_ADDR".into(), debug.clone()),
            ("BERTH_ADMIN_TOKEN".into(), TOKEN.into()),
        ],
        ..Options::default()
    });
    (registry, format!("http://{debug}"))
}

/// `GET /berth/v1/notifications` on the debug listener.
fn notification_status(debug: &str) -> Value {
    let response = Api::new(debug)
        .client()
        .get(format!("{debug}/berth/v1/notifications"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().unwrap()
}

/// Waits until the endpoint's status satisfies `done`; returns it.
fn wait_status(debug: &str, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = notification_status(debug);
        let e = endpoint_status(&status, name).clone();
        if done(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "endpoint {name} never got there: {e}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn endpoint_status<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name} in {status}"))
}

/// (action, mediaType, digest, tag, repository) of each event, sorted.
fn keys(events: &[Value]) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut k: Vec<_> = events
        .iter()
        .map(|e| {
            let t = &e["target"];
            (
                s(&e["action"]),
                s(&t["mediaType"]),
                s(&t["digest"]),
                s(&t["tag"]),
                s(&t["repository"]),
            )
        })
        .collect();
    k.sort();
    k
}

struct Pushed {
    expected_push: Vec<(String, String, String, String, String)>,
    expected_pull: Vec<(String, String, String, String, String)>,
    sizes: BTreeMap<String, u64>,
    manifest: String,
}

/// Builds an image of config + two layers in `work` and pushes it with
/// skopeo as `repo:v1`.
fn push_image(
    skopeo: &Skopeo,
    registry: &Registry,
    work: &std::path::Path,
    repo: &str,
    seed: u64,
) -> Pushed {
    let source = OciLayout::create(work.join(format!("source-{seed}")));
    let image = source.add_image(
        "v1",
        Platform::LINUX_AMD64,
        &[
            LayerSpec::new(seed, 32 * KIB),
            LayerSpec::new(seed + 1, 8 * KIB),
        ],
    );
    skopeo.push(
        &source,
        "v1",
        &docker(&registry.host(), &format!("{repo}:v1")),
        &Access::insecure(),
    );
    let mut expected_push = Vec::new();
    let mut expected_pull = Vec::new();
    let mut sizes = BTreeMap::new();
    for blob in image.blobs() {
        for (action, list) in [("push", &mut expected_push), ("pull", &mut expected_pull)] {
            list.push((
                action.into(),
                BLOB.into(),
                blob.digest.clone(),
                String::new(),
                repo.into(),
            ));
        }
        sizes.insert(blob.digest.clone(), blob.size);
    }
    let m = &image.manifest;
    sizes.insert(m.digest.clone(), m.size);
    expected_push.push((
        "push".into(),
        OCI_MANIFEST.into(),
        m.digest.clone(),
        "v1".into(),
        repo.into(),
    ));
    expected_pull.push((
        "pull".into(),
        OCI_MANIFEST.into(),
        m.digest.clone(),
        "v1".into(),
        repo.into(),
    ));
    expected_push.sort();
    expected_pull.sort();
    Pushed {
        expected_push,
        expected_pull,
        sizes,
        manifest: m.digest.clone(),
    }
}

#[test]
fn a_skopeo_push_and_pull_send_exactly_distributions_events() {
    let Some(skopeo) = Skopeo::find() else { return };
    let mut receiver = Receiver::new(Mode::Accept);
    receiver.start();
    let (registry, debug) = berthd(&[endpoint_yaml("hooks", &receiver.url(), "")], None);
    let work = tempfile::tempdir().unwrap();

    let pushed = push_image(&skopeo, &registry, work.path(), "team/app", 10);
    let events = receiver.wait_for("the push's four events", |e| e.len() >= 4);
    std::thread::sleep(Duration::from_millis(500));
    let events_after_push = receiver.events();
    assert_eq!(
        keys(&events_after_push),
        pushed.expected_push,
        "{events:#?}"
    );

    let out = work.path().join("pulled");
    skopeo.pull(
        &docker(&registry.host(), "team/app:v1"),
        &out,
        "v1",
        &Access::insecure(),
        false,
    );
    receiver.wait_for("the pull's four events", |e| e.len() >= 8);
    std::thread::sleep(Duration::from_millis(500));
    let all = receiver.events();
    assert_eq!(keys(&all[4..]), pushed.expected_pull, "{all:#?}");

    // Every field Distribution fills.
    let host = registry.host();
    for event in &all {
        let t = &event["target"];
        let digest = t["digest"].as_str().unwrap();
        assert_eq!(t["size"].as_u64(), Some(pushed.sizes[digest]), "{event}");
        assert_eq!(t["length"], t["size"], "{event}");
        let kind = if t["mediaType"] == BLOB {
            "blobs"
        } else {
            "manifests"
        };
        assert_eq!(
            t["url"],
            format!("http://{host}/v2/team/app/{kind}/{digest}")
        );
        assert!(!event["id"].as_str().unwrap().is_empty());
        assert!(event["timestamp"].as_str().unwrap().contains('T'));
        let r = &event["request"];
        assert!(
            r["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{event}"
        );
        assert_eq!(r["host"], host.as_str());
        assert!(
            r["useragent"].as_str().unwrap().contains("skopeo"),
            "{event}"
        );
        assert!(!r["id"].as_str().unwrap().is_empty());
        let expected_method = if event["action"] == "pull" {
            "GET"
        } else {
            "PUT"
        };
        assert_eq!(r["method"], expected_method, "{event}");
        assert!(!event["source"]["instanceID"].as_str().unwrap().is_empty());
        assert!(
            event["source"]["addr"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{}", registry.addr().port()))
        );
    }
    let ids: std::collections::HashSet<_> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids.len(), all.len(), "event ids repeat");
    for delivery in receiver.deliveries() {
        assert_eq!(delivery.content_type, EVENTS_MEDIA_TYPE);
        assert_eq!(delivery.authorization, "Bearer hook-secret");
        assert_eq!(delivery.body["events"].as_array().unwrap().len(), 1);
    }

    // The debug listener counts them, and a test event reaches the receiver.
    let hooks = wait_status(&debug, "hooks", |e| e["pending"] == 0);
    assert_eq!(hooks["delivered"], 8);
    assert_eq!(hooks["deliveries"][0]["status"], 200);
    let test: Value = Api::new(&debug)
        .client()
        .post(format!("{debug}/berth/v1/notifications/test"))
        .bearer_auth(TOKEN)
        .body(r#"{"endpoint":"hooks"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(test["status"], 200, "{test}");
    assert_eq!(test["body"], "thanks");
    let events = receiver.wait_for("the test event", |e| e.len() >= 9);
    assert_eq!(events[8]["action"], "test");

    // A tag deleted from the app's repository browser is an event too.
    let deleted = Api::new(&debug)
        .client()
        .delete(format!(
            "{debug}/berth/v1/repositories/tag?name=team/app&tag=v1"
        ))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200, "{:?}", deleted.text());
    let events = receiver.wait_for("the delete event", |e| e.len() >= 10);
    assert_eq!(events[9]["action"], "delete", "{:#}", events[9]);
    assert_eq!(events[9]["target"]["repository"], "team/app");
    assert_eq!(events[9]["target"]["tag"], "v1");
    let _ = pushed.manifest;
}

#[test]
fn events_wait_while_the_receiver_is_down_and_all_arrive_when_it_is_back() {
    let Some(skopeo) = Skopeo::find() else { return };
    let mut receiver = Receiver::new(Mode::Accept);
    let (registry, debug) = berthd(
        &[endpoint_yaml(
            "hooks",
            &receiver.url(),
            "      threshold: 2\n      backoff: 300ms\n",
        )],
        None,
    );
    let work = tempfile::tempdir().unwrap();
    let pushed = push_image(&skopeo, &registry, work.path(), "down/app", 20);

    let status = notification_status(&debug);
    let hooks = endpoint_status(&status, "hooks");
    assert_eq!(hooks["pending"], 4, "{hooks}");
    assert_eq!(hooks["delivered"], 0);
    // Wait until the worker has failed and backed off at least once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = notification_status(&debug);
        let hooks = endpoint_status(&status, "hooks");
        if hooks["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["outcome"] == "backingOff")
        {
            assert!(
                hooks["lastError"].as_str().unwrap().contains("connect"),
                "{hooks}"
            );
            assert!(hooks["failed"].as_u64().unwrap() >= 2);
            break;
        }
        assert!(Instant::now() < deadline, "no back-off recorded: {hooks}");
        std::thread::sleep(Duration::from_millis(100));
    }

    receiver.start();
    let events = receiver.wait_for("every queued event", |e| e.len() >= 4);
    let mut unique = keys(&events);
    unique.dedup();
    assert_eq!(unique, pushed.expected_push);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = notification_status(&debug);
        let hooks = endpoint_status(&status, "hooks");
        if hooks["pending"] == 0 {
            assert!(hooks["delivered"].as_u64().unwrap() >= 4, "{hooks}");
            assert_eq!(hooks["deliveries"][0]["outcome"], "delivered");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered events stay pending: {hooks}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_pending_when_berthd_is_killed_are_delivered_after_restart() {
    let Some(skopeo) = Skopeo::find() else { return };
    let mut receiver = Receiver::new(Mode::Accept);
    let (mut registry, _debug) = berthd(
        &[endpoint_yaml(
            "hooks",
            &receiver.url(),
            "      threshold: 1\n      backoff: 10s\n",
        )],
        None,
    );
    let work = tempfile::tempdir().unwrap();
    let pushed = push_image(&skopeo, &registry, work.path(), "crash/app", 30);
    let queue = registry.root().join("_berth/notifications/hooks");
    let queued = std::fs::read_dir(&queue).unwrap().count();
    assert_eq!(
        queued,
        4,
        "the queue at {} holds the push's events",
        queue.display()
    );

    registry.kill(); // SIGKILL
    receiver.start();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        receiver.events().is_empty(),
        "nothing can arrive while berthd is dead"
    );
    registry.restart();
    let events = receiver.wait_for("the events queued before the crash", |e| e.len() >= 4);
    assert_eq!(keys(&events), pushed.expected_push);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&queue).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "delivered events stay queued");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pushes `n` small distinct blobs in one request each (one event each),
/// on `threads` threads; panics unless every push answers 201.
fn push_blobs(registry: &Registry, repo: &str, from: usize, n: usize, threads: usize) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let api = Api::new(registry.url());
            s.spawn(move || {
                for i in (from + t..from + n).step_by(threads) {
                    let body = format!("blob number {i}");
                    let digest = sha256_digest(body.as_bytes());
                    let response = api.push_blob_single_post(repo, &digest, body.as_bytes());
                    assert_eq!(response.status().as_u16(), 201, "push {i}");
                }
            });
        }
    });
}

#[test]
fn endpoints_answering_500_or_never_do_not_hold_up_pushes() {
    let Some(skopeo) = Skopeo::find() else { return };
    let mut failing = Receiver::new(Mode::Fail);
    failing.start();
    let mut hanging = Receiver::new(Mode::Hang);
    hanging.start();
    let (registry, debug) = berthd(
        &[
            endpoint_yaml(
                "failing",
                &failing.url(),
                "      threshold: 3\n      backoff: 200ms\n",
            ),
            endpoint_yaml("hanging", &hanging.url(), "      timeout: 1h\n"),
        ],
        None,
    );
    let work = tempfile::tempdir().unwrap();
    push_image(&skopeo, &registry, work.path(), "slow/app", 40);
    push_image(&skopeo, &registry, work.path(), "slow/app2", 50);
    push_blobs(&registry, "slow/blobs", 0, 50, 2);

    let status = notification_status(&debug);
    for name in ["failing", "hanging"] {
        let e = endpoint_status(&status, name);
        assert_eq!(e["pending"], 58, "{e}");
        assert_eq!(e["delivered"], 0, "{e}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = notification_status(&debug);
        let e = endpoint_status(&status, "failing");
        let log = e["deliveries"].as_array().unwrap();
        if log.iter().any(|d| d["outcome"] == "backingOff") {
            assert_eq!(e["lastStatus"], 500, "{e}");
            assert!(
                log.iter()
                    .all(|d| d["status"] == 500 && d["outcome"] != "delivered")
            );
            assert!(log.iter().any(|d| d["outcome"] == "retrying"));
            assert!(e["lastError"].as_str().unwrap().contains("500"), "{e}");
            break;
        }
        assert!(Instant::now() < deadline, "no back-off recorded: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let test: Value = Api::new(&debug)
        .client()
        .post(format!("{debug}/berth/v1/notifications/test"))
        .bearer_auth(TOKEN)
        .body(r#"{"endpoint":"failing"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(test["status"], 500, "{test}");
    assert_eq!(test["body"], "boom");
    assert_eq!(test["ok"], false);
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[test]
fn ten_thousand_events_for_a_dead_endpoint_keep_memory_bounded() {
    let receiver = Receiver::new(Mode::Accept); // never started: down throughout
    let (registry, debug) = berthd(
        &[endpoint_yaml(
            "dead",
            &receiver.url(),
            "      threshold: 1\n      backoff: 1s\n",
        )],
        None,
    );
    let pid = registry.pid().unwrap();
    push_blobs(&registry, "flood/blobs", 0, 500, 4);
    let warm = vm_rss_kib(pid);
    push_blobs(&registry, "flood/blobs", 500, 9_500, 4);
    let after = vm_rss_kib(pid);
    let status = notification_status(&debug);
    let dead = endpoint_status(&status, "dead");
    assert_eq!(dead["pending"], 10_000, "every event is queued: {dead}");
    assert_eq!(dead["dropped"], 0);
    eprintln!("VmRSS after 500 pushes: {warm} KiB; after 10,000: {after} KiB");
    assert!(
        after < warm + 64 * 1024 && after < 256 * 1024,
        "memory grew from {warm} KiB to {after} KiB over 9,500 queued events"
    );
}
