//! What the AWS Lambda functions in `functions/` share, so each `main.rs` is
//! only tracing, [`app`] and `lambda_http::run`: the whole HTTP surface of
//! `mirra serve` ([`crate::api::router`]) built once per execution
//! environment from its environment, on S3 + DynamoDB, with every trace
//! written before a response returns (nothing runs after it on Lambda).
//!
//! lambda_http puts the API Gateway stage in front of each path of a named
//! stage (`/prod/v1/sessions`); [`strip_stage`] takes it off again, so the
//! routes are the same under any stage, `$default` and Function URLs.

use std::path::Path;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;

use axum::response::IntoResponse;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::api::{router, AppState};
use crate::config::{BackendChoice, Backends, ConfigError, EngineSettings};
use crate::dispatch::queue::{self, DueQueue};
use crate::dispatch::sqs::SqsQueue;
use crate::dispatch::Dispatcher;
use crate::mirrors::{Mirror, VendorError};
use crate::session::{Sessions, SystemClock};
use crate::storage::WorkspaceTable;
use crate::traces::{TraceSettings, Traces};

/// The workspace token the functions require (`Authorization: Bearer …` on
/// the control plane).
pub const ENV_TOKEN: &str = "MIRRA_TOKEN";
/// The base URL sessions hand out (`https://api.mirra.example.com`): the
/// custom domain in front of the functions.
pub const ENV_PUBLIC_URL: &str = "MIRRA_PUBLIC_URL";
/// The operator's own workspace (no limits): `MIRRA_TOKEN` reaches it and
/// creates the others, which get tokens of their own.
pub const WORKSPACE: &str = "local";
/// The SQS queue of due work (webhook deliveries, retries, timed changes):
/// requests enqueue what they leave due, the dispatcher function does it.
pub const ENV_DUE_QUEUE_URL: &str = "MIRRA_DUE_QUEUE_URL";

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("the functions run on S3 + DynamoDB: set MIRRA_S3_BUCKET and MIRRA_DYNAMODB_TABLE")]
    NotAws,
    #[error("traces: {0}")]
    Traces(String),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
}

/// Which requests a function answers: API Gateway routes send each function
/// its own, and a function answers the other plane's with a 404 rather than
/// serving it (its IAM role is scoped to its plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// `/v1/sessions…`, `/v1/snapshots…`, `/v1/usage`, `/v1/health`.
    Control,
    /// Host-, path- and credential-routed mirror requests.
    Mirrors,
}

/// What [`app_with`] needs; [`Settings::from_env`] reads it the way a
/// function's configuration (the SAM template) sets it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket: String,
    pub table: String,
    pub token: String,
    pub public_url: String,
    pub traces: TraceSettings,
    /// [`ENV_DUE_QUEUE_URL`]: where scheduled work is enqueued (without it,
    /// nothing does due work on Lambda).
    pub due_queue_url: Option<String>,
    /// Create the bucket and table when missing (tests on an emulator; a
    /// deployment's template creates them).
    pub create_resources: bool,
}

impl Settings {
    /// `MIRRA_S3_BUCKET`, `MIRRA_DYNAMODB_TABLE` (AWS settings the standard
    /// way), [`ENV_TOKEN`], [`ENV_PUBLIC_URL`] and the trace sinks
    /// (`MIRRA_REDIS_URL`, `MIRRA_DATABASE_URL`; neither: no traces).
    pub fn from_env() -> Result<Self, LambdaError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let BackendChoice::Aws { bucket, table } = BackendChoice::from_env()? else {
            return Err(LambdaError::NotAws);
        };
        Ok(Settings {
            bucket,
            table,
            token: var(ENV_TOKEN).ok_or(LambdaError::Missing(
                ENV_TOKEN,
                "the control plane's workspace token",
            ))?,
            public_url: var(ENV_PUBLIC_URL).ok_or(LambdaError::Missing(
                ENV_PUBLIC_URL,
                "the base URL sessions hand out",
            ))?,
            traces: TraceSettings::from_env().map_err(|e| LambdaError::Traces(e.to_string()))?,
            due_queue_url: var(ENV_DUE_QUEUE_URL),
            create_resources: false,
        })
    }
}

/// Log lines as CloudWatch wants them: no colour, no timestamp of our own
/// (CloudWatch stamps each line); the level from `RUST_LOG`. Every
/// function's `main` calls this first.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(false)
        .without_time()
        .init();
}

/// The app a function serves, from its environment ([`Settings::from_env`]).
pub async fn app(plane: Plane) -> Result<Router, LambdaError> {
    app_with(plane, Settings::from_env()?).await
}

