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
//! else HMAC-SHA1. As in Distribution, `secretkey` is the Temp-URL-Key.
//! Where Swift looks for it, and what the driver does at start:
//!
//! - The key is known when one of the container's
//!   `X-Container-Meta-Temp-URL-Key` and `…-Key-2` or the account's
//!   `X-Account-Meta-Temp-URL-Key` and `…-Key-2` holds it (an admin set it
//!   with `swift post -m Temp-URL-Key:…`, or an earlier start stored it).
//! - Otherwise the driver stores it in the first *empty* one of the
//!   container's two keys (Swift 2.3 and later, per `/info`), or of the
//!   account's two on older clusters. It never replaces a key that is
//!   there: an admin's, another registry's, or one Distribution set (unlike
//!   Distribution's driver, which replaces a key that differs from its
//!   `secretkey`). Both keys taken by others, or a user who may not write
//!   metadata (only the account's owner may: TempAuth `.admin`, Keystone's
//!   operator role), leaves everything as it is, with a warning.
//! - Then, whatever was found or stored, the driver asks Swift itself: a
//!   HEAD through a TempURL for an object that does not exist answers 404
//!   when Swift accepts the signature and 401 when it does not. On 401 the
//!   registry serves blobs itself, with a warning that says which key to
//!   set, rather than redirecting clients to URLs that fail.
//!
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
use std::time::SystemTime;

use berth_config::Parameters;
use berth_storage::OpenError;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::client::Client;
use crate::config::SwiftConfig;
use crate::driver::Inner;
use crate::keys::Keys;
use crate::tempurl::{Digest, Info, Signer, VALIDITY, info_url};

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
        let signer = signer(&client, &keys, info.as_ref(), &container_headers).await;
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

/// The container's Temp-URL-Key headers, in the order empty ones are filled.
const CONTAINER_KEYS: [&str; 2] = [
    "X-Container-Meta-Temp-URL-Key",
    "X-Container-Meta-Temp-URL-Key-2",
];
/// The account's Temp-URL-Key headers, in the order empty ones are filled.
const ACCOUNT_KEYS: [&str; 2] = [
    "X-Account-Meta-Temp-URL-Key",
    "X-Account-Meta-Temp-URL-Key-2",
];

/// The object a TempURL is signed for to learn whether Swift accepts the
/// key; it is never written.
const TEMPURL_CHECK: &str = "/.berth-tempurl-check";

/// What to do about the Temp-URL-Key at start.
#[derive(Debug, PartialEq, Eq)]
enum KeyPlan {
    /// Swift already has it.
    Known,
    /// Store it in this empty header (on the container, or the account).
    Store {
        on_container: bool,
        header: &'static str,
    },
    /// Both headers hold other keys: leave them.
    Full { on_container: bool },
    /// The account's keys could not be read: leave them.
    Unknown,
}

/// Where the key is, or where it may go without replacing another key.
/// `account` is `None` when the account's metadata could not be read.
fn plan_key(
    key: &str,
    container: &HeaderMap,
    account: Option<&HeaderMap>,
    container_keys: bool,
) -> KeyPlan {
    let known_in =
        |headers: &HeaderMap, names: &[&str]| names.iter().any(|n| meta(headers, n) == Some(key));
    if known_in(container, &CONTAINER_KEYS) || account.is_some_and(|a| known_in(a, &ACCOUNT_KEYS)) {
        return KeyPlan::Known;
    }
    let (on_container, headers, names) = if container_keys {
        (true, container, &CONTAINER_KEYS)
    } else {
        match account {
            Some(a) => (false, a, &ACCOUNT_KEYS),
            None => return KeyPlan::Unknown,
        }
    };
    match names
        .iter()
        .find(|n| meta(headers, n).is_none_or(str::is_empty))
    {
        Some(header) => KeyPlan::Store {
            on_container,
            header,
        },
        None => KeyPlan::Full { on_container },
    }
}

