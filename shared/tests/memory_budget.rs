//! Bounded memory: working copies and cached images stay within their byte
//! budgets by freezing or dropping the least recently used, on the request that
//! went over (no reaper runs in these tests); what was frozen is thawed and
//! what was dropped is rebuilt on demand from image + log, either way caught
//! up with every write. Ending a session drops its copies at once.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use rusqlite::Connection;
use serde_json::json;
use shared::session::{Session, Sessions, SystemClock};
use shared::state::{ImageRecipe, Images, StateError};
use support::notes::{load_notes, notes_request, storage, Notes, Storage};

/// An instance whose working copies may weigh `cache_bytes` together, and
/// which drops (does not freeze) those over it.
fn instance(s: &Storage, cache_bytes: u64) -> Arc<Sessions> {
    freezing_instance(s, cache_bytes, 0)
}

/// An instance whose working copies may weigh `cache_bytes` together, and
/// whose frozen copies `frozen_bytes`.
fn freezing_instance(s: &Storage, cache_bytes: u64, frozen_bytes: u64) -> Arc<Sessions> {
    let mut sessions = Sessions::new(
        s.table.clone(),
        s.store.clone(),
        Arc::new(SystemClock),
        vec![Arc::new(Notes {
            default: &["seeded"],
        })],
    );
    sessions.set_cache_bytes(cache_bytes);
    sessions.set_frozen_bytes(frozen_bytes);
    Arc::new(sessions)
}

async fn add(sessions: &Arc<Sessions>, s: &Session, text: &str) {
    let ctx = sessions.context(&s.id, "notes").await.expect("context");
    ctx.write(|c| {
        c.execute("INSERT INTO notes (text) VALUES (?1)", [text])
            .map_err(StateError::from)
    })
    .await
    .expect("write");
}

async fn texts(sessions: &Arc<Sessions>, s: &Session) -> Vec<String> {
    let ctx = sessions.context(&s.id, "notes").await.expect("context");
    ctx.read(|c| {
        let mut st = c.prepare("SELECT text FROM notes ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<Vec<String>, _>>()
            .map_err(StateError::from)
    })
    .await
    .expect("read")
}

/// What one session's working copy weighs after `notes` were added to it,
/// measured on an unbounded instance.
async fn weight_after(st: &Storage, notes: &[&str]) -> u64 {
    let probe = instance(st, u64::MAX);
    let s = probe.create("ws", notes_request()).await.expect("create");
    for n in notes {
        add(&probe, &s, n).await;
    }
    let weight = probe.engine().resident_bytes();
    assert_eq!(probe.engine().resident_copies(), 1);
    assert!(weight > 0, "a working copy weighs something");
    weight
}

async fn one_copy_weight(st: &Storage) -> u64 {
    weight_after(st, &["probe"]).await
}

/// Touching more sessions than the budget holds keeps the working copies within
/// it on every request, and every session still reads back exactly its own writes.
#[tokio::test]
async fn touching_more_sessions_than_the_budget_holds_stays_within_it_and_rebuilds_the_evicted() {
    let st = storage();
    let weight = one_copy_weight(&st).await;
    let budget = 3 * weight;
    let engine_owner = instance(&st, budget);
    let mut sessions = Vec::new();
    for i in 0..12 {
        let s = engine_owner
            .create("ws", notes_request())
            .await
            .expect("create");
        add(&engine_owner, &s, &format!("note {i}")).await;
        let engine = engine_owner.engine();
        assert!(
            engine.resident_bytes() <= budget,
            "after touching {} sessions: {} bytes resident, budget {budget}",
            i + 1,
            engine.resident_bytes()
        );
        sessions.push(s);
    }
    assert!(engine_owner.engine().resident_copies() <= 3);
    // Oldest first: every one of these was evicted and is rebuilt from image + log.
    for (i, s) in sessions.iter().enumerate() {
        add(&engine_owner, s, "again").await;
        assert_eq!(
            texts(&engine_owner, s).await,
            ["seeded".to_string(), format!("note {i}"), "again".into()]
        );
        assert!(engine_owner.engine().resident_bytes() <= budget);
    }
}

/// The most recently used copies are the ones kept: touching a session again
/// protects it from the next eviction.
#[tokio::test]
async fn the_least_recently_used_copy_is_the_one_dropped() {
    let st = storage();
    let big_note = "b".repeat(64 * 1024);
    let big = weight_after(&st, &[&big_note]).await;
    let small = one_copy_weight(&st).await;
    assert!(big > small);
    let a = instance(&st, big + small);
    let s1 = a.create("ws", notes_request()).await.expect("s1");
    let s2 = a.create("ws", notes_request()).await.expect("s2");
    add(&a, &s1, &big_note).await;
    add(&a, &s2, "probe").await;
    assert_eq!(a.engine().resident_bytes(), big + small);
    // s1 is now the most recent; a third session must push out s2, not s1.
    texts(&a, &s1).await;
    let s3 = a.create("ws", notes_request()).await.expect("s3");
    add(&a, &s3, "probe").await;
    assert_eq!(a.engine().resident_copies(), 2);
    assert_eq!(
        a.engine().resident_bytes(),
        big + small,
        "the big, recently read s1 stays; the small, older s2 went"
    );
}

/// A budget of zero keeps nothing between requests; each request rebuilds its
/// copy, and writes still land.
#[tokio::test]
async fn a_zero_budget_keeps_no_copy_between_requests_and_loses_no_write() {
    let st = storage();
    let a = instance(&st, 0);
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "one").await;
    assert_eq!(a.engine().resident_copies(), 0);
    assert_eq!(a.engine().resident_bytes(), 0);
    add(&a, &s, "two").await;
    assert_eq!(texts(&a, &s).await, ["seeded", "one", "two"]);
    assert_eq!(a.engine().resident_copies(), 0);
}

