//! Conformance suites every backend runs.
//!
//! One suite per trait, checking every point of the trait's contract, so the
//! embedded and cloud backends are interchangeable by test rather than by hope.
//! They panic with a message naming the broken contract point.
//!
//! Every run works under fresh random key prefixes, ids and workspaces and
//! cleans up after itself where the trait allows, so a suite can run against a
//! shared, non-empty backend (an S3 or DynamoDB emulator) and in parallel with
//! itself.
//!
//! "Concurrent" calls are issued together from one task and awaited jointly.
//! Backends whose calls really wait (network, `spawn_blocking`) then race for
//! real; a backend that completes synchronously runs them one after another, so
//! its cross-thread and cross-process races belong in its own tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{LogRecord, ObjectStore, SessionRow, SessionTable, StorageError, StorageResult};

/// Contenders in each race of conditional creates.
const RACERS: usize = 16;

/// Checks [`ObjectStore`]'s contract against `store`. Writes only under
/// `conformance/run-<random>/` and deletes what it wrote.
pub async fn object_store(store: &dyn ObjectStore) {
    let p = format!("conformance/run-{}/", run_id());
    rejects_invalid_keys(store, &p).await;
    missing_objects(store, &p).await;
    put_and_get(store, &p).await;
    create_is_conditional(store, &p).await;
    concurrent_creates_have_one_winner(store, &p).await;
    list_filters_and_sorts(store, &p).await;
    delete_removes(store, &p).await;
    put_is_atomic(store, &p).await;

    for key in store.list(&p).await.expect("list for cleanup") {
        store.delete(&key).await.expect("delete for cleanup");
    }
    let left = store.list(&p).await.expect("list after cleanup");
    assert!(
        left.is_empty(),
        "object_store: delete left keys behind: {left:?}"
    );
}

/// Checks [`SessionTable`]'s contract against `table`. Uses fresh workspaces and
/// session ids and deletes its sessions (usage counters cannot be deleted
/// through the trait and stay behind under the run's workspaces).
pub async fn session_table(table: &dyn SessionTable) {
    let ids = Ids::new();
    missing_sessions(table, &ids).await;
    create_and_get(table, &ids).await;
    names_unique_per_workspace(table, &ids).await;
    put_replaces_never_creates(table, &ids).await;
    list_by_workspace(table, &ids).await;
    concurrent_session_creates(table, &ids).await;
    expired_rows(table, &ids).await;
    log_append_and_read(table, &ids).await;
    concurrent_appends_have_one_winner(table, &ids).await;
    trim_log_drops_prefix(table, &ids).await;
    delete_session_removes_log(table, &ids).await;
    usage_adds_up(table, &ids).await;

    for ws in ids.workspaces() {
        for row in table.list_sessions(&ws).await.expect("list for cleanup") {
            table
                .delete_session(&row.id)
                .await
                .expect("delete for cleanup");
        }
        let left = table.list_sessions(&ws).await.expect("list after cleanup");
        assert!(
            left.is_empty(),
            "session_table: delete_session left rows: {left:?}"
        );
    }
}

// ---------------------------------------------------------------- object store

