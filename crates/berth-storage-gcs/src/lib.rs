//! The `gcs` storage driver: Google Cloud Storage, with Distribution's
//! parameters and object layout, so a bucket written by Distribution's gcs
//! driver is served as it is, and back.
//!
//! # Approach
//!
//! A small client of the [JSON API] on `reqwest` (rustls), written here
//! rather than taken from a GCS crate: the driver needs about ten calls and
//! precise control over them (resumable sessions fed a chunk at a time,
//! `compose` with generation preconditions, `STORAGE_EMULATOR_HOST`, our own
//! retry bound and error messages), while the GCS crates bring a generated
//! client and an auth stack of their own into an already large build. The
//! calls: objects get (metadata, and `alt=media` with `Range`), list
//! (`prefix`, `delimiter=/`, every page through `pageToken`), insert
//! (`uploadType=media` and `uploadType=resumable`), compose, rewrite and
//! delete. Signatures (JWT assertions, signed URLs) use `ring`, already in
//! the dependency tree through rustls.
//!
//! - **Emulator**: as Google's client libraries, `STORAGE_EMULATOR_HOST`
//!   (`host:port` or a URL) replaces `https://storage.googleapis.com` and
//!   turns authentication off. [`GcsDriver::open_at`] takes the endpoint
//!   explicitly instead.
//! - **Authentication**: `keyfile` (the path of a service account's JSON
//!   key) or `credentials` (that JSON's fields inline, as Distribution takes
//!   them) → the OAuth2 JWT bearer flow (an RS256 assertion sent to the key's
//!   `token_uri`), token cached until five minutes before it expires. With
//!   neither: Application Default Credentials — the file named by
//!   `GOOGLE_APPLICATION_CREDENTIALS` (service account or gcloud user), else
//!   gcloud's `application_default_credentials.json`, else the GCE metadata
//!   server (`GCE_METADATA_HOST` overrides its address).
//! - **Writers**: up to `chunksize` bytes are buffered; a commit of fewer
//!   bytes is one media upload, more go through a resumable session a chunk
//!   at a time (GCS keeps nothing visible until the session is finished).
//!   Appending to an existing object uploads the new bytes as a temporary
//!   part under `_berth-parts/` at the top of the bucket (outside the root
//!   directory; never listed), composes `[object, part]` onto the object
//!   with an `ifGenerationMatch` precondition, and deletes the part. The
//!   object is complete after every commit, so a later writer — in another
//!   process — appends to it. Cancel abandons the session and deletes the
//!   object, as the filesystem driver does.
//! - **Redirects**: V4 signed URLs (`GOOG4-RSA-SHA256`, 20 minutes) when a
//!   service account key is configured. On an emulator they point at the
//!   emulator, path style (`http://host:port/bucket/object?X-Goog-…`):
//!   gcp-storage-emulator serves those URLs (with `Range`) and checks no
//!   signature, so against it the tests see the URL's form and the bytes;
//!   the signature is checked against Google's documented canonical request
//!   and with the key's public half in the unit tests. Without a key
//!   (emulator without keyfile, metadata server, gcloud user)
//!   [`StorageDriver::redirect_url`] gives `None` and the registry serves
//!   blobs itself.
//! - **Errors**: a missing object is `NotFound`; a 401 says the credentials
//!   were rejected (check `storage.gcs.keyfile`), a 403 that the service
//!   account lacks a role (Storage Object Admin), both quoting GCS; a
//!   missing bucket, an unreachable endpoint, TLS failures and timeouts
//!   (connect 10 s, read 60 s) say so. The HTTP side of these messages is
//!   [`berth_storage::http_error`]'s. Connection failures, timeouts, 408,
//!   429 and 5xx are retried, three attempts at most.
//!
//! # Parameters (`storage.gcs`)
//!
//! | name | meaning |
//! |---|---|
//! | `bucket` | required: the bucket |
//! | `keyfile` | path of a service account's JSON key |
//! | `credentials` | the JSON key's fields inline (`type`, `client_email`, `private_key`, …) |
//! | `rootdirectory` | prefix of every object (`/a/b` + `/x` → object `a/b/x`) |
//! | `chunksize` | bytes per resumable upload request: a multiple of 256 KiB, default 16 MiB (Distribution's) |
//!
//! Distribution's `useragent` and `maxconcurrency` are not used by this
//! driver.
//!
//! # Limits
//!
//! - Objects of Distribution's unfinished upload sessions (content type
//!   `application/x-docker-upload-session`) count as absent, as in
//!   Distribution; such an upload cannot be resumed by Berth (the client
//!   restarts it).
//! - A process killed during an appending commit may leave a part object in
//!   `_berth-parts/`; a bucket lifecycle rule deleting that prefix after a
//!   day cleans them up.
//! - A resumable chunk whose request fails mid-way is resent whole, without
//!   first asking GCS how much it kept (GCS's 308 answers are honoured).
//! - Without a service account key (metadata server, gcloud user) there are
//!   no signed URLs: signing through the IAM `signBlob` API is not done.
//! - Timeouts are not exercised by the tests (a 60 s read timeout times three
//!   attempts is too slow for a test run).
//! - The emulator ignores page sizes and page tokens: pagination is tested
//!   against a small local server instead.
//! - gcp-storage-emulator answers one request at a time (Python's
//!   single-threaded `http.server`) and writes each download in one piece:
//!   a client that stops reading a large download the registry serves
//!   itself (no key, or `storage.redirect.disable`) holds the registry's
//!   read of it, and every other request to the emulator waits — for the
//!   registry, the 60 s read timeout three times, then a 500. Give the
//!   emulator a key (`credentials` or `keyfile`) so blob downloads go to it
//!   directly, and read responses to the end. GCS itself has no such limit.
//!
//! [JSON API]: https://cloud.google.com/storage/docs/json_api