/// Ending a session drops its working copies at once, not after an idle timeout.
#[tokio::test]
async fn ending_a_session_drops_its_working_copies() {
    let st = storage();
    let a = instance(&st, u64::MAX);
    let s1 = a.create("ws", notes_request()).await.expect("s1");
    let s2 = a.create("ws", notes_request()).await.expect("s2");
    add(&a, &s1, "one").await;
    add(&a, &s2, "two").await;
    assert_eq!(a.engine().resident_copies(), 2);
    let both = a.engine().resident_bytes();
    a.down("ws", &s1.id).await.expect("down");
    assert_eq!(a.engine().resident_copies(), 1);
    assert!(a.engine().resident_bytes() < both);
    a.down("ws", &s2.id).await.expect("down");
    assert_eq!(a.engine().resident_copies(), 0);
    assert_eq!(a.engine().resident_bytes(), 0);
}

/// The memory of dropped copies is handed back once enough was dropped: the
/// engine counts what ended sessions and evictions freed, and a release takes
/// the count only past its threshold.
#[tokio::test]
async fn dropped_copies_are_counted_until_a_release_hands_them_back() {
    let st = storage();
    let a = instance(&st, u64::MAX);
    let s1 = a.create("ws", notes_request()).await.expect("s1");
    let s2 = a.create("ws", notes_request()).await.expect("s2");
    add(&a, &s1, "one").await;
    add(&a, &s2, "two").await;
    let both = a.engine().resident_bytes();
    assert_eq!(a.release_freed_memory(1), 0, "nothing dropped yet");
    a.down("ws", &s1.id).await.expect("down");
    let one = both - a.engine().resident_bytes();
    assert_eq!(
        a.release_freed_memory(one + 1),
        0,
        "below the threshold nothing is released"
    );
    a.down("ws", &s2.id).await.expect("down");
    assert_eq!(
        a.release_freed_memory(one + 1),
        both,
        "past it, everything dropped since the last release is released"
    );
    assert_eq!(a.release_freed_memory(1), 0, "and the count starts afresh");
}