async fn rejects_invalid_keys(store: &dyn ObjectStore, p: &str) {
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

async fn missing_objects(store: &dyn ObjectStore, p: &str) {
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

async fn put_and_get(store: &dyn ObjectStore, p: &str) {
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

async fn create_is_conditional(store: &dyn ObjectStore, p: &str) {
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

async fn concurrent_creates_have_one_winner(store: &dyn ObjectStore, p: &str) {
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

async fn list_filters_and_sorts(store: &dyn ObjectStore, p: &str) {
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

async fn delete_removes(store: &dyn ObjectStore, p: &str) {
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

async fn put_is_atomic(store: &dyn ObjectStore, p: &str) {
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

// --------------------------------------------------------------- session table

/// Fresh names for one run.
struct Ids {
    run: String,
}

impl Ids {
    fn new() -> Self {
        Self { run: run_id() }
    }
    fn ws(&self, n: &str) -> String {
        format!("ws_conf_{}_{n}", self.run)
    }
    fn ses(&self, n: &str) -> String {
        format!("ses_conf_{}_{n}", self.run)
    }
    fn workspaces(&self) -> Vec<String> {
        ["a", "b", "exp"].iter().map(|n| self.ws(n)).collect()
    }
}

fn row(id: String, workspace: String, name: Option<&str>, expires_at: Option<i64>) -> SessionRow {
    let expiry = expires_at.map_or_else(|| "null".to_string(), |t| t.to_string());
    let body = format!(r#"{{"id":"{id}","note":"ünïcødé ✓","expires_at":{expiry}}}"#);
    SessionRow {
        id,
        workspace,
        name: name.map(str::to_owned),
        expires_at,
        body,
    }
}

const NAME: &str = "Nightly build ✓";

async fn missing_sessions(t: &dyn SessionTable, ids: &Ids) {
    let ghost = ids.ses("ghost");
    assert_not_found(t.get_session(&ghost).await, "get_session of a missing id");
    assert_not_found(
        t.find_session(&ids.ws("a"), "nobody").await,
        "find_session of a missing name",
    );
    assert!(
        t.delete_session(&ghost).await.is_ok(),
        "delete_session of a missing row must be Ok"
    );
    let listed = t.list_sessions(&ids.ws("a")).await.expect("list_sessions");
    assert!(
        listed.is_empty(),
        "list_sessions of a fresh workspace returned {listed:?}"
    );
    let log = t.read_log(&ghost, "stripe", 0).await;
    assert!(
        matches!(&log, Ok(v) if v.is_empty()),
        "read_log of a missing log must be Ok and empty, got {log:?}"
    );
    let usage = t.usage(&ids.ws("a")).await;
    assert!(
        matches!(&usage, Ok(v) if v.is_empty()),
        "usage of a fresh workspace must be Ok and empty, got {usage:?}"
    );
}

async fn create_and_get(t: &dyn SessionTable, ids: &Ids) {
    let named = row(ids.ses("s1"), ids.ws("a"), Some(NAME), Some(1_900_000_000));
    t.create_session(&named).await.expect("create_session");
    assert_eq!(
        t.get_session(&named.id).await.expect("get_session"),
        named,
        "row round trip"
    );
    assert_eq!(
        t.find_session(&ids.ws("a"), NAME)
            .await
            .expect("find_session"),
        named,
        "find_session by name"
    );
    let unnamed = row(ids.ses("s2"), ids.ws("a"), None, None);
    t.create_session(&unnamed)
        .await
        .expect("create_session without name or expiry");
    assert_eq!(
        t.get_session(&unnamed.id).await.expect("get_session"),
        unnamed,
        "row round trip"
    );

    // Same id, different everything else: the id alone makes it a duplicate, and
    // the losing create must leave no trace (no name taken in the other workspace).
    let clash = row(named.id.clone(), ids.ws("b"), Some("other"), None);
    assert_exists(
        t.create_session(&clash).await,
        "create_session of an existing id",
    );
    assert_eq!(
        t.get_session(&named.id).await.expect("get"),
        named,
        "a losing create changed the row"
    );
    assert_not_found(
        t.find_session(&ids.ws("b"), "other").await,
        "a losing create_session must not reserve its name",
    );
}

async fn names_unique_per_workspace(t: &dyn SessionTable, ids: &Ids) {
    let dup = row(ids.ses("s3"), ids.ws("a"), Some(NAME), None);
    assert_exists(
        t.create_session(&dup).await,
        "create_session of a taken name in the workspace",
    );
    assert_not_found(
        t.get_session(&dup.id).await,
        "a create refused for its name stored the row",
    );

    let other_ws = row(ids.ses("s4"), ids.ws("b"), Some(NAME), None);
    t.create_session(&other_ws)
        .await
        .expect("the same name in another workspace must be free");
    assert_eq!(
        t.find_session(&ids.ws("b"), NAME).await.expect("find"),
        other_ws,
        "find in ws b"
    );
    assert_eq!(
        t.find_session(&ids.ws("a"), NAME).await.expect("find").id,
        ids.ses("s1"),
        "find_session must stay within its workspace"
    );

    let unnamed = row(ids.ses("s5"), ids.ws("a"), None, None);
    t.create_session(&unnamed)
        .await
        .expect("unnamed sessions never collide on name");

    // Deleting a named session frees its name.
    t.delete_session(&other_ws.id)
        .await
        .expect("delete_session");
    let reuse = row(ids.ses("s7"), ids.ws("b"), Some(NAME), None);
    t.create_session(&reuse)
        .await
        .expect("a deleted session's name must be free again");
}

async fn put_replaces_never_creates(t: &dyn SessionTable, ids: &Ids) {
    let ghost = row(ids.ses("ghost"), ids.ws("a"), Some("ghost"), None);
    assert_not_found(t.put_session(&ghost).await, "put_session of a missing row");
    assert_not_found(
        t.get_session(&ghost.id).await,
        "put_session must never create",
    );
    assert_not_found(
        t.find_session(&ids.ws("a"), "ghost").await,
        "put_session must never create",
    );

    let mut s1 = t.get_session(&ids.ses("s1")).await.expect("get s1");
    s1.name = Some("Renamed".into());
    s1.expires_at = Some(1_900_000_600);
    s1.body = r#"{"status":"reset","n":2}"#.into();
    t.put_session(&s1).await.expect("put_session");
    assert_eq!(
        t.get_session(&s1.id).await.expect("get"),
        s1,
        "put_session must replace the row"
    );
    assert_eq!(
        t.find_session(&ids.ws("a"), "Renamed").await.expect("find"),
        s1,
        "find by new name"
    );
    assert_not_found(
        t.find_session(&ids.ws("a"), NAME).await,
        "find by the name a put replaced",
    );

    // The old name is free; taking a name another row holds is refused.
    let s6 = row(ids.ses("s6"), ids.ws("a"), Some(NAME), None);
    t.create_session(&s6)
        .await
        .expect("a name released by put_session must be free");
    let mut steal = s1.clone();
    steal.name = Some(NAME.into());
    assert_exists(
        t.put_session(&steal).await,
        "put_session renaming onto a taken name",
    );
    assert_eq!(
        t.get_session(&s1.id).await.expect("get"),
        s1,
        "a refused put changed the row"
    );
    assert_eq!(
        t.find_session(&ids.ws("a"), NAME).await.expect("find"),
        s6,
        "a refused put moved the name"
    );

    // Clearing the name releases it too.
    let mut unnamed = s1.clone();
    unnamed.name = None;
    t.put_session(&unnamed)
        .await
        .expect("put_session clearing the name");
    assert_not_found(
        t.find_session(&ids.ws("a"), "Renamed").await,
        "find by a cleared name",
    );
    s1.name = Some("Renamed".into());
    t.put_session(&s1)
        .await
        .expect("put_session naming it again");
}

async fn list_by_workspace(t: &dyn SessionTable, ids: &Ids) {
    let mut expected = Vec::new();
    for n in ["s1", "s2", "s5", "s6"] {
        expected.push(t.get_session(&ids.ses(n)).await.expect("get"));
    }
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    let got = t.list_sessions(&ids.ws("a")).await.expect("list_sessions");
    assert_eq!(
        got, expected,
        "list_sessions must return the workspace's rows ordered by id"
    );
    let b = t.list_sessions(&ids.ws("b")).await.expect("list_sessions");
    assert_eq!(
        b.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [ids.ses("s7").as_str()],
        "list_sessions must return only that workspace's rows"
    );
}

async fn concurrent_session_creates(t: &dyn SessionTable, ids: &Ids) {
    // One id, many names: one row, and the losers' names stay free.
    let id = ids.ses("race-id");
    let rows: Vec<_> = (0..RACERS)
        .map(|i| row(id.clone(), ids.ws("a"), Some(&format!("race-{i}")), None))
        .collect();
    let results = join_all(rows.iter().map(|r| t.create_session(r))).await;
    let winner = one_winner(
        &results,
        &format!("{RACERS} concurrent create_session of one id"),
    );
    assert_eq!(
        t.get_session(&id).await.expect("get"),
        rows[winner],
        "the winning create's row"
    );
    for (i, r) in rows.iter().enumerate().filter(|(i, _)| *i != winner) {
        let name = r.name.as_deref().unwrap_or_default();
        assert_not_found(
            t.find_session(&ids.ws("a"), name).await,
            &format!("losing create {i} must not hold its name"),
        );
    }

    // One name, many ids: one row, and the losers' ids stay free.
    let rows: Vec<_> = (0..RACERS)
        .map(|i| {
            row(
                ids.ses(&format!("race-name-{i}")),
                ids.ws("b"),
                Some("contested"),
                None,
            )
        })
        .collect();
    let results = join_all(rows.iter().map(|r| t.create_session(r))).await;
    let winner = one_winner(
        &results,
        &format!("{RACERS} concurrent create_session of one name"),
    );
    assert_eq!(
        t.find_session(&ids.ws("b"), "contested")
            .await
            .expect("find"),
        rows[winner]
    );
    for (i, r) in rows.iter().enumerate().filter(|(i, _)| *i != winner) {
        assert_not_found(
            t.get_session(&r.id).await,
            &format!("losing create {i} stored its row"),
        );
    }
}

async fn expired_rows(t: &dyn SessionTable, ids: &Ids) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(1_800_000_000);
    let ws = ids.ws("exp");
    let past = row(ids.ses("exp-past"), ws.clone(), None, Some(now - 60));
    let at_now = row(ids.ses("exp-now"), ws.clone(), None, Some(now));
    let future = row(ids.ses("exp-future"), ws.clone(), None, Some(now + 3600));
    let never = row(ids.ses("exp-never"), ws.clone(), Some("persistent"), None);
    for r in [&past, &at_now, &future, &never] {
        t.create_session(r).await.expect("create_session");
    }
    // Other workspaces' rows may be expired too (shared backends): look at ours.
    let ours = |rows: Vec<SessionRow>| {
        let mut v: Vec<_> = rows.into_iter().filter(|r| r.workspace == ws).collect();
        v.sort_by(|x, y| x.id.cmp(&y.id));
        v
    };
    let mut expected = vec![at_now.clone(), past.clone()];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    let got = ours(t.expired_sessions(now).await.expect("expired_sessions"));
    assert_eq!(
        got, expected,
        "expired_sessions(now) must return rows with expires_at <= now"
    );
    let got = ours(
        t.expired_sessions(now - 61)
            .await
            .expect("expired_sessions"),
    );
    assert!(
        got.is_empty(),
        "expired_sessions before any expiry returned {got:?}"
    );
    let got = ours(
        t.expired_sessions(now + 7200)
            .await
            .expect("expired_sessions"),
    );
    assert_eq!(
        got.len(),
        3,
        "rows without expires_at never expire: {got:?}"
    );
}

async fn log_append_and_read(t: &dyn SessionTable, ids: &Ids) {
    let s = ids.ses("log");
    let binary: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 241) as u8).collect();
    let entries = [b"one".to_vec(), binary, big];
    for (i, e) in entries.iter().enumerate() {
        t.append_log(&s, "stripe", i as u64 + 1, e)
            .await
            .expect("append_log");
    }
    let want = |from: usize| -> Vec<LogRecord> {
        entries
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, e)| LogRecord {
                seq: i as u64 + 1,
                entry: e.clone(),
            })
            .collect()
    };
    assert_log(
        t.read_log(&s, "stripe", 0).await,
        &want(0),
        "read_log(after = 0)",
    );
    assert_log(
        t.read_log(&s, "stripe", 1).await,
        &want(1),
        "read_log(after = 1)",
    );
    assert_log(
        t.read_log(&s, "stripe", 3).await,
        &[],
        "read_log(after = head)",
    );
    assert_log(
        t.read_log(&s, "stripe", 100).await,
        &[],
        "read_log(after > head)",
    );

    assert_exists(
        t.append_log(&s, "stripe", 2, b"other").await,
        "append_log of an existing seq",
    );
    assert_log(
        t.read_log(&s, "stripe", 0).await,
        &want(0),
        "a losing append changed the log",
    );

    // Logs are per (session, mirror).
    assert_log(
        t.read_log(&s, "twilio", 0).await,
        &[],
        "another mirror's log",
    );
    t.append_log(&s, "twilio", 1, b"t1")
        .await
        .expect("same seq, other mirror");
    t.append_log(&ids.ses("log-other"), "stripe", 1, b"o1")
        .await
        .expect("same seq, other session");
    assert_log(
        t.read_log(&s, "twilio", 0).await,
        &[LogRecord {
            seq: 1,
            entry: b"t1".to_vec(),
        }],
        "the other mirror's log",
    );
    assert_log(
        t.read_log(&s, "stripe", 0).await,
        &want(0),
        "appends elsewhere changed this log",
    );
}

async fn concurrent_appends_have_one_winner(t: &dyn SessionTable, ids: &Ids) {
    let s = ids.ses("log");
    for seq in [4u64, 5] {
        let entries: Vec<Vec<u8>> = (0..RACERS)
            .map(|i| format!("writer {i} seq {seq}").into_bytes())
            .collect();
        let results = join_all(entries.iter().map(|e| t.append_log(&s, "stripe", seq, e))).await;
        let winner = one_winner(
            &results,
            &format!("{RACERS} concurrent append_log of seq {seq}"),
        );
        assert_log(
            t.read_log(&s, "stripe", seq - 1).await,
            &[LogRecord {
                seq,
                entry: entries[winner].clone(),
            }],
            "the winning append's entry",
        );
    }
}

async fn trim_log_drops_prefix(t: &dyn SessionTable, ids: &Ids) {
    let s = ids.ses("log");
    let before = t.read_log(&s, "stripe", 0).await.expect("read_log");
    assert_eq!(
        before.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    t.trim_log(&s, "stripe", 2).await.expect("trim_log");
    assert_log(
        t.read_log(&s, "stripe", 0).await,
        &before[2..],
        "read_log after trim_log(2)",
    );
    assert_log(
        t.read_log(&s, "twilio", 0).await,
        &[LogRecord {
            seq: 1,
            entry: b"t1".to_vec(),
        }],
        "trim_log must not touch another mirror's log",
    );
    t.append_log(&s, "stripe", 6, b"six")
        .await
        .expect("append after trim");
    t.trim_log(&s, "stripe", 100)
        .await
        .expect("trim_log past the head");
    assert_log(
        t.read_log(&s, "stripe", 0).await,
        &[],
        "read_log after trimming everything",
    );
    t.trim_log(&ids.ses("ghost"), "stripe", 5)
        .await
        .expect("trim_log of a missing log is Ok");
}

async fn delete_session_removes_log(t: &dyn SessionTable, ids: &Ids) {
    let s = ids.ses("log");
    t.create_session(&row(s.clone(), ids.ws("a"), None, None))
        .await
        .expect("create");
    t.append_log(&s, "stripe", 7, b"seven")
        .await
        .expect("append");
    t.delete_session(&s).await.expect("delete_session");
    assert_not_found(t.get_session(&s).await, "get_session after delete_session");
    for mirror in ["stripe", "twilio"] {
        assert_log(
            t.read_log(&s, mirror, 0).await,
            &[],
            &format!("delete_session must remove the {mirror} log"),
        );
    }
    assert_log(
        t.read_log(&ids.ses("log-other"), "stripe", 0).await,
        &[LogRecord {
            seq: 1,
            entry: b"o1".to_vec(),
        }],
        "delete_session must not touch another session's log",
    );
    assert!(
        t.delete_session(&s).await.is_ok(),
        "second delete_session must be Ok"
    );
    t.delete_session(&ids.ses("log-other"))
        .await
        .expect("delete_session without a row");
}

async fn usage_adds_up(t: &dyn SessionTable, ids: &Ids) {
    let (a, b) = (ids.ws("a"), ids.ws("b"));
    let results = join_all((1..=RACERS as u64).map(|m| t.add_usage(&a, "ephemeral", m))).await;
    for r in &results {
        assert!(r.is_ok(), "concurrent add_usage failed: {r:?}");
    }
    t.add_usage(&a, "persistent", 5).await.expect("add_usage");
    t.add_usage(&a, "persistent", 0)
        .await
        .expect("add_usage of zero");
    t.add_usage(&b, "ephemeral", 7).await.expect("add_usage");
    let sum = (1..=RACERS as u64).sum::<u64>();
    assert_eq!(
        t.usage(&a).await.expect("usage"),
        [
            ("ephemeral".to_string(), sum),
            ("persistent".to_string(), 5)
        ],
        "usage must sum every add (also concurrent ones) and sort by mode"
    );
    assert_eq!(
        t.usage(&b).await.expect("usage"),
        [("ephemeral".to_string(), 7)],
        "usage per workspace"
    );
    let none = t.usage(&ids.ws("exp")).await.expect("usage");
    assert!(
        none.is_empty(),
        "usage of a workspace without any: {none:?}"
    );
}

// ------------------------------------------------------------------- helpers

fn run_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Awaits all futures together, polling each in turn, and returns their outputs
/// in order. (The suites borrow the backend, so they cannot `tokio::spawn`.)
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Short form of a result for messages: payloads can be megabytes.
fn describe<T>(r: &StorageResult<T>) -> String {
    match r {
        Ok(_) => "Ok(..)".into(),
        Err(e) => format!("Err({e:?})"),
    }
}

#[track_caller]
fn assert_not_found<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::NotFound(_))),
        "{what}: expected NotFound, got {}",
        describe(&r)
    );
}

#[track_caller]
fn assert_exists<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::AlreadyExists(_))),
        "{what}: expected AlreadyExists, got {}",
        describe(&r)
    );
}

