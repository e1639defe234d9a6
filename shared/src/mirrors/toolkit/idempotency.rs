//! Idempotency keys, kept in the mirror's own table and written in the same
//! transaction as the request's effect: a replay — on any instance, after any
//! crash — returns exactly the first response. Keys expire after 24 hours and
//! are purged as new ones are saved, so the table stays the size of a day's
//! traffic. The vendor words the refusals (another endpoint, other parameters).

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// How long a key is remembered, in seconds (Stripe: 24 hours).
pub const KEY_TTL_SECS: i64 = 24 * 3600;

/// The toolkit's table, part of every mirror's schema that uses keys.
pub const DDL: &str = "CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY,
    endpoint    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
";

/// A response saved under a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub endpoint: String,
    pub fingerprint: String,
    pub created: i64,
    pub request_id: String,
    pub status: u16,
    pub body: String,
}

/// What a key's history says about a new request carrying it.
#[derive(Debug, PartialEq)]
pub enum Check {
    /// Unused (or expired): run the request and [`save`] its outcome.
    Fresh,
    /// The same request again: answer with the saved response.
    Replay(Saved),
    /// Used for another endpoint.
    OtherEndpoint(Saved),
    /// Used on this endpoint with other parameters.
    OtherParams(Saved),
}

/// A short digest of a request's raw parameters.
pub fn fingerprint(raw: &[u8]) -> String {
    hex::encode(&Sha256::digest(raw)[..16])
}

/// Looks `key` up for a request to `endpoint` with parameters `fingerprint`, at
/// `now` (seconds).
pub fn check(
    conn: &Connection,
    key: &str,
    endpoint: &str,
    fingerprint: &str,
    now: i64,
) -> rusqlite::Result<Check> {
    let saved = conn
        .prepare_cached(
            "SELECT endpoint, fingerprint, created, request_id, status, body FROM idempotency_keys WHERE key = ?1",
        )?
        .query_row([key], |r| {
            Ok(Saved {
                endpoint: r.get(0)?,
                fingerprint: r.get(1)?,
                created: r.get(2)?,
                request_id: r.get(3)?,
                status: r.get(4)?,
                body: r.get(5)?,
            })
        })
        .optional()?;
    Ok(match saved {
        Some(s) if s.created > now - KEY_TTL_SECS => {
            if s.endpoint != endpoint {
                Check::OtherEndpoint(s)
            } else if s.fingerprint != fingerprint {
                Check::OtherParams(s)
            } else {
                Check::Replay(s)
            }
        }
        _ => Check::Fresh,
    })
}

/// Saves a response under `key` and purges keys older than the TTL.
pub fn save(conn: &Connection, key: &str, saved: &Saved) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM idempotency_keys WHERE created <= ?1")?
        .execute([saved.created - KEY_TTL_SECS])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys (key, endpoint, fingerprint, created, request_id, status, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key,
        saved.endpoint,
        saved.fingerprint,
        saved.created,
        saved.request_id,
        saved.status,
        saved.body
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(created: i64) -> Saved {
        Saved {
            endpoint: "POST /v1/things".into(),
            fingerprint: fingerprint(b"a=1"),
            created,
            request_id: "req_1".into(),
            status: 200,
            body: "{}".into(),
        }
    }

    /// Same request replays; other endpoint or parameters are told apart; a key
    /// older than a day is fresh again.
    #[test]
    fn keys_replay_refuse_reuse_and_expire() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(DDL).expect("ddl");
        let fp = fingerprint(b"a=1");
        assert_eq!(
            check(&conn, "k", "POST /v1/things", &fp, 1000).expect("check"),
            Check::Fresh
        );
        save(&conn, "k", &saved(1000)).expect("save");
        assert!(matches!(
            check(&conn, "k", "POST /v1/things", &fp, 1001),
            Ok(Check::Replay(_))
        ));
        assert!(matches!(
            check(&conn, "k", "POST /v1/other", &fp, 1001),
            Ok(Check::OtherEndpoint(_))
        ));
        let other = fingerprint(b"a=2");
        assert!(matches!(
            check(&conn, "k", "POST /v1/things", &other, 1001),
            Ok(Check::OtherParams(_))
        ));
        let later = 1000 + KEY_TTL_SECS;
        assert_eq!(
            check(&conn, "k", "POST /v1/things", &fp, later).expect("check"),
            Check::Fresh
        );
    }

    /// Saving a key purges the expired ones instead of keeping them forever.
    #[test]
    fn saving_purges_expired_keys() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(DDL).expect("ddl");
        save(&conn, "old", &saved(1000)).expect("old");
        save(&conn, "new", &saved(1000 + KEY_TTL_SECS)).expect("new");
        let keys: Vec<String> = conn
            .prepare("SELECT key FROM idempotency_keys")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("keys");
        assert_eq!(keys, ["new"]);
    }
}
