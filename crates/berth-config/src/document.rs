//! The YAML document as a tree of nodes that remember where they came from.
//!
//! `saphyr-parser` gives events with spans; this module folds them into
//! [`Node`]s, expands aliases and `<<` merge keys, and resolves plain scalars
//! the way Distribution's YAML library (go-yaml v2) does.

use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use crate::error::Warning;

/// Deepest nesting accepted; deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 200;
/// Most nodes a document may expand to (aliases included), against alias bombs.
const MAX_NODES: usize = 1_000_000;

/// A line and column in the source, both counted from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    fn from_span(span: &Span) -> Position {
        Position {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// One node of a parsed document.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Position,
    /// The `REGISTRY_*` variable this node came from, when it did not come from the file.
    pub env: Option<Arc<str>>,
}

/// What a node holds.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// `~`, `null`, or nothing at all.
    Null,
    /// Any other scalar. `quoted` is true for quoted and block scalars (and
    /// `!!str`), which are always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Position,
    pub value: Node,
}

impl Node {
    pub fn new(kind: Kind, pos: Position, env: Option<Arc<str>>) -> Node {
        Node { kind, pos, env }
    }

    /// The node's entries when it is a mapping.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// A short description for error messages: "`maybe`", "a list", "a mapping".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (null)".to_string(),
            Kind::Scalar { text, .. } => {
                let mut shown: String = text.chars().take(60).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                format!("`{}`", shown.replace('\n', "\\n"))
            }
            Kind::Seq(_) => "a list".to_string(),
            Kind::Map(_) => "a mapping".to_string(),
        }
    }

    /// Marks this node and everything below it as coming from `variable`.
    pub fn tag_env(&mut self, variable: &Arc<str>) {
        self.env = Some(variable.clone());
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.tag_env(variable)),
            Kind::Map(entries) => entries.iter_mut().for_each(|e| e.value.tag_env(variable)),
            Kind::Null | Kind::Scalar { .. } => {}
        }
    }
}

impl crate::path::Tree for Node {
    fn children(&mut self) -> Vec<(String, &mut Node)> {
        match &mut self.kind {
            Kind::Map(entries) => entries
                .iter_mut()
                .map(|e| (e.key.clone(), &mut e.value))
                .collect(),
            Kind::Seq(items) => items
                .iter_mut()
                .enumerate()
                .map(|(i, item)| (i.to_string(), item))
                .collect(),
            Kind::Null | Kind::Scalar { .. } => Vec::new(),
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub pos: Position,
    pub message: String,
}

impl SyntaxError {
    fn from_scan(err: &ScanError) -> SyntaxError {
        let mark = err.marker();
        SyntaxError {
            pos: Position {
                line: mark.line(),
                column: mark.col() + 1,
            },
            message: explain_scan_error(err.info()),
        }
    }
}

/// Adds what to do to the scanner's terse messages for the mistakes people make most.
fn explain_scan_error(info: &str) -> String {
    let hint = if info.contains("tab") {
        "; indent with spaces, YAML does not allow tabs for indentation"
    } else if info.contains("did not find expected key") {
        "; check the indentation of this line: keys of one mapping must start in the same column"
    } else if info.contains("mapping values are not allowed") {
        "; a value containing `: ` must be quoted, or the line is indented too far"
    } else if info.contains("quoted scalar") {
        "; check that every quote is closed on the same value"
    } else if info.contains("did not find expected ',' or") || info.contains("flow") {
        "; check that every `[` and `{` is closed"
    } else {
        ""
    };
    format!("YAML syntax error: {info}{hint}")
}

/// Parses `source` into its first document. Returns a null node for an empty stream.
pub(crate) fn parse(
    source: &str,
    env: Option<&Arc<str>>,
    warnings: &mut Vec<Warning>,
) -> Result<Node, SyntaxError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(source),
        anchors: Vec::new(),
        nodes: 0,
        env: env.cloned(),
    };
    let mut root = None;
    while let Some((event, span)) = builder.next()? {
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    warnings.push(Warning {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                        key_path: String::new(),
                        message: "only the first YAML document is read; this `---` and what \
                                  follows are ignored, as Distribution does"
                            .to_string(),
                    });
                    break;
                }
                let Some((event, span)) = builder.next()? else {
                    break;
                };
                root = Some(builder.node(event, span, 0)?);
            }
            other => {
                // A node outside a document cannot happen with a conforming parser;
                // treat it as the document itself.
                root = Some(builder.node(other, span, 0)?);
            }
        }
    }
    Ok(
        root.unwrap_or_else(|| {
            Node::new(Kind::Null, Position { line: 1, column: 1 }, env.cloned())
        }),
    )
}

