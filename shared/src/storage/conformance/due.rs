//! The due-work index: which (session, mirror) has work due when. Called from
//! [`session_table`](super::session_table), except
//! [`due_work_on_an_empty_table`], which needs a table of its own.
//!
//! `due_before` and `next_due` see the whole table, and the suite may share it
//! with other runs (of itself, too), so the shared cases look at their own
//! entries and check the rest by what must hold whatever else is there: the
//! answer is sorted, due, within the limit, and a prefix of the index (none
//! of ours earlier than its last entry is missing). Times are per run, in a
//! window of their own.

use super::{assert_flag, assert_not_found, describe, join_all, row, Ids, RACERS};
use crate::storage::{DueWork, SessionRow, SessionTable, Tombstone};

/// A window of due times no other run uses (with high probability): `base`
/// plus small offsets.
fn base() -> i64 {
    1_000_000_000 + i64::from(rand::random::<u32>()) * 100_000
}

/// This run's session ids start with it.
fn ours(ids: &Ids) -> String {
    ids.ses("due")
}

/// Every entry of this run in the index, earliest first.
async fn our_entries(t: &dyn SessionTable, ids: &Ids) -> Vec<DueWork> {
    let prefix = ours(ids);
    t.due_before(i64::MAX, usize::MAX)
        .await
        .expect("due_before")
        .into_iter()
        .filter(|w| w.session_id.starts_with(&prefix))
        .collect()
}

/// The entry of (row, mirror), if any.
async fn entry(t: &dyn SessionTable, r: &SessionRow, mirror: &str) -> Option<DueWork> {
    let all = t
        .due_before(i64::MAX, usize::MAX)
        .await
        .expect("due_before");
    let mut found: Vec<DueWork> = all
        .into_iter()
        .filter(|w| w.session_id == r.id && w.mirror == mirror)
        .collect();
    assert!(
        found.len() <= 1,
        "one entry per (session, mirror), found {found:?}"
    );
    found.pop()
}

fn work(r: &SessionRow, mirror: &str, due_at_ms: i64) -> DueWork {
    DueWork {
        session_id: r.id.clone(),
        incarnation: r.incarnation.clone(),
        mirror: mirror.to_owned(),
        due_at_ms,
    }
}

async fn live_row(t: &dyn SessionTable, ids: &Ids, n: &str) -> SessionRow {
    let r = row(format!("{}-{n}", ours(ids)), ids.ws("due"), None, None);
    t.create_session(&r).await.expect("create_session");
    r
}

/// A schedule needs its row: an unknown id or another incarnation is
/// `NotFound`, and stores nothing.
pub(super) async fn due_work_needs_its_row(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let ghost = format!("{}-ghost", ours(ids));
    assert_not_found(
        t.schedule_due(&ghost, &ids.inc(), "stripe", at).await,
        "schedule_due for a session that does not exist",
    );
    let r = live_row(t, ids, "needs").await;
    assert_not_found(
        t.schedule_due(&r.id, &ids.inc(), "stripe", at).await,
        "schedule_due with an incarnation the row does not have",
    );
    let left = our_entries(t, ids).await;
    assert!(
        left.iter()
            .all(|w| w.session_id != ghost && w.session_id != r.id),
        "a refused schedule_due stored an entry: {left:?}"
    );
    assert_flag(
        t.reschedule_due(&ghost, "stripe", at, None).await,
        false,
        "reschedule_due of an entry that does not exist",
    );
}

