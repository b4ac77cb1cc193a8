//! The `swift` storage driver: OpenStack Swift (and Swift-compatible
//! stores such as IBM COS's Swift API), compatible with CNCF Distribution's
//! `swift` driver.
//!
//! # Approach
//!
//! There is no maintained Rust SDK for Swift, so this crate has a small
//! client of its own on `reqwest` (rustls): authentication, the object and
//! container calls the driver needs, bounded retries (at most 3 tries, with
//! backoff, for connection failures, timeouts and 5xx answers), a connect
//! timeout of 10 s and a read timeout of 60 s. A token Swift rejects with
//! 401 (expired) is renewed once, then the request is repeated.
//!
//! # Layout (Distribution's, so existing stores are served as they are)
//!
//! - A path `/x/y` is the object `<prefix>/files/x/y` in the container.
//! - Large objects are Dynamic Large Objects: segments of `chunksize` bytes
//!   under `<prefix>/segments/<3 hex>/<37 hex>/<16-digit number>` and a
//!   manifest (`X-Object-Manifest: <container>/<segments prefix>`) at the
//!   object's key. A writer uploads a segment per full buffer and writes the
//!   manifest on `commit`, then waits (15 s at most) until the manifest's size
//!   shows every segment, since container listings are eventually
//!   consistent. Objects that fit in one buffer are written as plain objects
//!   (one atomic PUT). Appending continues after a manifest's last segment;
//!   a plain object is first copied server-side into segment 1 of a new
//!   manifest. `cancel` deletes the segments the writer uploaded.
//! - `move_object` copies a manifest (not its data) or server-side copies a
//!   plain object, then deletes the source; `delete` removes the object,
//!   everything below `path/` and the segments of the manifests among them,
//!   with the cluster's bulk delete when `/info` advertises it.
//! - The container is created when it does not exist, as Distribution does.
//!
//! # Parameters (`storage.swift`, Distribution's names)
//!
//! `authurl`, `username`, `password`, `container` (required); `authversion`
//! (1 TempAuth, 2 or 3 Keystone; unset or 0: guessed from `authurl` as
//! ncw/swift does: `v3`, else `v2`, else `v1` in the URL); `tenant`,
//! `tenantid`, `domain`, `domainid`, `tenantdomain`, `tenantdomainid`,
//! `trustid`, `region`, `endpointtype` (`public`, `internal`, `admin`;
//! default `public`); `insecureskipverify`; `chunksize` (default 20 MiB,
//! at least 1 MiB, as Distribution); `prefix`; `secretkey`, `accesskey`,
//! `tempurlcontainerkey`, `tempurlmethods`.
//!
//! # Redirects (TempURLs)
//!
//! With `secretkey` set, blob downloads are redirected to TempURLs valid for
//! 20 minutes, signed with HMAC-SHA256 when the cluster's `/info` lists it,
//! else HMAC-SHA1. As in Distribution, `secretkey` is the Temp-URL-Key: when
//! neither the account nor the container already has it, the driver stores
//! it on the container (Swift 2.3 and later, per `/info`) or the account.
//! `tempurlcontainerkey` and `tempurlmethods` stand in for `/info` when the
//! cluster does not answer it. With `accesskey`, signatures take HP Cloud's
//! `tenantid:accesskey:signature` form. Unlike Distribution, no key is
//! generated when `secretkey` is unset: the registry then serves blobs
//! itself.
//!
//! # Limits
//!
//! - Keystone v2.0 and v3 are tested at the request and parse level only
//!   (request bodies, catalog endpoint selection); the integration tests run
//!   against Swift with TempAuth (v1.0).
//! - While an append is in progress, segments it already uploaded are part of
//!   the object being appended to (a DLO lists its segments); the registry
//!   only appends to upload files nobody reads until the upload is done.
//! - `put_content` over a former manifest leaves that manifest's segments
//!   behind (as Distribution does); writers and moves clean up the segments
//!   of manifests they replace.
//! - Application credentials, token (not password) auth and Static Large
//!   Objects are not supported.

mod auth;
mod client;
mod config;
mod driver;
mod error;
mod keys;
mod objects;
mod retry;
mod tempurl;
mod writer;

use std::sync::Arc;

