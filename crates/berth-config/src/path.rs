//! Key paths, one segment per level (`notifications.endpoints[0].url`), and
//! walking a tree of values along them.

/// Writes a path the way warnings and [`secret_paths`](crate::secret_paths)
/// show it: keys joined by dots, list positions in brackets
/// (`notifications.endpoints[0].url`).
pub fn join_path(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// The inverse of [`join_path`].
pub fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            segments.push(rest[..open].to_string());
            rest = &rest[open..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(close) = inner.find(']') else {
                    segments.push(rest.to_string());
                    break;
                };
                segments.push(inner[..close].to_string());
                rest = &inner[close + 1..];
            }
        } else {
            segments.push(rest.to_string());
        }
    }
    segments
}

/// `path` with `key` added.
pub(crate) fn child(path: &[String], key: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key.to_string());
    p
}

/// A tree of YAML values: a parsed document, or one about to be written.
pub(crate) trait Tree {
    /// The values directly inside a mapping or a list, each with its path
    /// segment: its key, or its position in decimal.
    fn children(&mut self) -> Vec<(String, &mut Self)>;
}

/// Calls `visit` on `tree` and, depth first, on every value inside it, each
/// with its path (starting from `path`). `visit` may change the value it is
/// given, and says whether to go on inside it.
pub(crate) fn walk<T: Tree>(
    tree: &mut T,
    path: &mut Vec<String>,
    visit: &mut impl FnMut(&mut T, &[String]) -> bool,
) {
    if !visit(tree, path) {
        return;
    }
    for (segment, child) in tree.children() {
        path.push(segment);
        walk(child, path, visit);
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Vec<String> {
        split_path(path)
    }

    #[test]
    fn paths_round_trip() {
        let path = "notifications.endpoints[0].headers.Authorization";
        assert_eq!(
            p(path),
            [
                "notifications",
                "endpoints",
                "0",
                "headers",
                "Authorization"
            ]
        );
        assert_eq!(join_path(&p(path)), path);
        assert_eq!(join_path(&p("a.b[1][2].c")), "a.b[1][2].c");
    }
}
