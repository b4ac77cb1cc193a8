//! Where the sidecar listens and how to tell it is healthy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use berth_config::Config;

/// The registry's address as a client reaches it from this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Where berthd listens, as `http.addr` says (`:5000` written `0.0.0.0:5000`).
    pub listen: String,
    /// The base URL of the API on this machine, e.g. `https://127.0.0.1:5000/v2/`.
    pub url: String,
    /// `host:port` to connect to from this machine (a wildcard as loopback).
    pub connect: String,
}

impl Endpoint {
    /// The endpoint `config` describes.
    pub fn of(config: &Config) -> Endpoint {
        let addr = if config.http.addr.is_empty() {
            ":5000"
        } else {
            config.http.addr.as_str()
        };
        let listen = if addr.starts_with(':') {
            format!("0.0.0.0{addr}")
        } else {
            addr.to_string()
        };
        let connect = connect_addr(&listen).unwrap_or_else(|| listen.clone());
        let scheme = if config.http.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let prefix = config.http.prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        };
        Endpoint {
            listen,
            url: format!("{scheme}://{connect}{prefix}/v2/"),
            connect,
        }
    }
}

/// The address to connect to for a listen address: a wildcard becomes loopback.
pub(crate) fn connect_addr(listen: &str) -> Option<String> {
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => listen.to_socket_addrs().ok()?.next()?,
    };
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(SocketAddr::new(ip, addr.port()).to_string())
}

/// A client for health checks: short time limits, and the registry's own
/// (often self-signed) certificate accepted, since only liveness is asked.
pub fn health_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Whether `GET url` answers 200 or 401 (a registry with auth is healthy too).
pub async fn healthy(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(r) => matches!(r.status().as_u16(), 200 | 401),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(yaml_http: &str) -> Endpoint {
        let yaml = format!("version: 0.1\nstorage: inmemory\nhttp:\n{yaml_http}");
        Endpoint::of(&Config::parse(&yaml, "c", []).unwrap().config)
    }

    #[test]
    fn wildcards_are_reached_on_loopback() {
        let e = endpoint("  addr: :5000\n");
        assert_eq!(e.listen, "0.0.0.0:5000");
        assert_eq!(e.url, "http://127.0.0.1:5000/v2/");
        let e = endpoint("  addr: \"[::]:5001\"\n  prefix: /reg/\n");
        assert_eq!(e.url, "http://[::1]:5001/reg/v2/");
        let e = endpoint("  addr: 127.0.0.1:5002\n");
        assert_eq!(e.url, "http://127.0.0.1:5002/v2/");
    }
}
