//! Stopping `berthd serve` with a request in flight: it waits for
//! `http.draintimeout`, says so, and stops; a store that hangs or a client
//! that stalls never keeps it running.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::registry::free_port;

/// Sends `head` on a new connection and reads the answer's head.
fn request(port: u16, head: &str) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        answer.push_str(&line);
    }
    answer
}

#[test]
fn sigterm_waits_for_the_drain_timeout_then_stops() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  draintimeout: 1s\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving"), "{line}");

    // An upload whose chunk never finishes arriving.
    let started = request(
        port,
        "POST /v2/drain/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    let location = started
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or(l.strip_prefix("location: "))
        })
        .unwrap_or_else(|| panic!("no Location in {started}"))
        .trim()
        .to_string();
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stalled,
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 1000000\r\n\r\n"
    )
    .unwrap();
    stalled.write_all(&[7u8; 1000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let asked = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "berthd still running 20 s after SIGTERM with draintimeout 1s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let waited = asked.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("still in flight") && stderr.contains("http.draintimeout"),
        "the log says why it stopped with a request running: {stderr}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "it waited for the request first ({waited:?})"
    );
    drop(stalled);
}
