//! The object store suite's checks (entry point `object_store` in `mod.rs`).

use super::*;

pub(super) async fn rejects_invalid_keys(store: &dyn ObjectStore, p: &str) {
    let mut bad: Vec<String> = ["", "/", "/abs", "../escape", "..", ".", "./a"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for suffix in [
        "trail/",
        "a//b",
        "a/./b",
        "a/../b",
        "a/..",
        "sp ace",
        "tab\tx",
        "nl\nx",
        "ünï",
        "back\\slash",
        "q?x",
        "tilde~",
        "star*",
    ] {
        bad.push(format!("{p}{suffix}"));
    }
    for key in &bad {
        let v = Bytes::from_static(b"x");
        assert_backend(
            store.put(key, v.clone()).await,
            &format!("put of invalid key {key:?}"),
        );
        assert_backend(
            store.create(key, v).await,
            &format!("create of invalid key {key:?}"),
        );
        assert_backend(store.get(key).await, &format!("get of invalid key {key:?}"));
        assert_backend(
            store.delete(key).await,
            &format!("delete of invalid key {key:?}"),
        );
    }
    let written = store.list(p).await.expect("list after invalid keys");
    assert!(written.is_empty(), "invalid keys were stored: {written:?}");
    // A prefix is not a key: any string is a valid question, and an escaping one
    // finds nothing rather than reaching outside the store.
    for prefix in ["../", "/", "a//", &format!("{p}../")] {
        let found = store.list(prefix).await;
        assert!(
            matches!(&found, Ok(keys) if keys.is_empty()),
            "list({prefix:?}) must succeed with no keys, got {found:?}"
        );
    }
}

pub(super) async fn missing_objects(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}missing/object");
    assert_not_found(store.get(&key).await, "get of a missing key");
    assert!(
        store.delete(&key).await.is_ok(),
        "delete of a missing key must be Ok"
    );
    assert!(
        store.delete(&key).await.is_ok(),
        "repeated delete of a missing key must be Ok"
    );
    let found = store
        .list(&format!("{p}missing/"))
        .await
        .expect("list of an empty prefix");
    assert!(
        found.is_empty(),
        "list of an empty prefix returned {found:?}"
    );
}

pub(super) async fn put_and_get(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}obj/plain.db");
    store
        .put(&key, Bytes::from_static(b"first"))
        .await
        .expect("put");
    assert_bytes(store.get(&key).await, b"first", "get after put");
    store
        .put(&key, Bytes::from_static(b"second, longer"))
        .await
        .expect("put over an existing key");
    assert_bytes(
        store.get(&key).await,
        b"second, longer",
        "get after overwriting put",
    );
    store
        .put(&key, Bytes::from_static(b"3"))
        .await
        .expect("put of shorter bytes");
    assert_bytes(
        store.get(&key).await,
        b"3",
        "get after shrinking put (no stale tail)",
    );

    let empty = format!("{p}obj/empty");
    store
        .put(&empty, Bytes::new())
        .await
        .expect("put of empty bytes");
    assert_bytes(store.get(&empty).await, b"", "get of an empty object");

    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let bin_key = format!("{p}obj/binary_-.x");
    store
        .put(&bin_key, Bytes::from(binary.clone()))
        .await
        .expect("put of binary bytes");
    assert_bytes(store.get(&bin_key).await, &binary, "get of binary bytes");
}

pub(super) async fn create_is_conditional(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}create/one");
    store
        .create(&key, Bytes::from_static(b"v1"))
        .await
        .expect("create of a new key");
    assert_bytes(store.get(&key).await, b"v1", "get after create");
    assert_exists(
        store.create(&key, Bytes::from_static(b"v2")).await,
        "second create of a key",
    );
    assert_bytes(
        store.get(&key).await,
        b"v1",
        "a losing create must leave the old bytes",
    );

    let put_key = format!("{p}create/put-first");
    store
        .put(&put_key, Bytes::from_static(b"put"))
        .await
        .expect("put");
    assert_exists(
        store.create(&put_key, Bytes::from_static(b"c")).await,
        "create of a put key",
    );
    assert_bytes(
        store.get(&put_key).await,
        b"put",
        "a losing create must leave put bytes",
    );

    store
        .put(&key, Bytes::from_static(b"v3"))
        .await
        .expect("put over a created key");
    assert_bytes(store.get(&key).await, b"v3", "put replaces a created key");

    store.delete(&key).await.expect("delete");
    store
        .create(&key, Bytes::from_static(b"v4"))
        .await
        .expect("create after delete");
    assert_bytes(store.get(&key).await, b"v4", "get after re-create");

    let empty = format!("{p}create/empty");
    store
        .create(&empty, Bytes::new())
        .await
        .expect("create of empty bytes");
    assert_exists(
        store.create(&empty, Bytes::new()).await,
        "create over an empty object",
    );
}

pub(super) async fn concurrent_creates_have_one_winner(store: &dyn ObjectStore, p: &str) {
    for round in 0..4 {
        let key = format!("{p}race/key-{round}");
        let payload = |i: usize| Bytes::from(format!("racer {i} of round {round}").repeat(100));
        let results = join_all((0..RACERS).map(|i| store.create(&key, payload(i)))).await;
        let winner = one_winner(&results, &format!("{RACERS} concurrent creates of {key}"));
        assert_bytes(
            store.get(&key).await,
            &payload(winner),
            "the winning create's bytes",
        );
    }
}

