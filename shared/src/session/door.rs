//! [`Door`]: the one thing a mirror router holds. It opens (session, mirror)
//! contexts and nothing else; the session service, the state engine, log keys
//! and storage stay behind it, so a mirror cannot reach another session's state
//! or change state outside a logged write.

use std::sync::Arc;

use super::{SessionContext, SessionResult, Sessions};

#[derive(Clone)]
pub struct Door {
    sessions: Arc<Sessions>,
}

impl Door {
    pub fn new(sessions: Arc<Sessions>) -> Self {
        Door { sessions }
    }

    /// The live session `session_id` and its `mirror`: `NotFound` for an unknown
    /// id or a session without that mirror, `Gone` for an ended one.
    pub async fn open(
        &self,
        session_id: &str,
        mirror: &'static str,
    ) -> SessionResult<SessionContext> {
        self.sessions.context(session_id, mirror).await
    }

    /// After a write that left work due at `due_at_ms` in the mirror's state
    /// (a webhook delivery …): indexes it so a dispatcher finds it — also after
    /// a restart — and wakes the in-process one. Called before the response
    /// goes out, so an acknowledged write's deliveries are always indexed.
    pub async fn schedule(&self, ctx: &SessionContext, due_at_ms: i64) -> SessionResult<()> {
        if self
            .sessions
            .schedule_due(&ctx.session, ctx.mirror, due_at_ms)
            .await?
        {
            self.sessions.wake_dispatcher();
        }
        Ok(())
    }
}
