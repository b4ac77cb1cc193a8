//! Per-endpoint counters and a bounded log of recent delivery attempts.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

/// How many attempts the delivery log keeps per endpoint.
pub const LOG_LEN: usize = 100;

/// What came of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The endpoint accepted the event (2xx or 3xx).
    Delivered,
    /// It failed; the event stays queued and is tried again at once.
    Retrying,
    /// It failed `threshold` times in a row; waiting `backoff` first.
    BackingOff,
    /// A test event: sent once, never queued.
    Test,
}

/// One attempt in the delivery log.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When (RFC 3339).
    pub time: String,
    /// The event's id.
    pub event_id: String,
    /// The event's action.
    pub action: String,
    /// The repository it concerns.
    pub repository: String,
    /// The endpoint's status code, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// 1 for the first attempt at this event, 2 for the first retry, …
    pub attempt: u64,
    /// What came of it.
    pub outcome: Outcome,
    /// How long the request took, in milliseconds.
    pub duration_ms: u64,
}

/// The endpoint's counters; cheap to update from the worker.
#[derive(Default)]
pub struct Metrics {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    last: Mutex<Last>,
}

#[derive(Default)]
struct Last {
    error: Option<String>,
    status: Option<u16>,
    attempt_at: Option<String>,
    success_at: Option<String>,
    log: VecDeque<Attempt>,
}

/// A point-in-time copy, as `GET /berth/v1/notifications` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Events accepted by the endpoint.
    pub delivered: u64,
    /// Failed attempts (each retry counts).
    pub failed: u64,
    /// Events not queued because the queue was full or the disk refused.
    pub dropped: u64,
    /// The latest failure's reason.
    pub last_error: Option<String>,
    /// The latest status code the endpoint answered with.
    pub last_status: Option<u16>,
    /// When the latest attempt was made.
    pub last_attempt_at: Option<String>,
    /// When the latest delivery succeeded.
    pub last_success_at: Option<String>,
    /// Recent attempts, newest first.
    pub deliveries: Vec<Attempt>,
}

/// The current time, RFC 3339 to the millisecond.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl Metrics {
    /// Records an attempt.
    pub fn attempt(&self, attempt: Attempt) {
        match attempt.outcome {
            Outcome::Delivered => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Retrying | Outcome::BackingOff => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Test => {}
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.attempt_at = Some(attempt.time.clone());
        if attempt.status.is_some() {
            last.status = attempt.status;
        }
        match &attempt.error {
            Some(e) => last.error = Some(e.clone()),
            None if attempt.outcome == Outcome::Delivered => {
                last.success_at = Some(attempt.time.clone())
            }
            None => {}
        }
        if last.log.len() == LOG_LEN {
            last.log.pop_back();
        }
        last.log.push_front(attempt);
    }

    /// Records an event that could not be queued.
    pub fn dropped(&self, why: String) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.last.lock().unwrap_or_else(|e| e.into_inner()).error = Some(why);
    }

    /// Records a failure that is no delivery attempt (the queue unreadable).
    pub fn note_error(&self, why: String) {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).error = Some(why);
    }

    /// A copy of everything.
    pub fn snapshot(&self) -> Snapshot {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            last_error: last.error.clone(),
            last_status: last.status,
            last_attempt_at: last.attempt_at.clone(),
            last_success_at: last.success_at.clone(),
            deliveries: last.log.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: Outcome, status: Option<u16>) -> Attempt {
        Attempt {
            time: now(),
            event_id: "e".into(),
            action: "push".into(),
            repository: "r".into(),
            status,
            error: (outcome != Outcome::Delivered).then(|| "HTTP 500".into()),
            attempt: 1,
            outcome,
            duration_ms: 1,
        }
    }

    #[test]
    fn counts_and_keeps_a_bounded_log() {
        let m = Metrics::default();
        for _ in 0..(LOG_LEN + 20) {
            m.attempt(attempt(Outcome::Retrying, Some(500)));
        }
        m.attempt(attempt(Outcome::Delivered, Some(200)));
        let s = m.snapshot();
        assert_eq!(s.failed, LOG_LEN as u64 + 20);
        assert_eq!(s.delivered, 1);
        assert_eq!(s.deliveries.len(), LOG_LEN);
        assert_eq!(s.deliveries[0].outcome, Outcome::Delivered);
        assert_eq!(s.last_status, Some(200));
        assert_eq!(s.last_error.as_deref(), Some("HTTP 500"));
        assert!(s.last_success_at.is_some());
    }
}
