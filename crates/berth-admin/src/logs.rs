//! The sidecar's output as log lines with levels, kept in a bounded ring buffer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// How many lines are kept; older ones are dropped.
pub const CAPACITY: usize = 5000;

/// A log line's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something failed.
    Error,
    /// Something deserves a look.
    Warn,
    /// What happened.
    Info,
    /// Detail (tracing's `TRACE` is shown as debug too).
    Debug,
}

/// One line of the sidecar's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Increases by one per line, across restarts of the sidecar.
    pub seq: u64,
    /// When the line was read, RFC 3339.
    pub time: String,
    /// The level read from the line; `info` when it has none.
    pub level: Level,
    /// The line, without colour codes.
    pub text: String,
}

/// A page of lines, as `logs` answers.
#[derive(Clone, Debug, Serialize)]
pub struct LogPage {
    /// The lines, oldest first.
    pub lines: Vec<LogLine>,
    /// What to pass as `after` to get the lines that follow.
    pub next: u64,
}

/// The ring buffer.
pub struct LogBuffer {
    inner: Mutex<Ring>,
    /// The sequence number of the newest line, for readers that wait.
    newest: tokio::sync::watch::Sender<u64>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer {
            inner: Mutex::default(),
            newest: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<LogLine>,
    last_seq: u64,
}

impl LogBuffer {
    /// Adds one line of output.
    pub fn push(&self, raw: &str) {
        let text = strip_ansi(raw.trim_end_matches(['\r', '\n']));
        let level = level_of(&text);
        let Ok(mut ring) = self.inner.lock() else {
            return;
        };
        ring.last_seq += 1;
        let line = LogLine {
            seq: ring.last_seq,
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            level,
            text,
        };
        if ring.lines.len() == CAPACITY {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
        let newest = ring.last_seq;
        drop(ring);
        self.newest.send_replace(newest);
    }

    /// Waits until a line after `after` arrives or `timeout` passes: a reader
    /// that is up to date asks once in a while instead of every second.
    pub async fn wait_after(&self, after: u64, timeout: std::time::Duration) {
        let mut newest = self.newest.subscribe();
        let _ = tokio::time::timeout(timeout, newest.wait_for(|n| *n > after)).await;
    }

    /// Lines after `after` (all kept lines when `None`) at `level` or more
    /// severe. With `after`, the first `limit` such lines; without, the last
    /// `limit`.
    pub fn page(&self, after: Option<u64>, level: Option<Level>, limit: usize) -> LogPage {
        let Ok(ring) = self.inner.lock() else {
            return LogPage {
                lines: Vec::new(),
                next: after.unwrap_or(0),
            };
        };
        let wanted = |l: &&LogLine| {
            after.is_none_or(|a| l.seq > a) && level.is_none_or(|max| l.level <= max)
        };
        let lines: Vec<LogLine> = match after {
            Some(_) => ring
                .lines
                .iter()
                .filter(wanted)
                .take(limit)
                .cloned()
                .collect(),
            None => {
                let mut tail: Vec<LogLine> = ring
                    .lines
                    .iter()
                    .rev()
                    .filter(wanted)
                    .take(limit)
                    .cloned()
                    .collect();
                tail.reverse();
                tail
            }
        };
        let truncated = after.is_some() && lines.len() == limit;
        let next = match (truncated, lines.last()) {
            (true, Some(last)) => last.seq,
            _ => ring.last_seq,
        };
        LogPage { lines, next }
    }

    /// The most recent lines at error or warn level, for a crash message.
    pub fn recent_problems(&self, count: usize) -> Vec<String> {
        let Ok(ring) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out: Vec<String> = ring
            .lines
            .iter()
            .rev()
            .take(50)
            .filter(|l| l.level <= Level::Warn)
            .take(count)
            .map(|l| l.text.clone())
            .collect();
        out.reverse();
        out
    }
}

/// Removes terminal colour and style codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The level of a line berthd wrote: tracing's text format
/// (`2026-01-01T00:00:00Z  WARN target: …`), its JSON format
/// (`{"level":"WARN",…}`), or berthd's own `error:`/`warning:`/`note:`
/// prefixes; `info` otherwise.
fn level_of(line: &str) -> Level {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed)
        && let Some(level) = v.get("level").and_then(|l| l.as_str()).and_then(word_level)
    {
        return level;
    }
    for (prefix, level) in [
        ("error:", Level::Error),
        ("berthd: ", Level::Error),
        ("warning:", Level::Warn),
        ("note:", Level::Info),
    ] {
        if trimmed.starts_with(prefix) {
            return level;
        }
    }
    trimmed
        .split_whitespace()
        .take(3)
        .find_map(word_level)
        .unwrap_or(Level::Info)
}

fn word_level(word: &str) -> Option<Level> {
    match word {
        "ERROR" => Some(Level::Error),
        "WARN" => Some(Level::Warn),
        "INFO" => Some(Level::Info),
        "DEBUG" | "TRACE" => Some(Level::Debug),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_from_each_format() {
        for (line, level) in [
            (
                "2026-01-01T00:00:00.123Z  WARN berth_registry: slow",
                Level::Warn,
            ),
            (
                "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m x: y",
                Level::Error,
            ),
            ("2026-01-01T00:00:00Z DEBUG x: y", Level::Debug),
            (
                r#"{"timestamp":"t","level":"WARN","fields":{}}"#,
                Level::Warn,
            ),
            ("warning: config.yml:3:1: unknown key", Level::Warn),
            ("berthd: cannot listen on 127.0.0.1:5000", Level::Error),
            (
                "berthd 0.1.0 serving http://127.0.0.1:5000/v2/ from …",
                Level::Info,
            ),
            ("plain text", Level::Info),
        ] {
            assert_eq!(level_of(&strip_ansi(line)), level, "{line}");
        }
        assert_eq!(strip_ansi("\u{1b}[31mERROR\u{1b}[0m x"), "ERROR x");
    }

    #[test]
    fn pages_follow_and_filter() {
        let buf = LogBuffer::default();
        for i in 0..10 {
            let level = if i % 3 == 0 { "ERROR" } else { "INFO" };
            buf.push(&format!("t {level} line {i}\n"));
        }
        let tail = buf.page(None, None, 4);
        assert_eq!(tail.lines.len(), 4);
        assert_eq!(tail.lines[0].text, "t ERROR line 6");
        assert_eq!(tail.next, 10);
        let errors = buf.page(Some(0), Some(Level::Error), 100);
        assert_eq!(
            errors.lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [1, 4, 7, 10]
        );
        let first = buf.page(Some(2), None, 3);
        assert_eq!(
            first.lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(first.next, 5);
        assert!(buf.page(Some(10), None, 3).lines.is_empty());
        assert_eq!(buf.recent_problems(2), ["t ERROR line 6", "t ERROR line 9"]);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_the_next_line_only() {
        let buffer = std::sync::Arc::new(LogBuffer::default());
        buffer.push("first");
        let newest = buffer.page(None, None, 10).next;
        // Nothing new: the wait runs out.
        let started = std::time::Instant::now();
        buffer
            .wait_after(newest, std::time::Duration::from_millis(200))
            .await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(200));
        // A line arriving during the wait ends it long before its limit.
        let writer = buffer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            writer.push("second");
        });
        let started = std::time::Instant::now();
        buffer
            .wait_after(newest, std::time::Duration::from_secs(30))
            .await;
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        let page = buffer.page(Some(newest), None, 10);
        assert_eq!(page.lines.len(), 1);
        assert_eq!(page.lines[0].text, "second");
    }

    #[test]
    fn the_buffer_is_bounded() {
        let buf = LogBuffer::default();
        for i in 0..CAPACITY + 10 {
            buf.push(&format!("line {i}"));
        }
        let all = buf.page(Some(0), None, usize::MAX);
        assert_eq!(all.lines.len(), CAPACITY);
        assert_eq!(all.lines[0].seq, 11);
    }
}