/// Min merge: the earliest time wins, one after another and at once; each
/// mirror of a session has its own entry.
pub(super) async fn schedule_keeps_the_earliest(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let r = live_row(t, ids, "min").await;
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 50)
            .await,
        true,
        "schedule_due of a new entry",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 50))
    );
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 70)
            .await,
        false,
        "schedule_due later than the stored entry keeps the entry",
    );
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 50)
            .await,
        false,
        "schedule_due at the stored time changes nothing",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 50)),
        "a later schedule must not move the entry"
    );
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 30)
            .await,
        true,
        "schedule_due earlier than the stored entry",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 30))
    );

    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "twilio", at + 90)
            .await,
        true,
        "schedule_due of another mirror of the session",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 30)),
        "another mirror's schedule changed this mirror's entry"
    );
    assert_eq!(
        entry(t, &r, "twilio").await,
        Some(work(&r, "twilio", at + 90))
    );

    // At once, in shuffled order: the earliest wins, and its call says so.
    let race = live_row(t, ids, "race").await;
    let mut times: Vec<i64> = (0..RACERS as i64).map(|i| at + 1_000 + i * 7).collect();
    times.rotate_left(RACERS / 3);
    times.swap(1, RACERS - 2);
    let results = join_all(
        times
            .iter()
            .map(|&due| t.schedule_due(&race.id, &race.incarnation, "stripe", due)),
    )
    .await;
    for r in &results {
        assert!(r.is_ok(), "concurrent schedule_due failed: {}", describe(r));
    }
    let earliest = *times.iter().min().expect("racers");
    let winner = times.iter().position(|&d| d == earliest).expect("earliest");
    assert!(
        matches!(results[winner], Ok(true)),
        "the earliest of concurrent schedules must report it stored its time, got {}",
        describe(&results[winner])
    );
    assert_eq!(
        entry(t, &race, "stripe").await,
        Some(work(&race, "stripe", earliest)),
        "after concurrent schedule_due calls the entry must hold the earliest time"
    );
}

/// The dispatcher's compare-and-set: it moves or deletes the entry only while
/// it is still at the time the dispatcher saw.
pub(super) async fn reschedule_only_when_unchanged(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let r = live_row(t, ids, "cas").await;
    t.schedule_due(&r.id, &r.incarnation, "stripe", at + 10)
        .await
        .expect("schedule_due");
    assert_flag(
        t.reschedule_due(&r.id, "stripe", at + 11, Some(at + 20))
            .await,
        false,
        "reschedule_due with a time the entry does not hold",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 10)),
        "a refused reschedule_due changed the entry"
    );
    assert_flag(
        t.reschedule_due(&r.id, "twilio", at + 10, None).await,
        false,
        "reschedule_due of a mirror without an entry",
    );
    assert_flag(
        t.reschedule_due(&r.id, "stripe", at + 10, Some(at + 20))
            .await,
        true,
        "reschedule_due of the entry as seen",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 20)),
        "reschedule_due moves the entry to next (later, too)"
    );
    assert_flag(
        t.reschedule_due(&r.id, "stripe", at + 10, None).await,
        false,
        "a second reschedule_due of the same seen time",
    );

    // Someone scheduled earlier work meanwhile: the dispatcher leaves it.
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 5)
            .await,
        true,
        "schedule_due earlier than a rescheduled entry",
    );
    assert_flag(
        t.reschedule_due(&r.id, "stripe", at + 20, None).await,
        false,
        "reschedule_due after someone scheduled earlier work",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 5)),
        "the earlier work someone scheduled must stay"
    );
    assert_flag(
        t.reschedule_due(&r.id, "stripe", at + 5, None).await,
        true,
        "reschedule_due to nothing",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        None,
        "reschedule_due(.., None) deletes the entry"
    );
    assert_flag(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 40)
            .await,
        true,
        "schedule_due after the entry was deleted",
    );
    assert_eq!(
        entry(t, &r, "stripe").await,
        Some(work(&r, "stripe", at + 40))
    );
}

/// Checks one `due_before(now, limit)` answer against everything that must
/// hold on a shared table: within the limit, due, sorted, and a prefix of the
/// index as far as this run's entries (`ours`, all of them) can tell.
#[track_caller]
fn assert_due_page(got: &[DueWork], ours: &[DueWork], now: i64, limit: usize, what: &str) {
    assert!(
        got.len() <= limit,
        "{what}: {} entries for limit {limit}",
        got.len()
    );
    assert!(
        got.iter().all(|w| w.due_at_ms <= now),
        "{what}: entries due after {now}: {got:?}"
    );
    assert!(
        got.windows(2).all(|p| p[0].due_at_ms <= p[1].due_at_ms),
        "{what}: not earliest first: {got:?}"
    );
    // Ours that must be there: all due ones when the page is not full, else
    // those before its last entry's time.
    let last = got.last().map(|w| w.due_at_ms);
    for w in ours {
        let needed = if got.len() < limit {
            w.due_at_ms <= now
        } else {
            last.is_some_and(|l| w.due_at_ms < l)
        };
        assert!(
            !needed || got.contains(w),
            "{what}: {w:?} is missing (the answer must be the earliest entries): {got:?}"
        );
    }
}

