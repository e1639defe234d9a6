//! What a request leaves besides its answer, gathered while its transaction
//! runs: the earliest work it left due (a webhook delivery, a timer), which
//! the pipeline indexes for the dispatcher before the response goes out, and
//! the vendor events it raised (a Stripe `evt_…`, a Resend `email.sent`, a
//! Twilio status callback), which travel on the response to its trace record
//! (`traces::layer`). Every vendor's `Call` carries one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::response::Response;

use crate::session::{Door, SessionContext};
use crate::traces::record::{RaisedEvent, RaisedEvents};

pub struct Effects {
    due: AtomicI64,
    raised: Mutex<Vec<RaisedEvent>>,
}

impl Default for Effects {
    fn default() -> Self {
        Effects {
            due: AtomicI64::new(i64::MAX),
            raised: Mutex::new(Vec::new()),
        }
    }
}

impl Effects {
    /// A transaction (re)starts: what an earlier, rolled-back attempt noted
    /// is forgotten (the engine retries a write that lost a race).
    pub fn begin(&self) {
        self.due.store(i64::MAX, Ordering::Relaxed);
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Work is due at `due_at_ms` (the earliest counts).
    pub fn owe(&self, due_at_ms: i64) {
        self.due.fetch_min(due_at_ms, Ordering::Relaxed);
    }

    /// The earliest work due, if any.
    pub fn owed(&self) -> Option<i64> {
        let due = self.due.load(Ordering::Relaxed);
        (due != i64::MAX).then_some(due)
    }

    /// The request raised the vendor event `id` of type `kind`.
    pub fn raise(&self, id: &str, kind: &str) {
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RaisedEvent {
                id: id.to_string(),
                kind: kind.to_string(),
            });
    }

    /// Tells the dispatcher about the work due, once the write committed. A
    /// failure is logged: the work stays owed in the mirror's state and is
    /// found with the next work this session schedules.
    pub async fn schedule(&self, door: &Door, ctx: &SessionContext) {
        let Some(due) = self.owed() else {
            return;
        };
        if let Err(e) = door.schedule(ctx, due).await {
            tracing::warn!(error = %e, session = ctx.session_id(), "could not index due work");
        }
    }

    /// The response of a pipeline's run (an error in the vendor's shape)
    /// with the raised events on it.
    pub fn answer<E: axum::response::IntoResponse>(&self, res: Result<Response, E>) -> Response {
        self.attach(res.unwrap_or_else(E::into_response))
    }

    /// Puts the raised events on `res` for its trace record.
    pub fn attach(&self, mut res: Response) -> Response {
        let raised =
            std::mem::take(&mut *self.raised.lock().unwrap_or_else(PoisonError::into_inner));
        if !raised.is_empty() {
            res.extensions_mut().insert(RaisedEvents(raised));
        }
        res
    }
}