/// The app of `mirra serve` on S3 + DynamoDB, answering only `plane`'s
/// requests, each only once its trace records are written.
pub async fn app_with(plane: Plane, settings: Settings) -> Result<Router, LambdaError> {
    let (sessions, mirrors, traces, workspaces) = services(&settings).await?;
    let mut state = AppState::new(
        sessions,
        &settings.token,
        WORKSPACE,
        settings.public_url.trim_end_matches('/'),
        mirrors.clone(),
    )
    .with_workspace_table(workspaces);
    if let Some(t) = traces {
        state = state.with_traces(t);
    }
    let gate = Arc::new((plane, mirrors));
    Ok(router(state)
        .layer(axum::middleware::from_fn_with_state(gate, only_plane))
        .layer(axum::middleware::from_fn(strip_stage)))
}

/// What a function serves with, built once per instance.
type Services = (
    Arc<Sessions>,
    Vec<Mirror>,
    Option<Arc<Traces>>,
    Arc<dyn WorkspaceTable>,
);

/// The session service on S3 + DynamoDB, the due-work queue set on it, the
/// trace pipeline (each record written before a response returns) and the
/// workspace table.
async fn services(settings: &Settings) -> Result<Services, LambdaError> {
    let choice = BackendChoice::Aws {
        bucket: settings.bucket.clone(),
        table: settings.table.clone(),
    };
    // The embedded backends' data dir is never used on AWS.
    let (backends, _) =
        Backends::open(&choice, Path::new("/tmp/mirra"), settings.create_resources).await?;
    let workspaces = backends.workspaces.clone();
    let (sessions, mirrors) = backends.sessions(Arc::new(SystemClock), engine_settings());
    if let Some(url) = &settings.due_queue_url {
        sessions.set_due_queue(Arc::new(SqsQueue::from_env(url).await));
    }
    let mut traces = None;
    let mut trace_settings = settings.traces.clone();
    if trace_settings.redis_url.is_some() || trace_settings.database_url.is_some() {
        trace_settings.flush_each_request = true;
        // Requests write Redis; the scheduled reaper moves Redis into
        // PostgreSQL (a background mover would run only while its instance
        // is thawed, and requests would wait for it).
        trace_settings.scheduled_mover = true;
        let (setup, _) = trace_settings
            .setup(None)
            .map_err(|e| LambdaError::Traces(e.to_string()))?;
        traces = Some(Traces::start_with(setup, sessions.clone()));
    }
    Ok((sessions, mirrors, traces, workspaces))
}

/// Cache budgets from the function's memory setting
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB), else the defaults.
fn engine_settings() -> EngineSettings {
    std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .ok()
        .and_then(|mb| mb.trim().parse::<u64>().ok())
        .map_or_else(EngineSettings::default, |mb| {
            EngineSettings::for_memory(mb * 1024 * 1024)
        })
}

/// What the dispatcher and reaper functions run on: the session service,
/// the dispatcher and the due-work queue.
pub struct Worker {
    pub sessions: Arc<Sessions>,
    dispatcher: Arc<Dispatcher>,
    queue: Arc<dyn DueQueue>,
    traces: Option<Arc<Traces>>,
}

/// What one reaper run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reaped {
    /// Expired sessions ended.
    pub ended: usize,
    /// Due entries enqueued again (their message was lost, or is in flight).
    pub enqueued: usize,
    /// Trace records moved from Redis Streams into PostgreSQL.
    pub traces_moved: u64,
}

/// Entries one reaper run enqueues again, at most.
const SWEEP: usize = 1000;
/// How long one reaper run moves traces (PostgreSQL down: the rest next run).
const MOVE_FOR: std::time::Duration = std::time::Duration::from_secs(30);
/// A message that arrives this much before its work is due is enqueued again.
const EARLY_MS: i64 = 1000;

impl Worker {
    /// From the environment ([`Settings::from_env`]); [`ENV_DUE_QUEUE_URL`] is required.
    pub async fn from_env() -> Result<Self, LambdaError> {
        Self::with(Settings::from_env()?).await
    }

    pub async fn with(settings: Settings) -> Result<Self, LambdaError> {
        let (sessions, _, traces, _) = services(&settings).await?;
        let queue = sessions.due_queue().cloned().ok_or(LambdaError::Missing(
            ENV_DUE_QUEUE_URL,
            "the SQS queue of due work",
        ))?;
        Ok(Worker {
            dispatcher: Arc::new(Dispatcher::new(sessions.clone())),
            sessions,
            queue,
            traces,
        })
    }

