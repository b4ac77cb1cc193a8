//! Chunked writes as block blobs: blocks are staged (Put Block) as the
//! buffer fills, and `commit` commits the block list, which is the moment
//! the new content becomes visible. Appending keeps the blob's committed
//! blocks and commits them followed by the new ones.

use std::sync::Arc;

use async_trait::async_trait;
use azure_storage_blobs::blob::BlobType;
use azure_storage_blobs::prelude::{BlobBlockType, BlobClient, BlockId, BlockList, BlockListType};
use berth_storage::{FileWriter, Result};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::blocks::{BLOCK_SIZE, IdMaker, reusable};
use crate::driver::Inner;
use crate::errors::{self, status};

/// An open block-blob writer.
pub struct BlockWriter {
    inner: Arc<Inner>,
    blob: BlobClient,
    path: String,
    ids: IdMaker,
    /// Blocks already committed that the new commit keeps, in order.
    kept: Vec<BlockId>,
    /// Blocks this writer staged, in order.
    staged: Vec<BlockId>,
    buffer: BytesMut,
    size: u64,
    /// Whether committing changes anything (else commit is a no-op).
    dirty: bool,
}

impl BlockWriter {
    /// Opens a writer on `path`: empty when not `append`, else after the
    /// blob's current content (a missing blob starts empty).
    pub async fn open(inner: Arc<Inner>, path: &str, append: bool) -> Result<BlockWriter> {
        let blob = inner.blob(path);
        let mut writer = BlockWriter {
            blob,
            path: path.to_string(),
            ids: IdMaker::new(),
            kept: Vec::new(),
            staged: Vec::new(),
            buffer: BytesMut::new(),
            size: 0,
            dirty: true,
            inner,
        };
        if append {
            writer.resume().await?;
        }
        Ok(writer)
    }

    /// Picks up the committed blocks of an existing blob.
    async fn resume(&mut self) -> Result<()> {
        let at = &self.inner.at;
        let props = match self.blob.get_properties().await {
            Ok(props) => props.blob.properties,
            Err(e) if errors::is_not_found(&e) => return Ok(()),
            Err(e) => return Err(at.storage("open for append", &self.path, e)),
        };
        if props.blob_type != BlobType::BlockBlob {
            return Err(at.backend(
                "open for append",
                &self.path,
                format!(
                    "the blob is a {:?} (written by an older Distribution); this driver continues only block blobs: restart the upload",
                    props.blob_type
                ),
            ));
        }
        let size = props.content_length;
        let list = self
            .blob
            .get_block_list()
            .block_list_type(BlockListType::Committed)
            .await
            .map_err(|e| at.storage("list blocks of", &self.path, e))?;
        let mut committed = Vec::new();
        let mut listed_size = 0;
        for block in list.block_with_size_list.blocks {
            if let BlobBlockType::Committed(id) = block.block_list_type {
                committed.push(id);
                listed_size += block.size_in_bytes;
            }
        }
        self.size = size;
        if listed_size == size && reusable(&committed) {
            self.kept = committed;
            self.dirty = false;
        } else {
            // Written by a single Put Blob, or by a client with other block
            // IDs: copy the content into blocks of ours first.
            self.restage_existing(size).await?;
        }
        Ok(())
    }

    /// Stages the blob's current `size` bytes as new blocks, server-side
    /// (Put Block From URL) when the service can, else by reading them.
    async fn restage_existing(&mut self, size: u64) -> Result<()> {
        let at = self.inner.at.clone();
        let source = self
            .inner
            .signed_url(&self.blob)
            .await
            .map_err(|e| at.storage("sign", &self.path, e))?;
        let mut offset = 0u64;
        let mut server_side = true;
        while offset < size {
            let end = (offset + BLOCK_SIZE as u64).min(size);
            let id = self.ids.next_id();
            if server_side {
                let copied = self
                    .blob
                    .put_block_url(id.clone(), source.clone())
                    .range(offset..end)
                    .await;
                match copied {
                    Ok(_) => {}
                    // Not supported here (Azurite answers 501): read and
                    // restage through the driver from now on.
                    Err(e) if matches!(status(&e), Some(400 | 403 | 404 | 405 | 501)) => {
                        tracing::debug!(path = %self.path, error = %e, "put block from URL unavailable, copying through the driver");
                        server_side = false;
                    }
                    Err(e) => return Err(at.storage("copy into blocks", &self.path, e)),
                }
            }
            if !server_side {
                let bytes = self.read_range(offset, end).await?;
                self.put_block(id.clone(), bytes).await?;
            }
            self.staged.push(id);
            offset = end;
        }
        Ok(())
    }

    async fn read_range(&self, start: u64, end: u64) -> Result<Bytes> {
        let at = &self.inner.at;
        let mut stream = self
            .blob
            .get()
            .range(start..end)
            .chunk_size(end - start)
            .into_stream();
        let mut out = BytesMut::with_capacity((end - start) as usize);
        while let Some(page) = stream.next().await {
            let page = page.map_err(|e| at.storage("read", &self.path, e))?;
            let bytes = page
                .data
                .collect()
                .await
                .map_err(|e| at.storage("read", &self.path, e))?;
            out.extend_from_slice(&bytes);
        }
        Ok(out.freeze())
    }

    /// Stages `bytes` as this writer's next block.
    async fn stage(&mut self, bytes: Bytes) -> Result<()> {
        let id = self.ids.next_id();
        self.put_block(id.clone(), bytes).await?;
        self.staged.push(id);
        self.dirty = true;
        Ok(())
    }

    async fn put_block(&self, id: BlockId, bytes: Bytes) -> Result<()> {
        self.blob
            .put_block(id, bytes)
            .await
            .map_err(|e| self.inner.at.storage("write", &self.path, e))?;
        Ok(())
    }
}

#[async_trait]
impl FileWriter for BlockWriter {
    async fn write(&mut self, mut data: Bytes) -> Result<()> {
        let len = data.len() as u64;
        while !data.is_empty() {
            if self.buffer.is_empty() && data.len() >= BLOCK_SIZE {
                let block = data.split_to(BLOCK_SIZE);
                self.stage(block).await?;
                continue;
            }
            let take = (BLOCK_SIZE - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data.split_to(take));
            if self.buffer.len() == BLOCK_SIZE {
                let block = self.buffer.split().freeze();
                self.stage(block).await?;
            }
        }
        self.size += len;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if !self.buffer.is_empty() {
            let block = self.buffer.split().freeze();
            self.stage(block).await?;
        }
        if !self.dirty {
            return Ok(());
        }
        let blocks = self
            .kept
            .iter()
            .cloned()
            .map(BlobBlockType::new_committed)
            .chain(self.staged.iter().cloned().map(BlobBlockType::new_latest))
            .collect();
        self.blob
            .put_block_list(BlockList { blocks })
            .await
            .map_err(|e| self.inner.at.storage("commit", &self.path, e))?;
        Ok(())
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        // Staged blocks are never visible and Azure drops them; remove the
        // object itself, as Distribution's driver does.
        match self.blob.delete().await {
            Ok(_) => Ok(()),
            Err(e) if errors::is_not_found(&e) => Ok(()),
            Err(e) => Err(self.inner.at.storage("cancel", &self.path, e)),
        }
    }
}
