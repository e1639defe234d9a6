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

use crate::api::{router, AppState};
use crate::config::{BackendChoice, Backends, ConfigError, EngineSettings};
use crate::mirrors::{Mirror, VendorError};
use crate::session::SystemClock;
use crate::traces::{TraceSettings, Traces};

/// The workspace token the functions require (`Authorization: Bearer …` on
/// the control plane).
pub const ENV_TOKEN: &str = "MIRRA_TOKEN";
/// The base URL sessions hand out (`https://api.mirra.example.com`): the
/// custom domain in front of the functions.
pub const ENV_PUBLIC_URL: &str = "MIRRA_PUBLIC_URL";
/// The workspace the functions serve until workspaces have tokens of their own.
pub const WORKSPACE: &str = "local";

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
            create_resources: false,
        })
    }
}

/// The app a function serves, from its environment ([`Settings::from_env`]).
pub async fn app(plane: Plane) -> Result<Router, LambdaError> {
    app_with(plane, Settings::from_env()?).await
}

/// The app of `mirra serve` on S3 + DynamoDB, answering only `plane`'s
/// requests, each only once its trace records are written.
pub async fn app_with(plane: Plane, settings: Settings) -> Result<Router, LambdaError> {
    let choice = BackendChoice::Aws {
        bucket: settings.bucket,
        table: settings.table,
    };
    // The embedded backends' data dir is never used on AWS.
    let (backends, _) =
        Backends::open(&choice, Path::new("/tmp/mirra"), settings.create_resources).await?;
    let (sessions, mirrors) = backends.sessions(Arc::new(SystemClock), EngineSettings::default());
    let mut state = AppState::new(
        sessions.clone(),
        &settings.token,
        WORKSPACE,
        settings.public_url.trim_end_matches('/'),
        mirrors.clone(),
    );
    let mut traces = settings.traces;
    if traces.redis_url.is_some() || traces.database_url.is_some() {
        traces.flush_each_request = true;
        let (setup, _) = traces
            .setup(None)
            .map_err(|e| LambdaError::Traces(e.to_string()))?;
        state = state.with_traces(Traces::start_with(setup, sessions));
    }
    let gate = Arc::new((plane, mirrors));
    Ok(router(state)
        .layer(axum::middleware::from_fn_with_state(gate, only_plane))
        .layer(axum::middleware::from_fn(strip_stage)))
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