    /// One batch of queue messages (id, body): each one's work done — or,
    /// arrived early (work due after the queue's longest delay), enqueued
    /// again. Answers the ids of the messages that failed, for the queue to
    /// deliver again (then to its dead-letter queue); a body that is not a
    /// due-work message is dropped with a warning, never retried.
    pub async fn dispatch(&self, messages: Vec<(String, String)>) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, body) in messages {
            let work = match queue::parse(&body) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(message = %id, error = %e, "dropping a message");
                    continue;
                }
            };
            let now = self.sessions.clock().now_ms();
            let done = if work.due_at_ms > now + EARLY_MS {
                self.queue
                    .enqueue(&work, now)
                    .await
                    .map(|()| 0)
                    .map_err(|e| e.to_string())
            } else {
                self.dispatcher
                    .run_due(&work)
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = done {
                tracing::warn!(message = %id, session = %work.session_id, error = %e, "due work failed; the queue delivers it again");
                failed.push(id);
            }
        }
        self.flush().await;
        failed
    }

    /// The scheduled reaper: ends expired sessions (recording their usage and
    /// deleting an ephemeral one's state), enqueues again every entry due
    /// and not done, and moves the trace records Redis holds into
    /// PostgreSQL (when both are set).
    pub async fn reap(&self) -> Result<Reaped, LambdaError> {
        let ended = self.sessions.reap().await?;
        let now = self.sessions.clock().now_ms();
        let mut enqueued = 0;
        for work in self.sessions.due_work(now, SWEEP).await? {
            match self.queue.enqueue(&work, now).await {
                Ok(()) => enqueued += 1,
                Err(e) => tracing::warn!(error = %e, "reaper: due work not enqueued; next run"),
            }
        }
        self.flush().await;
        let mut traces_moved = 0;
        if let Some(mover) = self.traces.as_ref().and_then(|t| t.mover()) {
            match tokio::time::timeout(MOVE_FOR, mover.move_now()).await {
                Ok(Ok(n)) => traces_moved = n,
                Ok(Err(e)) => tracing::warn!(error = %e, "reaper: traces not moved; next run"),
                Err(_) => {
                    tracing::warn!("reaper: PostgreSQL too slow; the rest of the traces next run")
                }
            }
        }
        Ok(Reaped {
            ended,
            enqueued,
            traces_moved,
        })
    }

    /// The dispatcher function's handler: an SQS batch in, the messages to
    /// deliver again out (the function reports partial batch failures).
    pub async fn on_sqs(&self, event: SqsEvent) -> SqsBatchResponse {
        let messages = event
            .records
            .into_iter()
            .map(|m| (m.message_id.unwrap_or_default(), m.body.unwrap_or_default()))
            .collect();
        let mut response = SqsBatchResponse::default();
        for id in self.dispatch(messages).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// Writes the records of this invocation before it returns (nothing runs
    /// after it on Lambda).
    async fn flush(&self) {
        if let Some(t) = &self.traces {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), t.flush()).await;
        }
    }
}

/// Answers a request for the other plane with that plane's 404: the control
/// plane's JSON error, or the mirror vendor's own.
async fn only_plane(
    axum::extract::State(gate): axum::extract::State<Arc<(Plane, Vec<Mirror>)>>,
    req: Request,
    next: Next,
) -> Response {
    let (plane, mirrors) = (&gate.0, &gate.1);
    let mirror = crate::api::target::target(req.uri(), req.headers(), mirrors).map(|(m, _)| m);
    match (plane, mirror) {
        (Plane::Control, Some(m)) => m.vendor.error_response(VendorError::NotFound {
            message:
                "this function serves the control plane; mirror requests go to the mirror function"
                    .into(),
        }),
        (Plane::Mirrors, None) => crate::api::ApiError::NotFound(
            "this function serves mirror requests; the control plane is the control-plane function"
                .into(),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

/// Takes the API Gateway stage lambda_http put in front of the path off it
/// again (`/prod/v1/sessions` → `/v1/sessions`); `$default` stages and
/// Function URLs have none.
pub async fn strip_stage(mut req: Request, next: Next) -> Response {
    let stage = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    if let Some(stage) = stage.filter(|s| s != "$default" && !s.is_empty()) {
        if let Some(uri) = without_stage(req.uri(), &stage) {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

/// `uri` without a leading `/{stage}` segment, if it has one.
fn without_stage(uri: &Uri, stage: &str) -> Option<Uri> {
    let path = uri.path();
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    let pq = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::without_stage;
    use axum::http::Uri;

    #[test]
    fn the_stage_comes_off_the_front_of_the_path_only() {
        let off = |uri: &str, stage: &str| {
            without_stage(&uri.parse::<Uri>().expect("uri"), stage).map(|u| u.to_string())
        };
        assert_eq!(
            off("/prod/v1/sessions?limit=2", "prod").as_deref(),
            Some("/v1/sessions?limit=2")
        );
        assert_eq!(off("/prod", "prod").as_deref(), Some("/"));
        assert_eq!(off("/production/v1", "prod"), None);
        assert_eq!(off("/v1/prod", "prod"), None);
    }
}