/// Past the open budget copies are frozen, not dropped: the open ones stay
/// within budget, the others wait compressed, and each thaws on its next
/// request with exactly its own writes.
#[tokio::test]
async fn copies_over_the_budget_are_frozen_and_thaw_with_their_writes() {
    let st = storage();
    let weight = one_copy_weight(&st).await;
    let a = freezing_instance(&st, 2 * weight, u64::MAX);
    let mut sessions = Vec::new();
    for i in 0..8 {
        let s = a.create("ws", notes_request()).await.expect("create");
        add(&a, &s, &format!("note {i}")).await;
        assert!(a.engine().resident_bytes() <= 2 * weight);
        sessions.push(s);
    }
    assert_eq!(a.engine().resident_copies(), 2);
    assert_eq!(a.engine().frozen_copies(), 6);
    let frozen = a.engine().frozen_bytes();
    assert!(
        frozen > 0 && frozen < 6 * weight,
        "frozen copies weigh less than open ones: {frozen} bytes for 6, open {weight} each"
    );
    for (i, s) in sessions.iter().enumerate() {
        add(&a, s, "again").await;
        assert_eq!(
            texts(&a, s).await,
            ["seeded".to_string(), format!("note {i}"), "again".into()]
        );
        assert!(a.engine().resident_bytes() <= 2 * weight);
        assert_eq!(
            a.engine().resident_copies() + a.engine().frozen_copies(),
            8,
            "every copy is open or frozen, none dropped"
        );
    }
}

/// Frozen copies stay within their own budget: the least recently frozen go
/// first and are rebuilt from image + log when next used.
#[tokio::test]
async fn frozen_copies_stay_within_their_budget_and_the_dropped_are_rebuilt() {
    let st = storage();
    let weight = one_copy_weight(&st).await;
    // How much one frozen copy weighs, on an instance that freezes everything.
    let probe = freezing_instance(&st, 0, u64::MAX);
    let p = probe.create("ws", notes_request()).await.expect("probe");
    add(&probe, &p, "note 0").await;
    assert_eq!(probe.engine().frozen_copies(), 1);
    let one = probe.engine().frozen_bytes();
    let budget = 3 * one + one / 2;
    let a = freezing_instance(&st, weight, budget);
    let mut sessions = Vec::new();
    for i in 0..10 {
        let s = a.create("ws", notes_request()).await.expect("create");
        add(&a, &s, &format!("note {i}")).await;
        assert!(a.engine().frozen_bytes() <= budget);
        sessions.push(s);
    }
    assert_eq!(a.engine().resident_copies(), 1);
    assert_eq!(
        a.engine().frozen_copies(),
        3,
        "the 3 most recent of the other 9"
    );
    for (i, s) in sessions.iter().enumerate() {
        assert_eq!(
            texts(&a, s).await,
            ["seeded".to_string(), format!("note {i}")]
        );
        assert!(a.engine().frozen_bytes() <= budget);
    }
}

/// A frozen copy is a copy as of its log position: when another instance wrote
/// to the session meanwhile, thawing catches up from the log.
#[tokio::test]
async fn a_thawed_copy_catches_up_with_writes_made_elsewhere() {
    let st = storage();
    let a = freezing_instance(&st, 0, u64::MAX);
    let b = instance(&st, u64::MAX);
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "from a").await;
    assert_eq!(a.engine().frozen_copies(), 1);
    add(&b, &s, "from b").await;
    assert_eq!(texts(&a, &s).await, ["seeded", "from a", "from b"]);
    add(&a, &s, "a again").await;
    assert_eq!(
        texts(&b, &s).await,
        ["seeded", "from a", "from b", "a again"]
    );
}

