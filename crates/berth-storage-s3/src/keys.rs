//! Driver paths to object keys and back, as Distribution's `s3Path`:
//! `rootdirectory: /a/b` and path `/x/y` give key `a/b/x/y`; with no root
//! directory the key is `x/y`. Keys never start with a slash.

/// Maps paths under one root prefix to keys and back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyMap {
    /// `a/b`, or empty for the bucket's root.
    root: String,
}

impl KeyMap {
    /// A map for the root prefix `root` (slashes at either end are ignored).
    pub fn new(root: &str) -> KeyMap {
        KeyMap {
            root: root.trim_matches('/').to_string(),
        }
    }

    /// The key of a valid absolute path (`/` is the root prefix itself).
    pub fn key(&self, path: &str) -> String {
        let rel = path.trim_start_matches('/');
        match (self.root.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{rel}", self.root),
        }
    }

    /// The listing prefix for everything below `path`: its key and a slash
    /// (empty for the bucket's root).
    pub fn dir_prefix(&self, path: &str) -> String {
        let key = self.key(path);
        if key.is_empty() {
            key
        } else {
            format!("{key}/")
        }
    }

    /// The path of a key below the root, or `None` for a key outside it or
    /// one that is no valid path (`dir/` markers some consoles create).
    pub fn path(&self, key: &str) -> Option<String> {
        let rel = if self.root.is_empty() {
            key
        } else {
            key.strip_prefix(self.root.as_str())?.strip_prefix('/')?
        };
        let path = format!("/{rel}");
        berth_storage::path::check(&path).ok()?;
        (path != "/").then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_distribution() {
        let m = KeyMap::new("/a/b/");
        assert_eq!(m.key("/x/y"), "a/b/x/y");
        assert_eq!(m.key("/"), "a/b");
        assert_eq!(m.dir_prefix("/x"), "a/b/x/");
        assert_eq!(m.dir_prefix("/"), "a/b/");
        let m = KeyMap::new("");
        assert_eq!(
            m.key("/docker/registry/v2/blobs"),
            "docker/registry/v2/blobs"
        );
        assert_eq!(m.dir_prefix("/"), "");
        assert_eq!(m.dir_prefix("/x"), "x/");
    }

    #[test]
    fn paths_come_back_from_keys() {
        let m = KeyMap::new("a/b");
        assert_eq!(m.path("a/b/x/y").as_deref(), Some("/x/y"));
        assert_eq!(m.path("a/bc/x"), None);
        assert_eq!(m.path("a/b/x/"), None, "directory markers are no paths");
        assert_eq!(m.path("a/b"), None);
        let m = KeyMap::new("");
        assert_eq!(m.path("x y/ü").as_deref(), Some("/x y/ü"));
    }
}
