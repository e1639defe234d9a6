//! SQLite under concurrency: one file opened at once, two handles seeing each
//! other, racing appends, deletes, schedules and checkpoints, busy writers.

use super::*;

#[test]
fn sqlite_handles_opening_one_new_file_at_once_all_succeed() {
    const HANDLES: usize = 8;
    for round in 0..10 {
        let dir = tempdir();
        let path = Arc::new(dir.path().join("mirra.db"));
        let barrier = Arc::new(Barrier::new(HANDLES));
        let threads: Vec<_> = (0..HANDLES)
            .map(|_| {
                let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteSessionTable::open(&path).map(drop)
                })
            })
            .collect();
        for t in threads {
            let opened = t.join().expect("thread");
            assert!(
                opened.is_ok(),
                "round {round}: a handle opening a new file beside others failed: {opened:?}"
            );
        }
    }
}

#[tokio::test]
async fn sqlite_two_handles_on_one_file_see_each_others_writes() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let a = SqliteSessionTable::open(&path).expect("open a");
    let b = SqliteSessionTable::open(&path).expect("open b");
    let stripe = log_key("ses_1", "stripe");

    a.create_session(&session("ses_1", "ws", Some("ci")))
        .await
        .expect("create via a");
    assert_eq!(
        b.get_session("ses_1")
            .await
            .expect("get via b")
            .name
            .as_deref(),
        Some("ci")
    );
    assert!(matches!(
        b.create_session(&session("ses_2", "ws", Some("ci"))).await,
        Err(StorageError::AlreadyExists(_))
    ));

    // The hot path: b reads at its head, a appends, b's next read sees it.
    assert!(b.read_log(&stripe, 0).await.expect("read").is_empty());
    a.append_log(&stripe, 1, b"one")
        .await
        .expect("append via a");
    let seen = b.read_log(&stripe, 0).await.expect("read via b");
    assert_eq!(seen.iter().map(|r| r.seq).collect::<Vec<_>>(), [1]);
    assert!(matches!(
        b.append_log(&stripe, 1, b"other").await,
        Err(StorageError::AlreadyExists(_))
    ));
    b.append_log(&stripe, 2, b"two")
        .await
        .expect("append via b");
    assert_eq!(
        a.read_log(&stripe, 1).await.expect("read via a")[0].entry,
        b"two"
    );

    // A checkpoint set through one handle binds appends through the other.
    a.append_log(&stripe, 3, b"three").await.expect("append");
    assert!(a
        .set_checkpoint(&stripe, &checkpoint(2, "snap/2"))
        .await
        .expect("checkpoint via a"));
    assert_eq!(
        b.checkpoint(&stripe).await.expect("checkpoint via b"),
        Some(checkpoint(2, "snap/2"))
    );
    assert!(matches!(
        b.append_log(&stripe, 1, b"late").await,
        Err(StorageError::AlreadyExists(_))
    ));

    // Charges made by ending sessions through either handle add up.
    for (table, id, minutes) in [(&a, "ses_u1", 3), (&b, "ses_u2", 4)] {
        table
            .create_session(&session(id, "ws", None))
            .await
            .expect("create");
        assert!(table
            .end_session(id, &format!("inc-{id}"), None, &[minute_charge(minutes)])
            .await
            .expect("end"));
    }
    assert_eq!(
        a.usage("ws", "2026-12").await.expect("usage"),
        [("ephemeral".to_string(), 7)]
    );

    assert!(b
        .delete_session("ses_1", "inc-ses_1", None)
        .await
        .expect("delete via b"));
    assert!(matches!(
        a.get_session("ses_1").await,
        Err(StorageError::NotFound(_))
    ));
    assert!(a.read_log(&stripe, 0).await.expect("read").is_empty());
    assert!(matches!(
        a.append_log(&stripe, 4, b"after").await,
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn sqlite_appends_racing_from_two_handles_have_one_winner_per_seq() {
    const SEQS: u64 = 300;
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let tables = [
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
    ];
    block_on(tables[0].create_session(&session("ses_race", "ws", None))).expect("create");
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2u8)
        .map(|t| {
            let table = Arc::clone(&tables[t as usize]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let stripe = log_key("ses_race", "stripe");
                let mut won = Vec::new();
                for seq in 1..=SEQS {
                    // Both threads try the same seq at the same moment.
                    barrier.wait();
                    match block_on(table.append_log(&stripe, seq, &[t])) {
                        Ok(()) => won.push(seq),
                        Err(StorageError::AlreadyExists(_)) => {}
                        Err(e) => panic!("thread {t} seq {seq}: {e:?}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<Vec<u64>> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(
        won[0].len() + won[1].len(),
        SEQS as usize,
        "every seq has exactly one winner"
    );
    let log = block_on(tables[0].read_log(&log_key("ses_race", "stripe"), 0)).expect("read");
    assert_eq!(log.len(), SEQS as usize);
    for rec in log {
        let t = rec.entry[0] as usize;
        assert!(
            won[t].contains(&rec.seq),
            "seq {} stored thread {t}'s entry, but it lost",
            rec.seq
        );
    }
}

#[test]
fn sqlite_deletes_racing_from_threads_and_two_handles_have_one_winner() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 50;
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let tables = [
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
    ];
    block_on(async {
        for round in 0..ROUNDS {
            let id = format!("ses_d{round}");
            tables[0]
                .create_session(&session(&id, "ws", Some(&id)))
                .await
                .expect("create");
            tables[0]
                .append_log(&log_key(&id, "stripe"), 1, b"one")
                .await
                .expect("append");
        }
    });
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let table = Arc::clone(&tables[t % 2]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                (0..ROUNDS)
                    .map(|round| {
                        let id = format!("ses_d{round}");
                        barrier.wait();
                        block_on(table.delete_session(&id, &format!("inc-{id}"), None))
                            .unwrap_or_else(|e| panic!("thread {t} round {round}: {e:?}"))
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let results: Vec<Vec<bool>> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    for round in 0..ROUNDS {
        let winners = results.iter().filter(|r| r[round]).count();
        assert_eq!(
            winners, 1,
            "round {round}: {THREADS} racing delete_session, {winners} returned true"
        );
    }
    assert!(block_on(tables[1].list_sessions("ws", None, usize::MAX))
        .expect("list")
        .is_empty());
    assert_eq!(
        raw_count(
            &path,
            "SELECT count(*) FROM log WHERE session LIKE ?1",
            "ses_d%"
        ),
        0
    );
}

/// Threads on two handles (processes) schedule due work for one (session,
/// mirror) at once, each round its own times: the entry ends at the earliest,
/// and the call that scheduled it says it stored it.
#[test]
fn sqlite_schedules_racing_from_threads_and_two_handles_keep_the_earliest() {
    const THREADS: usize = 8;
    const ROUNDS: i64 = 40;
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let tables = [
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
    ];
    block_on(tables[0].create_session(&session("ses_due", "ws", None))).expect("create");
    // Thread t's time in round r: a different thread is earliest each round.
    let time = |t: usize, r: i64| 1_000 * (r + 1) + ((t as i64 + r) % THREADS as i64);
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let table = Arc::clone(&tables[t % 2]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                (0..ROUNDS)
                    .map(|r| {
                        barrier.wait();
                        let stored = block_on(table.schedule_due(
                            "ses_due",
                            "inc-ses_due",
                            &format!("m{r}"),
                            time(t, r),
                        ))
                        .unwrap_or_else(|e| panic!("thread {t} round {r}: {e:?}"));
                        (time(t, r), stored)
                    })
                    .collect::<Vec<(i64, bool)>>()
            })
        })
        .collect();
    let results: Vec<Vec<(i64, bool)>> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let entries = block_on(tables[1].due_before(i64::MAX, usize::MAX)).expect("due_before");
    assert_eq!(entries.len(), ROUNDS as usize, "one entry per mirror");
    for r in 0..ROUNDS {
        let earliest = 1_000 * (r + 1);
        let got = entries
            .iter()
            .find(|w| w.mirror == format!("m{r}"))
            .map(|w| w.due_at_ms);
        assert_eq!(got, Some(earliest), "round {r}: the earliest time wins");
        assert!(
            results
                .iter()
                .any(|calls| calls[r as usize] == (earliest, true)),
            "round {r}: the earliest schedule must report that it stored its time"
        );
    }
}

/// Writers on their own handles (processes) append to their mirrors' logs, and
/// checkpoint now and then, until the row is gone; another handle deletes it
/// meanwhile. Every append and checkpoint lands before the delete and goes with
/// it, or fails with `NotFound`: none is acknowledged after the delete returned,
/// and no log entry or checkpoint row is left behind.
#[test]
fn sqlite_appends_and_checkpoints_racing_delete_leave_nothing_behind() {
    const ROUNDS: u64 = 60;
    const WRITERS: usize = 3;
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let tables: Vec<_> = (0..=WRITERS)
        .map(|_| Arc::new(SqliteSessionTable::open(&path).expect("open")))
        .collect();
    let mut raced = 0;
    for round in 0..ROUNDS {
        let id = format!("ses_r{round}");
        block_on(tables[0].create_session(&session(&id, "ws", None))).expect("create");
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let deleted = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (table, barrier) = (Arc::clone(&tables[w]), Arc::clone(&barrier));
                let (deleted, id) = (Arc::clone(&deleted), id.clone());
                std::thread::spawn(move || {
                    let log = log_key(&id, &format!("mirror{w}"));
                    barrier.wait();
                    block_on(async {
                        for seq in 1.. {
                            let after_delete = deleted.load(Ordering::SeqCst);
                            match table.append_log(&log, seq, b"racing").await {
                                Ok(()) if after_delete => panic!(
                                    "round {round} writer {w}: append {seq} acknowledged \
                                     after the delete"
                                ),
                                Ok(()) => {}
                                Err(StorageError::NotFound(_)) => return seq,
                                Err(e) => panic!("round {round} writer {w} append {seq}: {e:?}"),
                            }
                            if seq % 7 == 0 {
                                let after_delete = deleted.load(Ordering::SeqCst);
                                match table.set_checkpoint(&log, &checkpoint(seq - 2, "s")).await {
                                    Ok(true) if after_delete => panic!(
                                        "round {round} writer {w}: checkpoint {seq} \
                                         acknowledged after the delete"
                                    ),
                                    Ok(true) | Err(StorageError::NotFound(_)) => {}
                                    other => panic!(
                                        "round {round} writer {w} checkpoint {seq}: {other:?}"
                                    ),
                                }
                            }
                        }
                        unreachable!()
                    })
                })
            })
            .collect();
        let deleter = {
            let (table, barrier) = (Arc::clone(&tables[WRITERS]), Arc::clone(&barrier));
            let (deleted, id) = (Arc::clone(&deleted), id.clone());
            std::thread::spawn(move || {
                barrier.wait();
                std::thread::sleep(Duration::from_micros(50 * round));
                let result = block_on(table.delete_session(&id, &format!("inc-{id}"), None));
                deleted.store(true, Ordering::SeqCst);
                result
            })
        };
        assert!(matches!(deleter.join().expect("deleter"), Ok(true)));
        let refused_at: Vec<u64> = writers
            .into_iter()
            .map(|w| w.join().expect("writer"))
            .collect();
        raced += u64::from(refused_at.iter().any(|&seq| seq > 1));
        block_on(async {
            for (w, seq) in refused_at.iter().enumerate() {
                let log = log_key(&id, &format!("mirror{w}"));
                assert!(matches!(
                    tables[w].append_log(&log, seq + 1, b"after").await,
                    Err(StorageError::NotFound(_))
                ));
                assert!(tables[WRITERS]
                    .read_log(&log, 0)
                    .await
                    .expect("read")
                    .is_empty());
                assert_eq!(
                    tables[WRITERS].checkpoint(&log).await.expect("checkpoint"),
                    None
                );
            }
        });
        for table in ["log", "checkpoints"] {
            let sql = format!("SELECT count(*) FROM {table} WHERE session = ?1");
            assert_eq!(
                raw_count(&path, &sql, &id),
                0,
                "round {round}: rows left in {table} after delete_session (writers stopped at \
                 {refused_at:?})"
            );
        }
    }
    assert!(
        raced >= ROUNDS / 2,
        "appends landed before the delete in only {raced} of {ROUNDS} rounds: no race to check"
    );
}

#[tokio::test]
async fn sqlite_checkpoint_deletes_older_entries_at_once() {
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let t = SqliteSessionTable::open(&path).expect("open");
    t.create_session(&session("ses_c", "ws", None))
        .await
        .expect("create");
    let (stripe, twilio) = (log_key("ses_c", "stripe"), log_key("ses_c", "twilio"));
    for seq in 1..=10 {
        t.append_log(&stripe, seq, &[seq as u8])
            .await
            .expect("append");
        t.append_log(&twilio, seq, &[seq as u8])
            .await
            .expect("append");
    }
    let stored = |mirror: &str| {
        rusqlite::Connection::open(&path)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM log WHERE session = 'ses_c' AND mirror = ?1",
                    [mirror],
                    |r| r.get::<_, i64>(0),
                )
            })
            .expect("raw count")
    };

    assert!(t
        .set_checkpoint(&stripe, &checkpoint(7, "snap/7"))
        .await
        .expect("checkpoint"));
    assert_eq!(
        stored("stripe"),
        4,
        "entries 1..6 go in the same transaction"
    );
    assert_eq!(stored("twilio"), 10, "another mirror's entries stay");
    let log = t.read_log(&stripe, 0).await.expect("read");
    assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), [7, 8, 9, 10]);
    assert_eq!(log[0].entry, [7]);
    // The deleted entry is gone, and the checkpoint still refuses its seq.
    assert!(matches!(
        t.append_log(&stripe, 3, b"again").await,
        Err(StorageError::AlreadyExists(_))
    ));
    assert_eq!(stored("stripe"), 4);

    assert!(!t
        .set_checkpoint(&stripe, &checkpoint(5, "snap/5"))
        .await
        .expect("lower checkpoint"));
    assert_eq!(stored("stripe"), 4, "a refused checkpoint deletes nothing");
    assert!(t
        .set_checkpoint(&stripe, &checkpoint(10, "snap/10"))
        .await
        .expect("checkpoint at the head"));
    assert_eq!(stored("stripe"), 1, "the checkpoint's own entry stays");
}

