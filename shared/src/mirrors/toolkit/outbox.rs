//! The outbox: deliveries a mirror owes (webhooks, status callbacks), written as
//! rows of its own state in the same transaction as the change that caused them.
//! So reset, snapshot, restore and the two-instance engine cover them with no
//! extra machinery, and a delivery due when the server dies is still owed after
//! it restarts. The dispatcher claims due rows (a logged write, so two instances
//! never both send), performs them, and records every attempt here.
//!
//! Vendor-neutral: a row carries its URL, payload, signing scheme and secret;
//! the vendor decides what to enqueue and when.

use rusqlite::{params, Connection, OptionalExtension};

use crate::session::id::random_token;

/// The toolkit's tables, part of the schema of every mirror that delivers.
pub const DDL: &str = "CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL UNIQUE,
    target   TEXT    NOT NULL,
    url      TEXT    NOT NULL,
    scheme   TEXT    NOT NULL,
    secret   TEXT,
    ref      TEXT,
    payload  TEXT    NOT NULL,
    created  INTEGER NOT NULL,
    due_at   INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status   TEXT    NOT NULL DEFAULT 'pending'
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE status = 'pending';
CREATE INDEX outbox_target ON outbox (target, status);
CREATE TABLE outbox_attempts (
    seq        INTEGER PRIMARY KEY,
    delivery   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    http_status INTEGER,
    latency_ms INTEGER NOT NULL,
    response   TEXT,
    outcome    TEXT    NOT NULL
);
CREATE INDEX outbox_attempts_delivery ON outbox_attempts (delivery, seq);
";

/// When a failed delivery is tried again, after the first attempt: bounded, and
/// short enough for a test to watch a retry happen (Stripe's own test mode
/// retries over hours). After the last, the delivery is `failed`.
pub const RETRY_AFTER_MS: &[i64] = &[1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000];

/// How long a claimed delivery is reserved for the dispatcher that claimed it;
/// after that another may take it (at least once).
pub const LEASE_MS: i64 = 30_000;

/// Longest response excerpt kept per attempt.
pub const EXCERPT_BYTES: usize = 2048;

/// A delivery to enqueue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// What receives it (a webhook endpoint id).
    pub target: &'a str,
    pub url: &'a str,
    /// How to sign it (`stripe`, `svix`, …; see `toolkit::signing`).
    pub scheme: &'a str,
    /// The signing secret; `None`: the session's own (its credentials).
    pub secret: Option<&'a str>,
    /// What it delivers (an event id).
    pub reference: &'a str,
    pub payload: &'a str,
    pub due_at_ms: i64,
}

/// A delivery as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub target: String,
    pub url: String,
    pub scheme: String,
    pub secret: Option<String>,
    pub reference: Option<String>,
    pub payload: String,
    /// Attempts made so far, this one included once claimed.
    pub attempts: i64,
}

/// One attempt's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at_ms: i64,
    /// The receiver's HTTP status; `None` when it never answered.
    pub http_status: Option<u16>,
    pub latency_ms: i64,
    /// The start of the response body, or the connection error.
    pub response: String,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Adds a delivery; returns its id.
pub fn enqueue(conn: &Connection, d: &NewDelivery, now_ms: i64) -> rusqlite::Result<String> {
    let id = format!("whd_{}", random_token(20));
    conn.prepare_cached(
        "INSERT INTO outbox (id, target, url, scheme, secret, ref, payload, created, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        d.target,
        d.url,
        d.scheme,
        d.secret,
        d.reference,
        d.payload,
        now_ms,
        d.due_at_ms
    ])?;
    Ok(id)
}

/// The earliest time any pending delivery is due.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MIN(due_at) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))
}

/// Claims up to `limit` deliveries due at `now_ms`: each is counted as attempted
/// and reserved for [`LEASE_MS`] (its `due_at` moves past the lease), so a
/// dispatcher that dies mid-send leaves it to be tried again.
pub fn claim_due(conn: &Connection, now_ms: i64, limit: usize) -> rusqlite::Result<Vec<Delivery>> {
    // The limit is written into the statement, not bound: SQLite plans with a
    // bound LIMIT's value, so binding it again re-prepares the statement.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, target, url, scheme, secret, ref, payload, attempts FROM outbox
         WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at, seq LIMIT {limit}"
    ))?;
    let due: Vec<Delivery> = stmt
        .query_map(params![now_ms], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                target: r.get(1)?,
                url: r.get(2)?,
                scheme: r.get(3)?,
                secret: r.get(4)?,
                reference: r.get(5)?,
                payload: r.get(6)?,
                attempts: r.get::<_, i64>(7)? + 1,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut lease = conn
        .prepare_cached("UPDATE outbox SET attempts = attempts + 1, due_at = ?2 WHERE id = ?1")?;
    for d in &due {
        lease.execute(params![d.id, now_ms + LEASE_MS])?;
    }
    Ok(due)
}

/// Records an attempt of a claimed delivery: delivered, due again per
/// [`RETRY_AFTER_MS`], or failed for good. Returns the outcome's name.
pub fn record(conn: &Connection, d: &Delivery, a: &Attempt) -> rusqlite::Result<&'static str> {
    let retry = usize::try_from(d.attempts - 1)
        .ok()
        .and_then(|i| RETRY_AFTER_MS.get(i));
    let (outcome, status, due_at) = match (a.succeeded(), retry) {
        (true, _) => ("delivered", "delivered", a.at_ms),
        (false, Some(after)) => ("retry", "pending", a.at_ms + after),
        (false, None) => ("failed", "failed", a.at_ms),
    };
    conn.prepare_cached("UPDATE outbox SET status = ?2, due_at = ?3 WHERE id = ?1")?
        .execute(params![d.id, status, due_at])?;
    let mut excerpt = a.response.clone();
    if excerpt.len() > EXCERPT_BYTES {
        let mut cut = EXCERPT_BYTES;
        while !excerpt.is_char_boundary(cut) {
            cut -= 1;
        }
        excerpt.truncate(cut);
    }
    conn.prepare_cached(
        "INSERT INTO outbox_attempts (delivery, at, http_status, latency_ms, response, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        d.id,
        a.at_ms,
        a.http_status,
        a.latency_ms,
        excerpt,
        outcome
    ])?;
    Ok(outcome)
}

