//! The registry under stress a user would notice: a crash in the middle of a
//! push, and a blob far larger than the memory the registry should need.
//!
//! Every scenario runs against `berthd` and, as the reference that proves the
//! scenario right, against CNCF Distribution.

use std::time::{Duration, Instant};

use berth_e2e::api::{Api, sha256_of_reader, text};
use berth_e2e::image::{KIB, LayerSpec, MIB, OciLayout, Platform, RandomReader};
use berth_e2e::memory::{assert_peak_rss_below, peak_rss_kib};
use berth_e2e::on_both;
use berth_e2e::registry::{Kind, Options, Registry};
use berth_e2e::skopeo::{Access, Skopeo, docker};
use berth_e2e::store::Store;

on_both!(
    crash_mid_upload_loses_nothing_committed,
    crash_as_an_upload_completes_loses_nothing_committed,
    memory_stays_flat_while_a_large_blob_streams,
);

/// When the registry is killed during a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillPoint {
    /// Once the first MiB of the big layer is on disk under `_uploads`.
    MidUpload,
    /// Once the whole big layer has arrived (or was already moved into the
    /// blob store, or the push finished): the commit, the move into
    /// `blobs/` and the manifest PUT are all around this moment.
    UploadComplete,
}

fn crash_mid_upload_loses_nothing_committed(kind: Kind) {
    crash_during_push(kind, KillPoint::MidUpload);
}

fn crash_as_an_upload_completes_loses_nothing_committed(kind: Kind) {
    crash_during_push(kind, KillPoint::UploadComplete);
}

