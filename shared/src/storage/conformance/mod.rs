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

mod credentials;
mod due;
mod records;

pub use due::due_work_on_an_empty_table;

use super::{
    Checkpoint, LogKey, LogRecord, ObjectStore, SessionRow, SessionTable, StorageError,
    StorageResult,
};

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

/// Checks [`SessionTable`]'s contract against `table`. Uses fresh workspaces,
/// session ids and incarnations and deletes its sessions (usage counters cannot
/// be deleted through the trait and stay behind under the run's workspaces).
///
/// Where the contract leaves a choice to the backend, the suite accepts either:
/// entries below a checkpoint "may be deleted, at once or later", so a read may
/// or may not return them (but only unchanged), and an append below the
/// checkpoint must fail whether or not its old entry is still there.
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
    log_reads_in_pages(table, &ids).await;
    log_needs_its_row(table, &ids).await;
    concurrent_appends_have_one_winner(table, &ids).await;
    let before = checkpoints_only_rise(table, &ids).await;
    checkpoint_refuses_appends_at_or_below(table, &ids, &before).await;
    delete_session_checks_incarnation(table, &ids).await;
    delete_session_removes_logs_and_checkpoints(table, &ids).await;
    concurrent_deletes_have_one_winner(table, &ids).await;
    appends_racing_delete_never_outlive_it(table, &ids).await;
    reused_id_starts_fresh(table, &ids).await;
    usage_adds_up(table, &ids).await;
    records::list_sessions_pages_by_id(table, &ids).await;
    records::tombstones_record_ended_sessions(table, &ids).await;
    records::snapshot_index(table, &ids).await;
    credentials::credentials_name_their_live_row(table, &ids).await;
    credentials::credentials_are_unique(table, &ids).await;
    credentials::ended_credentials_never_reach_a_live_row(table, &ids).await;
    due::due_work_needs_its_row(table, &ids).await;
    due::schedule_keeps_the_earliest(table, &ids).await;
    due::reschedule_only_when_unchanged(table, &ids).await;
    due::due_before_orders_and_limits(table, &ids).await;
    due::ending_a_session_drops_its_due_work(table, &ids).await;
    due::reused_id_starts_without_due_work(table, &ids).await;

    for ws in ids.workspaces() {
        for row in table
            .list_sessions(&ws, None, usize::MAX)
            .await
            .expect("list for cleanup")
        {
            let deleted = table.delete_session(&row.id, &row.incarnation, None).await;
            assert!(
                matches!(deleted, Ok(true)),
                "delete_session of a listed row must return true, got {}",
                describe(&deleted)
            );
        }
        let left = table
            .list_sessions(&ws, None, usize::MAX)
            .await
            .expect("list after cleanup");
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
    /// An incarnation no row of this run has.
    fn inc(&self) -> String {
        format!("inc_conf_{}", run_id())
    }
    fn object(&self, n: &str) -> String {
        format!("conformance/run-{}/checkpoint-{n}", self.run)
    }
    fn workspaces(&self) -> Vec<String> {
        ["a", "b", "exp", "pg", "cred", "due"]
            .iter()
            .map(|n| self.ws(n))
            .collect()
    }
}

