//! Several writers on one session's mirror, on the embedded backends and the
//! minimal test mirror: instances sharing storage, races for the next
//! commit-log entry (lost, retried, given up with `Contention`), and how the
//! in-process lock is handed from one request to the next.

mod support;

use std::sync::Arc;

use shared::session::{Sessions, SystemClock};
use shared::state::StateError;
use shared::storage::SessionTable;
use support::notes::{
    add, ctx, instance, instance_over, log_key, log_len, notes_request, storage, texts, Notes,
    TestError,
};

#[tokio::test]
async fn two_instances_writing_one_session_lose_nothing_and_agree() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (inst, s) = (if i % 2 == 0 { a.clone() } else { b.clone() }, s.clone());
        tasks.push(tokio::spawn(async move {
            add(&inst, &s, &format!("n{i}")).await
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let (ta, tb) = (texts(&a, &s).await, texts(&b, &s).await);
    assert_eq!(
        ta, tb,
        "both instances converge on the same rows in the same order"
    );
    assert_eq!(ta.len(), 202);
    for i in 0..200 {
        assert_eq!(
            ta.iter().filter(|t| **t == format!("n{i}")).count(),
            1,
            "n{i} exactly once"
        );
    }
    let log = st.table.read_log(&log_key(&s), 0).await.expect("log");
    let seqs: Vec<u64> = log.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "log is gap-free");
}

/// A write runs first on its instance's copy as it stands, without asking the
/// log: one that changes something and finds its entry taken catches up and
/// runs again; one that changes nothing asks the log before it answers, so
/// neither answers from a copy another instance has moved past.
#[tokio::test]
async fn a_write_on_a_copy_another_instance_moved_past_answers_from_the_current_state() {
    let st = storage();
    let a = instance(&st, Arc::new(SystemClock));
    let b = instance(&st, Arc::new(SystemClock));
    let s = a.create("ws", notes_request()).await.expect("create");
    add(&a, &s, "from a").await;
    add(&b, &s, "from b").await;
    // A's copy still ends at "from a": a read-only answer inside a write.
    let seen = ctx(&a, &s)
        .await
        .write(|c| {
            c.query_row("SELECT group_concat(text, '|') FROM notes", [], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await
        .expect("write");
    assert_eq!(seen, "seeded one|seeded two|from a|from b");
    add(&b, &s, "b again").await;
    // A changing write counts what it sees, then adds: it must run on B's rows.
    let counted = ctx(&a, &s)
        .await
        .write(|c| {
            let n: i64 = c
                .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
                .map_err(|e| TestError::from(StateError::from(e)))?;
            c.execute(
                "INSERT INTO notes (text) VALUES (?1)",
                [format!("after {n}")],
            )
            .map_err(|e| TestError::from(StateError::from(e)))?;
            Ok::<_, TestError>(n)
        })
        .await
        .expect("write");
    assert_eq!(counted, 5);
    assert_eq!(
        texts(&b, &s).await,
        [
            "seeded one",
            "seeded two",
            "from a",
            "from b",
            "b again",
            "after 5"
        ]
    );
    assert_eq!(log_len(&st, &s).await, 4);
}

/// Two engines on a multi-thread runtime race for the same log entries: the
/// losers roll back, catch up and run again, and every write lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_racing_for_one_log_retry_their_lost_writes_and_land_each_once() {
    let st = storage();
    let racing = Arc::new(support::racing_table::RacingTable::new(st.table.clone()));
    let table: Arc<dyn SessionTable> = racing.clone();
    let (a, b) = (instance_over(table.clone(), &st), instance_over(table, &st));
    let s = a.create("ws", notes_request()).await.expect("create");
    const WRITES: usize = 200;
    let mut tasks = Vec::new();
    for i in 0..WRITES {
        let (inst, s) = (if i % 2 == 0 { a.clone() } else { b.clone() }, s.clone());
        tasks.push(tokio::spawn(async move {
            // A write that loses every one of its attempts gives up with
            // `Contention` (a 429 to an SDK, which retries it): do the same.
            loop {
                let outcome = ctx(&inst, &s)
                    .await
                    .write(|c| {
                        c.execute("INSERT INTO notes (text) VALUES (?1)", [format!("n{i}")])
                            .map_err(|e| TestError::from(StateError::from(e)))
                    })
                    .await;
                match outcome {
                    Ok(_) => break,
                    Err(TestError::State(StateError::Contention(_))) => continue,
                    Err(e) => panic!("n{i}: {e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }

    assert!(
        racing.lost() > 0,
        "the engines raced: some appends lost and were retried ({} appends)",
        racing.appends()
    );
    assert_eq!(
        racing.appends(),
        WRITES + racing.lost(),
        "each lost append was retried until it landed"
    );
    let (ta, tb) = (texts(&a, &s).await, texts(&b, &s).await);
    assert_eq!(
        ta, tb,
        "both engines converge on the same rows in the same order"
    );
    assert_eq!(ta.len(), 2 + WRITES);
    for i in 0..WRITES {
        assert_eq!(
            ta.iter().filter(|t| **t == format!("n{i}")).count(),
            1,
            "n{i} exactly once"
        );
    }
    let log = st.table.read_log(&log_key(&s), 0).await.expect("log");
    let seqs: Vec<u64> = log.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=WRITES as u64).collect::<Vec<_>>(),
        "log is gap-free"
    );
}

/// Two writes to one session on one thread, the second queued on the mirror's
/// lock while the first holds it (the table's appends yield); returns what
/// happened in order.
async fn two_queued_writes(networked: bool) -> Vec<&'static str> {
    let st = storage();
    let racing = Arc::new(support::racing_table::RacingTable::new(st.table.clone()));
    racing.set_raced_over_network(networked);
    let table: Arc<dyn SessionTable> = racing.clone();
    let a = instance_over(table, &st);
    let s = a.create("ws", notes_request()).await.expect("create");
    let other = a.create("ws", notes_request()).await.expect("create");
    // The racing table's first two appends wait for each other: use them up
    // (on two sessions, so both reach it), which also makes `s` resident.
    tokio::join!(add(&a, &s, "warm"), add(&a, &other, "warm"));

    let order = Arc::new(std::sync::Mutex::new(Vec::<&str>::new()));
    let write = |name: &'static str, answered: &'static str| {
        let (a, s, order) = (a.clone(), s.clone(), order.clone());
        async move {
            ctx(&a, &s)
                .await
                .write(|c| {
                    order.lock().expect("order").push(name);
                    c.execute("INSERT INTO notes (text) VALUES (?1)", [name])
                        .map_err(|e| TestError::from(StateError::from(e)))
                })
                .await
                .expect("write");
            order.lock().expect("order").push(answered);
        }
    };
    let first = tokio::spawn(write("first wrote", "first answered"));
    let second = tokio::spawn(write("second wrote", "second answered"));
    first.await.expect("first");
    second.await.expect("second");
    assert_eq!(texts(&a, &s).await.len(), 5);
    let order = order.lock().expect("order").clone();
    order
}

/// Under load the mirror's lock must not sit idle while its last holder
/// finishes its reply: a write that releases it to a waiting write lets that
/// one in before it goes on.
#[tokio::test(flavor = "current_thread")]
async fn a_write_hands_the_mirror_lock_to_a_waiting_write_before_it_answers() {
    let order = two_queued_writes(false).await;
    assert_eq!(
        order[..2],
        ["first wrote", "second wrote"],
        "the second write ran before the first answered: {order:?}"
    );
}

/// Over a table that other instances race for, back-to-back writes would win
/// every race against an instance that must read the log before it appends
/// (two `mirra serve` on S3 + DynamoDB: one gave up with `Contention`): there
/// a write answers before the next one runs.
#[tokio::test(flavor = "current_thread")]
async fn over_a_networked_table_a_write_answers_before_the_waiting_write_runs() {
    let order = two_queued_writes(true).await;
    assert_eq!(
        order[..2],
        ["first wrote", "first answered"],
        "the first write answered before the second ran: {order:?}"
    );
}

/// A write that loses every race gives up with `Contention` (never a silent
/// success or a lost write), and the same write succeeds once the races stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_loses_every_race_fails_with_contention_and_logs_nothing() {
    let st = storage();
    let racing = Arc::new(support::racing_table::RacingTable::new(st.table.clone()));
    let table: Arc<dyn SessionTable> = racing.clone();
    let a = Arc::new(Sessions::new(
        table,
        st.store.clone(),
        Arc::new(SystemClock),
        vec![Arc::new(Notes {
            default: &["seeded one", "seeded two"],
        })],
    ));
    let s = a.create("ws", notes_request()).await.expect("create");
    racing.set_always_lose(true);
    let outcome = ctx(&a, &s)
        .await
        .write(|c| {
            c.execute("INSERT INTO notes (text) VALUES ('contended')", [])
                .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await;
    assert!(
        matches!(outcome, Err(TestError::State(StateError::Contention(_)))),
        "{outcome:?}"
    );
    assert!(racing.lost() > 1, "the engine retried before giving up");
    assert_eq!(log_len(&st, &s).await, 0, "nothing was logged");
    assert_eq!(texts(&a, &s).await, ["seeded one", "seeded two"]);
    racing.set_always_lose(false);
    add(&a, &s, "contended").await;
    assert_eq!(
        texts(&a, &s).await,
        ["seeded one", "seeded two", "contended"]
    );
}
