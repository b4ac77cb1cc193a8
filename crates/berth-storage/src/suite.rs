//! The one behaviour suite every driver must pass, run unchanged against each
//! driver (in-process ones here, cloud ones against real servers). Each check
//! works below its own `prefix`, so drivers pointed at shared buckets don't
//! trip over each other.

use bytes::Bytes;
use futures::StreamExt;

use crate::{StorageDriver, StorageError};

/// Runs every check against `driver`, below `prefix` (e.g. `/suite-<uuid>`).
pub async fn run_all(driver: &dyn StorageDriver, prefix: &str) {
    put_and_get(driver, prefix).await;
    not_found(driver, prefix).await;
    reader_at_offset(driver, prefix).await;
    writer_append_commit_cancel(driver, prefix).await;
    stat_files_and_dirs(driver, prefix).await;
    list_children(driver, prefix).await;
    move_replaces(driver, prefix).await;
    delete_tree(driver, prefix).await;
    unusual_names(driver, prefix).await;
    invalid_paths(driver).await;
    concurrent_writers(driver, prefix).await;
    large_object(driver, prefix).await;
    large_append_across_commits(driver, prefix).await;
    append_across_closes(driver, prefix).await;
    walk_tree(driver, prefix).await;
    redirect(driver, prefix).await;
    driver.delete(prefix).await.ok();
}

/// Bytes from a seed, the same for the same arguments.
pub fn pattern(seed: u8, len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn read_all(driver: &dyn StorageDriver, path: &str, offset: u64) -> Vec<u8> {
    let mut stream = driver.reader(path, offset).await.expect("open reader");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("read chunk"));
    }
    out
}

async fn put_and_get(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/put/a/b/object");
    d.put_content(&p, "first".into()).await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "first");
    d.put_content(&p, "second, longer".into()).await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "second, longer");
    d.put_content(&p, Bytes::new()).await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "");
}

async fn not_found(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/missing/object");
    let is_nf = |r: Result<(), StorageError>| matches!(r, Err(e) if e.is_not_found());
    assert!(is_nf(d.get_content(&p).await.map(drop)));
    assert!(is_nf(d.stat(&p).await.map(drop)));
    assert!(is_nf(d.reader(&p, 0).await.map(drop)));
    assert!(is_nf(d.delete(&p).await));
    assert!(is_nf(d.move_object(&p, &format!("{p}2")).await));
}

async fn reader_at_offset(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/reader/object");
    let data = pattern(7, 300_000);
    d.put_content(&p, data.clone()).await.unwrap();
    assert_eq!(read_all(d, &p, 0).await, data);
    assert_eq!(read_all(d, &p, 123_457).await, data[123_457..]);
    assert!(read_all(d, &p, 300_000).await.is_empty());
    assert!(matches!(
        d.reader(&p, 300_001).await.map(drop),
        Err(StorageError::InvalidOffset {
            offset: 300_001,
            ..
        })
    ));
}

async fn writer_append_commit_cancel(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/writer/object");
    let mut w = d.writer(&p, false).await.unwrap();
    w.write("hello ".into()).await.unwrap();
    w.write("world".into()).await.unwrap();
    assert_eq!(w.size(), 11);
    w.commit().await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "hello world");

    let mut w = d.writer(&p, true).await.unwrap();
    assert_eq!(
        w.size(),
        11,
        "an appending writer starts at the current size"
    );
    w.write("!".into()).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "hello world!");
    assert_eq!(d.stat(&p).await.unwrap().size, 12);

    let mut w = d.writer(&p, false).await.unwrap();
    assert_eq!(w.size(), 0, "a replacing writer starts empty");
    w.write("replaced".into()).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(d.get_content(&p).await.unwrap(), "replaced");

    let c = format!("{prefix}/writer/cancelled");
    let mut w = d.writer(&c, false).await.unwrap();
    w.write("gone".into()).await.unwrap();
    w.cancel().await.unwrap();
    assert!(d.stat(&c).await.unwrap_err().is_not_found());
}

async fn stat_files_and_dirs(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/stat/dir/file");
    d.put_content(&p, pattern(1, 1000)).await.unwrap();
    let file = d.stat(&p).await.unwrap();
    assert_eq!((file.size, file.is_dir), (1000, false));
    let dir = d.stat(&format!("{prefix}/stat/dir")).await.unwrap();
    assert!(dir.is_dir);
}

