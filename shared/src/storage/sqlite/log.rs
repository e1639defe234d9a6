//! The commit log's statements: plain functions over one connection, called
//! by the [`SessionTable`](crate::storage::SessionTable) impl in `mod.rs`.
//!
//! No `LIMIT` here is a bound parameter: SQLite plans with a bound LIMIT's
//! value, so each binding re-prepares the statement. One statement with
//! `LIMIT ?` bound to -1 for "all" did that on every mirror request's catch-up
//! read, 10 % of a Stripe create's instructions (callgrind).

use rusqlite::{params, Connection};

use super::{clamp, get_u64};
use crate::storage::{LogKey, LogRecord};

/// Log entries a checkpoint deletes per statement (see `set_checkpoint`).
pub(super) const TRIM_BATCH: usize = 256;

/// A log's entries after a seq …
pub(super) const ALL: &str = "SELECT seq, entry FROM log
     WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3 AND seq > ?4
     ORDER BY seq";
/// … and at most so many of them.
pub(super) const PAGE: &str = "SELECT seq, entry FROM log
     WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3 AND seq > ?4
     ORDER BY seq LIMIT ?5";

/// A log's entries after `after`, ascending, at most `limit` (`None`: all).
/// Paging is rare (checkpoint builds) and keeps its bound LIMIT; the read
/// every request makes has none.
pub(super) fn entries(
    c: &Connection,
    key: &LogKey,
    after: u64,
    limit: Option<usize>,
) -> rusqlite::Result<Vec<LogRecord>> {
    let limit = limit.map(|n| i64::try_from(n.max(1)).unwrap_or(i64::MAX));
    let mut st = c.prepare_cached(if limit.is_some() { PAGE } else { ALL })?;
    let (s, i, m, a) = (&key.session, &key.incarnation, &key.mirror, clamp(after));
    let rows = match limit {
        Some(n) => st.query(params![s, i, m, a, n])?,
        None => st.query(params![s, i, m, a])?,
    };
    rows.mapped(|r| {
        Ok(LogRecord {
            seq: get_u64(r, 0)?,
            entry: r.get(1)?,
        })
    })
    .collect()
}

/// Deletes up to [`TRIM_BATCH`] of a log's entries below `below`; returns how many.
pub(super) fn trim_batch(c: &Connection, key: &LogKey, below: i64) -> rusqlite::Result<usize> {
    c.prepare_cached(&format!(
        "DELETE FROM log
         WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3
           AND seq IN (SELECT seq FROM log
               WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3
                 AND seq < ?4
               ORDER BY seq LIMIT {TRIM_BATCH})"
    ))?
    .execute(params![key.session, key.incarnation, key.mirror, below])
}

/// Whether the key's row exists, and its log's checkpoint seq (0 without one).
pub(super) fn state(c: &Connection, key: &LogKey) -> rusqlite::Result<(bool, i64)> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND incarnation = ?2),
                COALESCE((SELECT seq FROM checkpoints
                          WHERE session = ?1 AND incarnation = ?2 AND mirror = ?3), 0)",
    )?
    .query_row(params![key.session, key.incarnation, key.mirror], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}
