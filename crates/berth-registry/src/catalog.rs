//! Content discovery: a repository's tags and the catalog of repositories,
//! both sorted lexically and paginated with `n` and `last`.

use futures::future::BoxFuture;

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
    if let Some(n) = n {
        if entries.len() > n {
            entries.truncate(n);
            next = entries.last().cloned();
        }
    }
    Page { entries, next }
}

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

    /// Every repository with manifests in the store, sorted.
    pub async fn repositories(&self) -> Result<Vec<String>> {
        self.repositories_with("_manifests").await
    }

    /// Every repository directory holding `marker` (`_manifests`, `_layers`
    /// or `_uploads`), sorted.
    pub async fn repositories_with(&self, marker: &'static str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        match self
            .walk_repositories(layout::repositories(), String::new(), marker)
            .await
        {
            Ok(repos) => found.extend(repos),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        found.sort();
        Ok(found)
    }

    /// Lists `dir` (repository prefix `name`): a directory holding `marker`
    /// is a repository; other non-underscore children are searched in
    /// parallel for nested repositories.
    fn walk_repositories(
        &self,
        dir: String,
        name: String,
        marker: &'static str,
    ) -> BoxFuture<'_, berth_storage::Result<Vec<String>>> {
        Box::pin(async move {
            let children = self.driver.list(&dir).await?;
            let mut found = Vec::new();
            let mut nested = Vec::new();
            for child in &children {
                let base = basename(child);
                if base == marker {
                    found.push(name.clone());
                } else if !base.starts_with('_') {
                    let child_name = if name.is_empty() {
                        base.to_string()
                    } else {
                        format!("{name}/{base}")
                    };
                    nested.push(self.walk_repositories(child.clone(), child_name, marker));
                }
            }
            for result in futures::future::join_all(nested).await {
                match result {
                    Ok(repos) => found.extend(repos),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
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
