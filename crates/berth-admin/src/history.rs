//! The registry's usage over time: samples of the usage figures kept as
//! JSON lines in the app's data directory (`usage-history.jsonl`), so the
//! Disk page can draw growth per day across restarts.
//!
//! Each sample is appended with one `write` on a file opened for
//! appending, so a crash leaves at most one torn last line, which reading
//! skips. The file is bounded: past [`MAX_BYTES`] every other sample of
//! the older half is dropped (the long view thins out, recent samples stay
//! dense), written to a temporary file and renamed over.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The file's name in the data directory.
pub const FILE: &str = "usage-history.jsonl";

/// The file's size limit (about 20,000 samples: years at one an hour).
pub const MAX_BYTES: u64 = 2 * 1024 * 1024;

/// One sample of the usage figures.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// When it was taken (RFC 3339).
    pub time: String,
    /// Bytes of every object in the store.
    pub total_bytes: u64,
    /// Bytes of all blobs.
    pub blob_bytes: u64,
    /// Blobs in the store.
    pub blobs: u64,
    /// Bytes a garbage collection would free.
    pub reclaimable_bytes: u64,
    /// Repositories in the store.
    pub repositories: u64,
    /// Free bytes on the volume holding the store (local stores only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_free: Option<u64>,
}

impl Sample {
    /// Whether two samples show the same figures (times aside).
    pub fn same_figures(&self, other: &Sample) -> bool {
        self.total_bytes == other.total_bytes
            && self.blob_bytes == other.blob_bytes
            && self.blobs == other.blobs
            && self.reclaimable_bytes == other.reclaimable_bytes
            && self.repositories == other.repositories
    }

    /// Its time as a [`SystemTime`], when it parses.
    pub fn at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(&self.time).ok()
    }
}

/// The history file, one writer at a time.
pub struct History {
    path: PathBuf,
    lock: Mutex<()>,
}

impl History {
    /// The history kept in `data_dir`.
    pub fn new(data_dir: &Path) -> History {
        History {
            path: data_dir.join(FILE),
            lock: Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `sample`, unless the last one is younger than `min_gap`, or
    /// shows the same figures and is younger than `quiet`: a store at rest
    /// adds one sample per `quiet`, a busy one at most one per `min_gap`.
    /// Returns whether it was written.
    pub fn record(
        &self,
        sample: &Sample,
        quiet: Duration,
        min_gap: Duration,
    ) -> std::io::Result<bool> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = self.last_unlocked()? {
            let age = last
                .at()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            if age.is_some_and(|a| a < min_gap)
                || (last.same_figures(sample) && age.is_some_and(|a| a < quiet))
            {
                return Ok(false);
            }
        }
        let mut line = serde_json::to_vec(sample).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // A torn line from a crash in the middle of the previous append
        // would swallow this one: start on a fresh line.
        let len = file.metadata()?.len();
        if len > 0 && !self.ends_with_newline()? {
            line.insert(0, b'\n');
        }
        file.write_all(&line)?;
        if len + line.len() as u64 > MAX_BYTES {
            self.compact()?;
        }
        Ok(true)
    }

    /// Every sample, oldest first; lines that do not parse are skipped.
    pub fn read(&self) -> std::io::Result<Vec<Sample>> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.read_unlocked()
    }

    fn read_unlocked(&self) -> std::io::Result<Vec<Sample>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// The last sample that parses, read from the file's tail.
    fn last_unlocked(&self) -> std::io::Result<Option<Sample>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        Ok(String::from_utf8_lossy(&tail)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok()))
    }

    fn ends_with_newline(&self) -> std::io::Result<bool> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        Ok(last[0] == b'\n')
    }

    /// Drops every other sample of the older half, written atomically.
    fn compact(&self) -> std::io::Result<()> {
        let samples = self.read_unlocked()?;
        let half = samples.len() / 2;
        let keep: Vec<&Sample> = samples[..half]
            .iter()
            .step_by(2)
            .chain(&samples[half..])
            .collect();
        let mut text = Vec::new();
        for s in keep {
            serde_json::to_writer(&mut text, s).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        crate::store::write_atomically(&self.path, &text, Some(0o644))
    }
}

/// One day's figures: the last sample of the day and the change from the
/// day before.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    /// The day (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// Total bytes at the day's last sample.
    pub total_bytes: u64,
    /// Change since the previous day's last sample (0 for the first day).
    pub growth_bytes: i64,
}

