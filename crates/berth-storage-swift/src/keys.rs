//! Where driver paths live in the container: Distribution's layout.
//!
//! Objects are stored under `<prefix>/files<path>` and the segments of large
//! objects under `<prefix>/segments/<3 hex>/<37 hex>/<16-digit number>`, with
//! a Dynamic Large Object manifest (`X-Object-Manifest:
//! <container>/<segments prefix>`) at the object's own key.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rand::RngCore;
use sha1::{Digest, Sha1};

/// Characters escaped in URL paths: everything but unreserved ones and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Maps driver paths to object keys under a prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (no leading or trailing slash; may be empty).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    /// The object key of a driver path (Distribution's `swiftPath`):
    /// `/x/y` → `<prefix>/files/x/y`; `/` → `<prefix>/files`.
    pub fn object(&self, path: &str) -> String {
        join(
            &self.prefix,
            &format!("files{}", path.trim_end_matches('/')),
        )
    }

    /// The driver path of a listed key or pseudo-directory (`…/`).
    pub fn path_of(&self, key: &str) -> String {
        let root = self.object("/");
        let rest = key.trim_end_matches('/');
        match rest.strip_prefix(&root) {
            Some("") => "/".to_string(),
            Some(p) => p.to_string(),
            None => format!("/{rest}"),
        }
    }

    /// A fresh, random segments prefix for a writer of `path`, as
    /// Distribution makes them (SHA-1 of the path and 32 random bytes).
    pub fn new_segments(&self, path: &str) -> String {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let mut hash = Sha1::new();
        hash.update(path.as_bytes());
        hash.update(random);
        let hex = hex::encode(hash.finalize());
        join(
            &self.prefix,
            &format!("segments/{}/{}", &hex[..3], &hex[3..]),
        )
    }
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// The key of segment `number` below a segments prefix.
pub fn segment_key(segments: &str, number: u64) -> String {
    format!("{segments}/{number:016}")
}

/// The number of a segment key below `segments`, if it is one.
pub fn segment_number(segments: &str, key: &str) -> Option<u64> {
    key.strip_prefix(segments)?
        .strip_prefix('/')?
        .parse::<u64>()
        .ok()
}

/// A key or container name escaped for a URL path.
pub fn encode(key: &str) -> String {
    utf8_percent_encode(key, PATH).to_string()
}

/// The `X-Object-Manifest` value pointing at `segments` in `container`.
pub fn manifest_value(container: &str, segments: &str) -> String {
    format!("{}/{}", encode(container), encode(segments))
}

/// The segments prefix an `X-Object-Manifest` value names (its container
/// part is ignored: Distribution keeps segments in the same container).
pub fn manifest_segments(value: &str) -> String {
    let prefix = value.split_once('/').map(|(_, p)| p).unwrap_or_default();
    percent_decode_str(prefix).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_distribution() {
        let k = Keys::new("");
        assert_eq!(
            k.object("/docker/registry/v2/x"),
            "files/docker/registry/v2/x"
        );
        assert_eq!(k.object("/"), "files");
        let k = Keys::new("/reg/a/");
        assert_eq!(k.object("/x/y"), "reg/a/files/x/y");
        assert_eq!(k.object("/"), "reg/a/files");
        assert_eq!(k.path_of("reg/a/files/x/y"), "/x/y");
        assert_eq!(k.path_of("reg/a/files/x/"), "/x");
        assert_eq!(k.path_of("reg/a/files"), "/");
    }

    #[test]
    fn segments_are_random_and_numbered() {
        let k = Keys::new("reg");
        let a = k.new_segments("/x");
        let b = k.new_segments("/x");
        assert_ne!(a, b);
        assert!(a.starts_with("reg/segments/"));
        let parts: Vec<&str> = a.split('/').collect();
        assert_eq!((parts[2].len(), parts[3].len()), (3, 37));
        let s = segment_key(&a, 7);
        assert!(s.ends_with("/0000000000000007"));
        assert_eq!(segment_number(&a, &s), Some(7));
        assert_eq!(segment_number(&a, "other/0000000000000007"), None);
    }

    #[test]
    fn encoding_and_manifests() {
        assert_eq!(encode("files/a b/ü+%"), "files/a%20b/%C3%BC%2B%25");
        assert_eq!(encode("tag.v1_2-3~"), "tag.v1_2-3~");
        let v = manifest_value("my container", "reg/segments/abc/def");
        assert_eq!(v, "my%20container/reg/segments/abc/def");
        assert_eq!(manifest_segments(&v), "reg/segments/abc/def");
        // As Distribution writes it: unescaped.
        assert_eq!(manifest_segments("c/segments/abc/d"), "segments/abc/d");
    }
}