mod api;
mod credentials;
mod driver;
mod endpoint;
mod http;
mod inner;
mod jwt;
mod keys;
mod params;
mod signed_url;
mod signer;
mod token;
mod writer;

use std::sync::Arc;

use berth_config::Parameters;
use berth_storage::OpenError;

pub use endpoint::{EMULATOR_ENV, Endpoint};
pub use params::DEFAULT_CHUNK_SIZE;

use crate::http::Http;
use crate::inner::Inner;
use crate::params::DRIVER;

/// The `gcs` driver.
#[derive(Debug)]
pub struct GcsDriver {
    inner: Arc<Inner>,
}

impl GcsDriver {
    /// Opens the driver from its `storage.gcs` parameters, talking to the
    /// emulator named by `STORAGE_EMULATOR_HOST` when it is set, else to
    /// Google. No network call is made.
    pub async fn open(params: &Parameters) -> Result<GcsDriver, OpenError> {
        GcsDriver::open_at(params, Endpoint::from_env()).await
    }

    /// As [`GcsDriver::open`], with the endpoint given rather than read from
    /// the environment.
    pub async fn open_at(params: &Parameters, endpoint: Endpoint) -> Result<GcsDriver, OpenError> {
        let settings = params::parse(params, &endpoint)?;
        let signer = settings.credentials.service_account().cloned();
        let location = format!("bucket {} at {endpoint}", settings.bucket);
        let http = Http::new(endpoint, settings.bucket, settings.credentials).map_err(|e| {
            OpenError::Io {
                driver: DRIVER.to_string(),
                location,
                source: std::io::Error::other(e),
            }
        })?;
        let inner = Inner::new(http, settings.keys, settings.chunk_size, signer);
        Ok(GcsDriver {
            inner: Arc::new(inner),
        })
    }
}

/// One line for people: `gcs bucket B at https://storage.googleapis.com, root /x`.
pub fn describe(params: &Parameters) -> String {
    let bucket = params
        .string("bucket")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "(no bucket set)".to_string());
    let root = keys::KeyMap::new(&params.string("rootdirectory").unwrap_or_default()).root_path();
    format!(
        "gcs bucket {bucket} at {}, root {root}",
        Endpoint::from_env()
    )
}