struct Builder<'s> {
    parser: Parser<'s, saphyr_parser::StrInput<'s>>,
    anchors: Vec<(usize, Node)>,
    nodes: usize,
    env: Option<Arc<str>>,
}

impl<'s> Builder<'s> {
    fn next(&mut self) -> Result<Option<(Event<'s>, Span)>, SyntaxError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(pair)) => Ok(Some(pair)),
            Some(Err(err)) => Err(SyntaxError::from_scan(&err)),
        }
    }

    fn expect_next(&mut self, span: &Span) -> Result<(Event<'s>, Span), SyntaxError> {
        self.next()?.ok_or_else(|| SyntaxError {
            pos: Position::from_span(span),
            message: "YAML syntax error: the document ends in the middle of a value".to_string(),
        })
    }

    fn count(&mut self, pos: Position, added: usize) -> Result<(), SyntaxError> {
        self.nodes += added;
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                pos,
                message: format!(
                    "the document expands to more than {MAX_NODES} values (aliases included); \
                     a registry configuration is never that large"
                ),
            });
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    fn node(&mut self, event: Event<'s>, span: Span, depth: usize) -> Result<Node, SyntaxError> {
        let pos = Position::from_span(&span);
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                pos,
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
            });
        }
        self.count(pos, 1)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let quoted = forced_string || !matches!(style, ScalarStyle::Plain);
                let kind = if !quoted && matches!(resolve_plain(&text), Resolved::Null) {
                    Kind::Null
                } else {
                    Kind::Scalar {
                        text: text.into_owned(),
                        quoted,
                    }
                };
                let node = Node::new(kind, pos, self.env.clone());
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => {
                let Some((_, target)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(SyntaxError {
                        pos,
                        message: "YAML syntax error: alias to an unknown anchor".to_string(),
                    });
                };
                let mut node = target.clone();
                let size = count_nodes(&node);
                self.count(pos, size)?;
                node.pos = pos;
                Ok(node)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.expect_next(&span)?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                let node = Node::new(Kind::Seq(items), pos, self.env.clone());
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<Entry> = Vec::new();
                let mut merged: Vec<Entry> = Vec::new();
                loop {
                    let (event, key_span) = self.expect_next(&span)?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key_pos = Position::from_span(&key_span);
                    let key = match event {
                        Event::Scalar(text, style, _, _) => {
                            let is_merge = text == "<<" && matches!(style, ScalarStyle::Plain);
                            (text.into_owned(), is_merge)
                        }
                        _ => {
                            return Err(SyntaxError {
                                pos: key_pos,
                                message: "keys must be plain text; lists or mappings used as \
                                          keys are not supported"
                                    .to_string(),
                            });
                        }
                    };
                    let (value_event, value_span) = self.expect_next(&key_span)?;
                    let value = self.node(value_event, value_span, depth + 1)?;
                    if key.1 {
                        collect_merge(&value, &mut merged)?;
                    } else {
                        entries.push(Entry {
                            key: key.0,
                            key_pos,
                            value,
                        });
                    }
                }
                // Keys written in the mapping win over merged ones, as YAML's merge key says.
                for entry in merged {
                    if !entries.iter().any(|e| e.key == entry.key) {
                        entries.push(entry);
                    }
                }
                let node = Node::new(Kind::Map(entries), pos, self.env.clone());
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceEnd | Event::MappingEnd => Err(SyntaxError {
                pos,
                message: "YAML syntax error: unexpected end of a list or mapping".to_string(),
            }),
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(Node::new(Kind::Null, pos, self.env.clone())),
        }
    }
}

