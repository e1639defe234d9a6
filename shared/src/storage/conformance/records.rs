//! The session table's contract beyond rows and logs: paged listing, tombstones
//! and the snapshot index. Called from [`session_table`](super::session_table).

use super::{assert_flag, assert_not_found, describe, row, Ids, RACERS};
use crate::storage::{SessionTable, SnapshotQuery, SnapshotRow, StorageError, Tombstone};

pub(super) async fn list_sessions_pages_by_id(t: &dyn SessionTable, ids: &Ids) {
    let ws = ids.ws("pg");
    let mut created = Vec::new();
    for i in 0..5 {
        let r = row(ids.ses(&format!("pg{i}")), ws.clone(), None, None);
        t.create_session(&r).await.expect("create_session");
        created.push(r);
    }
    created.sort_by(|a, b| a.id.cmp(&b.id));
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = t
            .list_sessions(&ws, after.as_deref(), 2)
            .await
            .expect("list_sessions page");
        assert!(page.len() <= 2, "a page of limit 2 held {}", page.len());
        if let Some(last) = page.last() {
            after = Some(last.id.clone());
        }
        let done = page.len() < 2;
        paged.extend(page);
        if done {
            break;
        }
        assert!(paged.len() <= 5, "pages never ended: {paged:?}");
    }
    assert_eq!(
        paged, created,
        "paging with limit 2 must return every row once, ordered by id"
    );
    let tail = t
        .list_sessions(&ws, Some(&created[2].id), 100)
        .await
        .expect("list_sessions after");
    assert_eq!(
        tail,
        created[3..],
        "list_sessions(after) returns only the rows with ids above it"
    );
    let none = t.list_sessions(&ws, None, 0).await.expect("limit 0");
    assert!(none.is_empty(), "limit 0 returned {none:?}");
}

fn tombstone(id: &str, inc: &str, ws: &str, ended_at_ms: i64, reason: &str) -> Tombstone {
    Tombstone {
        id: id.to_owned(),
        incarnation: inc.to_owned(),
        workspace: ws.to_owned(),
        name: Some("nightly".into()),
        ended_at_ms,
        reason: reason.to_owned(),
    }
}

pub(super) async fn tombstones_record_ended_sessions(t: &dyn SessionTable, ids: &Ids) {
    let id = ids.ses("tomb");
    let ws = ids.ws("a");
    assert_not_found(
        t.get_tombstone(&id).await,
        "get_tombstone of a live-never id",
    );
    let first = row(id.clone(), ws.clone(), None, None);
    t.create_session(&first).await.expect("create_session");
    assert_not_found(
        t.get_tombstone(&id).await,
        "get_tombstone of a live session that never ended",
    );

    let wrong = tombstone(&id, &ids.inc(), &ws, 1_000, "ended");
    assert_flag(
        t.delete_session(&id, &wrong.incarnation, Some(&wrong))
            .await,
        false,
        "delete_session with another incarnation",
    );
    assert_not_found(
        t.get_tombstone(&id).await,
        "a refused delete_session must not store its tombstone",
    );

    let ended = tombstone(&id, &first.incarnation, &ws, 1_700_000_000_123, "expired");
    assert_flag(
        t.delete_session(&id, &first.incarnation, Some(&ended))
            .await,
        true,
        "delete_session with a tombstone",
    );
    assert_not_found(t.get_session(&id).await, "get_session after delete");
    let got = t.get_tombstone(&id).await;
    assert!(
        matches!(&got, Ok(g) if *g == ended),
        "get_tombstone must return the tombstone delete_session stored, got {}",
        describe(&got)
    );

    // A reused id: the new row lives beside the old tombstone; its own end replaces it.
    let second = row(id.clone(), ws.clone(), None, None);
    t.create_session(&second)
        .await
        .expect("create_session of an id with a tombstone");
    let later = tombstone(&id, &second.incarnation, &ws, 1_700_000_999_000, "ended");
    assert_flag(
        t.delete_session(&id, &second.incarnation, Some(&later))
            .await,
        true,
        "delete_session of the reused id",
    );
    let got = t.get_tombstone(&id).await;
    assert!(
        matches!(&got, Ok(g) if *g == later),
        "the newest tombstone of an id wins, got {}",
        describe(&got)
    );

    // Pruning never touches a younger tombstone; an older one may go now or later.
    let pruned = t.prune_tombstones(1_700_000_999_000).await;
    assert!(pruned.is_ok(), "prune_tombstones: {}", describe(&pruned));
    let got = t.get_tombstone(&id).await;
    assert!(
        matches!(&got, Ok(g) if *g == later),
        "prune_tombstones(before) removed a tombstone that ended at `before`: {}",
        describe(&got)
    );
    let pruned = t.prune_tombstones(1_700_001_000_000).await;
    assert!(pruned.is_ok(), "prune_tombstones: {}", describe(&pruned));
    let got = t.get_tombstone(&id).await;
    assert!(
        matches!(&got, Err(StorageError::NotFound(_))) || matches!(&got, Ok(g) if *g == later),
        "after pruning, a tombstone is gone or unchanged, got {}",
        describe(&got)
    );
}

