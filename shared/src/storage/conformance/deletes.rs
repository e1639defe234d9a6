//! Ending sessions: incarnation checks, what a delete removes, racing
//! deletes and appends, and a reused id starting fresh.

use super::*;

pub(super) async fn delete_session_checks_incarnation(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn delete_session_removes_logs_and_checkpoints(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn concurrent_deletes_have_one_winner(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn appends_racing_delete_never_outlive_it(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn reused_id_starts_fresh(t: &dyn SessionTable, ids: &Ids) {
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
