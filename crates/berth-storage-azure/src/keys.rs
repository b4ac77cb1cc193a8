//! Driver paths ↔ blob names, with Distribution's layout: `rootdirectory`
//! `/a/b` and path `/x/y` give blob `a/b/x/y` (no leading slash).

/// Maps paths under a root directory to blob names and back.
#[derive(Clone, Debug)]
pub struct Keys {
    /// The blob-name prefix of the root: `""` or `a/b/`.
    root: String,
}

impl Keys {
    /// Keys below `root` (`""` or `/a/b`, as `DriverParams::root_directory`
    /// gives it).
    pub fn new(root: &str) -> Keys {
        let trimmed = root.trim_matches('/');
        let root = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        Keys { root }
    }

    /// The blob name of a (checked, absolute) path; `""` for `/` at the
    /// container's root.
    pub fn blob(&self, path: &str) -> String {
        let relative = path.trim_start_matches('/');
        if relative.is_empty() {
            return self.root.trim_end_matches('/').to_string();
        }
        format!("{}{relative}", self.root)
    }

    /// The listing prefix for everything below `path`: `a/b/x/y/`, or the
    /// root prefix for `/`.
    pub fn dir_prefix(&self, path: &str) -> String {
        let blob = self.blob(path);
        if blob.is_empty() {
            blob
        } else {
            format!("{blob}/")
        }
    }

    /// The path of a listed blob name or prefix (a trailing `/` is dropped);
    /// `None` for names outside the root.
    pub fn path(&self, blob: &str) -> Option<String> {
        let relative = blob.strip_prefix(&self.root)?.trim_end_matches('/');
        (!relative.is_empty()).then(|| format!("/{relative}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_as_distribution_does() {
        let k = Keys::new("/a/b");
        assert_eq!(k.blob("/x/y"), "a/b/x/y");
        assert_eq!(k.blob("/"), "a/b");
        assert_eq!(k.dir_prefix("/x"), "a/b/x/");
        assert_eq!(k.dir_prefix("/"), "a/b/");
        assert_eq!(k.path("a/b/x/y").as_deref(), Some("/x/y"));
        assert_eq!(k.path("a/b/x/").as_deref(), Some("/x"));
        assert_eq!(k.path("elsewhere/x"), None);

        let k = Keys::new("");
        assert_eq!(
            k.blob("/docker/registry/v2/blobs"),
            "docker/registry/v2/blobs"
        );
        assert_eq!(k.blob("/"), "");
        assert_eq!(k.dir_prefix("/"), "");
        assert_eq!(k.dir_prefix("/docker"), "docker/");
        assert_eq!(k.path("docker/").as_deref(), Some("/docker"));
    }
}
