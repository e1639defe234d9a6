//! The due-work index: plain statements over one connection, called by the
//! [`SessionTable`](crate::storage::SessionTable) impl in `mod.rs`. One
//! `due_work` row per (session, mirror); `delete_session` drops a row's
//! entries in its own transaction.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::clamp;
use crate::storage::DueWork;

/// `None` when the row (id and incarnation) is missing; else whether the
/// entry now holds `due_at_ms`. One immediate transaction, so the row cannot
/// end between the check and the write, nor another process's schedule slip
/// in between.
pub(super) fn schedule(
    c: &mut Connection,
    session: &str,
    incarnation: &str,
    mirror: &str,
    due_at_ms: i64,
) -> rusqlite::Result<Option<bool>> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let live: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND incarnation = ?2)",
        )?
        .query_row([session, incarnation], |r| r.get(0))?;
    if !live {
        return Ok(None);
    }
    // The upsert's SELECT needs its WHERE (SQLite's parsing rule for
    // `INSERT … SELECT … ON CONFLICT`).
    let changed = tx
        .prepare_cached(
            "INSERT INTO due_work (session, mirror, incarnation, due_at_ms)
             SELECT ?1, ?2, ?3, ?4 WHERE true
             ON CONFLICT (session, mirror) DO UPDATE
                SET due_at_ms = excluded.due_at_ms, incarnation = excluded.incarnation
                WHERE excluded.due_at_ms < due_work.due_at_ms
                   OR excluded.incarnation != due_work.incarnation",
        )?
        .execute(params![session, mirror, incarnation, due_at_ms])?;
    tx.commit()?;
    Ok(Some(changed == 1))
}

/// Compare-and-set on the stored time: one statement either way.
pub(super) fn reschedule(
    c: &Connection,
    session: &str,
    mirror: &str,
    seen: i64,
    next: Option<i64>,
) -> rusqlite::Result<bool> {
    let changed = match next {
        Some(next) => c
            .prepare_cached(
                "UPDATE due_work SET due_at_ms = ?4
                 WHERE session = ?1 AND mirror = ?2 AND due_at_ms = ?3",
            )?
            .execute(params![session, mirror, seen, next])?,
        None => c
            .prepare_cached(
                "DELETE FROM due_work WHERE session = ?1 AND mirror = ?2 AND due_at_ms = ?3",
            )?
            .execute(params![session, mirror, seen])?,
    };
    Ok(changed == 1)
}

pub(super) fn due_before(
    c: &Connection,
    now_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<DueWork>> {
    c.prepare_cached(
        "SELECT session, incarnation, mirror, due_at_ms FROM due_work
         WHERE due_at_ms <= ?1 ORDER BY due_at_ms, session, mirror LIMIT ?2",
    )?
    .query_map(params![now_ms, clamp(limit as u64)], |r| {
        Ok(DueWork {
            session_id: r.get(0)?,
            incarnation: r.get(1)?,
            mirror: r.get(2)?,
            due_at_ms: r.get(3)?,
        })
    })?
    .collect()
}

pub(super) fn next_due(c: &Connection) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT due_at_ms FROM due_work ORDER BY due_at_ms LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

/// `delete_session`'s part: the ended row's entries, in its transaction.
pub(super) fn drop_session(
    c: &Connection,
    session: &str,
    incarnation: &str,
) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM due_work WHERE session = ?1 AND incarnation = ?2")?
        .execute([session, incarnation])?;
    Ok(())
}
