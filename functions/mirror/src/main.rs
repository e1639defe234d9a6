//! The mirror function: all mirror traffic behind API Gateway — host-routed
//! (`stripe-{suffix}.{domain}` on the wildcard custom domain), path-routed
//! (`/m/{session}/{mirror}/…`) and credential-routed. The app is the one
//! `mirra serve` runs (`shared::lambda::app`), built once per execution
//! environment; each response waits until its traces are written.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(false)
        .without_time()
        .init();
    let app = shared::lambda::app(shared::lambda::Plane::Mirrors).await?;
    lambda_http::run(app).await
}
