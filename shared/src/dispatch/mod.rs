//! The dispatcher: does what mirrors owe — webhook deliveries and their
//! retries from each mirror's outbox, and timed state changes from its timers
//! (rows of its own state, written with the change that caused them). The session table's due-work index says which
//! (session, mirror) to open and when, so nothing scans every session, and work
//! due when the server died is found again after a restart.
//!
//! One pass over a (session, mirror) is [`Dispatcher::run_due`]: claim what is
//! due (a logged write, so two instances never both send it), POST each
//! delivery signed in its vendor's scheme, record every attempt (a second
//! write: delivered, due again after backoff, or failed), then move the index
//! entry to the next due time. Delivery is at least once: a dispatcher that dies
//! between sending and recording sends again when the claim's lease lapses.
//!
//! Where it runs: in `mirra serve`, [`Dispatcher::run`] is a task that sleeps
//! until the next due time or until a request schedules earlier work (no busy
//! polling). On AWS Lambda nothing may run after a response returns, so a
//! queue-driven function calls `run_due` / `sweep` instead (issue "serverless").

pub mod queue;
#[cfg(feature = "lambda")]
pub mod sqs;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::mirrors::toolkit::outbox::{self, Attempt, Delivery, EXCERPT_BYTES};
use crate::mirrors::toolkit::{signing, timers};
use crate::session::{Firing, MirrorDef, SessionContext, SessionError, Sessions};
use crate::state::StateError;
use crate::storage::DueWork;

/// Deliveries claimed per (session, mirror) pass.
const BATCH: usize = 50;
/// Index entries handled per sweep.
const SWEEP: usize = 256;
/// How long a receiver may take to answer (Stripe waits about as long).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest sleep between sweeps when nothing is due (a safety net: scheduling
/// wakes the task anyway).
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A mirror's newest `limit` deliveries and their attempts (the control
/// plane's `GET /v1/sessions/{id}/deliveries`).
pub async fn deliveries(
    ctx: &SessionContext,
    limit: usize,
) -> Result<Vec<serde_json::Value>, DispatchError> {
    ctx.read(|conn| Ok::<_, DispatchError>(outbox::recent(conn, limit)?))
        .await
}

pub struct Dispatcher {
    sessions: Arc<Sessions>,
    http: reqwest::Client,
}

