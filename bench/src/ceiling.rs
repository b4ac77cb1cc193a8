//! Loopback ceilings: minimal HTTP servers in this process, to show what the client and the machine can do at all.
//!
//! [`serve_file`] sends a blob file with `sendfile(2)`, the cheapest way a
//! server can answer a blob GET; pulling from it with the same client code
//! (GET, stream, hash or discard) gives the pull ceiling the registries are
//! judged against. [`serve_memory`] answers every request with a small body
//! in one write; sending it manifest GETs shows how many requests per second
//! the load generator itself can drive.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::blob::BlobSpec;

/// Starts a thread-per-connection server that answers every request with
/// the file at `path`, sent by `sendfile(2)`. It lives until the process exits.
pub fn serve_file(path: PathBuf) -> Result<SocketAddr> {
    let len = std::fs::metadata(&path)
        .with_context(|| format!("the stored blob {} to send", path.display()))?
        .len();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("ceiling-file".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let path = path.clone();
                std::thread::spawn(move || answer_with_file(conn, &path, len));
            }
        })?;
    Ok(addr)
}

fn answer_with_file(mut conn: TcpStream, path: &PathBuf, len: u64) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        while let Some(end) = header_end(&request) {
            request.drain(..end);
            conn.write_all(head(len).as_bytes())?;
            let file = File::open(path)?;
            let mut offset = 0u64;
            while offset < len {
                let want = (len - offset).min(1 << 30) as usize;
                let sent = rustix::fs::sendfile(&conn, &file, Some(&mut offset), want)?;
                if sent == 0 {
                    return Ok(());
                }
            }
        }
    }
}

/// Bodies up to this size go out in one write with the head.
const SMALL: u64 = 64 * 1024;

/// Starts a server on its own thread and runtime that answers every request
/// with `blob` from memory. It lives until the process exits.
pub fn serve_memory(blob: BlobSpec) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("ceiling-memory".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for the loopback ceiling server");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((conn, _)) = listener.accept().await {
                    tokio::spawn(answer_from_memory(conn, blob.clone()));
                }
            });
        })?;
    Ok(addr)
}

/// Answers each request on a keep-alive connection with the whole blob.
async fn answer_from_memory(
    mut conn: tokio::net::TcpStream,
    blob: BlobSpec,
) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        while let Some(end) = header_end(&request) {
            request.drain(..end);
            if blob.len() <= SMALL {
                // One write, as a server answering a manifest would.
                let mut whole = head(blob.len()).into_bytes();
                whole.extend_from_slice(&blob.to_bytes());
                conn.write_all(&whole).await?;
            } else {
                conn.write_all(head(blob.len()).as_bytes()).await?;
                for chunk in blob.chunks(0, blob.len()) {
                    conn.write_all(&chunk).await?;
                }
            }
        }
    }
}

/// Where the first request head in `buf` ends, if it is complete.
fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn head(len: u64) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
    )
}