/// Kills the registry with SIGKILL during a push of a large image, restarts
/// it, and checks that what was committed before is intact, the interrupted
/// tag is absent or whole, the store holds nothing partial, and the same
/// push then succeeds.
fn crash_during_push(kind: Kind, when: KillPoint) {
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(mut registry) = Registry::start(kind, Options::default()) else {
        return;
    };
    let store = Store::new(registry.root());
    let host = registry.host();
    let access = Access::insecure();
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let committed = source.add_image(
        "stable",
        Platform::LINUX_AMD64,
        &[
            LayerSpec::new(81, MIB),
            LayerSpec::new(82, 4 * MIB),
            LayerSpec::new(83, 64 * KIB),
        ],
    );
    let committed_index = source.add_index(
        "stable-multi",
        &[Platform::LINUX_AMD64, Platform::LINUX_ARM64],
        LayerSpec::new(81, MIB),
        84,
        256 * KIB,
    );
    // Large enough that the push takes a while on loopback, so the kill
    // lands while the big layer is still arriving.
    let big = source.add_image(
        "big",
        Platform::LINUX_AMD64,
        &[LayerSpec::new(85, 64 * KIB), LayerSpec::new(86, 256 * MIB)],
    );
    skopeo.push(&source, "stable", &docker(&host, "e2e/stable:v1"), &access);
    skopeo.push(
        &source,
        "stable-multi",
        &docker(&host, "e2e/stable:multi"),
        &access,
    );

    let big_remote = docker(&host, "e2e/crash:big");
    let uploads = store.uploads("e2e/crash");
    let big_layer = big.layers[1].descriptor.clone();
    let big_blob = store.blob_data(&big_layer.digest);
    let interrupted = std::thread::scope(|scope| {
        let push = scope.spawn(|| skopeo.try_push(&source, "big", &big_remote, &access));
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let arrived = store.upload_bytes("e2e/crash");
            let due = match when {
                KillPoint::MidUpload => arrived >= MIB,
                KillPoint::UploadComplete => {
                    arrived >= big_layer.size || big_blob.exists() || push.is_finished()
                }
            };
            if due {
                eprintln!(
                    "{arrived} bytes of upload data on disk, big layer committed: {}, \
                     push finished: {}: killing {kind:?}",
                    big_blob.exists(),
                    push.is_finished()
                );
                registry.kill();
                break;
            }
            if push.is_finished() {
                let outcome = push.join().unwrap();
                panic!(
                    "the push ended before 1 MiB of upload data appeared under {} \
                     (uploads must stream into the store's _uploads): {outcome:?}",
                    uploads.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the kill point {when:?} was not reached within 300 s; {arrived} bytes \
                 under {}",
                uploads.display()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        push.join().unwrap().is_err()
    });
    eprintln!("push interrupted: {interrupted}");
    store.assert_blobs_whole();
    store.assert_manifests_complete();

    registry.restart();

    let pulled = skopeo.pull(
        &docker(&host, "e2e/stable:v1"),
        &work.path().join("stable"),
        "v1",
        &access,
        false,
    );
    pulled.assert_holds_image("v1", &committed);
    let pulled = skopeo.pull(
        &docker(&host, "e2e/stable:multi"),
        &work.path().join("stable-multi"),
        "multi",
        &access,
        true,
    );
    pulled.assert_holds_index("multi", &committed_index);
    match skopeo.try_inspect_raw(&big_remote, &access) {
        Err(failure) => assert!(
            failure.stderr.contains("manifest unknown"),
            "the interrupted tag is simply unknown after the restart: {failure}"
        ),
        Ok(raw) => {
            // The kill came after the manifest was stored: then it must be
            // whole and all its blobs servable.
            assert_eq!(raw, source.read_blob(&big.manifest.digest));
            let pulled = skopeo.pull(
                &big_remote,
                &work.path().join("early"),
                "big",
                &access,
                false,
            );
            pulled.assert_holds_image("big", &big);
        }
    }

    skopeo
        .try_push(&source, "big", &big_remote, &access)
        .unwrap_or_else(|failure| panic!("the same push succeeds after the restart: {failure}"));
    let pulled = skopeo.pull(&big_remote, &work.path().join("big"), "big", &access, false);
    pulled.assert_holds_image("big", &big);
    store.assert_blobs_whole();
    store.assert_manifests_complete();
}

fn memory_stays_flat_while_a_large_blob_streams(kind: Kind) {
    // Streams, never whole blobs in memory (DESIGN.md). 100 MiB is a fifth of
    // the blob: room for a runtime, connection buffers and a hash state,
    // while a registry that held even part of the blob in memory would pass
    // it. Distribution, the reference, peaks well below it.
    const BOUND_KIB: u64 = 100 * 1024;
    const BLOB: u64 = 512 * MIB;
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(registry) = Registry::start(kind, Options::default()) else {
        return;
    };
    let pid = registry.pid().expect("registry is running");
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("large", Platform::LINUX_AMD64, &[LayerSpec::new(91, BLOB)]);
    eprintln!("{kind:?} peak RSS after start: {} KiB", peak_rss_kib(pid));

    // 1. skopeo's push: one PATCH streaming the whole layer.
    let remote = docker(&registry.host(), "e2e/large:v1");
    skopeo.push(&source, "large", &remote, &Access::insecure());
    assert_peak_rss_below(
        pid,
        BOUND_KIB,
        &format!("while skopeo pushed a {} MiB layer to {kind:?}", BLOB / MIB),
    );

    // 2. A monolithic upload: POST, then one PUT whose body is the blob.
    let api = Api::new(registry.url());
    let (digest, _) = sha256_of_reader(RandomReader::new(92, BLOB)).unwrap();
    let location = api.start_upload_location("e2e/large");
    let put = api.finish_upload_streamed(&location, &digest, RandomReader::new(92, BLOB), BLOB);
    assert_eq!(
        put.status().as_u16(),
        201,
        "monolithic PUT of {BLOB} bytes: {}",
        text(put)
    );
    assert_peak_rss_below(
        pid,
        BOUND_KIB,
        &format!("during a monolithic PUT of {} MiB to {kind:?}", BLOB / MIB),
    );

    // 3. Serving it back, read and hashed as it streams.
    let get = api.get_blob("e2e/large", &digest);
    assert_eq!(get.status().as_u16(), 200, "GET the large blob");
    let (served_digest, served) = sha256_of_reader(get).expect("read the blob");
    assert_eq!(served, BLOB);
    assert_eq!(served_digest, digest);
    assert_peak_rss_below(
        pid,
        BOUND_KIB,
        &format!("while {kind:?} served a {} MiB blob", BLOB / MIB),
    );
    assert!(source.verify_blob(&image.layers[0].descriptor.digest));
}
