//! Usage per month and creating sessions within a plan's limits.

use super::mirror_key;
use super::{Sessions, DEFAULT_TIMEOUT_SECS};
use crate::session::metering::{minutes_in, Period};
use crate::session::{fmt_ms, CreateSession, Mode, Session, SessionResult, Usage};
use crate::workspace::{Limits, PlanError};

impl Sessions {
    /// The workspace's session-minutes in `period`: what its ended sessions
    /// were billed, plus the minutes its live ones have run in it so far.
    pub async fn usage(&self, workspace: &str, period: Period) -> SessionResult<Usage> {
        let live = self.all_sessions(workspace).await?;
        let now = self.clock.now_ms();
        let mut ephemeral = 0;
        let mut persistent = 0;
        for (mode, minutes) in self.table.usage(workspace, &period.to_string()).await? {
            match mode.as_str() {
                "ephemeral" => ephemeral += minutes,
                "persistent" => persistent += minutes,
                _ => {}
            }
        }
        for s in &live {
            let m = minutes_in(period, s.started_ms(), s.billed_until_ms(now));
            match s.mode {
                Mode::Ephemeral => ephemeral += m,
                Mode::Persistent => persistent += m,
            }
        }
        Ok(Usage {
            workspace: workspace.to_string(),
            period,
            period_start: fmt_ms(period.start_ms()),
            period_end: fmt_ms(period.end_ms()),
            ephemeral_minutes: ephemeral,
            persistent_minutes: persistent,
            total_minutes: ephemeral + persistent,
            live_sessions: live.iter().filter(|s| !s.is_expired(now)).count(),
        })
    }

    /// How many of the workspace's sessions have not expired, counting no
    /// further than `enough`. Read off the rows' indexed expiry, in whole
    /// seconds rounded up, so a session that expired less than a second ago
    /// still counts (the safe side).
    async fn count_running(&self, workspace: &str, enough: u64) -> SessionResult<u64> {
        let now_secs = self.clock.now_ms().div_euclid(1000);
        let enough = usize::try_from(enough).unwrap_or(usize::MAX);
        Ok(self
            .table
            .count_live_sessions(workspace, now_secs, enough)
            .await? as u64)
    }

    /// [`create`](Self::create) within `limits`: a feature outside them is
    /// refused (403), as is a new session when the workspace runs its
    /// maximum or has used this month's minutes (402). Without a timeout an
    /// ephemeral session gets the default, capped at the plan's maximum.
    ///
    /// Racing creates cannot overshoot the concurrent maximum: each counts
    /// again after its own row is stored and takes it back when the count is
    /// above the maximum. Of the stored rows, the one counted last sees all
    /// the others, so more than the maximum never stay (a race may refuse
    /// one more than needed; a retry then succeeds).
    pub async fn create_within(
        &self,
        workspace: &str,
        limits: &Limits,
        mut req: CreateSession,
    ) -> SessionResult<Session> {
        if *limits == Limits::NONE {
            return self.create(workspace, req).await;
        }
        limits.check_request(req.persistent, req.timeout_seconds)?;
        if !req.persistent && req.timeout_seconds.is_none() {
            if let Some(max) = limits.max_timeout_seconds {
                req.timeout_seconds = Some(DEFAULT_TIMEOUT_SECS.min(max));
            }
        }
        if limits.minutes_per_month.is_some() {
            // The minutes need every live session's start: read them all
            // once; the usage report counts the running ones too.
            let period = Period::of_ms(self.clock.now_ms());
            let used = self.usage(workspace, period).await?;
            limits.check_concurrent(used.live_sessions as u64)?;
            limits.check_minutes(used.total_minutes, &period.to_string())?;
        } else if let Some(max) = limits.concurrent_sessions {
            limits.check_concurrent(self.count_running(workspace, max).await?)?;
        }
        let session = self.create(workspace, req).await?;
        if let Some(max) = limits.concurrent_sessions {
            let running = self.count_running(workspace, max.saturating_add(1)).await?;
            if running > max {
                self.take_back(&session).await;
                return Err(PlanError::concurrent_reached(max, running - 1).into());
            }
        }
        Ok(session)
    }

    /// Undoes a create the plan refused after the fact: the row goes without
    /// a tombstone or a bill (it never served a request).
    async fn take_back(&self, session: &Session) {
        match self
            .table
            .delete_session(&session.id, &session.incarnation, None)
            .await
        {
            Ok(_) => {
                for m in session.mirrors.keys() {
                    self.engine.evict(&mirror_key(session, m, ""));
                }
                self.observe(
                    session,
                    "session.refused",
                    serde_json::json!({"reason": "plan"}),
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, session = %session.id, "could not take back a refused session")
            }
        }
    }
}