/// `due_before` returns what is due at or before `now`, earliest first, at
/// most `limit`; `next_due` is never later than the earliest entry.
pub(super) async fn due_before_orders_and_limits(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let (a, b) = (
        live_row(t, ids, "ord-a").await,
        live_row(t, ids, "ord-b").await,
    );
    let now = at + 150;
    let scheduled = [
        work(&a, "stripe", at + 103),
        work(&b, "stripe", at + 100),
        work(&a, "twilio", now),
        work(&b, "twilio", at + 101),
        work(&a, "resend", now + 1),
    ];
    for w in &scheduled {
        assert_flag(
            t.schedule_due(&w.session_id, &w.incarnation, &w.mirror, w.due_at_ms)
                .await,
            true,
            "schedule_due",
        );
    }
    let mut mine: Vec<DueWork> = scheduled.to_vec();
    mine.sort_by_key(|w| w.due_at_ms);
    let due: Vec<DueWork> = mine
        .iter()
        .filter(|w| w.due_at_ms <= now)
        .cloned()
        .collect();

    let all = t.due_before(now, usize::MAX).await.expect("due_before");
    assert_due_page(&all, &mine, now, usize::MAX, "due_before(now, no limit)");
    let got: Vec<DueWork> = all
        .iter()
        .filter(|w| w.session_id == a.id || w.session_id == b.id)
        .cloned()
        .collect();
    assert_eq!(
        got, due,
        "due_before(now) must return every entry due at or before now (now included, \
         later ones not), earliest first"
    );
    for limit in [1, 2, 3] {
        let page = t.due_before(now, limit).await.expect("due_before");
        assert_due_page(
            &page,
            &mine,
            now,
            limit,
            &format!("due_before(now, {limit})"),
        );
    }
    let none = t.due_before(now, 0).await.expect("due_before");
    assert!(none.is_empty(), "due_before with limit 0 returned {none:?}");
    let before = t.due_before(at + 99, usize::MAX).await.expect("due_before");
    assert!(
        before
            .iter()
            .all(|w| w.session_id != a.id && w.session_id != b.id),
        "due_before earlier than every entry of ours returned some: {before:?}"
    );

    let next = t.next_due().await.expect("next_due");
    assert!(
        next.is_some_and(|n| n <= at + 100),
        "next_due must be at or before the earliest entry ({}), got {next:?}",
        at + 100
    );
}

/// Ending a session drops its entries; a schedule after the end is refused.
pub(super) async fn ending_a_session_drops_its_due_work(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let r = live_row(t, ids, "end").await;
    let other = live_row(t, ids, "end-other").await;
    for (s, m) in [(&r, "stripe"), (&r, "twilio"), (&other, "stripe")] {
        t.schedule_due(&s.id, &s.incarnation, m, at + 1)
            .await
            .expect("schedule_due");
    }
    let tombstone = Tombstone {
        id: r.id.clone(),
        incarnation: r.incarnation.clone(),
        workspace: r.workspace.clone(),
        name: None,
        ended_at_ms: at,
        reason: "ended".into(),
    };
    assert_flag(
        t.delete_session(&r.id, &r.incarnation, Some(&tombstone))
            .await,
        true,
        "delete_session",
    );
    let left = our_entries(t, ids).await;
    assert!(
        left.iter().all(|w| w.session_id != r.id),
        "delete_session left the session's due work: {left:?}"
    );
    assert!(
        left.contains(&work(&other, "stripe", at + 1)),
        "delete_session dropped another session's due work: {left:?}"
    );
    assert_not_found(
        t.schedule_due(&r.id, &r.incarnation, "stripe", at + 2)
            .await,
        "schedule_due for an ended session",
    );
    assert_eq!(entry(t, &r, "stripe").await, None);
}