fn snap(ids: &Ids, ws: &str, n: usize, session: &str, inc: &str, keep: bool) -> SnapshotRow {
    SnapshotRow {
        id: format!("snap_{}_{n:03}", ids.run),
        workspace: ws.to_owned(),
        session: session.to_owned(),
        incarnation: inc.to_owned(),
        created_at_ms: 1_700_000_000_000 + n as i64,
        keep,
        body: format!(r#"{{"n":{n},"note":"ünïcødé ✓"}}"#),
    }
}

pub(super) async fn snapshot_index(t: &dyn SessionTable, ids: &Ids) {
    let ws = ids.ws("snap");
    let other_ws = ids.ws("snap-other");
    let session = ids.ses("snapper");
    let (old_inc, new_inc) = (ids.inc(), ids.inc());
    // Six snapshots: 0-2 by the old incarnation, 3-5 by the new one (a reused id).
    let rows: Vec<SnapshotRow> = (0..6)
        .map(|n| {
            let inc = if n < 3 { &old_inc } else { &new_inc };
            snap(ids, &ws, n, &session, inc, n % 2 == 0)
        })
        .collect();
    assert_not_found(
        t.get_snapshot(&ws, &rows[0].id).await,
        "get_snapshot before create",
    );
    for r in &rows {
        t.create_snapshot(r).await.expect("create_snapshot");
    }
    let dup = t.create_snapshot(&rows[1]).await;
    assert!(
        matches!(dup, Err(StorageError::AlreadyExists(_))),
        "create_snapshot of a taken id must fail AlreadyExists, got {}",
        describe(&dup)
    );
    let racers: Vec<SnapshotRow> = (0..RACERS)
        .map(|i| {
            let mut r = snap(ids, &ws, 100, &session, &new_inc, false);
            r.body = format!(r#"{{"racer":{i}}}"#);
            r
        })
        .collect();
    let results = super::join_all(racers.iter().map(|r| t.create_snapshot(r))).await;
    let winner = super::one_winner(&results, "concurrent create_snapshot of one id");
    let got = t.get_snapshot(&ws, &racers[winner].id).await;
    assert!(
        matches!(&got, Ok(g) if *g == racers[winner]),
        "the winning create_snapshot's row, got {}",
        describe(&got)
    );
    assert_flag(
        t.delete_snapshot(&ws, &racers[winner].id).await,
        true,
        "delete_snapshot of the race's row",
    );

    let got = t.get_snapshot(&ws, &rows[4].id).await;
    assert!(
        matches!(&got, Ok(g) if *g == rows[4]),
        "get_snapshot returns what was created, got {}",
        describe(&got)
    );
    assert_not_found(
        t.get_snapshot(&other_ws, &rows[4].id).await,
        "get_snapshot from another workspace",
    );

    let ws_ref = &ws;
    let list = |q: SnapshotQuery| async move {
        t.list_snapshots(ws_ref, &q)
            .await
            .expect("list_snapshots")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let all: Vec<String> = rows.iter().rev().map(|r| r.id.clone()).collect();
    assert_eq!(
        list(SnapshotQuery {
            limit: 100,
            ..Default::default()
        })
        .await,
        all,
        "list_snapshots returns the workspace's snapshots, newest (greatest id) first"
    );
    assert_eq!(
        list(SnapshotQuery {
            limit: 2,
            ..Default::default()
        })
        .await,
        all[..2],
        "list_snapshots honours limit"
    );
    assert_eq!(
        list(SnapshotQuery {
            before: Some(rows[4].id.clone()),
            limit: 2,
            ..Default::default()
        })
        .await,
        [rows[3].id.clone(), rows[2].id.clone()],
        "list_snapshots(before) returns the page after that id"
    );
    assert_eq!(
        list(SnapshotQuery {
            session: Some((session.clone(), old_inc.clone())),
            limit: 100,
            ..Default::default()
        })
        .await,
        [rows[2].id.clone(), rows[1].id.clone(), rows[0].id.clone()],
        "list_snapshots of one incarnation never shows another incarnation's"
    );
    assert_eq!(
        list(SnapshotQuery {
            session: Some((session.clone(), new_inc.clone())),
            before: Some(rows[5].id.clone()),
            limit: 1,
        })
        .await,
        [rows[4].id.clone()],
        "session filter, cursor and limit combine"
    );
    let elsewhere = t
        .list_snapshots(
            &other_ws,
            &SnapshotQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list_snapshots");
    assert!(elsewhere.is_empty(), "another workspace sees {elsewhere:?}");

    assert_flag(
        t.delete_snapshot(&other_ws, &rows[0].id).await,
        false,
        "delete_snapshot from another workspace",
    );
    for r in &rows {
        assert_flag(t.delete_snapshot(&ws, &r.id).await, true, "delete_snapshot");
        assert_not_found(
            t.get_snapshot(&ws, &r.id).await,
            "get_snapshot after delete",
        );
    }
    assert_flag(
        t.delete_snapshot(&ws, &rows[0].id).await,
        false,
        "delete_snapshot of a deleted snapshot",
    );
}
