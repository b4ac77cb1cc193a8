//! `berthd serve` with `http.debug.addr`: a second listener whose admin API
//! (`/berth/v1/`) answers only with the token of `BERTH_ADMIN_TOKEN`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use berth_e2e::registry::free_port;

/// Sends a GET with `headers` and returns the status code and body.
fn get(port: u16, path: &str, headers: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path, token: Option<&str>) -> (Served, u16, u16) {
    let (port, debug) = (free_port(), free_port());
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_berthd"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("REGISTRY_HTTP_DEBUG_ADDR", format!("127.0.0.1:{debug}"))
        .env_remove("BERTH_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(t) = token {
        command.env("BERTH_ADMIN_TOKEN", t);
    }
    let mut child = command.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("serving") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("berthd stopped before serving; it said {said:?}");
        }
        said.push_str(&line);
    }
    assert!(
        said.contains(&format!("debug listener on http://127.0.0.1:{debug}/")),
        "{said}"
    );
    (Served(child), port, debug)
}

#[test]
fn the_admin_api_answers_only_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, port, debug) = serve(dir.path(), Some("s3cret-token"));
    let (status, body) = get(
        debug,
        "/berth/v1/ping",
        "Authorization: Bearer s3cret-token\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(env!("CARGO_PKG_VERSION")), "{body}");
    let (status, body) = get(debug, "/berth/v1/ping", "Authorization: Bearer wrong\r\n");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("BERTH_ADMIN_TOKEN"), "{body}");
    // The registry's own port does not serve the admin API.
    let (status, _) = get(
        port,
        "/berth/v1/ping",
        "Authorization: Bearer s3cret-token\r\n",
    );
    assert_eq!(status, 404);
}

#[test]
fn without_a_token_the_admin_api_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, _, debug) = serve(dir.path(), None);
    let (status, body) = get(debug, "/berth/v1/ping", "Authorization: Bearer \r\n");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("the admin API is off"), "{body}");
}
