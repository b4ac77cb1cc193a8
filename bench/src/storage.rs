//! Where both registries keep their blobs: fresh filesystem roots, or fresh
//! prefixes in one bucket of the S3 server `scripts/storage-servers.sh` runs.
//!
//! On S3 the benchmark also cleans up after itself between phases: it deletes
//! the large blobs a phase stored and, on Ceph, runs RGW's garbage collector,
//! so a 1 GiB run fits a memory-backed test server.

use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use berth_e2e::backends::Backend;
use berth_e2e::registry::Options;
use reqwest::{StatusCode, Url};

use crate::sigv4::{self, Credentials};

/// The storage both registries run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Each registry on its own temporary directory.
    Filesystem,
    /// Each registry under its own prefix of the S3 test bucket.
    S3,
}

impl Storage {
    /// Parses the `--storage` value.
    pub fn parse(name: &str) -> Result<Storage> {
        match name {
            "filesystem" => Ok(Storage::Filesystem),
            "s3" => Ok(Storage::S3),
            other => bail!("unknown storage {other:?}: use filesystem or s3"),
        }
    }
}

/// How both registries are configured for one run.
#[derive(Clone, Debug)]
pub struct StorageSetup {
    /// Which storage.
    pub storage: Storage,
    /// Whether blob GETs may redirect to the storage (`storage.redirect.disable: false`).
    pub redirect: bool,
    /// The S3 driver's `chunksize` (multipart part size), in bytes.
    pub part_size: u64,
}

/// One registry's place in the S3 bucket, for cleaning up after a phase.
pub struct S3Place {
    http: reqwest::Client,
    endpoint: Url,
    bucket: String,
    creds: Credentials,
    /// The driver's `rootdirectory`, without the leading `/`.
    prefix: String,
}

impl StorageSetup {
    /// Options for one registry: `base` with this storage. Call once per
    /// registry: each gets its own root (directory or bucket prefix).
    pub fn options(&self, base: &Options) -> Result<(Options, Option<S3Place>)> {
        let mut options = base.clone();
        if !self.redirect {
            options.storage_yaml += "redirect:\n  disable: true\n";
        }
        if self.storage == Storage::Filesystem {
            return Ok((options, None));
        }
        let backend = Backend::S3.config().ok_or_else(|| {
            anyhow!(
                "--storage s3 needs an S3 server and BERTH_TEST_S3_ENDPOINT is unset: run \
                 `bench/run --storage s3` (it starts Ceph), or `source scripts/storage-servers.sh ceph` first"
            )
        })?;
        let prefix = backend
            .driver_yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("rootdirectory:"))
            .map(|r| r.trim().trim_start_matches('/').to_owned())
            .ok_or_else(|| anyhow!("the S3 test config has no rootdirectory"))?;
        options.driver_yaml = Some(format!(
            "{}  chunksize: {}\n",
            backend.driver_yaml, self.part_size
        ));
        options.env.extend(backend.env);
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let endpoint = Url::parse(&var("BERTH_TEST_S3_ENDPOINT"))
            .context("BERTH_TEST_S3_ENDPOINT is not a URL")?;
        let place = S3Place {
            http: reqwest::Client::builder().http1_only().build()?,
            endpoint,
            bucket: std::env::var("BERTH_TEST_S3_BUCKET").unwrap_or_else(|_| "berth-test".into()),
            creds: Credentials {
                access_key: var("BERTH_TEST_S3_ACCESS_KEY"),
                secret_key: var("BERTH_TEST_S3_SECRET_KEY"),
                region: std::env::var("BERTH_TEST_S3_REGION")
                    .unwrap_or_else(|_| "us-east-1".into()),
            },
            prefix,
        };
        Ok((options, Some(place)))
    }

    /// One line for the report header.
    pub fn describe(&self) -> String {
        let redirect = if self.redirect {
            "redirects on: blob GETs may answer 307 to a presigned storage URL, which the client follows"
        } else {
            "redirects off (storage.redirect.disable: true): the registry streams every blob itself"
        };
        match self.storage {
            Storage::Filesystem => format!(
                "filesystem (a fresh directory per registry){}",
                if self.redirect {
                    ""
                } else {
                    "; storage.redirect.disable: true"
                }
            ),
            Storage::S3 => format!(
                "S3: {} at {}, bucket {}, a fresh rootdirectory per registry, chunksize {} MiB \
                 (multipart part size); {redirect}",
                s3_server_name(),
                std::env::var("BERTH_TEST_S3_ENDPOINT").unwrap_or_default(),
                std::env::var("BERTH_TEST_S3_BUCKET").unwrap_or_default(),
                self.part_size >> 20,
            ),
        }
    }
}

