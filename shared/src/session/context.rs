//! [`SessionContext`]: a mirror handler's only door to state.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Connection;

use super::{Session, Sessions};
use crate::state::{MirrorKey, StateError};

/// One (session, mirror) as a request sees it. Built by [`Sessions::context`] after
/// the session was found live; the handler reads and writes only this mirror of
/// only this session through it.
pub struct SessionContext {
    pub(super) sessions: Arc<Sessions>,
    pub(super) session: Session,
    pub(super) mirror: &'static str,
    pub(super) key: MirrorKey,
    pub(super) now_ms: i64,
}

impl SessionContext {
    pub fn session_id(&self) -> &str {
        &self.session.id
    }

    /// The live session this context opened (ids, incarnation, credentials).
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn mirror(&self) -> &'static str {
        self.mirror
    }

    /// Takes one request from the session's rate budget (`rate_limit`).
    pub fn admit(&self) -> Result<(), super::RateLimited> {
        self.sessions.admit(&self.session, self.now_ms)
    }

    /// [`admit`](Self::admit), answering what is left of the budget after this
    /// request (Resend tells clients in `ratelimit-*` headers).
    pub fn admit_budget(&self) -> Result<super::Budget, super::RateLimited> {
        self.sessions.admit_budget(&self.session, self.now_ms)
    }

    /// Requests per second this session's mirrors accept (0: unlimited).
    pub fn rate_limit(&self) -> u32 {
        self.session.rate_limit.unwrap_or(super::DEFAULT_RATE_LIMIT)
    }

    /// This session's credentials for this mirror.
    pub fn credentials(&self) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        self.session
            .mirrors
            .get(self.mirror)
            .map(|m| &m.credentials)
            .unwrap_or(&NONE)
    }

    /// Request time, Unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// Request time, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Runs `f` against the mirror's current state on a connection that refuses
    /// writes (`PRAGMA query_only`): only [`write`](Self::write) changes state,
    /// so every change reaches the log.
    pub async fn read<R, E>(&self, f: impl FnOnce(&Connection) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StateError>,
    {
        self.sessions
            .engine()
            .read(&self.key, |conn| {
                conn.pragma_update(None, "query_only", true)
                    .map_err(StateError::from)?;
                let out = f(conn);
                conn.pragma_update(None, "query_only", false)
                    .map_err(StateError::from)?;
                out
            })
            .await
    }

    /// Runs `f` in a transaction; what it changes is committed to the session's
    /// log before this returns. `f` may run again after a lost race.
    pub async fn write<R, E>(&self, f: impl FnMut(&Connection) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StateError>,
    {
        self.sessions.engine().write(&self.key, f).await
    }
}
