//! Server-side copies: CopyObject for small objects, multipart copies
//! (UploadPartCopy in `multipartcopychunksize` ranges, several at once) for
//! large ones and for carrying an existing object into a new upload.

use berth_storage::{Result, StorageError};
use futures::{StreamExt, TryStreamExt};

use crate::config::{MAX_PART, MIN_PART};
use crate::error::Op;
use crate::store::{Store, UploadedPart};

/// Inclusive byte ranges covering `0..size` in parts of `chunk` bytes, none
/// but a lone one smaller than S3's 5 MiB minimum, none over 5 GiB: a short
/// tail is merged into the part before it, so the copied parts may be
/// followed by more parts in the same upload.
pub(crate) fn ranges(size: u64, chunk: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let remaining = size - start;
        let len = if remaining <= chunk {
            remaining
        } else if remaining - chunk >= MIN_PART {
            chunk
        } else if remaining <= MAX_PART {
            remaining
        } else {
            remaining - MIN_PART
        };
        out.push((start, start + len - 1));
        start += len;
    }
    out
}

/// Copies `source` (of `size` bytes) into the multipart upload `upload_id`
/// of `dest` as parts 1, 2, …; returns them in order, with their sizes.
pub(crate) async fn copy_parts(
    store: &Store,
    path: &str,
    source: &str,
    dest: &str,
    upload_id: &str,
    size: u64,
) -> Result<Vec<UploadedPart>> {
    let ranges = ranges(size, store.config.copy_chunk_size);
    futures::stream::iter(ranges.into_iter().enumerate())
        .map(|(i, range)| async move {
            let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let part = store
                .copy_part(path, source, dest, upload_id, number, range)
                .await?;
            Ok::<_, StorageError>(UploadedPart {
                part,
                size: range.1 - range.0 + 1,
            })
        })
        .buffered(store.config.copy_max_concurrency)
        .try_collect()
        .await
}

/// Copies `source` (of `size` bytes) to `dest`, replacing it.
pub(crate) async fn copy(
    store: &Store,
    path: &str,
    source: &str,
    dest: &str,
    size: u64,
) -> Result<()> {
    if size <= store.config.copy_threshold {
        return store.copy_object(path, source, dest).await;
    }
    let upload_id = store.start_upload(path, dest).await?;
    let copied = match copy_parts(store, path, source, dest, &upload_id, size).await {
        Ok(parts) => {
            let parts = parts.into_iter().map(|p| p.part).collect();
            store.complete_upload(path, dest, &upload_id, parts).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = copied {
        return Err(abort_after(store, path, dest, &upload_id, e).await);
    }
    Ok(())
}

/// Aborts an upload after `error`, returning `error` (with the abort's own
/// failure appended, when it fails too).
pub(crate) async fn abort_after(
    store: &Store,
    path: &str,
    key: &str,
    upload_id: &str,
    error: StorageError,
) -> StorageError {
    match store.abort_upload(path, key, upload_id).await {
        Ok(()) => error,
        Err(abort) => store.target.backend(
            Op::AbortUpload,
            path,
            format!("{error}; aborting the multipart upload {upload_id} failed too: {abort}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn sizes(size: u64, chunk: u64) -> Vec<u64> {
        let r = ranges(size, chunk);
        let mut next = 0;
        for (first, last) in &r {
            assert_eq!(*first, next, "ranges are contiguous");
            next = last + 1;
        }
        assert_eq!(next, size, "ranges cover the object");
        r.iter().map(|(a, b)| b - a + 1).collect()
    }

    #[test]
    fn parts_are_never_too_small_to_be_followed() {
        assert_eq!(sizes(6 * MIB, 32 * MIB), [6 * MIB]);
        assert_eq!(sizes(64 * MIB, 32 * MIB), [32 * MIB, 32 * MIB]);
        assert_eq!(sizes(40 * MIB, 32 * MIB), [32 * MIB, 8 * MIB]);
        assert_eq!(sizes(35 * MIB, 32 * MIB), [35 * MIB]);
        assert_eq!(sizes(68 * MIB, 32 * MIB), [32 * MIB, 36 * MIB]);
        assert_eq!(sizes(70 * MIB, 32 * MIB), [32 * MIB, 32 * MIB, 6 * MIB]);
        assert_eq!(sizes(80 * MIB, 32 * MIB), [32 * MIB, 32 * MIB, 16 * MIB]);
        assert_eq!(sizes(3, 5 * MIB), [3]);
        assert!(sizes(0, 5 * MIB).is_empty());
    }

    #[test]
    fn huge_chunks_stay_within_the_part_limit() {
        let chunk = MAX_PART;
        let parts = sizes(2 * MAX_PART + MIB, chunk);
        assert!(
            parts.iter().all(|p| *p <= MAX_PART && *p >= MIN_PART),
            "{parts:?}"
        );
    }
}
