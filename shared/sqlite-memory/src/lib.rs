//! What one SQLite connection holds in memory, as SQLite itself counts it.
//!
//! Mirra keeps thousands of in-memory databases open and bounds them by bytes.
//! Their cost is mostly not their data: a seeded mirror's connection also
//! holds its parsed schema (tables, indexes, triggers), its prepared
//! statements and its lookaside buffer, and these grow with the mirror's
//! schema, not with its rows. A fixed guess went stale as schemas grew, so
//! the cache asks SQLite (`sqlite3_db_status`).

use rusqlite::{ffi, Connection};

/// The lookaside buffer every connection allocates when it opens
/// (`SQLITE_DEFAULT_LOOKASIDE`, 1,200 × 100 bytes in the bundled build), which
/// `sqlite3_db_status` reports in slots, not bytes.
pub const LOOKASIDE_BYTES: u64 = 1200 * 100;

/// Reads one counter; 0 if SQLite refuses (it does only for an unknown op).
fn status(conn: &Connection, op: i32) -> u64 {
    let (mut current, mut highwater) = (0, 0);
    // SAFETY: `conn.handle()` is the live connection `conn` borrows, valid for
    // this call; sqlite3_db_status only reads its counters (taking the
    // connection's mutex) and writes the two ints we pass, which outlive it.
    let rc = unsafe { ffi::sqlite3_db_status(conn.handle(), op, &mut current, &mut highwater, 0) };
    if rc == ffi::SQLITE_OK {
        u64::try_from(current).unwrap_or(0)
    } else {
        0
    }
}

/// The page cache: for an in-memory database opened empty, its pages (with
/// SQLite's headers for each).
pub fn cache_bytes(conn: &Connection) -> u64 {
    status(conn, ffi::SQLITE_DBSTATUS_CACHE_USED)
}

/// The parsed schema. SQLite measures it by walking every schema object
/// (~10 µs for a Stripe mirror's 318), so callers whose schema does not
/// change ask once.
pub fn schema_bytes(conn: &Connection) -> u64 {
    status(conn, ffi::SQLITE_DBSTATUS_SCHEMA_USED)
}

/// Prepared statements, cached ones included.
pub fn statement_bytes(conn: &Connection) -> u64 {
    status(conn, ffi::SQLITE_DBSTATUS_STMT_USED)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{cache_bytes, schema_bytes, statement_bytes};

    /// Schema, statements and pages each show in their own counter.
    #[test]
    fn each_part_of_a_connection_is_counted_as_it_grows() {
        let conn = Connection::open_in_memory().expect("open");
        let empty = schema_bytes(&conn);
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);
             CREATE INDEX t_body ON t(body);",
        )
        .expect("schema");
        let schema = schema_bytes(&conn);
        assert!(schema > empty, "{empty} → {schema}");

        let unprepared = statement_bytes(&conn);
        let mut stmt = conn
            .prepare("INSERT INTO t (body) VALUES (?1)")
            .expect("prepare");
        let prepared = statement_bytes(&conn);
        assert!(prepared > unprepared, "{unprepared} → {prepared}");

        let cache = cache_bytes(&conn);
        for i in 0..2_000 {
            stmt.execute([format!("row {i} {}", "x".repeat(200))])
                .expect("insert");
        }
        let filled = cache_bytes(&conn);
        assert!(
            filled > cache + 400_000,
            "2,000 rows of ~210 bytes: {cache} → {filled}"
        );
    }
}
