//! A registry's `host:port` as clients name it in image references.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;

use crate::error::Error;

/// The registry as clients address it: `registry.example.com:5000`,
/// `127.0.0.1:5000`, `[::1]:5000`, or a host alone (port 443).
///
/// Parsing is strict because the address ends up in paths, shell scripts,
/// TOML and JSON: only letters, digits, `.`, `-`, `_` in names, a valid IP
/// address, and a numeric port are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct RegistryAddr {
    host: String,
    port: Option<u16>,
}

impl RegistryAddr {
    /// The host without brackets: `registry.example.com`, `::1`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The host is an IP address rather than a name.
    pub fn is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    /// `host:port` as it appears in image references and in the
    /// `certs.d/<host:port>` directories of Docker, containerd and podman.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    /// The host as a file-name part: `berth-<slug>.crt` in the OS stores.
    pub fn host_slug(&self) -> String {
        self.host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl FromStr for RegistryAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Address(s.to_string());
        let s_trim = s.trim();
        let (host, port) = if let Some(rest) = s_trim.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (host.to_string(), port)
        } else {
            match s_trim.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host.to_string(), Some(port)),
                Some(_) => return Err(bad()),
                None => (s_trim.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
            None => None,
        };
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            && !host.starts_with(['.', '-']);
        if !(name_ok || host.parse::<IpAddr>().is_ok()) {
            return Err(bad());
        }
        Ok(RegistryAddr {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for RegistryAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

impl From<RegistryAddr> for String {
    fn from(a: RegistryAddr) -> String {
        a.authority()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> RegistryAddr {
        s.parse().unwrap()
    }

    #[test]
    fn names_ips_and_ports() {
        let a = addr("Registry.Example.com:5000");
        assert_eq!(a.host(), "registry.example.com");
        assert_eq!(a.port(), Some(5000));
        assert_eq!(a.authority(), "registry.example.com:5000");
        assert!(!a.is_ip());

        let a = addr("127.0.0.1:5000");
        assert!(a.is_ip());
        assert_eq!(a.host_slug(), "127.0.0.1");

        let a = addr("[::1]:5000");
        assert_eq!(a.host(), "::1");
        assert_eq!(a.authority(), "[::1]:5000");
        assert_eq!(a.host_slug(), "__1");

        let a = addr("registry");
        assert_eq!(a.port(), None);
        assert_eq!(a.authority(), "registry");
    }

    #[test]
    fn refuses_what_would_escape_a_path_or_a_script() {
        for bad in [
            "",
            ":5000",
            "a/b:5000",
            "../x:5000",
            "host:port",
            "host:0",
            "host:70000",
            "a b:5000",
            "x';rm -rf /;':5000",
            "::1:5000",
            "[::1]5000",
            "[nothost]:5000",
            "-x:5000",
        ] {
            assert!(bad.parse::<RegistryAddr>().is_err(), "{bad:?} accepted");
        }
    }
}
