//! CNCF Distribution's storage layout (`registry/storage/paths.go`), so a
//! store written by Berth is served by Distribution and the other way round.
//!
//! ```text
//! /docker/registry/v2/blobs/<alg>/<hex[0..2]>/<hex>/data
//! /docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
//! /docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
//! /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//! /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
//! /docker/registry/v2/repositories/<name>/_uploads/<id>/{data,startedat}
//! ```
//! One addition of Berth's, which Distribution ignores: the referrers index,
//! `repositories/<name>/_referrers/<subject alg>/<subject hex>/<alg>/<hex>/link`.

use crate::reference::Digest;

/// The root of everything the registry stores.
pub const ROOT: &str = "/docker/registry/v2";

/// The directory holding all repositories.
pub fn repositories() -> String {
    format!("{ROOT}/repositories")
}

/// The blob's data object.
pub fn blob_data(d: &Digest) -> String {
    format!(
        "{ROOT}/blobs/{}/{}/{}/data",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    )
}

/// The directory of a blob (its data and nothing else).
pub fn blob_dir(d: &Digest) -> String {
    format!(
        "{ROOT}/blobs/{}/{}/{}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    )
}

/// The root of all blobs.
pub fn blobs() -> String {
    format!("{ROOT}/blobs")
}

/// A repository's directory.
pub fn repository(name: &str) -> String {
    format!("{ROOT}/repositories/{name}")
}

/// The link that makes a blob part of a repository.
pub fn layer_link(name: &str, d: &Digest) -> String {
    format!(
        "{}/_layers/{}/{}/link",
        repository(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// The link that makes a manifest part of a repository.
pub fn revision_link(name: &str, d: &Digest) -> String {
    format!(
        "{}/_manifests/revisions/{}/{}/link",
        repository(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// The directory of a manifest revision.
pub fn revision_dir(name: &str, d: &Digest) -> String {
    format!(
        "{}/_manifests/revisions/{}/{}",
        repository(name),
        d.algorithm().name(),
        d.hex()
    )
}

/// The directory holding a repository's tags.
pub fn tags(name: &str) -> String {
    format!("{}/_manifests/tags", repository(name))
}

/// A tag's directory.
pub fn tag_dir(name: &str, tag: &str) -> String {
    format!("{}/{tag}", tags(name))
}

/// The link naming the manifest a tag points at now.
pub fn tag_current(name: &str, tag: &str) -> String {
    format!("{}/current/link", tag_dir(name, tag))
}

/// The link recording that a tag has pointed at a manifest.
pub fn tag_index(name: &str, tag: &str, d: &Digest) -> String {
    format!(
        "{}/index/{}/{}/link",
        tag_dir(name, tag),
        d.algorithm().name(),
        d.hex()
    )
}

/// An upload's directory.
pub fn upload_dir(name: &str, id: &str) -> String {
    format!("{}/_uploads/{id}", repository(name))
}

/// An upload's data so far.
pub fn upload_data(name: &str, id: &str) -> String {
    format!("{}/data", upload_dir(name, id))
}

/// When an upload started (RFC 3339), as Distribution writes it.
pub fn upload_started_at(name: &str, id: &str) -> String {
    format!("{}/startedat", upload_dir(name, id))
}

/// The directory listing the referrers of `subject`.
pub fn referrers(name: &str, subject: &Digest) -> String {
    format!(
        "{}/_referrers/{}/{}",
        repository(name),
        subject.algorithm().name(),
        subject.hex()
    )
}

/// The link recording that `referrer` refers to `subject`.
pub fn referrer_link(name: &str, subject: &Digest, referrer: &Digest) -> String {
    format!(
        "{}/{}/{}/link",
        referrers(name, subject),
        referrer.algorithm().name(),
        referrer.hex()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_distribution() {
        let d = Digest::parse(&format!("sha256:ab{}", "c".repeat(62))).unwrap();
        assert_eq!(
            blob_data(&d),
            format!(
                "/docker/registry/v2/blobs/sha256/ab/ab{}/data",
                "c".repeat(62)
            )
        );
        assert_eq!(
            tag_current("library/alpine", "3"),
            "/docker/registry/v2/repositories/library/alpine/_manifests/tags/3/current/link"
        );
    }
}