fn collect_merge(value: &Node, merged: &mut Vec<Entry>) -> Result<(), SyntaxError> {
    match &value.kind {
        Kind::Map(entries) => {
            for entry in entries {
                if !merged.iter().any(|e| e.key == entry.key) {
                    merged.push(entry.clone());
                }
            }
            Ok(())
        }
        Kind::Seq(items) => {
            for item in items {
                collect_merge(item, merged)?;
            }
            Ok(())
        }
        _ => Err(SyntaxError {
            pos: value.pos,
            message: "the merge key `<<` needs a mapping (or a list of mappings) to merge"
                .to_string(),
        }),
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Seq(items) => items.iter().map(count_nodes).sum(),
        Kind::Map(entries) => entries.iter().map(|e| count_nodes(&e.value)).sum(),
        Kind::Null | Kind::Scalar { .. } => 0,
    }
}

/// What a plain scalar means to go-yaml v2 when decoded into `interface{}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// Resolves a plain scalar with go-yaml v2's rules: YAML 1.1 booleans
/// (`yes`, `on`, `True`, …), Go integer syntax (`0x1F`, `017` octal, `_`
/// separators), floats, and everything else a string. Timestamps stay strings.
pub(crate) fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => match text.parse::<f64>() {
            Ok(v)
                if text[1..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"eE+-".contains(&b)) =>
            {
                Resolved::Float(v)
            }
            _ => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(v) = go_parse_int(&plain) {
                return v;
            }
            if is_yaml_float(&plain)
                && let Ok(v) = plain.parse::<f64>()
            {
                return Resolved::Float(v);
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<Resolved> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(body, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u128 + 1 {
            return Some(Resolved::Int((magnitude as i128).wrapping_neg() as i64));
        }
        None
    } else if magnitude <= i64::MAX as u128 {
        Some(Resolved::Int(magnitude as i64))
    } else if magnitude <= u64::MAX as u128 {
        Some(Resolved::UInt(magnitude as u64))
    } else {
        None
    }
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// What a scalar means to go-yaml v2: a quoted one is always a string.
pub(crate) fn resolve(text: &str, quoted: bool) -> Resolved {
    if quoted {
        Resolved::Str
    } else {
        resolve_plain(text)
    }
}

/// Whether go-yaml v2 would read this plain text as a timestamp (`2001-12-14…`).
pub(crate) fn looks_like_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// A scalar's value as a JSON value, the way Distribution's drivers see it.
fn scalar_json(text: &str, quoted: bool) -> serde_json::Value {
    use serde_json::Value;
    match resolve(text, quoted) {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::from(i),
        Resolved::UInt(u) => Value::from(u),
        Resolved::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_string())),
        Resolved::Str => Value::String(text.to_string()),
    }
}

/// A node as a JSON value (for driver parameters and other free-form maps).
pub(crate) fn node_json(node: &Node) -> serde_json::Value {
    YamlValue::from_node(node).to_json()
}

/// A YAML value kept as written: a section or key Berth does not know
/// (a fork's `database:` or `openshift:` section, say), carried through
/// [`Config::to_yaml`](crate::Config::to_yaml) unchanged.
#[derive(Clone, Debug, PartialEq)]
pub enum YamlValue {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar with its text as written. `quoted` is true only where the
    /// quotes matter, i.e. where the same text unquoted would read as a
    /// number, boolean or null.
    Scalar {
        /// The scalar's text.
        text: String,
        /// Whether the scalar must stay a string.
        quoted: bool,
    },
    /// A list.
    Seq(Vec<YamlValue>),
    /// A mapping, in source order.
    Map(Vec<(String, YamlValue)>),
}

