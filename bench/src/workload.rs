//! Running many registry calls at a fixed concurrency and timing each one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::task::JoinSet;

/// Runs `op(0..total)` on `concurrency` tasks, each taking the next index
/// when its last call finished (a closed loop, like a pool of clients).
/// Returns every call's latency; the first error stops the run.
pub async fn run_concurrently<F, Fut>(
    concurrency: usize,
    total: usize,
    op: F,
) -> Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.clamp(1, total.max(1)) {
        let op = op.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(total / concurrency + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let started = Instant::now();
                op(i).await?;
                latencies.push(started.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(done) = workers.join_next().await {
        all.extend(done??);
    }
    Ok(all)
}
