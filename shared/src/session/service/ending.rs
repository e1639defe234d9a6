//! Ending sessions: `down`, the reaper (expired sessions, idle working
//! copies, memory handed back) and what ending does (final snapshot,
//! tombstone, usage, the lifecycle record).

use std::sync::Arc;

use super::{
    mirror_key, EndReason, Ended, Sessions, RELEASE_AFTER_FREED_BYTES, TOMBSTONE_RETENTION_MS,
};
use crate::session::metering::charges;
use crate::session::{Mode, Session, SessionError, SessionResult};
use crate::storage::Tombstone;

impl Sessions {
    /// Ends a session: a persistent one keeps a final snapshot, an ephemeral one's
    /// state is deleted. Expired sessions can be ended too.
    pub async fn down(&self, workspace: &str, id_or_name: &str) -> SessionResult<Ended> {
        let session = self.lookup(workspace, id_or_name).await?;
        let now_ms = self.clock.now_ms();
        match session.expiry_ms() {
            // Expired before it was ended: the tombstone says so, as the reaper's would.
            Some(t) if now_ms >= t => self.end(session, EndReason::Expired, t).await,
            _ => self.end(session, EndReason::Ended, now_ms).await,
        }
    }

    /// Ends every expired session (any workspace) and forgets tombstones past
    /// their retention; returns how many sessions it ended.
    pub async fn reap(&self) -> SessionResult<usize> {
        let now_ms = self.clock.now_ms();
        // Rows store expiry in whole seconds rounded up: ask for one second more
        // and let the exact check below drop the not-yet-expired.
        let rows = self
            .table
            .expired_sessions(now_ms.div_euclid(1000) + 1)
            .await?;
        let mut n = 0;
        for row in rows {
            let session = Session::from_row(&row)?;
            // The table's expiry is in whole seconds, rounded up; this is exact.
            let Some(expiry) = session.expiry_ms().filter(|t| now_ms >= *t) else {
                continue;
            };
            match self.end(session, EndReason::Expired, expiry).await {
                Ok(_) => n += 1,
                // Ended by someone else (a `down`, another instance's reaper).
                Err(SessionError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.table
            .prune_tombstones(now_ms - TOMBSTONE_RETENTION_MS)
            .await?;
        Ok(n)
    }

    /// Ends expired sessions every `every`, drops working copies idle for ten
    /// minutes, and hands the memory of dropped copies (sessions ended, copies
    /// evicted) back to the system: every [`RELEASE_AFTER_FREED_BYTES`] while
    /// they keep going, and the rest once a tick passes with none dropped.
    /// Runs until the task is dropped.
    pub async fn run_reaper(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut freed_last_tick = 0;
        loop {
            tick.tick().await;
            match self.reap().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "reaped expired sessions"),
                Err(e) => tracing::warn!(error = %e, "reaper failed; retrying next tick"),
            }
            self.engine.evict_idle(std::time::Duration::from_secs(600));
            // Mid-burst, release every RELEASE_AFTER_FREED_BYTES; once a tick
            // passes with nothing more dropped, release whatever the burst left.
            let freed = self.engine.freed_bytes();
            let min = if freed == freed_last_tick {
                1
            } else {
                RELEASE_AFTER_FREED_BYTES
            };
            let sessions = self.clone();
            let released = tokio::task::spawn_blocking(move || sessions.release_freed_memory(min))
                .await
                .unwrap_or(0);
            freed_last_tick = self.engine.freed_bytes();
            if released > 0 {
                tracing::debug!(bytes = released, "returned freed working copies' memory");
            }
        }
    }

    /// Once working copies worth `min_bytes` were dropped since the last time,
    /// empties the session table's page cache and asks the allocator to hand
    /// free memory back to the system (glibc keeps it otherwise); returns the
    /// bytes of copies dropped, or 0. Walks every allocator arena, so it runs
    /// on a background tick, never on a request.
    pub fn release_freed_memory(&self, min_bytes: u64) -> u64 {
        let freed = self.engine.take_freed_bytes(min_bytes);
        if freed > 0 {
            self.table.release_memory();
            malloc_trim::release_free_memory();
        }
        freed
    }

    /// Ends a session at `ended_at_ms`: deletes its row (leaving a tombstone)
    /// and bills it per month in the same atomic step (so a crash bills it
    /// once or not yet, never zero times for an ended session, never twice),
    /// then drops its working copies, checkpoints and — when ephemeral — the
    /// snapshots it took without `keep`.
    pub(super) async fn end(
        &self,
        session: Session,
        reason: EndReason,
        ended_at_ms: i64,
    ) -> SessionResult<Ended> {
        let final_snapshot = match session.mode {
            Mode::Persistent => Some(self.take_snapshot(&session, true).await?.id),
            Mode::Ephemeral => None,
        };
        let charges = charges(session.mode.as_str(), session.started_ms(), ended_at_ms);
        let minutes = charges.iter().map(|c| c.minutes).sum();
        let tombstone = Tombstone {
            id: session.id.clone(),
            incarnation: session.incarnation.clone(),
            workspace: session.workspace.clone(),
            name: session.name.clone(),
            ended_at_ms,
            reason: reason.as_str().to_string(),
        };
        if !self
            .table
            .end_session(
                &session.id,
                &session.incarnation,
                Some(&tombstone),
                &charges,
            )
            .await?
        {
            return Err(SessionError::NotFound(format!(
                "session {} has already ended",
                session.id
            )));
        }
        self.rates.forget(&session.incarnation);
        for m in session.mirrors.keys() {
            let key = mirror_key(&session, m, "");
            self.engine.evict(&key);
            if let Err(e) = self.engine.delete_checkpoints(&key).await {
                tracing::warn!(error = %e, session = %session.id, "could not delete checkpoints");
            }
        }
        if session.mode == Mode::Ephemeral {
            self.drop_session_snapshots(&session).await;
        }
        self.observe(
            &session,
            &format!("session.{}", reason.as_str()),
            serde_json::json!({"ended_at_ms": ended_at_ms, "final_snapshot": final_snapshot}),
        );
        Ok(Ended {
            id: session.id,
            name: session.name,
            mode: session.mode,
            status: "ended",
            billed_minutes: minutes,
            final_snapshot,
        })
    }
}
