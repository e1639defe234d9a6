//! The filesystem object store: the conformance suite, several handles on one
//! root, leftover temp files, keys that would reach outside the root.

use std::fs;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use shared::storage::fs::FsObjectStore;
use shared::storage::{conformance, ObjectStore, StorageError};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_object_store_passes_conformance() {
    let dir = tempdir();
    let store = FsObjectStore::open(dir.path()).expect("open");
    conformance::object_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_object_store_passes_conformance_twice_at_once_on_one_root() {
    // Two handles on one root, as two processes would have, each running the
    // suite while the other's keys are present.
    let dir = tempdir();
    let one = FsObjectStore::open(dir.path()).expect("open");
    let two = FsObjectStore::open(dir.path()).expect("open");
    tokio::join!(
        conformance::object_store(&one),
        conformance::object_store(&two)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_creates_racing_from_two_handles_have_one_winner() {
    let dir = tempdir();
    conformance::object_store_create_race(
        Arc::new(FsObjectStore::open(dir.path()).expect("open")),
        Arc::new(FsObjectStore::open(dir.path()).expect("open")),
        20,
    )
    .await;
}

#[tokio::test]
async fn fs_ignores_leftover_temp_and_stray_files() {
    let dir = tempdir();
    let store = FsObjectStore::open(dir.path()).expect("open");
    store
        .put("images/a.db", Bytes::from_static(b"a"))
        .await
        .expect("put");
    // What a crash mid-put or mid-create leaves, plus files no key can name.
    let tmp = dir.path().join(FsObjectStore::TEMP_DIR);
    fs::write(tmp.join("12345-0-00000000deadbeef"), b"half-written").expect("write temp");
    fs::write(dir.path().join("stray file.txt"), b"x").expect("write stray");
    fs::write(dir.path().join("images").join("bad~name"), b"x").expect("write stray");

    let reopened = FsObjectStore::open(dir.path()).expect("open with leftovers");
    assert_eq!(reopened.list("").await.expect("list"), ["images/a.db"]);
    assert_eq!(
        reopened.list("images/").await.expect("list"),
        ["images/a.db"]
    );
    assert_eq!(
        reopened.get("images/a.db").await.expect("get"),
        Bytes::from_static(b"a")
    );
    reopened
        .put("images/b.db", Bytes::from_static(b"b"))
        .await
        .expect("put beside leftovers");
    reopened
        .create("images/c.db", Bytes::from_static(b"c"))
        .await
        .expect("create beside leftovers");
    assert_eq!(
        reopened.list("").await.expect("list"),
        ["images/a.db", "images/b.db", "images/c.db"]
    );
    // Our own writes leave no temp files behind.
    let temps: Vec<_> = fs::read_dir(&tmp)
        .expect("read tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        temps.len(),
        1,
        "only the planted leftover should remain: {temps:?}"
    );
}

#[tokio::test]
async fn fs_open_sweeps_stale_temp_files_and_keeps_fresh_ones() {
    let dir = tempdir();
    FsObjectStore::open(dir.path()).expect("open");
    let tmp = dir.path().join(FsObjectStore::TEMP_DIR);
    let stale = tmp.join("1-0-stale");
    let fresh = tmp.join("1-1-fresh");
    fs::write(&stale, b"old").expect("write");
    fs::write(&fresh, b"new").expect("write");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("age the stale temp file");

    FsObjectStore::open(dir.path()).expect("reopen");
    assert!(
        !stale.exists(),
        "a temp file from a writer dead for hours must be swept"
    );
    assert!(
        fresh.exists(),
        "a fresh temp file may belong to a live writer and must stay"
    );
}

#[tokio::test]
async fn fs_invalid_keys_never_reach_outside_the_root() {
    let dir = tempdir();
    let root = dir.path().join("store");
    let store = FsObjectStore::open(&root).expect("open");
    for key in ["../outside", "a/../../outside", "/tmp/outside"] {
        assert!(matches!(
            store.put(key, Bytes::from_static(b"x")).await,
            Err(StorageError::Backend(_))
        ));
    }
    assert!(!dir.path().join("outside").exists());
    assert!(store.list("../").await.expect("list").is_empty());
}

#[tokio::test]
async fn fs_objects_survive_reopen() {
    let dir = tempdir();
    {
        let store = FsObjectStore::open(dir.path()).expect("open");
        store
            .put("snapshots/ws/snap_1", Bytes::from_static(b"snap"))
            .await
            .expect("put");
        store
            .create("images/h.db", Bytes::from_static(b"img"))
            .await
            .expect("create");
    }
    let store = FsObjectStore::open(dir.path()).expect("reopen");
    assert_eq!(
        store.get("snapshots/ws/snap_1").await.expect("get"),
        Bytes::from_static(b"snap")
    );
    assert_eq!(
        store.get("images/h.db").await.expect("get"),
        Bytes::from_static(b"img")
    );
}

#[tokio::test]
async fn fs_delete_prunes_directories_it_empties() {
    let dir = tempdir();
    let store = FsObjectStore::open(dir.path()).expect("open");
    store
        .put("snapshots/ws_1/ses_a/snap_1", Bytes::from_static(b"1"))
        .await
        .expect("put");
    store
        .put("snapshots/ws_2/snap_2", Bytes::from_static(b"2"))
        .await
        .expect("put");
    store
        .delete("snapshots/ws_1/ses_a/snap_1")
        .await
        .expect("delete");
    assert!(
        !dir.path().join("snapshots/ws_1").exists(),
        "emptied directories must go"
    );
    assert!(
        dir.path().join("snapshots/ws_2/snap_2").exists(),
        "non-empty ones stay"
    );
    assert!(dir.path().join(FsObjectStore::TEMP_DIR).exists());
    store
        .put("snapshots/ws_1/ses_a/snap_3", Bytes::from_static(b"3"))
        .await
        .expect("put again");
    assert_eq!(
        store.list("snapshots/").await.expect("list"),
        ["snapshots/ws_1/ses_a/snap_3", "snapshots/ws_2/snap_2"]
    );
}

#[tokio::test]
async fn fs_key_that_is_a_directory_of_other_keys_is_a_backend_error() {
    // The one place a directory tree cannot act as a flat key space.
    let dir = tempdir();
    let store = FsObjectStore::open(dir.path()).expect("open");
    store
        .put("a/b", Bytes::from_static(b"x"))
        .await
        .expect("put");
    assert!(matches!(
        store.put("a", Bytes::new()).await,
        Err(StorageError::Backend(_))
    ));
    assert!(matches!(
        store.create("a", Bytes::new()).await,
        Err(StorageError::Backend(_))
    ));
    assert!(matches!(
        store.get("a").await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.put("a/b/c", Bytes::new()).await,
        Err(StorageError::Backend(_))
    ));
    assert_eq!(
        store.get("a/b").await.expect("get"),
        Bytes::from_static(b"x")
    );
}
