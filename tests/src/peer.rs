//! Finding the real peers a test needs, and the policy when one is missing.

use std::path::PathBuf;

/// Looks for `program` on the PATH (or at an absolute path).
pub fn find(program: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from(program);
    if candidate.is_absolute() {
        return candidate.is_file().then_some(candidate);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// True when running under CI, where a missing peer is a failure, not a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns the path of `program`, or `None` after printing how to install it.
///
/// Under CI a missing peer panics: a test that silently skips there would let
/// a broken machine look green.
pub fn require(program: &str, debian_package: &str) -> Option<PathBuf> {
    if let Some(path) = find(program) {
        return Some(path);
    }
    let how = format!(
        "`{program}` is not installed; install it with `apt-get install {debian_package}` \
         (or run `make test`, which installs the test peers)"
    );
    if under_ci() {
        panic!("{how}");
    }
    eprintln!("SKIPPED: {how}");
    None
}