/// Ending a session drops its frozen copy too.
#[tokio::test]
async fn ending_a_session_drops_its_frozen_copy() {
    let st = storage();
    let a = freezing_instance(&st, 0, u64::MAX);
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "one").await;
    assert_eq!(a.engine().frozen_copies(), 1);
    a.down("ws", &s.id).await.expect("down");
    assert_eq!(a.engine().frozen_copies(), 0);
    assert_eq!(a.engine().frozen_bytes(), 0);
}

/// A seed of `n` notes of 1 KB each: an image of roughly `n` KB.
fn padded_seed(tag: &str, n: usize) -> serde_json::Value {
    let note = format!("{tag}{}", "x".repeat(1024));
    json!({"notes": vec![note; n]})
}

const LOAD: &(dyn Fn(&Connection, &serde_json::Value) -> Result<(), String> + Sync) = &load_notes;

fn recipe<'a>(seed: &'a serde_json::Value) -> ImageRecipe<'a> {
    ImageRecipe {
        mirror: "notes",
        schema: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
        seed,
        load: LOAD,
    }
}

/// The image cache holds at most its budget, drops the least recently used
/// image first, keeps none bigger than the whole budget, and an image it
/// dropped is still served (from the store).
#[tokio::test]
async fn the_image_cache_stays_within_its_budget_least_recently_used_out_first() {
    let st = storage();
    let images = Images::new(st.store.clone());
    let seeds: Vec<_> = ["a", "b", "c"].iter().map(|t| padded_seed(t, 40)).collect();
    let mut keys = Vec::new();
    let mut sizes = Vec::new();
    for seed in &seeds {
        let (hash, _) = images.ensure(&recipe(seed)).await.expect("ensure");
        let key = shared::state::images::image_key(&hash);
        sizes.push(images.fetch(&key).await.expect("fetch").len() as u64);
        keys.push(key);
    }
    assert_eq!(
        images.cached_count(),
        3,
        "within the default budget all stay"
    );
    // Room for two of the three.
    let budget = sizes[0] + sizes[1] + sizes[2] / 2;
    images.set_budget(budget);
    assert_eq!(images.cached_count(), 2, "setting the budget trims at once");
    assert!(images.cached_bytes() <= budget);
    // a was the least recently used; use b, then bring a back: c goes.
    let b: Bytes = images.fetch(&keys[1]).await.expect("b");
    let a: Bytes = images.fetch(&keys[0]).await.expect("a, from the store");
    assert_eq!(a, st.store.get(&keys[0]).await.expect("stored a"));
    assert!(!b.is_empty());
    assert!(images.cached_bytes() <= budget);
    assert_eq!(images.cached_count(), 2);
    let held = images.cached_bytes();
    images.fetch(&keys[1]).await.expect("b again");
    images.fetch(&keys[0]).await.expect("a again");
    assert_eq!(images.cached_bytes(), held, "a and b are the two held");
    // An image bigger than the whole budget is served but not kept.
    let big = padded_seed("big", 200);
    let (hash, _) = images.ensure(&recipe(&big)).await.expect("big");
    let big_key = shared::state::images::image_key(&hash);
    assert!(images.fetch(&big_key).await.expect("big").len() as u64 > budget);
    assert!(images.cached_bytes() <= budget);
    assert_eq!(images.cached_count(), 2);
}

/// A copy is weighed again as writes grow it — not after every write (that
/// cost 2 % of a create), but within a few writes — so the budget sees what
/// the copies really hold.
#[tokio::test]
async fn a_copy_is_weighed_again_as_it_grows() {
    let st = storage();
    let a = instance(&st, u64::MAX);
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "first").await;
    let start = a.engine().resident_bytes();
    for i in 0..16 {
        add(&a, &s, &format!("{i:04}{}", "s".repeat(16 * 1024))).await;
    }
    let grown = a.engine().resident_bytes();
    assert!(
        grown >= start + 224 * 1024,
        "sixteen 16 KB writes (256 KB) are weighed: {start} -> {grown}"
    );
}
