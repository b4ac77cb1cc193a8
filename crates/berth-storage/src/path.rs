//! Validation of driver paths, shared by every driver.

use crate::{Result, StorageError};

/// Checks that `path` is absolute, slash-separated and free of anything that
/// could step outside the store (`..`, `.`, empty components, backslashes,
/// NUL). The root `/` is valid.
pub fn check(path: &str) -> Result<()> {
    let invalid = |reason| {
        Err(StorageError::InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if !path.starts_with('/') {
        return invalid("must start with /");
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return invalid("must not end with /");
    }
    if path.contains('\\') || path.contains('\0') {
        return invalid("must not contain backslashes or NUL");
    }
    for component in path[1..].split('/') {
        match component {
            "" => return invalid("empty path component"),
            "." | ".." => return invalid("relative path component"),
            _ => {}
        }
    }
    Ok(())
}

/// The parent directory of a valid path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_registry_paths() {
        for p in [
            "/",
            "/docker/registry/v2/blobs/sha256/ab/abcd/data",
            "/a b/ü",
        ] {
            check(p).unwrap();
        }
    }

    #[test]
    fn rejects_escapes() {
        for p in ["", "a", "/a/../b", "/./a", "/a//b", "/a/", "/a\\b", "/a\0"] {
            assert!(check(p).is_err(), "{p:?} should be rejected");
        }
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "/");
    }
}
