//! Digests computed while bytes stream past, on a thread of their own so
//! hashing overlaps with receiving and writing.

use bytes::Bytes;
use sha2::Digest as _;
use tokio::sync::mpsc;

use crate::reference::{Algorithm, Digest};

/// A running hash of one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 (SHA-NI accelerated where the CPU has it).
    Sha256(sha2::Sha256),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far (the hasher stays usable).
    pub fn digest(&self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest::from_bytes(Algorithm::Sha256, &h.clone().finalize()),
            Hasher::Sha512(h) => Digest::from_bytes(Algorithm::Sha512, &h.clone().finalize()),
        }
    }
}

/// Bytes below this size are hashed inline: a thread hand-off costs more.
const INLINE_LIMIT: usize = 64 * 1024;

/// Hashes on a blocking thread fed through a bounded channel.
pub struct StreamHasher {
    tx: Option<mpsc::Sender<Bytes>>,
    task: tokio::task::JoinHandle<Hasher>,
}

impl StreamHasher {
    /// Starts hashing, continuing from `hasher`'s state.
    pub fn start(hasher: Hasher) -> StreamHasher {
        let (tx, mut rx) = mpsc::channel::<Bytes>(32);
        let task = tokio::task::spawn_blocking(move || {
            let mut hasher = hasher;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher
        });
        StreamHasher { tx: Some(tx), task }
    }

    /// Feeds a chunk (cheap: `Bytes` is reference-counted).
    pub async fn update(&mut self, chunk: Bytes) {
        if let Some(tx) = &self.tx {
            // The thread only stops when the sender is dropped.
            let _ = tx.send(chunk).await;
        }
    }

    /// Waits for every chunk to be hashed and returns the hasher.
    pub async fn finish(mut self) -> Hasher {
        self.tx = None;
        self.task.await.expect("hashing thread panicked")
    }
}

/// Hashes `data` in place when small, on a blocking thread when large.
pub async fn hash_bytes(algorithm: Algorithm, data: Bytes) -> Digest {
    if data.len() <= INLINE_LIMIT {
        let mut h = Hasher::new(algorithm);
        h.update(&data);
        return h.digest();
    }
    tokio::task::spawn_blocking(move || {
        let mut h = Hasher::new(algorithm);
        h.update(&data);
        h.digest()
    })
    .await
    .expect("hashing thread panicked")
}
