//! The due-work index as the dispatcher reaches it: pass-throughs to the
//! session table's (see [`SessionTable`](crate::storage::SessionTable) for the
//! contract). The work itself is rows in each mirror's own state; an entry
//! only says which (session, mirror) to open and when, so a dispatcher finds
//! due work without opening every session, also after a restart.

use super::Sessions;
use crate::session::{Session, SessionError, SessionResult};
use crate::storage::DueWork;

impl Sessions {
    /// Records that `mirror` of `session` has work due at `due_at_ms` (Unix
    /// ms), keeping an earlier entry. `true` when the index now holds this
    /// time (a dispatcher sleeping past it should wake); `NotFound` once the
    /// session ended or when it has no such mirror.
    pub async fn schedule_due(
        &self,
        session: &Session,
        mirror: &str,
        due_at_ms: i64,
    ) -> SessionResult<bool> {
        if !session.mirrors.contains_key(mirror) {
            return Err(SessionError::NotFound(format!(
                "session {} has no {mirror} mirror",
                session.id
            )));
        }
        let now = self
            .table
            .schedule_due(&session.id, &session.incarnation, mirror, due_at_ms)
            .await?;
        // With a queue (AWS Lambda), the time the index now holds is also a
        // message, sent before the caller answers. A failed send is logged:
        // the entry stays in the index, and the reaper's sweep enqueues it.
        if let (true, Some(queue)) = (now, self.due_queue()) {
            let work = DueWork {
                session_id: session.id.clone(),
                incarnation: session.incarnation.clone(),
                mirror: mirror.to_string(),
                due_at_ms,
            };
            if let Err(e) = queue.enqueue(&work, self.clock.now_ms()).await {
                tracing::warn!(error = %e, session = %session.id, mirror, "due work not enqueued; the reaper's sweep will");
            }
        }
        Ok(now)
    }

    /// Up to `limit` entries due at or before `now_ms`, earliest first.
    pub async fn due_work(&self, now_ms: i64, limit: usize) -> SessionResult<Vec<DueWork>> {
        Ok(self.table.due_before(now_ms, limit).await?)
    }

    /// When the earliest entry is due, if any: what a dispatcher sleeps until.
    pub async fn next_due(&self) -> SessionResult<Option<i64>> {
        Ok(self.table.next_due().await?)
    }

    /// After doing what `work` named: moves its entry to `next` (or drops it)
    /// unless someone scheduled other work meanwhile; `true` when it did.
    /// Read the mirror's state again afterwards and [`schedule_due`](Self::schedule_due)
    /// what is still pending: a write between the read that gave `next` and
    /// this call is otherwise not in the index.
    pub async fn reschedule_due(&self, work: &DueWork, next: Option<i64>) -> SessionResult<bool> {
        Ok(self
            .table
            .reschedule_due(&work.session_id, &work.mirror, work.due_at_ms, next)
            .await?)
    }
}
