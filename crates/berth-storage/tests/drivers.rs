//! The driver suite against the in-process drivers.

use berth_storage::{filesystem::FilesystemDriver, inmemory::InMemoryDriver, suite};

#[tokio::test]
async fn filesystem_driver_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let driver = FilesystemDriver::new(dir.path()).unwrap();
    suite::run_all(&driver, "/suite").await;
}

#[tokio::test]
async fn inmemory_driver_passes_the_suite() {
    suite::run_all(&InMemoryDriver::new(), "/suite").await;
}

#[tokio::test]
async fn filesystem_never_shows_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let driver = FilesystemDriver::new(dir.path()).unwrap();
    use berth_storage::StorageDriver;
    driver.put_content("/a", "x".into()).await.unwrap();
    assert_eq!(driver.list("/").await.unwrap(), vec!["/a".to_string()]);
}

#[tokio::test]
async fn filesystem_listings_follow_changes_to_quiet_directories() {
    use berth_storage::StorageDriver;
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let driver = FilesystemDriver::new(dir.path()).unwrap();
    driver.put_content("/repos/a/x", "1".into()).await.unwrap();
    // Make /repos look quiet for an hour, so its listing is kept.
    let repos = std::fs::File::open(dir.path().join("repos")).unwrap();
    repos
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    assert_eq!(driver.list("/repos").await.unwrap(), vec!["/repos/a"]);
    assert_eq!(driver.list("/repos").await.unwrap(), vec!["/repos/a"]);
    driver.put_content("/repos/b/x", "2".into()).await.unwrap();
    let mut listed = driver.list("/repos").await.unwrap();
    listed.sort();
    assert_eq!(listed, vec!["/repos/a", "/repos/b"], "a new entry is seen");
    driver.delete("/repos/a").await.unwrap();
    assert_eq!(driver.list("/repos").await.unwrap(), vec!["/repos/b"]);
}
