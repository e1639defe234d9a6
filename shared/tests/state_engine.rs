//! The state engine through the session service, on the embedded backends, with a
//! minimal test mirror so these tests pin the engine and not a vendor's API:
//! commit log, cold restore, reset, snapshot/restore,
//! image caching, expiry and isolation (several writers: `state_engine_writers.rs`).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use shared::session::{
    CreateSession, ManualClock, ResetSession, SessionError, Sessions, SystemClock,
};
use shared::state::StateError;
use shared::storage::StorageError;
use support::notes::{add, ctx, instance, log_len, notes_request, storage, texts, TestError};

#[tokio::test]
async fn each_changing_write_commits_one_log_entry_and_reads_or_failed_writes_commit_none() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    assert_eq!(texts(&a, &s).await, ["seeded one", "seeded two"]);
    assert_eq!(
        log_len(&st, &s).await,
        0,
        "creating a session writes no log entry"
    );

    add(&a, &s, "three").await;
    add(&a, &s, "four").await;
    assert_eq!(log_len(&st, &s).await, 2);

    let failed = ctx(&a, &s)
        .await
        .write(|c| {
            c.execute("INSERT INTO notes (text) VALUES ('never')", [])
                .map_err(StateError::from)?;
            Err::<(), _>(TestError::Refused)
        })
        .await;
    assert!(matches!(failed, Err(TestError::Refused)));
    let unchanged = ctx(&a, &s).await.write(|_c| Ok::<_, TestError>(())).await;
    assert!(unchanged.is_ok());
    assert_eq!(
        log_len(&st, &s).await,
        2,
        "a failed or empty write logs nothing"
    );
    assert_eq!(
        texts(&a, &s).await,
        ["seeded one", "seeded two", "three", "four"]
    );
}

#[tokio::test]
async fn a_fresh_instance_rebuilds_state_from_image_and_log() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "x").await;
    ctx(&a, &s)
        .await
        .write(|c| {
            c.execute(
                "UPDATE notes SET text = 'renamed' WHERE text = 'seeded one'",
                [],
            )
            .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await
        .expect("update");
    ctx(&a, &s)
        .await
        .write(|c| {
            c.execute("DELETE FROM notes WHERE text = 'seeded two'", [])
                .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await
        .expect("delete");
    let cold = instance(&st, Arc::new(SystemClock));
    assert_eq!(texts(&cold, &s).await, ["renamed", "x"]);
}

#[tokio::test]
async fn reset_returns_to_the_seed_on_every_instance_and_can_switch_seed() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "scratch").await;
    assert_eq!(texts(&b, &s).await.len(), 3);

    let report = a
        .reset("ws", &s.id, ResetSession::default())
        .await
        .expect("reset");
    assert!(report.mirrors.contains_key("notes"));
    assert_eq!(
        texts(&b, &s).await,
        ["seeded one", "seeded two"],
        "the other instance sees the reset at once"
    );
    add(&b, &s, "after reset").await;
    assert_eq!(
        texts(&a, &s).await,
        ["seeded one", "seeded two", "after reset"]
    );

    let req = ResetSession {
        seeds: BTreeMap::from([("notes".into(), "empty".into())]),
        ..Default::default()
    };
    a.reset("ws", &s.id, req)
        .await
        .expect("reset to another seed");
    assert!(texts(&b, &s).await.is_empty());
    let shown = b.get("ws", &s.id).await.expect("get");
    assert_eq!(shown.mirrors["notes"].seed, "empty");
    assert_ne!(shown.config_hash, s.config_hash);
    let cold = instance(&st, Arc::new(SystemClock));
    assert!(
        texts(&cold, &s).await.is_empty(),
        "a cold instance replays the reset"
    );
}

#[tokio::test]
async fn snapshot_then_restore_brings_back_the_exact_state_everywhere() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "kept").await;
    let snap = a.snapshot("ws", &s.id, false).await.expect("snapshot");
    assert!(snap.id.starts_with("snap_"));
    add(&a, &s, "lost").await;
    a.reset("ws", &s.id, ResetSession::default())
        .await
        .expect("reset");

    b.restore("ws", &s.id, &snap.id).await.expect("restore");
    assert_eq!(texts(&a, &s).await, ["seeded one", "seeded two", "kept"]);
    let listed = a
        .snapshots("ws", &s.id, &Default::default())
        .await
        .expect("list");
    assert_eq!(
        listed
            .data
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>(),
        [snap.id.as_str()]
    );

    let missing = a.restore("ws", &s.id, "snap_00000000000000").await;
    assert!(
        matches!(missing, Err(SessionError::NoSnapshot(_))),
        "{missing:?}"
    );
    let malformed = a.restore("ws", &s.id, "nope").await;
    assert!(
        matches!(malformed, Err(SessionError::Invalid(_))),
        "{malformed:?}"
    );
    let other_ws = a.create("other", notes_request()).await.expect("create");
    let foreign = a.restore("other", &other_ws.id, &snap.id).await;
    assert!(
        matches!(foreign, Err(SessionError::NoSnapshot(_))),
        "snapshots are scoped to their workspace"
    );
}