use berth_config::Parameters;
use berth_storage::OpenError;
use reqwest::header::HeaderMap;

use crate::client::Client;
use crate::config::SwiftConfig;
use crate::driver::Inner;
use crate::keys::Keys;
use crate::tempurl::{Digest, Info, Signer, info_url};

/// The driver's name in `config.yml`.
pub const NAME: &str = "swift";

/// The `swift` driver.
#[derive(Debug)]
pub struct SwiftDriver {
    inner: Arc<Inner>,
}

impl SwiftDriver {
    /// Opens the driver from its `storage.swift` parameters: authenticates,
    /// creates the container if it does not exist, reads the cluster's
    /// capabilities and prepares TempURLs when `secretkey` is set.
    pub async fn open(params: &Parameters) -> Result<SwiftDriver, OpenError> {
        let config = SwiftConfig::parse(params)?;
        let location = config.auth_url.clone();
        let keys = Keys::new(&config.prefix);
        let chunk_size = config.chunk_size;
        let client = Client::connect(config)
            .await
            .map_err(|e| e.open(&location))?;
        let container_headers = client
            .ensure_container()
            .await
            .map_err(|e| e.open(&location))?;
        let info = query_info(&client).await;
        let signer = signer(&client, info.as_ref(), &container_headers).await;
        Ok(SwiftDriver::from_inner(Inner {
            client,
            keys,
            chunk_size,
            bulk_delete_max: info.and_then(|i| i.bulk_delete_max),
            signer,
        }))
    }
}

impl SwiftDriver {
    /// Makes the driver's token invalid, as an expired one is: the next
    /// request gets 401 and authenticates again. For tests.
    #[doc(hidden)]
    pub fn expire_token_for_tests(&self) {
        self.inner.client.set_token("AUTH_tk_expired_by_test");
    }
}

/// A one-line description for people: "swift container C at URL (auth v1), prefix /p".
pub fn describe(params: &Parameters) -> String {
    config::describe(params)
}

/// The cluster's `/info`, when it answers.
async fn query_info(client: &Client) -> Option<Info> {
    let url = info_url(&client.session().storage_url)?;
    let response = client.http().get(&url).send().await.ok()?;
    if !response.status().is_success() {
        tracing::debug!(status = %response.status(), "swift: no /info");
        return None;
    }
    let doc: serde_json::Value = response.json().await.ok()?;
    Some(Info::parse(&doc))
}

fn meta<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// TempURL signing, when `secretkey` is set and the cluster allows GET
/// TempURLs; makes sure Swift knows the key.
async fn signer(client: &Client, info: Option<&Info>, container: &HeaderMap) -> Option<Signer> {
    let config = client.config();
    let key = config.secret_key.clone()?;
    let (methods, container_keys, digest) = match info {
        Some(i) => (&i.tempurl_methods, i.container_keys(), i.digest()),
        None => (
            &config.temp_url_methods,
            config.temp_url_container_key,
            Digest::Sha1,
        ),
    };
    if !methods.iter().any(|m| m == "GET") {
        tracing::warn!(
            "storage.swift.secretkey is set but the cluster does not allow GET TempURLs (no tempurl middleware, or storage.swift.tempurlmethods lacks GET): the registry serves blobs itself"
        );
        return None;
    }
    let account = client.head_account().await.unwrap_or_default();
    let known = [
        meta(container, "X-Container-Meta-Temp-Url-Key"),
        meta(container, "X-Container-Meta-Temp-Url-Key-2"),
        meta(&account, "X-Account-Meta-Temp-Url-Key"),
        meta(&account, "X-Account-Meta-Temp-Url-Key-2"),
    ]
    .contains(&Some(key.as_str()));
    if !known {
        let header = if container_keys {
            "X-Container-Meta-Temp-URL-Key"
        } else {
            "X-Account-Meta-Temp-URL-Key"
        };
        if let Err(e) = client.post_metadata(container_keys, header, &key).await {
            tracing::warn!(
                error = %e,
                "cannot store storage.swift.secretkey as the Temp-URL-Key ({header}): redirect URLs will fail unless an admin sets it"
            );
        }
    }
    Some(Signer {
        key,
        digest,
        access_key: config.access_key.clone(),
    })
}