impl YamlValue {
    pub(crate) fn from_node(node: &Node) -> YamlValue {
        match &node.kind {
            Kind::Null => YamlValue::Null,
            Kind::Scalar { text, quoted } => YamlValue::Scalar {
                text: text.clone(),
                quoted: *quoted && !matches!(resolve_plain(text), Resolved::Str),
            },
            Kind::Seq(items) => YamlValue::Seq(items.iter().map(YamlValue::from_node).collect()),
            Kind::Map(entries) => YamlValue::Map(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), YamlValue::from_node(&e.value)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON, with scalars resolved as Distribution resolves them.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            YamlValue::Null => Value::Null,
            YamlValue::Scalar { text, quoted } => scalar_json(text, *quoted),
            YamlValue::Seq(items) => Value::Array(items.iter().map(YamlValue::to_json).collect()),
            YamlValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&YamlValue> {
        match self {
            YamlValue::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Node {
        parse(src, None, &mut Vec::new()).expect("parses")
    }

    #[test]
    fn positions_are_one_based() {
        let root = parse_ok("a:\n  b: 1\n");
        let a = &root.entries().unwrap()[0];
        assert_eq!((a.key_pos.line, a.key_pos.column), (1, 1));
        let b = &a.value.entries().unwrap()[0];
        assert_eq!((b.key_pos.line, b.key_pos.column), (2, 3));
        assert_eq!((b.value.pos.line, b.value.pos.column), (2, 6));
    }

    #[test]
    fn resolves_like_go_yaml_v2() {
        assert_eq!(resolve_plain("yes"), Resolved::Bool(true));
        assert_eq!(resolve_plain("Off"), Resolved::Bool(false));
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain("42"), Resolved::Int(42));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("017"), Resolved::Int(15));
        assert_eq!(resolve_plain("08"), Resolved::Float(8.0));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("0.1"), Resolved::Float(0.1));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(
            resolve_plain("18446744073709551615"),
            Resolved::UInt(u64::MAX)
        );
        assert_eq!(resolve_plain("10s"), Resolved::Str);
        assert_eq!(resolve_plain(":5000"), Resolved::Str);
        assert_eq!(resolve_plain("2001-12-14"), Resolved::Str);
        assert_eq!(resolve_plain("maybe"), Resolved::Str);
    }

    #[test]
    fn quoted_and_tagged_scalars_stay_strings() {
        let root = parse_ok("a: \"true\"\nb: !!str 12\nc: 12\n");
        let entries = root.entries().unwrap();
        assert!(matches!(
            &entries[0].value.kind,
            Kind::Scalar { quoted: true, .. }
        ));
        assert!(matches!(
            &entries[1].value.kind,
            Kind::Scalar { quoted: true, .. }
        ));
        assert!(matches!(
            &entries[2].value.kind,
            Kind::Scalar { quoted: false, .. }
        ));
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let root = parse_ok("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n");
        let value = node_json(&root);
        assert_eq!(value["use"]["x"], 1);
        assert_eq!(value["use"]["y"], 3);
    }

    #[test]
    fn syntax_errors_carry_positions_and_advice() {
        let err = parse("a:\n\tb: 1\n", None, &mut Vec::new()).unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(err.message.contains("tabs"), "{}", err.message);
        let err = parse("a:\n  b: 1\n c: 2\n", None, &mut Vec::new()).unwrap_err();
        assert_eq!(err.pos.line, 3);
        assert!(err.message.contains("indentation"), "{}", err.message);
    }

    #[test]
    fn later_documents_are_ignored_with_a_warning() {
        let mut warnings = Vec::new();
        let root = parse("a: 1\n---\nb: 2\n", None, &mut warnings).unwrap();
        assert_eq!(root.entries().unwrap().len(), 1);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 2);
    }

    #[test]
    fn empty_documents_are_null() {
        assert!(parse_ok("").is_null());
        assert!(parse_ok("# just a comment\n").is_null());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse(&src, None, &mut Vec::new()).unwrap_err();
        assert!(err.message.contains("more than"), "{}", err.message);
    }
}