/// A reused id's new incarnation starts without the old one's entries, and
/// the old incarnation cannot schedule into it.
pub(super) async fn reused_id_starts_without_due_work(t: &dyn SessionTable, ids: &Ids) {
    let at = base();
    let first = live_row(t, ids, "reuse").await;
    t.schedule_due(&first.id, &first.incarnation, "stripe", at + 1)
        .await
        .expect("schedule_due");
    assert_flag(
        t.delete_session(&first.id, &first.incarnation, None).await,
        true,
        "delete_session",
    );
    let second = row(first.id.clone(), first.workspace.clone(), None, None);
    t.create_session(&second)
        .await
        .expect("create_session of a deleted session's id");
    assert_eq!(
        entry(t, &second, "stripe").await,
        None,
        "a reused id's new incarnation must start without due work"
    );
    assert_not_found(
        t.schedule_due(&first.id, &first.incarnation, "stripe", at)
            .await,
        "schedule_due with a reused id's old incarnation",
    );
    assert_flag(
        t.schedule_due(&second.id, &second.incarnation, "stripe", at + 9)
            .await,
        true,
        "the new incarnation's first schedule_due",
    );
    assert_eq!(
        entry(t, &second, "stripe").await,
        Some(work(&second, "stripe", at + 9)),
        "the new incarnation's entry"
    );
}

/// What only a table nobody else uses can show exactly: `next_due` is `None`
/// on an empty index and then exactly the earliest entry, `due_before` pages
/// are exactly the earliest entries, and ending the session empties the
/// index again. Cleans up after itself.
pub async fn due_work_on_an_empty_table(t: &dyn SessionTable) {
    let ids = Ids::new();
    assert_eq!(
        t.next_due().await.expect("next_due"),
        None,
        "next_due of an empty index"
    );
    assert_eq!(
        t.due_before(i64::MAX, usize::MAX)
            .await
            .expect("due_before"),
        [],
        "due_before of an empty index"
    );
    let at = base();
    let (a, b) = (
        live_row(t, &ids, "alone-a").await,
        live_row(t, &ids, "alone-b").await,
    );
    let expected = [
        work(&b, "stripe", at + 1),
        work(&a, "stripe", at + 2),
        work(&a, "twilio", at + 3),
        work(&b, "twilio", at + 4),
    ];
    for w in expected.iter().rev() {
        t.schedule_due(&w.session_id, &w.incarnation, &w.mirror, w.due_at_ms)
            .await
            .expect("schedule_due");
    }
    assert_eq!(
        t.next_due().await.expect("next_due"),
        Some(at + 1),
        "next_due is the earliest entry's time"
    );
    for limit in 0..=5 {
        assert_eq!(
            t.due_before(at + 10, limit).await.expect("due_before"),
            expected[..limit.min(expected.len())],
            "due_before(.., {limit}) is the first {limit} entries, earliest first"
        );
    }
    assert_eq!(
        t.due_before(at + 2, 10).await.expect("due_before"),
        expected[..2],
        "due_before(t) stops at t"
    );
    assert_eq!(
        t.due_before(at, 10).await.expect("due_before"),
        [],
        "due_before before every entry"
    );
    assert_flag(
        t.reschedule_due(&b.id, "stripe", at + 1, Some(at + 9))
            .await,
        true,
        "reschedule_due",
    );
    assert_eq!(
        t.next_due().await.expect("next_due"),
        Some(at + 2),
        "next_due follows a reschedule"
    );
    assert_flag(
        t.delete_session(&a.id, &a.incarnation, None).await,
        true,
        "delete_session",
    );
    assert_eq!(
        t.next_due().await.expect("next_due"),
        Some(at + 4),
        "next_due after a session ended"
    );
    assert_flag(
        t.delete_session(&b.id, &b.incarnation, None).await,
        true,
        "delete_session",
    );
    assert_eq!(
        t.next_due().await.expect("next_due"),
        None,
        "next_due once every session with due work ended"
    );
    assert_eq!(
        t.due_before(i64::MAX, usize::MAX)
            .await
            .expect("due_before"),
        [],
        "due_before once every session with due work ended"
    );
}
