//! Timers: state changes a mirror owes at a later time (a pending refund that
//! settles, an email that is delivered, a trial that ends), written as rows of
//! its own state with the change that caused them. Like the outbox they are
//! covered by the log, reset, snapshot and restore for free, and the
//! dispatcher finds them through the same due-work index: it takes what is due
//! and hands each to the mirror's `MirrorDef::fire`, all in one logged write,
//! so a timer fires exactly once however many instances run.
//!
//! Vendor-neutral: a timer is a kind, a target id and an optional payload;
//! the mirror decides what firing means (and checks that it still applies).

use rusqlite::{params, Connection};

use crate::session::id::random_token;

/// The toolkit's table, part of the schema of every mirror with timed changes.
pub const DDL: &str = "CREATE TABLE timers (
    seq     INTEGER PRIMARY KEY,
    id      TEXT    NOT NULL UNIQUE,
    kind    TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    payload TEXT,
    due_at  INTEGER NOT NULL
);
CREATE INDEX timers_due ON timers (due_at);
CREATE INDEX timers_target ON timers (target, kind);
";

/// A timer taken to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub payload: Option<String>,
    pub due_at_ms: i64,
}

/// Sets a timer; the caller also tells its pipeline that work is due at
/// `due_at_ms` so the dispatcher is woken for it.
pub fn schedule(
    conn: &Connection,
    kind: &str,
    target: &str,
    payload: Option<&str>,
    due_at_ms: i64,
) -> rusqlite::Result<String> {
    let id = format!("tmr_{}", random_token(16));
    conn.prepare_cached(
        "INSERT INTO timers (id, kind, target, payload, due_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, kind, target, payload, due_at_ms])?;
    Ok(id)
}

/// Drops a target's timers of one kind (what they would change was decided
/// otherwise, say a pending refund canceled); returns how many.
pub fn cancel(conn: &Connection, kind: &str, target: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM timers WHERE target = ?1 AND kind = ?2")?
        .execute(params![target, kind])
}

/// The earliest time any timer is due.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MIN(due_at) FROM timers")?
        .query_row([], |r| r.get(0))
}

/// Takes up to `limit` timers due at `now_ms`, earliest first, out of the
/// table: the same write fires them.
pub fn take_due(conn: &Connection, now_ms: i64, limit: usize) -> rusqlite::Result<Vec<Timer>> {
    // Written into the statement, not bound (see `outbox::claim_due`).
    let due = conn
        .prepare_cached(&format!(
            "SELECT id, kind, target, payload, due_at FROM timers
             WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT {limit}"
        ))?
        .query_map(params![now_ms], |r| {
            Ok(Timer {
                id: r.get(0)?,
                kind: r.get(1)?,
                target: r.get(2)?,
                payload: r.get(3)?,
                due_at_ms: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut delete = conn.prepare_cached("DELETE FROM timers WHERE id = ?1")?;
    for t in &due {
        delete.execute([&t.id])?;
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(DDL).expect("ddl");
        conn
    }

    #[test]
    fn due_timers_are_taken_once_earliest_first_and_later_ones_wait() {
        let conn = db();
        schedule(&conn, "settle", "re_2", None, 2_000).expect("schedule");
        schedule(&conn, "settle", "re_1", Some("{\"x\":1}"), 1_000).expect("schedule");
        schedule(&conn, "settle", "re_3", None, 9_000).expect("schedule");
        assert_eq!(next_due(&conn).expect("next"), Some(1_000));
        let taken = take_due(&conn, 5_000, 10).expect("take");
        assert_eq!(
            taken.iter().map(|t| t.target.as_str()).collect::<Vec<_>>(),
            ["re_1", "re_2"]
        );
        assert_eq!(taken[0].payload.as_deref(), Some("{\"x\":1}"));
        assert!(take_due(&conn, 5_000, 10).expect("again").is_empty());
        assert_eq!(next_due(&conn).expect("next"), Some(9_000));
        assert_eq!(cancel(&conn, "settle", "re_3").expect("cancel"), 1);
        assert_eq!(next_due(&conn).expect("next"), None);
    }

    #[test]
    fn take_due_honours_its_limit() {
        let conn = db();
        for i in 0..5 {
            schedule(&conn, "k", &format!("t{i}"), None, i).expect("schedule");
        }
        assert_eq!(take_due(&conn, 10, 2).expect("take").len(), 2);
        assert_eq!(take_due(&conn, 10, 10).expect("take").len(), 3);
    }
}
