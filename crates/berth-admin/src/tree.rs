//! A config.yml as a plain JSON tree, and dotted key paths into it
//! (`notifications.endpoints[0].headers.Authorization`), so that a secret
//! anywhere in the file can be read by the path `berth_config::secret_paths`
//! names.
//!
//! Only text written by `Config::to_yaml` is read here (no anchors, no
//! duplicate keys); scalars keep their text, except plain `true`/`false`,
//! whole numbers and nulls, which the emitter writes unquoted only when they
//! are those.

pub use berth_config::{join_path, split_path};
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

/// Reads `yaml` (one document) into a JSON tree.
pub fn yaml_to_json(yaml: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(yaml);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = Value::Null;
    while let Some(next) = parser.next_event() {
        let (event, _) = next.map_err(|e| e.to_string())?;
        let value = match event {
            Event::Scalar(text, style, _, _) => scalar(&text, style),
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Value::Array(items),
                Some(Frame::Map(map, _)) => Value::Object(map),
                None => return Err("unbalanced YAML events".to_string()),
            },
            Event::Alias(_) => return Err("aliases are not expected here".to_string()),
            Event::DocumentEnd => break,
            _ => continue,
        };
        match stack.last_mut() {
            None => root = value,
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => match key.take() {
                None => {
                    *key = Some(match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                }
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
    Ok(root)
}

enum Frame {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if !matches!(style, ScalarStyle::Plain) {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// The value at `path` in `tree`; mapping keys match ignoring ASCII case
/// when no key matches exactly.
pub fn get_path<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = tree;
    for segment in split_path(path) {
        node = match node {
            Value::Object(map) => map.get(&segment).or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&segment))
                    .map(|(_, v)| v)
            })?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Whether `value` holds `text` anywhere (itself, or any scalar below it).
pub fn contains_text(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Array(items) => items.iter().any(|v| contains_text(v, text)),
        Value::Object(map) => map.values().any(|v| contains_text(v, text)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_emitter_output() {
        let yaml = "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    port: \"42\"\n    chunksize: 5242880\n    secure: true\n    empty: ~\nnotifications:\n  endpoints:\n    - name: a\n      headers:\n        Authorization: [Bearer t]\n";
        let tree = yaml_to_json(yaml).unwrap();
        assert_eq!(get_path(&tree, "storage.s3.bucket"), Some(&json!("b")));
        assert_eq!(get_path(&tree, "storage.s3.port"), Some(&json!("42")));
        assert_eq!(
            get_path(&tree, "storage.s3.chunksize"),
            Some(&json!(5242880))
        );
        assert_eq!(get_path(&tree, "storage.s3.secure"), Some(&json!(true)));
        assert_eq!(get_path(&tree, "storage.s3.empty"), Some(&Value::Null));
        assert_eq!(get_path(&tree, "version"), Some(&json!("0.1")));
        assert_eq!(
            get_path(&tree, "notifications.endpoints[0].headers.authorization"),
            Some(&json!(["Bearer t"]))
        );
        assert_eq!(get_path(&tree, "notifications.endpoints[1]"), None);
        assert!(contains_text(&tree, "Bearer t"));
        assert!(!contains_text(&tree, "nope"));
    }

    #[test]
    fn paths_split_and_join() {
        let p = split_path("notifications.endpoints[0].headers.Authorization");
        assert_eq!(
            p,
            [
                "notifications",
                "endpoints",
                "0",
                "headers",
                "Authorization"
            ]
        );
        assert_eq!(
            join_path(&p),
            "notifications.endpoints[0].headers.Authorization"
        );
    }
}