#[tokio::test]
async fn a_second_session_with_the_same_config_reuses_the_image() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let first = a.create("ws", notes_request()).await.expect("first");
    let second = a.create("ws", notes_request()).await.expect("second");
    assert!(!first.cached);
    assert!(second.cached);
    assert_eq!(first.config_hash, second.config_hash);
    let other_instance = instance(&st, Arc::new(SystemClock));
    assert!(
        other_instance
            .create("ws", notes_request())
            .await
            .expect("third")
            .cached,
        "the image is shared through the object store"
    );
    let custom = CreateSession {
        seed_files: BTreeMap::from([("notes".into(), json!({"notes": ["mine"]}))]),
        ..notes_request()
    };
    let c = a.create("ws", custom).await.expect("custom");
    assert!(!c.cached);
    assert_ne!(c.config_hash, first.config_hash);
    assert_eq!(texts(&a, &c).await, ["mine"]);
}

#[tokio::test]
async fn sessions_never_see_each_others_rows() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let s1 = a.create("ws", notes_request()).await.expect("s1");
    let s2 = a.create("ws", notes_request()).await.expect("s2");
    add(&a, &s1, "only in one").await;
    assert_eq!(texts(&a, &s2).await, ["seeded one", "seeded two"]);
    assert_ne!(
        s1.mirrors["notes"].credentials,
        s2.mirrors["notes"].credentials
    );
    let other = a.get("other-workspace", &s1.id).await;
    assert!(
        matches!(other, Err(SessionError::NotFound(_))),
        "another workspace cannot see the session"
    );
}

#[tokio::test]
async fn an_expired_session_is_refused_at_once_and_the_reaper_ends_and_bills_it() {
    let st = storage();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let a = instance(&st, clock.clone());
    let req = CreateSession {
        timeout_seconds: Some(90),
        ..notes_request()
    };
    let s = a.create("ws", req).await.expect("create");
    add(&a, &s, "x").await;
    clock.advance_secs(90);
    let expired_at = 1_700_000_090_000;
    let gone = |r: Result<_, SessionError>| {
        matches!(r, Err(SessionError::Gone { reason, ended_at_ms, .. })
            if reason == "expired" && ended_at_ms == expired_at)
    };
    assert!(gone(a.get("ws", &s.id).await.map(|_| ())));
    assert!(gone(a.context(&s.id, "notes").await.map(|_| ())));
    assert_eq!(a.reap().await.expect("reap"), 1);
    assert!(
        gone(a.get("ws", &s.id).await.map(|_| ())),
        "after the reaper, the tombstone still answers gone"
    );
    assert_eq!(log_len(&st, &s).await, 0, "the session's state is deleted");
    let usage = a.usage("ws", this_month(&a)).await.expect("usage");
    assert_eq!(
        (usage.ephemeral_minutes, usage.live_sessions),
        (2, 0),
        "90 s bill as two started minutes"
    );
}

#[tokio::test]
async fn persistent_sessions_never_expire_and_down_keeps_a_restorable_final_snapshot() {
    let st = storage();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let a = instance(&st, clock.clone());
    let req = CreateSession {
        persistent: true,
        name: Some("staging".into()),
        ..notes_request()
    };
    let s = a.create("ws", req.clone()).await.expect("create");
    assert_eq!(s.expires_at, None);
    let dup = a.create("ws", req.clone()).await;
    assert!(
        matches!(dup, Err(SessionError::Conflict(_))),
        "names are unique per workspace: {dup:?}"
    );
    assert!(
        a.create("other", req.clone()).await.is_ok(),
        "…but not across workspaces"
    );
    add(&a, &s, "prod-like").await;
    clock.advance_secs(30 * 86400);
    assert_eq!(a.reap().await.expect("reap"), 0);
    assert_eq!(a.get("ws", "staging").await.expect("by name").id, s.id);

    let ended = a.down("ws", "staging").await.expect("down");
    let snap = ended.final_snapshot.expect("a final snapshot");
    let again = a.create("ws", req).await.expect("the name is free again");
    a.restore("ws", &again.id, &snap)
        .await
        .expect("restore final snapshot");
    assert_eq!(
        texts(&a, &again).await,
        ["seeded one", "seeded two", "prod-like"]
    );
}

