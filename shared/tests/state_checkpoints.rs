//! Checkpoints: when they are taken, what they hold (the state as of their
//! log entry, built from the log off the mirror's lock while writes go on),
//! and that cold loads and stale instances start from them.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use shared::session::{CreateSession, ResetSession, Session, Sessions, SystemClock};
use shared::state::images;
use shared::storage::Checkpoint;
use support::notes::{
    add, compacting_instance, instance, log_key, notes_request, storage, texts, Notes, Storage,
};

/// The session's newest checkpoint record, if any.
async fn checkpoint_of(st: &Storage, s: &Session) -> Option<Checkpoint> {
    st.table.checkpoint(&log_key(s)).await.expect("checkpoint")
}

/// The notes a stored checkpoint object holds.
async fn notes_in(st: &Storage, object: &str) -> Vec<String> {
    let bytes = st.store.get(object).await.expect("checkpoint object");
    let conn = images::open_copy(&bytes).expect("open checkpoint");
    let mut stmt = conn
        .prepare("SELECT text FROM notes ORDER BY id")
        .expect("prepare");
    let rows = stmt.query_map([], |r| r.get(0)).expect("query");
    rows.collect::<Result<Vec<String>, _>>().expect("rows")
}

#[tokio::test]
async fn compaction_checkpoints_every_n_commits_and_trims_the_log() {
    let st = storage();
    let a = compacting_instance(&st, Arc::new(SystemClock), 10);
    let s = a.create("ws", notes_request()).await.expect("create");
    for i in 0..25 {
        add(&a, &s, &format!("n{i}")).await;
        // Each checkpoint done before the next write, as on an idle server.
        a.engine().flush_checkpoints().await;
    }
    let cp = checkpoint_of(&st, &s).await.expect("some");
    assert_eq!(cp.seq, 20);
    let log = st.table.read_log(&log_key(&s), 0).await.expect("log");
    assert!(
        log.first().is_some_and(|r| r.seq >= 10),
        "entries below the checkpoint are trimmed: first {:?}",
        log.first().map(|r| r.seq)
    );
    assert_eq!(log.last().map(|r| r.seq), Some(25));
    let prefix = format!("ephemeral/checkpoints/{}/", s.id);
    let objects = st.store.list(&prefix).await.expect("list");
    assert_eq!(
        objects,
        std::slice::from_ref(&cp.object),
        "older checkpoint objects are deleted"
    );

    let cold = instance(&st, Arc::new(SystemClock));
    let t = texts(&cold, &s).await;
    assert_eq!(
        t.len(),
        27,
        "a cold instance loads checkpoint + the 5 entries after it"
    );
    assert_eq!(t.last().map(String::as_str), Some("n24"));
}

#[tokio::test]
async fn a_stale_instance_recovers_when_the_entries_it_missed_were_compacted_away() {
    let st = storage();
    let a = compacting_instance(&st, Arc::new(SystemClock), 5);
    let b = compacting_instance(&st, Arc::new(SystemClock), 5);
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&b, &s, "b saw this").await;
    assert_eq!(texts(&b, &s).await.len(), 3);
    for i in 0..23 {
        add(&a, &s, &format!("a{i}")).await;
        a.engine().flush_checkpoints().await;
    }
    // b's copy is at seq 1; entries 2..19 are gone behind the checkpoint at 20.
    let t = texts(&b, &s).await;
    assert_eq!(t.len(), 26);
    add(&b, &s, "b again").await;
    assert_eq!(
        texts(&a, &s).await.last().map(String::as_str),
        Some("b again")
    );
}

#[tokio::test]
async fn small_writes_to_a_large_state_wait_for_enough_log_before_a_checkpoint() {
    let st = storage();
    let mut sessions = Sessions::new(
        st.table.clone(),
        st.store.clone(),
        Arc::new(SystemClock),
        vec![Arc::new(Notes {
            default: &["seeded one", "seeded two"],
        })],
    );
    sessions.set_compact_every(5);
    sessions.set_compact_log_fraction(0.5);
    let a = Arc::new(sessions);
    let big: Vec<String> = (0..200).map(|i| format!("{i:0>1000}")).collect();
    let req = CreateSession {
        seed_files: BTreeMap::from([("notes".into(), json!({ "notes": big }))]),
        ..notes_request()
    };
    let s = a.create("ws", req).await.expect("create");
    for i in 0..20 {
        add(&a, &s, &format!("small {i}")).await;
    }
    a.engine().flush_checkpoints().await;
    assert_eq!(
        checkpoint_of(&st, &s).await,
        None,
        "20 tiny entries against a ~200 KB state do not pay for a checkpoint"
    );
    let chunk = "y".repeat(10_000);
    for _ in 0..25 {
        add(&a, &s, &chunk).await;
    }
    a.engine().flush_checkpoints().await;
    let cp = checkpoint_of(&st, &s).await;
    assert!(
        cp.is_some(),
        "~250 KB of log, more than half the state, does"
    );
    let cold = instance(&st, Arc::new(SystemClock));
    assert_eq!(texts(&cold, &s).await.len(), 245);
}

