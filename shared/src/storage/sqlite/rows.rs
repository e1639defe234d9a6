//! Session rows kept in memory between requests: every mirror request looks
//! its session up, and reading the row each time was ~10 % of a Stripe create
//! (a read transaction, two index seeks, the credentials' `group_concat`).
//!
//! A kept row is served only while nothing can have changed it: no write
//! through this handle that may touch sessions or credentials
//! ([`SqliteSessionTable::write`](super::SqliteSessionTable) counts them; the
//! log's appends go through a variant that does not) and no commit by any
//! other connection, another process's included, which SQLite's
//! `PRAGMA data_version` tells. Any change empties the whole cache: changes
//! to sessions are rare next to reads of them.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::storage::SessionRow;

/// Rows kept at most; past it the cache starts over (bounded memory with tens
/// of thousands of live sessions, while the few a test suite uses stay).
const KEPT: usize = 256;

/// What the cache's rows were read under: the connection's data version and
/// the handle's count of writes.
pub(super) type Stamp = (i64, u64);

#[derive(Debug, Default)]
pub(super) struct RowCache {
    stamp: Option<Stamp>,
    rows: HashMap<String, SessionRow>,
    /// Credential digest → the kept session it names.
    owners: HashMap<String, String>,
}

impl RowCache {
    /// The row of session `id` if kept under `stamp`.
    pub fn get(&mut self, stamp: Stamp, id: &str) -> Option<SessionRow> {
        if !self.current(stamp) {
            return None;
        }
        self.rows.get(id).cloned()
    }

    /// The kept row of the live session `credential` (a digest) names.
    pub fn get_by_credential(&mut self, stamp: Stamp, credential: &str) -> Option<SessionRow> {
        if !self.current(stamp) {
            return None;
        }
        let id = self.owners.get(credential)?;
        self.rows.get(id).cloned()
    }

    /// Keeps `row`, read under `stamp`, unless the cache moved on meanwhile.
    pub fn keep(&mut self, stamp: Stamp, row: &SessionRow) {
        if self.stamp != Some(stamp) {
            return;
        }
        if self.rows.len() >= KEPT {
            self.rows.clear();
            self.owners.clear();
        }
        for credential in &row.credentials {
            self.owners
                .insert(credential.as_str().to_owned(), row.id.clone());
        }
        self.rows.insert(row.id.clone(), row.clone());
    }

    /// Whether what is kept was read under `stamp`; if not, drops it all and
    /// starts keeping under `stamp`.
    fn current(&mut self, stamp: Stamp) -> bool {
        if self.stamp == Some(stamp) {
            return true;
        }
        self.rows.clear();
        self.owners.clear();
        self.stamp = Some(stamp);
        false
    }
}

/// Changes whenever another connection committed since this one last looked.
pub(super) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))
}