/// A row with a fresh random incarnation.
fn row(id: String, workspace: String, name: Option<&str>, expires_at: Option<i64>) -> SessionRow {
    let expiry = expires_at.map_or_else(|| "null".to_string(), |t| t.to_string());
    let body = format!(r#"{{"id":"{id}","note":"ünïcødé ✓","expires_at":{expiry}}}"#);
    SessionRow {
        id,
        incarnation: format!("inc_conf_{}", run_id()),
        workspace,
        name: name.map(str::to_owned),
        expires_at,
        body,
        credentials: Vec::new(),
    }
}

/// The log of one mirror of `row`.
fn key(row: &SessionRow, mirror: &str) -> LogKey {
    LogKey {
        session: row.id.clone(),
        incarnation: row.incarnation.clone(),
        mirror: mirror.into(),
    }
}

fn rec(seq: u64, entry: &[u8]) -> LogRecord {
    LogRecord {
        seq,
        entry: entry.to_vec(),
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
    assert_flag(
        t.delete_session(&ghost, &ids.inc(), None).await,
        false,
        "delete_session of a missing row",
    );
    let listed = t
        .list_sessions(&ids.ws("a"), None, usize::MAX)
        .await
        .expect("list_sessions");
    assert!(
        listed.is_empty(),
        "list_sessions of a fresh workspace returned {listed:?}"
    );
    let log = LogKey {
        session: ghost,
        incarnation: ids.inc(),
        mirror: "stripe".into(),
    };
    let read = t.read_log(&log, 0).await;
    assert!(
        matches!(&read, Ok(v) if v.is_empty()),
        "read_log of a missing log must be Ok and empty, got {read:?}"
    );
    assert_checkpoint(
        t.checkpoint(&log).await,
        None,
        "checkpoint of a missing log",
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
        "row round trip (incarnation included)"
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

    // Same id, different everything else (the incarnation too): the id alone
    // makes it a duplicate, and the losing create must leave no trace (no name
    // taken in the other workspace).
    let clash = row(named.id.clone(), ids.ws("b"), Some("other"), None);
    assert_exists(
        t.create_session(&clash).await,
        "create_session of an existing id with another incarnation",
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
    assert_flag(
        t.delete_session(&other_ws.id, &other_ws.incarnation, None)
            .await,
        true,
        "delete_session of an existing row",
    );
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

    // The row's id with another incarnation names no row.
    let mut s1 = t.get_session(&ids.ses("s1")).await.expect("get s1");
    let mut stranger = s1.clone();
    stranger.incarnation = ids.inc();
    stranger.name = Some("Other incarnation".into());
    stranger.body = r#"{"from":"another incarnation"}"#.into();
    assert_not_found(
        t.put_session(&stranger).await,
        "put_session with the row's id but another incarnation",
    );
    assert_eq!(
        t.get_session(&s1.id).await.expect("get"),
        s1,
        "a put_session with another incarnation changed the row"
    );
    assert_not_found(
        t.find_session(&ids.ws("a"), "Other incarnation").await,
        "a put_session with another incarnation took its name",
    );

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
    let got = t
        .list_sessions(&ids.ws("a"), None, usize::MAX)
        .await
        .expect("list_sessions");
    assert_eq!(
        got, expected,
        "list_sessions must return the workspace's rows ordered by id"
    );
    let b = t
        .list_sessions(&ids.ws("b"), None, usize::MAX)
        .await
        .expect("list_sessions");
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
    let owner = row(ids.ses("log"), ids.ws("a"), None, None);
    let other = row(ids.ses("log-other"), ids.ws("a"), None, None);
    for r in [&owner, &other] {
        t.create_session(r).await.expect("create_session for a log");
    }
    let stripe = key(&owner, "stripe");
    let binary: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 241) as u8).collect();
    let entries = [b"one".to_vec(), binary, big];
    for (i, e) in entries.iter().enumerate() {
        t.append_log(&stripe, i as u64 + 1, e)
            .await
            .expect("append_log");
    }
    let want = |from: usize| -> Vec<LogRecord> {
        entries
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, e)| rec(i as u64 + 1, e))
            .collect()
    };
    assert_log(
        t.read_log(&stripe, 0).await,
        &want(0),
        "read_log(after = 0)",
    );
    assert_log(
        t.read_log(&stripe, 1).await,
        &want(1),
        "read_log(after = 1)",
    );
    assert_log(t.read_log(&stripe, 3).await, &[], "read_log(after = head)");
    assert_log(
        t.read_log(&stripe, 100).await,
        &[],
        "read_log(after > head)",
    );

    assert_exists(
        t.append_log(&stripe, 2, b"other").await,
        "append_log of an existing seq",
    );
    assert_log(
        t.read_log(&stripe, 0).await,
        &want(0),
        "a losing append changed the log",
    );

    // Logs are per (session row, mirror).
    let twilio = key(&owner, "twilio");
    assert_log(t.read_log(&twilio, 0).await, &[], "another mirror's log");
    t.append_log(&twilio, 1, b"t1")
        .await
        .expect("same seq, other mirror");
    t.append_log(&key(&other, "stripe"), 1, b"o1")
        .await
        .expect("same seq, other session");
    assert_log(
        t.read_log(&twilio, 0).await,
        &[rec(1, b"t1")],
        "the other mirror's log",
    );
    assert_log(
        t.read_log(&stripe, 0).await,
        &want(0),
        "appends elsewhere changed this log",
    );
}