impl Dispatcher {
    /// Sends over HTTP or HTTPS; HTTPS trusts the system's roots (which
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` replace, for a private CA) and the
    /// public web's (bundled, for machines without any).
    pub fn new(sessions: Arc<Sessions>) -> Self {
        Self::with_client(sessions, Self::client_builder())
    }

    /// A dispatcher whose client is `builder` with Mirra's send timeout and
    /// redirect policy applied (a test adds its own root certificate).
    pub fn with_client(sessions: Arc<Sessions>, builder: reqwest::ClientBuilder) -> Self {
        let http = builder
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Dispatcher { sessions, http }
    }

    /// The client builder [`Dispatcher::new`] starts from.
    pub fn client_builder() -> reqwest::ClientBuilder {
        crate::tls::install_provider();
        reqwest::Client::builder()
    }

    /// `mirra serve`'s task: sweep what is due, sleep until the next due time
    /// or a wake-up, repeat. Runs until dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            let failed = match self.sweep().await {
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "dispatcher sweep failed; retrying");
                    true
                }
            };
            let now = self.sessions.clock().now_ms();
            let mut sleep = match self.sessions.next_due().await {
                Ok(Some(at)) => {
                    Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(IDLE)
                }
                Ok(None) => IDLE,
                Err(_) => Duration::from_secs(1),
            };
            if failed {
                sleep = sleep.max(Duration::from_secs(1));
            }
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.sessions.dispatcher_woken() => {}
            }
        }
    }

    /// Runs every (session, mirror) due now, concurrently; returns how many
    /// deliveries were attempted.
    pub async fn sweep(self: &Arc<Self>) -> Result<usize, DispatchError> {
        let now = self.sessions.clock().now_ms();
        let work = self.sessions.due_work(now, SWEEP).await?;
        let mut set = JoinSet::new();
        for w in work {
            let me = self.clone();
            set.spawn(async move { me.run_due(&w).await });
        }
        let mut attempted = 0;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(n)) => attempted += n,
                Ok(Err(e)) => tracing::warn!(error = %e, "dispatching failed; the work stays due"),
                Err(e) => tracing::warn!(error = %e, "dispatch task panicked"),
            }
        }
        Ok(attempted)
    }

    /// One pass over the (session, mirror) `work` names; returns the number of
    /// deliveries attempted. An ended session's entry is dropped.
    pub async fn run_due(&self, work: &DueWork) -> Result<usize, DispatchError> {
        let Some(def) = self.sessions.mirror_def(&work.mirror) else {
            self.sessions.reschedule_due(work, None).await?;
            return Ok(0);
        };
        let mirror = def.name();
        let ctx = match self.sessions.context(&work.session_id, mirror).await {
            Ok(ctx) if ctx.session().incarnation == work.incarnation => ctx,
            Ok(_) | Err(SessionError::NotFound(_) | SessionError::Gone { .. }) => {
                self.sessions.reschedule_due(work, None).await?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.sessions.clock().now_ms();
        // Timers first: what they change may owe deliveries, sent below.
        let fired = ctx
            .write(|conn| fire_due(conn, def.as_ref(), &ctx, now))
            .await?;
        if fired > 0 {
            tracing::debug!(session = %work.session_id, mirror, fired, "timers fired");
        }
        let claimed = ctx
            .write(|conn| Ok::<_, DispatchError>(outbox::claim_due(conn, now, BATCH)?))
            .await?;
        let mut attempts = Vec::with_capacity(claimed.len());
        for d in &claimed {
            attempts.push(self.send(&ctx, d).await);
        }
        if !claimed.is_empty() {
            ctx.write(|conn| {
                for (d, a) in claimed.iter().zip(&attempts) {
                    let outcome = outbox::record(conn, d, a)?;
                    tracing::debug!(delivery = %d.id, url = %d.url, status = ?a.http_status, outcome, "webhook attempt");
                }
                Ok::<_, DispatchError>(())
            })
            .await?;
            if let Some(traces) = self.sessions.traces() {
                for (d, a) in claimed.iter().zip(&attempts) {
                    // Twilio's are status callbacks; the others webhooks.
                    let what = if d.scheme == "twilio" {
                        "callback"
                    } else {
                        "webhook"
                    };
                    let how = if a.succeeded() { "delivered" } else { "failed" };
                    traces.background(
                        ctx.session(),
                        mirror,
                        &format!("{what}.{how}"),
                        a.http_status,
                        a.latency_ms,
                        bytes::Bytes::from(d.payload.clone()),
                        bytes::Bytes::from(a.response.clone()),
                        serde_json::json!({
                            "delivery": d.id,
                            "url": d.url,
                            "attempt": d.attempts,
                            "reference": d.reference,
                        }),
                    );
                }
            }
        }
        let next = ctx
            .read(|conn| Ok::<_, DispatchError>(next_due(conn)?))
            .await?;
        self.sessions.reschedule_due(work, next).await?;
        // A request may have enqueued more between that read and the
        // reschedule; the index keeps the earlier of the two.
        if let Some(at) = ctx
            .read(|conn| Ok::<_, DispatchError>(next_due(conn)?))
            .await?
        {
            self.sessions
                .schedule_due(ctx.session(), mirror, at)
                .await?;
        }
        Ok(claimed.len())
    }

    /// POSTs one delivery, signed in its scheme; never fails, it reports.
    async fn send(&self, ctx: &SessionContext, d: &Delivery) -> Attempt {
        // Twilio signs with the account's auth token; the others with the
        // session's webhook secret unless the delivery names its own.
        let session_secret = match d.scheme.as_str() {
            "twilio" => "auth_token",
            _ => "webhook_secret",
        };
        let secret = d
            .secret
            .clone()
            .or_else(|| ctx.credentials().get(session_secret).cloned())
            .unwrap_or_default();
        let at_ms = self.sessions.clock().now_ms();
        let t = at_ms.div_euclid(1000);
        let content_type = match d.scheme.as_str() {
            "twilio" => "application/x-www-form-urlencoded; charset=utf-8",
            _ => "application/json; charset=utf-8",
        };
        let mut req = self
            .http
            .post(&d.url)
            .header("content-type", content_type)
            .body(d.payload.clone());
        req = match d.scheme.as_str() {
            "stripe" => req
                .header(
                    "user-agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                )
                .header("stripe-signature", signing::stripe(&secret, t, &d.payload)),
            "svix" => req
                .header("svix-id", &d.id)
                .header("svix-timestamp", t.to_string())
                .header(
                    "svix-signature",
                    signing::svix(&secret, &d.id, t, &d.payload),
                ),
            "twilio" => {
                let params: Vec<(String, String)> = form_urlencoded::parse(d.payload.as_bytes())
                    .into_owned()
                    .collect();
                req.header("user-agent", "TwilioProxy/1.1")
                    .header("i-twilio-idempotency-token", &d.id)
                    .header(
                        "x-twilio-signature",
                        signing::twilio(&secret, &d.url, &params),
                    )
            }
            _ => req,
        };
        let started = Instant::now();
        let (http_status, response) = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                (Some(status), body.chars().take(EXCERPT_BYTES).collect())
            }
            Err(e) => (None, chain(&e)),
        };
        Attempt {
            at_ms,
            http_status,
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            response,
        }
    }
}

/// When the mirror next owes anything: a delivery or a timer.
fn next_due(conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    let (a, b) = (outbox::next_due(conn)?, timers::next_due(conn)?);
    Ok(a.into_iter().chain(b).min())
}

/// Takes the timers due at `now_ms` and has the mirror fire each, in the
/// caller's write; a timer that fails is undone alone (a savepoint) and dropped.
fn fire_due(
    conn: &rusqlite::Connection,
    def: &dyn MirrorDef,
    ctx: &SessionContext,
    now_ms: i64,
) -> Result<usize, DispatchError> {
    let due = timers::take_due(conn, now_ms, BATCH)?;
    for t in &due {
        conn.execute_batch("SAVEPOINT timer")?;
        let firing = Firing {
            conn,
            ctx,
            kind: &t.kind,
            target: &t.target,
            payload: t.payload.as_deref(),
            now_ms,
        };
        match def.fire(&firing) {
            Ok(()) => conn.execute_batch("RELEASE timer")?,
            Err(e) => {
                tracing::warn!(timer = %t.id, kind = %t.kind, target = %t.target, error = %e, "timer failed; dropped");
                conn.execute_batch("ROLLBACK TO timer; RELEASE timer")?;
            }
        }
    }
    Ok(due.len())
}

/// An error with its causes (`error sending request …: … invalid peer
/// certificate: UnknownIssuer`): reqwest's own message names none of them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
