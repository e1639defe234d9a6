//! The commit log: appends, reads, pages, checkpoints and the row an
//! append needs.

use super::*;

pub(super) async fn log_append_and_read(t: &dyn SessionTable, ids: &Ids) {
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
pub(super) async fn log_reads_in_pages(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn log_needs_its_row(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn concurrent_appends_have_one_winner(t: &dyn SessionTable, ids: &Ids) {
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
pub(super) async fn checkpoints_only_rise(t: &dyn SessionTable, ids: &Ids) -> Vec<LogRecord> {
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

pub(super) async fn checkpoint_refuses_appends_at_or_below(
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