/// `read_log_page` walks the same entries as `read_log`, at most `limit` and
/// at least one per page while any are left.
async fn log_reads_in_pages(t: &dyn SessionTable, ids: &Ids) {
    let owner = row(ids.ses("paged"), ids.ws("a"), None, None);
    t.create_session(&owner)
        .await
        .expect("create_session for a paged log");
    let log = key(&owner, "stripe");
    let entries: Vec<Vec<u8>> = (1..=7u8).map(|i| vec![i; 100 * i as usize]).collect();
    for (i, e) in entries.iter().enumerate() {
        t.append_log(&log, i as u64 + 1, e)
            .await
            .expect("append_log");
    }
    let all = t.read_log(&log, 0).await.expect("read_log");
    for limit in [1, 3, 7, 50] {
        let mut walked = Vec::new();
        let mut after = 0;
        loop {
            let page = t
                .read_log_page(&log, after, limit)
                .await
                .expect("read_log_page");
            assert!(
                page.len() <= limit,
                "read_log_page(limit = {limit}) returned {} entries",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = last.seq;
            walked.extend(page);
        }
        assert_log(Ok(walked), &all, &format!("the pages of limit {limit}"));
    }
    assert_log(
        t.read_log_page(&log, 5, 100).await,
        &all[5..],
        "read_log_page(after = 5)",
    );
    assert_log(
        t.read_log_page(&log, 7, 2).await,
        &[],
        "read_log_page(after = head)",
    );
    t.delete_session(&owner.id, &owner.incarnation, None)
        .await
        .expect("delete the paged log's session");
}

async fn log_needs_its_row(t: &dyn SessionTable, ids: &Ids) {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let stripe = key(&owner, "stripe");
    let before = t.read_log(&stripe, 0).await.expect("read_log");
    let checkpoint = Checkpoint {
        seq: 1,
        object: ids.object("refused"),
    };

    let ghost = LogKey {
        session: ids.ses("ghost"),
        incarnation: ids.inc(),
        mirror: "stripe".into(),
    };
    assert_not_found(
        t.append_log(&ghost, 1, b"x").await,
        "append_log without a session row",
    );
    assert_log(
        t.read_log(&ghost, 0).await,
        &[],
        "an append refused for a missing row stored its entry",
    );
    assert_not_found(
        t.set_checkpoint(&ghost, &checkpoint).await,
        "set_checkpoint without a session row",
    );
    assert_checkpoint(
        t.checkpoint(&ghost).await,
        None,
        "a set_checkpoint refused for a missing row recorded it",
    );

    // The row's id with another incarnation: no row, whatever the seq.
    let stranger = LogKey {
        incarnation: ids.inc(),
        ..stripe.clone()
    };
    for seq in [4, 2] {
        assert_not_found(
            t.append_log(&stranger, seq, b"x").await,
            &format!("append_log of seq {seq} with the row's id but another incarnation"),
        );
    }
    assert_log(
        t.read_log(&stranger, 0).await,
        &[],
        "an append refused for its incarnation stored its entry",
    );
    assert_log(
        t.read_log(&stripe, 0).await,
        &before,
        "an append refused for its incarnation changed the row's log",
    );
    assert_not_found(
        t.set_checkpoint(&stranger, &checkpoint).await,
        "set_checkpoint with the row's id but another incarnation",
    );
    assert_checkpoint(
        t.checkpoint(&stranger).await,
        None,
        "a set_checkpoint refused for its incarnation recorded it",
    );
    assert_checkpoint(
        t.checkpoint(&stripe).await,
        None,
        "a set_checkpoint refused for its incarnation reached the row's log",
    );
}

async fn concurrent_appends_have_one_winner(t: &dyn SessionTable, ids: &Ids) {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let stripe = key(&owner, "stripe");
    for seq in [4u64, 5] {
        let entries: Vec<Vec<u8>> = (0..RACERS)
            .map(|i| format!("writer {i} seq {seq}").into_bytes())
            .collect();
        let results = join_all(entries.iter().map(|e| t.append_log(&stripe, seq, e))).await;
        let winner = one_winner(
            &results,
            &format!("{RACERS} concurrent append_log of seq {seq}"),
        );
        assert_log(
            t.read_log(&stripe, seq - 1).await,
            &[rec(seq, &entries[winner])],
            "the winning append's entry",
        );
    }
}

/// Returns the stripe log as it was before any checkpoint.
async fn checkpoints_only_rise(t: &dyn SessionTable, ids: &Ids) -> Vec<LogRecord> {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let stripe = key(&owner, "stripe");
    let before = t.read_log(&stripe, 0).await.expect("read_log");
    assert_eq!(
        before.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_checkpoint(
        t.checkpoint(&stripe).await,
        None,
        "checkpoint of a log without one",
    );

    let c3 = Checkpoint {
        seq: 3,
        object: ids.object("3"),
    };
    assert_flag(
        t.set_checkpoint(&stripe, &c3).await,
        true,
        "the first set_checkpoint",
    );
    assert_checkpoint(
        t.checkpoint(&stripe).await,
        Some(&c3),
        "checkpoint after set_checkpoint(3)",
    );
    assert_log_from_checkpoint(
        t.read_log(&stripe, 0).await,
        &before,
        3,
        "read_log(after = 0) with checkpoint 3",
    );
    assert_log(
        t.read_log(&stripe, 2).await,
        &before[2..],
        "read_log(after = 2) with checkpoint 3: the checkpoint's own entry must be kept",
    );
    assert_log(
        t.read_log(&stripe, 3).await,
        &before[3..],
        "read_log(after = 3) with checkpoint 3",
    );

    for (seq, object) in [(2, "lower"), (3, "equal"), (1, "lowest")] {
        let refused = Checkpoint {
            seq,
            object: ids.object(object),
        };
        assert_flag(
            t.set_checkpoint(&stripe, &refused).await,
            false,
            &format!("set_checkpoint({seq}) at or below checkpoint 3"),
        );
        assert_checkpoint(
            t.checkpoint(&stripe).await,
            Some(&c3),
            &format!("a refused set_checkpoint({seq}) changed the checkpoint"),
        );
    }
    assert_log_from_checkpoint(
        t.read_log(&stripe, 0).await,
        &before,
        3,
        "refused set_checkpoints changed the log",
    );

    let c5 = Checkpoint {
        seq: 5,
        object: ids.object("5"),
    };
    assert_flag(
        t.set_checkpoint(&stripe, &c5).await,
        true,
        "set_checkpoint(5) above checkpoint 3",
    );
    assert_checkpoint(
        t.checkpoint(&stripe).await,
        Some(&c5),
        "checkpoint must return the newest one",
    );
    assert_log_from_checkpoint(
        t.read_log(&stripe, 0).await,
        &before,
        5,
        "read_log(after = 0) with checkpoint 5",
    );
    assert_log(
        t.read_log(&stripe, 4).await,
        &before[4..],
        "read_log(after = 4) with checkpoint 5 at the head: its own entry must be kept",
    );

    // Checkpoints are per log.
    let twilio = key(&owner, "twilio");
    assert_checkpoint(
        t.checkpoint(&twilio).await,
        None,
        "set_checkpoint of one mirror gave another mirror a checkpoint",
    );
    assert_log(
        t.read_log(&twilio, 0).await,
        &[rec(1, b"t1")],
        "set_checkpoint must not touch another mirror's log",
    );
    before
}

async fn checkpoint_refuses_appends_at_or_below(
    t: &dyn SessionTable,
    ids: &Ids,
    before: &[LogRecord],
) {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let stripe = key(&owner, "stripe");
    // Checkpoint 5: whether entries 1..4 are gone yet or not, none may be stored.
    for seq in 1..=5 {
        assert_exists(
            t.append_log(&stripe, seq, b"late").await,
            &format!("append_log of seq {seq} at or below checkpoint 5"),
        );
    }
    assert_log_from_checkpoint(
        t.read_log(&stripe, 0).await,
        before,
        5,
        "appends refused by the checkpoint changed the log",
    );
    t.append_log(&stripe, 6, b"six")
        .await
        .expect("append_log above the checkpoint");
    let mut head = before[4..].to_vec();
    head.push(rec(6, b"six"));
    assert_log(
        t.read_log(&stripe, 4).await,
        &head,
        "read_log after appending above the checkpoint",
    );

    // Seqs the log never held are refused just the same: a checkpoint ahead of
    // the stored entries, so no entry (deleted or not) can answer for it.
    let twilio = key(&owner, "twilio");
    t.append_log(&twilio, 2, b"t2").await.expect("append_log");
    let ahead = Checkpoint {
        seq: 4,
        object: ids.object("ahead"),
    };
    assert_flag(
        t.set_checkpoint(&twilio, &ahead).await,
        true,
        "set_checkpoint(4) on a log whose head is 2",
    );
    for seq in [3, 4] {
        assert_exists(
            t.append_log(&twilio, seq, b"never").await,
            &format!("append_log of never-stored seq {seq} at or below checkpoint 4"),
        );
    }
    t.append_log(&twilio, 5, b"t5")
        .await
        .expect("append_log above a checkpoint ahead of the head");
    assert_log(
        t.read_log(&twilio, 2).await,
        &[rec(5, b"t5")],
        "appends refused by a checkpoint ahead of the head stored entries",
    );
}

async fn delete_session_checks_incarnation(t: &dyn SessionTable, ids: &Ids) {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let keys = [key(&owner, "stripe"), key(&owner, "twilio")];
    let mut logs = Vec::new();
    let mut checkpoints = Vec::new();
    for k in &keys {
        logs.push(t.read_log(k, 0).await.expect("read_log"));
        checkpoints.push(t.checkpoint(k).await.expect("checkpoint"));
    }

    assert_flag(
        t.delete_session(&owner.id, &ids.inc(), None).await,
        false,
        "delete_session with the row's id but another incarnation",
    );
    assert_flag(
        t.delete_session(&ids.ses("ghost"), &owner.incarnation, None)
            .await,
        false,
        "delete_session with the row's incarnation but another id",
    );
    assert_eq!(
        t.get_session(&owner.id).await.expect("get"),
        owner,
        "delete_session with another incarnation deleted or changed the row"
    );
    for ((k, log), checkpoint) in keys.iter().zip(&logs).zip(&checkpoints) {
        assert_log(
            t.read_log(k, 0).await,
            log,
            &format!(
                "delete_session with another incarnation changed the {} log",
                k.mirror
            ),
        );
        assert_checkpoint(
            t.checkpoint(k).await,
            checkpoint.as_ref(),
            &format!(
                "delete_session with another incarnation changed the {} checkpoint",
                k.mirror
            ),
        );
    }
}

async fn delete_session_removes_logs_and_checkpoints(t: &dyn SessionTable, ids: &Ids) {
    let owner = t.get_session(&ids.ses("log")).await.expect("get");
    let other = t.get_session(&ids.ses("log-other")).await.expect("get");
    assert_flag(
        t.delete_session(&owner.id, &owner.incarnation, None).await,
        true,
        "delete_session of a row with logs and checkpoints",
    );
    assert_not_found(
        t.get_session(&owner.id).await,
        "get_session after delete_session",
    );
    for mirror in ["stripe", "twilio"] {
        let k = key(&owner, mirror);
        assert_log(
            t.read_log(&k, 0).await,
            &[],
            &format!("delete_session must remove the {mirror} log"),
        );
        assert_checkpoint(
            t.checkpoint(&k).await,
            None,
            &format!("delete_session must remove the {mirror} checkpoint"),
        );
        // Above and below the old checkpoint: the row is gone either way.
        for seq in [100, 1] {
            assert_not_found(
                t.append_log(&k, seq, b"late").await,
                &format!("append_log of seq {seq} to the {mirror} log after delete_session"),
            );
        }
        assert_not_found(
            t.set_checkpoint(
                &k,
                &Checkpoint {
                    seq: 200,
                    object: ids.object("late"),
                },
            )
            .await,
            "set_checkpoint after delete_session",
        );
        assert_log(
            t.read_log(&k, 0).await,
            &[],
            "an append after delete_session stored its entry",
        );
        assert_checkpoint(
            t.checkpoint(&k).await,
            None,
            "a set_checkpoint after delete_session recorded it",
        );
    }
    assert_log(
        t.read_log(&key(&other, "stripe"), 0).await,
        &[rec(1, b"o1")],
        "delete_session must not touch another session's log",
    );
    assert_flag(
        t.delete_session(&owner.id, &owner.incarnation, None).await,
        false,
        "a second delete_session of one row",
    );
    assert_flag(
        t.delete_session(&other.id, &other.incarnation, None).await,
        true,
        "delete_session of a row with a log",
    );
}

async fn concurrent_deletes_have_one_winner(t: &dyn SessionTable, ids: &Ids) {
    for round in 0..3 {
        let doomed = row(
            ids.ses(&format!("delete-race-{round}")),
            ids.ws("b"),
            Some("doomed"),
            None,
        );
        t.create_session(&doomed).await.expect("create_session");
        t.append_log(&key(&doomed, "stripe"), 1, b"one")
            .await
            .expect("append_log");
        let results =
            join_all((0..RACERS).map(|_| t.delete_session(&doomed.id, &doomed.incarnation, None)))
                .await;
        let what = format!("{RACERS} concurrent delete_session of one row (round {round})");
        for r in &results {
            assert!(
                r.is_ok(),
                "{what}: every delete must be Ok, got {}",
                describe(r)
            );
        }
        let winners = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(winners, 1, "{what}: exactly one must return true");
        assert_not_found(
            t.get_session(&doomed.id).await,
            "get_session after concurrent deletes",
        );
        assert_not_found(
            t.find_session(&ids.ws("b"), "doomed").await,
            "find_session after concurrent deletes",
        );
    }
}

async fn appends_racing_delete_never_outlive_it(t: &dyn SessionTable, ids: &Ids) {
    enum Outcome {
        Append(u64, StorageResult<()>),
        Delete(StorageResult<bool>),
    }
    type Call<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

    let doomed = row(ids.ses("append-race"), ids.ws("b"), None, None);
    t.create_session(&doomed).await.expect("create_session");
    let stripe = key(&doomed, "stripe");
    // Appends of fresh seqs with two deletes among them, issued in this order.
    let (stripe_ref, doomed_ref) = (&stripe, &doomed);
    let calls: Vec<Call<'_>> = (1..=2 * RACERS as u64)
        .map(move |seq| -> Call<'_> {
            let (stripe, doomed) = (stripe_ref, doomed_ref);
            if seq % RACERS as u64 == RACERS as u64 / 2 {
                Box::pin(async move {
                    Outcome::Delete(
                        t.delete_session(&doomed.id, &doomed.incarnation, None)
                            .await,
                    )
                })
            } else {
                let entry = format!("racing entry {seq}").into_bytes();
                Box::pin(
                    async move { Outcome::Append(seq, t.append_log(stripe, seq, &entry).await) },
                )
            }
        })
        .collect();
    let mut deleted = 0;
    for outcome in join_all(calls).await {
        match outcome {
            Outcome::Delete(r) => match r {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                Err(e) => panic!("delete_session racing appends failed: {e:?}"),
            },
            Outcome::Append(seq, r) => assert!(
                matches!(r, Ok(()) | Err(StorageError::NotFound(_))),
                "append_log of seq {seq} racing delete_session must succeed or fail with \
                 NotFound, got {}",
                describe(&r)
            ),
        }
    }
    assert_eq!(
        deleted, 1,
        "of two delete_session racing appends, exactly one must return true"
    );
    assert_log(
        t.read_log(&stripe, 0).await,
        &[],
        "an append racing delete_session outlived the row (acknowledged after the delete, \
         or not deleted with it)",
    );
}

async fn reused_id_starts_fresh(t: &dyn SessionTable, ids: &Ids) {
    let id = ids.ses("reused");
    let first = row(id.clone(), ids.ws("a"), Some("reused"), None);
    t.create_session(&first).await.expect("create_session");
    let old = key(&first, "stripe");
    for seq in 1..=3 {
        t.append_log(&old, seq, b"old").await.expect("append_log");
    }
    let checkpoint = Checkpoint {
        seq: 2,
        object: ids.object("reused"),
    };
    assert_flag(
        t.set_checkpoint(&old, &checkpoint).await,
        true,
        "set_checkpoint",
    );
    assert_flag(
        t.delete_session(&first.id, &first.incarnation, None).await,
        true,
        "delete_session",
    );

    let second = row(id.clone(), ids.ws("a"), Some("reused"), None);
    assert_ne!(first.incarnation, second.incarnation);
    t.create_session(&second)
        .await
        .expect("create_session of a deleted session's id");
    let new = key(&second, "stripe");
    assert_log(
        t.read_log(&new, 0).await,
        &[],
        "a reused id's new incarnation must start with an empty log",
    );
    assert_checkpoint(
        t.checkpoint(&new).await,
        None,
        "a reused id's new incarnation must start without a checkpoint",
    );
    for seq in 1..=4 {
        t.append_log(&new, seq, b"new")
            .await
            .expect("append_log under a reused id's new incarnation");
    }
    assert_eq!(
        t.read_log(&new, 0)
            .await
            .expect("read_log")
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "the new incarnation's log"
    );

    // The old incarnation stays dead although its id lives again.
    assert_not_found(
        t.append_log(&old, 5, b"stale").await,
        "append_log with a reused id's old incarnation",
    );
    assert_not_found(
        t.set_checkpoint(
            &old,
            &Checkpoint {
                seq: 3,
                object: ids.object("stale"),
            },
        )
        .await,
        "set_checkpoint with a reused id's old incarnation",
    );
    assert_log(
        t.read_log(&old, 0).await,
        &[],
        "the old incarnation's log after delete_session",
    );
    assert_checkpoint(
        t.checkpoint(&new).await,
        None,
        "a refused set_checkpoint with the old incarnation reached the new log",
    );
    let mut stale = second.clone();
    stale.incarnation = first.incarnation.clone();
    stale.body = r#"{"from":"the old incarnation"}"#.into();
    assert_not_found(
        t.put_session(&stale).await,
        "put_session with a reused id's old incarnation",
    );
    assert_flag(
        t.delete_session(&id, &first.incarnation, None).await,
        false,
        "delete_session with a reused id's old incarnation",
    );
    assert_eq!(
        t.get_session(&id).await.expect("get"),
        second,
        "calls with the old incarnation changed the new row"
    );
    assert_eq!(
        t.read_log(&new, 0).await.expect("read_log").len(),
        4,
        "calls with the old incarnation changed the new log"
    );
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

#[track_caller]
fn assert_flag(r: StorageResult<bool>, expected: bool, what: &str) {
    assert!(
        matches!(r, Ok(v) if v == expected),
        "{what}: expected Ok({expected}), got {r:?}"
    );
}

#[track_caller]
fn assert_checkpoint(
    r: StorageResult<Option<Checkpoint>>,
    expected: Option<&Checkpoint>,
    what: &str,
) {
    match r {
        Ok(got) => assert!(
            got.as_ref() == expected,
            "{what}: got checkpoint {got:?}, expected {expected:?}"
        ),
        Err(e) => panic!("{what}: checkpoint failed: {e:?}"),
    }
}

/// A whole-log read under checkpoint `checkpoint`: every entry of `before` from
/// the checkpoint's own on, and of the older ones any (deleting them is the
/// backend's choice, at once or later), each unchanged and in order.
#[track_caller]
fn assert_log_from_checkpoint(
    r: StorageResult<Vec<LogRecord>>,
    before: &[LogRecord],
    checkpoint: u64,
    what: &str,
) {
    let got = match r {
        Ok(got) => got,
        Err(e) => panic!("{what}: read_log failed: {e:?}"),
    };
    let kept: Vec<u64> = got
        .iter()
        .map(|r| r.seq)
        .filter(|&s| s < checkpoint)
        .collect();
    let expected: Vec<LogRecord> = before
        .iter()
        .filter(|r| r.seq >= checkpoint || kept.contains(&r.seq))
        .cloned()
        .collect();
    assert_log(
        Ok(got),
        &expected,
        &format!(
            "{what} (entries from checkpoint {checkpoint} on must all be there; \
             older ones may be gone)"
        ),
    );
}
