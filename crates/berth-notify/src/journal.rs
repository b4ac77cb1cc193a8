//! One endpoint's durable queue: one file per event, named by a sequence
//! number, written to a temporary name, flushed to disk, then renamed into
//! place (and the directory flushed), so an event is either whole on disk
//! or absent, and survives a crash once [`Journal::append`] returns.
//!
//! Only two numbers live in memory (the next sequence number to write and
//! the oldest not yet delivered) plus a count, whatever the queue's length:
//! a reader takes events one at a time, oldest first, from disk.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The queue holds its limit of events already.
    #[error("the queue is full ({0} events waiting); the event was dropped")]
    Full(u64),
    /// The disk refused.
    #[error("cannot write the event to {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

/// A durable FIFO of events in one directory.
pub struct Journal {
    dir: PathBuf,
    limit: u64,
    /// The next sequence number to write; held while writing, so that every
    /// number below it is on disk or already delivered.
    next: Mutex<u64>,
    /// The oldest sequence number that may still be on disk.
    head: AtomicU64,
    pending: AtomicU64,
}

const SUFFIX: &str = ".json";

fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Journal {
    /// Opens (creating) the queue in `dir`, holding at most `limit` events.
    /// Leftover temporary files of a write cut short by a crash are removed.
    pub fn open(dir: &Path, limit: u64) -> io::Result<Journal> {
        fs::create_dir_all(dir)?;
        let mut min = u64::MAX;
        let mut max = None::<u64>;
        let mut count = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(seq) = seq_of(&name) {
                min = min.min(seq);
                max = Some(max.map_or(seq, |m: u64| m.max(seq)));
                count += 1;
            }
        }
        let next = max.map_or(0, |m| m + 1);
        Ok(Journal {
            dir: dir.to_path_buf(),
            limit,
            next: Mutex::new(next),
            head: AtomicU64::new(if count == 0 { next } else { min }),
            pending: AtomicU64::new(count),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Events waiting.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{SUFFIX}"))
    }

    /// Writes `event` durably at the end of the queue (blocking I/O).
    pub fn append(&self, event: &[u8]) -> Result<(), AppendError> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let pending = self.pending();
        if pending >= self.limit {
            return Err(AppendError::Full(pending));
        }
        let seq = *next;
        let tmp = self.dir.join(format!(".tmp-{seq:020}"));
        let path = self.path(seq);
        let io = |source| AppendError::Io {
            path: path.clone(),
            source,
        };
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(event)?;
            file.sync_data()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        *next = seq + 1;
        self.pending.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The oldest event still queued, with its sequence number (blocking I/O).
    pub fn oldest(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        let end = *self.next.lock().unwrap_or_else(|e| e.into_inner());
        let mut seq = self.head.load(Ordering::Acquire);
        while seq < end {
            match fs::read(self.path(seq)) {
                Ok(bytes) => {
                    self.head.store(seq, Ordering::Release);
                    return Ok(Some((seq, bytes)));
                }
                // Delivered earlier (removed before the head moved on).
                Err(e) if e.kind() == io::ErrorKind::NotFound => seq += 1,
                Err(e) => return Err(e),
            }
        }
        self.head.store(seq, Ordering::Release);
        Ok(None)
    }

    /// Removes a delivered event (blocking I/O).
    pub fn remove(&self, seq: u64) -> io::Result<()> {
        match fs::remove_file(self.path(seq)) {
            Ok(()) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                let _ =
                    self.head
                        .compare_exchange(seq, seq + 1, Ordering::AcqRel, Ordering::Relaxed);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_in_first_out_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path(), 10).unwrap();
        j.append(b"a").unwrap();
        j.append(b"b").unwrap();
        j.append(b"c").unwrap();
        let (seq, body) = j.oldest().unwrap().unwrap();
        assert_eq!(body, b"a");
        j.remove(seq).unwrap();
        drop(j);
        fs::write(dir.path().join(".tmp-00000000000000000009"), b"half").unwrap();
        let j = Journal::open(dir.path(), 10).unwrap();
        assert_eq!(j.pending(), 2);
        assert_eq!(j.oldest().unwrap().unwrap().1, b"b");
        j.append(b"d").unwrap();
        let mut seen = Vec::new();
        while let Some((seq, body)) = j.oldest().unwrap() {
            seen.push(body);
            j.remove(seq).unwrap();
        }
        assert_eq!(seen, vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]);
        assert_eq!(j.pending(), 0);
        assert!(!dir.path().join(".tmp-00000000000000000009").exists());
    }

    #[test]
    fn refuses_beyond_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path(), 2).unwrap();
        j.append(b"a").unwrap();
        j.append(b"b").unwrap();
        assert!(matches!(j.append(b"c"), Err(AppendError::Full(2))));
        let (seq, _) = j.oldest().unwrap().unwrap();
        j.remove(seq).unwrap();
        j.append(b"c").unwrap();
    }
}