/// Drops the pending deliveries to `target` (its endpoint was deleted).
pub fn cancel_target(conn: &Connection, target: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM outbox WHERE target = ?1 AND status = 'pending'")?
        .execute([target])
}

/// How many deliveries of `reference` are still pending (Stripe's `pending_webhooks`).
pub fn pending_for(conn: &Connection, reference: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE ref = ?1 AND status = 'pending'")?
        .query_row([reference], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

/// The newest `limit` deliveries with every attempt, newest first: what a
/// test reads to see what its webhooks went through.
pub fn recent(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, target, url, ref, status, attempts, created, due_at FROM outbox ORDER BY seq DESC LIMIT ?1",
    )?;
    let mut rows = stmt.query([limit as i64])?;
    let mut tries = conn.prepare_cached(
        "SELECT at, http_status, latency_ms, response, outcome FROM outbox_attempts WHERE delivery = ?1 ORDER BY seq",
    )?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let status: String = r.get(4)?;
        let attempts: Vec<serde_json::Value> = tries
            .query_map([&id], |a| {
                Ok(serde_json::json!({
                    "at_ms": a.get::<_, i64>(0)?,
                    "http_status": a.get::<_, Option<i64>>(1)?,
                    "latency_ms": a.get::<_, i64>(2)?,
                    "response": a.get::<_, Option<String>>(3)?,
                    "outcome": a.get::<_, String>(4)?,
                }))
            })?
            .collect::<Result<_, _>>()?;
        let due_at: i64 = r.get(7)?;
        out.push(serde_json::json!({
            "id": id,
            "target": r.get::<_, String>(1)?,
            "url": r.get::<_, String>(2)?,
            "ref": r.get::<_, Option<String>>(3)?,
            "status": status,
            "attempt_count": r.get::<_, i64>(5)?,
            "created_ms": r.get::<_, i64>(6)?,
            "next_attempt_ms": if status == "pending" { Some(due_at) } else { None },
            "attempts": attempts,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(DDL).expect("ddl");
        conn
    }

    fn new(due_at_ms: i64) -> NewDelivery<'static> {
        NewDelivery {
            target: "we_1",
            url: "http://127.0.0.1:9/hook",
            scheme: "stripe",
            secret: None,
            reference: "evt_1",
            payload: "{}",
            due_at_ms,
        }
    }

    fn attempt(at_ms: i64, status: Option<u16>) -> Attempt {
        Attempt {
            at_ms,
            http_status: status,
            latency_ms: 3,
            response: "x".repeat(5000),
        }
    }

    /// A due delivery is claimed once per lease, retried on the schedule after a
    /// failure, and done after a 2xx.
    #[test]
    fn deliveries_are_leased_retried_on_schedule_and_finished() {
        let conn = db();
        enqueue(&conn, &new(1_000), 0).expect("enqueue");
        assert!(claim_due(&conn, 999, 10).expect("early").is_empty());
        let claimed = claim_due(&conn, 1_000, 10).expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(
            claim_due(&conn, 1_000, 10).expect("leased").is_empty(),
            "a leased delivery is not claimed twice"
        );
        let d = &claimed[0];
        assert_eq!(
            record(&conn, d, &attempt(1_100, Some(500))).expect("record"),
            "retry"
        );
        assert_eq!(
            next_due(&conn).expect("next"),
            Some(1_100 + RETRY_AFTER_MS[0])
        );
        assert_eq!(pending_for(&conn, "evt_1").expect("pending"), 1);
        let again = claim_due(&conn, 2_100, 10).expect("again");
        assert_eq!(again[0].attempts, 2);
        assert_eq!(
            record(&conn, &again[0], &attempt(2_200, Some(204))).expect("record"),
            "delivered"
        );
        assert_eq!(next_due(&conn).expect("next"), None);
        let excerpt: String = conn
            .query_row(
                "SELECT response FROM outbox_attempts ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("attempt row");
        assert_eq!(excerpt.len(), EXCERPT_BYTES);
    }

    /// After the last retry a delivery fails for good; a lease that lapses makes
    /// a claimed delivery due again (at least once).
    #[test]
    fn deliveries_fail_after_the_last_retry_and_lapsed_leases_are_retaken() {
        let conn = db();
        enqueue(&conn, &new(0), 0).expect("enqueue");
        let mut now = 0;
        let mut outcome = "";
        for _ in 0..=RETRY_AFTER_MS.len() {
            let d = claim_due(&conn, now, 1).expect("claim").pop().expect("due");
            outcome = record(&conn, &d, &attempt(now, None)).expect("record");
            now += 4_000_000;
        }
        assert_eq!(outcome, "failed");
        enqueue(&conn, &new(0), 0).expect("enqueue");
        assert_eq!(claim_due(&conn, now, 1).expect("claim").len(), 1);
        assert_eq!(
            claim_due(&conn, now + LEASE_MS, 1).expect("lapsed").len(),
            1
        );
    }
}
