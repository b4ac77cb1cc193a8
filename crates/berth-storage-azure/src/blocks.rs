//! Block IDs for block blobs. Azure requires every block ID of one blob to
//! have the same length; ours are `berth-<writer>-<index>` with a fixed-width
//! random writer token and index, so blocks staged by different writers
//! (an upload resumed after a restart) never collide and can be committed
//! together.

use azure_storage_blobs::prelude::BlockId;
use bytes::Bytes;

/// Bytes buffered per writer before a block is staged (Put Block).
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// The length of every block ID this driver makes.
pub const ID_LEN: usize = "berth-".len() + 32 + 1 + 10;

// Azure allows block IDs of at most 64 bytes.
const _: () = assert!(ID_LEN <= 64);

/// Makes the block IDs of one writer.
#[derive(Debug)]
pub struct IdMaker {
    token: String,
    next: u64,
}

impl IdMaker {
    /// A maker with a fresh random token.
    pub fn new() -> IdMaker {
        IdMaker {
            token: uuid::Uuid::new_v4().simple().to_string(),
            next: 0,
        }
    }

    /// The next block ID.
    pub fn next_id(&mut self) -> BlockId {
        let id = format!("berth-{}-{:010}", self.token, self.next);
        self.next += 1;
        debug_assert_eq!(id.len(), ID_LEN);
        BlockId::new(Bytes::from(id))
    }
}

/// True when a committed block list can be extended with our IDs as it is:
/// every ID has our length (an empty list qualifies).
pub fn reusable(ids: &[BlockId]) -> bool {
    ids.iter().all(|id| id.bytes().len() == ID_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fixed_width_and_unique() {
        let mut a = IdMaker::new();
        let mut b = IdMaker::new();
        let ids: Vec<BlockId> = (0..3).map(|_| a.next_id()).chain([b.next_id()]).collect();
        assert!(ids.iter().all(|id| id.bytes().len() == ID_LEN));
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[3]);
        assert!(reusable(&ids));
        assert!(!reusable(&[BlockId::new(Bytes::from_static(b"short"))]));
    }
}