async fn list_children(d: &dyn StorageDriver, prefix: &str) {
    let base = format!("{prefix}/list");
    for name in ["a", "b/x", "b/y", "c/d/e"] {
        d.put_content(&format!("{base}/{name}"), "x".into())
            .await
            .unwrap();
    }
    let mut children = d.list(&base).await.unwrap();
    children.sort();
    assert_eq!(
        children,
        ["a", "b", "c"].map(|c| format!("{base}/{c}")).to_vec()
    );
    let mut under_b = d.list(&format!("{base}/b")).await.unwrap();
    under_b.sort();
    assert_eq!(under_b, vec![format!("{base}/b/x"), format!("{base}/b/y")]);
    assert!(
        d.list(&format!("{base}/nothing"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn move_replaces(d: &dyn StorageDriver, prefix: &str) {
    let src = format!("{prefix}/move/src");
    let dst = format!("{prefix}/move/elsewhere/dst");
    d.put_content(&dst, "old".into()).await.unwrap();
    d.put_content(&src, "new".into()).await.unwrap();
    d.move_object(&src, &dst).await.unwrap();
    assert_eq!(d.get_content(&dst).await.unwrap(), "new");
    assert!(d.stat(&src).await.unwrap_err().is_not_found());
}

async fn delete_tree(d: &dyn StorageDriver, prefix: &str) {
    let base = format!("{prefix}/delete");
    for name in ["keep", "tree/a", "tree/b/c", "tree-sibling"] {
        d.put_content(&format!("{base}/{name}"), "x".into())
            .await
            .unwrap();
    }
    d.delete(&format!("{base}/tree")).await.unwrap();
    assert!(
        d.stat(&format!("{base}/tree/b/c"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(d.stat(&format!("{base}/tree-sibling")).await.is_ok());
    assert!(d.stat(&format!("{base}/keep")).await.is_ok());
}

async fn unusual_names(d: &dyn StorageDriver, prefix: &str) {
    for name in [
        "with space",
        "ünïcødé",
        "a+b=c",
        "semi;colon",
        "percent%41",
        "tag.v1_2-3",
    ] {
        let p = format!("{prefix}/names/{name}");
        d.put_content(&p, Bytes::from(name.to_string()))
            .await
            .unwrap();
        assert_eq!(d.get_content(&p).await.unwrap(), name);
        let listed = d.list(&format!("{prefix}/names")).await.unwrap();
        assert!(listed.contains(&p), "{p} not in {listed:?}");
    }
}

async fn invalid_paths(d: &dyn StorageDriver) {
    for p in ["relative", "/a/../b", "/a//b", "/trailing/"] {
        assert!(
            matches!(
                d.put_content(p, "x".into()).await,
                Err(StorageError::InvalidPath { .. })
            ),
            "{p:?} must be refused"
        );
    }
}

async fn concurrent_writers(d: &dyn StorageDriver, prefix: &str) {
    let writes = (0..8u8).map(|i| async move {
        let p = format!("{prefix}/concurrent/same");
        d.put_content(&p, pattern(i, 64 * 1024)).await.unwrap();
    });
    futures::future::join_all(writes).await;
    let data = d
        .get_content(&format!("{prefix}/concurrent/same"))
        .await
        .unwrap();
    assert!(
        (0..8).any(|i| data == pattern(i, 64 * 1024)),
        "concurrent whole-object writes must leave exactly one writer's bytes"
    );
}

async fn large_object(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/large/object");
    let chunk = pattern(3, 1024 * 1024);
    let mut w = d.writer(&p, false).await.unwrap();
    for _ in 0..24 {
        w.write(chunk.clone()).await.unwrap();
    }
    w.commit().await.unwrap();
    assert_eq!(d.stat(&p).await.unwrap().size, 24 * 1024 * 1024);
    let tail = read_all(d, &p, 23 * 1024 * 1024).await;
    assert_eq!(tail, chunk);
}

/// A chunked upload as the registry does it: each request appends and
/// commits; a later writer (maybe in a restarted process) appends more. Parts
/// larger than a multipart threshold must survive the round trips.
async fn large_append_across_commits(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/resumed/object");
    let sizes = [7 * 1024 * 1024, 1024, 6 * 1024 * 1024 + 17, 3];
    let mut expected = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let mut w = d.writer(&p, i > 0).await.unwrap();
        assert_eq!(
            w.size(),
            expected.len() as u64,
            "append {i} starts at the end"
        );
        let part = pattern(i as u8 + 40, size);
        // Several writes per request, of uneven sizes.
        let (a, b) = part.split_at(size / 3);
        w.write(Bytes::copy_from_slice(a)).await.unwrap();
        w.write(Bytes::copy_from_slice(b)).await.unwrap();
        expected.extend_from_slice(&part);
        assert_eq!(w.size(), expected.len() as u64);
        w.commit().await.unwrap();
        assert_eq!(d.stat(&p).await.unwrap().size, expected.len() as u64);
    }
    let got = read_all(d, &p, 0).await;
    assert!(
        got == expected,
        "appended object differs from what was written"
    );
}

/// A chunked upload as the registry does it: each PATCH opens an appending
/// writer, writes and closes it (the bytes need not be readable yet), a
/// status request opens and closes one without writing, and the last
/// request commits. Chunks under and over S3's 5 MiB part minimum, in any
/// order, must come out whole; deleting a closed upload leaves nothing.
async fn append_across_closes(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/closed/object");
    let sizes = [
        6 * 1024 * 1024,
        1024,
        0,
        7 * 1024 * 1024 + 5,
        3,
        11 * 1024 * 1024,
    ];
    let mut expected = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let mut w = d.writer(&p, true).await.unwrap();
        assert_eq!(
            w.size(),
            expected.len() as u64,
            "writer {i} starts where the closed ones ended"
        );
        let part = pattern(i as u8 + 90, size);
        let (a, b) = part.split_at(size / 2);
        w.write(Bytes::copy_from_slice(a)).await.unwrap();
        w.write(Bytes::copy_from_slice(b)).await.unwrap();
        expected.extend_from_slice(&part);
        assert_eq!(w.size(), expected.len() as u64);
        w.close().await.unwrap();
    }
    let w = d.writer(&p, true).await.unwrap();
    assert_eq!(w.size(), expected.len() as u64);
    w.commit().await.unwrap();
    assert_eq!(d.stat(&p).await.unwrap().size, expected.len() as u64);
    let got = read_all(d, &p, 0).await;
    assert!(got == expected, "closed-and-resumed object differs");

    let gone = format!("{prefix}/closed/deleted");
    let mut w = d.writer(&gone, true).await.unwrap();
    w.write(pattern(7, 6 * 1024 * 1024)).await.unwrap();
    w.close().await.unwrap();
    d.delete(&gone).await.unwrap();
    let w = d.writer(&gone, true).await.unwrap();
    assert_eq!(w.size(), 0, "a deleted upload does not come back");
    w.cancel().await.unwrap();
}

async fn walk_tree(d: &dyn StorageDriver, prefix: &str) {
    let base = format!("{prefix}/walk");
    let files = ["a", "b/c", "b/d/e", "b/d/f", "g/h"];
    for f in files {
        d.put_content(&format!("{base}/{f}"), "x".into())
            .await
            .unwrap();
    }
    let mut walked = crate::walk(d, &base).await.unwrap();
    walked.sort();
    let mut expected: Vec<String> = files.iter().map(|f| format!("{base}/{f}")).collect();
    expected.sort();
    assert_eq!(walked, expected);
}

async fn redirect(d: &dyn StorageDriver, prefix: &str) {
    let p = format!("{prefix}/redirect/object");
    let data = pattern(9, 100_000);
    d.put_content(&p, data.clone()).await.unwrap();
    let Some(url) = d.redirect_url(&p).await.unwrap() else {
        return;
    };
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let response = client
        .get(&url)
        .send()
        .await
        .expect("fetch the redirect URL");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let body = response.bytes().await.unwrap();
    assert!(body == data, "the redirect URL serves other bytes");
    let ranged = client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206, "redirect URLs honour Range");
    assert_eq!(ranged.bytes().await.unwrap(), data.slice(10..20));
}
