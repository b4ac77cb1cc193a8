//! Free-form parameter maps: a storage driver's settings, an auth provider's,
//! a middleware's options.

use serde_json::Value;

use crate::error::ParamError;

/// A driver's (or provider's, or middleware's) parameters: keys in the order
/// written, values as a JSON tree with scalars resolved as Distribution
/// resolves them (`42` is a number, `true` a boolean, `"42"` a string, `~` null).
///
/// Lookups ignore ASCII case, because Distribution lower-cases keys that
/// arrive through `REGISTRY_*` variables; an exact match wins when two keys
/// differ only by case.
#[derive(Clone, Debug, Default)]
pub struct Parameters {
    entries: Vec<Param>,
}

#[derive(Clone, Debug)]
struct Param {
    key: String,
    value: Value,
    position: Option<(usize, usize)>,
}

/// Equality compares keys, order and values; where a parameter was written is ignored.
impl PartialEq for Parameters {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.key == b.key && a.value == b.value)
    }
}

impl Parameters {
    /// An empty parameter map.
    pub fn new() -> Parameters {
        Parameters::default()
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|p| p.key == key).or_else(|| {
            self.entries
                .iter()
                .position(|p| p.key.eq_ignore_ascii_case(key))
        })
    }

    /// The value under `key`, ignoring ASCII case.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index(key).map(|i| &self.entries[i].value)
    }

    /// Whether `key` is present (even with a null value).
    pub fn contains_key(&self, key: &str) -> bool {
        self.index(key).is_some()
    }

    /// The value under `key` as text: strings as they are, numbers and
    /// booleans as written by Go's `fmt.Sprint` (`42`, `true`). `None` for a
    /// missing key, a null, a list or a mapping.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// The value under `key` as a boolean: `true`/`false`, or a string Go's
    /// `strconv.ParseBool` accepts (`"true"`, `"FALSE"`, `"1"`, `"t"`…).
    /// `Ok(None)` for a missing key or a null.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ParamError> {
        let Some(i) = self.index(key) else {
            return Ok(None);
        };
        match &self.entries[i].value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
                _ => Err(self.error(i, "true or false")),
            },
            _ => Err(self.error(i, "true or false")),
        }
    }

    /// The value under `key` as an unsigned integer: a number, or a string of
    /// digits. `Ok(None)` for a missing key or a null.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, ParamError> {
        let Some(i) = self.index(key) else {
            return Ok(None);
        };
        let expected = "a whole number of zero or more";
        match &self.entries[i].value {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or_else(|| self.error(i, expected)),
            Value::String(s) => s
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| self.error(i, expected)),
            _ => Err(self.error(i, expected)),
        }
    }

    fn error(&self, i: usize, expected: &'static str) -> ParamError {
        let param = &self.entries[i];
        let found = match &param.value {
            Value::String(s) => format!("`{s}`"),
            Value::Array(_) => "a list".to_string(),
            Value::Object(_) => "a mapping".to_string(),
            other => format!("`{other}`"),
        };
        ParamError {
            key: param.key.clone(),
            expected,
            found,
            line: param.position.map(|p| p.0),
            column: param.position.map(|p| p.1),
        }
    }

    /// Where `key` was written, as (line, column), when it came from a file.
    pub fn position(&self, key: &str) -> Option<(usize, usize)> {
        self.index(key).and_then(|i| self.entries[i].position)
    }

    /// Sets `key` to `value`, replacing (in place) a key that matches ignoring
    /// ASCII case, or appending a new one. Returns the old value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.index(&key) {
            Some(i) => {
                let param = &mut self.entries[i];
                param.position = None;
                Some(std::mem::replace(&mut param.value, value))
            }
            None => {
                self.entries.push(Param {
                    key,
                    value,
                    position: None,
                });
                None
            }
        }
    }

    pub(crate) fn push_with_position(
        &mut self,
        key: String,
        value: Value,
        position: Option<(usize, usize)>,
    ) {
        self.entries.push(Param {
            key,
            value,
            position,
        });
    }

    /// Removes `key` (ignoring ASCII case) and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.index(key).map(|i| self.entries.remove(i).value)
    }

    /// The parameters in order, as (key, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|p| (p.key.as_str(), &p.value))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|p| p.key.as_str())
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Parameters {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut params = Parameters::new();
        for (k, v) in iter {
            params.insert(k, v);
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Parameters {
        let mut p = Parameters::new();
        p.push_with_position("secure".into(), json!(true), Some((3, 5)));
        p.push_with_position("chunksize".into(), json!(5242880), None);
        p.push_with_position("port".into(), json!("42"), None);
        p.push_with_position("v4auth".into(), json!("FALSE"), None);
        p.push_with_position("host".into(), json!(null), None);
        p.push_with_position("encrypt".into(), json!("maybe"), Some((7, 14)));
        p.push_with_position("Region".into(), json!("us-east-1"), None);
        p.push_with_position("neg".into(), json!(-1), None);
        p
    }

    #[test]
    fn lookups_ignore_case() {
        let p = params();
        assert_eq!(p.get("region"), Some(&json!("us-east-1")));
        assert_eq!(p.get("SECURE"), Some(&json!(true)));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn string_stringifies_scalars() {
        let p = params();
        assert_eq!(p.string("chunksize").as_deref(), Some("5242880"));
        assert_eq!(p.string("secure").as_deref(), Some("true"));
        assert_eq!(p.string("host"), None);
        assert_eq!(p.string("missing"), None);
    }

    #[test]
    fn bool_accepts_booleans_and_go_strings() {
        let p = params();
        assert_eq!(p.bool("secure"), Ok(Some(true)));
        assert_eq!(p.bool("v4auth"), Ok(Some(false)));
        assert_eq!(p.bool("host"), Ok(None));
        let err = p.bool("encrypt").unwrap_err();
        assert_eq!((err.line, err.column), (Some(7), Some(14)));
        assert_eq!(
            err.to_string(),
            "7:14: parameter `encrypt` must be true or false, found `maybe`"
        );
    }

    #[test]
    fn u64_accepts_numbers_and_numeric_strings() {
        let p = params();
        assert_eq!(p.u64("chunksize"), Ok(Some(5242880)));
        assert_eq!(p.u64("port"), Ok(Some(42)));
        assert_eq!(p.u64("host"), Ok(None));
        assert!(p.u64("neg").is_err());
        assert!(p.u64("region").is_err());
    }

    #[test]
    fn insert_replaces_in_place_and_equality_ignores_positions() {
        let mut p = params();
        assert_eq!(
            p.insert("REGION", json!("eu-west-1")),
            Some(json!("us-east-1"))
        );
        assert_eq!(p.keys().nth(6), Some("Region"));
        let mut q = params();
        q.insert("region", json!("eu-west-1"));
        assert_eq!(p, q);
        q.remove("neg");
        assert_ne!(p, q);
    }
}