#[test]
fn sqlite_writers_on_many_threads_and_two_handles_never_fail_busy() {
    const THREADS: usize = 8;
    const OPS: u64 = 100;
    let dir = tempdir();
    let path = dir.path().join("mirra.db");
    let tables = [
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
        Arc::new(SqliteSessionTable::open(&path).expect("open")),
    ];
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let table = Arc::clone(&tables[t % 2]);
            std::thread::spawn(move || {
                block_on(async {
                    let id = format!("ses_{t}");
                    let stripe = log_key(&id, "stripe");
                    table
                        .create_session(&session(&id, "ws", None))
                        .await
                        .expect("create");
                    for seq in 1..=OPS {
                        table
                            .append_log(&stripe, seq, b"change")
                            .await
                            .expect("append");
                        table.read_log(&stripe, seq).await.expect("read at head");
                        if seq % 10 == 0 {
                            let scratch = format!("ses_{t}_{seq}");
                            table
                                .create_session(&session(&scratch, "ws", None))
                                .await
                                .expect("create");
                            assert!(table
                                .end_session(
                                    &scratch,
                                    &format!("inc-{scratch}"),
                                    None,
                                    &[minute_charge(1)]
                                )
                                .await
                                .expect("end"));
                            assert!(table
                                .set_checkpoint(&stripe, &checkpoint(seq / 2, "snap"))
                                .await
                                .expect("checkpoint"));
                        }
                    }
                    if t % 4 == 0 {
                        assert!(table
                            .delete_session(&id, &format!("inc-{id}"), None)
                            .await
                            .expect("delete"));
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a writer failed");
    }
    block_on(async {
        let total = tables[1].usage("ws", "2026-12").await.expect("usage");
        assert_eq!(
            total,
            [("ephemeral".to_string(), THREADS as u64 * OPS / 10)]
        );
        let rows = tables[0]
            .list_sessions("ws", None, usize::MAX)
            .await
            .expect("list");
        assert_eq!(rows.len(), THREADS - THREADS / 4);
        let log = tables[0]
            .read_log(&log_key("ses_1", "stripe"), 0)
            .await
            .expect("read");
        assert_eq!(log.first().map(|r| r.seq), Some(OPS / 2));
        assert_eq!(log.len() as u64, OPS / 2 + 1);
    });
}

/// `minutes` ephemeral minutes in December 2026.
fn minute_charge(minutes: u64) -> UsageCharge {
    UsageCharge {
        period: "2026-12".into(),
        mode: "ephemeral".into(),
        minutes,
    }
}
