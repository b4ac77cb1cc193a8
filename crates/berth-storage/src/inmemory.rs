//! The `inmemory` driver: a map from path to bytes, for tests and for
//! throwaway registries. Directories are implied by the paths below them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::{ByteStream, FileInfo, FileWriter, Result, StorageDriver, StorageError, path};

const NAME: &str = "inmemory";

#[derive(Debug, Clone)]
struct Object {
    data: Bytes,
    modified: SystemTime,
}

type Objects = Arc<Mutex<BTreeMap<String, Object>>>;

/// Keeps every object in process memory.
#[derive(Debug, Clone, Default)]
pub struct InMemoryDriver {
    objects: Objects,
}

impl InMemoryDriver {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn not_found(p: &str) -> StorageError {
    StorageError::NotFound {
        driver: NAME,
        path: p.to_string(),
    }
}

fn dir_prefix(p: &str) -> String {
    if p == "/" {
        "/".to_string()
    } else {
        format!("{p}/")
    }
}

impl InMemoryDriver {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Object>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl StorageDriver for InMemoryDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_content(&self, p: &str) -> Result<Bytes> {
        path::check(p)?;
        self.lock()
            .get(p)
            .map(|o| o.data.clone())
            .ok_or_else(|| not_found(p))
    }

    async fn put_content(&self, p: &str, content: Bytes) -> Result<()> {
        path::check(p)?;
        self.lock().insert(
            p.to_string(),
            Object {
                data: content,
                modified: SystemTime::now(),
            },
        );
        Ok(())
    }

    async fn reader(&self, p: &str, offset: u64) -> Result<ByteStream> {
        let data = self.get_content(p).await?;
        if offset > data.len() as u64 {
            return Err(StorageError::InvalidOffset {
                driver: NAME,
                path: p.to_string(),
                offset,
            });
        }
        let rest = data.slice(offset as usize..);
        Ok(Box::pin(futures::stream::iter([Ok(rest)])))
    }

    async fn writer(&self, p: &str, append: bool) -> Result<Box<dyn FileWriter>> {
        path::check(p)?;
        let mut buffer = BytesMut::new();
        if append && let Some(existing) = self.lock().get(p) {
            buffer.extend_from_slice(&existing.data);
        }
        Ok(Box::new(MemWriter {
            objects: self.objects.clone(),
            path: p.to_string(),
            buffer,
        }))
    }

    async fn stat(&self, p: &str) -> Result<FileInfo> {
        path::check(p)?;
        let objects = self.lock();
        if let Some(o) = objects.get(p) {
            return Ok(FileInfo {
                path: p.to_string(),
                size: o.data.len() as u64,
                modified: o.modified,
                is_dir: false,
            });
        }
        let prefix = dir_prefix(p);
        let newest = objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, o)| o.modified)
            .max();
        match newest {
            Some(modified) => Ok(FileInfo {
                path: p.to_string(),
                size: 0,
                modified,
                is_dir: true,
            }),
            None => Err(not_found(p)),
        }
    }

    async fn list(&self, p: &str) -> Result<Vec<String>> {
        path::check(p)?;
        let prefix = dir_prefix(p);
        let objects = self.lock();
        let mut children: Vec<String> = Vec::new();
        for key in objects
            .range(prefix.clone()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&prefix))
        {
            let rest = &key[prefix.len()..];
            let child = rest.split('/').next().unwrap_or(rest);
            let full = format!("{prefix}{child}");
            if children.last() != Some(&full) {
                children.push(full);
            }
        }
        if children.is_empty() && p != "/" {
            return Err(not_found(p));
        }
        Ok(children)
    }

    async fn move_object(&self, source: &str, dest: &str) -> Result<()> {
        path::check(source)?;
        path::check(dest)?;
        let mut objects = self.lock();
        let object = objects.remove(source).ok_or_else(|| not_found(source))?;
        objects.insert(dest.to_string(), object);
        Ok(())
    }

    async fn delete(&self, p: &str) -> Result<()> {
        path::check(p)?;
        let mut objects = self.lock();
        if objects.remove(p).is_some() {
            return Ok(());
        }
        let prefix = dir_prefix(p);
        let doomed: Vec<String> = objects
            .range(prefix.clone()..)
            .map(|(k, _)| k.clone())
            .take_while(|k| k.starts_with(&prefix))
            .collect();
        if doomed.is_empty() {
            return Err(not_found(p));
        }
        for key in doomed {
            objects.remove(&key);
        }
        Ok(())
    }
}

struct MemWriter {
    objects: Objects,
    path: String,
    buffer: BytesMut,
}

#[async_trait]
impl FileWriter for MemWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.buffer.extend_from_slice(&data);
        Ok(())
    }

    fn size(&self) -> u64 {
        self.buffer.len() as u64
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.insert(
            self.path,
            Object {
                data: self.buffer.freeze(),
                modified: SystemTime::now(),
            },
        );
        Ok(())
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.remove(&self.path);
        Ok(())
    }
}