#[tokio::test]
async fn bad_create_requests_are_refused_with_reasons() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let cases = [
        CreateSession {
            mirrors: Some(vec!["nope".into()]),
            ..Default::default()
        },
        CreateSession {
            mirrors: Some(vec![]),
            ..Default::default()
        },
        CreateSession {
            mirrors: Some(vec!["notes".into(), "notes".into()]),
            ..Default::default()
        },
        CreateSession {
            seeds: BTreeMap::from([("notes".into(), "missing".into())]),
            ..notes_request()
        },
        CreateSession {
            seed_files: BTreeMap::from([("notes".into(), json!({"notes": [1]}))]),
            ..notes_request()
        },
        CreateSession {
            persistent: true,
            ..notes_request()
        },
        CreateSession {
            name: Some("Bad Name".into()),
            ..notes_request()
        },
        CreateSession {
            timeout_seconds: Some(0),
            ..notes_request()
        },
    ];
    for req in cases {
        let r = a.create("ws", req.clone()).await;
        assert!(
            matches!(r, Err(SessionError::Invalid(_))),
            "{req:?} → {r:?}"
        );
    }
    assert!(matches!(
        a.get("ws", "ses_zzzz").await,
        Err(SessionError::NotFound(_))
    ));
    assert!(matches!(
        a.get("ws", "NOT VALID").await,
        Err(SessionError::Invalid(_))
    ));
}

#[tokio::test]
async fn mirror_prefixed_seed_names_are_accepted() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let req = CreateSession {
        seeds: BTreeMap::from([("notes".into(), "notes:empty".into())]),
        ..notes_request()
    };
    let s = a.create("ws", req).await.expect("create");
    assert_eq!(s.mirrors["notes"].seed, "empty");
    assert!(texts(&a, &s).await.is_empty());
}

#[tokio::test]
async fn a_write_to_a_session_ended_by_another_instance_is_refused_not_acknowledged() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    let ctx_b = ctx(&b, &s).await;
    add(&b, &s, "before").await;
    a.down("ws", &s.id).await.expect("down");
    let late = ctx_b
        .write(|c| {
            c.execute("INSERT INTO notes (text) VALUES ('late')", [])
                .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await;
    assert!(
        matches!(
            late,
            Err(TestError::State(StateError::Storage(
                StorageError::NotFound(_)
            )))
        ),
        "{late:?}"
    );
    assert!(
        matches!(b.down("ws", &s.id).await, Err(SessionError::Gone { reason, .. }) if reason == "ended"),
        "only one instance ends (and bills) a session"
    );
    assert_eq!(
        a.usage("ws", this_month(&a))
            .await
            .expect("usage")
            .ephemeral_minutes,
        1
    );
}

#[tokio::test]
async fn catching_up_a_reset_followed_by_writes_keeps_the_working_copy_sound() {
    // Applying another instance's reset swaps the database; the writes after it
    // are then replayed through change capture's schema queries. Both must run on
    // a connection that never saw the old database (see `images::open_copy`).
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    for round in 0..150 {
        a.reset("ws", &s.id, ResetSession::default())
            .await
            .expect("reset");
        add(&a, &s, &format!("r{round}")).await;
        let t = texts(&b, &s).await;
        assert_eq!(
            t,
            ["seeded one", "seeded two", &format!("r{round}")],
            "round {round}"
        );
        let integrity: String = ctx(&b, &s)
            .await
            .read(|c| {
                c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .map_err(|e| TestError::from(StateError::from(e)))
            })
            .await
            .expect("integrity");
        assert_eq!(integrity, "ok");
    }
}

/// A reset with nothing applied since the last reset to the same image logs
/// nothing (the state already is the image); after a write on any instance,
/// or to another seed, it logs and resets again.
#[tokio::test]
async fn a_reset_onto_an_untouched_reset_logs_nothing_and_a_touched_one_resets() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    let reset = || a.reset("ws", &s.id, ResetSession::default());

    reset().await.expect("first reset");
    let after_first = log_len(&st, &s).await;
    reset().await.expect("again");
    reset().await.expect("and again");
    assert_eq!(
        log_len(&st, &s).await,
        after_first,
        "untouched: nothing logged"
    );

    // A write through the other instance: this one's copy learns of it only
    // from the log, and the reset must not be skipped.
    add(&b, &s, "written elsewhere").await;
    reset().await.expect("reset after a write");
    assert_eq!(log_len(&st, &s).await, after_first + 2);
    assert_eq!(texts(&b, &s).await, ["seeded one", "seeded two"]);

    let other = ResetSession {
        seeds: BTreeMap::from([("notes".into(), "empty".into())]),
        ..Default::default()
    };
    a.reset("ws", &s.id, other).await.expect("another seed");
    assert!(texts(&b, &s).await.is_empty());
    assert_eq!(log_len(&st, &s).await, after_first + 3);
}

/// The month `sessions`' clock is in.
fn this_month(sessions: &Sessions) -> shared::session::metering::Period {
    shared::session::metering::Period::of_ms(sessions.clock().now_ms())
}