#[tokio::test]
async fn a_checkpoint_holds_the_state_as_of_its_entry_while_later_writes_go_on() {
    let st = storage();
    let a = compacting_instance(&st, Arc::new(SystemClock), 10);
    let s = a.create("ws", notes_request()).await.expect("create");
    // The tenth write starts a checkpoint at seq 10; the next five land before
    // it is built, and it must not contain them.
    for i in 0..15 {
        add(&a, &s, &format!("n{i}")).await;
    }
    a.engine().flush_checkpoints().await;
    let cp = checkpoint_of(&st, &s)
        .await
        .expect("a checkpoint at the tenth entry");
    assert_eq!(cp.seq, 10);
    let mut want = vec!["seeded one".to_string(), "seeded two".to_string()];
    want.extend((0..10).map(|i| format!("n{i}")));
    assert_eq!(notes_in(&st, &cp.object).await, want);
    let cold = instance(&st, Arc::new(SystemClock));
    assert_eq!(texts(&cold, &s).await.len(), 17);
}

#[tokio::test]
async fn a_checkpoint_after_a_reset_starts_from_the_reset_image() {
    let st = storage();
    let a = compacting_instance(&st, Arc::new(SystemClock), 5);
    let s = a.create("ws", notes_request()).await.expect("create");
    for i in 0..3 {
        add(&a, &s, &format!("before {i}")).await;
    }
    a.reset(
        "ws",
        &s.id,
        ResetSession {
            seeds: BTreeMap::from([("notes".into(), "empty".into())]),
            ..ResetSession::default()
        },
    )
    .await
    .expect("reset");
    for i in 0..5 {
        add(&a, &s, &format!("after {i}")).await;
    }
    a.engine().flush_checkpoints().await;
    let cp = checkpoint_of(&st, &s)
        .await
        .expect("a checkpoint five writes after the reset");
    assert_eq!(cp.seq, 9, "3 writes, the reset, 5 writes");
    let want: Vec<String> = (0..5).map(|i| format!("after {i}")).collect();
    assert_eq!(notes_in(&st, &cp.object).await, want);
}

/// An ephemeral session's own objects — checkpoints, restore copies and
/// snapshots taken without `keep` — lie under `ephemeral/`, the prefix the
/// bucket's lifecycle rule expires; a persistent session's, and kept
/// snapshots, do not. Ending the ephemeral session deletes its share.
#[tokio::test]
async fn ephemeral_state_lives_under_the_prefix_the_bucket_expires() {
    let st = storage();
    let a = compacting_instance(&st, Arc::new(SystemClock), 5);
    let ephemeral = a.create("ws", notes_request()).await.expect("create");
    let persistent = a
        .create(
            "ws",
            CreateSession {
                persistent: true,
                name: Some("staging".into()),
                ..notes_request()
            },
        )
        .await
        .expect("create persistent");
    for s in [&ephemeral, &persistent] {
        for i in 0..6 {
            add(&a, s, &format!("n{i}")).await;
        }
        a.engine().flush_checkpoints().await;
    }
    let dropped = a
        .snapshot("ws", &ephemeral.id, false)
        .await
        .expect("snapshot");
    let kept = a
        .snapshot("ws", &ephemeral.id, true)
        .await
        .expect("snapshot --keep");
    a.restore("ws", &ephemeral.id, &kept.id)
        .await
        .expect("restore");
    let of = |snap: &shared::session::Snapshot| snap.mirrors["notes"].object.clone();
    assert!(
        of(&dropped).starts_with("ephemeral/snapshots/"),
        "{}",
        of(&dropped)
    );
    assert!(of(&kept).starts_with("snapshots/"), "{}", of(&kept));

    let everything = st.store.list("").await.expect("list");
    let of_session = |id: &str| -> Vec<&String> {
        everything
            .iter()
            .filter(|k| k.contains(&format!("checkpoints/{id}/")))
            .collect()
    };
    let mine = of_session(&ephemeral.id);
    assert!(mine.len() >= 2, "a checkpoint and a restore copy: {mine:?}");
    assert!(
        mine.iter().all(|k| k.starts_with("ephemeral/checkpoints/")),
        "{mine:?}"
    );
    let theirs = of_session(&persistent.id);
    assert!(!theirs.is_empty());
    assert!(
        theirs.iter().all(|k| k.starts_with("checkpoints/")),
        "{theirs:?}"
    );

    a.down("ws", &ephemeral.id).await.expect("down");
    let left = st.store.list("ephemeral/").await.expect("list");
    assert!(
        left.is_empty(),
        "ending the session deletes its share: {left:?}"
    );
    assert!(
        st.store.get(&of(&kept)).await.is_ok(),
        "a kept snapshot stays"
    );
}
