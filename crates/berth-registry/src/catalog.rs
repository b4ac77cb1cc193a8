//! Content discovery: a repository's tags and the catalog of repositories,
//! both sorted lexically and paginated with `n` and `last`.

use std::collections::BTreeSet;

use crate::error::{ErrorCode, RegistryError, Result};
use crate::{Registry, layout};

/// One page of a sorted listing.
pub struct Page {
    /// The entries of this page.
    pub entries: Vec<String>,
    /// The `last` value of the next page, when there is one.
    pub next: Option<String>,
}

/// Cuts a sorted listing into the page after `last`, of at most `n` entries.
pub fn paginate(sorted: Vec<String>, last: Option<&str>, n: Option<usize>) -> Page {
    let start = match last {
        Some(last) => sorted.partition_point(|e| e.as_str() <= last),
        None => 0,
    };
    let mut entries: Vec<String> = sorted.into_iter().skip(start).collect();
    let mut next = None;
    if let Some(n) = n
        && entries.len() > n
    {
        entries.truncate(n);
        next = entries.last().cloned();
    }
    Page { entries, next }
}

/// What makes a directory a repository in the catalog: Distribution counts
/// every directory with linked blobs (`_layers`), with or without manifests.
const REPOSITORY_MARKER: &str = "_layers";

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Registry {
    /// A repository's tags, sorted; `NAME_UNKNOWN` when it has none.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>> {
        match self.driver.list(&layout::tags(name)).await {
            Ok(children) => {
                let mut tags: Vec<String> = children
                    .iter()
                    .map(|c| basename(c).to_string())
                    .filter(|t| crate::reference::check_tag(t).is_ok())
                    .collect();
                tags.sort();
                Ok(tags)
            }
            Err(e) if e.is_not_found() => Err(RegistryError::new(
                ErrorCode::NameUnknown,
                format!("repository {name} is not known to this registry"),
            )
            .with_detail(serde_json::json!({ "name": name }))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every repository in the store (as Distribution counts them), sorted.
    pub async fn repositories(&self) -> Result<Vec<String>> {
        self.repositories_with(REPOSITORY_MARKER).await
    }

    /// Every repository directory holding `marker` (`_manifests`, `_layers`
    /// or `_uploads`), sorted.
    pub async fn repositories_with(&self, marker: &'static str) -> Result<Vec<String>> {
        Ok(self
            .repository_page(marker, None, usize::MAX)
            .await?
            .entries)
    }

    /// One page of the catalog: up to `n` repositories after `last`,
    /// in lexical order. Only the part of the tree that can hold the page
    /// is listed, so a page costs about `n` directory listings however
    /// large the store is.
    pub async fn catalog_page(&self, last: Option<&str>, n: usize) -> Result<Page> {
        // One more than asked tells whether a next page exists.
        let mut page = self
            .repository_page(REPOSITORY_MARKER, last, n.saturating_add(1))
            .await?;
        if page.entries.len() > n {
            page.entries.truncate(n);
            page.next = page.entries.last().cloned();
        }
        Ok(page)
    }

    async fn repository_page(
        &self,
        marker: &'static str,
        last: Option<&str>,
        n: usize,
    ) -> Result<Page> {
        let walk = RepositoryWalk {
            marker,
            last: last.map(str::to_string),
            n,
            found: BTreeSet::new(),
        };
        let root = layout::repositories();
        let driver = self.driver.clone();
        let handle = tokio::runtime::Handle::current();
        let found = tokio::task::spawn_blocking(move || {
            let mut walk = walk;
            walk.visit(&root, "", &mut |path: &str| {
                let to_io = |e: berth_storage::StorageError| {
                    if e.is_not_found() {
                        std::io::Error::from(std::io::ErrorKind::NotFound)
                    } else {
                        std::io::Error::other(e)
                    }
                };
                // A local store lists on this thread; others wait for theirs.
                if let Some(names) = driver.child_names_now(path) {
                    return names.map_err(to_io);
                }
                let children = handle.block_on(driver.list(path)).map_err(to_io)?;
                let mut names: Vec<String> =
                    children.iter().map(|c| basename(c).to_string()).collect();
                names.sort();
                Ok(std::sync::Arc::new(names))
            })
            .map(|()| walk.found)
        })
        .await
        .map_err(|e| RegistryError::new(ErrorCode::Unknown, format!("catalog walk failed: {e}")))?;
        let found = match found {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                return Err(RegistryError::new(
                    ErrorCode::Unknown,
                    format!("cannot list the repositories in the store: {e}"),
                ));
            }
        };
        Ok(Page {
            entries: found.into_iter().take(n).collect(),
            next: None,
        })
    }
}

/// A depth-first walk of `repositories/` that visits children in lexical
/// order, skips subtrees that lie wholly at or before `last`, and stops as
/// soon as no unvisited subtree can hold one of the first `n` names.
struct RepositoryWalk {
    marker: &'static str,
    last: Option<String>,
    n: usize,
    found: BTreeSet<String>,
}

impl RepositoryWalk {
    /// True when `n` names are found that all sort before `name`: nothing
    /// at or after `name` can make the page.
    fn complete_before(&self, name: &str) -> bool {
        self.found.len() >= self.n
            && self
                .found
                .iter()
                .nth(self.n - 1)
                .is_some_and(|nth| nth.as_str() < name)
    }

    fn visit(
        &mut self,
        dir: &str,
        name: &str,
        list: &mut dyn FnMut(&str) -> std::io::Result<std::sync::Arc<Vec<String>>>,
    ) -> std::io::Result<()> {
        // Children come sorted.
        let children = match list(dir) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !name.is_empty() => {
                return Ok(()); // deleted while we walked
            }
            Err(e) => return Err(e),
        };
        if children.iter().any(|c| c == self.marker)
            && !name.is_empty()
            && self.last.as_deref().is_none_or(|l| name > l)
        {
            self.found.insert(name.to_string());
            if self.found.len() > self.n {
                self.found.pop_last();
            }
        }
        for child in children.iter().filter(|c| !c.starts_with('_')) {
            let child_name = if name.is_empty() {
                child.clone()
            } else {
                format!("{name}/{child}")
            };
            // Every name below `child_name` sorts in [child_name, child_name + "0"):
            // '0' is the byte after '/'.
            if let Some(last) = &self.last
                && last.as_str() >= format!("{child_name}0").as_str()
            {
                continue;
            }
            if self.complete_before(&child_name) {
                break;
            }
            self.visit(&format!("{dir}/{child}"), &child_name, list)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn walk(names: &[&str], last: Option<&str>, n: usize) -> Vec<String> {
        // A tree where each name is a repository (holds `_manifests`).
        let mut tree: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for name in names {
            let mut dir = String::from("/r");
            for part in name.split('/') {
                tree.entry(dir.clone()).or_default().push(part.to_string());
                dir = format!("{dir}/{part}");
            }
            tree.entry(dir).or_default().push("_manifests".into());
        }
        let mut w = RepositoryWalk {
            marker: "_manifests",
            last: last.map(str::to_string),
            n,
            found: BTreeSet::new(),
        };
        let mut listed = 0;
        w.visit("/r", "", &mut |d: &str| {
            listed += 1;
            let mut c = tree.get(d).cloned().unwrap_or_default();
            c.sort();
            c.dedup();
            Ok(std::sync::Arc::new(c))
        })
        .unwrap();
        w.found.into_iter().take(n).collect()
    }

    #[test]
    fn walk_is_lexical_across_separator_quirks() {
        // '-' and '.' sort before '/': "a-b" < "a.b" < "a/b".
        let all = ["a", "a/b", "a-b", "a.b", "b/c/d", "b", "ab"];
        let mut sorted: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        assert_eq!(walk(&all, None, 100), sorted);
        for n in 1..=all.len() {
            for start in 0..=all.len() {
                let last = start.checked_sub(1).map(|i| sorted[i].as_str());
                let want: Vec<String> = sorted.iter().skip(start).take(n).cloned().collect();
                assert_eq!(walk(&all, last, n), want, "last={last:?} n={n}");
            }
        }
    }

    #[test]
    fn pages() {
        let all = names(&["a", "b", "c", "d"]);
        let p = paginate(all.clone(), None, Some(2));
        assert_eq!((p.entries, p.next), (names(&["a", "b"]), Some("b".into())));
        let p = paginate(all.clone(), Some("b"), Some(2));
        assert_eq!((p.entries, p.next), (names(&["c", "d"]), None));
        let p = paginate(all.clone(), Some("bb"), None);
        assert_eq!(p.entries, names(&["c", "d"]));
        assert!(paginate(all, Some("d"), Some(5)).entries.is_empty());
    }
}