pub(super) async fn list_filters_and_sorts(store: &dyn ObjectStore, p: &str) {
    // Written out of order; the expected order is by bytes of the whole key:
    // '-' < '.' < '/' < letters, so a "directory" sorts between its siblings.
    let names = [
        "list/c",
        "list/b/d/e",
        "list/ba",
        "list/a",
        "list/b.x",
        "list/b/c",
        "list/b-x",
    ];
    for name in names {
        store
            .put(&format!("{p}{name}"), Bytes::from(name))
            .await
            .expect("put for list");
    }
    let keys = |v: &[&str]| v.iter().map(|n| format!("{p}{n}")).collect::<Vec<_>>();
    let all = keys(&[
        "list/a",
        "list/b-x",
        "list/b.x",
        "list/b/c",
        "list/b/d/e",
        "list/ba",
        "list/c",
    ]);
    let cases: [(String, Vec<String>); 8] = [
        (format!("{p}list/"), all.clone()),
        (format!("{p}list"), all),
        (
            format!("{p}list/b"),
            keys(&["list/b-x", "list/b.x", "list/b/c", "list/b/d/e", "list/ba"]),
        ),
        (format!("{p}list/b/"), keys(&["list/b/c", "list/b/d/e"])),
        (format!("{p}list/b/d"), keys(&["list/b/d/e"])),
        (format!("{p}list/a"), keys(&["list/a"])),
        (format!("{p}list/ab"), vec![]),
        (format!("{p}list/zz/"), vec![]),
    ];
    for (prefix, expected) in cases {
        let got = store.list(&prefix).await.expect("list");
        assert_eq!(
            got, expected,
            "list({prefix:?}) must return exactly the matching keys, sorted"
        );
    }
    // A key's parent "directory" is not an object.
    let dir = format!("{p}list/b");
    assert_not_found(store.get(&dir).await, "get of a prefix that is no key");
    store
        .delete(&dir)
        .await
        .expect("delete of a prefix that is no key");
    let under = store.list(&format!("{dir}/")).await.expect("list");
    assert_eq!(
        under.len(),
        2,
        "deleting a non-key prefix must not touch keys under it"
    );
}

pub(super) async fn delete_removes(store: &dyn ObjectStore, p: &str) {
    let key = format!("{p}list/b/c");
    store.delete(&key).await.expect("delete");
    assert_not_found(store.get(&key).await, "get after delete");
    assert!(store.delete(&key).await.is_ok(), "second delete must be Ok");
    let listed = store
        .list(&format!("{p}list/"))
        .await
        .expect("list after delete");
    assert!(
        !listed.contains(&key),
        "list still shows deleted {key}: {listed:?}"
    );
    assert!(
        listed.contains(&format!("{p}list/b/d/e")),
        "delete removed a neighbour: {listed:?}"
    );
    // Deleting the last key under a prefix and writing there again works.
    let deep = format!("{p}list/b/d/e");
    store.delete(&deep).await.expect("delete");
    store
        .put(&deep, Bytes::from_static(b"again"))
        .await
        .expect("put after delete");
    assert_bytes(
        store.get(&deep).await,
        b"again",
        "get after put into a deleted prefix",
    );
}

pub(super) async fn put_is_atomic(store: &dyn ObjectStore, p: &str) {
    const SIZE: usize = 1 << 20;
    const PUTS: usize = 24;
    let key = format!("{p}atomic/blob");
    // Two patterns that differ at almost every byte, so a torn read shows.
    let a = Bytes::from((0..SIZE).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let b = Bytes::from(
        (0..SIZE)
            .map(|i| ((i * 7 + 3) % 253) as u8)
            .collect::<Vec<_>>(),
    );
    store.put(&key, a.clone()).await.expect("initial put");

    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    let writer = async {
        for i in 0..PUTS {
            let v = if i % 2 == 0 { b.clone() } else { a.clone() };
            store.put(&key, v).await.expect("put during reads");
        }
        done.store(true, Ordering::SeqCst);
    };
    let reader = async {
        loop {
            let finished = done.load(Ordering::SeqCst);
            let got = store.get(&key).await.expect("get during puts");
            reads.fetch_add(1, Ordering::Relaxed);
            if got != a && got != b {
                let torn_at = got.iter().zip(a.iter()).position(|(x, y)| x != y);
                panic!(
                    "put is not atomic: a get during puts returned {} bytes matching neither \
                     value (first byte differing from one value at {torn_at:?})",
                    got.len()
                );
            }
            if finished {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(writer, reader);
    assert!(reads.load(Ordering::Relaxed) > 0, "the reader never ran");
    let last = store.get(&key).await.expect("get after puts");
    assert!(
        last == a,
        "after the puts, get must return the last value put"
    );
}

/// Two handles on one store (two processes, two clients) racing the conditional
/// create of one key from spawned tasks, `rounds` times: exactly one create wins
/// each round, every other gets `AlreadyExists`, and the stored bytes are the
/// winner's. Takes owned handles because real races need `tokio::spawn`; the
/// round count is the argument a slow backend (an emulator) turns down.
pub async fn object_store_create_race(
    one: std::sync::Arc<dyn ObjectStore>,
    two: std::sync::Arc<dyn ObjectStore>,
    rounds: usize,
) {
    let run = run_id();
    for round in 0..rounds {
        let key = format!("conformance/{run}/race-{round}.db");
        let tasks: Vec<_> = (0..16u8)
            .map(|i| {
                let store = if i % 2 == 0 { one.clone() } else { two.clone() };
                let key = key.clone();
                tokio::spawn(async move { store.create(&key, Bytes::from(vec![i; 4096])).await })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("create task") {
                Ok(()) => winners.push(i),
                Err(StorageError::AlreadyExists(_)) => {}
                Err(e) => panic!("round {round}: create {i} failed with {e:?}, not AlreadyExists"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let got = two.get(&key).await.expect("get the raced key");
        assert_eq!(
            got,
            Bytes::from(vec![winners[0] as u8; 4096]),
            "round {round}: the winner's bytes"
        );
        one.delete(&key).await.expect("clean up");
    }
}