#[track_caller]
fn assert_backend<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::Backend(_))),
        "{what}: expected a Backend error, got {}",
        describe(&r)
    );
}

#[track_caller]
fn assert_bytes(r: StorageResult<Bytes>, expected: &[u8], what: &str) {
    match r {
        Ok(got) => assert!(
            got == expected,
            "{what}: got {} bytes, expected {} bytes{}",
            got.len(),
            expected.len(),
            if got.len() < 64 && expected.len() < 64 {
                format!(" ({got:?} vs {:?})", Bytes::copy_from_slice(expected))
            } else {
                String::new()
            }
        ),
        Err(e) => panic!("{what}: expected {} bytes, got Err({e:?})", expected.len()),
    }
}

#[track_caller]
fn assert_log(r: StorageResult<Vec<LogRecord>>, expected: &[LogRecord], what: &str) {
    let got = match r {
        Ok(got) => got,
        Err(e) => panic!("{what}: read_log failed: {e:?}"),
    };
    let summary = |v: &[LogRecord]| {
        v.iter()
            .map(|r| format!("{}:{}B", r.seq, r.entry.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(
        got == expected,
        "{what}: got [{}], expected [{}] (seq:size; entries compared byte for byte)",
        summary(&got),
        summary(expected)
    );
}

/// Checks a race of conditional writes: exactly one `Ok`, every other result
/// `AlreadyExists`. Returns the winner's index.
#[track_caller]
fn one_winner<T>(results: &[StorageResult<T>], what: &str) -> usize {
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert!(
        winners.len() == 1,
        "{what}: expected exactly one success, got {} (winners {winners:?})",
        winners.len()
    );
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            assert!(
                matches!(r, Err(StorageError::AlreadyExists(_))),
                "{what}: loser {i} must fail with AlreadyExists, got {}",
                describe(r)
            );
        }
    }
    winners[0]
}
