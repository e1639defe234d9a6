//! Test doubles shared by the engine and mirror tests (`mod support;`). Each
//! test crate uses only some of them.
#![allow(dead_code)]

pub mod notes;
pub mod openapi;
pub mod racing_table;
pub mod receiver;
pub mod requests;
pub mod resend;
pub mod shapes;
pub mod stripe;
pub mod twilio;

/// Counts rows of a SQLite file behind the backend's back, for what the trait
/// cannot show (entries deleted at once, nothing left of a deleted session).
pub fn raw_count(path: &std::path::Path, sql: &str, session: &str) -> i64 {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row(sql, [session], |r| r.get(0)))
        .expect("raw count")
}
