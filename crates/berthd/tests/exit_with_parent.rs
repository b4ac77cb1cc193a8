//! `berthd serve --exit-with-parent`: the registry stops when its standard
//! input reaches end of file, which is how a parent that runs it with a pipe
//! (the desktop app, `berthd console`) keeps it from outliving itself, even
//! when the parent is killed outright.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long berthd may take to stop once asked.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

use berth_e2e::registry::free_port;

fn config(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("config.yml");
    std::fs::write(
        &path,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    path
}

/// `berthd serve --config <config> [--exit-with-parent]` with `stdin`.
fn serve(config: &Path, exit_with_parent: bool, stdin: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berthd"));
    cmd.arg("serve").arg("--config").arg(config);
    if exit_with_parent {
        cmd.arg("--exit-with-parent");
    }
    cmd.env_remove("BERTH_CONFIG")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run berthd")
}

/// Waits until berthd says it serves and its port answers.
fn wait_serving(child: &mut Child, port: u16) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving http://"), "berthd said {line:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The exit status once `child` exits, or `None` after `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
    }
    text
}

fn kill(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

#[test]
fn closing_the_pipe_stops_berthd_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(&config(dir.path(), port), true, Stdio::piped());
    wait_serving(&mut child, port);
    // Still serving while the pipe is open, even with data written to it.
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"anything\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "berthd stopped early");

    let closed = Instant::now();
    drop(child.stdin.take());
    let status = exit_within(&mut child, EXIT_LIMIT);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("berthd still runs {EXIT_LIMIT:?} after its stdin closed");
    };
    let stderr = stderr_of(&mut child);
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("standard input closed"), "{stderr}");
    assert!(stderr.contains("berthd stopped"), "{stderr}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is free again"
    );
    eprintln!(
        "berthd stopped {:?} after its stdin closed",
        closed.elapsed()
    );
}

#[test]
fn a_killed_parent_stops_berthd() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // `sleep 600 | berthd serve --exit-with-parent`: sleep holds the pipe's
    // only write end, as the app does; this test keeps no copy of it.
    let mut parent = Command::new("sleep")
        .arg("600")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = parent.stdout.take().unwrap();
    let mut child = serve(&config(dir.path(), port), true, Stdio::from(pipe));
    wait_serving(&mut child, port);

    kill("KILL", parent.id());
    let _ = parent.wait();
    let status = exit_within(&mut child, EXIT_LIMIT);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("berthd still runs {EXIT_LIMIT:?} after its parent was killed");
    };
    assert!(status.success(), "{status}: {}", stderr_of(&mut child));
}

#[test]
fn sigterm_still_stops_berthd_while_it_watches_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(&config(dir.path(), port), true, Stdio::piped());
    wait_serving(&mut child, port);
    // The pipe stays open: the blocked read on stdin must not hold up the stop.
    kill("TERM", child.id());
    let status = exit_within(&mut child, EXIT_LIMIT);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("berthd still runs {EXIT_LIMIT:?} after SIGTERM");
    };
    assert!(status.success(), "{status}: {}", stderr_of(&mut child));
}

#[test]
fn without_the_flag_stdin_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Started from a script with stdin at end of file, berthd keeps serving.
    let mut child = serve(&config(dir.path(), port), false, Stdio::null());
    wait_serving(&mut child, port);
    std::thread::sleep(Duration::from_millis(500));
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(running, "berthd stopped although stdin does not concern it");
}

#[test]
fn the_flag_is_documented() {
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--exit-with-parent"), "{help}");
}