/// Samples grouped by UTC day.
pub fn days(samples: &[Sample]) -> Vec<Day> {
    let mut days: Vec<Day> = Vec::new();
    for s in samples {
        let date = s.time.get(..10).unwrap_or_default().to_string();
        match days.last_mut() {
            Some(d) if d.date == date => d.total_bytes = s.total_bytes,
            _ => days.push(Day {
                date,
                total_bytes: s.total_bytes,
                growth_bytes: 0,
            }),
        }
    }
    for i in 1..days.len() {
        days[i].growth_bytes = days[i].total_bytes as i64 - days[i - 1].total_bytes as i64;
    }
    days
}

/// Average growth per day between the first and the last sample, when
/// they are at least an hour apart.
pub fn growth_per_day(samples: &[Sample]) -> Option<i64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let span = last.at()?.duration_since(first.at()?).ok()?;
    if span < Duration::from_secs(3600) {
        return None;
    }
    let change = last.total_bytes as f64 - first.total_bytes as f64;
    Some((change * 86400.0 / span.as_secs_f64()).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time: &str, total: u64) -> Sample {
        Sample {
            time: time.to_string(),
            total_bytes: total,
            blob_bytes: total,
            blobs: 1,
            reclaimable_bytes: 0,
            repositories: 1,
            volume_free: None,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn samples_survive_a_new_reader_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        let now = humantime::format_rfc3339(SystemTime::now()).to_string();
        assert!(
            history
                .record(&sample(&now, 10), HOUR, Duration::ZERO)
                .unwrap()
        );
        // The same figures within the quiet time: not written again.
        assert!(
            !history
                .record(&sample(&now, 10), HOUR, Duration::ZERO)
                .unwrap()
        );
        // Other figures, but sooner than the minimum gap: not written either.
        assert!(!history.record(&sample(&now, 11), HOUR, HOUR).unwrap());
        // A crash mid-append left half a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(history.path())
            .unwrap()
            .write_all(b"{\"time\":\"2026-")
            .unwrap();
        assert!(
            history
                .record(&sample(&now, 20), HOUR, Duration::ZERO)
                .unwrap()
        );
        let again = History::new(dir.path());
        let read = again.read().unwrap();
        assert_eq!(
            read.iter().map(|s| s.total_bytes).collect::<Vec<_>>(),
            vec![10, 20]
        );
    }

    #[test]
    fn the_file_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path());
        let mut n = 0u64;
        while std::fs::metadata(history.path()).map_or(0, |m| m.len()) < MAX_BYTES - 1024 {
            history
                .record(
                    &sample("2026-01-01T00:00:00Z", n),
                    Duration::ZERO,
                    Duration::ZERO,
                )
                .unwrap();
            n += 1;
        }
        for _ in 0..100 {
            history
                .record(
                    &sample("2026-01-01T00:00:00Z", n),
                    Duration::ZERO,
                    Duration::ZERO,
                )
                .unwrap();
            n += 1;
        }
        let size = std::fs::metadata(history.path()).unwrap().len();
        assert!(size <= MAX_BYTES, "{size}");
        let read = history.read().unwrap();
        assert_eq!(
            read.last().unwrap().total_bytes,
            n - 1,
            "the newest are kept"
        );
        assert_eq!(
            read.first().unwrap().total_bytes,
            0,
            "the long view is kept"
        );
        assert!(
            (read.len() as u64) < n * 4 / 5,
            "{} of {n} kept",
            read.len()
        );
        // Recent samples stay dense, older ones thin out.
        let recent = &read[read.len() - 10..];
        assert!(
            recent
                .windows(2)
                .all(|w| w[1].total_bytes == w[0].total_bytes + 1)
        );
        assert!(
            read[..10]
                .windows(2)
                .all(|w| w[1].total_bytes >= w[0].total_bytes + 2)
        );
    }

    #[test]
    fn growth_by_day() {
        let samples = vec![
            sample("2026-01-01T10:00:00Z", 100),
            sample("2026-01-01T20:00:00Z", 150),
            sample("2026-01-02T10:00:00Z", 400),
            sample("2026-01-03T10:00:00Z", 300),
        ];
        let d = days(&samples);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].total_bytes, d[0].growth_bytes), (150, 0));
        assert_eq!((d[1].total_bytes, d[1].growth_bytes), (400, 250));
        assert_eq!((d[2].total_bytes, d[2].growth_bytes), (300, -100));
        assert_eq!(growth_per_day(&samples), Some(100));
        assert_eq!(growth_per_day(&samples[..1]), None);
    }
}
