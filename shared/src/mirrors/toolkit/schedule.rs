//! Work due at a time on a clock: the real clock, or a simulated one a test
//! advances (Stripe's test clocks). A row says what is due (`kind`, `target`)
//! and when (`at`, Unix seconds on its clock). The vendor runs a clock's due
//! rows in time order ([`take_next`] until nothing is due), each at its own
//! time, so one advance over a year passes every renewal, retry and expiry in
//! the order they would have happened. Rows on the real clock also set a
//! toolkit timer ([`TICK`]), so the dispatcher runs them when they are due;
//! a simulated clock's rows wait until the test advances it.

use rusqlite::{params, Connection, OptionalExtension};

use super::timers;

pub const DDL: &str = "CREATE TABLE schedule (
    seq    INTEGER PRIMARY KEY,
    clock  TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    target TEXT    NOT NULL
);
CREATE INDEX schedule_due ON schedule (clock, at, seq);
CREATE INDEX schedule_target ON schedule (target, kind);
";

/// The real clock's name.
pub const REAL: &str = "";

/// The toolkit timer that runs the real clock's due rows.
pub const TICK: &str = "schedule.tick";

/// One row taken to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub at: i64,
    pub kind: String,
    pub target: String,
}

/// Schedules `kind` for `target` at `at` on `clock`. On the real clock it
/// answers the timer's due time (ms), which the caller owes its pipeline.
pub fn add(
    conn: &Connection,
    clock: &str,
    at: i64,
    kind: &str,
    target: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("INSERT INTO schedule (clock, at, kind, target) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![clock, at, kind, target])?;
    if clock != REAL {
        return Ok(None);
    }
    let due_ms = at.saturating_mul(1000);
    timers::schedule(conn, TICK, "", None, due_ms)?;
    Ok(Some(due_ms))
}

/// Drops `target`'s rows of `kind` (what they would do was decided
/// otherwise); returns how many.
pub fn cancel(conn: &Connection, kind: &str, target: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM schedule WHERE target = ?1 AND kind = ?2")?
        .execute(params![target, kind])
}

/// Drops every row of `clock` (a deleted test clock).
pub fn clear(conn: &Connection, clock: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM schedule WHERE clock = ?1")?
        .execute([clock])
}

/// When `target`'s next `kind` is due, if it is scheduled.
pub fn when(conn: &Connection, kind: &str, target: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT min(at) FROM schedule WHERE target = ?1 AND kind = ?2")?
        .query_row(params![target, kind], |r| r.get(0))
}

/// Takes the earliest row of `clock` due at or before `until` (ties in the
/// order they were scheduled), removing it.
pub fn take_next(conn: &Connection, clock: &str, until: i64) -> rusqlite::Result<Option<Due>> {
    let row: Option<(i64, i64, String, String)> = conn
        .prepare_cached(
            "SELECT seq, at, kind, target FROM schedule WHERE clock = ?1 AND at <= ?2 \
             ORDER BY at, seq LIMIT 1",
        )?
        .query_row(params![clock, until], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((seq, at, kind, target)) = row else {
        return Ok(None);
    };
    conn.prepare_cached("DELETE FROM schedule WHERE seq = ?1")?
        .execute([seq])?;
    Ok(Some(Due { at, kind, target }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&format!("{DDL}{}", timers::DDL))
            .expect("ddl");
        conn
    }

    /// Rows come out in time order per clock, ties in scheduling order, and
    /// only up to the time asked for.
    #[test]
    fn rows_are_taken_in_time_order_per_clock() {
        let conn = db();
        add(&conn, "clock_a", 30, "renew", "sub_1").expect("add");
        add(&conn, "clock_a", 10, "finalize", "in_1").expect("add");
        add(&conn, "clock_a", 10, "attempt", "in_1").expect("add");
        add(&conn, "clock_b", 5, "renew", "sub_2").expect("add");
        let take = |until| take_next(&conn, "clock_a", until).expect("take");
        assert_eq!(take(20).map(|d| d.kind), Some("finalize".to_string()));
        assert_eq!(take(20).map(|d| d.kind), Some("attempt".to_string()));
        assert_eq!(take(20), None, "the renewal is due at 30");
        assert_eq!(
            take(30).map(|d| (d.at, d.target)),
            Some((30, "sub_1".to_string()))
        );
        assert_eq!(
            take_next(&conn, "clock_b", 100)
                .expect("take")
                .map(|d| d.target),
            Some("sub_2".to_string())
        );
    }

    /// Only the real clock's rows set a dispatcher timer; cancel and clear
    /// drop rows.
    #[test]
    fn real_clock_rows_set_timers_and_rows_can_be_dropped() {
        let conn = db();
        assert_eq!(
            add(&conn, REAL, 7, "renew", "sub_1").expect("add"),
            Some(7000)
        );
        assert_eq!(
            add(&conn, "clock_a", 7, "renew", "sub_2").expect("add"),
            None
        );
        assert_eq!(timers::next_due(&conn).expect("next"), Some(7000));
        assert_eq!(when(&conn, "renew", "sub_2").expect("when"), Some(7));
        assert_eq!(cancel(&conn, "renew", "sub_1").expect("cancel"), 1);
        assert_eq!(clear(&conn, "clock_a").expect("clear"), 1);
        assert_eq!(take_next(&conn, REAL, i64::MAX).expect("take"), None);
    }
}