/// TempURL signing, when `secretkey` is set, the cluster allows GET
/// TempURLs and Swift accepts the key (stored first where an empty key
/// header allows; see the crate docs).
async fn signer(
    client: &Client,
    keys: &Keys,
    info: Option<&Info>,
    container: &HeaderMap,
) -> Option<Signer> {
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
    let account = match client.head_account().await {
        Ok(headers) => Some(headers),
        Err(e) => {
            tracing::debug!(error = %e, "swift: cannot read the account's Temp-URL keys");
            None
        }
    };
    let plan = plan_key(&key, container, account.as_ref(), container_keys);
    let stored = match &plan {
        KeyPlan::Store {
            on_container,
            header,
        } => match client.post_metadata(*on_container, header, &key).await {
            Ok(()) => {
                tracing::info!("swift: stored storage.swift.secretkey as {header}");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "swift: cannot store storage.swift.secretkey as {header}");
                false
            }
        },
        KeyPlan::Full { on_container } => {
            let whose = if *on_container {
                "container"
            } else {
                "account"
            };
            tracing::warn!(
                "swift: both Temp-URL keys of the {whose} hold other keys; they are left as they are (an admin's or another registry's)"
            );
            false
        }
        KeyPlan::Known | KeyPlan::Unknown => false,
    };
    let signer = Signer {
        key,
        digest,
        access_key: config.access_key.clone(),
    };
    // A key stored a moment ago may take a moment to be seen everywhere.
    let tries = if stored { 3 } else { 1 };
    for attempt in 1..=tries {
        match tempurls_accepted(client, keys, &signer).await {
            Some(false) if attempt < tries => {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Some(false) => {
                tracing::warn!(
                    "swift: Swift refuses TempURLs signed with storage.swift.secretkey (401): set it as the container's or the account's Temp-URL-Key (swift post -m Temp-URL-Key:<secretkey>), or as an account owner let the registry store it; until then the registry serves blobs itself"
                );
                return None;
            }
            Some(true) => break,
            None => {
                tracing::warn!(
                    "swift: cannot tell whether Swift accepts TempURLs signed with storage.swift.secretkey; redirecting anyway"
                );
                break;
            }
        }
    }
    Some(signer)
}

/// Whether Swift accepts the signer's TempURLs: a HEAD through a TempURL
/// for an object that does not exist answers 404 when the signature is
/// good and 401 when it is not. `None` when the answer says neither.
async fn tempurls_accepted(client: &Client, keys: &Keys, signer: &Signer) -> Option<bool> {
    let session = client.session();
    let url = signer.url(
        &session.storage_url,
        &client.config().container,
        &keys.object(TEMPURL_CHECK),
        session.tenant_id.as_deref(),
        SystemTime::now() + VALIDITY,
    );
    let response = match client.http().head(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "swift: TempURL check failed");
            return None;
        }
    };
    match response.status() {
        StatusCode::UNAUTHORIZED => Some(false),
        s if s.is_success() || s == StatusCode::NOT_FOUND => Some(true),
        s => {
            tracing::debug!(status = %s, "swift: TempURL check answered");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_known_key_is_left_alone() {
        let none = HeaderMap::new();
        let c = headers(&[("X-Container-Meta-Temp-Url-Key-2", "k")]);
        assert_eq!(plan_key("k", &c, None, true), KeyPlan::Known);
        let a = headers(&[("X-Account-Meta-Temp-Url-Key", "k")]);
        assert_eq!(plan_key("k", &none, Some(&a), true), KeyPlan::Known);
    }

    #[test]
    fn a_new_key_goes_into_the_first_empty_slot_never_over_another() {
        let none = HeaderMap::new();
        assert_eq!(
            plan_key("k", &none, Some(&none), true),
            KeyPlan::Store {
                on_container: true,
                header: "X-Container-Meta-Temp-URL-Key"
            }
        );
        let admin = headers(&[("X-Container-Meta-Temp-Url-Key", "admins")]);
        assert_eq!(
            plan_key("k", &admin, None, true),
            KeyPlan::Store {
                on_container: true,
                header: "X-Container-Meta-Temp-URL-Key-2"
            }
        );
        let full = headers(&[
            ("X-Container-Meta-Temp-Url-Key", "a"),
            ("X-Container-Meta-Temp-Url-Key-2", "b"),
        ]);
        assert_eq!(
            plan_key("k", &full, Some(&none), true),
            KeyPlan::Full { on_container: true }
        );
    }

    #[test]
    fn old_clusters_use_the_accounts_slots_when_they_can_be_read() {
        let none = HeaderMap::new();
        let a = headers(&[("X-Account-Meta-Temp-Url-Key", "admins")]);
        assert_eq!(
            plan_key("k", &none, Some(&a), false),
            KeyPlan::Store {
                on_container: false,
                header: "X-Account-Meta-Temp-URL-Key-2"
            }
        );
        assert_eq!(plan_key("k", &none, None, false), KeyPlan::Unknown);
    }
}
