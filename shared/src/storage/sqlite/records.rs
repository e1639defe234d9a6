//! Tombstones (and the credentials that name them) and the snapshot index:
//! plain statements over one connection,
//! called by the [`SessionTable`](crate::storage::SessionTable) impl in `mod.rs`.

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::clamp;
use crate::storage::{SnapshotQuery, SnapshotRow, Tombstone};

/// Stores the newest tombstone of an id (replacing an older incarnation's).
pub(super) fn put_tombstone(c: &Connection, t: &Tombstone) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO tombstones (id, incarnation, workspace, name, ended_at_ms, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET incarnation = excluded.incarnation,
             workspace = excluded.workspace, name = excluded.name,
             ended_at_ms = excluded.ended_at_ms, reason = excluded.reason",
    )?
    .execute(params![
        t.id,
        t.incarnation,
        t.workspace,
        t.name,
        t.ended_at_ms,
        t.reason
    ])?;
    Ok(())
}

fn tombstone_from_row(r: &Row<'_>) -> rusqlite::Result<Tombstone> {
    Ok(Tombstone {
        id: r.get(0)?,
        incarnation: r.get(1)?,
        workspace: r.get(2)?,
        name: r.get(3)?,
        ended_at_ms: r.get(4)?,
        reason: r.get(5)?,
    })
}

pub(super) fn get_tombstone(c: &Connection, id: &str) -> rusqlite::Result<Option<Tombstone>> {
    c.prepare_cached(
        "SELECT id, incarnation, workspace, name, ended_at_ms, reason
         FROM tombstones WHERE id = ?1",
    )?
    .query_row([id], tombstone_from_row)
    .optional()
}

/// The tombstone of the very incarnation a credential was indexed for.
pub(super) fn credential_tombstone(
    c: &Connection,
    credential: &str,
) -> rusqlite::Result<Option<Tombstone>> {
    c.prepare_cached(
        "SELECT t.id, t.incarnation, t.workspace, t.name, t.ended_at_ms, t.reason
         FROM credentials c JOIN tombstones t
           ON t.id = c.session AND t.incarnation = c.incarnation
         WHERE c.credential = ?1",
    )?
    .query_row([credential], tombstone_from_row)
    .optional()
}

/// Deletes old tombstones and the credentials that named them, in one
/// transaction (the caller's connection is not in one).
pub(super) fn prune_tombstones(c: &mut Connection, before_ms: i64) -> rusqlite::Result<u64> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "DELETE FROM credentials WHERE (session, incarnation) IN
             (SELECT id, incarnation FROM tombstones WHERE ended_at_ms < ?1)",
    )?
    .execute([before_ms])?;
    let n = tx
        .prepare_cached("DELETE FROM tombstones WHERE ended_at_ms < ?1")?
        .execute([before_ms])?;
    tx.commit()?;
    Ok(n as u64)
}

const SNAPSHOT_COLUMNS: &str = "workspace, id, session, incarnation, created_at_ms, keep, body";

fn snapshot_from_row(r: &Row<'_>) -> rusqlite::Result<SnapshotRow> {
    Ok(SnapshotRow {
        workspace: r.get(0)?,
        id: r.get(1)?,
        session: r.get(2)?,
        incarnation: r.get(3)?,
        created_at_ms: r.get(4)?,
        keep: r.get::<_, i64>(5)? != 0,
        body: r.get(6)?,
    })
}

pub(super) fn create_snapshot(c: &Connection, s: &SnapshotRow) -> rusqlite::Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?
    .execute(params![
        s.workspace,
        s.id,
        s.session,
        s.incarnation,
        s.created_at_ms,
        i64::from(s.keep),
        s.body
    ])?;
    Ok(())
}

pub(super) fn get_snapshot(
    c: &Connection,
    workspace: &str,
    id: &str,
) -> rusqlite::Result<Option<SnapshotRow>> {
    c.prepare_cached(&format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE workspace = ?1 AND id = ?2"
    ))?
    .query_row([workspace, id], snapshot_from_row)
    .optional()
}

/// One statement for every query shape: an absent filter matches everything
/// (`?2 IS NULL`), and the page bound is "ids below `before`".
pub(super) fn list_snapshots(
    c: &Connection,
    workspace: &str,
    q: &SnapshotQuery,
) -> rusqlite::Result<Vec<SnapshotRow>> {
    let (session, incarnation) = match &q.session {
        Some((s, i)) => (Some(s.as_str()), Some(i.as_str())),
        None => (None, None),
    };
    c.prepare_cached(&format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM snapshots
         WHERE workspace = ?1
           AND (?2 IS NULL OR (session = ?2 AND incarnation = ?3))
           AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5"
    ))?
    .query_map(
        params![
            workspace,
            session,
            incarnation,
            q.before,
            clamp(q.limit as u64)
        ],
        snapshot_from_row,
    )?
    .collect()
}

pub(super) fn delete_snapshot(c: &Connection, workspace: &str, id: &str) -> rusqlite::Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM snapshots WHERE workspace = ?1 AND id = ?2")?
        .execute([workspace, id])?;
    Ok(n == 1)
}
