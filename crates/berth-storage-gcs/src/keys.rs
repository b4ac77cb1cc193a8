//! Driver paths ↔ object names, with Distribution's layout: `rootdirectory:
//! /a/b` and `/x/y` give the object `a/b/x/y`, no leading slash.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Where appending writers upload their new bytes before composing them onto
/// the object: a prefix at the top of the bucket, outside any root
/// directory, that listings of the bucket's top level never show.
pub const PARTS_PREFIX: &str = "_berth-parts/";

/// Everything but RFC 3986's unreserved characters is escaped: object names
/// may hold `/`, `+`, `%`, spaces, and anything UTF-8.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`STRICT`] but keeping `/`: the path of a signed URL.
const KEEP_SLASH: &AsciiSet = &STRICT.remove(b'/');

/// Percent-encodes a URL path segment or query value.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

/// Percent-encodes an object name for a path-style URL (`bucket/a/b`).
pub fn encode_path(s: &str) -> String {
    utf8_percent_encode(s, KEEP_SLASH).to_string()
}

/// Maps driver paths below a root directory to object names and back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMap {
    /// `""` for the bucket's top, else `a/b/`.
    root: String,
}

impl KeyMap {
    /// A map for `rootdirectory` as written (`/a/b`, `a/b/`, `/` or empty).
    pub fn new(root_directory: &str) -> KeyMap {
        let trimmed = root_directory.trim().trim_matches('/');
        let root = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        KeyMap { root }
    }

    /// The root directory as a driver-style path (`/a/b`, or `/`).
    pub fn root_path(&self) -> String {
        format!("/{}", self.root.trim_end_matches('/'))
    }

    /// The object name of a (valid) path; `""` for `/` at the bucket's top.
    pub fn key(&self, path: &str) -> String {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            self.root.trim_end_matches('/').to_string()
        } else {
            format!("{}{rel}", self.root)
        }
    }

    /// The prefix of everything below a path (`a/b/x/`), `""` for `/` at the
    /// bucket's top.
    pub fn dir_prefix(&self, path: &str) -> String {
        let key = self.key(path);
        if key.is_empty() { key } else { key + "/" }
    }

    /// The driver path of an object name or listing prefix (a trailing `/`
    /// is dropped).
    pub fn path(&self, key: &str) -> String {
        let rel = key.strip_prefix(&self.root).unwrap_or(key);
        format!("/{}", rel.trim_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_layout() {
        let m = KeyMap::new("/a/b");
        assert_eq!(m.key("/x/y"), "a/b/x/y");
        assert_eq!(m.key("/"), "a/b");
        assert_eq!(m.dir_prefix("/x"), "a/b/x/");
        assert_eq!(m.dir_prefix("/"), "a/b/");
        assert_eq!(m.path("a/b/x/y"), "/x/y");
        assert_eq!(m.path("a/b/x/"), "/x");
        assert_eq!(m.root_path(), "/a/b");
        assert_eq!(KeyMap::new("a/b/"), m);
    }

    #[test]
    fn bucket_top() {
        for root in ["", "/", " / "] {
            let m = KeyMap::new(root);
            assert_eq!(m.key("/docker/registry/v2"), "docker/registry/v2");
            assert_eq!(m.key("/"), "");
            assert_eq!(m.dir_prefix("/"), "");
            assert_eq!(m.dir_prefix("/d"), "d/");
            assert_eq!(m.path("docker/"), "/docker");
            assert_eq!(m.root_path(), "/");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("a/b c+d%41ü"), "a%2Fb%20c%2Bd%2541%C3%BC");
        assert_eq!(encode("tag.v1_2-3~"), "tag.v1_2-3~");
        assert_eq!(encode_path("a/b c"), "a/b%20c");
    }
}
