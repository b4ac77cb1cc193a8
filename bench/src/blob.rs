//! Blob content generated on the fly: deterministic, distinct per seed, never held whole in memory.
//!
//! Every blob is a window onto one 1 MiB block of random bytes repeated
//! forever, starting at an offset chosen by its seed. Handing out slices of
//! that block costs the client no copy and almost no CPU, so the load
//! generator spends its share of the machine on HTTP, not on making data.

use bytes::Bytes;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// Length of the repeated random block.
const PATTERN_LEN: usize = 1 << 20;

/// A step between seeds' starting offsets; odd, so distinct seeds below
/// `PATTERN_LEN` start at distinct offsets.
const SEED_STRIDE: u64 = 4099;

/// The shared random block every blob is cut from.
#[derive(Clone)]
pub struct Pattern(Bytes);

impl Pattern {
    /// The same block on every run, so digests are reproducible.
    pub fn new() -> Pattern {
        let mut block = vec![0u8; PATTERN_LEN];
        rand::rngs::StdRng::seed_from_u64(0xbe47_b10b).fill_bytes(&mut block);
        Pattern(Bytes::from(block))
    }

    /// The blob for `seed`, `len` bytes long.
    pub fn blob(&self, seed: u64, len: u64) -> BlobSpec {
        BlobSpec {
            pattern: self.0.clone(),
            offset: (seed.wrapping_mul(SEED_STRIDE) % PATTERN_LEN as u64) as usize,
            len,
        }
    }
}

/// A blob's content described, not stored: slices of the pattern on demand.
#[derive(Clone)]
pub struct BlobSpec {
    pattern: Bytes,
    offset: usize,
    len: u64,
}

impl BlobSpec {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The bytes in `start..end`, as zero-copy slices of at most 1 MiB.
    pub fn chunks(&self, start: u64, end: u64) -> Chunks {
        Chunks {
            pattern: self.pattern.clone(),
            offset: self.offset,
            pos: start,
            end: end.min(self.len),
        }
    }

    /// The whole blob as one buffer; for small blobs only.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.len as usize);
        for chunk in self.chunks(0, self.len) {
            out.extend_from_slice(&chunk);
        }
        Bytes::from(out)
    }

    /// `sha256:<hex>` of the content, computed by streaming it once.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for chunk in self.chunks(0, self.len) {
            hasher.update(&chunk);
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// Iterator over a byte range of a [`BlobSpec`].
pub struct Chunks {
    pattern: Bytes,
    offset: usize,
    pos: u64,
    end: u64,
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let at = ((self.offset as u64 + self.pos) % PATTERN_LEN as u64) as usize;
        let take = ((PATTERN_LEN - at) as u64).min(self.end - self.pos) as usize;
        self.pos += take as u64;
        Some(self.pattern.slice(at..at + take))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_exactly_and_seeds_differ() {
        let pattern = Pattern::new();
        let a = pattern.blob(1, 3 * PATTERN_LEN as u64 + 17);
        let total: u64 = a.chunks(0, a.len()).map(|c| c.len() as u64).sum();
        assert_eq!(total, a.len());
        let joined: Vec<u8> = a.chunks(5, 2_000_005).flat_map(|c| c.to_vec()).collect();
        assert_eq!(&joined[..], &a.to_bytes()[5..2_000_005]);
        assert_ne!(a.digest(), pattern.blob(2, a.len()).digest());
        assert_eq!(a.digest(), pattern.blob(1, a.len()).digest());
    }
}
