//! A killed admin leaves no registry behind: the process that runs the admin
//! core (the desktop app, `berthd console`) is SIGKILLed, with no chance to
//! stop its sidecar, and the sidecar berthd still exits, because its stdin
//! pipe closes with the killed process (`berthd serve --exit-with-parent`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_admin::Admin;
use serde_json::json;

/// Marks the child process that plays the admin about to be killed; holds its
/// data directory.
const DOOMED: &str = "BERTH_DOOMED_ADMIN_DIR";
const TEST: &str = "a_killed_admin_leaves_no_registry_behind";
/// How long the orphaned berthd may take to notice and stop.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[tokio::test]
async fn a_killed_admin_leaves_no_registry_behind() {
    if let Some(dir) = std::env::var_os(DOOMED) {
        // The doomed admin: start the registry, say its pid, wait to be killed.
        let dir = PathBuf::from(dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let port = common::free_port();
        std::fs::write(
            data.join("config.yml"),
            common::config_yaml(port, &dir.join("root"), ""),
        )
        .unwrap();
        let admin = Admin::start_with(common::options(&dir), common::tuning())
            .await
            .unwrap_or_else(|e| panic!("admin start: {e}: {}", e.hint));
        let status = admin.call("status", json!({})).await.unwrap();
        assert_eq!(status["state"], "running", "{status:#}");
        println!("BERTHD_PID={}", status["pid"]);
        std::io::stdout().flush().unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        panic!("the doomed admin was not killed");
    }

    let dir = tempfile::Builder::new()
        .prefix("berth-orphan-")
        .tempdir()
        .unwrap();
    let mut doomed = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(DOOMED, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut berthd = None;
    for line in BufReader::new(doomed.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest writes "test NAME ... " before the test's own output, on the same line.
        if let Some((_, pid)) = line.split_once("BERTHD_PID=") {
            berthd = Some(pid.trim().parse::<u32>().expect("a pid"));
            break;
        }
    }
    let Some(berthd) = berthd else {
        let _ = doomed.kill();
        panic!("the admin in the child process never reported its registry running");
    };
    let exe = std::fs::read_link(format!("/proc/{berthd}/exe")).unwrap();
    assert_eq!(exe, common::berthd_bin().canonicalize().unwrap());

    let killed = Command::new("kill")
        .arg("-KILL")
        .arg(doomed.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    doomed.wait().unwrap();

    let started = Instant::now();
    while !gone(berthd) && started.elapsed() < EXIT_LIMIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !gone(berthd) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(berthd.to_string())
            .status();
        panic!("berthd (pid {berthd}) still runs {EXIT_LIMIT:?} after its admin was killed");
    }
    eprintln!(
        "berthd stopped {:?} after its admin was killed",
        started.elapsed()
    );
}
