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
