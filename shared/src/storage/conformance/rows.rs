//! Session rows: lookups, names, puts, listing, expiry, concurrent creates
//! and usage counters.

use super::*;

pub(super) const NAME: &str = "Nightly build ✓";

pub(super) async fn missing_sessions(t: &dyn SessionTable, ids: &Ids) {
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
    let usage = t.usage(&ids.ws("a"), "2026-12").await;
    assert!(
        matches!(&usage, Ok(v) if v.is_empty()),
        "usage of a fresh workspace must be Ok and empty, got {usage:?}"
    );
}

pub(super) async fn create_and_get(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn names_unique_per_workspace(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn put_replaces_never_creates(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn list_by_workspace(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn concurrent_session_creates(t: &dyn SessionTable, ids: &Ids) {
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

pub(super) async fn expired_rows(t: &dyn SessionTable, ids: &Ids) {
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
    // Live: `future` and `never` (expires_at > now, or none); only this workspace's.
    assert_eq!(
        t.count_live_sessions(&ws, now, usize::MAX).await.ok(),
        Some(2),
        "count_live_sessions counts rows without expiry or expiring after now"
    );
    assert_eq!(
        t.count_live_sessions(&ws, now - 61, usize::MAX).await.ok(),
        Some(4),
        "count_live_sessions before any expiry counts all four"
    );
    let some = t
        .count_live_sessions(&ws, now - 61, 1)
        .await
        .expect("count_live_sessions");
    assert!(
        (1..=4).contains(&some),
        "count_live_sessions may stop at `enough`, never below it nor above the count: {some}"
    );
    assert_eq!(
        t.count_live_sessions(&ids.ws("nobody"), now, usize::MAX)
            .await
            .ok(),
        Some(0),
        "count_live_sessions of a workspace without rows"
    );
}

fn charge(period: &str, mode: &str, minutes: u64) -> UsageCharge {
    UsageCharge {
        period: period.into(),
        mode: mode.into(),
        minutes,
    }
}

/// `end_session` bills its charges with the delete, exactly once: racing
/// ends of one row charge once, ends of many rows add up, a refused end
/// charges nothing, and counters are per workspace and period.
pub(super) async fn ending_bills_once(t: &dyn SessionTable, ids: &Ids) {
    let (a, b) = (ids.ws("bill"), ids.ws("b"));
    let rows: Vec<SessionRow> = (0..RACERS)
        .map(|i| row(ids.ses(&format!("bill{i}")), a.clone(), None, None))
        .collect();
    for r in &rows {
        t.create_session(r).await.expect("create_session");
    }
    // Each row billed 1..=RACERS minutes in November and one in December, concurrently.
    let bills: Vec<Vec<UsageCharge>> = (1..=RACERS as u64)
        .map(|m| {
            vec![
                charge("2026-11", "ephemeral", m),
                charge("2026-12", "ephemeral", 1),
            ]
        })
        .collect();
    let results = join_all(
        rows.iter()
            .zip(&bills)
            .map(|(r, c)| t.end_session(&r.id, &r.incarnation, None, c)),
    )
    .await;
    for r in &results {
        assert!(
            matches!(r, Ok(true)),
            "concurrent end_session failed: {r:?}"
        );
    }
    // Racing ends of one row: one wins, its charge counts once.
    let doomed = row(ids.ses("billrace"), a.clone(), None, None);
    t.create_session(&doomed).await.expect("create_session");
    let one = [charge("2026-12", "persistent", 5)];
    let results =
        join_all((0..RACERS).map(|_| t.end_session(&doomed.id, &doomed.incarnation, None, &one)))
            .await;
    let winners = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(
        winners, 1,
        "racing end_session must have one winner: {results:?}"
    );
    // Refused: the wrong incarnation, a missing row.
    let other = row(ids.ses("billwrong"), b.clone(), None, None);
    t.create_session(&other).await.expect("create_session");
    assert_flag(
        t.end_session(
            &other.id,
            &ids.inc(),
            None,
            &[charge("2026-12", "ephemeral", 100)],
        )
        .await,
        false,
        "end_session with the wrong incarnation",
    );
    assert_flag(
        t.end_session(
            &ids.ses("billghost"),
            &ids.inc(),
            None,
            &[charge("2026-12", "ephemeral", 100)],
        )
        .await,
        false,
        "end_session of a missing row",
    );
    assert_flag(
        t.end_session(
            &other.id,
            &other.incarnation,
            None,
            &[charge("2026-12", "ephemeral", 7)],
        )
        .await,
        true,
        "end_session of b's row",
    );
    let sum = (1..=RACERS as u64).sum::<u64>();
    assert_eq!(
        t.usage(&a, "2026-11").await.expect("usage"),
        [("ephemeral".to_string(), sum)],
        "November: every concurrent end's charge, once"
    );
    assert_eq!(
        t.usage(&a, "2026-12").await.expect("usage"),
        [
            ("ephemeral".to_string(), RACERS as u64),
            ("persistent".to_string(), 5)
        ],
        "December: sorted by mode; the raced row charged once"
    );
    assert_eq!(
        t.usage(&b, "2026-12").await.expect("usage"),
        [("ephemeral".to_string(), 7)],
        "usage per workspace; refused ends charge nothing"
    );
    let none = t.usage(&a, "2027-01").await.expect("usage");
    assert!(none.is_empty(), "usage of a period without any: {none:?}");
}