impl S3Place {
    /// The registry's `rootdirectory` in the bucket.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of a blob's data in Distribution's layout.
    fn blob_key(&self, digest: &str) -> String {
        let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        format!(
            "{}/docker/registry/v2/blobs/{algorithm}/{}/{hex}/data",
            self.prefix,
            &hex[..2.min(hex.len())]
        )
    }

    /// Deletes the stored data of `digests` (a missing one is fine).
    pub async fn delete_blobs(&self, digests: &[String]) -> Result<()> {
        for digest in digests {
            let key = sigv4::uri_encode(&self.blob_key(digest), false);
            let url = self.endpoint.join(&format!("/{}/{key}", self.bucket))?;
            let mut req = self.http.delete(url.clone());
            for (name, value) in sigv4::sign(&self.creds, "DELETE", &url, SystemTime::now()) {
                req = req.header(name, value);
            }
            let resp = req.send().await?;
            if !(resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND) {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                bail!(
                    "S3 DELETE {url}: {status}: {}; check BERTH_TEST_S3_ACCESS_KEY and \
                     BERTH_TEST_S3_SECRET_KEY",
                    body.chars().take(300).collect::<String>()
                );
            }
        }
        Ok(())
    }
}

/// The Ceph config of the servers `scripts/storage-servers.sh` started, if
/// they are Ceph.
fn ceph_conf() -> Option<PathBuf> {
    let dir = std::env::var_os("BERTH_STORAGE_SERVERS_DIR")?;
    let conf = PathBuf::from(dir).join("ceph/ceph.conf");
    conf.is_file().then_some(conf)
}

/// On Ceph, frees the space of deleted objects now: RGW only queues them
/// for its garbage collector, which otherwise waits two hours.
pub async fn collect_garbage() -> Result<()> {
    let Some(conf) = ceph_conf() else {
        return Ok(());
    };
    let out = tokio::task::spawn_blocking(move || {
        Command::new("radosgw-admin")
            .arg("-c")
            .arg(&conf)
            .args(["gc", "process", "--include-all"])
            .output()
    })
    .await?
    .context("run radosgw-admin gc process (package radosgw)")?;
    if !out.status.success() {
        bail!(
            "radosgw-admin gc process failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Process ids of the storage servers (Ceph's OSD, monitor and RGW), whose
/// CPU the report shows apart from the registry's.
pub fn server_pids(storage: Storage) -> Vec<u32> {
    let Some(dir) =
        std::env::var_os("BERTH_STORAGE_SERVERS_DIR").filter(|_| storage == Storage::S3)
    else {
        return Vec::new();
    };
    ["radosgw", "ceph-osd", "ceph-mon"]
        .iter()
        .filter_map(|name| {
            let pid =
                std::fs::read_to_string(PathBuf::from(&dir).join(format!("{name}.pid"))).ok()?;
            pid.trim().parse().ok()
        })
        .filter(|pid: &u32| PathBuf::from(format!("/proc/{pid}")).exists())
        .collect()
}

/// "Ceph RADOS Gateway 16.2.15" when the server is Ceph, else "an S3 server".
fn s3_server_name() -> String {
    if ceph_conf().is_none() {
        return "an S3 server".into();
    }
    Command::new("radosgw")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(2).map(str::to_owned))
        .map_or("Ceph RADOS Gateway".into(), |v| {
            format!("Ceph RADOS Gateway {v} (memstore OSD)")
        })
}
